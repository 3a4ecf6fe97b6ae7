// A customer's page (#/customers/ID): who they are, and everything they said to the merchant in
// one timeline, newest first: their calls (with outcome and who handled them, a link to the
// call's page) beside their conversations on other channels (web chat, SMS, e-mail, social)
// that the merchant's help desk or shop platform posts, with a link back to the source.
import { $, api, el } from "./lib.js";

const CHANNEL = { chat: "Web chat", sms: "SMS", email: "E-mail", social: "Social", other: "Message" };
const DISPOSITION = { answered: "Answered", no_answer: "No answer", busy: "Busy", abandoned: "Abandoned", failed: "Failed", voicemail: "Voicemail" };
const when = (ms) => new Date(ms).toLocaleString(undefined, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
const clock = (ms) => `${Math.floor(ms / 60000)}:${String(Math.floor(ms / 1000) % 60).padStart(2, "0")}`;
const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
const money = (cents, currency = "USD") => new Intl.NumberFormat(undefined, { style: "currency", currency }).format(cents / 100);

export const customerPage = {
  async start(id) {
    $("cust-error").textContent = "";
    $("cust-head").replaceChildren(el("h2", {}, "Customer"));
    $("cust-timeline").replaceChildren();
    let data;
    try {
      data = await api("GET", `/api/customers/${encodeURIComponent(id)}/timeline`);
    } catch (e) {
      $("cust-error").textContent = e.status === 404 ? "No such customer, or not one of your callers." : e.message;
      return;
    }
    const c = data.customer;
    const contact = [...c.phones.map((p) => `${p.number}${p.label ? ` (${p.label})` : ""}`), ...c.emails].join(" · ");
    const counts = data.entries.reduce((n, e) => ({ ...n, [e.type]: (n[e.type] || 0) + 1 }), {});
    $("cust-head").replaceChildren(
      el("div", {},
        el("h2", { id: "cust-name" }, c.name),
        el("div", { class: "sub" }, contact || "No phone or e-mail on file"),
        c.notes ? el("p", { class: "cust-notes" }, c.notes) : null),
      el("div", { class: "cust-figures" },
        el("span", { class: c.balance_cents ? "balance owed" : "balance" }, `Balance ${money(c.balance_cents, c.currency)}`),
        el("span", { class: "sub" }, `${plural(counts.call || 0, "call")} · ${plural(counts.conversation || 0, "conversation")}`)));
    const items = data.entries.map((e) => (e.type === "call" ? callItem(e) : conversationItem(e)));
    $("cust-timeline").replaceChildren(...(items.length ? items : [el("li", { class: "sub" }, "Nothing yet.")]));
  },
};

function callItem(k) {
  const talk = k.answered_at && k.ended_at ? ` · ${clock(k.ended_at - k.answered_at)}` : "";
  const who = [k.agent_extension ? `ext ${k.agent_extension}` : null, k.ai_agent ? `AI ${k.ai_agent}` : null].filter(Boolean).join(", ");
  return el("li", { class: "tl call", "data-type": "call" },
    el("span", { class: "tl-kind" }, "Call"),
    el("div", { class: "tl-body" },
      el("div", { class: "tl-head" },
        el("a", { href: `#/calls?call=${k.id}` }, `${k.direction === "outbound" ? "Called them" : "Called in"} · ${k.from_number} → ${k.to_number}`),
        el("span", { class: "sub" }, when(k.started_at))),
      el("div", { class: "sub" }, `${k.disposition ? DISPOSITION[k.disposition] || k.disposition : "In progress"}${talk}${who ? ` · ${who}` : ""}`),
      k.summary ? el("p", {}, k.summary) : null));
}

function conversationItem(m) {
  const people = m.participants.map((p) => p.name || p.address).filter(Boolean).join(", ");
  return el("li", { class: `tl conv ${m.channel}`, "data-type": m.channel },
    el("span", { class: "tl-kind" }, CHANNEL[m.channel] || m.channel),
    el("div", { class: "tl-body" },
      el("div", { class: "tl-head" },
        el("strong", {}, m.subject || `${m.direction === "inbound" ? "From" : "To"} ${people || "the customer"}`),
        el("span", { class: "sub" }, when(m.at))),
      el("p", { class: "tl-text" }, m.text),
      m.link ? el("a", { href: m.link, target: "_blank", rel: "noopener noreferrer", class: "sub" }, "Open in the source system ↗") : null));
}
