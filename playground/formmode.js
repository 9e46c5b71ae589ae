// Form mode: the input form, the run buttons, the output and the events timeline.
// `buildFormMode` wires the parts; each part below owns one of them.

const RUN_MODES = [["invoke", "invoke", "Invoke"], ["stream", "stream", "Stream"], ["events", "stream_events", "Events"]];

// The input form, rebuilt when a config changes the input schema.
function inputPanel(ctx) {
  const state = { schema: ctx.inputSchema, deref: makeDeref(ctx.inputSchema) };
  state.form = buildForm(state.schema, { deref: state.deref });
  const host = h("div", { testid: "pg-input", class: "input-host" }, state.form.el);
  const check = () => {
    const errors = [...state.form.errors()];
    if (!errors.length) return true;
    showError(`Please fix the input:\n${errors.join("\n")}`);
    setStatus("error");
    return false;
  };
  let seq = 0;
  // A config can change the input schema (e.g. a configurable prompt template).
  const reload = async (config) => {
    if (!ctx.has("input_schema")) return;
    const mine = ++seq;
    host.classList.add("loading");
    host.setAttribute("aria-busy", "true");
    try {
      const query = Object.keys(config).length ? `?config=${encodeURIComponent(JSON.stringify(config))}` : "";
      const next = await getJSON(`${ctx.base}input_schema${query}`);
      if (mine !== seq || sameJSON(next, state.schema)) return;
      replaceInputForm(state, next);
      host.replaceChildren(state.form.el);
      ctx.refresh();
    } catch (err) {
      showError(err);
    } finally {
      if (mine === seq) {
        host.classList.remove("loading");
        host.setAttribute("aria-busy", "false");
      }
    }
  };
  return { host, state, check, reload, get: () => state.form.get(), set: (v) => state.form.set(v) };
}

// Swaps in the form for schema `next`, keeping what was typed in fields it still has.
function replaceInputForm(state, next) {
  const keep = state.form.get();
  state.schema = next;
  state.deref = makeDeref(next);
  state.form = buildForm(next, { deref: state.deref });
  const fresh = state.form.get();
  if (isPlainObject(fresh) && isPlainObject(keep)) {
    const props = state.deref(next).properties || {};
    state.form.set(merge(fresh, Object.fromEntries(Object.entries(keep).filter(([k]) => k in props))));
  }
}

// The output panel. `view.value` is what the last run returned (for a streamed graph
// run, its list of node updates); painting is throttled to animation frames.
function outputPanel(ctx) {
  const output = h("div", { testid: "pg-output", class: "output", "aria-live": "polite" }, h("p", { class: "muted" }, "Run to see the output."));
  const timing = h("span", { testid: "pg-timing", class: "muted" });
  const feedback = h("div", { class: "feedback" });
  const mdToggle = h("input", { type: "checkbox", id: "pg-md", checked: ctx.markdown() });
  const view = { value: undefined, batchInputs: null, updates: false, running: false, output, timing, feedback };
  let frame = 0;
  view.paint = () => {
    cancelAnimationFrame(frame);
    frame = 0;
    const opts = { markdown: mdToggle.checked };
    const v = view.value;
    output.replaceChildren(v === undefined ? h("p", { class: "muted" }, view.running ? "…" : "No output.")
      : view.updates ? renderGraphUpdates(v, opts)
        : view.batchInputs && Array.isArray(v) ? renderBatch(view.batchInputs, v, opts) : renderValue(v, opts));
  };
  view.schedule = () => { if (!frame) frame = requestAnimationFrame(view.paint); };
  mdToggle.addEventListener("change", () => {
    localStorage.setItem("pg-markdown", mdToggle.checked ? "on" : "off");
    view.paint();
  });
  view.section = panel("h-output", "Output");
  view.section.querySelector(".panel-head").append(h("span", { class: "grow" }), timing,
    h("label", { class: "check" }, mdToggle, " Markdown"),
    copyButton("Copy output as JSON", () => pretty(app.output), "pg-copy-output"));
  view.section.append(output, feedback);
  return view;
}

function eventsPanel() {
  const events = h("div", { testid: "pg-events", class: "events" });
  const timeline = new Timeline(events);
  const section = panel("h-events", "Events", events);
  section.querySelector(".panel-head").append(h("span", { class: "grow" }), timeline.exportButton());
  return { section, timeline };
}

// The run buttons (one per enabled mode, plus Batch) and Stop.
function runControls(ctx, input, run) {
  const modes = RUN_MODES.filter(([, endpoint]) => ctx.has(endpoint)).map(([mode]) => mode);
  const buttons = RUN_MODES.filter(([mode]) => modes.includes(mode)).map(([mode, , label]) => {
    const b = h("button", { type: "button", testid: `pg-run-${mode}`, class: mode === "stream" ? "primary" : "" }, label);
    b.addEventListener("click", () => run(mode));
    return b;
  });
  const batch = ctx.has("batch") ? batchQueue({ getInput: input.get, check: input.check }) : null;
  if (batch) {
    batch.button.addEventListener("click", () => run("batch"));
    buttons.push(batch.button);
  }
  const stop = h("button", { type: "button", testid: "pg-stop", disabled: true }, "Stop");
  const actions = h("div", { class: "actions" }, buttons, stop,
    h("span", { class: "muted hint" }, modes.length ? "Ctrl+Enter runs, Esc stops" : "No run endpoint is enabled on this route."));
  const busy = (on) => {
    buttons.forEach((b) => (b.disabled = on));
    if (!on) batch?.sync();
    stop.disabled = !on;
  };
  const preferred = ["stream", "events", "invoke"].find((m) => modes.includes(m));
  return { actions, batch, stop, busy, preferred };
}

// Sends one run and feeds `onChunk` (streamed parts) or returns {value} at the end.
async function sendRun(ctx, mode, body, signal, timeline, onChunk) {
  if (mode === "batch") return { value: (await (await postJSON(`${ctx.base}batch`, body, signal)).json()).output };
  if (mode === "invoke") {
    const res = await (await postJSON(`${ctx.base}invoke`, body, signal)).json();
    return { value: res.output, runId: res.metadata?.run_id ?? null };
  }
  if (mode === "stream") return stream(`${ctx.base}stream`, body, signal, { onData: onChunk });
  timeline.start();
  const out = { runId: null };
  await stream(`${ctx.base}stream_events`, body, signal, {
    onData: (ev) => {
      timeline.handle(ev);
      if (!ev || (ev.parent_ids || []).length || !ev.run_id) return;
      out.runId = ev.run_id;
      if (ev.event === "on_chain_stream") onChunk(ev.data?.chunk);
      if (/_end$/.test(ev.event) && ev.data && "output" in ev.data) out.value = ev.data.output;
    },
  });
  return out;
}

function showTiming(view, t0, first, status) {
  const total = performance.now() - t0;
  view.timing.textContent = `${first !== null ? `first chunk ${Math.round(first)} ms · ` : ""}total ${Math.round(total)} ms${status === "idle" ? " (stopped)" : ""}`;
  view.timing.dataset.total = String(total);
}

// The `chat` widget: after a run the reply joins the message list for the next turn.
function appendChatWidgetReply(input, value) {
  const { deref, schema, form } = input.state;
  const s = deref(schema);
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

// Adds one streamed chunk to the output: node updates of a graph stay a list.
function takeChunk(ctx, view, chunk) {
  if (view.value === undefined && isNodeUpdate(chunk, ctx.info.graph_nodes)) view.updates = true;
  view.value = view.updates ? [...(view.value || []), chunk] : addChunk(view.value, chunk);
  view.schedule();
}

function formRunner(ctx, { input, view, events, controls }) {
  let controller = null;
  async function run(mode = controls.preferred) {
    if (controller || !mode) return;
    clearError();
    // A batch sends the inputs checked as they were added, not what the form holds now.
    if (mode !== "batch" && !input.check()) return;
    view.batchInputs = mode === "batch" ? controls.batch.inputs() : null;
    const body = view.batchInputs ? { inputs: view.batchInputs, config: ctx.config() }
      : { input: inputOrNull(input.get()), config: ctx.config() };
    controller = new AbortController();
    Object.assign(view, { value: undefined, updates: false, running: true });
    view.feedback.replaceChildren();
    controls.busy(true);
    view.output.setAttribute("aria-busy", "true");
    setStatus("running");
    view.paint();
    const t0 = performance.now();
    let first = null;
    const onChunk = (chunk) => {
      if (first === null) first = performance.now() - t0;
      takeChunk(ctx, view, chunk);
    };
    let status = "done";
    let runId = null;
    try {
      const out = await sendRun(ctx, mode, body, controller.signal, events.timeline, onChunk);
      runId = out.runId ?? null;
      if (out.value !== undefined) Object.assign(view, { value: out.value, updates: false });
    } catch (err) {
      status = err.name === "AbortError" ? "idle" : "error";
      if (status === "error") showError(err);
    }
    showTiming(view, t0, first, status);
    if (mode === "events") events.timeline.finish(status === "done" ? "done" : status === "idle" ? "stopped" : "error");
    controller = null;
    view.running = false;
    app.output = view.value;
    view.paint();
    view.output.setAttribute("aria-busy", "false");
    controls.busy(false);
    // Feedback and the chat widget's reply are about one run, not a batch.
    if (status === "done" && !view.batchInputs) {
      view.feedback.replaceChildren(...ctx.feedbackButtons(runId));
      appendChatWidgetReply(input, view.value);
    }
    setStatus(status);
  }
  return { run, stop: () => controller?.abort(), running: () => Boolean(controller) };
}

function buildFormMode(ctx) {
  const input = inputPanel(ctx);
  const view = outputPanel(ctx);
  const events = eventsPanel();
  let runner = null;
  const controls = runControls(ctx, input, (mode) => runner.run(mode));
  runner = formRunner(ctx, { input, view, events, controls });
  controls.stop.addEventListener("click", runner.stop);
  return {
    inputSection: panel("h-input", "Input", input.host, controls.actions, controls.batch?.el),
    outputSection: view.section,
    eventsSection: events.section,
    actions: controls.actions,
    input: input.get,
    setInput: input.set,
    reloadInputSchema: input.reload,
    ...runner,
  };
}
