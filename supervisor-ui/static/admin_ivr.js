// The IVR menu editor (admin pages): the greeting the caller hears, then the menu as a keypad
// table — each key with where it leads and the words a caller may say instead — and what
// happens when nobody chooses or a wrong key is pressed. A key that leads to another menu links
// to it (sub-menus); below, the whole tree this menu opens, as callers would walk it.
// Same contract as `form.js` editors: `node`, `get()`, `mark(segments, message)`.
import { api, el } from "./lib.js";
import { editor, resolve } from "./form.js";
import { markRow, row } from "./admin_schedule.js";

const KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "*", "#"];

export function ivrEditor(root, stored) {
  const s = resolve(root, root.IvrMenu);
  const optionSchema = resolve(root, s.properties.options.items);
  const value = { options: [], ...stored };
  const name = el("input", { type: "text", value: value.name || "", "data-path": "name", autocomplete: "off" });
  const description = el("input", { type: "text", value: value.description || "", "data-path": "description" });
  const prompt = editor(root, s.properties.prompt, value.prompt, "prompt", "prompt");
  let menus = [];

  const rows = [];
  const table = el("tbody");
  const addOption = (o = {}) => {
    const used = new Set(rows.map((r) => r.key.value));
    const key = el("select", { "data-part": "digit", "aria-label": "Key" },
      ...KEYS.map((k) => el("option", { value: k, selected: k === (o.digit ?? KEYS.find((x) => !used.has(x))) }, k)));
    const target = editor(root, optionSchema.properties.target, o.target, "target", "target");
    const phrases = el("input", { type: "text", value: (o.phrases || []).join(", "), "data-part": "phrases",
      placeholder: "e.g. sales, buy something" });
    const link = el("a", { class: "sub submenu-link", hidden: true }, "Open menu →");
    const entry = { key, target, phrases, link, node: null, error: el("span", { class: "field-error", role: "alert" }) };
    const remove = el("button", { type: "button", class: "ghost small", title: "Remove this key", onclick: () => {
      rows.splice(rows.indexOf(entry), 1);
      entry.node.remove();
      tree();
    } }, "Remove");
    entry.node = el("tr", { class: "ivr-option" },
      el("td", { class: "ivr-key" }, key),
      el("td", {}, target.node, link),
      el("td", {}, phrases, el("span", { class: "hint" }, "Words a caller may say instead (commas between)")),
      el("td", {}, remove, entry.error));
    rows.push(entry);
    table.append(entry.node);
  };
  for (const o of value.options) addOption(o);

  const noChoice = ["timeout_seconds", "max_attempts", "timeout_target", "invalid_prompt", "invalid_target"]
    .map((key) => [key, editor(root, s.properties[key], value[key], key, key)]);
  const labels = {
    timeout_seconds: "Seconds to wait for a choice",
    max_attempts: "Times the menu is offered",
    timeout_target: "After that without a choice, go to",
    invalid_prompt: "Said after a wrong key",
    invalid_target: "After that many wrong keys, go to",
  };
  const hints = { timeout_target: "Unset: hang up.", invalid_target: "Unset: hang up.", invalid_prompt: "Unset: “Sorry, that is not a valid choice.”" };

  const outline = el("ul", { class: "ivr-tree", id: "ivr-tree" });
  const tree = async () => {
    // Links to sub-menus, and the tree of menus this one opens (each menu once).
    for (const r of rows) {
      const t = r.target.get();
      const menu = t && t.type === "ivr_menu" && menus.find((m) => m.name === t.name);
      r.link.hidden = !menu;
      if (menu) r.link.href = `#/admin/ivr_menus/${menu.id}`;
    }
    const draw = (menu, seen, depth) => el("ul", {}, ...(menu.options || []).map((o) => {
      const t = o.target || {};
      const sub = t.type === "ivr_menu" ? menus.find((m) => m.name === t.name) : null;
      const said = o.phrases && o.phrases.length ? ` or “${o.phrases[0]}”` : "";
      const line = el("span", {}, el("kbd", {}, o.digit), said, " → ", `${(t.type || "?").replaceAll("_", " ")} ${t.name || t.extension || t.number || ""}`);
      if (!sub || seen.has(sub.name) || depth > 4) return el("li", {}, line);
      return el("li", {}, line, draw(sub, new Set([...seen, sub.name]), depth + 1));
    }));
    const self = { name: name.value, options: rows.map((r) => ({ digit: r.key.value, phrases: r.phrases.value ? [r.phrases.value.split(",")[0].trim()] : [], target: r.target.get() })) };
    outline.replaceChildren(...draw(self, new Set([self.name]), 0).children);
  };
  api("GET", "/api/ivr_menus").then((list) => {
    menus = list.map((m) => ({ id: m.id, ...m }));
    tree();
  }).catch(() => {});

  const node = el("div", { class: "form-object ivr-editor" },
    row("name", "Name", name),
    row("description", "Description", description),
    el("div", { class: "form-row", "data-field": "prompt" },
      el("span", { class: "label" }, "What callers hear"), prompt.node,
      el("span", { class: "hint" }, "Say every choice: “For sales, press 1 or say sales.”"),
      el("span", { class: "field-error", role: "alert" })),
    el("div", { class: "form-row", "data-field": "options" },
      el("span", { class: "label" }, "Keys"),
      el("table", { class: "ivr-options" },
        el("thead", {}, el("tr", {}, el("th", {}, "Key"), el("th", {}, "Goes to"), el("th", {}, "Or says"), el("th", {}))),
        table),
      el("button", { type: "button", class: "ghost small add", id: "ivr-add-key", onclick: () => { addOption(); tree(); } }, "Add key"),
      el("span", { class: "field-error", role: "alert" })),
    el("details", { class: "ivr-fallbacks", open: true },
      el("summary", {}, "When nobody chooses, or a wrong key is pressed"),
      ...noChoice.map(([key, ed]) => row(key, labels[key], ed.node, hints[key]))),
    el("div", { class: "form-row" }, el("span", { class: "label" }, "The menu as callers walk it"), outline));
  node.addEventListener("change", () => tree());

  return {
    node,
    get: () => {
      const out = {
        name: name.value,
        description: description.value,
        prompt: prompt.get(),
        options: rows.map((r) => {
          const o = { digit: r.key.value, target: r.target.get() };
          const said = r.phrases.value.split(",").map((p) => p.trim()).filter(Boolean);
          if (said.length) o.phrases = said;
          return o;
        }),
      };
      for (const [key, ed] of noChoice) {
        const v = ed.get();
        if (v !== undefined && v !== null) out[key] = v;
      }
      return out;
    },
    mark: (segments, message) => {
      const [first, index, part, ...rest] = segments;
      const rowOf = (f) => node.querySelector(`[data-field="${f}"]`);
      if (first === "options" && typeof index === "number" && rows[index]) {
        const r = rows[index];
        if (part === "target" && rest.length && r.target.mark && r.target.mark(rest, message)) return true;
        r.error.textContent = message;
        r.node.classList.add("has-error");
        return markRow(rowOf("options"), "");
      }
      if (first === "prompt" && segments.length > 1 && prompt.mark && prompt.mark(segments.slice(1), message)) return true;
      const other = noChoice.find(([key]) => key === first);
      if (other && segments.length > 1 && other[1].mark && other[1].mark(segments.slice(1), message)) return true;
      return markRow(rowOf(first), message);
    },
  };
}
