// The page shell every mode shares: the status badge, the error box and the `app`
// handle the keyboard shortcuts drive (form mode and chat mode fill it in).

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

function panel(id, title, ...children) {
  return h("section", { class: "panel", "aria-labelledby": id },
    h("div", { class: "panel-head" }, h("h2", { id }, title)), children);
}
