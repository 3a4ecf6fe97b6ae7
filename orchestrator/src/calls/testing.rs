//! Call handlers without sockets, on tokio's paused clock: an `AnsweredCall` whose SIP side,
//! media side and record writer are channels that a test plays. The media side is played
//! for real: every source the handlers send to the caller is read to its end (or ten minutes
//! of it), recognised (each prompt's text is given a tone of its own frequency) and "heard"
//! for as long as it lasts on the virtual clock, so timeouts and waits happen as on a call.

use crate::calls::answered::{AnsweredCall, LegEvent, Legs};
use crate::calls::dispatch;
use crate::calls::snapshot::{AccountConfig, Snapshot};
use crate::configfile::ConfigFile;
use crate::model::Target;
use crate::store::calls::{NewCall, RecordOp, RecordWriter};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchboard_telephony::driver::{DriverCommand, SipHandle};
use switchboard_telephony::media::player::Source;
use switchboard_telephony::media::relay::{MediaSide, Relay, RelayCommand};
use switchboard_telephony::sip::b2bua::{CallId, RouteDecision};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

pub const ACCOUNT: i64 = 1;
const RATE: usize = 8000;
/// The most of one source that is read (hold music loops for ever).
const LONGEST: usize = 150 * RATE;

/// What the caller heard, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Heard {
    /// A prompt whose text was registered with `Call::prompt`.
    Prompt(String),
    /// Anything else: its main frequency (zero crossings) and how long it lasts (`None`:
    /// longer than ten minutes, a loop).
    Sound { hz: u32, ms: Option<u64> },
}

/// The next thing that happens on the call's other ends.
#[derive(Debug, Clone, PartialEq)]
pub enum Happened {
    Heard(Heard),
    Asked(Asked),
}

/// What the SIP side was asked.
#[derive(Debug, Clone, PartialEq)]
pub enum Asked {
    /// Ring this extension for at most this long.
    Ring {
        extension: String,
        ring_ms: u64,
    },
    Dial {
        uri: String,
    },
    /// Ring these extensions at once (ring-all).
    RingAll {
        extensions: Vec<String>,
        ring_ms: u64,
    },
    /// Stop ringing whoever is rung.
    StopRinging,
    HangUp,
    Other(String),
}

/// A test's call: the handlers run it in a task; the test drives the other ends.
pub struct Call {
    heard: mpsc::UnboundedReceiver<(Duration, Heard)>,
    sip: mpsc::Receiver<DriverCommand>,
    records: mpsc::UnboundedReceiver<RecordOp>,
    digits: mpsc::UnboundedSender<char>,
    legs: mpsc::UnboundedSender<LegEvent>,
    hang_up: Option<oneshot::Sender<()>>,
    started: Instant,
    pub events: Vec<(String, serde_json::Value)>,
    task: Option<tokio::task::JoinHandle<()>>,
    db: crate::db::Db,
    _dir: tempfile::TempDir,
}

/// Prompts known by tone: text → frequency.
fn prompts() -> &'static Mutex<Vec<String>> {
    static PROMPTS: std::sync::OnceLock<Mutex<Vec<String>>> = std::sync::OnceLock::new();
    PROMPTS.get_or_init(Default::default)
}

fn prompt_hz(index: usize) -> u32 {
    2_000 + 40 * index as u32
}

/// Registers `text` as a prompt that sounds like one second of its own tone.
pub fn prompt(text: &str) {
    let index = {
        let mut known = prompts().lock().unwrap();
        match known.iter().position(|t| t == text) {
            Some(i) => i,
            None => {
                known.push(text.to_string());
                known.len() - 1
            }
        }
    };
    let hz = prompt_hz(index) as f32;
    let samples: Vec<i16> = (0..RATE)
        .map(|i| ((i as f32 * hz * std::f32::consts::TAU / RATE as f32).sin() * 8000.0) as i16)
        .collect();
    crate::calls::prompts::preload(
        text,
        None,
        switchboard_telephony::media::wav::encode_pcm16(&samples, 8000, 1),
    );
}

/// Reads a source (at most ten minutes) and says what it is.
fn listen(mut source: Box<dyn Source + Send>) -> Heard {
    let mut samples: Vec<i16> = Vec::new();
    while samples.len() < LONGEST {
        match source.next_frame() {
            Some(frame) => samples.extend(frame),
            None => break,
        }
    }
    let ms = (samples.len() < LONGEST).then_some((samples.len() * 1000 / RATE) as u64);
    let head = &samples[..samples.len().min(RATE)];
    let crossings = head.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
    let hz = (crossings as f64 / 2.0 / (head.len().max(1) as f64 / RATE as f64)).round() as u32;
    let known = prompts().lock().unwrap();
    if ms == Some(1000) {
        if let Some(i) = (0..known.len()).find(|&i| prompt_hz(i).abs_diff(hz) <= 4) {
            return Heard::Prompt(known[i].clone());
        }
    }
    Heard::Sound { hz, ms }
}

/// Plays the relay's side: each play is heard for as long as it lasts, then completes, unless
/// stopped or replaced first.
async fn media_side(
    mut asked: mpsc::UnboundedReceiver<RelayCommand>,
    heard: mpsc::UnboundedSender<(Duration, Heard)>,
) {
    let started = Instant::now();
    let mut playing: Option<(Instant, oneshot::Sender<()>)> = None;
    // Taps stay open (the caller is silent) for as long as the call.
    let mut taps = Vec::new();
    loop {
        let ends = playing.as_ref().map(|(at, _)| *at);
        tokio::select! {
            command = asked.recv() => match command {
                None => return,
                Some(RelayCommand::Play { side: MediaSide::A, source, done }) => {
                    let what = listen(source);
                    let length = match &what {
                        Heard::Prompt(_) => Some(1000),
                        Heard::Sound { ms, .. } => *ms,
                    };
                    let _ = heard.send((started.elapsed(), what));
                    // A replaced sound counts as finished (its waiter goes on).
                    playing = Some((Instant::now() + Duration::from_millis(length.unwrap_or(u64::MAX / 4)), done));
                }
                Some(RelayCommand::Stop { side: MediaSide::A }) => playing = None,
                Some(RelayCommand::Tap { frames, .. }) => taps.push(frames),
                Some(_) => {}
            },
            _ = async { tokio::time::sleep_until(ends.unwrap()).await }, if ends.is_some() => {
                if let Some((_, done)) = playing.take() {
                    let _ = done.send(());
                }
            }
        }
    }
}

fn describe(command: DriverCommand) -> Asked {
    match command {
        DriverCommand::Route(_, RouteDecision::Ring { extension, ring_timeout_ms, .. }) => {
            Asked::Ring { extension, ring_ms: ring_timeout_ms }
        }
        DriverCommand::Route(_, RouteDecision::RingGroup { members, ring_timeout_ms, .. }) => {
            Asked::RingAll {
                extensions: members.into_iter().map(|(e, _)| e).collect(),
                ring_ms: ring_timeout_ms,
            }
        }
        DriverCommand::Route(_, RouteDecision::Dial { uri, .. }) => Asked::Dial { uri },
        DriverCommand::Hangup(_) => Asked::HangUp,
        DriverCommand::KeepCaller(..) => Asked::Other("keep caller".into()),
        DriverCommand::ReportUnreached(..) => Asked::Other("report unreached".into()),
        DriverCommand::StopRinging(_) => Asked::StopRinging,
        _ => Asked::Other("something else".into()),
    }
}

impl Call {
    /// Starts the dispatcher on `first` for a call to an account configured by `yaml` (a
    /// config file's sections), with the agents in `away` not available. Call it before
    /// pausing the clock (the temporary database is opened on the real one).
    pub async fn start(yaml: &str, away: &[&str], first: Target) -> Call {
        // The account's settings are the test's own when it gives some.
        let settings = if yaml.starts_with("settings:") { "" } else { "settings: {name: Test}\n" };
        let file =
            ConfigFile::from_yaml(&format!("account: test\n{settings}{yaml}")).expect("a valid config");
        let mut snapshot = Snapshot::default();
        snapshot.insert(ACCOUNT, AccountConfig::from_file(&file, away.iter().map(|a| a.to_string())));
        let dir = tempfile::tempdir().unwrap();
        let db = crate::db::Db::open(&crate::db::Db::sqlite_url(dir.path())).await.unwrap();
        // The account the handlers write for (its id is ACCOUNT: the first in a new database).
        let account = crate::store::accounts::create(&db, "test", &file.settings).await.unwrap();
        assert_eq!(account.id, ACCOUNT);
        tokio::time::pause();
        let (sip, sip_asked) = SipHandle::detached("127.0.0.1:5060".parse().unwrap());
        let (relay, media_asked) =
            Relay::detached("127.0.0.1:10000".parse().unwrap(), "127.0.0.1:10002".parse().unwrap());
        let (records, record_ops) = RecordWriter::detached();
        let record = records.create(
            ACCOUNT,
            NewCall {
                direction: "inbound".into(),
                from_number: "+15550001111".into(),
                to_number: "+15550002222".into(),
                customer_id: None,
                agent_extension: None,
                ai_agent: None,
            },
            None,
        );
        let (digits_tx, digits) = mpsc::unbounded_channel();
        let (legs_tx, legs) = mpsc::unbounded_channel();
        let (hang_up, ended) = oneshot::channel();
        let (heard_tx, heard) = mpsc::unbounded_channel();
        tokio::spawn(media_side(media_asked, heard_tx));
        let call = AnsweredCall {
            db: db.clone(),
            sip,
            call: CallId(1),
            account: ACCOUNT,
            relay: Arc::new(relay),
            data_dir: dir.path().to_path_buf(),
            records,
            record: Some(record),
            digits,
            caller: Some("+15550001111".into()),
            ended,
            legs: Legs::new(legs),
            snapshot: watch::channel(Arc::new(snapshot)).1,
            live: crate::live::Live::new(),
            lead_in: None,
            verdict: Default::default(),
        };
        let task = tokio::spawn(dispatch::run(call, first));
        Call {
            heard,
            sip: sip_asked,
            records: record_ops,
            digits: digits_tx,
            legs: legs_tx,
            hang_up: Some(hang_up),
            started: Instant::now(),
            events: Vec::new(),
            task: Some(task),
            db,
            _dir: dir,
        }
    }

    /// Virtual time since the call started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// The next thing the caller hears, and when.
    pub async fn hears_at(&mut self) -> (Duration, Heard) {
        let next = tokio::time::timeout(Duration::from_secs(3600), self.heard.recv()).await;
        next.ok().flatten().expect("the caller heard nothing more")
    }

    /// The next thing the caller hears.
    pub async fn hears(&mut self) -> Heard {
        let next = tokio::time::timeout(Duration::from_secs(3600), self.heard.recv()).await;
        next.ok().flatten().map(|(_, h)| h).expect("the caller heard nothing more")
    }

    /// Hears sounds until the prompt `text`, returning what came before it.
    pub async fn hears_prompt(&mut self, text: &str) -> Vec<Heard> {
        let mut before = Vec::new();
        loop {
            match self.hears().await {
                Heard::Prompt(t) if t == text => return before,
                other => before.push(other),
            }
        }
    }

    /// The next thing the SIP side is asked (within an hour of virtual time).
    pub async fn asked(&mut self) -> Asked {
        let next = tokio::time::timeout(Duration::from_secs(3600), self.sip.recv()).await;
        describe(next.ok().flatten().expect("nothing more was asked of SIP"))
    }

    /// The next thing the caller hears or the SIP side is asked, with the virtual time.
    pub async fn next(&mut self) -> (Duration, Happened) {
        let next = tokio::time::timeout(Duration::from_secs(3600), async {
            tokio::select! {
                Some((at, heard)) = self.heard.recv() => (at, Happened::Heard(heard)),
                Some(command) = self.sip.recv() => (self.started.elapsed(), Happened::Asked(describe(command))),
            }
        });
        next.await.expect("nothing happened on the call for an hour")
    }

    pub fn press(&self, key: char) {
        let _ = self.digits.send(key);
    }

    /// What happened to whoever was rung.
    pub fn leg(&self, event: LegEvent) {
        let _ = self.legs.send(event);
    }

    /// The caller hangs up.
    pub fn hang_up(&mut self) {
        self.hang_up.take();
    }

    /// Waits until the dispatcher is done with the call (within an hour of virtual time);
    /// the timeline is then in `events`.
    pub async fn finished(&mut self) {
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(3600), task)
                .await
                .expect("the dispatcher was still busy with the call an hour later")
                .expect("the dispatcher panicked");
        }
        while let Ok(op) = self.records.try_recv() {
            if let RecordOp::Event { kind, data, .. } = op {
                self.events.push((kind, data));
            }
        }
    }

    /// The call's database (the account's, with id `ACCOUNT`).
    pub fn db(&self) -> crate::db::Db {
        self.db.clone()
    }

    /// The timeline's events of one kind (after `finished`).
    pub fn events_of(&self, kind: &str) -> Vec<serde_json::Value> {
        self.events.iter().filter(|(k, _)| k == kind).map(|(_, d)| d.clone()).collect()
    }
}
