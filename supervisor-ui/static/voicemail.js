// The voicemail inbox: the messages of the agent's own box and of the queues they answer
// (supervisors and up: every box), newest first, new ones marked. Each shows who called and
// when, its transcript and a player (playing marks it heard); "Mark heard"/"Mark new",
// "Call back" (through the softphone) and "Delete" (asked twice, in place). The navigation
// shows how many messages are new, wherever the user is in the app.
import { $, api, el, session } from "./lib.js";
import { phone } from "./phone.js";

const when = (ms) => new Date(ms).toLocaleString(undefined, { weekday: "short", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
const seconds = (ms) => {
  const s = Math.max(1, Math.round(ms / 1000));
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
};

export const voicemail = {
  messages: [],
  timer: null,

  /** Keeps the navigation's count of new messages current (every 30 s). */
  watch() {
    if (this.timer) return;
    this.count();
    this.timer = setInterval(() => this.count(), 30000);
  },

  stop() {
    clearInterval(this.timer);
    this.timer = null;
  },

  async count() {
    try {
      this.messages = await api("GET", "/api/voicemail");
    } catch {
      return;
    }
    this.badge();
  },

  badge() {
    const fresh = this.messages.filter((m) => !m.heard).length;
    const badge = $("nav-voicemail-count");
    badge.textContent = String(fresh);
    badge.hidden = fresh === 0;
    badge.setAttribute("aria-label", `${fresh} new`);
  },

  async start() {
    $("vm-error").textContent = "";
    try {
      this.messages = await api("GET", "/api/voicemail");
    } catch (e) {
      $("vm-error").textContent = `Cannot load messages: ${e.message}`;
      return;
    }
    this.render();
  },

  status() {
    this.badge();
    const fresh = this.messages.filter((m) => !m.heard).length;
    $("vm-status").textContent = this.messages.length ? `${fresh} new · ${this.messages.length} in all` : "";
  },

  render() {
    this.status();
    const list = $("vm-list");
    if (!this.messages.length) {
      return list.replaceChildren(el("li", { class: "empty" }, "No messages. New ones appear here and in the count beside Voicemail."));
    }
    list.replaceChildren(...this.messages.map((m) => this.item(m)));
  },

  item(m) {
    const audio = el("audio", { controls: true, preload: "none", src: `/api/voicemail/${m.id}/audio` });
    audio.addEventListener("play", () => { if (!m.heard) this.mark(m, true); });
    const canCall = session.me && session.me.agent_extension && m.caller && m.caller !== "anonymous";
    const del = el("button", { class: "ghost-b", "data-action": "delete", onclick: () => this.remove(m, del) }, "Delete");
    return el("li", { class: `vm ${m.heard ? "heard" : "new"}`, "data-id": String(m.id) },
      el("div", { class: "vm-top" },
        m.heard ? null : el("span", { class: "vm-new" }, "New"),
        el("strong", { class: "vm-caller" }, m.caller || "Unknown caller"),
        el("span", { class: "sub" }, `${when(m.created_at)} · ${seconds(m.duration_ms)}`),
        el("span", { class: "vm-box" }, m.box_name)),
      el("p", { class: m.transcript ? "vm-transcript" : "vm-transcript sub" }, m.transcript || "No transcript yet."),
      audio,
      el("div", { class: "row" },
        el("button", { class: "ghost-b", "data-action": m.heard ? "mark-new" : "mark-heard", onclick: () => this.mark(m, !m.heard) },
          m.heard ? "Mark new" : "Mark heard"),
        canCall ? el("button", { "data-action": "call-back", onclick: () => this.callBack(m) }, "Call back") : null,
        del),
      el("p", { class: "error", role: "alert" }));
  },

  /** Shows a message's new state in place (its player may be playing: it stays). */
  update(m) {
    const li = $("vm-list").querySelector(`[data-id="${m.id}"]`);
    if (!li) return this.render();
    li.className = `vm ${m.heard ? "heard" : "new"}`;
    const pill = li.querySelector(".vm-new");
    if (m.heard && pill) pill.remove();
    if (!m.heard && !pill) li.querySelector(".vm-top").prepend(el("span", { class: "vm-new" }, "New"));
    const button = li.querySelector("[data-action='mark-heard'], [data-action='mark-new']");
    button.dataset.action = m.heard ? "mark-new" : "mark-heard";
    button.textContent = m.heard ? "Mark new" : "Mark heard";
    this.status();
  },

  problem(m, text) {
    const row = $("vm-list").querySelector(`[data-id="${m.id}"] .error`);
    if (row) row.textContent = text;
  },

  async mark(m, heard) {
    try {
      const updated = await api("PUT", `/api/voicemail/${m.id}`, { heard });
      Object.assign(m, updated);
      this.update(m);
    } catch (e) {
      this.problem(m, e.message);
    }
  },

  async remove(m, button) {
    if (button.dataset.action !== "confirm-delete") {
      button.dataset.action = "confirm-delete";
      button.className = "danger";
      button.textContent = "Delete for good";
      return;
    }
    try {
      await api("DELETE", `/api/voicemail/${m.id}`);
      this.messages = this.messages.filter((x) => x.id !== m.id);
      this.render();
    } catch (e) {
      this.problem(m, e.message);
    }
  },

  callBack(m) {
    try {
      phone.call(m.caller);
      location.hash = "#/workspace";
    } catch (e) {
      this.problem(m, e.message);
    }
  },
};
