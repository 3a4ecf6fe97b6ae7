// Live AI coaching in the workspace, for the agent on a queue call only: what the caller and
// the agent say (live, partial lines in grey), cards the coach brings up (the order or customer
// the caller names, their open tickets, suggested answers, alerts), and the queue's checklist,
// which ticks itself when the agent says an item. After the call, what is still open stays
// in view for the wrap-up. The page long-polls the server, so a card shows as soon as it exists.
import { $, api, el } from "./lib.js";

const KIND = { order: "Order", customer: "Customer", tickets: "Tickets", suggestion: "Suggestion", alert: "Alert" };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export const coach = {
  callId: null,
  view: null,
  gen: 0,

  /** Follows the coaching of call record `callId` (null: none). */
  show(callId) {
    if (callId === this.callId) return;
    this.callId = callId;
    this.view = null;
    this.gen += 1;
    render(null);
    if (callId) this.follow(this.gen);
  },

  async follow(gen) {
    let after = null;
    let misses = 0;
    while (gen === this.gen) {
      try {
        const q = after == null ? "" : `?after=${after}`;
        const view = await api("GET", `/api/calls/${this.callId}/coaching${q}`);
        if (gen !== this.gen) return;
        if (!view) {
          // Not coached, or not yet (coaching starts a moment after the answer): ask again
          // for a minute, then stop (a call not coached by then is not a coached queue's).
          misses += 1;
          if (misses > 25) return;
          await sleep(Math.min(3000, 300 * misses));
          continue;
        }
        this.view = view;
        after = view.version;
        misses = 0;
        render(view);
        if (!view.live) return; // ended: what is left stays for the wrap-up
      } catch {
        if (gen !== this.gen) return;
        await sleep(2000); // the server or the network: the next try says
      }
    }
  },
};

function card(c) {
  const head = el("div", { class: "coach-card-head" },
    el("span", { class: `kind ${c.kind}` }, KIND[c.kind] || c.kind),
    c.link ? el("a", { href: c.link, class: "title" }, c.title) : el("strong", { class: "title" }, c.title),
    c.source ? el("span", { class: "sub" }, c.source) : null);
  return el("li", { class: `coach-card ${c.kind}`, "data-kind": c.kind },
    head,
    ...c.lines.map((l) => el("p", {}, l)),
    c.heard ? el("p", { class: "heard" }, `“${c.heard}”`) : null);
}

function render(v) {
  const box = $("ws-coach");
  if (!v) {
    box.hidden = true;
    return box.replaceChildren();
  }
  box.hidden = false;
  const state = v.live ? "listening" : "call ended";
  const parts = [el("div", { class: "coach-head" },
    el("h3", {}, "Coach"),
    el("span", { class: `coach-state ${v.live ? "live" : ""}` }, state))];
  if (v.notice) parts.push(el("p", { class: "sub" }, v.notice));
  if (v.alerts.length) {
    parts.push(el("div", { class: "coach-alerts", role: "alert" },
      ...v.alerts.map((a) => el("span", { class: "chip problem", "data-kind": a.kind }, a.text))));
  }
  const cards = v.cards.filter((c) => c.kind !== "alert").slice().reverse();
  parts.push(cards.length
    ? el("ul", { id: "coach-cards", class: "coach-cards", "aria-live": "polite" }, ...cards.map(card))
    : el("p", { id: "coach-cards", class: "empty" }, "Cards appear here when the caller names an order, an e-mail or a problem, or asks a question you have an answer for."));
  if (v.checklist.length) {
    const open = v.checklist.filter((i) => !i.done);
    parts.push(el("div", { class: "coach-checklist" },
      el("h4", {}, `Checklist ${v.checklist.length - open.length}/${v.checklist.length}`),
      el("ul", { id: "coach-checklist" }, ...v.checklist.map((i) =>
        el("li", { class: i.done ? "done" : "", "data-done": String(i.done) }, el("span", { class: "tick", "aria-hidden": "true" }, i.done ? "✓" : "○"), i.label))),
      !v.live && open.length ? el("p", { class: "still-open" }, `Still open: ${open.map((i) => i.label).join("; ")}`) : null));
  }
  const lines = v.transcript.slice(-6).map((l) => el("li", { class: l.speaker }, el("b", {}, l.speaker === "caller" ? "Caller" : "You"), " ", l.text));
  const partial = v.partial.map((l) => el("li", { class: `${l.speaker} partial` }, el("b", {}, l.speaker === "caller" ? "Caller" : "You"), " ", l.text));
  parts.push(el("details", { class: "coach-transcript", open: true },
    el("summary", {}, "Live transcript"),
    lines.length || partial.length ? el("ul", { id: "coach-transcript" }, ...lines, ...partial) : el("p", { class: "empty" }, "Nothing said yet.")));
  box.replaceChildren(...parts);
}
