// Drive LangChain.js RemoteRunnable (@langchain/core 0.3.80) against a server and
// print one JSON document describing every result: class names plus values.
//
//   node tests/compat/js/probe.mjs http://127.0.0.1:8000
//
// Failures are recorded ({"error": {...}}), not thrown: the Python test asserts on them.
import { RemoteRunnable } from "@langchain/core/runnables/remote";
import { HumanMessage, SystemMessage, isBaseMessage } from "@langchain/core/messages";
import { Document } from "@langchain/core/documents";
import { ChatPromptValue, StringPromptValue } from "@langchain/core/prompt_values";
import { RunLogPatch } from "@langchain/core/tracers/log_stream";

const TIMEOUT_MS = 30000;
const base = process.argv[2].replace(/\/$/, "");

function describe(obj) {
  if (obj === undefined || obj === null) return null;
  if (Array.isArray(obj)) return obj.map(describe);
  if (typeof obj !== "object") return obj;
  const cls = obj.constructor?.name ?? "Object";
  if (isBaseMessage(obj)) return { __class__: cls, content: obj.content };
  if (obj instanceof Document) {
    return { __class__: cls, pageContent: obj.pageContent, metadata: describe(obj.metadata) };
  }
  if (obj instanceof StringPromptValue) return { __class__: cls, value: obj.value };
  if (obj instanceof ChatPromptValue) return { __class__: cls, messages: describe(obj.messages) };
  // RunLog (a RunLogPatch subclass) is never yielded by the client.
  if (obj instanceof RunLogPatch) return { __class__: cls, ops: describe(obj.ops) };
  const view = Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, describe(v)]));
  if (cls !== "Object") view.__class__ = cls;
  return view;
}

function describeError(err) {
  return { class: err?.constructor?.name ?? typeof err, message: String(err?.message ?? err) };
}

function remote(path) {
  return new RemoteRunnable({ url: base + path, options: { timeout: TIMEOUT_MS } });
}

async function call(fn) {
  try {
    return { result: describe(await fn()) };
  } catch (err) {
    return { error: describeError(err) };
  }
}

async function collect(makeIterable) {
  // Describe each item as it arrives: streamLog mutates patches after yielding them.
  const chunks = [];
  try {
    for await (const chunk of await makeIterable()) chunks.push(describe(chunk));
  } catch (err) {
    return { chunks, error: describeError(err) };
  }
  return { chunks };
}

const topic = { topic: "cats" };
const yo = { configurable: { template: "Yo {who}" } };
const v2 = { version: "v2" };
const out = {};

out["add_one.invoke"] = await call(() => remote("/add_one").invoke(1));
out["add_one.batch"] = await call(() => remote("/add_one").batch([1, 2]));
out["add_one.stream"] = await collect(() => remote("/add_one").stream(1));
out["add_one.streamLog"] = await collect(() => remote("/add_one").streamLog(1));
out["add_one.streamEvents"] = await collect(() => remote("/add_one").streamEvents(1, v2));
out["add_one.invoke_invalid"] = await call(() => remote("/add_one").invoke("x"));

out["chat.invoke"] = await call(() => remote("/chat").invoke(topic));
out["chat.batch"] = await call(() => remote("/chat").batch([topic, { topic: "dogs" }]));
out["chat.stream"] = await collect(() => remote("/chat").stream(topic));
out["chat.streamEvents"] = await collect(() => remote("/chat").streamEvents(topic, v2));

out["chat_str.invoke"] = await call(() => remote("/chat_str").invoke(topic));
out["chat_str.stream"] = await collect(() => remote("/chat_str").stream(topic));
out["chat_str.streamLog"] = await collect(() =>
  remote("/chat_str").streamLog(topic, undefined, { includeNames: ["GenericFakeChatModel"] }),
);

out["docs.invoke"] = await call(() => remote("/docs").invoke("llamas"));
out["parallel.invoke"] = await call(() => remote("/parallel").invoke(5));
out["parallel.stream"] = await collect(() => remote("/parallel").stream(5));

out["configurable.invoke"] = await call(() => remote("/configurable").invoke({ name: "Ann" }));
out["configurable.invoke_configured"] = await call(() =>
  remote("/configurable").invoke({ who: "Bo" }, yo),
);

const history = [new SystemMessage("be nice"), new HumanMessage("hi")];
out["messages.invoke"] = await call(() => remote("/messages").invoke(history));

out["fail.invoke"] = await call(() => remote("/fail").invoke("x"));
out["fail.batch"] = await call(() => remote("/fail").batch(["x"]));
out["fail.stream"] = await collect(() => remote("/fail").stream("x"));
out["fail.streamEvents"] = await collect(() => remote("/fail").streamEvents("x", v2));

out["router.invoke"] = await call(() => remote("/router/inner").invoke("hey"));
out["router.streamEvents"] = await collect(() => remote("/router/inner").streamEvents("hey", v2));

process.stdout.write(JSON.stringify(out, null, 1) + "\n");
