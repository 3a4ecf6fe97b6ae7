// Warm transfers and conferences in the workspace. With a caller on one line, the agent consults
// someone on the other (from the transfer picker's "Consult first", or by calling them): the
// caller hears hold music meanwhile. Then: Complete transfer (the caller and the person consulted
// are joined and the agent leaves both), Merge into a conference (everyone hears everyone; the
// agent stays), or Cancel (back to the caller). A consult that is not answered brings the agent
// back to the caller by itself, never leaving the caller on hold. A conference lists its parties
// with Mute, Hold and Remove; the agent can leave it and the others go on.
import { $, api, el, session } from "./lib.js";
import { phone } from "./phone.js";

export const consult = {
  /** A consult started here: the caller's line index and who was called (for the note). */
  pending: null,
  /** The conference the agent is in: the call's record id and its last view. */
  conference: null,
  note: "",
  busy: false,
  /** The agent's calls now, as the workspace last heard them ({ number, call_id }). */
  calls: [],
  timer: null,

  /** From the transfer picker: the caller goes on hold, `target` is called on the other line. */
  start(target, label) {
    const from = phone.active;
    phone.call(target);
    this.pending = { from, label };
    this.note = "";
    this.render();
  },

  update(calls) {
    this.calls = calls || [];
    this.render();
  },

  callOf(line) {
    const c = line && this.calls.find((x) => x.number === line.peer);
    return c ? c.call_id : null;
  },

  /** The caller's line and the consult's, while the agent has two calls. */
  pair() {
    const live = phone.lines.filter((l) => l.session);
    if (live.length !== 2) return null;
    let caller = this.pending ? phone.lines[this.pending.from] : live.find((l) => l.held) || live.find((l) => l.direction === "in");
    if (!caller || !caller.session) return null;
    const other = live.find((l) => l !== caller);
    return { caller, other };
  },

  /** The phone changed: a consult that ended without being joined brings the caller back. */
  phoneChanged() {
    const p = this.pending;
    if (p && !this.busy) {
      const caller = phone.lines[p.from];
      const others = phone.lines.filter((l) => l !== caller && l.session);
      if (!caller.session) {
        this.pending = null;
      } else if (others.length === 0) {
        const consulted = phone.lines.find((l) => l !== caller);
        const why = consulted && consulted.lastEnded && consulted.lastEnded.why;
        this.pending = null;
        const what = p.cancelled ? "Consult cancelled" : `${p.label} ${why ? `did not answer (${why})` : "hung up"}`;
        this.note = `${what}: you are back with the caller.`;
        if (caller.held) phone.toggleHold(caller.index);
      }
    }
    if (this.conference && !phone.lines.some((l) => l.session)) this.left();
    this.render();
  },

  async join(kind) {
    const pair = this.pair();
    if (!pair) return;
    this.busy = true;
    this.note = "";
    this.render();
    // The workspace learns the agent's calls every few seconds: a consult answered a moment ago
    // may not be among them yet, so ask for them now rather than make the agent click again.
    let [callId, otherId] = [this.callOf(pair.caller), this.callOf(pair.other)];
    for (let tries = 0; (!callId || !otherId) && tries < 10; tries++) {
      if (tries) await new Promise((r) => setTimeout(r, 300));
      try {
        this.calls = await api("GET", "/api/me/customers");
      } catch {
        continue;
      }
      [callId, otherId] = [this.callOf(pair.caller), this.callOf(pair.other)];
    }
    if (!callId || !otherId) {
      this.busy = false;
      this.note = "The calls are still being set up: try again in a moment.";
      return this.render();
    }
    const label = this.pending ? this.pending.label : pair.other.name || pair.other.peer;
    try {
      if (kind === "complete") {
        await api("POST", `/api/calls/${callId}/transfer/complete`, { consult: otherId });
        this.note = `Transferred to ${label}.`;
      } else {
        const view = await api("POST", `/api/calls/${callId}/conference`, { add: otherId });
        this.conference = { callId, view };
        this.note = `${label} joined the conference.`;
        // Back with everyone: the caller's line comes off hold.
        if (pair.caller.held) phone.toggleHold(pair.caller.index);
        this.watch();
      }
      this.pending = null;
    } catch (e) {
      this.note = `Not done: ${e.message}`;
    }
    this.busy = false;
    this.render();
  },

  cancel() {
    const pair = this.pair();
    if (this.pending) this.pending.cancelled = true;
    else if (pair) this.pending = { from: pair.caller.index, label: pair.other.name || pair.other.peer, cancelled: true };
    if (pair) phone.hangup(pair.other.index);
  },

  /** Follows the conference while the agent is in it. */
  watch() {
    clearInterval(this.timer);
    this.timer = setInterval(() => this.refresh(), 2000);
  },

  async refresh() {
    const c = this.conference;
    if (!c) return;
    try {
      c.view = await api("GET", `/api/calls/${c.callId}/conference`);
    } catch (e) {
      if (e.status === 404 || e.status === 409) {
        this.left();
        this.note = "The conference has ended.";
      }
    }
    this.render();
  },

  left() {
    clearInterval(this.timer);
    this.timer = null;
    this.conference = null;
  },

  async party(party, change) {
    const c = this.conference;
    if (!c) return;
    try {
      const path = `/api/calls/${c.callId}/conference/parties/${party.id}`;
      c.view = change === "remove" ? await api("DELETE", path) : await api("PATCH", path, change);
    } catch (e) {
      this.note = `Not done: ${e.message}`;
    }
    this.render();
  },

  render() {
    const box = $("ws-consult");
    if (!box) return;
    const parts = [];
    const pair = this.pair();
    if (pair && !this.conference) {
      const answered = pair.other.state === "talking" || pair.other.state === "held";
      const who = this.pending ? this.pending.label : pair.other.name || pair.other.peer;
      const b = (label, action, fn, cls = "") =>
        el("button", { class: cls, "data-action": action, disabled: this.busy || (action !== "cancel" && !answered), onclick: fn }, label);
      parts.push(
        el("h3", {}, answered ? `Consulting ${who}` : `Calling ${who}…`),
        el("p", { class: "sub" }, "The caller is on hold and hears music."),
        el("div", { class: "row" },
          b("Complete transfer", "complete", () => this.join("complete")),
          b("Merge into conference", "merge", () => this.join("merge"), "ghost-b"),
          b("Cancel", "cancel", () => this.cancel(), "danger")),
      );
    }
    if (this.conference) {
      const me = session.me && session.me.agent_extension;
      const rows = this.conference.view.parties.map((p) => {
        const you = p.extension && p.extension === me;
        const state = p.held ? "on hold" : p.muted ? "muted" : "talking";
        const b = (label, action, fn, cls = "ghost-b") => el("button", { class: cls, "data-action": action, onclick: fn }, label);
        const buttons = you
          ? [b("Leave", "leave", () => phone.hangup(phone.active), "danger")]
          : [
            b(p.muted ? "Unmute" : "Mute", "mute", () => this.party(p, { muted: !p.muted })),
            b(p.held ? "Resume" : "Hold", "hold", () => this.party(p, { held: !p.held })),
            b("Remove", "remove", () => this.party(p, "remove"), "danger"),
          ];
        return el("li", { class: `party ${state.replace(" ", "-")}`, "data-party": p.name },
          el("span", { class: "party-name" }, you ? `${p.name} (you)` : p.name),
          el("span", { class: "party-state" }, state),
          el("span", { class: "row" }, ...buttons));
      });
      parts.push(el("h3", {}, `Conference · ${rows.length} people`), el("ul", { class: "parties" }, ...rows));
    }
    if (this.note) parts.push(el("p", { class: "sub", role: "status" }, this.note));
    box.hidden = parts.length === 0;
    box.replaceChildren(...parts);
  },
};
