// After-call work in the workspace: the outcome and notes an agent writes on the call they are
// on or wrapping up, saved on its record. A draft is kept while the page lives and saved by
// itself when the call's card goes away (the call ended without wrap-up, or wrap-up ended).
import { $, api, el } from "./lib.js";

export const wrapUp = {
  callId: null,
  dirty: false,
  saving: null,

  /** Shows the card for call record `callId` (null hides it); `number` is the caller's. */
  async show(callId, number) {
    if (callId === this.callId) return;
    await this.flush();
    this.callId = callId;
    this.dirty = false;
    const box = $("ws-wrapup");
    if (!callId) {
      box.hidden = true;
      return box.replaceChildren();
    }
    let form;
    try {
      form = await api("GET", `/api/calls/${callId}/wrap-up`);
    } catch {
      // Not a call of mine to write on (an internal call someone else took): no card, and no
      // asking again for this call.
      box.hidden = true;
      return box.replaceChildren();
    }
    if (callId !== this.callId) return;
    render(box, form, number);
    box.hidden = false;
  },

  /** Saves a draft that has changes (before Ready, or when the card goes). */
  async flush() {
    if (this.dirty) await this.save();
    else if (this.saving) await this.saving;
  },

  async save() {
    const box = $("ws-wrapup");
    const form = box.querySelector("form");
    if (!form || !this.callId) return;
    const status = box.querySelector("[role=status]");
    const body = { outcome: form.elements.outcome.value || null, notes: form.elements.notes.value };
    if (!body.outcome && !body.notes.trim()) {
      status.textContent = "Choose an outcome or write a note.";
      return;
    }
    this.dirty = false;
    this.saving = api("PUT", `/api/calls/${this.callId}/wrap-up`, body)
      .then((saved) => {
        status.textContent = `Saved at ${new Date(saved.updated_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}`;
        status.className = "sub saved";
      })
      .catch((e) => {
        this.dirty = true;
        status.textContent = `Not saved: ${e.message}`;
        status.className = "error";
      });
    await this.saving;
    this.saving = null;
  },
};

function render(box, data, number) {
  const mine = data.mine || {};
  const outcome = el("select", { name: "outcome", "aria-label": "Outcome" },
    el("option", { value: "" }, "Choose an outcome…"),
    ...data.codes.map((c) => el("option", { value: c, selected: c === mine.outcome }, c)));
  const notes = el("textarea", { name: "notes", rows: 4, placeholder: "What the caller needed, what you did, what is still open", "aria-label": "Notes" });
  notes.value = mine.notes || "";
  const status = el("span", { class: "sub", role: "status" }, mine.updated_at ? "Saved earlier" : "");
  const form = el("form", { class: "wrapup-form" }, outcome, notes,
    el("div", { class: "row" }, el("button", { type: "submit" }, "Save notes"), status));
  const changed = () => {
    wrapUp.dirty = true;
    status.textContent = "Not saved yet";
    status.className = "sub";
  };
  outcome.addEventListener("change", changed);
  notes.addEventListener("input", changed);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    wrapUp.save();
  });
  box.replaceChildren(el("h3", {}, "Call notes", el("span", { class: "sub" }, ` · ${number}`)), form);
}
