// Supervising a live human call from its page (supervisors and up): Listen (hears both, heard
// by nobody), Whisper (heard by the agent only), Barge (heard by both). The first choice asks
// the server for a one-time code and the browser phone dials it (or, without one, the server
// rings the supervisor's desk phone, and the page also says what to dial); later choices switch
// the mode without redialling.
import { api, atLeast, el } from "./lib.js";
import { phone } from "./phone.js";

const MODES = [
  ["listen", "Listen", "Hear both; nobody hears you"],
  ["whisper", "Whisper", "Coach the agent; the caller does not hear you"],
  ["barge", "Barge", "Join the call; both hear you"],
];

/** The call being supervised from this page, and how. */
let current = null; // { call, mode }

/** The supervise bar for a call's page, or null when it does not apply. */
export function superviseBar(c) {
  if (c.ended_at || !atLeast("supervisor") || c.ai_agent || !c.agent_extension) return null;
  const status = el("span", { class: "sub", id: "supervise-status" });
  const buttons = MODES.map(([mode, label, title]) =>
    el("button", { class: "ghost", "data-mode": mode, title, onclick: () => choose(c.id, `Supervising ${c.from_number} → ${c.to_number}`, mode, buttons, status) }, label));
  mark(c.id, buttons, status);
  return el("div", { class: "supervise", id: "supervise-bar" }, el("strong", {}, "Supervise"), ...buttons, status);
}

function mark(call, buttons, status) {
  const mode = current && current.call === call ? current.mode : null;
  for (const b of buttons) b.classList.toggle("on", b.dataset.mode === mode);
  if (mode) status.textContent = `You are ${{ listen: "listening", whisper: "whispering to the agent", barge: "on the call" }[mode]}.`;
}

async function choose(call, label, mode, buttons, status) {
  status.classList.remove("error");
  try {
    if (current && current.call === call) {
      try {
        await api("PATCH", `/api/calls/${call}/supervise`, { mode });
        current.mode = mode;
        return mark(call, buttons, status);
      } catch {
        current = null; // the supervisor's phone hung up meanwhile: dial again
      }
    }
    if (phone.status === "registered") {
      const ticket = await api("POST", `/api/calls/${call}/supervise`, { mode });
      phone.call(ticket.dial, label);
      current = { call, mode };
      mark(call, buttons, status);
      return;
    }
    // No browser phone: the server rings the supervisor's desk phone; when none is linked to
    // them, they dial the code themselves.
    let ticket;
    try {
      ticket = await api("POST", `/api/calls/${call}/supervise`, { mode, ring: true });
    } catch {
      ticket = await api("POST", `/api/calls/${call}/supervise`, { mode });
    }
    status.textContent = ticket.ringing
      ? `Ringing your phone (${ticket.ringing}): answer it to start. Or dial ${ticket.dial} within two minutes.`
      : `Dial ${ticket.dial} on your desk phone within two minutes.`;
    current = { call, mode };
    for (const b of buttons) b.classList.toggle("on", b.dataset.mode === mode);
  } catch (e) {
    status.textContent = `Could not supervise: ${e.message}`;
    status.classList.add("error");
  }
}
