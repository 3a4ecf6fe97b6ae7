// Blind transfer from the workspace: the agent picks where the caller goes (a colleague, with
// whether they are free; a queue; an IVR menu; an AI agent; a voicemail box; or an outside
// number) and leaves the call. The server checks the target and the agent's class of service
// and says why when it refuses; on success the agent's line ends and wrap-up begins. "Consult
// first" calls a colleague or a number on the other line instead (a warm transfer: consult.js).
import { $, api, el } from "./lib.js";
import { consult } from "./consult.js";

const STATUS = { available: "available", busy: "on a call", unavailable: "unavailable" };

export const transfer = {
  callId: null,
  open: false,

  /** Offers a transfer of live call record `callId` (null hides it). */
  show(callId) {
    const box = $("ws-transfer");
    if (!callId) {
      this.callId = null;
      this.open = false;
      box.hidden = true;
      return box.replaceChildren();
    }
    if (callId === this.callId && !box.hidden) return;
    this.callId = callId;
    this.open = false;
    this.closed("");
  },

  closed(note) {
    const box = $("ws-transfer");
    box.replaceChildren(...[
      el("button", { class: "ghost-b", "data-action": "open", onclick: () => this.pick() }, "Transfer…"),
      note ? el("span", { class: "sub", role: "status" }, note) : null,
    ].filter(Boolean));
    box.hidden = false;
  },

  async pick() {
    const callId = this.callId;
    let targets;
    try {
      targets = await api("GET", "/api/me/transfer-targets");
    } catch (e) {
      return this.closed(`Cannot list targets: ${e.message}`);
    }
    if (callId !== this.callId) return;
    this.open = true;
    const option = (value, label) => el("option", { value: JSON.stringify(value) }, label);
    const group = (label, items) => items.length ? el("optgroup", { label }, ...items) : null;
    const select = el("select", { name: "target", required: true },
      el("option", { value: "" }, "Choose…"),
      group("Agents", targets.agents.map((a) =>
        option({ type: "agent", extension: a.extension }, `${a.name} · ${a.extension} — ${STATUS[a.status] || a.status}`))),
      group("Queues", targets.queues.map((n) => option({ type: "queue", name: n }, n))),
      group("IVR menus", targets.ivr_menus.map((n) => option({ type: "ivr_menu", name: n }, n))),
      group("AI agents", targets.ai_agents.map((n) => option({ type: "ai_agent", name: n }, n))),
      group("Voicemail", targets.voicemail_boxes.map((n) => option({ type: "voicemail_box", name: n }, n))),
      el("option", { value: "external" }, "Outside number…"),
    );
    const number = el("input", { name: "number", inputMode: "tel", autocomplete: "off", placeholder: "+1 202 555 0123", hidden: true });
    select.addEventListener("change", () => {
      number.hidden = select.value !== "external";
      number.required = !number.hidden;
      if (!number.hidden) number.focus();
    });
    const problem = el("p", { class: "error", role: "alert" });
    const form = el("form", { class: "transfer-form" },
      el("label", {}, "Transfer the caller to", select),
      number,
      el("div", { class: "row" },
        el("button", { type: "submit", "data-action": "transfer" }, "Transfer"),
        el("button", { type: "button", class: "ghost-b", "data-action": "consult", onclick: () => consultFirst() }, "Consult first"),
        el("button", { type: "button", class: "ghost-b", onclick: () => { this.open = false; this.closed(""); } }, "Cancel")),
      problem,
    );
    // A warm transfer: talk to the colleague (or the number) first, on the other line.
    const consultFirst = () => {
      problem.textContent = "";
      const external = select.value === "external";
      const target = external ? { type: "external", number: number.value.trim() } : select.value && JSON.parse(select.value);
      if (!target || (target.type !== "agent" && target.type !== "external")) {
        problem.textContent = "Only a colleague or a number can be consulted first.";
        return;
      }
      const label = external ? target.number : select.selectedOptions[0].textContent.split(" · ")[0];
      try {
        consult.start(target.type === "agent" ? target.extension : target.number, label);
        this.open = false;
        this.closed("");
      } catch (e) {
        problem.textContent = e.message;
      }
    };
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const target = select.value === "external" ? { type: "external", number: number.value.trim() } : JSON.parse(select.value);
      const label = select.value === "external" ? number.value.trim() : select.selectedOptions[0].textContent.split(" — ")[0];
      form.querySelector("[data-action=transfer]").disabled = true;
      problem.textContent = "";
      try {
        await api("POST", `/api/calls/${callId}/transfer`, { target });
        this.open = false;
        if (callId === this.callId) this.closed(`Transferred to ${label}`);
      } catch (e) {
        problem.textContent = e.message;
        form.querySelector("[data-action=transfer]").disabled = false;
      }
    });
    const box = $("ws-transfer");
    box.replaceChildren(form);
    box.hidden = false;
    select.focus();
  },
};
