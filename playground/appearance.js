// Display preferences saved in localStorage: the light/dark theme (theme.js applies a
// saved one before the first paint) and whether text output renders as Markdown.

function isDark() {
  const chosen = document.documentElement.dataset.theme;
  return (chosen || (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light")) === "dark";
}

// The button's name stays "Dark theme" (a toggle's state is its aria-pressed); the
// visible on/off says which theme is showing, so the label never reads the same in both.
function setupTheme() {
  const btn = $("pg-theme");
  const state = h("span", { class: "theme-state", "aria-hidden": "true" });
  btn.replaceChildren("Dark theme", state);
  const sync = () => {
    btn.setAttribute("aria-pressed", String(isDark()));
    state.textContent = isDark() ? ": on" : ": off";
  };
  btn.addEventListener("click", () => {
    const next = isDark() ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    try { localStorage.setItem("pg-theme", next); } catch { /* private mode: session-only */ }
    sync();
  });
  matchMedia("(prefers-color-scheme: dark)").addEventListener("change", sync);
  sync();
}

const markdownOn = () => localStorage.getItem("pg-markdown") !== "off";
