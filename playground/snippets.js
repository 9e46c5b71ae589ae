// Copyable code for the current input and config, and share links that carry the
// state in the URL fragment (never sent to the server, no path-length limit).

const shellQuote = (s) => `'${s.replace(/'/g, `'\\''`)}'`;

const body = (input, config) => (config && Object.keys(config).length ? { input, config } : { input });

function curl(base, input, config) {
  const data = shellQuote(JSON.stringify(body(input, config)));
  return [
    `# invoke`,
    `curl -sS -X POST ${shellQuote(`${base}invoke`)} \\\n  -H 'Content-Type: application/json' \\\n  -d ${data}`,
    ``,
    `# stream (server-sent events)`,
    `curl -sS -N -X POST ${shellQuote(`${base}stream`)} \\\n  -H 'Content-Type: application/json' \\\n  -d ${data}`,
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
  const cfg = config && Object.keys(config).length ? `, config=${py(config)}` : "";
  return [
    `from langserve_like import RemoteRunnable  # or: from langserve import RemoteRunnable`,
    ``,
    `runnable = RemoteRunnable(${JSON.stringify(url)})`,
    `print(runnable.invoke(${py(input)}${cfg}))`,
    ``,
    `# plain HTTP`,
    `import httpx`,
    ``,
    `response = httpx.post(${JSON.stringify(`${base}invoke`)}, json=${py(body(input, config))}, timeout=60)`,
    `response.raise_for_status()`,
    `print(response.json()["output"])`,
  ].join("\n");
}

function js(base, input, config) {
  const url = base.replace(/\/$/, "");
  const cfg = config && Object.keys(config).length ? `, ${JSON.stringify(config, null, 2)}` : "";
  return [
    `const response = await fetch(${JSON.stringify(`${base}invoke`)}, {`,
    `  method: "POST",`,
    `  headers: { "Content-Type": "application/json" },`,
    `  body: JSON.stringify(${JSON.stringify(body(input, config), null, 2).replace(/\n/g, "\n  ")}),`,
    `});`,
    `const { output } = await response.json();`,
    ``,
    `// or, with LangChain.js (@langchain/core 0.3)`,
    `import { RemoteRunnable } from "@langchain/core/runnables/remote";`,
    `const runnable = new RemoteRunnable({ url: ${JSON.stringify(url)} });`,
    `console.log(await runnable.invoke(${JSON.stringify(input, null, 2)}${cfg}));`,
  ].join("\n");
}

// base64url of UTF-8 JSON, so any text survives the round trip.
function encodeState(state) {
  const bytes = new TextEncoder().encode(JSON.stringify(state));
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function decodeState(text) {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0))));
}

// The share state in `location.hash` (`#s=...`), or null.
function stateFromHash(hash) {
  const m = /(?:^#|&)s=([A-Za-z0-9_-]+)/.exec(hash || "");
  if (!m) return null;
  try {
    return decodeState(m[1]);
  } catch {
    return null;
  }
}
