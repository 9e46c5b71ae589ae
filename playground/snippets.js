// Copyable code for the current input and config. Each snippet is a complete request
// the route accepts as is: the tests run them (curl, Python, Node) against a server.

const shellQuote = (s) => `'${s.replace(/'/g, `'\\''`)}'`;

// An empty form reads as `undefined`, which JSON would drop: the body needs the key.
const inputOrNull = (input) => (input === undefined ? null : input);

const hasConfig = (config) => Boolean(config && Object.keys(config).length);

const body = (input, config) => (hasConfig(config) ? { input: inputOrNull(input), config } : { input: inputOrNull(input) });

function curl(base, input, config) {
  const data = shellQuote(JSON.stringify(body(input, config)));
  // --fail-with-body: a rejected request shows the server's reason and exits non-zero.
  const request = (flags, endpoint) => `curl ${flags} -X POST ${shellQuote(`${base}${endpoint}`)} \\\n`
    + `  -H 'Content-Type: application/json' \\\n  -d ${data}`;
  return [
    `# invoke`,
    request("-sS --fail-with-body", "invoke"),
    ``,
    `# stream (server-sent events)`,
    request("-sS -N --fail-with-body", "stream"),
  ].join("\n");
}

// JSON -> Python literal (True/False/None; JSON string escapes are valid Python).
function py(v, indent = "") {
  if (v === null || v === undefined) return "None";
  if (v === true) return "True";
  if (v === false) return "False";
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : "None";
  if (typeof v === "string") return JSON.stringify(v);
  const next = `${indent}    `;
  if (Array.isArray(v)) {
    if (!v.length) return "[]";
    return `[\n${v.map((x) => `${next}${py(x, next)},`).join("\n")}\n${indent}]`;
  }
  const entries = Object.entries(v);
  if (!entries.length) return "{}";
  return `{\n${entries.map(([k, x]) => `${next}${JSON.stringify(k)}: ${py(x, next)},`).join("\n")}\n${indent}}`;
}

function python(base, input, config) {
  const url = base.replace(/\/$/, "");
  const cfg = hasConfig(config) ? `, config=${py(config)}` : "";
  return [
    `from langserve_like import RemoteRunnable  # or: from langserve import RemoteRunnable`,
    ``,
    `runnable = RemoteRunnable(${JSON.stringify(url)})`,
    `print(runnable.invoke(${py(inputOrNull(input))}${cfg}))`,
    ``,
    `# plain HTTP`,
    `import httpx`,
    ``,
    `response = httpx.post(${JSON.stringify(`${base}invoke`)}, json=${py(body(input, config))}, timeout=60)`,
    `response.raise_for_status()`,
    `print(response.json()["output"])`,
  ].join("\n");
}

// An ES module for Node 18+ or a browser console (top-level await). LangChain.js is
// shown as comments so the snippet runs without installing it.
function js(base, input, config) {
  const url = base.replace(/\/$/, "");
  const cfg = hasConfig(config) ? `, ${JSON.stringify(config)}` : "";
  return [
    `const response = await fetch(${JSON.stringify(`${base}invoke`)}, {`,
    `  method: "POST",`,
    `  headers: { "Content-Type": "application/json" },`,
    `  body: JSON.stringify(${JSON.stringify(body(input, config), null, 2).replace(/\n/g, "\n  ")}),`,
    `});`,
    `if (!response.ok) throw new Error(\`HTTP \${response.status}: \${await response.text()}\`);`,
    `const { output } = await response.json();`,
    `console.log(output);`,
    ``,
    `// Or with LangChain.js (npm install @langchain/core):`,
    `// import { RemoteRunnable } from "@langchain/core/runnables/remote";`,
    `// const runnable = new RemoteRunnable({ url: ${JSON.stringify(url)} });`,
    `// console.log(await runnable.invoke(${JSON.stringify(inputOrNull(input))}${cfg}));`,
  ].join("\n");
}
