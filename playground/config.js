// The config form (configurable fields and alternatives), shared by form and chat mode.

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

// {section, get}: `section` is null when the route has no config fields; `get()` is
// the config to send, only what differs from the defaults.
function buildConfig(configSchema, initialConfig) {
  const deref = makeDeref(configSchema);
  if (kind(deref(configSchema)) !== "object") return { section: null, get: () => ({}) };
  const form = buildForm(configSchema, { deref, label: "Config", wholeToggle: false });
  const defaults = form.get();
  if (isPlainObject(initialConfig) && Object.keys(initialConfig).length) form.set(merge(defaults, initialConfig));
  const section = h("details", { class: "panel config", testid: "pg-config", open: true },
    h("summary", {}, h("h2", {}, "Configure")), form.el);
  return { section, get: () => diff(form.get(), defaults) || {} };
}
