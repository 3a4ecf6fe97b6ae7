// The AI supervisor grid: live tiles over one WebSocket per browser session, an opened tile's
// transcript and events, notes to the AI, approvals, listen-in and takeover.
import { $, api, el, since, session } from "./lib.js";
import { phone } from "./phone.js";


const STATE_TEXT = {
  listening: "listening", thinking: "thinking", speaking: "speaking", running_tool: "running a tool",
  waiting_for_approval: "waiting for approval", transferring: "transferring", taken_over: "taken over",
};

function tileClass(t) {
  if (t.alerts.some((a) => a.level === "problem")) return "problem";
  return t.alerts.length ? "warning" : "";
}

export const grid = {
  ws: null,
  tiles: new Map(),
  opened: null,
  detail: null,
  retry: 500,
  timer: null,
  running: false,

  start() {
    if (this.running) return;
    this.running = true;
    this.connect();
    this.timer = setInterval(() => this.tick(), 1000);
  },

  stop() {
    this.running = false;
    clearInterval(this.timer);
    if (this.ws) this.ws.close();
    this.ws = null;
    this.tiles.clear();
    this.closeDetail();
  },

  connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${proto}//${location.host}/api/live/feed`);
    this.ws = ws;
    $("feed-status").textContent = "connecting…";
    $("feed-status").classList.remove("live");
    ws.onopen = () => {
      this.retry = 500;
      $("feed-status").textContent = "live";
      $("feed-status").classList.add("live");
      if (this.opened != null) ws.send(JSON.stringify({ type: "open", id: this.opened }));
    };
    ws.onmessage = (m) => this.receive(JSON.parse(m.data));
    ws.onclose = () => {
      if (this.ws !== ws || !this.running) return;
      $("feed-status").textContent = "reconnecting…";
      $("feed-status").classList.remove("live");
      setTimeout(() => this.running && this.connect(), this.retry);
      this.retry = Math.min(this.retry * 2, 10000);
    };
  },

  receive(m) {
    switch (m.type) {
      case "snapshot":
        this.tiles = new Map(m.tiles.map((t) => [t.id, t]));
        if (this.opened != null && !this.tiles.has(this.opened)) this.ended(this.opened);
        this.render();
        break;
      case "tile":
        this.tiles.set(m.tile.id, m.tile);
        this.render();
        if (this.detail && m.tile.id === this.opened) {
          this.detail.tile = m.tile;
          this.renderDetailHead();
        }
        break;
      case "ended":
        this.tiles.delete(m.id);
        this.render();
        if (m.id === this.opened) this.ended(m.id);
        break;
      case "detail":
        if (m.detail.tile.id !== this.opened) break;
        this.detail = m.detail;
        this.renderDetail();
        break;
      case "transcript":
        if (this.detail && m.id === this.opened) {
          const lines = this.detail.transcript;
          if (lines.length && lines[lines.length - 1].partial && m.line.speaker === "caller") lines.pop();
          lines.push(m.line);
          this.renderTranscript();
        }
        break;
      case "event":
        if (this.detail && m.id === this.opened) {
          this.detail.events.push(m.event);
          this.renderEvents();
          if (m.event.kind === "guidance_acknowledged") {
            $("d-note-status").textContent = `The AI took your note into its turn at ${new Date(m.event.at).toLocaleTimeString()}.`;
          }
          if (m.event.kind === "takeover_connected") $("d-takeover-status").textContent = "Connected: you have the caller.";
          if (m.event.kind === "takeover_failed") $("d-takeover-status").textContent = "Your phone did not answer; the AI carries on.";
          if (m.event.kind === "listen_connected") $("d-takeover-status").textContent = "Listening: you hear the caller and the AI; they do not hear you.";
          if (m.event.kind === "listen_ended") $("d-takeover-status").textContent = "You stopped listening; the AI carries on.";
          if (m.event.kind === "listen_failed") $("d-takeover-status").textContent = "Your phone did not answer the listen-in.";
        }
        break;
      case "error":
        console.warn("feed:", m.error);
        break;
    }
  },

  sorted() {
    return [...this.tiles.values()].sort((a, b) => b.severity - a.severity || a.started_at - b.started_at);
  },

  render() {
    const tiles = this.sorted();
    $("live-count").textContent = tiles.length;
    $("grid-empty").hidden = tiles.length > 0;
    const box = $("tiles");
    box.replaceChildren(...tiles.map((t) => this.tile(t)));
  },

  tile(t) {
    const h = t.health;
    const chips = el("div", { class: "chips" }, ...t.alerts.map((a) => el("span", { class: `chip ${a.level}`, title: a.text }, a.text)));
    const node = el(
      "article",
      { class: `tile ${tileClass(t)} ${t.id === this.opened ? "open" : ""}`, "data-id": String(t.id), tabIndex: 0 },
      el("div", { class: "top" },
        el("span", { class: "who" }, t.customer || t.caller || "Unknown caller"),
        el("span", { class: "dur", "data-since": String(t.started_at) }, since(t.started_at))),
      el("div", { class: "sub" }, `${t.caller || "number withheld"} · ${t.agent} (${t.brain})${t.node != null ? ` · node ${t.node}` : ""}`),
      el("span", { class: `state ${t.state}` }, STATE_TEXT[t.state] || t.state),
      el("div", { class: "metrics" },
        el("span", {}, `last ${h.last_latency_ms != null ? h.last_latency_ms + " ms" : "–"}`),
        el("span", {}, `p95 ${h.p95_latency_ms != null ? h.p95_latency_ms + " ms" : "–"}`),
        el("span", {}, `${h.turns} turns`)),
      chips,
    );
    node.addEventListener("click", () => this.open(t.id));
    node.addEventListener("keydown", (e) => e.key === "Enter" && this.open(t.id));
    return node;
  },

  tick() {
    for (const d of document.querySelectorAll(".tile .dur")) d.textContent = since(Number(d.dataset.since));
  },

  open(id) {
    this.opened = id;
    this.detail = null;
    $("detail").hidden = false;
    $("d-title").textContent = "Loading…";
    $("d-note-status").textContent = "";
    $("d-takeover-status").textContent = "";
    const ext = $("d-takeover").elements.extension;
    if (!ext.value) ext.value = localStorage.getItem("takeover-extension") || (session.me && session.me.agent_extension) || "";
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ type: "open", id }));
    this.render();
  },

  closeDetail() {
    this.opened = null;
    this.detail = null;
    $("detail").hidden = true;
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ type: "close" }));
  },

  ended(id) {
    if (id !== this.opened) return;
    $("d-sub").textContent = "This AI engagement has ended.";
    $("d-approval").hidden = true;
  },

  renderDetail() {
    this.renderDetailHead();
    this.renderTranscript();
    this.renderEvents();
  },

  renderDetailHead() {
    const t = this.detail.tile;
    $("d-title").textContent = t.customer || t.caller || "Unknown caller";
    const callLink = t.call_id != null ? ` · call #${t.call_id}` : "";
    // A call on another node of a cluster: what a supervisor does here is carried out there.
    const where = t.node != null ? ` · on node ${t.node}` : "";
    $("d-sub").textContent = `${t.caller || "number withheld"} · ${t.agent} · ${STATE_TEXT[t.state] || t.state}${callLink}${where}`;
    $("d-alerts").replaceChildren(...t.alerts.map((a) => el("span", { class: `chip ${a.level}` }, a.text)));
    $("d-approval").hidden = !t.approval;
    if (t.approval) $("d-approval-text").textContent = `${t.approval.tool} ${JSON.stringify(t.approval.arguments)}`;
  },

  renderTranscript() {
    const box = $("d-transcript");
    box.replaceChildren(
      ...this.detail.transcript.map((l) =>
        el("li", { class: `${l.speaker} ${l.partial ? "partial" : ""}` },
          el("span", { class: "speaker" }, l.speaker === "ai" ? "AI" : "Caller"), l.text)),
    );
    box.scrollTop = box.scrollHeight;
  },

  renderEvents() {
    const box = $("d-events");
    const shown = this.detail.events.filter((e) => e.kind !== "tools_started");
    box.replaceChildren(...shown.map((e) => this.event(e)));
    box.scrollTop = box.scrollHeight;
  },

  event(e) {
    const time = new Date(e.at).toLocaleTimeString();
    const d = e.data || {};
    let text = "";
    let err = false;
    switch (e.kind) {
      case "tool_call":
        text = `${d.tool}(${JSON.stringify(d.arguments)}) ${d.duration_ms} ms`;
        err = d.error != null;
        break;
      case "supervisor_note": text = `${d.by} sent ${d.kind}: ${d.text}`; break;
      case "guidance_acknowledged": text = `AI took ${d.by}'s note into its turn`; break;
      case "approval_needed": text = `${d.tool} waits for approval`; break;
      case "approval_given": text = `${d.by} approved ${d.tool}`; break;
      case "approval_refused": text = `${d.by} refused ${d.tool}`; break;
      case "supervisor_takeover": text = `${d.by} takes over on ${phoneName(d.extension)}`; break;
      case "supervisor_listen": text = `${d.by} listens in on ${phoneName(d.extension)}`; break;
      case "latency": text = `first audio ${d.first_audio_ms ?? "–"} ms after end of turn`; break;
      case "handoff": text = `hand-off: ${d.reason || ""}`; break;
      default: text = "";
    }
    const detail = e.kind === "tool_call" ? el("pre", {}, JSON.stringify(d.error != null ? d.error : d.result, null, 1)) : null;
    return el("li", { "data-kind": e.kind },
      el("span", { class: "sub" }, time + " "), el("span", { class: "kind" }, e.kind.replace(/_/g, " ")),
      text ? el("span", { class: err ? "err" : "" }, " " + text) : null, detail);
  },
};

$("d-close").addEventListener("click", () => grid.closeDetail());

async function sendNote(kind, text) {
  const id = grid.opened;
  if (id == null) return;
  try {
    await api("POST", `/api/live/calls/${id}/notes`, { kind, text });
    $("d-note-status").textContent = kind === "advice" ? "Sent; the AI reads it at its next turn." : `Sent (${kind}).`;
  } catch (e) {
    $("d-note-status").textContent = `Not sent: ${e.message}`;
  }
}

$("d-note").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = ev.target.elements;
  await sendNote(f.kind.value, f.text.value);
  if (!$("d-note-status").textContent.startsWith("Not sent")) f.text.value = "";
});
$("d-approve").addEventListener("click", () => sendNote("approve", ""));
$("d-deny").addEventListener("click", () => sendNote("deny", ""));

/** A supervisor's phone as people say it: an extension, or (a personal line) their browser. */
const phoneName = (extension) => (String(extension).startsWith("user-") ? "their browser" : extension);

async function phoneAction(action) {
  const id = grid.opened;
  const extension = $("d-takeover").elements.extension.value.trim();
  localStorage.setItem("takeover-extension", extension);
  try {
    const rung = await api("POST", `/api/live/calls/${id}/${action}`, { extension: extension || null });
    // The extension's desk phone and this browser's softphone (when it is on) both ring; a
    // supervisor without an extension has only the browser.
    const browser = phone.status === "registered" && rung.extension === phone.extension;
    const where = !browser ? rung.extension : phone.personal ? "this browser" : `${rung.extension} (and this browser)`;
    $("d-takeover-status").textContent = action === "takeover"
      ? `Ringing ${where}: answer to hear a briefing, then the caller.`
      : `Ringing ${where}: answer to listen in.`;
  } catch (e) {
    $("d-takeover-status").textContent = `Cannot ${action === "takeover" ? "take over" : "listen in"}: ${e.message}`;
  }
}

$("d-takeover").addEventListener("submit", (ev) => {
  ev.preventDefault();
  phoneAction("takeover");
});
$("d-listen").addEventListener("click", () => phoneAction("listen"));
