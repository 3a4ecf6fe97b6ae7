// Forms generated from the API's JSON Schemas (the OpenAPI document's components): objects,
// optional values, tagged choices (a target, a prompt), lists, enums, numbers, booleans and
// text. Each editor has `node` (what is shown), `get()` (the JSON value, or undefined to leave
// the field out so the server's default applies) and `mark(segments, message)`, which puts a
// problem the API reports (`options[0].digit`) at the field it names (false: not placeable
// deeper, the caller shows it).
import { el } from "./lib.js";

const LONG_TEXT = new Set(["system_prompt", "text", "say", "greeting", "description", "tts_text"]);
const SECRET = /(password|secret|api_key|^pin$|token)/;

export const humanize = (name) => name.replaceAll("_", " ").replace(/^./, (c) => c.toUpperCase())
  .replace(/\b(ivr|ai|sip|llm|api|tts|url)\b/gi, (w) => w.toUpperCase());

/** The schema `s` with its `$ref` (and single `allOf`) resolved against `root`. */
export function resolve(root, s) {
  let out = s || {};
  for (let i = 0; i < 10; i++) {
    if (out.$ref) out = { ...root[out.$ref.split("/").pop()], description: out.description || root[out.$ref.split("/").pop()].description };
    else if (out.allOf && out.allOf.length === 1) out = { ...resolve(root, out.allOf[0]), description: out.description, default: out.default };
    else break;
  }
  return out;
}

/** `anyOf: [X, null]` → X, or null when `s` is not optional that way. */
function optionalOf(s) {
  const any = s.anyOf || s.oneOf;
  if (!any || any.length !== 2) return null;
  const nul = any.findIndex((a) => a.nullable && a.enum && a.enum[0] === null);
  return nul < 0 ? null : any[1 - nul];
}

/** Variants of a tagged union (`oneOf` of objects each with a one-value `type` enum). */
function variantsOf(root, s) {
  if (!s.oneOf) return null;
  const vs = s.oneOf.map((v) => resolve(root, v));
  if (!vs.every((v) => v.properties && v.properties.type && v.properties.type.enum && v.properties.type.enum.length === 1)) return null;
  return vs.map((v) => ({ tag: v.properties.type.enum[0], schema: v }));
}

function hint(s) {
  return s.description ? el("span", { class: "hint" }, s.description.split("\n").join(" ")) : null;
}

/** An editor for `value` under schema `s`, at problem path `path`. */
export function editor(root, s, value, path, name = "") {
  s = resolve(root, s);
  const opt = optionalOf(s);
  if (opt) return optional(root, resolve(root, opt), value, path, name, s.description);
  const variants = variantsOf(root, s);
  if (variants) return tagged(root, variants, value, path, !!s.nullable);
  // An enum whose values carry descriptions: `oneOf` of string enums (or consts).
  if (s.oneOf && s.oneOf.every((v) => v.enum || v.const !== undefined)) {
    const values = s.oneOf.flatMap((v) => (v.enum ? v.enum : [v.const]));
    return choice({ ...s, enum: values }, value, path);
  }
  if (s.type === "object" || s.properties) return object(root, s, value || {}, path);
  if (s.type === "array") return list(root, s, value || [], path, name);
  if (s.enum) return choice(s, value, path);
  if (s.type === "boolean") {
    const input = el("input", { type: "checkbox", checked: value ?? s.default ?? false, "data-path": path });
    return { node: input, get: () => input.checked, inline: true };
  }
  if (s.type === "integer" || s.type === "number") {
    const input = el("input", { type: "number", value: value ?? "", placeholder: s.default ?? "", "data-path": path });
    if (s.minimum !== undefined) input.min = s.minimum;
    return { node: input, get: () => (input.value === "" ? (s.nullable ? null : undefined) : Number(input.value)) };
  }
  const secret = SECRET.test(name);
  const long = LONG_TEXT.has(name);
  const input = long
    ? el("textarea", { rows: name === "system_prompt" ? 6 : 2, value: value ?? "", "data-path": path })
    : el("input", { type: secret ? "password" : "text", value: secret ? "" : value ?? "", autocomplete: "off", "data-path": path });
  if (secret) input.placeholder = "unchanged (write-only)";
  else if (s.default !== undefined && s.default !== "") input.placeholder = String(s.default);
  return {
    node: input,
    get: () => {
      if (input.value === "") return secret || s.nullable ? null : s.default !== undefined ? undefined : "";
      return input.value;
    },
  };
}

function choice(s, value, path) {
  // Unset and without a default: a blank choice that leaves the field to the server's default.
  const blank = s.nullable || (value === undefined && s.default === undefined);
  const select = el("select", { "data-path": path },
    ...(blank ? [el("option", { value: "" }, s.nullable ? "—" : "— default —")] : []),
    ...s.enum.filter((v) => v !== null).map((v) => el("option", { value: v, selected: v === (value ?? s.default) }, humanize(String(v)))));
  return { node: select, get: () => (select.value === "" ? (s.nullable ? null : undefined) : select.value) };
}

function object(root, s, value, path) {
  const required = new Set(s.required || []);
  const fields = [];
  const node = el("div", { class: "form-object" });
  // Required fields first (the name, the number), then the rest as the schema lists them.
  const entries = Object.entries(s.properties || {});
  entries.sort(([a], [b]) => Number(required.has(b)) - Number(required.has(a)));
  for (const [key, prop] of entries) {
    const ed = editor(root, prop, value[key], key, key);
    const label = el("span", { class: "label" }, humanize(key), required.has(key) ? el("span", { class: "req", title: "required" }, " *") : null);
    const row = el("div", { class: `form-row ${ed.inline ? "inline" : ""}`, "data-field": key },
      el("label", {}, label, ed.node), hint(resolve(root, prop)), el("span", { class: "field-error", role: "alert" }));
    node.append(row);
    fields.push([key, ed]);
  }
  return {
    node,
    get: () => {
      const out = {};
      for (const [key, ed] of fields) {
        const v = ed.get();
        if (v !== undefined) out[key] = v;
      }
      return out;
    },
    mark: (segments, message) => {
      const [first, ...rest] = segments;
      const found = fields.find(([key]) => key === first);
      if (!found) return false;
      const [key, ed] = found;
      if (rest.length && ed.mark && ed.mark(rest, message)) return true;
      const row = node.querySelector(`:scope > [data-field="${CSS.escape(key)}"]`);
      if (!row) return false;
      row.classList.add("has-error");
      row.querySelector(":scope > .field-error").textContent = message;
      return true;
    },
  };
}

function tagged(root, variants, value, path, nullable) {
  const box = el("div", { class: "form-tagged" });
  const select = el("select", { "data-path": `${path}.type` },
    ...(nullable ? [el("option", { value: "" }, "— none —")] : []),
    ...variants.map((v) => el("option", { value: v.tag, selected: value && value.type === v.tag }, humanize(v.tag))));
  const inner = el("div", { class: "form-tagged-fields" });
  let current = null;
  const show = () => {
    const v = variants.find((x) => x.tag === select.value);
    if (!v) {
      current = null;
      return inner.replaceChildren();
    }
    const props = { ...v.schema.properties };
    delete props.type;
    const ed = object(root, { ...v.schema, properties: props }, value && value.type === v.tag ? value : {}, path);
    current = { tag: v.tag, ed };
    inner.replaceChildren(ed.node);
  };
  select.addEventListener("change", show);
  show();
  box.append(select, inner);
  return {
    node: box,
    get: () => (current ? { type: current.tag, ...current.ed.get() } : null),
    mark: (segments, message) => !!current && current.ed.mark(segments, message),
  };
}

function optional(root, inner, value, path, name, description) {
  const variants = variantsOf(root, inner);
  if (variants) return tagged(root, variants, value, path, true);
  if (inner.type === "object" || inner.properties) {
    // An optional group (e.g. an LLM, a coach): a switch, then its fields.
    const on = el("input", { type: "checkbox", checked: value != null, "data-path": `${path}?` });
    const box = el("div", { class: "form-optional" });
    let ed = null;
    const show = () => {
      ed = on.checked ? object(root, inner, value || {}, path) : null;
      box.replaceChildren(...(ed ? [ed.node] : []));
    };
    on.addEventListener("change", show);
    show();
    return {
      node: el("div", {}, el("label", { class: "switch" }, on, ` Set ${humanize(name).toLowerCase()}`), box),
      get: () => (ed ? ed.get() : null),
      mark: (segments, message) => !!ed && ed.mark(segments, message),
    };
  }
  return editor(root, { ...inner, nullable: true, description }, value, path, name);
}

function list(root, s, value, path, name) {
  const items = resolve(root, s.items || {});
  const rows = el("div", { class: "form-list" });
  const entries = [];
  const add = (v) => {
    const ed = editor(root, items, v, "", name);
    const entry = { ed, row: null };
    const remove = el("button", { type: "button", class: "ghost small", title: "Remove", onclick: () => {
      entries.splice(entries.indexOf(entry), 1);
      entry.row.remove();
    } }, "Remove");
    entry.row = el("div", { class: "form-list-item" }, ed.node, remove, el("span", { class: "field-error", role: "alert" }));
    entries.push(entry);
    rows.append(entry.row);
  };
  for (const v of value) add(v);
  const word = humanize(name).toLowerCase();
  const singular = (word.endsWith("ies") ? `${word.slice(0, -3)}y` : word.replace(/s$/, "")) || "item";
  const addButton = el("button", { type: "button", class: "ghost small add", "data-add": path, onclick: () => add(undefined) }, `Add ${singular}`);
  return {
    node: el("div", { "data-path": path }, rows, addButton),
    // Empty rows (an item added and left blank) are left out.
    get: () => entries.map((e) => e.ed.get()).filter((v) => v !== undefined && v !== "" && v !== null),
    mark: (segments, message) => {
      const [index, ...rest] = segments;
      const entry = entries[index];
      if (typeof index !== "number" || !entry) return false;
      if (rest.length && entry.ed.mark && entry.ed.mark(rest, message)) return true;
      entry.row.classList.add("has-error");
      entry.row.querySelector(":scope > .field-error").textContent = message;
      return true;
    },
  };
}

/** `options[0].target` → ["options", 0, "target"]. */
export function segments(path) {
  const out = [];
  for (const part of path.split(".")) {
    const m = part.match(/^([^[]*)((?:\[\d+\])*)$/);
    if (!m) continue;
    if (m[1]) out.push(m[1]);
    for (const i of m[2].matchAll(/\[(\d+)\]/g)) out.push(Number(i[1]));
  }
  return out;
}
