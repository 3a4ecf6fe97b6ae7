// The browser softphone: SIP over WebSocket (JsSIP, vendored) with credentials the server issues
// to the signed-in agent, WebRTC media to Switchboard's relay, two lines. Pages subscribe to
// changes; the active-call banner in the header follows the agent around the app.
import { $, api, el, since } from "./lib.js";

const LINES = 2;

function newLine(index) {
  return { index, session: null, state: "idle", peer: "", name: "", direction: "", started: 0, muted: false, held: false, stream: null, analyser: null, ctx: null };
}

export const phone = {
  ua: null,
  status: "off", // off | connecting | registered | failed
  error: "",
  lines: Array.from({ length: LINES }, (_, i) => newLine(i)),
  active: 0,
  listeners: new Set(),
  devices: { input: localStorage.getItem("phone-input") || "", output: localStorage.getItem("phone-output") || "" },
  ringtone: null,
  /** Whether the active call is recorded (`on`, `paused`, null), as the workspace last heard. */
  recording: null,
  /** Registrations refused in a row (the next try waits longer), and that try's timer. */
  failures: 0,
  retry: null,
  /** Counts stops (sign-out): a request or retry begun before one is dropped after it. */
  generation: 0,

  on(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  },

  changed() {
    for (const fn of this.listeners) fn(this);
    renderBanner(this);
  },

  async start() {
    // Once per page: every page asks for the phone, one registration serves them all.
    if (this.ua || this.starting || typeof JsSIP === "undefined") return;
    this.starting = true;
    try {
      await this.connect();
    } finally {
      this.starting = false;
    }
  },

  async connect() {
    this.status = "connecting";
    this.changed();
    let creds;
    const generation = this.generation;
    try {
      creds = await api("POST", "/api/me/softphone");
    } catch (e) {
      if (generation !== this.generation) return;
      this.status = "failed";
      this.error = e.message;
      this.changed();
      return this.renew(null);
    }
    if (generation !== this.generation) return;
    this.movingTo = null;
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    // A cluster's SIP entry when the server names one (every node reaches the browser there).
    const socket = new JsSIP.WebSocketInterface(creds.websocket_url || `${proto}//${location.host}${creds.websocket_path}`);
    const ua = new JsSIP.UA({
      sockets: [socket],
      uri: `sip:${creds.username}@${location.hostname}`,
      password: creds.password,
      display_name: creds.display_name,
      register: true,
      register_expires: 300,
      session_timers: false,
      user_agent: "Switchboard softphone",
    });
    this.ua = ua;
    this.extension = creds.extension;
    // A supervisor's personal line (no extension): no workspace, calls only extensions.
    this.personal = creds.extension.startsWith("user-");
    ua.on("registered", () => { this.status = "registered"; this.error = ""; this.failures = 0; this.changed(); });
    ua.on("unregistered", () => { if (this.ua === ua) { this.status = "connecting"; this.changed(); } });
    ua.on("registrationFailed", (e) => {
      if (this.ua !== ua) return;
      this.status = "failed";
      this.error = e.cause || "registration failed";
      this.changed();
      // Refused credentials are renewed; a registration that timed out or lost its connection
      // is tried again as it is (JsSIP reconnects by itself).
      const refused = [JsSIP.C.causes.AUTHENTICATION_ERROR, JsSIP.C.causes.REJECTED, JsSIP.C.causes.NOT_FOUND];
      this.renew(ua, refused.includes(e.cause));
    });
    ua.on("disconnected", () => { if (this.status === "registered") { this.status = "connecting"; this.changed(); } });
    ua.on("newRTCSession", (e) => this.session(e.session, e.originator));
    ua.start();
  },

  // A refused registration (credentials past their hours, the agent moved to another extension,
  // a cluster node that had not yet heard of them) is retried with fresh credentials (`fresh`),
  // any other failure with the same ones, sooner first: 2 s, 4 s … at most a minute apart. A
  // call in progress is never cut for new credentials: the phone waits until its lines are
  // free. Signing out (`stop`) ends the retries.
  renew(ua, fresh = true) {
    clearTimeout(this.retry);
    const wait = Math.min(60000, 2000 * 2 ** Math.min(this.failures, 5));
    const generation = this.generation;
    this.failures += 1;
    this.retry = setTimeout(() => {
      if (this.ua !== ua || generation !== this.generation) return;
      if (ua && !fresh) return ua.register();
      // A line busy: look again in 2 s (waiting on a call is not a refusal to back off from).
      if (this.lines.some((l) => l.state !== "idle")) {
        this.failures = 0;
        return this.renew(ua, fresh);
      }
      if (ua) ua.stop();
      this.ua = null;
      this.start();
    }, wait);
  },

  /** The server says the agent now works as another extension (an admin moved them): the
   * phone registers again as that one at once (once its lines are free), rather than at its
   * next refresh, which the server would refuse. */
  moved(extension) {
    if (!this.ua || this.movingTo === extension) return;
    this.movingTo = extension;
    this.failures = 0;
    this.renew(this.ua);
  },

  stop() {
    clearTimeout(this.retry);
    this.generation += 1;
    this.failures = 0;
    for (const line of this.lines) if (line.session) try { line.session.terminate(); } catch {}
    if (this.ua) this.ua.stop();
    this.ua = null;
    this.status = "off";
    this.changed();
  },

  freeLine() {
    return this.lines.find((l) => l.state === "idle");
  },

  session(session, originator) {
    const line = this.freeLine();
    if (!line) {
      if (originator === "remote") session.terminate({ status_code: 486, reason_phrase: "Busy Here" });
      return;
    }
    // JsSIP ends a session whose re-INVITE (hold, resume) is refused, and throws if the far
    // end's BYE ended it first (a hold crossing the server's release of the line): ending an
    // ended session is nothing to do.
    const terminate = session.terminate.bind(session);
    session.terminate = (options) => { if (!session.isEnded()) terminate(options); };
    const remote = session.remote_identity;
    Object.assign(line, newLine(line.index), {
      session,
      direction: originator === "remote" ? "in" : "out",
      state: originator === "remote" ? "ringing" : "calling",
      peer: remote && remote.uri ? remote.uri.user : "",
      name: (originator === "local" && this.label) || (remote && remote.display_name) || "",
    });
    this.label = "";
    if (originator === "remote") this.ring(true);
    const attach = () => {
      const pc = session.connection;
      if (!pc) return;
      pc.addEventListener("track", (ev) => {
        line.stream = ev.streams[0] || new MediaStream([ev.track]);
        playLine(line, this.devices.output);
      });
    };
    if (session.connection) attach();
    else session.on("peerconnection", attach);
    session.on("progress", () => { if (line.direction === "out") { line.state = "ringing-out"; this.changed(); } });
    session.on("accepted", () => { this.ring(false); line.state = "talking"; line.started = Date.now(); this.changed(); });
    session.on("confirmed", () => { if (!line.started) line.started = Date.now(); line.state = line.held ? "held" : "talking"; this.changed(); });
    session.on("hold", () => { line.held = true; line.state = "held"; this.changed(); });
    session.on("unhold", () => { line.held = false; line.state = "talking"; this.changed(); });
    const end = (e) => {
      this.ring(false);
      if (line.ctx) line.ctx.close().catch(() => {});
      // A refusal says why in its reason phrase (e.g. "Forbidden (international calls are not allowed)").
      const phrase = e && e.originator === "remote" && e.message && e.message.reason_phrase;
      const why = phrase && e.message.status_code >= 300 ? phrase : e && e.cause && e.cause !== JsSIP.C.causes.BYE ? e.cause : "";
      const status = e && e.originator === "remote" && e.message ? e.message.status_code : 0;
      const ended = { peer: line.peer, why, at: Date.now(), status, direction: line.direction, answered: Boolean(line.started) };
      Object.assign(line, newLine(line.index), { lastEnded: ended });
      const other = this.lines.find((l) => l.session);
      if (other) this.active = other.index;
      this.changed();
    };
    session.on("ended", end);
    session.on("failed", end);
    if (originator === "local" || !this.lines.some((l) => l !== line && l.session)) this.active = line.index;
    this.changed();
  },

  mediaOptions() {
    const audio = this.devices.input ? { deviceId: { exact: this.devices.input } } : true;
    return { mediaConstraints: { audio, video: false }, pcConfig: { iceServers: [] }, rtcOfferConstraints: { offerToReceiveAudio: true } };
  },

  /** Answers a ringing line; the line being talked on goes on hold. */
  answer(index) {
    const line = this.lines[index];
    if (!line.session || line.state !== "ringing") return;
    this.holdOthers(index);
    this.active = index;
    line.session.answer(this.mediaOptions());
  },

  decline(index) {
    const line = this.lines[index];
    if (line.session) line.session.terminate({ status_code: 486, reason_phrase: "Busy Here" });
  },

  hangup(index = this.active) {
    const line = this.lines[index];
    if (line.session) line.session.terminate();
  },

  holdOthers(index) {
    for (const l of this.lines) if (l.index !== index && l.session && l.state === "talking") l.session.hold();
  },

  toggleHold(index = this.active) {
    const line = this.lines[index];
    if (!line.session || !["talking", "held"].includes(line.state)) return;
    if (line.held) {
      this.holdOthers(index);
      this.active = index;
      this.reoffer(line, () => line.session.unhold());
    } else {
      this.reoffer(line, () => line.session.hold());
    }
  },

  /** Runs a re-INVITE (hold, resume); while the previous one is still being answered (a slow
   *  server, a quick second click) JsSIP refuses it, so it is tried again for a few seconds. */
  reoffer(line, attempt, tries = 30) {
    const session = line.session;
    if (!session || session.isEnded() || attempt() !== false || tries <= 0) return;
    setTimeout(() => { if (line.session === session) this.reoffer(line, attempt, tries - 1); }, 150);
  },

  /** Makes `index` the line being talked on: the other goes on hold. */
  switchTo(index) {
    const line = this.lines[index];
    this.active = index;
    if (line.session && line.held) this.toggleHold(index);
    else this.holdOthers(index);
    this.changed();
  },

  toggleMute(index = this.active) {
    const line = this.lines[index];
    if (!line.session) return;
    if (line.muted) line.session.unmute({ audio: true });
    else line.session.mute({ audio: true });
    line.muted = !line.muted;
    this.changed();
  },

  /** A key pressed during a call: sent by SIP INFO (an IVR or a payment line hears it). */
  dtmf(digit, index = this.active) {
    const line = this.lines[index];
    if (line.session && line.state === "talking") line.session.sendDTMF(digit, { transportType: "INFO", duration: 120 });
  },

  /** Calls a number or extension on a free line (the other goes on hold); `label` names the
   * call in the banner instead of the number dialled (a supervision code). */
  call(target, label = "") {
    if (!this.ua || this.status !== "registered") throw new Error("the phone is not connected");
    const line = this.freeLine();
    if (!line) throw new Error("both lines are busy");
    const clean = String(target).replace(/[\s().-]/g, "");
    if (!/^\+?[0-9*#]{2,20}$/.test(clean)) throw new Error("enter a number or an extension");
    this.holdOthers(-1);
    const uri = `sip:${encodeURIComponent(clean)}@${location.hostname}`;
    this.label = label;
    this.ua.call(uri, this.mediaOptions());
  },

  ring(on) {
    if (!on) {
      if (this.ringtone) { this.ringtone.stop(); this.ringtone = null; }
      return;
    }
    if (this.ringtone) return;
    try {
      const ctx = new AudioContext();
      const gain = ctx.createGain();
      gain.gain.value = 0;
      gain.connect(ctx.destination);
      for (const f of [440, 480]) {
        const o = ctx.createOscillator();
        o.frequency.value = f;
        o.connect(gain);
        o.start();
      }
      // North American ring cadence: 2 s on, 4 s off.
      const cycle = () => {
        const t = ctx.currentTime;
        gain.gain.setValueAtTime(0.08, t);
        gain.gain.setValueAtTime(0, t + 2);
      };
      cycle();
      const timer = setInterval(cycle, 6000);
      this.ringtone = { stop: () => { clearInterval(timer); ctx.close(); } };
    } catch {}
  },

  async setDevices(input, output) {
    this.devices = { input, output };
    localStorage.setItem("phone-input", input);
    localStorage.setItem("phone-output", output);
    for (const l of this.lines) if (l.stream) playLine(l, output);
  },

  /**
   * How loud `freq` Hz is in what the active line hears (0 to 255, from a WebAudio analyser),
   * and the loudest frequency: lets tests and a "can you hear me" check look at the audio.
   */
  listen(freq, index = this.active) {
    const line = this.lines[index];
    if (!line.stream) return null;
    if (!line.analyser) {
      const ctx = new AudioContext();
      const src = ctx.createMediaStreamSource(line.stream);
      const an = ctx.createAnalyser();
      an.fftSize = 4096;
      src.connect(an);
      line.analyser = an;
      line.ctx = ctx;
    }
    const an = line.analyser;
    const bins = new Uint8Array(an.frequencyBinCount);
    an.getByteFrequencyData(bins);
    const hz = line.ctx.sampleRate / an.fftSize;
    let peak = 0;
    for (let i = 1; i < bins.length; i++) if (bins[i] > bins[peak]) peak = i;
    const at = Math.round(freq / hz);
    const around = Math.max(bins[at - 1] || 0, bins[at] || 0, bins[at + 1] || 0);
    return { level: around, peak_hz: Math.round(peak * hz), peak_level: bins[peak] };
  },
};

function playLine(line, output) {
  if (!line.audio) {
    line.audio = new Audio();
    line.audio.autoplay = true;
  }
  line.audio.srcObject = line.stream;
  if (output && line.audio.setSinkId) line.audio.setSinkId(output).catch(() => {});
  line.audio.play().catch(() => {});
}

const STATE_TEXT = {
  ringing: "Incoming call", calling: "Calling…", "ringing-out": "Ringing…", talking: "On call", held: "On hold",
};

/** The banner under the header: an incoming call to accept, or the call in progress. */
function renderBanner(p) {
  const box = $("call-banner");
  if (!box) return;
  const lines = p.lines.filter((l) => l.session);
  box.hidden = lines.length === 0;
  box.replaceChildren(...lines.map((l) => {
    const who = l.name && l.name !== l.peer ? `${l.name} · ${l.peer}` : l.peer || "Unknown";
    const actions = l.state === "ringing"
      ? [el("button", { class: "accept", onclick: () => p.answer(l.index) }, "Accept"),
        el("button", { class: "danger", onclick: () => p.decline(l.index) }, "Decline")]
      : [el("button", { class: `ghost-b ${l.muted ? "on" : ""}`, onclick: () => p.toggleMute(l.index) }, l.muted ? "Unmute" : "Mute"),
        el("button", { class: "danger", onclick: () => p.hangup(l.index) }, "Hang up")];
    // The line being talked on shows whether the call is recorded (what the workspace knows).
    const rec = p.recording && l.index === p.active && l.state !== "ringing"
      ? el("span", { class: `banner-rec ${p.recording}`, "data-state": p.recording, title: p.recording === "paused" ? "Recording paused" : "This call is being recorded" },
        p.recording === "paused" ? "REC paused" : "REC")
      : null;
    return el("div", { class: `banner-line ${l.state}`, "data-line": String(l.index) },
      el("span", { class: "banner-state" }, STATE_TEXT[l.state] || l.state),
      rec,
      el("strong", {}, who),
      el("span", { class: "sub banner-time", "data-since": String(l.started || "") }, l.started ? since(l.started) : ""),
      p.personal ? null : el("a", { href: "#/workspace" }, `Line ${l.index + 1}`),
      ...actions);
  }));
}

setInterval(() => {
  for (const d of document.querySelectorAll("[data-since]")) if (d.dataset.since) d.textContent = since(Number(d.dataset.since));
}, 1000);

window.switchboardPhone = phone;
