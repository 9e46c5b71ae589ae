// The "Code and share" panel: the copyable snippets for the current input and config,
// and a share link that carries the state in the URL fragment (never sent to the
// server, so there is no path-length limit).

// One snippet: the `pre` (its test id) holds exactly the code, so what a test or a
// user copies out of it runs as is. A hint appears when the box cuts the code off.
function snippetBlock(key, title) {
  const headId = uid("snippet");
  const pre = h("pre", { class: "pre code", tabindex: "0", testid: `pg-snippet-${key}`, "aria-labelledby": headId });
  const hint = h("p", { class: "muted scroll-hint", hidden: true });
  const el = h("div", { class: "snippet" },
    h("div", { class: "panel-head" }, h("h3", { id: headId }, title), copyButton(`Copy ${title} snippet`, () => pre.textContent)),
    pre, hint);
  const set = (text) => {
    pre.textContent = text;
    // Whether the code overflows is only known once it is laid out.
    requestAnimationFrame(() => {
      const lines = text.split("\n").length;
      hint.hidden = pre.scrollHeight <= pre.clientHeight + 1;
      hint.textContent = `Scroll inside the box for the rest: ${lines} lines in all (Copy takes them all).`;
    });
  };
  return { el, set };
}

function shareRow(link) {
  const shareUrl = h("input", { type: "text", readonly: true, id: "pg-share-url", class: "mono" });
  const share = h("button", { type: "button", testid: "pg-share" }, "Copy share link");
  share.addEventListener("click", async () => {
    shareUrl.value = link();
    try {
      await navigator.clipboard.writeText(shareUrl.value);
      share.textContent = "Link copied";
    } catch {
      share.textContent = "Copy the link below";
    }
    setTimeout(() => (share.textContent = "Copy share link"), 1500);
  });
  const el = h("div", { class: "share" }, share, h("label", { for: "pg-share-url", class: "sr-only" }, "Share link"), shareUrl);
  return { el, show: () => (shareUrl.value = link()) };
}

// `box.state` is set by the mode once it is built; `box.update()` refreshes everything.
function buildCodePanel(base) {
  const blocks = { curl: snippetBlock("curl", "curl"), python: snippetBlock("python", "Python"), js: snippetBlock("js", "JavaScript") };
  const box = {
    state: () => ({ input: null, config: {} }),
    link: () => `${location.href.split("#")[0]}#s=${encodeState(box.state())}`,
  };
  const share = shareRow(box.link);
  box.update = () => {
    const { input, config } = box.state();
    blocks.curl.set(curl(base, input, config));
    blocks.python.set(python(base, input, config));
    blocks.js.set(js(base, input, config));
    share.show();
  };
  box.el = h("details", { class: "panel code-panel", open: true },
    h("summary", {}, h("h2", {}, "Code and share")), share.el,
    blocks.curl.el, blocks.python.el, blocks.js.el);
  return box;
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
