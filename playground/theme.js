// Applies the theme saved by the toggle before first paint (no flash of the wrong theme).
try {
  var t = localStorage.getItem("pg-theme");
  if (t === "dark" || t === "light") document.documentElement.dataset.theme = t;
} catch (e) { /* storage may be blocked; fall back to prefers-color-scheme */ }
