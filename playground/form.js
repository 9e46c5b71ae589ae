// The schema form. Every editor is {el, get(), set(value), errors()}; any shape the
// form does not know (or that throws while building) becomes a raw-JSON editor, so a
// schema can never blank the page. Changes bubble as DOM `input` events.

const MAX_DEPTH = 12;
const DEFAULT_FILE_CAP = 5 * 1024 * 1024;

function formatPath(path) {
  if (!path.length) return "input";
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i ? `.${p}` : p)).join("");
}

const changed = (el) => el.dispatchEvent(new Event("input", { bubbles: true }));

// Builds the root editor for `schema` (the input or the config) with a whole-form JSON toggle.
function buildForm(schema, { deref, label = "Input", wholeToggle = true }) {
  const ctx = { deref, depth: 0 };
  return switchable(schema, ctx, { label, path: [], required: true, isRoot: true, noToggle: !wholeToggle });
}

function labelRow(meta, id, extra) {
  return h("div", { class: "label-row" },
    h("label", { for: id, class: meta.isRoot ? "sr-only" : "" }, meta.label),
    meta.required && !meta.isRoot ? h("span", { class: "req", "aria-hidden": "true" }, "*") : null,
    h("span", { class: "tool-slot" }), extra);
}

function description(meta, id) {
  return meta.description ? h("p", { class: "desc", id }, meta.description) : null;
}

function errorLine() {
  return h("p", { class: "field-error", hidden: true });
}

function showFieldError(line, control, messages) {
  line.hidden = !messages.length;
  line.textContent = messages.join("; ");
  if (control) control.setAttribute("aria-invalid", messages.length ? "true" : "false");
}

// While editing, only the invalid state (a border colour) changes: a message line
// appearing on blur would move the Run button away from under the pointer.
function markInvalid(control, messages) {
  control.setAttribute("aria-invalid", messages.length ? "true" : "false");
}

// Wraps a field so it can be switched to a raw-JSON editor and back.
function switchable(schema, ctx, meta) {
  let form;
  try {
    form = editorFor(schema, ctx, meta);
  } catch (err) {
    form = jsonEditor(ctx, { ...meta, note: "Shown as JSON: this schema could not be rendered as a form." });
  }
  if (form.isJson || meta.noToggle) return form;
  let json = null;
  let mode = "form";
  // The whole-input toggle sits just above the first field's own: its visible text says
  // which one it is. A field's says only "JSON" beside that field's label.
  const whole = `whole ${meta.label.toLowerCase()}`;
  const btn = h("button", {
    type: "button", class: `small json-toggle${meta.isRoot ? " whole" : ""}`, "aria-pressed": "false",
    "aria-label": `Edit ${meta.isRoot ? whole : meta.label} as JSON`,
  }, meta.isRoot ? `${whole[0].toUpperCase()}${whole.slice(1)} as JSON` : "JSON");
  const wrap = h("div", { class: "switchable" }, form.el);
  // The toggle lives in the active editor's own label row (its first `.tool-slot`).
  const dock = (ed) => ed.el.querySelector(".tool-slot").append(btn);
  dock(form);
  btn.addEventListener("click", () => {
    if (mode === "form") {
      json = json || jsonEditor(ctx, { ...meta, label: `${meta.label} (JSON)`, schema: ctx.deref(schema) });
      json.set(form.get());
      form.el.replaceWith(json.el);
      dock(json);
      mode = "json";
    } else {
      const value = json.parse();
      if (!value.ok) return json.showErrors();
      form.set(value.value);
      json.el.replaceWith(form.el);
      dock(form);
      mode = "form";
    }
    btn.setAttribute("aria-pressed", String(mode === "json"));
    btn.focus();
    changed(wrap);
  });
  return {
    el: wrap,
    get: () => (mode === "form" ? form.get() : json.get()),
    set: (v) => (mode === "form" ? form : json).set(v),
    errors: () => (mode === "form" ? form.errors() : json.errors()),
  };
}

function editorFor(rawSchema, ctx, meta) {
  const s = ctx.deref(rawSchema);
  const m = { description: s.description, ...meta, hasDefault: "default" in s, schema: s };
  if (ctx.depth > MAX_DEPTH) return jsonEditor(ctx, m);
  const sub = { ...ctx, depth: ctx.depth + 1 };
  const w = widgetOf(s);
  if (w?.type === "base64file" && kind(s) === "string") return fileEditor(ctx, m, w);
  if (messageListTypes(s, ctx.deref)) return messagesEditor(ctx, m, messageListTypes(s, ctx.deref));
  switch (kind(s)) {
    case "string": return textEditor(ctx, m);
    case "number": case "integer": return numberEditor(ctx, m, kind(s));
    case "boolean": return boolEditor(ctx, m);
    case "enum": return enumEditor(ctx, m, s.enum);
    case "const": case "null": return constEditor(ctx, m, kind(s) === "null" ? null : s.const);
    case "object": return objectEditor(s, sub, m);
    case "array": return s.items ? arrayEditor(s, sub, m) : jsonEditor(ctx, m);
    case "dict": return dictEditor(s, sub, m);
    case "union": return unionEditor(s, sub, m);
  }
  return jsonEditor(ctx, m);
}

// `labelled` is the form control itself when `control` is a wrapper around it.
function leaf(meta, control, extra, labelled = control) {
  const descId = `${labelled.id}-desc`;
  if (meta.description) labelled.setAttribute("aria-describedby", descId);
  if (meta.required && !meta.isRoot) labelled.setAttribute("aria-required", "true");
  const err = errorLine();
  const el = h("div", { class: "field" }, labelRow(meta, labelled.id), description(meta, descId),
    control, extra, err);
  return { el, err };
}

function textEditor(ctx, meta) {
  const ta = h("textarea", { id: uid("f"), rows: 1, class: "auto", spellcheck: "false" });
  const { el } = leaf(meta, ta);
  const omitEmpty = !meta.required && !meta.hasDefault;
  return {
    el,
    get: () => (ta.value === "" && omitEmpty ? undefined : ta.value),
    set: (v) => (ta.value = v === undefined || v === null ? "" : typeof v === "string" ? v : pretty(v)),
    errors: () => [],
  };
}

function numberEditor(ctx, meta, type) {
  const input = h("input", { id: uid("f"), type: "number", step: type === "integer" ? "1" : "any" });
  const { el, err } = leaf(meta, input);
  const check = () => {
    const out = [];
    if (input.validity.badInput) out.push("not a number");
    else if (input.value === "" && meta.required) out.push("required");
    else if (type === "integer" && input.value !== "" && !Number.isInteger(Number(input.value))) out.push("must be an integer");
    return out;
  };
  input.addEventListener("blur", () => markInvalid(input, check()));
  return {
    el,
    get: () => (input.value === "" ? undefined : Number(input.value)),
    set: (v) => (input.value = typeof v === "number" ? String(v) : ""),
    errors: () => {
      const e = check();
      showFieldError(err, input, e);
      return e.map((msg) => `${formatPath(meta.path)}: ${msg}`);
    },
  };
}

function boolEditor(ctx, meta) {
  const input = h("input", { id: uid("f"), type: "checkbox" });
  const { el } = leaf(meta, input);
  return {
    el,
    get: () => input.checked,
    set: (v) => (input.checked = v === true),
    errors: () => [],
  };
}

function enumEditor(ctx, meta, values) {
  const optional = !meta.required && !meta.hasDefault;
  const select = h("select", { id: uid("f") },
    optional ? h("option", { value: "" }, "—") : null,
    values.map((v, i) => h("option", { value: String(i) }, typeof v === "string" ? v : JSON.stringify(v))));
  const { el } = leaf(meta, select);
  return {
    el,
    get: () => (select.value === "" ? undefined : values[Number(select.value)]),
    set: (v) => {
      const i = values.findIndex((x) => JSON.stringify(x) === JSON.stringify(v));
      select.value = i >= 0 ? String(i) : optional ? "" : "0";
    },
    errors: () => [],
  };
}

function constEditor(ctx, meta, value) {
  const out = h("output", { id: uid("f"), class: "const" }, value === null ? "None" : JSON.stringify(value));
  const { el } = leaf(meta, out);
  return { el, get: () => value, set: () => {}, errors: () => [] };
}

// What an empty JSON box sends: a required object or list must still be one (a
// free-form dict input gets `{}`, not a null the server rejects); anything else is left out.
function emptyJsonValue(meta) {
  if (!meta.required || !meta.schema) return undefined;
  const k = kind(meta.schema);
  return k === "array" ? [] : k === "dict" || k === "object" ? {} : undefined;
}

function jsonEditor(ctx, meta) {
  const empty = emptyJsonValue(meta);
  const ta = h("textarea", {
    id: uid("f"), rows: 3, class: "auto mono", spellcheck: "false",
    placeholder: empty === undefined ? null : JSON.stringify(empty),
  });
  const { el, err } = leaf(meta, ta, meta.note ? h("p", { class: "desc" }, meta.note) : null);
  const parse = () => {
    if (ta.value.trim() === "") return { ok: true, value: clone(empty) };
    try {
      return { ok: true, value: JSON.parse(ta.value) };
    } catch (e) {
      return { ok: false, error: `invalid JSON (${e.message})` };
    }
  };
  const showErrors = () => {
    const p = parse();
    showFieldError(err, ta, p.ok ? [] : [p.error]);
    return p.ok ? [] : [`${formatPath(meta.path)}: ${p.error}`];
  };
  ta.addEventListener("blur", () => {
    const p = parse();
    markInvalid(ta, p.ok ? [] : [p.error]);
  });
  return {
    el, isJson: true, parse, showErrors,
    get: () => parse().value,
    set: (v) => (ta.value = v === undefined ? "" : pretty(v)),
    errors: showErrors,
  };
}

function fileEditor(ctx, meta, widget) {
  const cap = Number(widget.max_bytes ?? widget.maxBytes ?? DEFAULT_FILE_CAP);
  const input = h("input", { id: uid("f"), type: "file" });
  const info = h("span", { class: "muted" }, "or drop a file here");
  const zone = h("div", { class: "drop" }, input, info);
  const { el, err } = leaf(meta, zone, null, input);
  err.setAttribute("role", "alert");
  let value = "";
  const take = (file) => {
    if (!file) return;
    if (file.size > cap) {
      value = "";
      info.textContent = "no file";
      showFieldError(err, input, [`${file.name} is ${file.size.toLocaleString()} bytes; the limit is ${cap.toLocaleString()} bytes`]);
      return changed(el);
    }
    const reader = new FileReader();
    reader.onload = () => {
      const url = String(reader.result);
      value = url.slice(url.indexOf(",") + 1);
      info.textContent = `${file.name} (${file.type || "unknown type"}, ${file.size.toLocaleString()} bytes)`;
      showFieldError(err, input, []);
      meta.onFile?.({ name: file.name, type: file.type }, widget);
      changed(el);
    };
    reader.readAsDataURL(file);
  };
  input.addEventListener("change", () => take(input.files[0]));
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    take(e.dataTransfer.files[0]);
  });
  return {
    el,
    get: () => (value === "" && !meta.required && !meta.hasDefault ? undefined : value),
    set: (v) => {
      value = typeof v === "string" ? v : "";
      info.textContent = value ? `${value.length.toLocaleString()} base64 characters` : "or drop a file here";
    },
    errors: () => [],
  };
}

// A nested group's JSON toggle sits in its legend, beside its name: on a row of its own
// it would stack right above the first field's toggle, with nothing saying which is which.
function group(meta, ...children) {
  if (meta.isRoot) return h("div", { class: "group root" }, h("div", { class: "tool-slot group-tools" }), children);
  return h("fieldset", { class: "group" }, h("legend", {}, meta.label,
    meta.required ? h("span", { class: "req", "aria-hidden": "true" }, " *") : null,
    h("span", { class: "tool-slot legend-tools" })),
  meta.description ? h("p", { class: "desc" }, meta.description) : null, children);
}

function childLabel(rawSchema, resolved, key) {
  // The field's own title, never the referenced class name (LangServe showed `_Address2`).
  return rawSchema?.title || humanize(key);
}

function objectEditor(s, ctx, meta) {
  const required = new Set(s.required || []);
  const children = {};
  let extras = {};
  const body = [];
  for (const [key, sub] of Object.entries(s.properties)) {
    const childMeta = {
      label: childLabel(sub, null, key), path: [...meta.path, key], required: required.has(key),
      onFile: (file, widget) => {
        const nameKey = widget.filename_field ?? "filename";
        const typeKey = widget.mime_type_field ?? "mime_type";
        if (children[nameKey]) children[nameKey].set(file.name);
        if (children[typeKey]) children[typeKey].set(file.type);
      },
    };
    children[key] = switchable(sub, ctx, childMeta);
    body.push(children[key].el);
  }
  const el = group(meta, body);
  const editor = {
    el,
    get: () => {
      const out = { ...extras };
      for (const [k, ed] of Object.entries(children)) {
        const v = ed.get();
        if (v !== undefined) out[k] = v;
      }
      return out;
    },
    set: (v) => {
      const obj = isPlainObject(v) ? v : {};
      extras = {};
      for (const [k, x] of Object.entries(obj)) if (!(k in children)) extras[k] = x;
      for (const [k, ed] of Object.entries(children)) {
        ed.set(k in obj ? obj[k] : defaultOf(s.properties[k], ctx.deref));
      }
    },
    errors: () => Object.values(children).flatMap((ed) => ed.errors()),
  };
  editor.set(defaultOf(s, ctx.deref));
  return editor;
}

// Shared by arrays, dicts and message lists: a list of rows with add/remove buttons.
function rowList(meta, makeRow, addLabel) {
  const list = h("ol", { class: "rows" });
  let rows = [];
  const addBtn = h("button", { type: "button", class: "small" }, addLabel);
  const el = group(meta, list, addBtn);
  const render = (values) => {
    list.replaceChildren();
    rows = values.map((v, i) => {
      const row = makeRow(i);
      row.set(v);
      const remove = h("button", {
        type: "button", class: "small danger",
        "aria-label": `Remove ${meta.label} item ${i + 1}`,
      }, "Remove");
      remove.addEventListener("click", () => {
        render(rows.map((r) => r.get()).filter((_, j) => j !== i));
        changed(el);
      });
      list.append(h("li", { class: "row" }, row.el, remove));
      return row;
    });
  };
  return { el, addBtn, render, rows: () => rows, changed: () => changed(el) };
}

function arrayEditor(s, ctx, meta) {
  const itemLabel = (i) => `${meta.label} item ${i + 1}`;
  const rl = rowList(meta,
    (i) => editorFor(s.items, ctx, { label: itemLabel(i), path: [...meta.path, i], required: true }),
    `Add ${meta.label} item`);
  rl.addBtn.addEventListener("click", () => {
    rl.render([...rl.rows().map((r) => r.get()), defaultOf(s.items, ctx.deref)]);
    rl.changed();
  });
  const editor = {
    el: rl.el,
    get: () => rl.rows().map((r) => r.get()).map((v) => (v === undefined ? null : v)),
    set: (v) => rl.render(Array.isArray(v) ? v : []),
    errors: () => rl.rows().flatMap((r) => r.errors()),
  };
  editor.set(defaultOf(s, ctx.deref));
  return editor;
}

function dictEditor(s, ctx, meta) {
  const valueSchema = s.additionalProperties && s.additionalProperties !== true
    ? ctx.deref(s.additionalProperties) : {};
  // Dicts of arbitrary JSON read best as one JSON editor.
  if (["any", "object", "dict", "union", "array"].includes(kind(valueSchema))) return jsonEditor(ctx, meta);
  const rl = rowList(meta, (i) => {
    const key = h("input", { id: uid("f"), type: "text", spellcheck: "false" });
    const keyField = h("div", { class: "field" }, h("label", { for: key.id }, `${meta.label} key ${i + 1}`), key);
    const val = editorFor(valueSchema, ctx, { label: `${meta.label} value ${i + 1}`, path: [...meta.path, `key ${i + 1}`], required: true });
    return {
      el: h("div", { class: "kv" }, keyField, val.el),
      get: () => [key.value, val.get()],
      set: (pair) => { key.value = pair[0]; val.set(pair[1]); },
      errors: () => val.errors(),
    };
  }, `Add ${meta.label} entry`);
  rl.addBtn.addEventListener("click", () => {
    rl.render([...rl.rows().map((r) => r.get()), ["", defaultOf(valueSchema, ctx.deref)]]);
    rl.changed();
  });
  const editor = {
    el: rl.el,
    get: () => Object.fromEntries(rl.rows().map((r) => r.get()).filter(([k, v]) => k !== "" && v !== undefined)),
    set: (v) => rl.render(isPlainObject(v) ? Object.entries(v) : []),
    errors: () => rl.rows().flatMap((r) => r.errors()),
  };
  editor.set(defaultOf(s, ctx.deref));
  return editor;
}

function branchLabel(b, deref) {
  const d = deref(b);
  if (isNull(d)) return "None";
  if (d.title) return d.title;
  const k = kind(d);
  if (k === "const") return JSON.stringify(d.const);
  return { string: "Text", integer: "Integer", number: "Number", boolean: "Boolean", array: "List",
    dict: "Mapping", object: "Object", enum: "Choice" }[k] || "JSON";
}

function unionEditor(s, ctx, meta) {
  const options = branches(s);
  const labels = options.map((b) => branchLabel(b, ctx.deref));
  const names = labels.map((l, i) => (labels.indexOf(l) !== i || labels.lastIndexOf(l) !== i ? `${l} ${i + 1}` : l));
  const select = h("select", { id: uid("f"), class: "type-switch" },
    names.map((n, i) => h("option", { value: String(i) }, n)));
  const slot = h("div", { class: "branch" });
  const built = new Map();
  const branch = (i) => {
    if (!built.has(i)) {
      built.set(i, editorFor(options[i], ctx, {
        label: `${meta.label} (${names[i]})`, path: meta.path, required: true,
      }));
    }
    return built.get(i);
  };
  const show = (i) => {
    select.value = String(i);
    slot.replaceChildren(isNull(ctx.deref(options[i])) ? "" : branch(i).el);
  };
  select.addEventListener("change", () => show(Number(select.value)));
  const el = group(meta, h("div", { class: "field inline" },
    h("label", { for: select.id }, `Type of ${meta.label}`), select), slot);
  const current = () => Number(select.value);
  const editor = {
    el,
    get: () => (isNull(ctx.deref(options[current()])) ? null : branch(current()).get()),
    set: (v) => {
      let i = options.findIndex((b) => matches(b, v, ctx.deref));
      if (i < 0) i = v === undefined ? options.findIndex((b) => !isNull(ctx.deref(b))) : 0;
      if (!isNull(ctx.deref(options[i]))) branch(i).set(v === undefined ? defaultOf(options[i], ctx.deref) : v);
      show(i);
    },
    errors: () => (isNull(ctx.deref(options[current()])) ? [] : branch(current()).errors()),
  };
  editor.set(defaultOf(s, ctx.deref));
  return editor;
}

// Message lists (chat history): a role and a text per message, sent as {type, content}.
function toMessage(v) {
  if (Array.isArray(v) && v.length === 2) return { type: String(v[0]), content: v[1] };
  if (typeof v === "string") return { type: "human", content: v };
  if (isPlainObject(v)) {
    const type = String(v.type || v.role || "human").replace(/MessageChunk$/, "").toLowerCase();
    return { ...v, type: type === "user" ? "human" : type === "assistant" ? "ai" : type };
  }
  return { type: "human", content: "" };
}

function messagesEditor(ctx, meta, types) {
  const roles = types.length ? types : ["human", "ai", "system"];
  const rl = rowList(meta, (i) => {
    const role = h("select", { id: uid("f") }, roles.map((r) => h("option", { value: r }, r)));
    const text = h("textarea", { id: uid("f"), rows: 1, class: "auto" });
    let rest = {};
    return {
      el: h("div", { class: "msg-edit" },
        h("div", { class: "field" }, h("label", { for: role.id }, `Role of message ${i + 1}`), role),
        h("div", { class: "field grow" }, h("label", { for: text.id }, `Message ${i + 1}`), text)),
      get: () => ({ ...rest, type: role.value, content: text.value }),
      set: (v) => {
        const { type, content, ...others } = toMessage(v);
        rest = others;
        role.value = roles.includes(type) ? type : roles[0];
        text.value = typeof content === "string" ? content : pretty(content);
      },
      errors: () => [],
    };
  }, "Add message");
  rl.addBtn.addEventListener("click", () => {
    const values = rl.rows().map((r) => r.get());
    const last = values[values.length - 1]?.type;
    values.push({ type: last === "human" && roles.includes("ai") ? "ai" : "human", content: "" });
    rl.render(values);
    rl.changed();
  });
  const editor = {
    el: rl.el,
    get: () => rl.rows().map((r) => r.get()),
    set: (v) => rl.render(Array.isArray(v) ? v : []),
    errors: () => [],
    isMessages: true,
  };
  editor.set(clone(meta.schema?.default) || []);
  return editor;
}
