// JSON-schema helpers: $ref resolution, classification, defaults and matching.
// Written for what pydantic 2 / langchain-core emit, tolerant of anything else.

const MESSAGE_TYPES = ["human", "ai", "system", "chat", "function", "tool"];

// Returns a function that resolves one level of `$ref` (and single-item allOf),
// keeping sibling keywords: pydantic puts `default` next to `$ref` (LangServe lost it).
function makeDeref(root) {
  const lookup = (ref) => {
    if (typeof ref !== "string" || !ref.startsWith("#")) return {};
    let node = root;
    for (const raw of ref.slice(1).split("/").filter(Boolean)) {
      const part = decodeURIComponent(raw).replace(/~1/g, "/").replace(/~0/g, "~");
      node = node && typeof node === "object" ? node[part] : undefined;
    }
    return node && typeof node === "object" ? node : {};
  };
  const deref = (schema) => {
    let s = schema === true || schema == null ? {} : schema;
    for (let i = 0; i < 32; i++) {
      if (s.$ref) {
        const { $ref, ...siblings } = s;
        s = { ...lookup($ref), ...siblings };
      } else if (Array.isArray(s.allOf) && s.allOf.length === 1 && !s.properties) {
        const { allOf, ...siblings } = s;
        s = { ...(allOf[0].$ref ? lookup(allOf[0].$ref) : allOf[0]), ...siblings };
      } else break;
    }
    return s;
  };
  return deref;
}

function branches(s) {
  if (Array.isArray(s.anyOf)) return s.anyOf;
  if (Array.isArray(s.oneOf)) return s.oneOf;
  if (Array.isArray(s.type)) return s.type.map((type) => ({ ...s, type }));
  return null;
}

// One of: const enum union string number integer boolean null array dict object any
function kind(s) {
  if (s === false) return "any";
  if ("const" in s) return "const";
  if (Array.isArray(s.enum)) return "enum";
  if (branches(s)) return "union";
  switch (s.type) {
    case "string": case "number": case "integer": case "boolean": case "null": case "array":
      return s.type;
    case "object":
      return s.properties && Object.keys(s.properties).length ? "object" : "dict";
  }
  if (s.properties) return "object";
  if (s.items) return "array";
  return "any";
}

function widgetOf(s) {
  const w = s.widget ?? s.extra?.widget ?? s.json_schema_extra?.widget;
  return w && typeof w === "object" && typeof w.type === "string" ? w : null;
}

function isNull(s) {
  return s.type === "null" || ("const" in s && s.const === null);
}

// The value a fresh form shows. `undefined` means "leave the field empty".
function defaultOf(schema, deref, depth = 0) {
  const s = deref(schema);
  if ("default" in s && !(s.default === null && kind(s) === "object")) return clone(s.default);
  if (depth > 8) return undefined;
  switch (kind(s)) {
    case "const": return s.const;
    case "enum": return s.enum[0];
    case "string": return "";
    case "boolean": return false;
    case "array": return [];
    case "dict": return {};
    case "null": return null;
    case "object": {
      const out = {};
      for (const [k, sub] of Object.entries(s.properties)) {
        const v = defaultOf(sub, deref, depth + 1);
        if (v !== undefined && ((s.required || []).includes(k) || "default" in deref(sub))) out[k] = v;
      }
      return out;
    }
    case "union": {
      const bs = branches(s).map(deref);
      if (bs.some(isNull) && bs.length > 1) return null;
      return defaultOf(bs[0], deref, depth + 1);
    }
  }
  return undefined;
}

// A quick structural check, used to pick the union branch that fits a value.
function matches(schema, v, deref, depth = 0) {
  const s = deref(schema);
  if (depth > 6) return true;
  switch (kind(s)) {
    case "const": return JSON.stringify(s.const) === JSON.stringify(v);
    case "enum": return s.enum.some((e) => JSON.stringify(e) === JSON.stringify(v));
    case "union": return branches(s).some((b) => matches(b, v, deref, depth + 1));
    case "string": return typeof v === "string";
    case "integer": return Number.isInteger(v);
    case "number": return typeof v === "number";
    case "boolean": return typeof v === "boolean";
    case "null": return v === null;
    case "array": return Array.isArray(v);
    case "dict": return isPlainObject(v);
    case "object": {
      if (!isPlainObject(v)) return false;
      if ((s.required || []).some((k) => !(k in v))) return false;
      return Object.entries(s.properties).every(
        ([k, sub]) => !(k in v) || matches(sub, v[k], deref, depth + 1),
      );
    }
  }
  return true;
}

const isPlainObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

const clone = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

const sameJSON = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// The message type a schema stands for ("human", "ai", ...), or null.
function messageTypeOf(schema, deref) {
  const s = deref(schema);
  const t = s.properties?.type && deref(s.properties.type);
  if (!t || !s.properties.content) return null;
  const values = "const" in t ? [t.const] : Array.isArray(t.enum) ? t.enum : [];
  const found = values.map((x) => String(x).replace(/MessageChunk$/, "").toLowerCase());
  const norm = found.map((x) => (x === "aimessagechunk" ? "ai" : x));
  return norm.find((x) => MESSAGE_TYPES.includes(x)) || null;
}

// For an array schema of messages, the message types its items accept (else null).
function messageListTypes(schema, deref) {
  const s = deref(schema);
  if (kind(s) !== "array" || !s.items) return null;
  const item = deref(s.items);
  const options = kind(item) === "union" ? branches(item) : [item];
  const types = options.map((b) => messageTypeOf(b, deref));
  if (!types.length || types.some((t) => t === null)) return null;
  return [...new Set(types)];
}

// True if an output schema can produce an AI message (const *or* enum, unlike LangServe).
function outputIsMessageOrText(schema, deref) {
  const s = deref(schema || {});
  if (kind(s) === "string" || kind(s) === "any") return true;
  const options = kind(s) === "union" ? branches(s) : [s];
  return options.some((b) => {
    const d = deref(b);
    return kind(d) === "string" || messageTypeOf(d, deref) === "ai";
  });
}
