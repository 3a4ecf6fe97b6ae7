//! Call recording: which calls are recorded, and the recordings running now.
//!
//! The router registers every call that has media; a recording starts by itself when the
//! number's, queue's or answering agent's `recording` setting says `always` (the agent's
//! choice wins over the queue's, the queue's over the number's), or when someone on the call
//! (or a supervisor) presses record, unless a setting says `never`. The relay hands over one
//! stereo frame per 20 ms (the customer left, what they heard right: the agent, prompts, hold
//! music); a writer task puts it into a WAV file as it comes, committing the header every
//! second (a crash loses at most that second and leaves a valid file), writes silence while
//! paused (so the file's times are the call's), and keeps the recording's row up to date.
//! Every start, pause, resume and stop is an event in the call's timeline.

use crate::calls::snapshot::Snapshot;
use crate::db::Db;
use crate::model::RecordingPreference;
use crate::store::calls::{RecordKey, RecordWriter};
use serde::Serialize;
use std::collections::HashMap;
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;
use switchboard_telephony::media::relay::{MediaSide, Relay};
use switchboard_telephony::media::wav::WavWriter;
use tokio::sync::{mpsc, watch};

/// What a recording task needs, given once by the router.
#[derive(Clone)]
pub struct Env {
    pub db: Db,
    pub records: RecordWriter,
    pub data_dir: PathBuf,
    pub snapshot: watch::Receiver<Arc<Snapshot>>,
}

/// What someone asks of a call's recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Start,
    Stop,
    Pause,
    Resume,
}

/// A live call's recording, as the softphone shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct RecordingState {
    pub recording: bool,
    pub paused: bool,
    /// Why nobody may record this call, when a setting says `never`.
    pub refused: Option<String>,
}

enum Control {
    Pause(String),
    Resume(String),
    Stop(String),
}

struct Running {
    control: mpsc::UnboundedSender<Control>,
    paused: bool,
}

struct CallMedia {
    account: i64,
    relay: Weak<Relay>,
    customer: MediaSide,
    number: Option<String>,
    running: Option<Running>,
    refused: Option<String>,
    /// Recordings made of this call so far (names the next file).
    made: u32,
}

impl CallMedia {
    fn state(&self) -> RecordingState {
        RecordingState {
            recording: self.running.is_some(),
            paused: self.running.as_ref().is_some_and(|r| r.paused),
            refused: self.refused.clone(),
        }
    }
}

/// The calls that can be recorded now, by call record.
#[derive(Clone, Default)]
pub struct Recordings {
    calls: Arc<Mutex<HashMap<RecordKey, CallMedia>>>,
    env: Arc<OnceLock<Env>>,
}

/// The setting that decides: the agent's, else the queue's, else the number's.
pub fn policy(
    snap: &Snapshot,
    account: i64,
    number: Option<&str>,
    queue: Option<&str>,
    agent: Option<&str>,
) -> (RecordingPreference, String) {
    let choices = [
        (
            agent.and_then(|a| snap.agent(account, a)).map(|a| a.recording),
            format!("agent {}", agent.unwrap_or("")),
        ),
        (
            queue.and_then(|q| snap.queue(account, q)).map(|q| q.recording),
            format!("queue {}", queue.unwrap_or("")),
        ),
        (
            number.and_then(|n| snap.number(account, n)).map(|n| n.recording),
            format!("number {}", number.unwrap_or("")),
        ),
    ];
    choices
        .into_iter()
        .find_map(|(p, who)| p.filter(|p| !p.is_inherit()).map(|p| (p, who)))
        .unwrap_or((RecordingPreference::Inherit, String::new()))
}

impl Recordings {
    /// Gives the recordings their database, call records and configuration (the router does,
    /// once; without it nothing is recorded).
    pub fn attach(&self, env: Env) {
        let _ = self.env.set(env);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<RecordKey, CallMedia>> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A call with media: `customer` is the side the customer is on; `number` the account's
    /// number they called, if they called one. A number set to `always` is recorded from now.
    pub fn register(
        &self,
        key: RecordKey,
        account: i64,
        relay: &Arc<Relay>,
        customer: MediaSide,
        number: Option<&str>,
    ) {
        let media = CallMedia {
            account,
            relay: Arc::downgrade(relay),
            customer,
            number: number.map(str::to_string),
            running: None,
            refused: None,
            made: 0,
        };
        self.lock().insert(key, media);
        self.decide(key, None, None);
    }

    /// A person (agent `extension`, through `queue` if a queue offered the call) answered.
    pub fn answered(&self, key: RecordKey, queue: Option<&str>, extension: &str) {
        self.decide(key, queue, Some(extension));
    }

    fn decide(&self, key: RecordKey, queue: Option<&str>, agent: Option<&str>) {
        let Some(env) = self.env.get() else { return };
        let (account, number) = match self.lock().get(&key) {
            Some(m) => (m.account, m.number.clone()),
            None => return,
        };
        let snap = env.snapshot.borrow().clone();
        let (preference, who) = policy(&snap, account, number.as_deref(), queue, agent);
        match preference {
            RecordingPreference::Always => {
                let _ = self.act(key, Action::Start, "automatic");
            }
            RecordingPreference::Never => {
                if let Some(m) = self.lock().get_mut(&key) {
                    m.refused = Some(format!("recording is turned off for {who}"));
                }
            }
            _ => {}
        }
    }

    /// The call ended: its recording (if any) is closed.
    pub fn call_ended(&self, key: RecordKey) {
        self.lock().remove(&key);
    }

    /// The call was turned around (a placed call's blind transfer): its customer is on side A
    /// now. A recording running goes on (the relay keeps its channels with the people).
    pub fn turned_around(&self, key: RecordKey) {
        if let Some(m) = self.lock().get_mut(&key) {
            m.customer = MediaSide::A;
        }
    }

    /// Whether the call is live here, and its recording's state.
    pub fn state(&self, key: RecordKey) -> Option<RecordingState> {
        self.lock().get(&key).map(CallMedia::state)
    }

    /// The live calls of an account that can be recorded.
    pub fn live_calls(&self, account: i64) -> Vec<RecordKey> {
        self.lock().iter().filter(|(_, m)| m.account == account).map(|(k, _)| *k).collect()
    }

    /// Starts, stops, pauses or resumes the call's recording on behalf of `by` (a name, or
    /// `automatic`). Refused with a reason a person can read.
    pub fn act(&self, key: RecordKey, action: Action, by: &str) -> Result<RecordingState, String> {
        let env = self.env.get().ok_or("recording is not available")?.clone();
        let mut calls = self.lock();
        let m = calls.get_mut(&key).ok_or("the call has ended")?;
        // A writer that failed has gone: its control channel is closed.
        if m.running.as_ref().is_some_and(|r| r.control.is_closed()) {
            m.running = None;
        }
        match (action, m.running.as_mut()) {
            (Action::Start, Some(_)) => {}
            (Action::Start, None) => {
                if let Some(why) = &m.refused {
                    return Err(why.clone());
                }
                let relay = m.relay.upgrade().ok_or("the call has ended")?;
                let frames = relay.record(m.customer);
                let (control, controls) = mpsc::unbounded_channel();
                m.made += 1;
                let job = Job { env, key, account: m.account, n: m.made, by: by.to_string() };
                tokio::spawn(job.run(frames, controls));
                m.running = Some(Running { control, paused: false });
            }
            (_, None) => return Err("the call is not being recorded".into()),
            (Action::Stop, Some(r)) => {
                let _ = r.control.send(Control::Stop(by.to_string()));
                m.running = None;
            }
            (Action::Pause, Some(r)) => {
                if !r.paused {
                    let _ = r.control.send(Control::Pause(by.to_string()));
                    r.paused = true;
                }
            }
            (Action::Resume, Some(r)) => {
                if r.paused {
                    let _ = r.control.send(Control::Resume(by.to_string()));
                    r.paused = false;
                }
            }
        }
        Ok(m.state())
    }
}

/// One recording being written.
struct Job {
    env: Env,
    key: RecordKey,
    account: i64,
    n: u32,
    by: String,
}

/// How often the file's header is brought up to date, and the row every so many commits.
const COMMIT: Duration = Duration::from_secs(1);
const ROW_EVERY: u32 = 5;

impl Job {
    async fn run(
        self,
        mut frames: mpsc::UnboundedReceiver<Vec<i16>>,
        mut controls: mpsc::UnboundedReceiver<Control>,
    ) {
        let Job { env, key, account, n, by } = self;
        let Some(call_id) = env.records.id_of(key).await else {
            tracing::warn!("a call without a record cannot be recorded");
            return;
        };
        let rel = format!("recordings/{account}/{call_id}-{n}.wav");
        let path = env.data_dir.join(&rel);
        let opened = path
            .parent()
            .map(std::fs::create_dir_all)
            .unwrap_or(Ok(()))
            .and_then(|_| std::fs::File::create(&path))
            .and_then(|f| WavWriter::new(BufWriter::with_capacity(64 * 1024, f), 8000, 2));
        let mut wav = match opened {
            Ok(w) => w,
            Err(e) => {
                tracing::error!(error = %e, path = %path.display(), "cannot write a call recording");
                env.records.event(key, "recording_failed", serde_json::json!({ "reason": e.to_string() }));
                return;
            }
        };
        let id = match crate::store::recordings::create(&env.db, account, call_id, &rel, &by).await {
            Ok(id) => id,
            Err(e) => {
                tracing::error!(error = %e, "cannot keep a call recording");
                let _ = std::fs::remove_file(&path);
                return;
            }
        };
        env.records.event(key, "recording_started", serde_json::json!({ "recording": id, "by": by }));
        let ms = |wav: &WavWriter<_>| (wav.frames() / 8) as i64;
        let mut paused_since: Option<i64> = None;
        let mut paused: Vec<[i64; 2]> = Vec::new();
        let mut commit = tokio::time::interval(COMMIT);
        commit.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut commits = 0u32;
        let mut failed = None;
        loop {
            tokio::select! {
                f = frames.recv() => {
                    let Some(f) = f else { break };
                    let written = if paused_since.is_some() { wav.write(&vec![0; f.len()]) } else { wav.write(&f) };
                    if let Err(e) = written {
                        failed = Some(e);
                        break;
                    }
                }
                c = controls.recv() => match c {
                    Some(Control::Pause(who)) => {
                        let at = ms(&wav);
                        paused_since = Some(at);
                        env.records.event(key, "recording_paused", serde_json::json!({ "recording": id, "by": who, "at_ms": at }));
                    }
                    Some(Control::Resume(who)) => {
                        let at = ms(&wav);
                        if let Some(from) = paused_since.take() {
                            paused.push([from, at]);
                        }
                        env.records.event(key, "recording_resumed", serde_json::json!({ "recording": id, "by": who, "at_ms": at }));
                    }
                    Some(Control::Stop(who)) => {
                        env.records.event(key, "recording_stopped", serde_json::json!({ "recording": id, "by": who, "at_ms": ms(&wav) }));
                        break;
                    }
                    // The call ended: the relay stops sending frames next.
                    None => {}
                },
                _ = commit.tick() => {
                    if let Err(e) = wav.commit() {
                        failed = Some(e);
                        break;
                    }
                    commits += 1;
                    if commits.is_multiple_of(ROW_EVERY) {
                        let _ = crate::store::recordings::update(&env.db, id, ms(&wav), &paused, false).await;
                    }
                }
            }
        }
        let length = ms(&wav);
        if let Some(from) = paused_since {
            paused.push([from, length]);
        }
        if let Err(e) = wav.finish().map(|_| ()).map_err(|e| failed.get_or_insert(e).to_string()) {
            tracing::error!(error = %e, "a call recording could not be finished");
        }
        if let Some(e) = failed {
            tracing::error!(error = %e, path = %path.display(), "a call recording failed; it ends here");
            env.records.event(
                key,
                "recording_failed",
                serde_json::json!({ "recording": id, "reason": e.to_string() }),
            );
        }
        if let Err(e) = crate::store::recordings::update(&env.db, id, length, &paused, true).await {
            tracing::warn!(error = %e, "a call recording's length was not saved");
        }
        // Its transcript is made next (in the background).
        crate::calls::transcribe::WAKE.notify_one();
    }
}

/// Deletes recordings past their account's retention (files, then rows), now and every day.
pub async fn clean_up(db: &Db, data_dir: &std::path::Path, now_ms: i64) -> crate::error::Result<usize> {
    let expired = crate::store::recordings::expired(db, now_ms).await?;
    for (id, call_id, path) in &expired {
        match std::fs::remove_file(data_dir.join(path)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(error = %e, %path, "an expired recording could not be deleted; kept");
                continue;
            }
        }
        crate::store::recordings::delete(db, *id, *call_id, "retention").await?;
    }
    Ok(expired.len())
}

/// Runs `clean_up` at start and then daily.
/// Closes the recordings a previous run left open (it died mid-call): each ends where its
/// file does (the header is committed every second, so the file says more than the row, which
/// is updated every few seconds). Returns how many.
pub async fn close_abandoned(db: &Db, data_dir: &std::path::Path) -> crate::error::Result<u64> {
    for (id, path, row_ms) in crate::store::recordings::still_open(db).await? {
        // (Read whole: a header's size is believed only as far as the data is there.)
        let Ok(bytes) = std::fs::read(data_dir.join(&path)) else { continue };
        if let Ok(info) = switchboard_telephony::media::wav::parse(&bytes) {
            let ms = info.duration_ms() as i64;
            if ms > row_ms {
                crate::store::recordings::set_length(db, id, ms).await?;
            }
        }
    }
    crate::store::recordings::close_abandoned(db).await
}

pub fn spawn_daily_clean_up(db: Db, data_dir: PathBuf) {
    tokio::spawn(async move {
        let mut day = tokio::time::interval(Duration::from_secs(86_400));
        loop {
            day.tick().await;
            match clean_up(&db, &data_dir, crate::clock::now_ms()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "expired call recordings deleted"),
                Err(e) => {
                    tracing::warn!(error = %e, "the recordings' clean-up failed; trying again tomorrow")
                }
            }
        }
    });
}
