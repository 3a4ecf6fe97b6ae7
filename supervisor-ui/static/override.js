// Class-of-service overrides. In the workspace: when the agent's call was refused by their
// class of service (403 with the rule), a card offers "Ask a supervisor" with a reason, then
// follows the request: waiting, approved (with "Call now", which lets that one call through),
// or denied. For supervisors, on every page: a panel of pending requests with Approve and Deny.
import { $, api, atLeast, el, session } from "./lib.js";
import { phone } from "./phone.js";

const FRESH_MS = 10 * 60 * 1000;

/** The agent's side: the card beside the lines. */
export const overrideCard = {
  blocked: null,
  /** The newest refusal already handled (dismissed or called): older ones are not shown again. */
  seen: 0,
  request: null,
  problem: "",
  timer: null,

  /** Looks at the lines' last ended calls for a refusal by the class of service. */
  update() {
    const refused = phone.lines
      .map((l) => l.lastEnded)
      .filter((e) => e && e.status === 403 && e.direction === "out" && e.at > this.seen && Date.now() - e.at < FRESH_MS)
      .sort((a, b) => b.at - a.at)[0] || null;
    if (refused && (!this.blocked || refused.at !== this.blocked.at)) {
      let peer = refused.peer;
      try { peer = decodeURIComponent(peer); } catch { /* as it is */ }
      this.blocked = { ...refused, peer };
      this.request = null;
      this.problem = "";
      clearTimeout(this.timer);
      this.render();
    }
  },

  async ask(form) {
    const reason = new FormData(form).get("reason");
    try {
      this.request = await api("POST", "/api/overrides", { destination: this.blocked.peer, reason });
      this.problem = "";
    } catch (e) {
      this.problem = e.message;
    }
    this.render();
    this.follow();
  },

  async follow() {
    clearTimeout(this.timer);
    if (!this.request || this.request.state !== "pending") return;
    this.timer = setTimeout(async () => {
      try {
        const mine = await api("GET", "/api/overrides");
        const now = mine.find((r) => r.id === this.request.id);
        if (now) this.request = now;
      } catch { /* the next poll tries again */ }
      this.render();
      this.follow();
    }, 1500);
  },

  callNow() {
    try {
      phone.call(this.blocked.peer);
      this.dismiss();
    } catch (e) {
      this.problem = e.message;
      this.render();
    }
  },

  dismiss() {
    clearTimeout(this.timer);
    if (this.blocked) this.seen = Math.max(this.seen, this.blocked.at);
    this.blocked = null;
    this.request = null;
    this.render();
  },

  render() {
    const box = $("ws-override");
    if (!box) return;
    if (!this.blocked) {
      box.hidden = true;
      return box.replaceChildren();
    }
    const b = this.blocked;
    const r = this.request;
    const parts = [el("div", { class: "ovr-head" }, el("strong", {}, `Call to ${b.peer} blocked`)),
      el("p", { class: "sub" }, b.why.replace(/^Forbidden \((.*)\)$/, "$1") || "Your class of service does not allow this call.")];
    if (!r) {
      parts.push(el("form", { class: "ovr-form", onsubmit: (e) => { e.preventDefault(); this.ask(e.target); } },
        el("label", {}, "Why do you need this call?", el("input", { name: "reason", required: true, maxlength: 500, placeholder: "Customer abroad asked for a call back", autocomplete: "off" })),
        el("div", { class: "row" },
          el("button", { type: "submit", "data-action": "request-override" }, "Ask a supervisor"),
          el("button", { type: "button", class: "ghost-b", onclick: () => this.dismiss() }, "Dismiss"))));
    } else if (r.state === "pending") {
      parts.push(el("p", { class: "ovr-state pending", role: "status" }, "Waiting for a supervisor…"));
    } else if (r.state === "approved") {
      parts.push(el("p", { class: "ovr-state approved", role: "status" }, `Approved by ${r.decided_by}: this one call may go through.`),
        el("div", { class: "row" }, el("button", { type: "button", class: "accept", "data-action": "call-now", onclick: () => this.callNow() }, `Call ${b.peer} now`)));
    } else {
      const said = { denied: `Denied by ${r.decided_by}.`, expired: "The request expired.", used: "The approved call was placed." }[r.state] || r.state;
      parts.push(el("p", { class: `ovr-state ${r.state}`, role: "status" }, said),
        el("div", { class: "row" }, el("button", { type: "button", class: "ghost-b", onclick: () => this.dismiss() }, "Dismiss")));
    }
    if (this.problem) parts.push(el("p", { class: "error", role: "alert" }, this.problem));
    box.className = `override ${r ? r.state : "blocked"}`;
    box.setAttribute("data-state", r ? r.state : "blocked");
    box.replaceChildren(...parts);
    box.hidden = false;
  },
};

/** The supervisors' side: pending requests, on every page. */
export const overrideRequests = {
  timer: null,
  pending: [],

  start() {
    if (this.timer || !session.me || !atLeast("supervisor")) return;
    const tick = async () => {
      try {
        const all = await api("GET", "/api/overrides");
        this.pending = all.filter((r) => r.state === "pending");
      } catch { /* keep what is shown */ }
      this.render();
      this.timer = setTimeout(tick, 2500);
    };
    tick();
  },

  stop() {
    clearTimeout(this.timer);
    this.timer = null;
    this.pending = [];
    this.render();
  },

  async decide(id, approve) {
    try {
      await api("POST", `/api/overrides/${id}/decision`, { approve });
    } catch { /* decided elsewhere or expired: the next poll shows it */ }
    this.pending = this.pending.filter((r) => r.id !== id);
    this.render();
  },

  render() {
    const box = $("override-requests");
    if (!this.pending.length) {
      box.hidden = true;
      return box.replaceChildren();
    }
    box.replaceChildren(
      el("h3", {}, this.pending.length === 1 ? "Override request" : `${this.pending.length} override requests`),
      ...this.pending.map((r) => el("article", { class: "ovr-req", "data-request": String(r.id) },
        el("div", {}, el("strong", {}, r.requested_by), el("span", { class: "sub" }, ` · ext ${r.extension}`)),
        el("div", {}, "wants to call ", el("strong", {}, r.destination)),
        el("div", { class: "sub" }, `Blocked: ${r.rule}`),
        el("blockquote", {}, r.reason),
        el("div", { class: "row" },
          el("button", { type: "button", class: "accept", "data-action": "approve", onclick: () => this.decide(r.id, true) }, "Approve once"),
          el("button", { type: "button", class: "danger", "data-action": "deny", onclick: () => this.decide(r.id, false) }, "Deny")))));
    box.hidden = false;
  },
};
