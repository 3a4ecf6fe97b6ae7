// Call history: the account's calls (an agent's own), newest first, with filters and paging;
// a call opens beside the list with its recording (a player that seeks), the people on it, its
// timeline, transcript, notes and outcome. The filters live in the address (`#/calls?…`) so a
// search can be shared and survives a reload.
import { $, api, atLeast, el } from "./lib.js";
import { superviseBar } from "./supervise.js";

const PAGE = 25;
const DISPOSITION = {
  answered: "Answered", no_answer: "No answer", busy: "Busy", voicemail: "Voicemail",
  abandoned: "Abandoned", failed: "Failed",
};
const FILTERS = ["q", "from", "to", "direction", "disposition", "number", "agent_extension", "queue", "has_recording"];

const when = (ms) => new Date(ms).toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
const clock = (ms) => {
  const s = Math.max(0, Math.round(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
};
const duration = (c) => (c.answered_at && c.ended_at ? clock(c.ended_at - c.answered_at) : "—");

export const history = {
  offset: 0,
  open: null,

  start() {
    const params = new URLSearchParams(location.hash.split("?")[1] || "");
    const form = $("calls-filters");
    for (const name of FILTERS) {
      const input = form.elements[name];
      if (!input) continue;
      if (input.type === "checkbox") input.checked = params.get(name) === "true";
      else input.value = params.get(name) || "";
    }
    form.elements.agent_extension.closest("label").hidden = !atLeast("supervisor");
    form.elements.queue.closest("label").hidden = !atLeast("supervisor");
    this.offset = Number(params.get("offset") || 0);
    this.load();
    const id = Number(params.get("call") || 0);
    if (id) this.show(id);
    else this.close();
  },

  /** The API query for the form's filters (dates as the local day's bounds). */
  query() {
    const form = $("calls-filters");
    const q = new URLSearchParams();
    for (const name of FILTERS) {
      const input = form.elements[name];
      if (!input || input.closest("label").hidden) continue;
      if (input.type === "checkbox") {
        if (input.checked) q.set(name, "true");
      } else if (input.value.trim()) {
        q.set(name, input.value.trim());
      }
    }
    return q;
  },

  async load() {
    const q = this.query();
    const api_q = new URLSearchParams(q);
    for (const [name, end] of [["from", false], ["to", true]]) {
      if (!q.get(name)) continue;
      const day = new Date(`${q.get(name)}T00:00:00`);
      if (end) day.setDate(day.getDate() + 1);
      api_q.set(name, String(day.getTime()));
    }
    api_q.set("limit", String(PAGE + 1));
    api_q.set("offset", String(this.offset));
    const status = $("calls-status");
    let calls;
    try {
      calls = await api("GET", `/api/calls?${api_q}`);
    } catch (e) {
      status.textContent = `Could not load calls: ${e.message}`;
      return;
    }
    const more = calls.length > PAGE;
    calls = calls.slice(0, PAGE);
    status.textContent = calls.length
      ? `Calls ${this.offset + 1}–${this.offset + calls.length}`
      : this.offset ? "No more calls." : "No calls match.";
    $("calls-rows").replaceChildren(...calls.map((c) => row(c, this.open)));
    $("calls-newer").disabled = this.offset === 0;
    $("calls-older").disabled = !more;
  },

  /** Writes the filters (and the open call) into the address; the router calls `start`. */
  navigate(extra = {}) {
    const q = this.query();
    if (this.offset) q.set("offset", String(this.offset));
    for (const [k, v] of Object.entries(extra)) if (v) q.set(k, String(v));
    const hash = `#/calls${q.toString() ? `?${q}` : ""}`;
    if (location.hash === hash) this.start();
    else location.hash = hash;
  },

  close() {
    this.open = null;
    $("call-detail").hidden = true;
    for (const r of document.querySelectorAll("#calls-rows tr")) r.classList.remove("open");
  },

  async show(id) {
    this.open = id;
    for (const r of document.querySelectorAll("#calls-rows tr")) r.classList.toggle("open", r.dataset.call === String(id));
    const box = $("call-detail");
    let c;
    try {
      c = await api("GET", `/api/calls/${id}`);
    } catch (e) {
      box.hidden = false;
      return box.replaceChildren(el("p", { class: "error" }, `Could not open the call: ${e.message}`));
    }
    if (this.open !== id) return;
    box.replaceChildren(...detail(c).filter(Boolean));
    box.hidden = false;
  },
};

function row(c, open) {
  // The customer's page is a click away (not opening the call on the way).
  const who = c.customer_name && c.customer_id
    ? el("a", { href: `#/customers/${c.customer_id}`, class: "cust-link", onclick: (e) => e.stopPropagation() }, c.customer_name)
    : "";
  const tr = el("tr", { "data-call": String(c.id), class: c.id === open ? "open" : "", tabIndex: 0 },
    el("td", { class: "nowrap" }, when(c.started_at)),
    el("td", {}, el("span", { class: `dir ${c.direction}` }, c.direction)),
    el("td", {}, el("div", {}, c.from_number), el("div", { class: "sub" }, `to ${c.to_number}`)),
    el("td", {}, who || el("span", { class: "sub" }, "—")),
    el("td", {}, c.agent_extension ? `ext ${c.agent_extension}` : c.ai_agent ? `AI · ${c.ai_agent}` : el("span", { class: "sub" }, "—")),
    el("td", { class: "num" }, duration(c)),
    el("td", {}, c.disposition ? el("span", { class: `disp ${c.disposition}` }, DISPOSITION[c.disposition] || c.disposition)
      : el("span", { class: "disp live" }, "In progress")),
    el("td", {}, c.recordings ? el("span", { class: "rec-mark", title: "Recorded" }, "● Rec") : ""));
  const go = () => history.navigate({ call: c.id });
  tr.addEventListener("click", go);
  tr.addEventListener("keydown", (e) => { if (e.key === "Enter") go(); });
  return tr;
}

/** When card payments were keyed during recording `r` (ms from its start): the caller's side
 * is silent there, from each payment's start to its end. */
function maskedIntervals(c, r) {
  const ends = ["payment_completed", "payment_declined", "payment_failed", "payment_cancelled"];
  const out = [];
  let from = null;
  for (const e of c.timeline) {
    if (e.kind === "payment_started") from = e.at;
    else if (from != null && ends.includes(e.kind)) {
      const a = Math.max(0, from - r.started_at);
      const b = Math.min(r.duration_ms, e.at - r.started_at);
      if (b > a) out.push([a, b]);
      from = null;
    }
  }
  return out;
}

/** The open call: header, recordings, people, notes, transcript and timeline. */
function detail(c) {
  const head = el("div", { class: "detail-head" },
    el("div", {},
      el("h3", {}, `${c.from_number} → ${c.to_number}`),
      c.customer_id ? el("a", { href: `#/customers/${c.customer_id}`, class: "cust-link" }, "Customer's page: calls and conversations") : null,
      el("div", { class: "sub" }, `${when(c.started_at)} · ${c.direction} · ${c.disposition ? DISPOSITION[c.disposition] : "in progress"}${c.hung_up_by ? ` (hung up by ${c.hung_up_by})` : ""} · talk time ${duration(c)}`)),
    el("button", { class: "ghost", title: "Close", onclick: () => history.navigate() }, "✕"));
  const players = [];
  const recs = c.recordings.length
    ? c.recordings.map((r, i) => {
      const audio = el("audio", { controls: true, preload: "metadata", src: r.audio_url, "data-recording": String(r.id) });
      players.push({ audio, start: r.started_at });
      const paused = r.paused.map(([a, b]) => `${clock(a)}–${clock(b)}`).join(", ");
      const masked = maskedIntervals(c, r).map(([a, b]) => `${clock(a)}–${clock(b)}`).join(", ");
      const words = { pending: " · transcript on its way", failed: " · no transcript" }[r.transcript] || "";
      return el("div", { class: "recording" },
        el("div", { class: "sub" }, `Recording ${i + 1} · ${clock(r.duration_ms)} · started ${r.started_by === "automatic" ? "automatically" : `by ${r.started_by}`}${paused ? ` · paused ${paused}` : ""}${masked ? ` · card keyed ${masked} (the caller's side silenced)` : ""} · caller left, agent right${words}`),
        audio);
    })
    : [el("p", { class: "sub" }, "Not recorded.")];
  const people = c.legs.map((l) => el("li", {},
    el("span", { class: "kind" }, l.kind), ` ${l.endpoint}`,
    el("span", { class: "sub" }, ` · ${l.outcome || (l.answered_at ? "answered" : "")}`)));
  const notes = c.wrap_ups.length
    ? c.wrap_ups.map((w) => el("li", {}, el("strong", {}, w.author), w.outcome ? el("span", { class: "disp answered" }, w.outcome) : null, w.notes ? el("div", {}, w.notes) : null))
    : [el("li", { class: "sub" }, "No notes.")];
  // A transcript line jumps the player to where it was said.
  const transcript = c.transcript.length
    ? c.transcript.map((t) => {
      const li = el("li", { class: t.speaker === "ai" ? "ai" : "" }, el("span", { class: "speaker" }, t.name || t.speaker), el("span", { class: "sub" }, clock(t.start_ms)), " ", t.text);
      if (players.length) {
        li.classList.add("seekable");
        li.addEventListener("click", () => {
          const p = players[0];
          p.audio.currentTime = Math.max(0, (c.started_at + t.start_ms - p.start) / 1000);
          p.audio.play().catch(() => {});
        });
      }
      return li;
    })
    : [el("li", { class: "sub" }, "No transcript.")];
  const timeline = c.timeline.map((e) => el("li", {},
    el("span", { class: "sub" }, clock(e.at - c.started_at)), " ", el("span", { class: "kind" }, e.kind.replaceAll("_", " ")),
    Object.keys(e.data || {}).length ? el("span", { class: "sub" }, ` ${summary(e.data)}`) : null));
  return [
    head,
    superviseBar(c),
    el("h4", {}, "Recording"), ...recs,
    cost(c),
    el("div", { class: "cols" },
      el("section", {}, el("h4", {}, "People"), el("ul", { class: "events" }, ...people)),
      el("section", {}, el("h4", {}, "Notes and outcome"), el("ul", { class: "events" }, ...notes))),
    el("div", { class: "cols" },
      el("section", {}, el("h4", {}, "Transcript"), el("ol", { class: "transcript" }, ...transcript)),
      el("section", {}, el("h4", {}, "Timeline"), el("ol", { class: "events", id: "call-timeline" }, ...timeline))),
  ];
}

const usd = (micros) => `$${(micros / 1e6).toFixed(micros && Math.abs(micros) < 10000 ? 4 : 2)}`;
const perMinute = (micros) => `$${(micros / 1e6).toFixed(4)}/min`;

/** What the call cost, by what it used: carrier minutes, AI tokens, cloud speech. */
function cost(c) {
  const rows = [];
  for (const e of c.timeline) {
    const d = e.data || {};
    if (e.kind === "carrier_usage") {
      const parts = [];
      if (d.inbound_seconds) parts.push(`in ${clock(d.inbound_seconds * 1000)} at ${perMinute(d.inbound_micros_per_minute)}`);
      if (d.outbound_seconds) parts.push(`out ${clock(d.outbound_seconds * 1000)} at ${perMinute(d.outbound_micros_per_minute)}`);
      rows.push(["Carrier", parts.join(", "), d.cost_micros]);
    } else if (e.kind === "ai_usage") {
      rows.push([`AI (${d.brain || "agent"})`, `${d.prompt_tokens || 0} prompt + ${d.completion_tokens || 0} completion tokens`, d.cost_micros]);
    } else if (e.kind === "speech_usage") {
      const parts = [];
      if (d.stt_seconds) parts.push(`recognition ${clock(d.stt_seconds * 1000)}`);
      if (d.tts_characters) parts.push(`synthesis ${d.tts_characters} characters (${clock((d.tts_seconds || 0) * 1000)})`);
      const what = { ai_agent: "AI agent", coaching: "coaching", recording: "recording transcript", voicemail: "voicemail transcript" }[d.for];
      rows.push([what ? `Cloud speech (${what})` : "Cloud speech", parts.join(", "), d.cost_micros]);
    }
  }
  const table = el("table", { class: "cost", id: "call-cost" },
    el("tbody", {},
      ...rows.map(([what, how, micros]) => el("tr", {}, el("th", {}, what), el("td", { class: "sub" }, how), el("td", { class: "num" }, usd(micros || 0)))),
      el("tr", { class: "total" }, el("th", {}, "Total"), el("td", {}, ""), el("td", { class: "num" }, usd(c.cost_micros || 0)))));
  return el("section", {}, el("h4", {}, "Cost"), rows.length ? table : el("p", { class: "sub" }, `Nothing billable (${usd(c.cost_micros || 0)}).`));
}

/** A timeline event's data in a few words. */
function summary(data) {
  return Object.entries(data)
    .filter(([, v]) => v !== null && typeof v !== "object")
    .slice(0, 4)
    .map(([k, v]) => `${k.replaceAll("_", " ")}: ${v}`)
    .join(" · ");
}

$("calls-filters").addEventListener("submit", (e) => {
  e.preventDefault();
  history.offset = 0;
  history.navigate();
});
$("calls-clear").addEventListener("click", () => {
  $("calls-filters").reset();
  history.offset = 0;
  history.navigate();
});
$("calls-newer").addEventListener("click", () => {
  history.offset = Math.max(0, history.offset - PAGE);
  history.navigate();
});
$("calls-older").addEventListener("click", () => {
  history.offset += PAGE;
  history.navigate();
});
