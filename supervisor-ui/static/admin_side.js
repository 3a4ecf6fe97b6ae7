// Panels beside an admin form: an audio entry's player and upload (WAV or MP3; a text-only
// entry is played as callers hear it, spoken by its voice), and an AI agent's "try it" chat
// (the same session a call runs, with its real tools; tool calls shown as they happen) with a
// replay of the agent's recent calls under its saved configuration.
import { api, el } from "./lib.js";

/** The panel for `kind`'s saved entity (null when there is none). */
export function sidePanel(kind, stored, id, form) {
  if (kind === "audio") return audioPanel(stored, id, form);
  if (kind === "ai_agents") return chatPanel(stored, id);
  return null;
}

/** Called when the admin page shows something else (ends an open chat). */
export function leave() {
  if (openChat) api("DELETE", `/api/agent-chats/${openChat}`).catch(() => {});
  openChat = null;
}
let openChat = null;

function audioPanel(stored, id, form) {
  // The file name is set by uploading, not typed (a save keeps what was uploaded).
  const fileField = form && form.querySelector(":scope > [data-field='file'] input");
  if (fileField) fileField.readOnly = true;
  const box = el("aside", { class: "side-panel", id: "audio-panel" }, el("h3", {}, "Listen"));
  if (!id) {
    box.append(el("p", { class: "sub" }, "Save the entry first; then upload a recording or hear its text."));
    return box;
  }
  const what = el("p", { class: "sub", id: "audio-what" });
  const player = el("audio", { controls: true, preload: "none", id: "audio-player" });
  const load = (file, text) => {
    what.textContent = file
      ? `Recording: ${file}`
      : text ? `No recording: callers hear the text spoken${stored.voice ? ` by ${stored.voice}` : ""}.` : "No recording and no text yet.";
    player.hidden = !file && !text;
    player.src = `/api/audio/${id}/file?v=${Date.now()}`;
  };
  load(stored.file, stored.tts_text);
  const input = el("input", { type: "file", accept: ".wav,.mp3,audio/wav,audio/x-wav,audio/mpeg", id: "audio-upload" });
  const status = el("p", { class: "sub", id: "audio-status", role: "status" });
  const upload = el("button", { type: "button", id: "audio-upload-button", onclick: async () => {
    const file = input.files && input.files[0];
    if (!file) return (status.textContent = "Choose a WAV or MP3 file first.");
    upload.disabled = true;
    status.className = "sub";
    status.textContent = `Uploading ${file.name}…`;
    try {
      const res = await fetch(`/api/audio/${id}/file`, { method: "PUT", body: file, credentials: "same-origin",
        headers: { "content-type": file.type || "application/octet-stream" } });
      const body = await res.json().catch(() => ({}));
      if (!res.ok) throw new Error((body.problems && body.problems[0] && body.problems[0].message) || body.error || res.statusText);
      status.textContent = `Uploaded: ${(body.duration_ms / 1000).toFixed(1)} s, ${body.sample_rate / 1000} kHz. Callers hear it now.`;
      load(body.file, stored.tts_text);
      if (fileField) fileField.value = body.file;
    } catch (e) {
      status.className = "error";
      status.textContent = `Not uploaded: ${e.message}`;
    } finally {
      upload.disabled = false;
    }
  } }, "Upload");
  box.append(what, player,
    el("label", { class: "upload" }, el("span", { class: "label" }, "Upload a recording (WAV or MP3)"), input),
    upload, status);
  return box;
}

function chatPanel(stored, id) {
  const box = el("aside", { class: "side-panel chat-panel", id: "try-panel" }, el("h3", {}, "Try it"));
  if (!id) {
    box.append(el("p", { class: "sub" }, "Save the agent first, then talk to it here."));
    return box;
  }
  const caller = el("input", { type: "tel", id: "try-caller", placeholder: "Caller's number (optional)", autocomplete: "off" });
  const log = el("div", { class: "chat-log", id: "try-log", "aria-live": "polite" });
  const line = el("input", { type: "text", id: "try-line", placeholder: "Type what the caller says…", autocomplete: "off", disabled: true });
  const send = el("button", { type: "submit", id: "try-send", disabled: true }, "Send");
  const status = el("p", { class: "sub", id: "try-status", role: "status" }, "Uses the saved configuration and real tools; nothing is recorded as a call.");
  const say = (who, text, cls = "") => {
    log.append(el("div", { class: `bubble ${who} ${cls}` }, text));
    log.scrollTop = log.scrollHeight;
  };
  // A tool call in one line (what was asked, how it went, how long); the result on a click.
  const showEvent = (e) => {
    const d = e.data || {};
    if (e.kind !== "tool_call") {
      log.append(el("div", { class: "chat-event", "data-kind": e.kind }, `${e.kind.replaceAll("_", " ")} ${JSON.stringify(d)}`));
      return;
    }
    const args = Object.entries(d.arguments || {}).map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`).join(", ");
    const how = d.error ? `failed: ${d.error}` : "ok";
    log.append(el("details", { class: `chat-event ${d.error ? "failed" : ""}`, "data-kind": e.kind },
      el("summary", {}, `${d.tool}(${args}) → ${how} · ${d.duration_ms} ms`),
      el("pre", {}, JSON.stringify(d.error ? d.error : d.result, null, 2))));
  };
  const start = el("button", { type: "button", id: "try-start", onclick: async () => {
    leave();
    log.replaceChildren();
    start.disabled = true;
    status.textContent = "Starting…";
    try {
      const c = await api("POST", "/api/agent-chats", { agent: stored.name, caller: caller.value.trim() || null });
      openChat = c.id;
      status.textContent = c.customer ? `Caller matched to ${c.customer.name}.` : `${c.brain === "llm" ? "LLM" : "Offline guided"} agent.`;
      say("agent", c.greeting);
      line.disabled = send.disabled = false;
      start.textContent = "Start again";
      line.focus();
    } catch (e) {
      status.textContent = `Cannot start: ${e.message}`;
    } finally {
      start.disabled = false;
    }
  } }, "Start chat");
  const form = el("form", { class: "chat-line" }, line, send);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = line.value.trim();
    if (!text || !openChat) return;
    line.value = "";
    say("caller", text);
    line.disabled = send.disabled = true;
    const thinking = el("div", { class: "bubble agent thinking" }, "…");
    log.append(thinking);
    try {
      const r = await api("POST", `/api/agent-chats/${openChat}`, { text });
      thinking.remove();
      for (const e of r.events) showEvent(e);
      if (r.said.length) say("agent", r.said.join(" "));
      if (r.ended) {
        log.append(el("div", { class: "chat-ended", id: "try-ended" }, r.ended));
        openChat = null;
        return;
      }
      line.disabled = send.disabled = false;
      line.focus();
    } catch (e) {
      thinking.remove();
      log.append(el("div", { class: "chat-ended error" }, e.message));
      openChat = null;
    }
  });
  box.append(el("div", { class: "chat-start" }, caller, start), log, form, status, replayPanel(stored));
  return box;
}

/** "Replay recent calls": the agent's last calls said again to its saved configuration, turn
 * by turn, with what it would now do differently (POST /api/calls/{id}/replay). */
function replayPanel(stored) {
  const list = el("ul", { class: "replay-calls", id: "replay-calls" });
  const result = el("div", { class: "replay-result", id: "replay-result", "aria-live": "polite" });
  const did = (d) => {
    if (!d) return el("span", { class: "sub" }, "(the call would have ended before this)");
    const tools = (d.tools || []).map((t) => `${t.tool}(${Object.entries(t.arguments || {}).map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`).join(", ")})`);
    return el("span", {}, [...tools.map((t) => `[${t}] `), d.said ? `“${d.said}”` : "", d.outcome ? ` → ${d.outcome}` : ""].join(""));
  };
  const replay = async (call) => {
    result.replaceChildren(el("p", { class: "sub" }, `Replaying call ${call.id}…`));
    try {
      const r = await api("POST", `/api/calls/${call.id}/replay`, { agent: stored.name });
      const rows = r.turns.map((t, i) => {
        const mark = t.acts_differently ? "different" : t.says_differently ? "reworded" : "same";
        return el("li", { class: `replay-turn ${mark}`, "data-mark": mark },
          el("div", {}, el("strong", {}, `${i + 1}. Caller: `), t.caller, el("span", { class: `tag ${mark}` }, mark)),
          el("div", { class: "sub" }, "Then: ", did(t.then)),
          el("div", {}, "Now: ", did(t.now)));
      });
      result.replaceChildren(el("p", { id: "replay-summary" }, r.summary), el("ol", { class: "replay-turns" }, ...rows));
    } catch (e) {
      result.replaceChildren(el("p", { class: "error" }, `Cannot replay: ${e.message}`));
    }
  };
  const load = el("button", { type: "button", class: "ghost", id: "replay-load", onclick: async () => {
    list.replaceChildren();
    try {
      const calls = await api("GET", `/api/calls?ai_agent=${encodeURIComponent(stored.name)}&limit=5`);
      if (!calls.length) list.append(el("li", { class: "sub" }, "No recorded calls of this agent yet."));
      for (const c of calls) {
        list.append(el("li", {}, `${new Date(c.started_at).toLocaleString()} · ${c.from_number} `,
          el("button", { type: "button", class: "ghost", "data-call": c.id, onclick: () => replay(c) }, "Replay")));
      }
    } catch (e) {
      list.append(el("li", { class: "error" }, e.message));
    }
  } }, "Show recent calls");
  return el("section", { class: "replay-panel", id: "replay-panel" },
    el("h4", {}, "Replay recent calls"),
    el("p", { class: "sub" }, "Their callers' words said again to the saved configuration: what it would now say and do. Webhooks are not called; nothing is recorded."),
    load, list, result);
}
