// Tiny DOM helpers. Everything is built with createElement + textContent: no
// innerHTML anywhere, so text from schemas or outputs can never become markup.

let counter = 0;
const uid = (prefix = "pg") => `${prefix}-${++counter}`;

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k === "testid") el.dataset.testid = v;
    else if (k === "on") for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

function clear(el) {
  el.replaceChildren();
  return el;
}

async function copyText(text) {
  await navigator.clipboard.writeText(text);
}

// A named copy button; `getText` is called at click time so it copies current state.
function copyButton(label, getText, testid) {
  const btn = h("button", { type: "button", class: "small", "aria-label": label, testid }, "Copy");
  btn.addEventListener("click", async () => {
    try {
      await copyText(getText());
      btn.textContent = "Copied";
    } catch (err) {
      btn.textContent = "Copy failed";
    }
    setTimeout(() => (btn.textContent = "Copy"), 1500);
  });
  return btn;
}

const pretty = (v) => JSON.stringify(v, null, 2) ?? "undefined";

function humanize(key) {
  const s = String(key).replace(/[_-]+/g, " ").trim();
  return s ? s[0].toUpperCase() + s.slice(1) : String(key);
}

// Long text is cut for display only; the full value stays available on request.
const TRUNCATE_AT = 10000;

function truncatedText(text, cls = "pre") {
  const el = h("pre", { class: cls });
  if (text.length <= TRUNCATE_AT) {
    el.textContent = text;
    return el;
  }
  el.textContent = text.slice(0, TRUNCATE_AT);
  const more = h("button", { type: "button", class: "small" },
    `Show all (${text.length.toLocaleString()} characters)`);
  more.addEventListener("click", () => {
    el.textContent = text;
    more.remove();
  });
  return h("div", {}, el, more);
}
