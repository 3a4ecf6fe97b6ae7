//! The call router: connects the telephony engine to the application. Who may register (from
//! the agents' configuration, kept current); each new call's plan (from the planner) carried
//! out: rung, dialled, refused, or answered and handed to the dispatcher; what the engine
//! reports about each call turned into its record.

use crate::calls::activity::Line;
use crate::calls::answered::{AnsweredCall, LegEvent, Legs, Verdict};
pub use crate::calls::directory::load_directory;
use crate::calls::planner::{Plan, Planner, Prepared};
use crate::db::Db;
use crate::error::Result;
use crate::store::calls;
use crate::store::calls::{Disposition, Ending, HungUpBy};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use switchboard_telephony::driver::{self, SipConfig, SipHandle};
use switchboard_telephony::media::relay::{MediaSide, PortPool, Relay};
use switchboard_telephony::sip::b2bua::{CallEvent, CallId, MediaPorts, Outcome, RouteDecision, Side};
use switchboard_telephony::sip::registrar::{RegistrarConfig, RegistrarEvent};
use switchboard_telephony::sip::server::ServerEvent;
use tokio::sync::mpsc;

mod conference;
mod cost;
mod logs;
use logs::{ending_text, media_quality, CallLog};
mod supervision;
mod transfer;

/// How often the directory is reloaded even without a change notice (covers changes made by
/// another process, such as `switchboard import`).
pub const REFRESH: Duration = Duration::from_secs(10);

fn random_secret() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// Where SIP listens and what it may use.
#[derive(Clone)]
pub struct SipOptions {
    pub bind: SocketAddr,
    pub rtp_ports: (u16, u16),
    /// Advertised to browsers for media when set (NAT).
    pub public_ip: Option<IpAddr>,
    /// What browsers' legs offer and accept.
    pub browser_codecs: switchboard_telephony::media::webrtc::BrowserCodecs,
    pub data_dir: std::path::PathBuf,
    /// Per-source request limits (flood protection).
    pub flood: switchboard_telephony::sip::flood::FloodConfig,
}

/// What `start` runs.
pub struct Started {
    pub sip: SipHandle,
    /// Ends when SIP has stopped, the router has seen its last event and the call records it
    /// queued are written.
    pub task: tokio::task::JoinHandle<()>,
    pub records: calls::RecordWriter,
}

/// Keeps the configuration snapshot and the SIP directory current (a supervised task).
struct Reloader {
    db: Db,
    changed: crate::calls::snapshot::ConfigVersion,
    snapshot: tokio::sync::watch::Sender<Arc<crate::calls::snapshot::Snapshot>>,
    sip: SipHandle,
}

impl crate::supervise::Supervised for Reloader {
    async fn run(&mut self) {
        loop {
            let version = self.changed.next(REFRESH).await;
            match crate::calls::snapshot::Snapshot::load(&self.db).await {
                Ok(s) => {
                    let _ = self.snapshot.send(Arc::new(s));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot reload the configuration; keeping the previous one")
                }
            }
            match load_directory(&self.db).await {
                Ok(d) => self.sip.set_directory(d).await,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot reload the SIP directory; keeping the previous one")
                }
            }
            self.changed.applied(version);
        }
    }
}

impl crate::supervise::Supervised for driver::SipDriver {
    async fn run(&mut self) {
        driver::SipDriver::run(self).await
    }

    fn last_input(&self) -> String {
        driver::SipDriver::last_input(self)
    }
}

/// The router's task: call events and prepared plans in, routing out (supervised: its calls
/// and channels survive a restart).
struct RouterTask {
    router: CallRouter,
    events: mpsc::Receiver<ServerEvent>,
    planned: tokio::sync::mpsc::UnboundedReceiver<Prepared>,
    transfers: mpsc::UnboundedReceiver<crate::calls::transfer::Request>,
    conferences: mpsc::UnboundedReceiver<crate::calls::conference::Request>,
    /// What it handled last, for the log.
    last: String,
}

impl crate::supervise::Supervised for RouterTask {
    async fn run(&mut self) {
        loop {
            let e = tokio::select! {
                e = self.events.recv() => match e {
                    Some(e) => e,
                    None => break,
                },
                Some(request) = self.conferences.recv() => {
                    self.last = "a conference or warm transfer".into();
                    self.router.conference_request(request).await;
                    continue;
                }
                Some(request) = self.transfers.recv() => {
                    self.last = "a transfer".into();
                    self.router.transfer_request(request).await;
                    continue;
                }
                Some(prepared) = self.planned.recv() => {
                    self.last = format!("the plan of call {:?} from {}", prepared.inc.call, prepared.from);
                    self.router.apply(prepared).await;
                    self.router.count_relays();
                    continue;
                }
            };
            self.last = match &e {
                // A keypad digit may be a card's: never in a log.
                ServerEvent::Call(CallEvent::Dtmf { call, .. }) => format!("a keypad digit on {call}"),
                e => format!("{e:?}").chars().take(300).collect(),
            };
            match e {
                ServerEvent::Call(e) => self.router.handle(e).await,
                ServerEvent::Registrar(RegistrarEvent::Registered {
                    account,
                    extension,
                    contact,
                    source,
                }) => {
                    tracing::debug!(account, %extension, %contact, %source, "SIP registered")
                }
                ServerEvent::Registrar(RegistrarEvent::Unregistered { account, extension, contact })
                | ServerEvent::Registrar(RegistrarEvent::Expired { account, extension, contact }) => {
                    tracing::debug!(account, %extension, %contact, "SIP registration ended")
                }
                ServerEvent::Registrar(RegistrarEvent::AuthFailed { source, username }) => {
                    // At most a few per source: the registrar blocks a source after repeated failures.
                    tracing::warn!(%source, %username, "SIP authentication failed")
                }
                ServerEvent::Registrar(RegistrarEvent::Blocked { source }) => {
                    tracing::warn!(%source, "SIP source blocked after repeated authentication failures")
                }
                ServerEvent::Malformed { source, reason } => {
                    tracing::debug!(%source, %reason, "malformed SIP")
                }
                ServerEvent::Flood { source, dropped } => {
                    tracing::warn!(%source, dropped, "SIP source over its request rate; its requests are dropped for a cool-down")
                }
            }
        }
    }

    fn last_input(&self) -> String {
        self.last.clone()
    }
}

/// Starts SIP with RTP, loads the directory and keeps it current, and routes calls; the SIP
/// driver, the reloader, the router and the call-record writer run as supervised parts of
/// `health`.
pub async fn start(
    db: Db,
    options: SipOptions,
    changed: crate::calls::snapshot::ConfigVersion,
    relays_open: Arc<std::sync::atomic::AtomicUsize>,
    live: crate::live::Live,
    health: &crate::supervise::Health,
) -> Result<Started> {
    let (events_tx, events) = mpsc::channel(1024);
    let bind = options.bind;
    let media_ip = if bind.ip().is_unspecified() { IpAddr::from([127, 0, 0, 1]) } else { bind.ip() };
    let pool = Arc::new(PortPool::new(options.rtp_ports.0, options.rtp_ports.1));
    let webrtc = switchboard_telephony::media::gateway::WebRtcConfig {
        pool: pool.clone(),
        bind: if options.public_ip.is_some() { IpAddr::from([0, 0, 0, 0]) } else { media_ip },
        advertise: options.public_ip,
        codecs: options.browser_codecs,
    };
    let config = SipConfig {
        webrtc: Some(webrtc),
        bind: options.bind,
        registrar: RegistrarConfig::default(),
        secret: random_secret(),
        nonce_secret: db.sip_nonce_secret(),
        server_name: format!("Switchboard/{}", env!("CARGO_PKG_VERSION")),
    };
    let (handle, sip_driver) = driver::bind(config, events_tx).await?;
    handle.set_flood_limits(options.flood.clone()).await;
    handle.set_directory(load_directory(&db).await?).await;
    let driver_task = health.supervise("sip", sip_driver);
    let router_db = db.clone();
    let (snapshot_tx, snapshot_rx) =
        tokio::sync::watch::channel(Arc::new(crate::calls::snapshot::Snapshot::load(&db).await?));
    health.supervise("config", Reloader { db, changed, snapshot: snapshot_tx, sip: handle.clone() });
    let (planned_tx, planned_rx) = tokio::sync::mpsc::unbounded_channel::<Prepared>();
    let records = calls::RecordWriter::start_supervised(router_db.clone(), health);
    // What calls make agents do (on a call, wrap-up, ready) goes into their timelines.
    live.agents().write_timelines(router_db.clone());
    live.recordings().attach(crate::calls::recording::Env {
        db: router_db.clone(),
        records: records.clone(),
        data_dir: options.data_dir.clone(),
        snapshot: snapshot_rx.clone(),
    });
    live.payments().attach(crate::calls::payment::Env { db: router_db.clone(), records: records.clone() });
    live.coaching().attach(crate::calls::coach::Env {
        db: router_db.clone(),
        records: records.clone(),
        snapshot: snapshot_rx.clone(),
    });
    let flush_on_exit = records.clone();
    let router = CallRouter {
        db: router_db.clone(),
        sip: handle.clone(),
        calls: HashMap::new(),
        relays_open,
        data_dir: options.data_dir,
        records: records.clone(),
        planner: Planner {
            snapshot: snapshot_rx,
            records: records.clone(),
            pool,
            media_ip,
            overrides: live.overrides().clone(),
        },
        planned: planned_tx,
        ended_early: HashMap::new(),
        live,
        call_log: CallLog { window_start: None, logged: 0, quiet: 0 },
        confs: Default::default(),
    };
    let (transfers, conferences) = (router.live.transfers().attach(), router.live.conferences().attach());
    let task =
        RouterTask { router, events, planned: planned_rx, transfers, conferences, last: String::new() };
    let router_task = health.supervise("router", task);
    // Done when SIP has stopped, the router has seen its last event and every call record
    // update it queued is written.
    let task = tokio::spawn(async move {
        let _ = driver_task.await;
        let _ = router_task.await;
        if tokio::time::timeout(std::time::Duration::from_secs(10), flush_on_exit.flush()).await.is_err() {
            tracing::warn!("call records were still being written at shutdown");
        }
    });
    Ok(Started { sip: handle, task, records })
}

/// What the application keeps per live call.
struct ActiveCall {
    account: Option<i64>,
    relay: Option<Arc<Relay>>,
    record: Option<calls::RecordKey>,
    /// The caller's number as presented, and the number or extension they called.
    from: String,
    to: String,
    /// Dropped when the call ends: tells whatever serves the call (IVR, AI agent) to stop.
    ended: Option<tokio::sync::oneshot::Sender<()>>,
    /// Told when someone answers (instead of stopping the caller's playback at once: an AI
    /// agent finishes its sentence, then gives the caller to the person) or nobody does.
    legs: Option<mpsc::UnboundedSender<LegEvent>>,
    /// What a service decided the call amounted to.
    verdict: Verdict,
    /// The agent rung without answering the caller, whose forwarding applies if they do not
    /// answer.
    ringing: Option<String>,
    /// The leg rung or dialled directly (not by a service), until answered or unreached.
    leg: Option<calls::LegKey>,
    /// Digits the caller presses, kept until someone serves the call.
    keys: Option<mpsc::UnboundedReceiver<char>>,
    /// Where the caller's digits go, SIP INFO ones (a browser's keypad) with those heard in the
    /// media; a new receiver when the call is handed over again (a transfer).
    info_keys: Option<Arc<Keypad>>,
    /// The agent who placed the call, and the agent rung for it directly: on a call once it is
    /// answered (see `calls::activity`).
    placed_by: Option<(i64, String)>,
    rung: Option<(i64, String)>,
    /// The placing agent's class of service limits the call (minutes from the answer).
    limit_minutes: Option<u32>,
}

impl ActiveCall {
    fn new(account: Option<i64>, record: Option<calls::RecordKey>, from: &str, to: &str) -> ActiveCall {
        ActiveCall {
            account,
            relay: None,
            record,
            from: from.to_string(),
            to: to.to_string(),
            ended: None,
            legs: None,
            verdict: Default::default(),
            ringing: None,
            leg: None,
            keys: None,
            info_keys: None,
            placed_by: None,
            rung: None,
            limit_minutes: None,
        }
    }
}

use crate::calls::keypad::{Keypad, Pressed};

/// How a call ended, from the engine's outcome and what the services decided.
fn ending(outcome: Outcome, verdict: Option<Disposition>) -> Ending {
    let (disposition, hung_up_by) = match outcome {
        Outcome::HungUpBySystem => (Disposition::Answered, Some(HungUpBy::System)),
        Outcome::Completed { hung_up_by: Side::Caller } => (Disposition::Answered, Some(HungUpBy::Caller)),
        Outcome::Completed { hung_up_by: Side::Callee } => (Disposition::Answered, Some(HungUpBy::Callee)),
        Outcome::Busy => (Disposition::Busy, None),
        Outcome::NoAnswer | Outcome::Rejected(480) => (Disposition::NoAnswer, None),
        Outcome::Cancelled => (Disposition::Abandoned, Some(HungUpBy::Caller)),
        Outcome::Rejected(486) | Outcome::Rejected(600) => (Disposition::Busy, None),
        Outcome::Rejected(_) => (Disposition::Failed, None),
    };
    Ending { disposition: verdict.unwrap_or(disposition), hung_up_by, carrier: None }
}

/// Turns call events into routing decisions, media relays and call records.
struct CallRouter {
    db: Db,
    sip: SipHandle,
    calls: HashMap<CallId, ActiveCall>,
    relays_open: Arc<std::sync::atomic::AtomicUsize>,
    data_dir: std::path::PathBuf,
    records: calls::RecordWriter,
    planner: Planner,
    planned: tokio::sync::mpsc::UnboundedSender<Prepared>,
    /// Calls that ended while their plan was being prepared, with how they ended.
    ended_early: HashMap<CallId, Ending>,
    /// Live AI engagements (the supervisors' view).
    live: crate::live::Live,
    call_log: CallLog,
    /// Joined calls and conferences (see `router/conference.rs`).
    confs: conference::Confs,
}

impl CallRouter {
    /// Answers a call that the PBX serves itself and hands it to the dispatcher, from `target`.
    async fn serve_here(&mut self, call: CallId, target: crate::model::Target) {
        let Some(answered) = self.answered_call(call) else { return };
        let media = MediaPorts { a: answered.relay.a_local, b: answered.relay.b_local };
        self.sip.route(call, RouteDecision::Answer { media }).await;
        tokio::spawn(crate::calls::dispatch::run(answered, target));
    }

    /// The call as a service gets it (new channels for its end, its legs and its digits).
    fn answered_call(&mut self, call: CallId) -> Option<AnsweredCall> {
        let active = self.calls.get_mut(&call)?;
        let (Some(account), Some(relay)) = (active.account, active.relay.clone()) else { return None };
        let (ended_tx, ended) = tokio::sync::oneshot::channel();
        let (legs_tx, legs) = mpsc::unbounded_channel();
        active.ended = Some(ended_tx);
        active.legs = Some(legs_tx);
        let digits = active.keys.take().unwrap_or_else(|| {
            // Served before: the digits go to the new service from now on.
            let (tx, rx) = mpsc::unbounded_channel();
            if let Some(keypad) = &active.info_keys {
                keypad.serve(tx);
            }
            rx
        });
        Some(AnsweredCall {
            db: self.db.clone(),
            sip: self.sip.clone(),
            call,
            account,
            relay: relay.clone(),
            data_dir: self.data_dir.clone(),
            records: self.records.clone(),
            record: active.record,
            digits,
            caller: crate::calls::planner::as_e164(&active.from),
            ended,
            legs: Legs::new(legs),
            snapshot: self.planner.snapshot.clone(),
            live: self.live.clone(),
            lead_in: None,
            verdict: active.verdict.clone(),
        })
    }

    async fn handle(&mut self, e: CallEvent) {
        self.dispatch(e).await;
        self.count_relays();
    }

    fn count_relays(&self) {
        let open = self.calls.values().filter(|c| c.relay.is_some()).count();
        self.relays_open.store(open, std::sync::atomic::Ordering::Relaxed);
    }

    async fn dispatch(&mut self, e: CallEvent) {
        match e {
            CallEvent::Incoming(inc) => {
                let (planner, planned) = (self.planner.clone(), self.planned.clone());
                tokio::spawn(async move {
                    let _ = planned.send(planner.prepare(inc).await);
                });
            }
            CallEvent::Ringing { call } => self.event(call, "ringing", serde_json::json!({})).await,
            CallEvent::Answered { call, contact, extension } => {
                if self.supervisor_answered(call).await {
                    return; // a supervisor's phone we rang: joined to the call they supervise
                }
                if let Some(active) = self.calls.get_mut(&call) {
                    // Which member of a ring group took it (the service waiting on the ring).
                    if let (Some(extension), Some(legs)) = (&extension, &active.legs) {
                        let _ = legs.send(LegEvent::AnsweredBy(extension.clone()));
                    }
                    // Agents on the call are busy until it ends (a call we answer ourselves
                    // has only its caller).
                    let answered_by_person = contact != "switchboard";
                    if let Some((account, extension)) = &active.placed_by {
                        let line = Line::new(call, Some(active.to.clone()), active.record);
                        self.live.agents().answered(*account, extension, line, 0);
                    }
                    if let Some((account, extension)) = active.rung.as_ref().filter(|_| answered_by_person) {
                        let line = Line::new(call, Some(active.from.clone()), active.record);
                        self.live.agents().answered(*account, extension, line, 0);
                    }
                    // Recorded from now if the number's or the agent's setting says so.
                    let agent = active.rung.as_ref().or(active.placed_by.as_ref()).map(|(_, e)| e.clone());
                    if let (Some(key), Some(extension), true) = (active.record, agent, answered_by_person) {
                        self.live.recordings().answered(key, None, &extension);
                    }
                    if let Some(id) = active.record {
                        self.records.answered(id);
                    }
                    // A class of service's longest call counts from the answer.
                    if let (Some(minutes), Some(relay)) = (active.limit_minutes.take(), &active.relay) {
                        let (relay, records) = (Arc::downgrade(relay), self.records.clone());
                        let sip = self.sip.clone();
                        crate::calls::time_limit::enforce(
                            sip,
                            call,
                            relay,
                            MediaSide::A,
                            records,
                            active.record,
                            minutes,
                        );
                    }
                    // Whoever was rung directly took the call: no forwarding any more.
                    active.ringing = None;
                    if let Some(leg) = active.leg.take() {
                        self.records.leg_answered(leg);
                    }
                }
                self.event(call, "answered", serde_json::json!({ "contact": contact })).await;
            }
            CallEvent::Media { call, a_remote, b_remote, payload_type, a_dtmf, b_dtmf } => {
                if let Some(active) = self.calls.get_mut(&call) {
                    if let Some(relay) = &active.relay {
                        relay.set_payload_type(payload_type);
                        relay.update(a_remote, b_remote, a_dtmf, b_dtmf);
                        if b_remote.is_some() {
                            // Someone answered: whatever we were playing to the caller stops
                            // (or is told to finish first).
                            let told =
                                active.legs.as_ref().is_some_and(|l| l.send(LegEvent::Answered).is_ok());
                            if !told {
                                relay.stop_playing(switchboard_telephony::media::relay::MediaSide::A);
                            }
                        }
                    }
                }
                tracing::debug!(%call, ?a_remote, ?b_remote, payload_type, "media");
            }
            CallEvent::Unreached { call, status } => {
                self.event(call, "unreached", serde_json::json!({ "status": status })).await;
                // An agent rung without answering the caller: their forwarding takes the call.
                let (ringing, leg) = match self.calls.get_mut(&call) {
                    Some(c) => {
                        c.rung = None;
                        (c.ringing.take(), c.leg.take())
                    }
                    None => (None, None),
                };
                if let Some(leg) = leg {
                    self.records.leg_ended(leg, &crate::calls::answered::unreached_outcome(status));
                }
                if let Some(extension) = ringing {
                    return self.forward(call, &extension, status).await;
                }
                // Whoever serves the call decides what the caller hears next.
                let told = self
                    .calls
                    .get(&call)
                    .and_then(|c| c.legs.as_ref())
                    .is_some_and(|l| l.send(LegEvent::Unreached(status)).is_ok());
                if told {
                    return;
                }
                // Nobody serves it any more: busy tone, then goodbye.
                if let Some(relay) = self.calls.get(&call).and_then(|c| c.relay.clone()) {
                    let sip = self.sip.clone();
                    tokio::spawn(async move {
                        let _ = relay
                            .play(
                                switchboard_telephony::media::relay::MediaSide::A,
                                Box::new(switchboard_telephony::media::player::Tone::busy(8000).for_ms(3000)),
                            )
                            .await;
                        sip.hangup(call).await;
                    });
                }
            }
            CallEvent::Hold { call, side, on } => {
                let who = if side == Side::Caller { "caller" } else { "callee" };
                self.event(call, if on { "hold" } else { "resume" }, serde_json::json!({ "by": who })).await;
                if self.party_holds(call, side, on) {
                    return; // a conference party: not heard meanwhile, and no music into the conference
                }
                // The other side hears the account's hold music (or the hold chime) meanwhile.
                let other = if side == Side::Caller { MediaSide::B } else { MediaSide::A };
                self.hold_music(call, other, on);
            }
            CallEvent::TransferRequested { call, side, target } => self.refer(call, side, &target).await,
            CallEvent::LegLeft { call, side } => self.party_left(call, side).await,
            CallEvent::AttendedTransferRequested { call, replaces } => {
                self.attended_refer(call, replaces).await
            }
            CallEvent::CalleeLeft { call } => {
                // Someone listening in hung up; the caller stays with the AI agent.
                self.event(call, "callee_left", serde_json::json!({})).await;
                if let Some(legs) = self.calls.get(&call).and_then(|c| c.legs.as_ref()) {
                    let _ = legs.send(LegEvent::Left);
                }
            }
            CallEvent::Dtmf { call, side, digit } => {
                // The caller's keys reach whoever serves the call (an IVR menu, a queue's
                // opt-out key) whichever way they came; a card's digits reach its capture only.
                let media_side = if side == Side::Caller { MediaSide::A } else { MediaSide::B };
                let keypad = self.calls.get(&call).and_then(|c| c.info_keys.as_ref());
                if keypad.is_some_and(|k| k.press(media_side, digit) == Pressed::Captured) {
                    return;
                }
                let side = if side == Side::Caller { "caller" } else { "callee" };
                tracing::debug!(%call, %digit, side, "DTMF (SIP INFO)");
                self.event(
                    call,
                    "dtmf",
                    serde_json::json!({ "digit": digit.to_string(), "side": side, "via": "info" }),
                )
                .await;
            }
            CallEvent::Ended { call, outcome } => {
                self.live.agents().call_ended(call);
                self.conference_call_ended(call).await;
                let active = self.calls.remove(&call);
                if let Some(key) = active.as_ref().and_then(|a| a.record) {
                    self.live.recordings().call_ended(key);
                    self.live.payments().call_ended(key);
                    self.live.coaching().call_ended(key);
                }
                let verdict =
                    active.as_ref().and_then(|a| *a.verdict.lock().unwrap_or_else(|e| e.into_inner()));
                let mut ending = ending(outcome, verdict);
                ending.carrier = active.as_ref().and_then(|a| a.account).and_then(|a| self.carrier_rates(a));
                let disposition = ending_text(&ending);
                if self.call_log.allow(std::time::Instant::now()) {
                    tracing::info!(%call, %disposition, "call ended");
                } else {
                    tracing::debug!(%call, %disposition, "call ended");
                }
                match active {
                    Some(active) => {
                        if let Some(id) = active.record {
                            if let Some(relay) = &active.relay {
                                self.records.event(id, "media", media_quality(relay));
                            }
                            self.records.event(id, "ended", ended_event(&ending));
                            self.records.finish(id, ending);
                        }
                    }
                    // Still being prepared: its record is finished when the plan arrives.
                    None => {
                        self.ended_early.insert(call, ending);
                    }
                }
            }
        }
    }

    /// An agent rung directly did not take the call: it goes where their forwarding says
    /// (answered by us for voicemail and the like), or is refused with the status.
    async fn forward(&mut self, call: CallId, extension: &str, status: u16) {
        let account = self.calls.get(&call).and_then(|c| c.account);
        let agent = account.and_then(|a| self.planner.snapshot.borrow().agent(a, extension).cloned());
        match agent.as_ref().and_then(|a| crate::calls::dispatch::forwarding(a, status)) {
            Some(target) => {
                self.event(call, "forwarded", crate::calls::dispatch::forwarded(extension, status, &target))
                    .await;
                self.serve_here(call, target).await;
            }
            None => self.sip.route(call, RouteDecision::Reject { status, reason: None }).await,
        }
    }

    /// Plays the account's hold music to `side` of `call` (`on`), or stops it.
    fn hold_music(&self, call: CallId, side: MediaSide, on: bool) {
        let Some(active) = self.calls.get(&call) else { return };
        let Some(relay) = active.relay.clone() else { return };
        if !on {
            return relay.stop_playing(side);
        }
        let (account, snapshot, data_dir) =
            (active.account, self.planner.snapshot.clone(), self.data_dir.clone());
        tokio::spawn(async move {
            let music = crate::calls::prompts::hold_music(&snapshot, &data_dir, account).await;
            drop(relay.play(side, music));
        });
    }

    async fn event(&self, call: CallId, kind: &str, data: serde_json::Value) {
        if let Some(id) = self.calls.get(&call).and_then(|c| c.record) {
            self.records.event(id, kind, data);
        }
    }

    /// Acts on a prepared call: media, then ring, dial, refuse or serve it.
    async fn apply(&mut self, prepared: Prepared) {
        let Prepared { inc, plan, record, from, to, media } = prepared;
        if let Some(ending) = self.ended_early.remove(&inc.call) {
            // The caller left while we were still deciding.
            if let Some(id) = record {
                self.records.event(id, "ended", ended_event(&ending));
                self.records.finish(id, ending);
            }
            return;
        }
        let account = match &plan {
            Plan::Ring { account, .. }
            | Plan::Dial { account, .. }
            | Plan::Serve { account, .. }
            | Plan::Supervise { account, .. } => Some(*account),
            Plan::Reject { account, .. } => *account,
        };
        let mut active = ActiveCall::new(account, record, &from, &to);
        if let switchboard_telephony::sip::b2bua::Caller::User { account, extension } = &inc.caller {
            active.placed_by = Some((*account, extension.clone()));
        }
        if let Plan::Reject { status, why, .. } = plan {
            tracing::debug!(call = %inc.call, %from, %to, status, %why, "call refused");
            if let Some(id) = record {
                self.records.event(id, "refused", serde_json::json!({ "status": status, "reason": why }));
            }
            self.calls.insert(inc.call, active);
            return self.sip.route(inc.call, RouteDecision::Reject { status, reason: Some(why) }).await;
        }
        let (digits_tx, digits) = tokio::sync::mpsc::unbounded_channel();
        let relay = match media {
            Some(Ok((a, b))) => Relay::start(a, b, Some(digits_tx)).ok().map(Arc::new),
            _ => None,
        };
        let (keys_tx, keys) = tokio::sync::mpsc::unbounded_channel();
        let keypad = Arc::new(Keypad::new(keys_tx));
        active.info_keys = Some(keypad.clone());
        crate::calls::keypad::spawn_digit_recorder(
            self.records.clone(),
            inc.call,
            record,
            digits,
            keypad.clone(),
        );
        let Some(relay) = relay else {
            tracing::error!(call = %inc.call, "no RTP ports left; refusing the call");
            self.calls.insert(inc.call, active);
            let reason = Some("no media ports left".to_string());
            return self.sip.route(inc.call, RouteDecision::Reject { status: 503, reason }).await;
        };
        // A relay that fails ends its call (never silence on a call that looks up).
        let (mut died, sip, records, call) = (relay.died(), self.sip.clone(), self.records.clone(), inc.call);
        tokio::spawn(async move {
            if died.wait_for(|d| *d).await.is_ok() {
                if let Some(id) = record {
                    records.event(id, "media_failed", serde_json::json!({}));
                }
                sip.hangup(call).await;
            }
        });
        let media = MediaPorts { a: relay.a_local, b: relay.b_local };
        if let (Some(key), Some(account)) = (record, account) {
            // The customer is whoever the agent called, or the caller; the number they called
            // (an account's number) may want every call recorded.
            let placed = active.placed_by.is_some();
            let customer = if placed { MediaSide::B } else { MediaSide::A };
            let number = (!placed).then_some(to.as_str());
            self.live.recordings().register(key, account, &relay, customer, number);
            self.live.payments().register(key, account, &relay, customer, keypad);
            self.live.coaching().register(key, account, &relay, customer);
        }
        active.relay = Some(relay);
        active.keys = Some(keys);
        let decision = match plan {
            Plan::Ring { account, extension, lines, ring_ms, forward, .. } => {
                tracing::debug!(call = %inc.call, %from, %to, %extension, forward, "ringing");
                active.leg = record.map(|r| self.records.leg(r, "agent", &extension));
                active.rung = Some((account, extension.clone()));
                if forward {
                    active.ringing = Some(extension.clone());
                    self.sip.report_unreached(inc.call, true).await;
                }
                RouteDecision::Ring { account, extension, max_lines: lines, ring_timeout_ms: ring_ms, media }
            }
            Plan::Dial { uri, peer, caller_id, credentials, outside, limit_minutes, .. } => {
                active.limit_minutes = limit_minutes;
                tracing::debug!(call = %inc.call, %from, %to, %caller_id, "dialling out");
                active.leg = record.map(|r| self.records.leg(r, "external", &outside));
                RouteDecision::Dial { uri, peer, caller_id, credentials, ring_timeout_ms: 60_000, media }
            }
            Plan::Serve { target, .. } => {
                tracing::debug!(call = %inc.call, %from, %to, ?target, "answered by Switchboard");
                self.calls.insert(inc.call, active);
                return self.serve_here(inc.call, target).await;
            }
            Plan::Supervise { code, .. } => {
                self.calls.insert(inc.call, active);
                return self.supervise_here(inc.call, &code).await;
            }
            Plan::Reject { status, why, .. } => RouteDecision::Reject { status, reason: Some(why) },
        };
        self.calls.insert(inc.call, active);
        self.sip.route(inc.call, decision).await;
    }
}

/// The timeline's "ended" event.
fn ended_event(e: &Ending) -> serde_json::Value {
    serde_json::json!({ "disposition": e.disposition, "hung_up_by": e.hung_up_by })
}
