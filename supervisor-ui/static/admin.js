// Admin pages (admins and owners): everything a merchant configures, one kind at a time —
// numbers, schedules, IVR menus, queues, agents, voicemail boxes, audio, AI agents, tools,
// trunks, classes of service, payment gateways. Lists show each entity's key and what it does;
// the editor is generated from the API's JSON Schema (`form.js`). Saving goes through the same
// API, which applies the change to routing before it answers; a refused save shows each
// problem at its field. Deleting asks to be pressed twice; the API refuses (409) while
// anything refers to the entity, and says what.
import { $, api, atLeast, el } from "./lib.js";
import { editor, humanize, resolve, segments } from "./form.js";
import { scheduleEditor } from "./admin_schedule.js";
import { ivrEditor } from "./admin_ivr.js";
import { leave, sidePanel } from "./admin_side.js";
import { tokensPage } from "./admin_tokens.js";

/** Kinds with an editor made by hand instead of generated (same contract as `form.js`). */
const HANDMADE = { schedules: scheduleEditor, ivr_menus: ivrEditor };

export const KINDS = [
  ["phone_numbers", "Numbers", "number"],
  ["schedules", "Schedules", "name"],
  ["ivr_menus", "IVR menus", "name"],
  ["queues", "Queues", "name"],
  ["agents", "Agents", "extension"],
  ["voicemail_boxes", "Voicemail boxes", "name"],
  ["audio", "Audio library", "name"],
  ["ai_agents", "AI agents", "name"],
  ["tools", "Tools", "name"],
  ["trunks", "Trunks", "name"],
  ["classes_of_service", "Classes of service", "name"],
  ["payment_gateways", "Payment gateways", "name"],
  ["users", "Users", "email", "owner"],
  ["tokens", "API tokens", "name", "owner"],
];

/** What a target or prompt says, in a few words. */
function describe(v) {
  if (!v || typeof v !== "object") return "";
  if (v.type === "text") return `“${v.text}”`;
  if (v.type === "external") return `outside ${v.number}`;
  const what = v.name || v.extension || "";
  return `${humanize(v.type).toLowerCase()}${what ? ` ${what}` : ""}`;
}

function summary(kind, e) {
  switch (kind) {
    case "phone_numbers": return `→ ${describe(e.target)}`;
    case "schedules": return `${e.time_zone} · open → ${describe(e.open_target)}, closed → ${describe(e.closed_target)}`;
    case "ivr_menus": return e.options.map((o) => `${o.digit} → ${describe(o.target)}`).join(" · ");
    case "queues": return `${humanize(e.strategy || "longest_idle").toLowerCase()}${e.overflow_target ? ` · overflow → ${describe(e.overflow_target)}` : ""}`;
    case "users": return `${e.name} · ${humanize(e.role)}${e.agent_extension ? ` · extension ${e.agent_extension}` : ""}${e.disabled ? " · disabled" : ""}`;
    case "audio": return e.file ? `recording ${e.file}` : e.tts_text ? `“${e.tts_text}”` : "nothing to play yet: upload a recording";
    case "agents": return `${e.display_name}${e.queues && e.queues.length ? ` · ${e.queues.map((q) => q.queue).join(", ")}` : ""}`;
    default: return e.description || "";
  }
}

export const admin = {
  openapi: null,
  /** Said on a created entity's editor when it opens: `{ kind, id, text }`. */
  flash: null,
  gen: 0,
  current: () => true,

  async schemas() {
    if (!this.openapi) this.openapi = await api("GET", "/api/openapi.json");
    return this.openapi;
  },

  /** `page`: `/admin`, `/admin/{kind}`, `/admin/{kind}/new` or `/admin/{kind}/{id}`. */
  async show(page) {
    const [, , kind, id] = page.split("/");
    // Pages load asynchronously: only the latest one shown may fill the page (a slow earlier
    // one, e.g. the page a save moves to, must not replace the page the user went to since).
    const gen = ++this.gen;
    this.current = () => gen === this.gen;
    leave();
    const kinds = KINDS.filter(([, , , role]) => !role || atLeast(role));
    const known = kinds.find(([k]) => k === kind);
    $("admin-kinds").replaceChildren(...kinds.map(([k, label]) =>
      el("a", { href: `#/admin/${k}`, class: k === kind ? "active" : "", "data-kind": k }, label)));
    const main = $("admin-main");
    if (!known) {
      return main.replaceChildren(el("h2", {}, "Settings"), el("p", { class: "sub" },
        "Choose what to configure. Changes reach routing as soon as they are saved: a number's next call follows them."));
    }
    try {
      if (kind === "tokens") await tokensPage();
      else if (id) await this.edit(known, id === "new" ? null : Number(id));
      else await this.list(known);
    } catch (e) {
      if (this.current()) main.replaceChildren(el("p", { class: "error", role: "alert" }, e.message));
    }
  },

  async list([kind, label, key]) {
    const current = this.current;
    const items = await api("GET", `/api/${kind}`);
    if (!current()) return;
    const rows = items.map((e) => el("tr", { "data-key": e[key] },
      el("td", {}, el("a", { href: `#/admin/${kind}/${e.id}` }, e[key])),
      el("td", { class: "sub" }, summary(kind, e))));
    $("admin-main").replaceChildren(
      el("div", { class: "calls-head" }, el("h2", {}, label),
        el("a", { class: "button", href: `#/admin/${kind}/new`, id: "admin-new" }, `New ${humanize(kind).replace(/s$/, "").toLowerCase()}`)),
      items.length
        ? el("table", { class: "admin-list" }, el("tbody", {}, ...rows))
        : el("p", { class: "empty" }, "None yet."));
  },

  async edit([kind, label, key], id) {
    const current = this.current;
    const doc = await this.schemas();
    const root = doc.components.schemas;
    const ref = doc.paths[`/api/${kind}`].post.requestBody.content["application/json"].schema;
    const schema = resolve(root, ref);
    const stored = id ? await api("GET", `/api/${kind}/${id}`) : {};
    const form = HANDMADE[kind] ? HANDMADE[kind](root, stored) : editor(root, schema, stored, "", "");
    if (kind === "audio" || kind === "ai_agents") await offerVoices(form.node);
    if (!current()) return;
    const flash = this.flash && this.flash.kind === kind && this.flash.id === id ? this.flash.text : "";
    this.flash = null;
    const status = el("p", { class: "sub", id: "admin-status", role: "status" }, flash);
    const problems = el("p", { class: "error", id: "admin-error", role: "alert" });
    const save = el("button", { type: "submit", id: "admin-save" }, id ? "Save" : "Create");
    let armed = false;
    const del = id ? el("button", { type: "button", class: "danger", id: "admin-delete", onclick: async () => {
      if (!armed) {
        armed = true;
        del.textContent = "Really delete?";
        return;
      }
      try {
        await api("DELETE", `/api/${kind}/${id}`);
        location.hash = `#/admin/${kind}`;
      } catch (e) {
        armed = false;
        del.textContent = "Delete";
        problems.textContent = e.message;
      }
    } }, "Delete") : null;
    const node = el("form", { class: "admin-form", id: "admin-form", "data-kind": kind, noValidate: true },
      el("div", { class: "calls-head" }, el("h2", {}, id ? `${label}: ${stored[key]}` : `New in ${label.toLowerCase()}`),
        el("a", { href: `#/admin/${kind}`, class: "sub" }, `← ${label}`)),
      form.node, problems, el("div", { class: "admin-actions" }, save, del, status));
    node.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      for (const row of node.querySelectorAll(".has-error")) {
        row.classList.remove("has-error");
        const shown = row.querySelector(":scope > .field-error");
        if (shown) shown.textContent = "";
      }
      for (const input of node.querySelectorAll(".invalid")) input.classList.remove("invalid");
      problems.textContent = "";
      save.disabled = true;
      status.textContent = "Saving…";
      try {
        const body = form.get();
        const saved = id ? await api("PUT", `/api/${kind}/${id}`, body) : await api("POST", `/api/${kind}`, body);
        status.textContent = "Saved: routing uses it now.";
        if (!id) {
          this.flash = { kind, id: saved.id, text: status.textContent };
          location.hash = `#/admin/${kind}/${saved.id}`;
        }
      } catch (e) {
        status.textContent = "";
        const unplaced = [];
        for (const p of e.problems || []) {
          if (!p.path || !form.mark(segments(p.path), p.message)) unplaced.push(p.path ? `${p.path}: ${p.message}` : p.message);
        }
        problems.textContent = e.problems && e.problems.length
          ? `Not saved: ${e.problems.length} problem(s) shown at their fields.${unplaced.length ? ` ${unplaced.join("; ")}` : ""}`
          : `Not saved: ${e.message}`;
        const first = node.querySelector(".has-error");
        if (first) first.scrollIntoView({ block: "center" });
      } finally {
        save.disabled = false;
      }
    });
    const side = sidePanel(kind, stored, id, form.node);
    $("admin-main").replaceChildren(side ? el("div", { class: "admin-edit" }, node, side) : node);
  },
};

/** The voices there are, offered as suggestions in a form's `voice` field. */
async function offerVoices(node) {
  const input = node.querySelector(":scope > [data-field='voice'] input");
  if (!input) return;
  const voices = await api("GET", "/api/voices").catch(() => []);
  const list = el("datalist", { id: "voices" }, ...voices.filter((v) => v.name).map((v) => el("option", { value: v.name }, v.label)));
  input.setAttribute("list", "voices");
  input.placeholder = voices.length ? voices[0].label : input.placeholder;
  input.after(list);
}
