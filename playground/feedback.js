// 👍/👎 for one run, shown only when the route has a feedback sink.

function feedbackMaker(info, base) {
  return (runId) => {
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
}
