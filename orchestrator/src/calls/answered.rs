//! The answered call: what every service that serves a caller (IVR menu, queue, voicemail, AI
//! agent, the dispatcher ringing a person) is lent, and what each one returns when it is done
//! with the caller (`Next`). Services never construct each other: the dispatcher does.

use crate::calls::snapshot::Snapshot;
use crate::db::Db;
use crate::model::Target;
use crate::store::calls::{LegKey, RecordKey, RecordWriter};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use switchboard_telephony::driver::SipHandle;
use switchboard_telephony::media::relay::{MediaSide, Relay};
use switchboard_telephony::sip::b2bua::{CallId, MediaPorts, RouteDecision};
use tokio::sync::{mpsc, oneshot, watch};

/// Said when nobody can take the call, before it ends.
pub const NOBODY: &str = "I'm sorry, nobody can take your call right now. Please call again later. Goodbye.";

/// What happens to the person the call is offered to (from the call router).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LegEvent {
    /// The person answered (the caller's playback is the service's to end).
    Answered,
    /// Which extension answered (right after `Answered`, when an extension was rung).
    AnsweredBy(String),
    /// Nobody took the call (SIP status).
    Unreached(u16),
    /// The person listening in hung up; the caller is still here.
    Left,
}

/// Where the caller goes when a service is done with them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Nothing more: the caller is connected to a person, has hung up, or was hung up on.
    Done,
    /// On to this target.
    To(Target),
    /// A message for this voicemail box, with its own short greeting (an AI agent has just
    /// asked the caller for the message).
    Message { box_name: String, greeting: String },
}

/// The leg events of a call, shared by whoever rings someone for it.
#[derive(Clone)]
pub struct Legs(Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<LegEvent>>>);

impl Legs {
    pub fn new(rx: mpsc::UnboundedReceiver<LegEvent>) -> Legs {
        Legs(Arc::new(tokio::sync::Mutex::new(rx)))
    }

    /// The events from now on (those of an earlier ring, such as re-INVITEs, are forgotten).
    pub async fn fresh(&self) -> tokio::sync::OwnedMutexGuard<mpsc::UnboundedReceiver<LegEvent>> {
        let mut legs = self.0.clone().lock_owned().await;
        while legs.try_recv().is_ok() {}
        legs
    }
}

/// Who is rung for a call, as its record lists them.
#[derive(Debug, Clone)]
pub enum Party {
    Agent(String),
    Supervisor(String),
    External(String),
}

impl Party {
    fn kind(&self) -> &'static str {
        match self {
            Party::Agent(_) => "agent",
            Party::Supervisor(_) => "supervisor",
            Party::External(_) => "external",
        }
    }

    pub fn endpoint(&self) -> &str {
        match self {
            Party::Agent(e) | Party::Supervisor(e) | Party::External(e) => e,
        }
    }
}

/// How ringing someone for the caller went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rang {
    Answered,
    /// Busy, no answer or not reachable (SIP status).
    Unreached(u16),
    CallerLeft,
    /// The caller pressed the offer's stop key: the ringing was stopped.
    Key(char),
}

impl Rang {
    /// Busy rather than not answering (for forwarding on busy).
    pub fn busy(status: u16) -> bool {
        matches!(status, 486 | 600 | 603)
    }
}

/// A call Switchboard answered, lent to one service at a time.
pub struct AnsweredCall {
    pub db: Db,
    pub sip: SipHandle,
    pub call: CallId,
    pub account: i64,
    /// The call's media; side A is the caller.
    pub relay: Arc<Relay>,
    pub data_dir: PathBuf,
    pub records: RecordWriter,
    pub record: Option<RecordKey>,
    /// The caller's keypad presses.
    pub digits: mpsc::UnboundedReceiver<char>,
    /// The caller's number (E.164), when known.
    pub caller: Option<String>,
    /// Completes (with an error) when the call ends.
    pub ended: oneshot::Receiver<()>,
    /// What happens to whoever is rung for the call.
    pub legs: Legs,
    /// The configuration in force.
    pub snapshot: watch::Receiver<Arc<Snapshot>>,
    /// Live AI engagements (the supervisors' grid).
    pub live: crate::live::Live,
    /// The end of what the previous service left playing (an AI agent's last sentence): the
    /// next service lets it finish before its own sound.
    pub lead_in: Option<oneshot::Receiver<()>>,
    /// What the call amounted to when a service knows better than how it ended (a message
    /// left, a caller who gave up waiting); read by the router when the call ends.
    pub verdict: Verdict,
}

/// A call's disposition as a service decided it (shared with the router).
pub type Verdict = Arc<std::sync::Mutex<Option<crate::store::calls::Disposition>>>;

impl AnsweredCall {
    /// Who a message left on this call is from.
    pub fn caller_or_anonymous(&self) -> String {
        self.caller.clone().unwrap_or_else(|| "anonymous".into())
    }

    /// Whether the caller has hung up.
    pub fn caller_left(&mut self) -> bool {
        !matches!(self.ended.try_recv(), Err(oneshot::error::TryRecvError::Empty))
    }

    /// What the call amounted to, whatever way it ends now.
    pub fn set_verdict(&self, disposition: crate::store::calls::Disposition) {
        *self.verdict.lock().unwrap_or_else(|e| e.into_inner()) = Some(disposition);
    }

    /// Writes an event into the call's timeline.
    pub fn event(&self, kind: &str, data: serde_json::Value) {
        if let Some(key) = self.record {
            self.records.event(key, kind, data);
        }
    }

    pub fn media(&self) -> MediaPorts {
        MediaPorts { a: self.relay.a_local, b: self.relay.b_local }
    }

    /// Waits (at most `limit`) for what the previous service left playing to end.
    pub async fn finish_lead_in(&mut self, limit: Duration) {
        if let Some(done) = self.lead_in.take() {
            let _ = tokio::time::timeout(limit, done).await;
        }
    }

    /// Plays a prompt to the caller and waits until it has played (or the caller hangs up).
    pub async fn say(&mut self, prompt: &crate::model::Prompt) {
        self.finish_lead_in(Duration::from_secs(15)).await;
        let source = crate::calls::prompts::source(self, prompt).await;
        let done = self.relay.play(MediaSide::A, source);
        tokio::select! {
            _ = done => {}
            _ = &mut self.ended => {}
        }
    }

    /// Says `text` (the default voice) and waits until it has played.
    pub async fn say_text(&mut self, text: &str) {
        self.say(&crate::model::Prompt::Text { text: text.into(), voice: None }).await;
    }

    /// Hangs the call up.
    pub async fn hang_up(&mut self) {
        self.sip.hangup(self.call).await;
    }

    /// Offers the call to `party` (`decision` rings or dials them) until they answer, nobody
    /// does within `ring_ms` (plus a margin for the phone's own answer), the caller leaves, or
    /// the caller presses `stop_key` (a queue's opt-out: the ringing is stopped; with a stop
    /// key, other keys pressed meanwhile are dropped). The attempt is a leg of the call record.
    pub async fn offer(
        &mut self,
        party: Party,
        decision: RouteDecision,
        ring_ms: u64,
        stop_key: Option<char>,
    ) -> Rang {
        self.offer_to(vec![party], decision, ring_ms, stop_key).await.0
    }

    /// The same for several people rung at once (a ring group): each is a leg of the record;
    /// the one who answered is returned with `Rang::Answered`.
    pub async fn offer_to(
        &mut self,
        parties: Vec<Party>,
        decision: RouteDecision,
        ring_ms: u64,
        stop_key: Option<char>,
    ) -> (Rang, Option<Party>) {
        let mut legs = self.legs.fresh().await;
        let keys: Vec<Option<LegKey>> = parties
            .iter()
            .map(|p| self.record.map(|key| self.records.leg(key, p.kind(), p.endpoint())))
            .collect();
        self.sip.route(self.call, decision).await;
        let ring_end = tokio::time::Instant::now() + Duration::from_millis(ring_ms + 5_000);
        let digits = &mut self.digits;
        let pressed = async {
            // Without a stop key the caller's keys stay queued for whoever serves them next.
            let Some(stop) = stop_key else { return std::future::pending::<char>().await };
            loop {
                match digits.recv().await {
                    Some(k) if k == stop => return k,
                    Some(_) => {}
                    None => std::future::pending::<()>().await,
                }
            }
        };
        let event = tokio::select! {
            e = legs.recv() => e.map(Ok),
            _ = &mut self.ended => None,
            k = pressed => Some(Err(k)),
            _ = tokio::time::sleep_until(ring_end) => Some(Ok(LegEvent::Unreached(408))),
        };
        let rang = match event {
            Some(Ok(LegEvent::Answered | LegEvent::AnsweredBy(_))) => Rang::Answered,
            Some(Ok(LegEvent::Unreached(status))) => Rang::Unreached(status),
            Some(Ok(LegEvent::Left)) => Rang::Unreached(487),
            None => Rang::CallerLeft,
            Some(Err(key)) => {
                // The phone stops ringing; if it was answered at that very moment, the caller
                // has their person after all.
                self.sip.stop_ringing(self.call).await;
                let settled = tokio::select! {
                    e = legs.recv() => e,
                    _ = &mut self.ended => None,
                    _ = tokio::time::sleep(Duration::from_secs(5)) => Some(LegEvent::Unreached(487)),
                };
                match settled {
                    Some(LegEvent::Answered | LegEvent::AnsweredBy(_)) => Rang::Answered,
                    Some(_) => Rang::Key(key),
                    None => Rang::CallerLeft,
                }
            }
        };
        // Who answered: the one person offered, or the extension the SIP core names next.
        let answerer = match (&rang, parties.len()) {
            (Rang::Answered, 1) => Some(0),
            (Rang::Answered, _) => {
                let named = tokio::time::timeout(Duration::from_secs(2), async {
                    loop {
                        match legs.recv().await {
                            Some(LegEvent::AnsweredBy(extension)) => return Some(extension),
                            Some(_) => {}
                            None => return None,
                        }
                    }
                })
                .await
                .ok()
                .flatten();
                let found = named.as_deref().and_then(|e| parties.iter().position(|p| p.endpoint() == e));
                if found.is_none() {
                    tracing::warn!(call = %self.call, ?named, "a ring group was answered by someone not in it");
                }
                found.or(Some(0))
            }
            _ => None,
        };
        for (i, leg) in keys.into_iter().enumerate() {
            let Some(leg) = leg else { continue };
            match &rang {
                Rang::Answered if answerer == Some(i) => self.records.leg_answered(leg),
                Rang::Answered => self.records.leg_ended(leg, "answered_elsewhere"),
                Rang::Unreached(status) => self.records.leg_ended(leg, &unreached_outcome(*status)),
                Rang::CallerLeft => self.records.leg_ended(leg, "cancelled"),
                Rang::Key(_) => self.records.leg_ended(leg, "stopped_by_caller"),
            }
        }
        let answered = answerer.and_then(|i| parties.into_iter().nth(i));
        if let (Some(key), Some(Party::Agent(extension))) = (self.record, &answered) {
            self.records.answered_by(key, extension);
            // The agent's own recording setting (a queue adds its own: `queue`).
            self.live.recordings().answered(key, None, extension);
        }
        (rang, answered)
    }
}

/// A leg's outcome when nobody took it.
pub fn unreached_outcome(status: u16) -> String {
    match status {
        s if Rang::busy(s) => "busy".into(),
        408 | 480 => "no_answer".into(),
        s => format!("failed ({s})"),
    }
}
