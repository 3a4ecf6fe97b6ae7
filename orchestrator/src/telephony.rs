//! Connects the telephony engine to the application: who may register (from the agents'
//! configuration, kept current), and what the engine reports (logged).

use crate::db::Db;
use crate::error::Result;
use crate::model::{validate::is_e164, Agent, ClassOfService, Target, Trunk};
use crate::store::{accounts, calls, config};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use switchboard_telephony::driver::{self, SipConfig, SipHandle};
use switchboard_telephony::media::relay::{MediaSockets, PortPool, Relay};
use switchboard_telephony::sip::b2bua::{
    CallEvent, CallId, Caller, IncomingCall, MediaPorts, Outcome, RouteDecision, Side,
};
use switchboard_telephony::sip::registrar::{Directory, RegistrarConfig, RegistrarEvent, SipUser};
use switchboard_telephony::sip::server::ServerEvent;
use switchboard_telephony::sip::uplink::UplinkConfig;
use tokio::sync::mpsc;

/// How often the directory is reloaded even without a change notice (covers changes made by
/// another process, such as `switchboard import`).
pub const REFRESH: Duration = Duration::from_secs(10);

/// Every agent of every account with SIP credentials, and every IP-authenticated trunk.
pub async fn load_directory(db: &Db) -> Result<Directory> {
    let mut users = Vec::new();
    let mut trusted = Vec::new();
    let mut uplinks = Vec::new();
    for account in accounts::list(db).await? {
        for trunk in config::list::<Trunk>(db, account.id).await? {
            let t = &trunk.spec;
            if let (true, Some(username), Some(password)) =
                (t.register, t.username.clone(), t.password.clone())
            {
                match tokio::net::lookup_host((t.host.as_str(), t.port)).await.ok().and_then(|mut a| a.next())
                {
                    Some(peer) => uplinks.push(UplinkConfig {
                        name: format!("{}/{}", account.slug, t.name),
                        peer,
                        domain: t.host.clone(),
                        username,
                        password,
                        expires: 300,
                    }),
                    None => {
                        tracing::warn!(trunk = %t.name, host = %t.host, "cannot resolve the trunk's host; not registering")
                    }
                }
            }
            for entry in &trunk.spec.inbound_ips {
                if let Ok(addr) = entry.parse::<SocketAddr>() {
                    trusted.push((addr.ip(), Some(addr.port()), account.id));
                } else if let Ok(ip) = entry.parse::<IpAddr>() {
                    trusted.push((ip, None, account.id));
                }
            }
        }
        for agent in config::list::<Agent>(db, account.id).await? {
            let Some(password) = agent.spec.sip_password.clone() else { continue };
            users.push(SipUser {
                account: account.id,
                domain: None,
                username: agent.spec.sip_username().to_string(),
                password,
                extension: agent.spec.extension.clone(),
            });
        }
    }
    let mut dir = Directory::new(users);
    for (ip, port, account) in trusted {
        dir.trust(ip, port, account);
    }
    dir.uplinks = uplinks;
    Ok(dir)
}

fn random_secret() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// Starts SIP on `bind` with RTP from `rtp_ports`, loads the directory and keeps it current,
/// and routes calls.
pub async fn start(
    db: Db,
    bind: SocketAddr,
    rtp_ports: (u16, u16),
    changed: crate::snapshot::ConfigVersion,
    relays_open: Arc<std::sync::atomic::AtomicUsize>,
    data_dir: std::path::PathBuf,
) -> anyhow::Result<(SipHandle, tokio::task::JoinHandle<()>)> {
    let (events_tx, mut events) = mpsc::channel(1024);
    let config = SipConfig {
        bind,
        registrar: RegistrarConfig::default(),
        secret: random_secret(),
        server_name: format!("Switchboard/{}", env!("CARGO_PKG_VERSION")),
    };
    let (handle, driver_task) = driver::start(config, events_tx).await?;
    handle.set_directory(load_directory(&db).await?).await;
    let refresher = handle.clone();
    let router_db = db.clone();
    let (snapshot_tx, snapshot_rx) =
        tokio::sync::watch::channel(Arc::new(crate::snapshot::Snapshot::load(&db).await?));
    tokio::spawn(async move {
        loop {
            let version = changed.next(REFRESH).await;
            match crate::snapshot::Snapshot::load(&db).await {
                Ok(s) => {
                    let _ = snapshot_tx.send(Arc::new(s));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot reload the configuration; keeping the previous one")
                }
            }
            match load_directory(&db).await {
                Ok(d) => refresher.set_directory(d).await,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot reload the SIP directory; keeping the previous one")
                }
            }
            changed.applied(version);
        }
    });
    let media_ip = if bind.ip().is_unspecified() { IpAddr::from([127, 0, 0, 1]) } else { bind.ip() };
    let (planned_tx, mut planned_rx) = tokio::sync::mpsc::unbounded_channel::<Prepared>();
    let records = calls::RecordWriter::start(router_db.clone());
    let flush_on_exit = records.clone();
    let mut router = CallRouter {
        db: router_db.clone(),
        sip: handle.clone(),
        calls: HashMap::new(),
        relays_open,
        data_dir,
        records: records.clone(),
        planner: Planner {
            snapshot: snapshot_rx,
            records,
            pool: Arc::new(PortPool::new(rtp_ports.0, rtp_ports.1)),
            media_ip,
        },
        planned: planned_tx,
        ended_early: HashMap::new(),
    };
    let router_task = tokio::spawn(async move {
        loop {
            let e = tokio::select! {
                e = events.recv() => match e {
                    Some(e) => e,
                    None => break,
                },
                Some(prepared) = planned_rx.recv() => {
                    router.apply(prepared).await;
                    router.count_relays();
                    continue;
                }
            };
            match e {
                ServerEvent::Call(e) => router.handle(e).await,
                ServerEvent::Registrar(RegistrarEvent::Registered {
                    account,
                    extension,
                    contact,
                    source,
                }) => {
                    tracing::info!(account, %extension, %contact, %source, "SIP registered")
                }
                ServerEvent::Registrar(RegistrarEvent::Unregistered { account, extension, contact })
                | ServerEvent::Registrar(RegistrarEvent::Expired { account, extension, contact }) => {
                    tracing::info!(account, %extension, %contact, "SIP registration ended")
                }
                ServerEvent::Registrar(RegistrarEvent::AuthFailed { source, username }) => {
                    tracing::warn!(%source, %username, "SIP authentication failed")
                }
                ServerEvent::Registrar(RegistrarEvent::Blocked { source }) => {
                    tracing::warn!(%source, "SIP source blocked after repeated authentication failures")
                }
                ServerEvent::Malformed { source, reason } => {
                    tracing::debug!(%source, %reason, "malformed SIP")
                }
            }
        }
    });
    // Done when SIP has stopped, the router has seen its last event and every call record
    // update it queued is written.
    let task = tokio::spawn(async move {
        let _ = driver_task.await;
        let _ = router_task.await;
        if tokio::time::timeout(std::time::Duration::from_secs(10), flush_on_exit.flush()).await.is_err() {
            tracing::warn!("call records were still being written at shutdown");
        }
    });
    Ok((handle, task))
}

/// What the application keeps per live call.
struct ActiveCall {
    relay: Option<Arc<Relay>>,
    record: Option<calls::RecordKey>,
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
    ended_early: HashMap<CallId, String>,
}

/// Where a call should go, before media is attached.
enum Plan {
    Ring {
        account: i64,
        extension: String,
        lines: usize,
        ring_ms: u64,
        direction: &'static str,
        to: String,
    },
    Dial {
        account: i64,
        uri: String,
        peer: SocketAddr,
        caller_id: String,
        credentials: Option<(String, String)>,
        to: String,
    },
    /// Answer and run an IVR menu.
    Ivr {
        account: i64,
        menu: String,
        to: String,
    },
    Reject {
        status: u16,
        account: Option<i64>,
        direction: &'static str,
        to: String,
        why: String,
    },
}

/// The country-code prefix of an E.164 number, roughly: `+1` and `+7` are one digit, others
/// are taken as two (good enough to tell national from international for class of service).
fn country_prefix(e164: &str) -> &str {
    if e164.starts_with("+1") || e164.starts_with("+7") {
        &e164[..2.min(e164.len())]
    } else {
        &e164[..3.min(e164.len())]
    }
}

/// Whether a class of service lets an agent dial `number` (E.164); the reason when not.
pub fn may_dial(cos: Option<&ClassOfService>, number: &str, home: &str) -> std::result::Result<(), String> {
    let Some(cos) = cos else { return Ok(()) };
    if let Some(p) = cos.blocked_prefixes.iter().find(|p| number.starts_with(p.as_str())) {
        return Err(format!("numbers starting {p} are blocked"));
    }
    let premium = ["+1900", "+1976"].iter().any(|p| number.starts_with(p));
    if premium && !cos.allow_premium {
        return Err("premium-rate numbers are not allowed".into());
    }
    let national = country_prefix(number) == country_prefix(home);
    if national && !cos.allow_national {
        return Err("national calls are not allowed".into());
    }
    if !national && !cos.allow_international {
        return Err("international calls are not allowed".into());
    }
    Ok(())
}

/// An outside call refused, for the call record.
fn outbound_reject(account: i64, status: u16, why: String, to: String) -> Plan {
    Plan::Reject { status, account: Some(account), direction: "outbound", to, why }
}

/// A dialled string as E.164, when it is a number.
fn as_e164(dialled: &str) -> Option<String> {
    let digits: String = dialled.chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.')).collect();
    let e = if digits.starts_with('+') { digits } else { format!("+{digits}") };
    is_e164(&e).then_some(e)
}

/// Each side's media quality as the call record keeps it (as of the relay's last update, at
/// most a second old): what we received, and what the phone reported about what it received.
fn media_quality(relay: &Relay) -> serde_json::Value {
    use switchboard_telephony::media::relay::MediaSide;
    let side = |s| {
        let q = relay.quality(s);
        serde_json::json!({
            "packets_received": q.packets_received,
            "packets_lost": q.packets_lost,
            "jitter_ms": (q.jitter_ms * 10.0).round() / 10.0,
            "packets_sent": q.packets_sent,
            "remote_fraction_lost": q.remote_fraction_lost,
            "remote_jitter_ms": q.remote_jitter_ms,
            "rtt_ms": q.rtt_ms,
        })
    };
    serde_json::json!({ "caller": side(MediaSide::A), "callee": side(MediaSide::B) })
}

impl CallRouter {
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
            CallEvent::Answered { call, contact } => {
                if let Some(id) = self.calls.get(&call).and_then(|c| c.record) {
                    self.records.answered(id);
                }
                self.event(call, "answered", serde_json::json!({ "contact": contact })).await;
            }
            CallEvent::Media { call, a_remote, b_remote, payload_type, a_dtmf, b_dtmf } => {
                if let Some(relay) = self.calls.get(&call).and_then(|c| c.relay.as_ref()) {
                    relay.set_payload_type(payload_type);
                    relay.update(a_remote, b_remote, a_dtmf, b_dtmf);
                    if b_remote.is_some() {
                        // Someone answered: whatever we were playing to the caller stops.
                        relay.stop_playing(switchboard_telephony::media::relay::MediaSide::A);
                    }
                }
                tracing::debug!(%call, ?a_remote, ?b_remote, payload_type, "media");
            }
            CallEvent::Unreached { call, status } => {
                // Nobody took a call we answered: busy tone, then goodbye. (Voicemail and queue
                // overflow plug in here.)
                self.event(call, "unreached", serde_json::json!({ "status": status })).await;
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
            CallEvent::Dtmf { call, side, digit } => {
                let side = if side == Side::Caller { "caller" } else { "callee" };
                tracing::info!(%call, %digit, side, "DTMF (SIP INFO)");
                self.event(
                    call,
                    "dtmf",
                    serde_json::json!({ "digit": digit.to_string(), "side": side, "via": "info" }),
                )
                .await;
            }
            CallEvent::Ended { call, outcome } => {
                let disposition = match outcome {
                    Outcome::HungUpBySystem => "completed (Switchboard hung up)".to_string(),
                    Outcome::Completed { hung_up_by: Side::Caller } => {
                        "completed (caller hung up)".to_string()
                    }
                    Outcome::Completed { hung_up_by: Side::Callee } => {
                        "completed (callee hung up)".to_string()
                    }
                    Outcome::Busy => "busy".to_string(),
                    Outcome::NoAnswer => "no answer".to_string(),
                    Outcome::Cancelled => "cancelled".to_string(),
                    Outcome::Rejected(s) => format!("rejected ({s})"),
                };
                tracing::info!(%call, %disposition, "call ended");
                match self.calls.remove(&call) {
                    Some(active) => {
                        if let Some(id) = active.record {
                            if let Some(relay) = &active.relay {
                                self.records.event(id, "media", media_quality(relay));
                            }
                            self.records.event(
                                id,
                                "ended",
                                serde_json::json!({ "disposition": disposition }),
                            );
                            self.records.finish(id, &disposition);
                        }
                    }
                    // Still being prepared: its record is finished when the plan arrives.
                    None => {
                        self.ended_early.insert(call, disposition);
                    }
                }
            }
        }
    }

    async fn event(&self, call: CallId, kind: &str, data: serde_json::Value) {
        if let Some(id) = self.calls.get(&call).and_then(|c| c.record) {
            self.records.event(id, kind, data);
        }
    }

    /// Acts on a prepared call: media, routing decision, IVR.
    async fn apply(&mut self, prepared: Prepared) {
        let Prepared { inc, plan, record, from, to, media } = prepared;
        if let Some(disposition) = self.ended_early.remove(&inc.call) {
            // The caller left while we were still deciding.
            if let Some(id) = record {
                self.records.event(id, "ended", serde_json::json!({ "disposition": disposition }));
                self.records.finish(id, &disposition);
            }
            return;
        }
        match plan {
            Plan::Reject { status, why, .. } => {
                tracing::info!(call = %inc.call, %from, %to, status, %why, "call refused");
                if let Some(id) = record {
                    self.records.event(id, "refused", serde_json::json!({ "status": status, "reason": why }));
                }
                self.calls.insert(inc.call, ActiveCall { relay: None, record });
                self.sip.route(inc.call, RouteDecision::Reject { status }).await;
            }
            plan => {
                let (digits_tx, digits) = tokio::sync::mpsc::unbounded_channel();
                let relay = match media {
                    Some(Ok((a, b))) => Relay::start(a, b, Some(digits_tx)).ok().map(Arc::new),
                    _ => None,
                };
                let (keys_tx, keys) = tokio::sync::mpsc::unbounded_channel();
                spawn_digit_recorder(self.records.clone(), inc.call, record, digits, keys_tx);
                let Some(relay) = relay else {
                    tracing::error!(call = %inc.call, "no RTP ports left; refusing the call");
                    self.calls.insert(inc.call, ActiveCall { relay: None, record });
                    return self.sip.route(inc.call, RouteDecision::Reject { status: 503 }).await;
                };
                let media = MediaPorts { a: relay.a_local, b: relay.b_local };
                let decision = match plan {
                    Plan::Ring { account, extension, lines, ring_ms, .. } => {
                        tracing::info!(call = %inc.call, %from, %to, %extension, "ringing");
                        RouteDecision::Ring {
                            account,
                            extension,
                            max_lines: lines,
                            ring_timeout_ms: ring_ms,
                            media,
                        }
                    }
                    Plan::Dial { uri, peer, caller_id, credentials, .. } => {
                        tracing::info!(call = %inc.call, %from, %to, %caller_id, "dialling out");
                        RouteDecision::Dial {
                            uri,
                            peer,
                            caller_id,
                            credentials,
                            ring_timeout_ms: 60_000,
                            media,
                        }
                    }
                    Plan::Ivr { account, menu, .. } => {
                        tracing::info!(call = %inc.call, %from, %to, %menu, "IVR");
                        let ivr = crate::ivr::IvrCall {
                            db: self.db.clone(),
                            sip: self.sip.clone(),
                            call: inc.call,
                            account,
                            relay: relay.clone(),
                            data_dir: self.data_dir.clone(),
                            records: self.records.clone(),
                            record,
                            digits: keys,
                        };
                        self.calls.insert(inc.call, ActiveCall { relay: Some(relay), record });
                        self.sip.route(inc.call, RouteDecision::Answer { media }).await;
                        tokio::spawn(ivr.run(menu));
                        return;
                    }
                    Plan::Reject { status, .. } => RouteDecision::Reject { status },
                };
                self.calls.insert(inc.call, ActiveCall { relay: Some(relay), record });
                self.sip.route(inc.call, decision).await;
            }
        }
    }
}

/// Decides where new calls go (from the configuration snapshot), queues their call records and
/// binds their media ports: work that runs beside the router, never blocking it.
#[derive(Clone)]
struct Planner {
    snapshot: tokio::sync::watch::Receiver<Arc<crate::snapshot::Snapshot>>,
    records: calls::RecordWriter,
    pool: Arc<PortPool>,
    media_ip: IpAddr,
}

/// A new call, its plan, its call record and (unless refused) its media ports.
struct Prepared {
    inc: IncomingCall,
    plan: Plan,
    record: Option<calls::RecordKey>,
    from: String,
    to: String,
    media: Option<std::io::Result<(MediaSockets, MediaSockets)>>,
}

impl Planner {
    async fn plan(&self, inc: &IncomingCall) -> Result<Plan> {
        match &inc.caller {
            Caller::User { account, extension } => {
                let snap = self.snapshot.borrow().clone();
                match snap.agent(*account, &inc.dialled) {
                    Some(agent) if agent.extension != *extension => Ok(Plan::Ring {
                        account: *account,
                        extension: agent.extension.clone(),
                        lines: agent.lines as usize,
                        ring_ms: agent.forwarding.no_answer_seconds as u64 * 1000,
                        direction: "internal",
                        to: inc.dialled.clone(),
                    }),
                    Some(_) => Ok(Plan::Reject {
                        status: 486,
                        account: Some(*account),
                        direction: "internal",
                        to: inc.dialled.clone(),
                        why: "called itself".into(),
                    }),
                    None if inc.dialled.len() >= 7 => {
                        self.plan_outbound(*account, extension, &inc.dialled).await
                    }
                    None => Ok(Plan::Reject {
                        status: 404,
                        account: Some(*account),
                        direction: "internal",
                        to: inc.dialled.clone(),
                        why: "no such extension".into(),
                    }),
                }
            }
            Caller::Trunk { accounts } => {
                let Some(number) = as_e164(&inc.dialled) else {
                    return Ok(Plan::Reject {
                        status: 404,
                        account: None,
                        direction: "inbound",
                        to: inc.dialled.clone(),
                        why: "not a number".into(),
                    });
                };
                let owner = self.snapshot.borrow().owner_of_number(&number).filter(|a| accounts.contains(a));
                let Some(account) = owner else {
                    return Ok(Plan::Reject {
                        status: 404,
                        account: None,
                        direction: "inbound",
                        to: number,
                        why: "unknown number".into(),
                    });
                };
                self.plan_did(account, number, inc.from_user.clone()).await
            }
        }
    }

    /// A call to one of the account's numbers (from a carrier, or from an agent of the account).
    async fn plan_did(&self, account: i64, number: String, from_user: Option<String>) -> Result<Plan> {
        let snap = self.snapshot.borrow().clone();
        let did = snap.number(account, &number).cloned();
        let mut target = did.map(|d| d.target);
        // Schedules choose between targets by the time of day (a few levels at most).
        for _ in 0..5 {
            let Some(Target::Schedule { name }) = &target else { break };
            let schedule = snap.schedule(account, name);
            target = schedule.map(|s| s.target_at(chrono::Utc::now()).clone());
        }
        match target {
            Some(Target::IvrMenu { name }) => Ok(Plan::Ivr { account, menu: name, to: number }),
            Some(Target::Agent { extension }) => {
                let agent = snap.agent(account, &extension);
                let (lines, ring_ms) = agent
                    .map(|a| (a.lines as usize, a.forwarding.no_answer_seconds as u64 * 1000))
                    .unwrap_or((2, 20_000));
                Ok(Plan::Ring { account, extension, lines, ring_ms, direction: "inbound", to: number })
            }
            // A number forwarded outside (a mobile, another office): out through the
            // trunk, presenting the original caller.
            Some(Target::External { number: outside }) => {
                let caller = from_user.clone().and_then(|f| as_e164(&f)).unwrap_or_else(|| number.clone());
                let mut plan = self.through_trunk(account, outside, caller, true).await?;
                if let Plan::Dial { to, .. } = &mut plan {
                    *to = number;
                }
                Ok(plan)
            }
            // Queues, IVR menus, schedules, voicemail and AI agents plug in here as they land.
            Some(other) => Ok(Plan::Reject {
                status: 480,
                account: Some(account),
                direction: "inbound",
                to: number,
                why: format!("routing to {other:?} is not available yet"),
            }),
            None => Ok(Plan::Reject {
                status: 404,
                account: Some(account),
                direction: "inbound",
                to: number,
                why: "unknown number".into(),
            }),
        }
    }

    /// An agent dialling an outside number: class of service, then the account's trunk.
    async fn plan_outbound(&self, account: i64, extension: &str, dialled: &str) -> Result<Plan> {
        let snap = self.snapshot.borrow().clone();
        let Some(settings) = snap.account(account).and_then(|a| a.settings.clone()) else {
            return Ok(Plan::Reject {
                status: 404,
                account: Some(account),
                direction: "outbound",
                to: dialled.to_string(),
                why: "unknown account".into(),
            });
        };
        let home = settings.caller_id.clone().unwrap_or_else(|| "+1".into());
        let digits: String = dialled.chars().filter(|c| c.is_ascii_digit()).collect();
        // Ten digits in a +1 account are a national (NANP) number.
        let number = if !dialled.starts_with('+') && digits.len() == 10 && home.starts_with("+1") {
            Some(format!("+1{digits}"))
        } else {
            as_e164(dialled)
        };
        let reject = |status: u16, why: String, to: String| outbound_reject(account, status, why, to);
        let Some(number) = number else { return Ok(reject(404, "not a number".into(), dialled.to_string())) };
        // One of the account's own numbers: handled here like a call from outside.
        if snap.owner_of_number(&number) == Some(account) {
            return self.plan_did(account, number, None).await;
        }
        let agent = snap.agent(account, extension);
        let cos = match agent.and_then(|a| a.class_of_service.clone()) {
            Some(name) => snap.class_of_service(account, &name).cloned(),
            None => None,
        };
        if let Err(why) = may_dial(cos.as_ref(), &number, &home) {
            return Ok(reject(403, why, number));
        }
        let caller_id = settings.caller_id.unwrap_or_else(|| extension.to_string());
        self.through_trunk(account, number, caller_id, false).await
    }

    /// A call to `number` through the account's trunk. `keep_caller_id` presents `caller_id`
    /// (a forwarded caller's number); otherwise the trunk's caller ID wins over it.
    async fn through_trunk(
        &self,
        account: i64,
        number: String,
        caller_id: String,
        keep_caller_id: bool,
    ) -> Result<Plan> {
        let reject = |status: u16, why: String, to: String| outbound_reject(account, status, why, to);
        let trunk = self.snapshot.borrow().account(account).and_then(|a| a.trunks.first().cloned());
        let Some(trunk) = trunk else {
            return Ok(reject(503, "no trunk configured for outside calls".into(), number));
        };
        let peer = match tokio::net::lookup_host((trunk.host.as_str(), trunk.port))
            .await
            .ok()
            .and_then(|mut a| a.next())
        {
            Some(p) => p,
            None => return Ok(reject(503, format!("cannot resolve trunk host {}", trunk.host), number)),
        };
        let caller_id = if keep_caller_id { caller_id } else { trunk.caller_id.clone().unwrap_or(caller_id) };
        let credentials = trunk.username.clone().zip(trunk.password.clone());
        Ok(Plan::Dial {
            account,
            uri: format!("sip:{number}@{}:{}", trunk.host, trunk.port),
            peer,
            caller_id,
            credentials,
            to: number,
        })
    }

    /// Everything about a new call that needs the database: where it goes, the customer, the
    /// call record. Runs beside the router, so calls already up are not kept waiting.
    async fn prepare(&self, inc: IncomingCall) -> Prepared {
        let plan = match self.plan(&inc).await {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, call = %inc.call, "routing failed; refusing the call");
                Plan::Reject {
                    status: 503,
                    account: None,
                    direction: "inbound",
                    to: inc.dialled.clone(),
                    why: "routing failed".into(),
                }
            }
        };
        let from = inc.from_user.clone().unwrap_or_else(|| "anonymous".into());
        let (account, direction, to) = match &plan {
            Plan::Ring { account, direction, to, .. } => (Some(*account), *direction, to.clone()),
            Plan::Dial { account, to, .. } => (
                Some(*account),
                if matches!(inc.caller, Caller::Trunk { .. }) { "inbound" } else { "outbound" },
                to.clone(),
            ),
            Plan::Ivr { account, to, .. } => (Some(*account), "inbound", to.clone()),
            Plan::Reject { account, direction, to, .. } => (*account, *direction, to.clone()),
        };
        let record = account.map(|account| {
            let agent = match (&plan, &inc.caller) {
                (Plan::Ring { extension, .. }, _) => Some(extension.clone()),
                (Plan::Dial { .. }, Caller::User { extension, .. }) => Some(extension.clone()),
                _ => None,
            };
            let call = calls::NewCall {
                direction: direction.into(),
                from_number: from.clone(),
                to_number: to.clone(),
                customer_id: None,
                agent_extension: agent,
                ai_agent: None,
            };
            self.records.create(account, call, as_e164(&from))
        });
        // Media ports for a call that will be connected or answered.
        let media = match plan {
            Plan::Reject { .. } => None,
            _ => Some(match self.pool.bind(self.media_ip).await {
                Ok(a) => self.pool.bind(self.media_ip).await.map(|b| (a, b)),
                Err(e) => Err(e),
            }),
        };
        Prepared { inc, plan, record, from, to, media }
    }
}

/// Writes the digits a call's media relay hears into the call's timeline.
fn spawn_digit_recorder(
    records: calls::RecordWriter,
    call: CallId,
    record: Option<calls::RecordKey>,
    mut digits: tokio::sync::mpsc::UnboundedReceiver<switchboard_telephony::media::relay::Digit>,
    keys: tokio::sync::mpsc::UnboundedSender<char>,
) {
    use switchboard_telephony::media::relay::MediaSide;
    tokio::spawn(async move {
        // Ends when the relay (and with it the sender) is dropped at the end of the call.
        while let Some(d) = digits.recv().await {
            let side = if d.side == MediaSide::A { "caller" } else { "callee" };
            let via = if d.event { "rfc4733" } else { "inband" };
            tracing::info!(%call, digit = %d.digit, side, via, "DTMF");
            if d.side == MediaSide::A {
                let _ = keys.send(d.digit);
            }
            if let Some(id) = record {
                records.event(
                    id,
                    "dtmf",
                    serde_json::json!({ "digit": d.digit.to_string(), "side": side, "via": via }),
                );
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cos(national: bool, international: bool) -> ClassOfService {
        ClassOfService {
            name: "x".into(),
            description: String::new(),
            allow_internal: true,
            allow_national: national,
            allow_international: international,
            allow_premium: false,
            max_call_minutes: None,
            blocked_prefixes: vec!["+1212555".into()],
        }
    }

    #[test]
    fn class_of_service_decides_who_may_dial_what() {
        let home = "+15555550100";
        assert!(may_dial(None, "+442079460000", home).is_ok());
        let national_only = cos(true, false);
        assert!(may_dial(Some(&national_only), "+12025550123", home).is_ok());
        assert!(may_dial(Some(&national_only), "+442079460000", home).unwrap_err().contains("international"));
        assert!(may_dial(Some(&national_only), "+19005550123", home).unwrap_err().contains("premium"));
        assert!(may_dial(Some(&national_only), "+12125550123", home).unwrap_err().contains("blocked"));
        assert!(may_dial(Some(&cos(false, true)), "+12025550123", home).unwrap_err().contains("national"));
        assert_eq!(as_e164("+1 (202) 555-0123").as_deref(), Some("+12025550123"));
        assert_eq!(as_e164("102"), None);
    }
}
