// Output rendering: chunk accumulation (LangChain's `+` semantics), typed views for
// messages and documents, safe Markdown and a lazy, truncating JSON tree.

const MESSAGE_TAGS = /^(human|ai|system|chat|function|tool)$|MessageChunk$/;

const isMessage = (v) => isPlainObject(v) && typeof v.type === "string" && MESSAGE_TAGS.test(v.type) && "content" in v;
const isDocument = (v) => isPlainObject(v) && typeof v.page_content === "string";

function roleOf(msg) {
  const t = msg.type.replace(/MessageChunk$/, "").toLowerCase();
  return t === "chat" ? msg.role || "chat" : t;
}

function addContent(a, b) {
  if (typeof a === "string" && typeof b === "string") return a + b;
  const list = (x) => (typeof x === "string" ? (x ? [{ type: "text", text: x }] : []) : x || []);
  return [...list(a), ...list(b)];
}

function mergeToolChunks(a = [], b = []) {
  const out = a.map((c) => ({ ...c }));
  for (const c of b) {
    const same = c.index != null && out.find((o) => o.index === c.index);
    if (same) {
      for (const k of ["name", "args", "id"]) if (c[k]) same[k] = (same[k] || "") + c[k];
    } else out.push({ ...c });
  }
  return out;
}

function addUsage(a, b) {
  if (!a) return b;
  if (!b) return a;
  const out = { ...a };
  for (const k of ["input_tokens", "output_tokens", "total_tokens"]) out[k] = (a[k] || 0) + (b[k] || 0);
  return out;
}

function addMessages(a, b) {
  const chunks = mergeToolChunks(a.tool_call_chunks, b.tool_call_chunks);
  return {
    ...a, ...b,
    content: addContent(a.content, b.content),
    tool_call_chunks: chunks,
    // A chunk's own `tool_calls` parse only its fragment of the arguments: parse the join.
    tool_calls: chunks.length ? parseToolChunks(chunks) : [...(a.tool_calls || []), ...(b.tool_calls || [])],
    usage_metadata: addUsage(a.usage_metadata, b.usage_metadata),
    id: a.id || b.id,
  };
}

// `a + b` as LangChain adds stream chunks (AddableDict, message chunks, strings, lists).
function addChunk(a, b) {
  if (a === undefined) return b;
  if (isMessage(a) && isMessage(b)) return addMessages(a, b);
  if (typeof a === "string" && typeof b === "string") return a + b;
  if (typeof a === "number" && typeof b === "number") return a + b;
  if (Array.isArray(a) && Array.isArray(b)) return [...a, ...b];
  if (isPlainObject(a) && isPlainObject(b) && !("type" in a)) {
    const out = { ...a };
    for (const [k, v] of Object.entries(b)) out[k] = out[k] == null ? v : v == null ? out[k] : addChunk(out[k], v);
    return out;
  }
  return b;
}

function parseToolChunks(chunks) {
  return chunks.map((c) => {
    let args = c.args;
    try { args = JSON.parse(c.args || "{}"); } catch { /* keep the raw partial string */ }
    return { name: c.name, args, id: c.id, type: "tool_call" };
  });
}

// Tool calls of a streamed message only exist as chunks until parsed here.
function toolCallsOf(msg) {
  if (msg.tool_calls?.length) return msg.tool_calls;
  return parseToolChunks(msg.tool_call_chunks || []);
}

function textOf(v) {
  if (typeof v === "string") return v;
  if (isMessage(v)) {
    if (typeof v.content === "string") return v.content;
    return (v.content || []).map((p) => (typeof p === "string" ? p : p.text || "")).join("");
  }
  return v === undefined ? "" : pretty(v);
}

// Renders any output value; `opts.markdown` renders strings and message text as Markdown.
function renderValue(v, opts = {}) {
  if (typeof v === "string") return renderText(v, opts);
  // Prompt values (a prompt's output) read best as the text or messages they hold.
  if (isPlainObject(v) && v.type === "StringPromptValue" && typeof v.text === "string") return renderText(v.text, opts);
  if (isPlainObject(v) && /^ChatPromptValue/.test(v.type) && Array.isArray(v.messages)) return renderValue(v.messages, opts);
  if (isMessage(v)) return renderMessage(v, opts);
  if (isDocument(v)) return renderDocument(v);
  if (Array.isArray(v) && v.length && v.every(isDocument)) {
    return h("div", { class: "cards" }, v.map(renderDocument));
  }
  if (Array.isArray(v) && v.length && v.every(isMessage)) {
    return h("div", { class: "cards" }, v.map((m) => renderMessage(m, opts)));
  }
  return jsonTree(v);
}

function renderText(text, opts = {}) {
  // Markdown on very long text would cost more than it helps while streaming.
  if (opts.markdown && text.length <= 4 * TRUNCATE_AT) return h("div", { class: "md" }, markdown(text));
  return truncatedText(text, "pre text");
}

function renderMessage(msg, opts = {}) {
  const role = roleOf(msg);
  const calls = toolCallsOf(msg);
  const usage = msg.usage_metadata;
  const body = typeof msg.content === "string"
    ? (msg.content ? renderText(msg.content, opts) : null)
    : msg.content.map((p) => (typeof p === "string" ? renderText(p, opts)
      : p.type === "text" ? renderText(p.text || "", opts) : jsonTree(p)));
  return h("article", { class: "card message", "data-role": role },
    h("header", { class: "card-head" }, h("span", { class: "badge" }, role), msg.name ? ` ${msg.name}` : null),
    body,
    calls.length ? h("div", { class: "tool-calls" }, calls.map((c) =>
      h("div", { class: "tool-call" }, h("span", { class: "badge" }, "tool call"), " ",
        h("code", {}, c.name || "?"), c.id ? h("span", { class: "muted" }, ` ${c.id}`) : null,
        jsonTree(c.args)))) : null,
    usage ? h("p", { class: "usage muted" },
      `Tokens: ${usage.input_tokens ?? "?"} in, ${usage.output_tokens ?? "?"} out, ${usage.total_tokens ?? "?"} total`) : null,
  );
}

function renderDocument(doc) {
  const meta = isPlainObject(doc.metadata) ? Object.entries(doc.metadata) : [];
  return h("article", { class: "card document", testid: "pg-document" },
    h("header", { class: "card-head" }, h("span", { class: "badge" }, "document"), doc.id ? ` ${doc.id}` : null),
    truncatedText(doc.page_content, "pre text"),
    meta.length ? h("dl", { class: "meta" }, meta.map(([k, v]) =>
      [h("dt", {}, k), h("dd", {}, typeof v === "string" ? v : JSON.stringify(v))])) : null);
}

// A collapsible JSON view whose children are only built when opened.
function jsonTree(v, key = null, depth = 0) {
  const label = key === null ? null : h("span", { class: "key" }, `${key}: `);
  if (v === null || typeof v !== "object") {
    const text = typeof v === "string" ? JSON.stringify(v) : String(v);
    return h("div", { class: "jt-leaf" }, label,
      text.length > TRUNCATE_AT ? truncatedText(text, "pre inline") : h("span", { class: `jt-${v === null ? "null" : typeof v}` }, text));
  }
  const entries = Array.isArray(v) ? v.map((x, i) => [i, x]) : Object.entries(v);
  const summary = Array.isArray(v) ? `[${entries.length}]` : `{${entries.length}}`;
  if (!entries.length) return h("div", { class: "jt-leaf" }, label, Array.isArray(v) ? "[]" : "{}");
  const details = h("details", { class: "jt", open: depth < 2 && entries.length <= 50 },
    h("summary", {}, label, h("span", { class: "muted" }, summary)));
  const fill = () => {
    if (details.dataset.filled) return;
    details.dataset.filled = "1";
    const shown = entries.slice(0, 500);
    details.append(...shown.map(([k, x]) => jsonTree(x, k, depth + 1)));
    if (entries.length > shown.length) details.append(h("p", { class: "muted" }, `… ${entries.length - shown.length} more`));
  };
  if (details.open) fill();
  details.addEventListener("toggle", fill);
  return details;
}

// ---- Safe Markdown: a small subset rendered straight to DOM nodes (never HTML). ----

const SAFE_URL = /^(https?:|mailto:|\/|\.\/|#)/i;

function inline(text) {
  const out = [];
  const re = /(`[^`]+`)|\*\*([^*]+)\*\*|\*([^*\s][^*]*)\*|_([^_\s][^_]*)_|\[([^\]]+)\]\(([^)\s]+)\)/g;
  let last = 0;
  for (let m; (m = re.exec(text));) {
    if (m.index > last) out.push(text.slice(last, m.index));
    if (m[1]) out.push(h("code", {}, m[1].slice(1, -1)));
    else if (m[2]) out.push(h("strong", {}, inline(m[2])));
    else if (m[3] || m[4]) out.push(h("em", {}, inline(m[3] || m[4])));
    else if (SAFE_URL.test(m[6])) out.push(h("a", { href: m[6], rel: "noopener noreferrer nofollow", target: "_blank" }, m[5]));
    else out.push(m[0]);
    last = re.lastIndex;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

function markdown(src) {
  const lines = src.replace(/\r\n?/g, "\n").split("\n");
  const blocks = [];
  let para = [];
  let list = null;
  const flush = () => {
    if (para.length) blocks.push(h("p", {}, inline(para.join("\n"))));
    para = [];
    list = null;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    let m;
    if ((m = line.match(/^\s*```(.*)$/))) {
      flush();
      const code = [];
      while (++i < lines.length && !/^\s*```/.test(lines[i])) code.push(lines[i]);
      blocks.push(h("pre", { class: "code" }, h("code", {}, code.join("\n"))));
    } else if ((m = line.match(/^(#{1,6})\s+(.*)$/))) {
      flush();
      blocks.push(h(`h${Math.min(6, m[1].length + 2)}`, { class: "md-h" }, inline(m[2])));
    } else if ((m = line.match(/^\s*([-*+]|\d+[.)])\s+(.*)$/))) {
      if (para.length) flush();
      const tag = /\d/.test(m[1]) ? "ol" : "ul";
      if (!list || list.tagName.toLowerCase() !== tag) {
        list = h(tag, {});
        blocks.push(list);
      }
      list.append(h("li", {}, inline(m[2])));
    } else if ((m = line.match(/^>\s?(.*)$/))) {
      flush();
      blocks.push(h("blockquote", {}, inline(m[1])));
    } else if (!line.trim()) {
      flush();
    } else {
      list = null;
      para.push(line);
    }
  }
  flush();
  return blocks;
}
