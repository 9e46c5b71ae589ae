// Batch mode (form mode, only when the route enables /batch): inputs are collected from
// the form one by one, sent together as {inputs, config} to /batch, and the output shows
// one result per input, in order.

const BATCH_PREVIEW_CHARS = 160;

// One line of JSON for a list entry or result heading; the full value is in the output.
function batchPreview(v) {
  const text = JSON.stringify(v === undefined ? null : v);
  return text.length > BATCH_PREVIEW_CHARS ? `${text.slice(0, BATCH_PREVIEW_CHARS)}…` : text;
}

// `getInput()` reads the form; `check()` shows the form's errors and says whether it is valid.
function batchQueue({ getInput, check }) {
  const items = [];
  const list = h("ol", { class: "batch-list", testid: "pg-batch", "aria-label": "Batch inputs" });
  const add = h("button", { type: "button", testid: "pg-batch-add" }, "Add to batch");
  const button = h("button", { type: "button", testid: "pg-run-batch", disabled: true }, "Batch (0)");
  const hint = h("p", { class: "muted hint" }, "Add inputs here to run them together through /batch.");
  const sync = () => {
    button.textContent = `Batch (${items.length})`;
    button.disabled = !items.length;
    hint.hidden = items.length > 0;
  };
  const render = () => {
    list.replaceChildren(...items.map((input, i) => {
      const remove = h("button", { type: "button", class: "small", "aria-label": `Remove batch input ${i + 1}` }, "Remove");
      remove.addEventListener("click", () => {
        items.splice(i, 1);
        render();
      });
      return h("li", { class: "batch-item", testid: "pg-batch-item" }, h("code", { class: "mono grow" }, batchPreview(input)), remove);
    }));
    sync();
  };
  add.addEventListener("click", () => {
    if (!check()) return;
    const input = getInput();
    items.push(input === undefined ? null : clone(input));
    render();
  });
  const el = h("div", { class: "batch" }, h("div", { class: "panel-head" }, h("h3", {}, "Batch"), add), hint, list);
  return { el, button, sync, inputs: () => items.map(clone) };
}

function renderBatch(inputs, outputs, opts) {
  return h("ol", { class: "cards batch-results" }, outputs.map((out, i) =>
    h("li", { class: "card", testid: "pg-batch-result", "data-index": String(i) },
      h("div", { class: "card-head" }, h("span", { class: "badge" }, `Input ${i + 1}`), " ",
        h("code", { class: "mono" }, batchPreview(inputs[i]))),
      renderValue(out, opts))));
}
