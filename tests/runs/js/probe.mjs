// Calls LangGraph.js's SDK against a langserve_like server (URL in argv[2]) and
// prints what each call returned as one JSON document, for test_js_sdk.py.
import { Client } from "@langchain/langgraph-sdk";

const client = new Client({ apiUrl: process.argv[2] });
const out = {};

const assistants = await client.assistants.search({ limit: 100 });
out.assistants = assistants.map((a) => a.assistant_id).sort();
out.graphNodes = (await client.assistants.getGraph("steps")).nodes.map((n) => n.id).sort();

const thread = await client.threads.create({ metadata: { via: "js" } });
const tid = thread.thread_id;
out.wait = await client.runs.wait(tid, "echo", { input: { messages: ["hi"] } });

const events = [];
for await (const chunk of client.runs.stream(tid, "echo", {
  input: { messages: ["yo"] },
  streamMode: ["values", "updates"],
})) {
  events.push([chunk.event, chunk.data]);
}
out.stream = events;

const run = await client.runs.create(tid, "echo", { input: { messages: ["bg"] } });
out.join = await client.runs.join(tid, run.run_id);
out.runStatus = (await client.runs.get(tid, run.run_id)).status;
out.runsListed = (await client.runs.list(tid)).length;
out.state = (await client.threads.getState(tid)).values;
out.history = (await client.threads.getHistory(tid, { limit: 100 })).length;
out.searched = (await client.threads.search({ metadata: { via: "js" } })).length;

const replay = [];
for await (const chunk of client.runs.joinStream(tid, run.run_id, { lastEventId: "1" })) {
  replay.push(chunk.event);
}
out.replayAfter1 = replay;

const hitl = (await client.threads.create()).thread_id;
out.interrupt = await client.runs.wait(hitl, "approve", { input: { request: "ship" } });
out.threadStatus = (await client.threads.get(hitl)).status;
out.resumed = await client.runs.wait(hitl, "approve", { command: { resume: "ok" } });

await client.store.putItem(["js", "ns"], "k", { v: 1 });
out.item = (await client.store.getItem(["js", "ns"], "k")).value;

process.stdout.write(JSON.stringify(out));
