// The agent workspace: the agent's status, the browser phone's two lines (accept, hold, mute,
// keypad, switch, hang up), dialling out, microphone and speaker choice, the customer of the
// call, and the call's notes (wrapup.js).
import { $, api, el, session, since } from "./lib.js";
import { phone } from "./phone.js";
import { wrapUp } from "./wrapup.js";
import { recording } from "./recording.js";
import { payment } from "./payment.js";
import { coach } from "./coach.js";
import { overrideCard } from "./override.js";
import { transfer } from "./transfer.js";
import { consult } from "./consult.js";

const STATUS = [
  ["available", "Available"],
  ["away", "Unavailable"],
];

const LINE_STATE = {
  idle: "Free", ringing: "Incoming call", calling: "Calling…", "ringing-out": "Ringing…", talking: "On call", held: "On hold",
};

export const workspace = {
  unsubscribe: null,
  poll: null,
  presence: null,

  async start() {
    $("ws-ext").textContent = session.me.agent_extension ? `extension ${session.me.agent_extension}` : "no extension";
    if (!session.me.agent_extension) {
      $("ws-phone-status").textContent = "Your user is not linked to an agent extension: ask an admin to link one.";
      return;
    }
    if (!this.unsubscribe) this.unsubscribe = phone.on(() => { this.render(); consult.phoneChanged(); overrideCard.update(); this.refreshStatus(); });
    phone.start();
    this.render();
    this.devices();
    this.refreshStatus();
    clearInterval(this.poll);
    // On a call and wrap-up are set by the server as calls come and go.
    this.poll = setInterval(() => this.refreshStatus(), 2000);
  },

  stop() {
    if (this.unsubscribe) this.unsubscribe();
    this.unsubscribe = null;
    clearInterval(this.poll);
    this.poll = null;
  },

  async refreshStatus() {
    // Refreshes overlap (the phone's changes and the timer): only the latest one counts, so
    // that a slow older answer never shows a status or extension already replaced.
    const asked = (this.asked = (this.asked || 0) + 1);
    let presence;
    try {
      presence = await api("GET", "/api/me/status");
    } catch {
      return;
    }
    if (asked !== this.asked || !this.poll) return;
    this.presence = presence;
    renderStatus(this.presence);
    // An admin moved the agent to another extension: the page and the phone follow.
    if (session.me && session.me.agent_extension !== this.presence.extension) {
      session.me.agent_extension = this.presence.extension;
      $("ws-ext").textContent = `extension ${this.presence.extension}`;
    }
    if (phone.extension && this.presence.extension !== phone.extension) phone.moved(this.presence.extension);
    this.refreshCustomers();
  },

  /** The customers of the agent's calls (the server knows which calls are theirs). */
  async refreshCustomers() {
    const busy = this.presence && this.presence.activity;
    if (!busy) {
      this.customers = [];
      this.shown = null;
      wrapUp.show(null);
      recording.show(null);
      payment.show(null);
      coach.show(null);
      transfer.show(null);
      consult.update([]);
      return renderCustomer(null);
    }
    try {
      this.customers = await api("GET", "/api/me/customers");
    } catch {
      return;
    }
    consult.update(this.customers);
    const peer = phone.lines[phone.active].peer;
    const shown = this.customers.find((c) => c.number === peer) || this.customers[0] || null;
    wrapUp.show(shown ? shown.call_id : null, shown ? shown.number : "");
    recording.show(shown && this.presence.activity === "on_call" ? shown.call_id : null);
    payment.show(shown && this.presence.activity === "on_call" ? shown.call_id : null);
    coach.show(shown ? shown.call_id : null);
    // Any call can be sent on (one the agent placed sends the person called); a call placed
    // while another line is in use is a consult, and a conference is managed from its own card.
    const line = phone.lines[phone.active];
    const otherBusy = phone.lines.some((l) => l !== line && l.state !== "idle");
    const transferable = !consult.conference && (line.direction === "in" || !otherBusy);
    transfer.show(shown && transferable && this.presence.activity === "on_call" ? shown.call_id : null);
    // Keep a search the agent is typing.
    if (shown && this.shown && shown.number === this.shown.number && !shown.snapshot && !this.shown.snapshot) return;
    if (JSON.stringify(shown) !== JSON.stringify(this.shown)) renderCustomer(shown);
    this.shown = shown;
  },

  render() {
    const s = $("ws-phone-status");
    s.className = `phone-status ${phone.status}`;
    s.textContent = {
      off: "Phone off", connecting: "Connecting the phone…", registered: "Phone ready",
      failed: `Phone not connected: ${phone.error}`,
    }[phone.status];
    $("ws-lines").replaceChildren(...phone.lines.map((l) => this.line(l)));
    $("ws-dial").querySelector("button").disabled = phone.status !== "registered" || !phone.freeLine();
  },

  line(l) {
    const active = l.index === phone.active && l.session;
    const who = l.session ? (l.name && l.name !== l.peer ? `${l.name} · ${l.peer}` : l.peer || "Unknown") : "";
    const b = (label, fn, cls = "") => el("button", { class: cls, onclick: fn }, label);
    const buttons = [];
    if (l.state === "ringing") {
      buttons.push(b("Accept", () => phone.answer(l.index), "accept"), b("Decline", () => phone.decline(l.index), "danger"));
    } else if (l.session) {
      if (["talking", "held"].includes(l.state)) {
        buttons.push(b(l.muted ? "Unmute" : "Mute", () => phone.toggleMute(l.index), `ghost-b ${l.muted ? "on" : ""}`));
        buttons.push(b(l.held ? "Resume" : "Hold", () => phone.toggleHold(l.index), `ghost-b ${l.held ? "on" : ""}`));
        if (!active) buttons.push(b("Switch to this line", () => phone.switchTo(l.index), "ghost-b"));
      }
      buttons.push(b("Hang up", () => phone.hangup(l.index), "danger"));
    }
    const last = !l.session && l.lastEnded ? el("div", { class: "sub" }, `Last call: ${l.lastEnded.peer}${l.lastEnded.why ? ` (${l.lastEnded.why})` : ""}`) : null;
    return el("section", { class: `line ${l.state} ${active ? "active" : ""}`, "data-line": String(l.index), "data-state": l.state },
      el("div", { class: "line-head" },
        el("span", { class: "line-name" }, `Line ${l.index + 1}`),
        el("span", { class: `line-state ${l.state}` }, LINE_STATE[l.state] || l.state),
        l.started ? el("span", { class: "line-time", "data-since": String(l.started) }, since(l.started)) : null),
      who ? el("div", { class: "line-who" }, who) : el("div", { class: "line-who idle" }, "—"),
      last,
      el("div", { class: "row" }, ...buttons));
  },

  async devices() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return;
    let list = [];
    try { list = await navigator.mediaDevices.enumerateDevices(); } catch { return; }
    const fill = (select, kind, chosen) => {
      const options = list.filter((d) => d.kind === kind).map((d, i) => el("option", { value: d.deviceId, selected: d.deviceId === chosen }, d.label || `${kind === "audioinput" ? "Microphone" : "Speaker"} ${i + 1}`));
      select.replaceChildren(el("option", { value: "" }, "System default"), ...options);
    };
    fill($("ws-mic"), "audioinput", phone.devices.input);
    fill($("ws-speaker"), "audiooutput", phone.devices.output);
  },
};

async function setStatus(status) {
  workspace.asked = (workspace.asked || 0) + 1; // a refresh already asked answers from before
  try {
    workspace.presence = await api("PUT", "/api/me/status", { status });
  } catch (e) {
    $("ws-status-note").textContent = `Not changed: ${e.message}`;
    return;
  }
  renderStatus(workspace.presence);
}

async function ready() {
  await wrapUp.flush();
  workspace.asked = (workspace.asked || 0) + 1;
  try {
    workspace.presence = await api("POST", "/api/me/ready");
  } catch (e) {
    $("ws-status-note").textContent = e.message;
  }
  renderStatus(workspace.presence);
}

function renderStatus(p) {
  const chosen = p ? (p.status === "available" ? "available" : "away") : "";
  $("ws-status").replaceChildren(...STATUS.map(([value, label]) =>
    el("button", { class: `status-choice ${value} ${chosen === value ? "chosen" : ""}`, "aria-pressed": String(chosen === value), onclick: () => setStatus(value) }, label)));
  const box = $("ws-activity");
  const note = $("ws-status-note");
  if (p && p.activity === "on_call") {
    box.replaceChildren(el("span", { class: "activity on_call" }, "On call"));
    note.textContent = "Queues wait until you finish this call.";
  } else if (p && p.activity === "wrap_up") {
    const left = Math.max(0, Math.ceil((p.wrap_up_until - Date.now()) / 1000));
    box.replaceChildren(
      el("span", { class: "activity wrap_up" }, `Wrap-up · ${left} s left`),
      el("button", { id: "ws-ready", class: "accept", onclick: ready }, "Ready"));
    note.textContent = "Queues offer you calls again when wrap-up ends.";
  } else {
    box.replaceChildren();
    note.textContent = !p ? "" : chosen === "available" ? "Queues offer you calls."
      : p.note ? `Queues do not offer you calls: ${p.note}. Choose Available when you are back.` : "Queues do not offer you calls.";
  }
}

const money = (cents, currency = "USD") =>
  new Intl.NumberFormat(undefined, { style: "currency", currency }).format(cents / 100);
const day = (ms) => new Date(ms).toLocaleDateString(undefined, { month: "short", day: "numeric", year: "numeric" });

/** The customer panel: the matched customer's snapshot, or a search to match the caller. */
function renderCustomer(entry) {
  const box = $("ws-customer");
  if (!entry) {
    box.className = "customer empty";
    return box.replaceChildren(el("p", { class: "sub" }, "The caller's customer record shows here during a call."));
  }
  box.className = "customer";
  if (!entry.snapshot && !entry.number.startsWith("+")) {
    return box.replaceChildren(el("div", { class: "cust-head" }, el("h3", {}, "Internal call"), el("span", { class: "sub" }, `extension ${entry.number}`)));
  }
  if (!entry.snapshot) return box.replaceChildren(...unmatched(entry.number));
  const { customer: c, orders, open_tickets: tickets, recent_calls: calls } = entry.snapshot;
  const contact = [...c.phones.map((p) => `${p.number} (${p.label})`), ...c.emails].join(" · ");
  // (replaceChildren writes a null child as the text "null": leave those out.)
  box.replaceChildren(...[
    el("div", { class: "cust-head" },
      el("h3", { id: "ws-customer-name" }, el("a", { href: `#/customers/${c.id}`, title: "Everything this customer said to you" }, c.name)),
      el("span", { class: c.balance_cents ? "balance owed" : "balance" }, `Balance ${money(c.balance_cents, c.currency)}`)),
    el("div", { class: "sub" }, contact),
    c.notes ? el("p", { class: "cust-notes" }, c.notes) : null,
    el("h4", {}, `Orders (${orders.length})`),
    orders.length ? el("table", { class: "orders" },
      el("thead", {}, el("tr", {}, ...["Order", "Placed", "Status", "Items", "Total", "Tracking"].map((h) => el("th", {}, h)))),
      el("tbody", {}, ...orders.map((o) => el("tr", { "data-order": o.number },
        el("td", {}, `#${o.number}`),
        el("td", {}, day(o.placed_at)),
        el("td", {}, el("span", { class: `order-status ${o.status}` }, o.status)),
        el("td", {}, o.items.map((i) => `${i.quantity} × ${i.name}`).join(", ")),
        el("td", {}, money(o.total_cents, o.currency)),
        el("td", {}, o.tracking_number ? `${o.carrier || ""} ${o.tracking_number}` : "—"))))) : el("p", { class: "sub" }, "No orders."),
    el("h4", {}, `Open tickets (${tickets.length})`),
    tickets.length ? el("ul", { class: "tickets" }, ...tickets.map((t) => el("li", {}, el("span", { class: `prio ${t.priority}` }, t.priority), ` ${t.subject}`))) : el("p", { class: "sub" }, "None."),
    el("h4", {}, "Last calls"),
    calls.length ? el("ul", { class: "past-calls" }, ...calls.map((k) => el("li", {}, `${day(k.started_at)} · ${k.direction} · ${k.disposition || "in progress"}${k.agent_extension ? ` · ${k.agent_extension}` : ""}${k.ai_agent ? ` · AI ${k.ai_agent}` : ""}`))) : el("p", { class: "sub" }, "None."),
  ].filter(Boolean));
}

function unmatched(number) {
  const results = el("ul", { class: "search-results" });
  const status = el("p", { class: "sub", role: "status" });
  const form = el("form", { class: "cust-search" },
    el("input", { name: "q", placeholder: "Name, e-mail or +number", autocomplete: "off", "aria-label": "Search customers" }),
    el("button", { type: "submit" }, "Search"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const found = await api("GET", `/api/me/customers/search?q=${encodeURIComponent(form.elements.q.value)}`);
      status.textContent = found.length ? "" : "No customer found.";
      results.replaceChildren(...found.map((c) => el("li", {},
        el("span", {}, `${c.name} · ${[...c.phones.map((p) => p.number), ...c.emails].join(", ")}`),
        el("button", { class: "ghost-b", onclick: () => linkCaller(number, c.id, status) }, "Link to this caller"))));
    } catch (e) {
      status.textContent = e.message;
    }
  });
  return [
    el("div", { class: "cust-head" }, el("h3", {}, "Not matched"), el("span", { class: "sub" }, number)),
    el("p", { class: "sub" }, "No customer has this number. Find them to link it; their next call will be matched."),
    form, status, results,
  ];
}

async function linkCaller(number, customerId, status) {
  try {
    await api("POST", "/api/me/customers/link", { number, customer_id: customerId });
    workspace.shown = null;
    await workspace.refreshCustomers();
  } catch (e) {
    status.textContent = e.message;
  }
}

$("ws-dial").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const input = ev.target.elements.number;
  try {
    phone.call(input.value);
    input.value = "";
    $("ws-dial-error").textContent = "";
  } catch (e) {
    $("ws-dial-error").textContent = e.message;
  }
});

for (const key of "123456789*0#") {
  const button = el("button", { type: "button", class: "key", "data-key": key }, key);
  button.addEventListener("click", () => {
    const line = phone.lines[phone.active];
    if (line.session && line.state === "talking") phone.dtmf(key);
    else $("ws-dial").elements.number.value += key;
  });
  $("ws-keypad").append(button);
}

$("ws-mic").addEventListener("change", () => phone.setDevices($("ws-mic").value, $("ws-speaker").value));
$("ws-speaker").addEventListener("change", () => phone.setDevices($("ws-mic").value, $("ws-speaker").value));
renderStatus(null);
renderCustomer(null);
