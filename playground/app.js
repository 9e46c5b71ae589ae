// Playground bootstrap: reads ./info.json and the route's schemas (nothing is templated
// into this page), then builds the form or chat UI. All URLs are relative to the page.
// The last section of the page script: the server joins the sections into one ES module
// (BUNDLE in langserve_like/playground.py), so their top-level names are in scope here.

const $ = (id) => document.getElementById(id);
const main = $("pg-main");
const statusEl = document.querySelector("[data-testid=pg-status]");
const errorBox = h("div", { class: "alert", role: "alert", testid: "pg-error", hidden: true });

const app = { output: undefined, run: () => {}, stop: () => {}, running: () => false };

function setStatus(status) {
  statusEl.textContent = status;
  statusEl.dataset.status = status;
  document.body.dataset.status = status;
}

function showError(err) {
  errorBox.hidden = false;
  errorBox.replaceChildren(h("strong", {}, "Error"), h("pre", { class: "pre" }, String(err?.message ?? err)));
  if (err?.runId) errorBox.append(h("p", { class: "muted" }, `Run id: ${err.runId}`));
}

function clearError() {
  errorBox.hidden = true;
  errorBox.replaceChildren();
}

// ---- theme ----
function setupTheme() {
  const btn = $("pg-theme");
  const dark = () => (document.documentElement.dataset.theme || (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light")) === "dark";
  const sync = () => btn.setAttribute("aria-pressed", String(dark()));
  btn.addEventListener("click", () => {
    const next = dark() ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    try { localStorage.setItem("pg-theme", next); } catch { /* private mode: session-only */ }
    sync();
  });
  sync();
}

const markdownOn = () => localStorage.getItem("pg-markdown") !== "off";

// Only the keys that differ from the schema defaults are sent (LangServe echoed them all).
function diff(value, base) {
  if (isPlainObject(value) && isPlainObject(base)) {
    const out = {};
    for (const [k, v] of Object.entries(value)) {
      const d = k in base ? diff(v, base[k]) : v;
      if (d !== undefined) out[k] = d;
    }
    return Object.keys(out).length ? out : undefined;
  }
  return sameJSON(value, base) ? undefined : value;
}

function merge(base, extra) {
  if (!isPlainObject(base) || !isPlainObject(extra)) return extra === undefined ? base : extra;
  const out = { ...base };
  for (const [k, v] of Object.entries(extra)) out[k] = merge(base[k], v);
  return out;
}

function panel(id, title, ...children) {
  return h("section", { class: "panel", "aria-labelledby": id },
    h("div", { class: "panel-head" }, h("h2", { id }, title)), children);
}

async function boot() {
  setupTheme();
  const info = await getJSON("./info.json");
  const has = (name) => info.endpoints.includes(name);
  const base = new URL(info.config_hash ? "../../../" : "../", location.href).href;
  document.title = `${info.title || "Route"} · Playground`;
  $("pg-route").textContent = info.title || "";
  const schemaOf = (name, query = "") => (has(name) ? getJSON(`${base}${name}${query}`) : Promise.resolve({}));
  const [inputSchema0, outputSchema, configSchema] = await Promise.all(
    [schemaOf("input_schema"), schemaOf("output_schema"), schemaOf("config_schema")]);
  const shared = stateFromHash(location.hash) || {};
  if (info.config_error) showError(`This link's config could not be read: ${info.config_error}`);
  const initialConfig = shared.config ?? info.initial_config ?? {};

  // -- config form (shared by both modes) --
  const cDeref = makeDeref(configSchema);
  const cResolved = cDeref(configSchema);
  let configForm = null;
  let configDefaults = {};
  let configSection = null;
  if (kind(cResolved) === "object") {
    configForm = buildForm(configSchema, { deref: cDeref, label: "Config", wholeToggle: false });
    configDefaults = configForm.get();
    if (isPlainObject(initialConfig) && Object.keys(initialConfig).length) configForm.set(merge(configDefaults, initialConfig));
    configSection = h("details", { class: "panel config", testid: "pg-config", open: true },
      h("summary", {}, h("h2", {}, "Configure")), configForm.el);
  }
  const config = () => (configForm ? diff(configForm.get(), configDefaults) || {} : {});

  const feedbackButtons = (runId) => {
    if (!info.feedback || !runId) return [];
    const note = h("span", { class: "muted", role: "status" });
    const thumb = (score, text, label) => {
      const b = h("button", { type: "button", class: "small", "aria-label": label, testid: `pg-feedback-${score ? "up" : "down"}` }, text);
      b.addEventListener("click", async () => {
        try {
          await postJSON(`${base}feedback`, { run_id: runId, key: "correctness", score });
          note.textContent = "Feedback sent.";
        } catch (err) {
          showError(err);
        }
      });
      return b;
    };
    return [thumb(1, "👍", "Good response"), thumb(0, "👎", "Bad response"), note];
  };

  const inputMessagesShape = chatModeShape(info, inputSchema0, outputSchema);
  const snippetBox = buildSnippets(base);
  const ctx = { base, has, config, setStatus, showError, clearError, feedbackButtons, markdown: markdownOn };

  if (inputMessagesShape) {
    const chat = chatApp({ ...ctx, shape: inputMessagesShape, changed: () => refresh() });
    if (Array.isArray(shared.messages)) chat.setHistory(shared.messages);
    main.replaceChildren(...[errorBox, configSection, chat.el, snippetBox.el].filter(Boolean));
    snippetBox.state = () => ({ input: chat.input(), config: config(), messages: chat.history() });
    app.run = chat.run;
    app.stop = chat.stop;
    app.running = chat.running;
  } else {
    const ui = buildFormMode({ ...ctx, info, inputSchema: inputSchema0, outputSchema, refresh: () => refresh() });
    const notice = info.playground_type === "chat"
      ? h("p", { class: "notice" }, "Chat mode needs an input with a list of messages; showing the form instead.") : null;
    main.replaceChildren(...[notice, errorBox, ui.inputSection, ui.outputSection, ui.eventsSection, snippetBox.el].filter(Boolean));
    if (configSection) ui.inputSection.insertBefore(configSection, ui.actions);
    if ("input" in shared) ui.setInput(shared.input);
    snippetBox.state = () => ({ input: ui.input(), config: config() });
    Object.assign(app, ui);
    if (configForm) {
      let timer = 0;
      configSection.addEventListener("input", () => {
        clearTimeout(timer);
        timer = setTimeout(() => ui.reloadInputSchema(config()), 400);
      });
    }
    if (Object.keys(config()).length) await ui.reloadInputSchema(config());
  }
  const refresh = () => snippetBox.update();
  main.addEventListener("input", refresh);
  main.addEventListener("change", refresh);
  refresh();

  document.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      app.running() ? app.stop() : app.run();
    } else if (e.key === "Escape" && app.running()) {
      app.stop();
    }
  });
}

// Chat mode is asked for with playground_type="chat", or detected (R10): a message-list
// input (alone or with one question string) whose output is a message or text. A
// widget on the message list (e.g. `chat`) asks for the form instead.
function chatModeShape(info, inputSchema, outputSchema) {
  const deref = makeDeref(inputSchema);
  const shape = chatShape(inputSchema, deref);
  if (!shape || info.playground_type === "chat") return shape;
  const field = shape.messagesKey ? deref(deref(inputSchema).properties[shape.messagesKey]) : null;
  if (field && widgetOf(field)) return null;
  return outputIsMessageOrText(outputSchema, makeDeref(outputSchema)) ? shape : null;
}

function buildSnippets(base) {
  const blocks = {};
  const make = (key, title) => {
    const pre = h("pre", { class: "pre code", tabindex: "0", "aria-label": `${title} snippet` });
    blocks[key] = pre;
    return h("div", { class: "snippet", testid: `pg-snippet-${key}` },
      h("div", { class: "panel-head" }, h("h3", {}, title), copyButton(`Copy ${title} snippet`, () => pre.textContent)), pre);
  };
  const shareUrl = h("input", { type: "text", readonly: true, id: "pg-share-url", class: "mono" });
  const share = h("button", { type: "button", testid: "pg-share" }, "Copy share link");
  const box = {
    state: () => ({ input: null, config: {} }),
    link: () => `${location.href.split("#")[0]}#s=${encodeState(box.state())}`,
    update: () => {
      const { input, config } = box.state();
      blocks.curl.textContent = curl(base, input, config);
      blocks.python.textContent = python(base, input, config);
      blocks.js.textContent = js(base, input, config);
    },
  };
  share.addEventListener("click", async () => {
    shareUrl.value = box.link();
    try {
      await navigator.clipboard.writeText(shareUrl.value);
      share.textContent = "Link copied";
    } catch {
      share.textContent = "Copy the link below";
    }
    setTimeout(() => (share.textContent = "Copy share link"), 1500);
  });
  box.el = h("details", { class: "panel code-panel", open: true },
    h("summary", {}, h("h2", {}, "Code and share")),
    h("div", { class: "share" }, share, h("label", { for: "pg-share-url", class: "sr-only" }, "Share link"), shareUrl),
    make("curl", "curl"), make("python", "Python"), make("js", "JavaScript"));
  return box;
}

function buildFormMode(ctx) {
  let inputSchema = ctx.inputSchema;
  let deref = makeDeref(inputSchema);
  let form = buildForm(inputSchema, { deref });
  const inputHost = h("div", { testid: "pg-input", class: "input-host" }, form.el);
  const output = h("div", { testid: "pg-output", class: "output", "aria-live": "polite" }, h("p", { class: "muted" }, "Run to see the output."));
  const timing = h("span", { testid: "pg-timing", class: "muted" });
  const events = h("div", { testid: "pg-events", class: "events" });
  const timeline = new Timeline(events);
  const feedback = h("div", { class: "feedback" });
  const modes = [["invoke", "invoke", "Invoke"], ["stream", "stream", "Stream"], ["events", "stream_events", "Events"]]
    .filter(([, endpoint]) => ctx.has(endpoint));
  const buttons = modes.map(([mode, , label]) => {
    const b = h("button", { type: "button", testid: `pg-run-${mode}`, class: mode === "stream" ? "primary" : "" }, label);
    b.addEventListener("click", () => run(mode));
    return b;
  });
  const checkInput = () => {
    const errors = [...form.errors()];
    if (!errors.length) return true;
    showError(`Please fix the input:\n${errors.join("\n")}`);
    setStatus("error");
    return false;
  };
  const batch = ctx.has("batch") ? batchQueue({ getInput: () => form.get(), check: checkInput }) : null;
  if (batch) {
    batch.button.addEventListener("click", () => run("batch"));
    buttons.push(batch.button);
  }
  const stop = h("button", { type: "button", testid: "pg-stop", disabled: true }, "Stop");
  const preferred = ["stream", "events", "invoke"].find((m) => modes.some(([x]) => x === m));
  const actions = h("div", { class: "actions" }, buttons, stop,
    h("span", { class: "muted hint" }, modes.length ? "Ctrl+Enter runs, Esc stops" : "No run endpoint is enabled on this route."));
  const mdToggle = h("input", { type: "checkbox", id: "pg-md", checked: ctx.markdown() });
  mdToggle.addEventListener("change", () => {
    localStorage.setItem("pg-markdown", mdToggle.checked ? "on" : "off");
    paint();
  });
  let controller = null;
  let value;
  let batchInputs = null; // the inputs of the last run when it was a batch
  let frame = 0;
  const paint = () => {
    cancelAnimationFrame(frame);
    frame = 0;
    const opts = { markdown: mdToggle.checked };
    output.replaceChildren(value === undefined ? h("p", { class: "muted" }, controller ? "…" : "No output.")
      : batchInputs && Array.isArray(value) ? renderBatch(batchInputs, value, opts) : renderValue(value, opts));
  };
  const schedule = () => { if (!frame) frame = requestAnimationFrame(paint); };

  async function run(mode = preferred) {
    if (controller || !mode) return;
    clearError();
    // A batch sends the inputs checked as they were added, not what the form holds now.
    if (mode !== "batch" && !checkInput()) return;
    batchInputs = mode === "batch" ? batch.inputs() : null;
    const input = form.get();
    const body = batchInputs ? { inputs: batchInputs, config: ctx.config() }
      : { input: input === undefined ? null : input, config: ctx.config() };
    controller = new AbortController();
    value = undefined;
    feedback.replaceChildren();
    buttons.forEach((b) => (b.disabled = true));
    stop.disabled = false;
    output.setAttribute("aria-busy", "true");
    setStatus("running");
    paint();
    const t0 = performance.now();
    let first = null;
    let runId = null;
    const onChunk = (chunk) => {
      if (first === null) first = performance.now() - t0;
      value = addChunk(value, chunk);
      schedule();
    };
    let status = "done";
    try {
      if (mode === "batch") {
        value = (await (await postJSON(`${ctx.base}batch`, body, controller.signal)).json()).output;
      } else if (mode === "invoke") {
        const res = await (await postJSON(`${ctx.base}invoke`, body, controller.signal)).json();
        value = res.output;
        runId = res.metadata?.run_id ?? null;
      } else if (mode === "stream") {
        ({ runId } = await stream(`${ctx.base}stream`, body, controller.signal, { onData: onChunk }));
      } else {
        timeline.start();
        let final;
        await stream(`${ctx.base}stream_events`, body, controller.signal, {
          onData: (ev) => {
            timeline.handle(ev);
            if (ev && !(ev.parent_ids || []).length && ev.run_id) {
              runId = ev.run_id;
              if (ev.event === "on_chain_stream") onChunk(ev.data?.chunk);
              if (/_end$/.test(ev.event) && ev.data && "output" in ev.data) final = ev.data.output;
            }
          },
        });
        if (final !== undefined) value = final;
      }
    } catch (err) {
      if (err.name === "AbortError") status = "idle";
      else {
        status = "error";
        showError(err);
      }
    } finally {
      const total = performance.now() - t0;
      timing.textContent = `${first !== null ? `first chunk ${Math.round(first)} ms · ` : ""}total ${Math.round(total)} ms${status === "idle" ? " (stopped)" : ""}`;
      timing.dataset.total = String(total);
      if (mode === "events") timeline.finish(status === "done" ? "done" : status === "idle" ? "stopped" : "error");
      controller = null;
      app.output = value;
      paint();
      output.setAttribute("aria-busy", "false");
      buttons.forEach((b) => (b.disabled = false));
      batch?.sync();
      stop.disabled = true;
      // Feedback and the chat widget's reply are about one run, not a batch.
      if (status === "done" && !batchInputs) {
        feedback.replaceChildren(...ctx.feedbackButtons(runId));
        appendChatWidgetReply();
      }
      setStatus(status);
    }
  }

  // The `chat` widget: after a run the reply joins the message list for the next turn.
  function appendChatWidgetReply() {
    const s = deref(inputSchema);
    if (kind(s) !== "object") return;
    const current = form.get();
    for (const [key, sub] of Object.entries(s.properties)) {
      const w = widgetOf(deref(sub));
      if (w?.type !== "chat" || !Array.isArray(current?.[key])) continue;
      const reply = isPlainObject(value) && w.output && w.output in value ? value[w.output] : value;
      current[key] = [...current[key], { type: "ai", content: textOf(reply) }];
      form.set(current);
    }
  }

  stop.addEventListener("click", () => controller?.abort());

  const outputSection = panel("h-output", "Output");
  outputSection.querySelector(".panel-head").append(h("span", { class: "grow" }), timing,
    h("label", { class: "check" }, mdToggle, " Markdown"),
    copyButton("Copy output as JSON", () => pretty(app.output), "pg-copy-output"));
  outputSection.append(output, feedback);
  const eventsSection = panel("h-events", "Events", events);
  eventsSection.querySelector(".panel-head").append(h("span", { class: "grow" }), timeline.exportButton());
  const inputSection = panel("h-input", "Input", inputHost, actions, batch?.el);

  let schemaSeq = 0;
  return {
    inputSection, outputSection, eventsSection, actions,
    input: () => form.get(),
    setInput: (v) => form.set(v),
    run,
    stop: () => controller?.abort(),
    running: () => Boolean(controller),
    // A config can change the input schema (e.g. a configurable prompt template).
    async reloadInputSchema(config) {
      if (!ctx.has("input_schema")) return;
      const seq = ++schemaSeq;
      inputHost.classList.add("loading");
      inputHost.setAttribute("aria-busy", "true");
      try {
        const query = Object.keys(config).length ? `?config=${encodeURIComponent(JSON.stringify(config))}` : "";
        const next = await getJSON(`${ctx.base}input_schema${query}`);
        if (seq !== schemaSeq || sameJSON(next, inputSchema)) return;
        const keep = form.get();
        inputSchema = next;
        deref = makeDeref(next);
        form = buildForm(next, { deref });
        const fresh = form.get();
        // Keep what was typed, but only for fields the new schema still has.
        if (isPlainObject(fresh) && isPlainObject(keep)) {
          const props = deref(next).properties || {};
          form.set(merge(fresh, Object.fromEntries(Object.entries(keep).filter(([k]) => k in props))));
        }
        inputHost.replaceChildren(form.el);
        ctx.refresh();
      } catch (err) {
        showError(err);
      } finally {
        if (seq === schemaSeq) {
          inputHost.classList.remove("loading");
          inputHost.setAttribute("aria-busy", "false");
        }
      }
    },
  };
}

// Last-resort error boundary: anything unexpected is shown, never a blank page.
window.addEventListener("unhandledrejection", (e) => showError(e.reason));

boot().catch((err) => {
  main.replaceChildren(errorBox);
  showError(err);
  setStatus("error");
}).finally(() => {
  main.setAttribute("aria-busy", "false");
  // data-ms: milliseconds from navigation start until the page was usable (R20).
  main.append(h("span", { testid: "pg-ready", hidden: true, "data-ms": String(Math.round(performance.now())) }));
});
