// Recording the call in the workspace: whether the call on the agent's active line is being
// recorded (a red dot while it is, amber while paused), and the buttons to start, pause,
// resume and stop it. The server decides who may record (a setting may say never) and says why
// when it refuses.
import { $, api, el } from "./lib.js";
import { phone } from "./phone.js";

export const recording = {
  callId: null,
  state: null,

  /** Shows the control for live call record `callId` (null hides it). */
  async show(callId) {
    const box = $("ws-recording");
    if (!callId) {
      this.callId = null;
      this.banner(null);
      box.hidden = true;
      return box.replaceChildren();
    }
    const changed = callId !== this.callId;
    this.callId = callId;
    let got;
    try {
      got = await api("GET", `/api/calls/${callId}/recording`);
    } catch {
      if (changed) box.hidden = true;
      return;
    }
    if (callId !== this.callId) return;
    if (!got.live) {
      this.banner(null);
      box.hidden = true;
      return box.replaceChildren();
    }
    this.render(got.live, "");
  },

  async act(action) {
    const callId = this.callId;
    try {
      const state = await api("POST", `/api/calls/${callId}/recording`, { action });
      if (callId === this.callId) this.render(state, "");
    } catch (e) {
      if (callId === this.callId) this.render(this.state, e.message);
    }
  },

  /** The call banner's REC mark (on every page): `on`, `paused` or none. */
  banner(state) {
    if (phone.recording === state) return;
    phone.recording = state;
    phone.changed();
  },

  render(state, problem) {
    this.state = state;
    const box = $("ws-recording");
    const b = (label, action, cls = "ghost-b") =>
      el("button", { class: cls, "data-action": action, onclick: () => this.act(action) }, label);
    let dot, text, buttons;
    if (state.recording && state.paused) {
      [dot, text, buttons] = ["paused", "Recording paused", [b("Resume", "resume"), b("Stop", "stop")]];
    } else if (state.recording) {
      [dot, text, buttons] = ["on", "Recording", [b("Pause", "pause"), b("Stop", "stop")]];
    } else if (state.refused) {
      [dot, text, buttons] = ["off", "Not recorded", []];
    } else {
      [dot, text, buttons] = ["off", "Not recorded", [b("Record", "start")]];
    }
    this.banner(dot === "off" ? null : dot);
    box.className = `rec ${dot}`;
    box.setAttribute("data-state", dot);
    box.replaceChildren(...[
      el("span", { class: `rec-dot ${dot}`, "aria-hidden": "true" }),
      el("span", { class: "rec-text", role: "status" }, text),
      el("span", { class: "row" }, ...buttons),
      state.refused && !state.recording ? el("span", { class: "sub" }, state.refused) : null,
      problem ? el("span", { class: "error", role: "alert" }, problem) : null,
    ].filter(Boolean));
    box.hidden = false;
  },
};
