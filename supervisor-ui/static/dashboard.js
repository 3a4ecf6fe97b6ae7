// The live queue dashboard (supervisors and up): one card per queue with its figures for
// today, the callers waiting (longest wait first in line, with the customer their number
// matches) and its members with what they are doing. From it: answer a waiting caller (your
// phone rings for them next) or send them to an agent, set an agent's status, and open an
// agent's call to listen, whisper or barge. Refreshed every two seconds while shown.
import { $, api, el } from "./lib.js";
import { phone } from "./phone.js";

const STATUS = [["available", "Available"], ["away", "Unavailable"], ["on_break", "On break"], ["offline", "Offline"]];

function mmss(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  return s >= 3600 ? `${Math.floor(s / 3600)}:${String(Math.floor(s / 60) % 60).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`
    : `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

const seconds = (s) => (s == null ? "—" : mmss(s * 1000));
const percent = (x) => (x == null ? "—" : `${Math.round(x * 100)}%`);

export const dashboard = {
  timer: null,
  queues: [],
  problem: "",
  note: "",

  start() {
    this.stop();
    const tick = async () => {
      try {
        this.queues = await api("GET", "/api/queues-live");
        this.problem = "";
      } catch (e) {
        this.problem = e.message;
      }
      this.render();
      this.timer = setTimeout(tick, 2000);
    };
    tick();
  },

  stop() {
    clearTimeout(this.timer);
    this.timer = null;
  },

  async act(method, path, body, note) {
    try {
      await api(method, path, body);
      this.note = note;
      this.problem = "";
    } catch (e) {
      this.problem = e.message;
    }
    clearTimeout(this.timer);
    this.start();
  },

  render() {
    $("dash-status").textContent = this.problem ? "" : `Updated ${new Date().toLocaleTimeString()}`;
    $("dash-error").textContent = this.problem;
    $("dash-note").textContent = this.note;
    const cards = this.queues.map((q) => this.queue(q));
    $("dash-queues").replaceChildren(...(cards.length ? cards : [el("p", { class: "sub" }, "No queues yet.")]));
  },

  queue(q) {
    const t = q.today;
    const tile = (label, value, cls = "") => el("div", { class: `tile ${cls}` }, el("span", { class: "tile-value" }, String(value)), el("span", { class: "tile-label" }, label));
    const slCls = t.service_level == null ? "" : t.service_level >= 0.8 ? "good" : t.service_level >= 0.6 ? "warn" : "bad";
    const tiles = el("div", { class: "tiles" },
      tile("Waiting", q.waiting.length, q.waiting.length ? "warn" : ""),
      tile("Longest wait", q.waiting.length ? mmss(q.longest_wait_ms) : "—", q.longest_wait_ms > q.service_level_seconds * 1000 ? "bad" : ""),
      tile("Offered", t.offered), tile("Answered", t.answered), tile("Abandoned", t.abandoned, t.abandoned ? "warn" : ""),
      tile("Missed offers", t.missed_offers), tile("Avg wait", seconds(t.average_wait_s)), tile("Avg handle", seconds(t.average_handle_s)),
      tile(`Answered in ${q.service_level_seconds}s`, percent(t.service_level), slCls));
    const free = q.members.filter((m) => m.status === "available" && !m.activity);
    const waiting = q.waiting.length
      ? el("table", { class: "dash-waiting" },
        el("thead", {}, el("tr", {}, el("th", {}, "#"), el("th", {}, "Caller"), el("th", {}, "Waiting"), el("th", {}, ""))),
        el("tbody", {}, ...q.waiting.map((w) => {
          const send = el("select", { "aria-label": "Send to an agent", onchange: (e) => {
            if (e.target.value) this.act("POST", "/api/queues-live/pick", { caller: w.id, extension: e.target.value }, `Ringing ${e.target.value} for ${w.caller || "the caller"}.`);
          } }, el("option", { value: "" }, "Send to…"), ...free.map((m) => el("option", { value: m.extension }, `${m.name} (${m.extension})`)));
          return el("tr", { "data-caller": String(w.id) },
            el("td", {}, String(w.position)),
            el("td", {}, w.customer_id ? el("a", { href: `#/customers/${w.customer_id}` }, w.customer) : el("span", {}, w.customer || ""),
              el("div", { class: "sub" }, w.caller || "unknown number")),
            el("td", { class: "num" }, mmss(w.waited_ms), w.node ? el("div", { class: "sub" }, `node ${w.node}`) : null),
            el("td", { class: "row" },
              el("button", { type: "button", class: "accept small", "data-action": "answer", disabled: phone.status !== "registered" || Boolean(w.node),
                title: w.node ? `Waiting on node ${w.node}, which cannot ring a browser connected here: send them to an agent's desk phone`
                  : phone.status === "registered" ? "Your phone rings for this caller" : "Your browser phone is not connected",
                onclick: () => this.act("POST", "/api/queues-live/pick", { caller: w.id }, `Your phone rings for ${w.caller || "the caller"}.`) }, "Answer"),
              send));
        })))
      : el("p", { class: "sub empty-line" }, "Nobody waiting.");
    const members = el("ul", { class: "dash-members" }, ...q.members.map((m) => {
      const where = m.node ? ` · node ${m.node}` : "";
      const state = m.activity === "on_call" ? `On call${m.with ? ` with ${m.with}` : ""} · ${mmss(Date.now() - m.since)}${where}`
        : m.activity === "wrap_up" ? `Wrap-up · ${mmss(Date.now() - m.since)}${where}`
          : (STATUS.find(([s]) => s === m.status) || [null, m.status])[1];
      const cls = m.activity || m.status;
      const choose = el("select", { "aria-label": `Status of ${m.name}`, "data-extension": m.extension, onchange: (e) =>
        this.act("PUT", `/api/presence/${encodeURIComponent(m.extension)}`, { status: e.target.value }, `${m.name} is now ${e.target.selectedOptions[0].textContent}.`) },
      ...STATUS.map(([s, label]) => el("option", { value: s, selected: s === m.status }, label)));
      return el("li", { class: `member ${cls}`, "data-member": m.extension },
        el("span", { class: `dot ${cls}`, "aria-hidden": "true" }),
        el("div", { class: "member-who" }, el("strong", {}, m.name), el("span", { class: "sub" }, ` ${m.extension}`), el("div", { class: "member-state" }, state),
          m.note ? el("div", { class: "member-note" }, m.note) : null,
          m.alerts && m.alerts.length ? el("div", { class: "member-alerts" }, ...m.alerts.map((a) => el("span", { class: "chip problem", "data-alert": a.kind }, a.text))) : null),
        m.call_id ? el("a", { class: "ghost-b small", href: `#/calls?call=${m.call_id}`, title: "Listen, whisper or barge from the call's page" }, "Supervise") : null,
        choose);
    }));
    return el("section", { class: "dash-queue", "data-queue": q.name },
      el("div", { class: "dash-head" }, el("h3", {}, q.name), el("span", { class: "sub" }, `${q.description ? `${q.description} · ` : ""}${q.strategy.replaceAll("_", " ")}${q.hold_time_ms ? ` · callers told about ${Math.max(1, Math.ceil(q.hold_time_ms / 60000))} min` : ""}`)),
      tiles,
      el("div", { class: "dash-cols" },
        el("div", {}, el("h4", {}, "Waiting"), waiting),
        el("div", {}, el("h4", {}, "Agents"), members)));
  },
};
