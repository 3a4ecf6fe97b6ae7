// Taking a card payment in the workspace: the agent asks for an amount (or only to save the
// card), the customer keys the card on their phone while the agent follows the steps (dots,
// then the last four digits; never the number), can ask for a step again or cancel, and sees
// the result. The digits never reach this page: the server masks them from the agent's audio.
import { $, api, el } from "./lib.js";

const STEP = { card_number: "Card number", expiry: "Expiry date", security_code: "Security code", postal_code: "Postal code" };
const STATUS = { waiting: "Waiting", entering: "Keying…", entered: "Entered", invalid: "Not valid: asked again" };
const CURRENCIES = ["usd", "eur", "gbp", "cad", "aud"];

function money(minor, currency) {
  if (minor == null) return "card saved, no charge";
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency: currency.toUpperCase() }).format(minor / 100);
  } catch {
    return `${(minor / 100).toFixed(2)} ${currency.toUpperCase()}`;
  }
}

export const payment = {
  callId: null,
  view: null,
  taken: [],
  form: false,
  problem: "",
  timer: null,

  /** Shows the payment card for live call record `callId` (null hides it). */
  async show(callId) {
    const box = $("ws-payment");
    if (!callId) {
      this.callId = null;
      this.view = null;
      this.form = false;
      clearTimeout(this.timer);
      box.hidden = true;
      return box.replaceChildren();
    }
    if (callId !== this.callId) {
      this.callId = callId;
      this.view = null;
      this.form = false;
      this.problem = "";
      await this.refresh();
    } else if (!this.view && !this.form) {
      // (An open form is left alone: re-rendering it would lose what the agent typed.)
      this.render();
    }
  },

  async refresh() {
    const callId = this.callId;
    clearTimeout(this.timer);
    try {
      const got = await api("GET", `/api/calls/${callId}/payment`);
      if (callId !== this.callId) return;
      this.view = got.live;
      this.taken = got.taken;
    } catch {
      return;
    }
    this.render();
    if (this.view && ["capturing", "processing"].includes(this.view.state)) {
      this.timer = setTimeout(() => this.refresh(), 600);
    }
  },

  async start(form) {
    const data = new FormData(form);
    const amount = String(data.get("amount") || "").trim();
    const body = { currency: data.get("currency") };
    if (!data.get("save_only")) {
      const value = Number(amount.replace(",", "."));
      if (!amount || !(value > 0)) {
        this.problem = "Enter the amount to charge, or tick “Only save the card”.";
        return this.render();
      }
      body.amount_minor = Math.round(value * 100);
    }
    await this.call("POST", `/api/calls/${this.callId}/payment`, body);
    this.form = false;
  },

  async call(method, path, body) {
    const callId = this.callId;
    try {
      this.view = await api(method, path, body);
      this.problem = "";
    } catch (e) {
      this.problem = e.message;
    }
    if (callId !== this.callId) return;
    this.render();
    this.refresh();
  },

  /** Under a step: what may be shown (dots, the last four) and "Ask again" while it can be. */
  stepDetail(v, s, b) {
    const shown = s.shown && s.shown !== "entered" ? s.shown : "";
    const again = v.state === "capturing" && s.status !== "waiting"
      ? b("Ask again", () => this.call("POST", `/api/calls/${this.callId}/payment/restart`, { step: s.step }), "ghost-b small", { "data-restart": s.step })
      : null;
    if (!shown && !again) return null;
    return el("div", { class: "pay-step-bottom" }, el("span", { class: "pay-shown" }, shown || "\u00a0"), again);
  },

  render() {
    const box = $("ws-payment");
    const v = this.view;
    const b = (label, fn, cls = "ghost-b", extra = {}) => el("button", { type: "button", class: cls, onclick: fn, ...extra }, label);
    const parts = [];
    if (!v || (!["capturing", "processing"].includes(v.state) && this.form)) {
      parts.push(el("div", { class: "pay-head" }, el("strong", {}, "Card payment")));
      if (this.form) {
        const f = el("form", { class: "pay-form", onsubmit: (e) => { e.preventDefault(); this.start(e.target); } },
          el("div", { class: "pay-amount" },
            el("label", { class: "grow" }, "Amount", el("input", { name: "amount", inputmode: "decimal", placeholder: "25.00", autocomplete: "off" })),
            el("label", {}, "Currency", el("select", { name: "currency" }, ...CURRENCIES.map((c) => el("option", { value: c }, c.toUpperCase()))))),
          el("label", { class: "check" }, el("input", { type: "checkbox", name: "save_only" }), "Only save the card (no charge)"),
          el("p", { class: "sub" }, "The customer keys their card on their phone. You will not hear the keys or see the number."),
          el("div", { class: "row" }, el("button", { type: "submit", "data-action": "pay-start" }, "Start"), b("Back", () => { this.form = false; this.render(); })));
        parts.push(f);
      } else {
        parts.push(b("Take a payment", () => { this.form = true; this.problem = ""; this.render(); }, "ghost-b", { "data-action": "pay-open" }));
      }
    } else {
      const live = ["capturing", "processing"].includes(v.state);
      const title = { capturing: "Customer is keying their card", processing: "Processing the payment…", succeeded: "Payment taken", declined: "Payment declined", failed: "Payment failed", cancelled: "Payment cancelled" }[v.state] || v.state;
      parts.push(el("div", { class: "pay-head" },
        el("span", { class: `pay-dot ${v.state}`, "aria-hidden": "true" }),
        el("strong", { role: "status" }, title)));
      parts.push(el("div", { class: "pay-amount-line" }, money(v.amount_minor, v.currency), el("span", { class: "sub" }, ` · ${v.gateway}`)));
      parts.push(el("ol", { class: "pay-steps" }, ...v.steps.map((s) => el("li", { class: `pay-step ${s.status}`, "data-step": s.step, "data-status": s.status },
        el("div", { class: "pay-step-top" },
          el("span", { class: "pay-step-name" }, STEP[s.step] || s.step),
          el("span", { class: "pay-status" }, STATUS[s.status] || s.status)),
        this.stepDetail(v, s, b)))));
      if (v.last4 && !live) {
        parts.push(el("p", { class: "pay-result" }, `${(v.brand || "card").toUpperCase()} •••• ${v.last4}${v.charge_status ? ` · ${v.charge_status}` : ""}`));
      }
      if (v.message) parts.push(el("p", { class: v.state === "succeeded" ? "sub" : "error" }, v.message));
      parts.push(el("div", { class: "row" }, live
        ? b("Cancel payment", () => this.call("DELETE", `/api/calls/${this.callId}/payment`), "danger", { "data-action": "pay-cancel" })
        : b("Take another payment", () => { this.view = null; this.form = true; this.render(); }, "ghost-b")));
    }
    if (this.problem) parts.push(el("p", { class: "error", role: "alert" }, this.problem));
    box.className = `payment ${v ? v.state : "idle"}`;
    box.setAttribute("data-state", v ? v.state : "idle");
    // A form drawn again keeps what the agent had typed into the one it replaces.
    const before = box.querySelector("form.pay-form");
    const after = parts.find((p) => p.matches && p.matches("form.pay-form"));
    if (before && after) {
      for (const name of ["amount", "currency", "save_only"]) {
        const [from, to] = [before.elements[name], after.elements[name]];
        if (from && to) to.type === "checkbox" ? (to.checked = from.checked) : (to.value = from.value);
      }
    }
    box.replaceChildren(...parts);
    box.hidden = false;
  },
};
