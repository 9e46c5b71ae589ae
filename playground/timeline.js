// The stream_events timeline: one collapsible row per run, nested by parent_ids, with
// offsets, durations and, for models, time to first token and token counts. Rows are
// created once and patched on animation frames; inputs/outputs render only when opened.

const EVENT = /^on_(.+)_(start|stream|end|error)$/;

const ms = (x) => `${Math.round(x)} ms`;

function hasToken(chunk) {
  if (chunk == null) return false;
  if (typeof chunk === "string") return chunk.length > 0;
  const c = chunk.content;
  const text = typeof c === "string" ? c : Array.isArray(c) ? c.length : "";
  return Boolean(text) || Boolean(chunk.tool_call_chunks?.length) || typeof chunk.text === "string" && chunk.text.length > 0;
}

class Timeline {
  constructor(container) {
    this.el = container;
    this.reset();
  }

  reset() {
    this.runs = new Map();
    this.order = [];
    this.t0 = performance.now();
    this.dirty = new Set();
    this.frame = 0;
    this.el.replaceChildren(h("p", { class: "muted" }, "Run with Events to see every step."));
  }

  start() {
    this.reset();
    this.el.replaceChildren(this.tree = h("div", { class: "tree" }));
  }

  handle(ev) {
    const m = typeof ev?.event === "string" && ev.event.match(EVENT);
    if (!m || !ev.run_id) return;
    const now = performance.now() - this.t0;
    const [, type, phase] = m;
    let run = this.runs.get(ev.run_id);
    if (!run) {
      const parents = ev.parent_ids || [];
      run = {
        run_id: ev.run_id, name: ev.name || type, type, parent_id: parents[parents.length - 1] ?? null,
        start_ms: now, end_ms: null, first_token_ms: null, tokens: 0, chunks: 0,
        status: "running", input: undefined, output: undefined, usage: null,
      };
      this.runs.set(ev.run_id, run);
      this.order.push(run);
    }
    const data = ev.data || {};
    if (phase === "start") run.input = data.input;
    else if (phase === "stream") {
      run.chunks += 1;
      if (hasToken(data.chunk)) {
        run.tokens += 1;
        if (run.first_token_ms === null) run.first_token_ms = now - run.start_ms;
      }
    } else {
      run.end_ms = now;
      run.status = phase === "error" ? "error" : "done";
      if ("output" in data) run.output = data.output;
      if (data.input !== undefined && run.input === undefined) run.input = data.input;
      run.usage = data.output?.usage_metadata || run.usage;
    }
    this.dirty.add(run);
    if (!this.frame) this.frame = requestAnimationFrame(() => this.flush());
  }

  // Marks runs that never ended (an error or Stop cut the stream).
  finish(status) {
    for (const run of this.order) {
      if (run.status === "running") {
        run.status = status;
        this.dirty.add(run);
      }
    }
    this.flush();
  }

  flush() {
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    for (const run of this.dirty) this.draw(run);
    this.dirty.clear();
  }

  draw(run) {
    if (!run.row) {
      run.stats = h("span", { class: "stats" });
      run.children = h("div", { class: "children" });
      const io = (label, key) => {
        const d = h("details", { class: "io" }, h("summary", {}, label));
        d.addEventListener("toggle", () => {
          if (d.open && d.childNodes.length === 1) d.append(jsonTree(run[key] ?? null));
        });
        return d;
      };
      run.row = h("details", { class: "run", open: true, testid: "pg-event-row", "data-run-id": run.run_id },
        h("summary", {}, h("span", { class: "run-name" }, run.name), " ",
          h("span", { class: `badge t-${run.type}` }, run.type.replace(/_/g, " ")), " ", run.stats),
        h("div", { class: "io-row" }, io("Input", "input"), io("Output", "output")),
        run.children);
      const parent = this.runs.get(run.parent_id);
      if (parent && !parent.row) this.draw(parent);
      (parent ? parent.children : this.tree).append(run.row);
    }
    const d = run.row.dataset;
    Object.assign(d, { name: run.name, type: run.type, status: run.status, tokens: String(run.tokens) });
    const parts = [`+${ms(run.start_ms)}`];
    if (run.end_ms !== null) parts.push(ms(run.end_ms - run.start_ms));
    parts.push(run.status);
    if (run.first_token_ms !== null) {
      d.ttft = String(Math.max(run.first_token_ms, 0.001));
      parts.push(`TTFT ${ms(run.first_token_ms)}`);
    }
    if (/model|llm/.test(run.type)) {
      parts.push(`${run.tokens} tokens`);
      const secs = ((run.end_ms ?? performance.now() - this.t0) - run.start_ms - (run.first_token_ms ?? 0)) / 1000;
      if (run.tokens > 1 && secs > 0) parts.push(`${(run.tokens / secs).toFixed(1)} tok/s`);
    }
    if (run.usage) parts.push(`usage ${run.usage.input_tokens ?? "?"}/${run.usage.output_tokens ?? "?"}/${run.usage.total_tokens ?? "?"}`);
    run.stats.textContent = parts.join(" · ");
  }

  toJSON() {
    return this.order.map(({ row, stats, children, ...run }) => run);
  }

  exportButton() {
    const btn = h("button", { type: "button", class: "small" }, "Export timeline JSON");
    btn.addEventListener("click", () => {
      const url = URL.createObjectURL(new Blob([pretty(this.toJSON())], { type: "application/json" }));
      const a = h("a", { href: url, download: "timeline.json" });
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    });
    return btn;
  }
}
