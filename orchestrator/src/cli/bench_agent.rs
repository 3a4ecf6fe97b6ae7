//! `switchboard bench agent`: voice-to-voice latency of AI calls and how many this machine
//! holds. A benchmark prints numbers; it never fails a build.
//!
//! Set-up, in process: the demo account in a temporary SQLite database, an LLM agent whose LLM
//! is a scripted OpenAI-compatible server on loopback that answers at once (real HTTP and
//! server-sent events), the real speech engines (the recogniser asked for, the default voice), and per call a
//! real RTP relay with the AI driver on its caller side. Each simulated caller is an RTP
//! endpoint: it waits for the greeting, says its question (espeak-ng, trailing silence cut),
//! and measures from the last packet of its speech to the first packet of the agent's answer
//! that carries sound. That time includes the end-of-turn silence the agent waits for
//! (`--end-of-turn-ms`), which is also printed subtracted. SIP signalling is not part of it.

use crate::agent::voice::VoiceCall;
use crate::db::Db;
use crate::store::{accounts, calls, config};
use anyhow::{bail, Context};
use clap::Args;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchboard_telephony::media::g711;
use switchboard_telephony::media::relay::{PortPool, Relay};
use switchboard_telephony::sip::b2bua::CallId;

#[derive(Debug, Clone, Args)]
pub struct BenchAgentOptions {
    /// Turns measured on a single call.
    #[arg(long, default_value_t = 50)]
    pub turns: usize,
    /// Most simultaneous calls tried (2, 4, 6 … up to this; every step runs, past the first
    /// that misses a turn, so the curve shows).
    #[arg(long, default_value_t = 14)]
    pub max_calls: usize,
    /// Runs of each step of simultaneous calls.
    #[arg(long, default_value_t = 2)]
    pub repeats: usize,
    /// Keeps one core busy with another process (a shell's busy loop) during the simultaneous
    /// calls: how the agent degrades when the machine is shared.
    #[arg(long)]
    pub background_load: bool,
    /// Turns per call in the simultaneous-calls test.
    #[arg(long, default_value_t = 4)]
    pub turns_per_call: usize,
    /// The agent's end-of-turn silence (ms, 200..=5000).
    #[arg(long, default_value_t = 300)]
    pub end_of_turn_ms: u32,
    /// The local recogniser: moonshine (base-en, the server's default), whisper (tiny.en) or
    /// whisper-base.
    #[arg(long, default_value = "moonshine", value_parser = crate::speechcloud::parse_recogniser)]
    pub recogniser: crate::model::Recogniser,
    /// The caller's voice: `piper` (natural; needs its model package) or `espeak` (robotic:
    /// the recogniser often hears it without punctuation, so turns wait out the full silence).
    #[arg(long, default_value = "piper")]
    pub caller_voice: String,
    /// Measure a real OpenAI-compatible LLM instead of the scripted instant one (a llama.cpp or
    /// Ollama server on this machine, say): the agent gets the demo order assistant's
    /// instructions and tools, its server is warmed up first, and the tools it chose are
    /// counted.
    #[arg(long)]
    pub llm_url: Option<String>,
    /// The model name sent to `--llm-url`.
    #[arg(long, default_value = "local")]
    pub llm_model: String,
    /// The agent's first-token limit in ms with `--llm-url` (the agents' default is 1200).
    #[arg(long, default_value_t = 1200)]
    pub first_token_timeout_ms: u32,
}

async fn scripted_llm() -> anyhow::Result<String> {
    use axum::response::IntoResponse;
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(|| async {
            let chunk = |text: &str, finish: Option<&str>| {
                format!(
                    "data: {}\n\n",
                    serde_json::json!({"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}]})
                )
            };
            let body = format!(
                "{}{}data: {}\n\ndata: [DONE]\n\n",
                chunk("Sure, ", None),
                chunk("your order has shipped.", Some("stop")),
                serde_json::json!({"choices": [], "usage": {"prompt_tokens": 300, "completion_tokens": 8}})
            );
            ([("content-type", "text/event-stream")], body).into_response()
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(format!("http://{addr}/v1"))
}

/// A simulated caller's RTP endpoint.
struct Caller {
    addr: SocketAddr,
    to_say: Arc<Mutex<VecDeque<i16>>>,
    /// When the last sample queued was sent.
    said_at: Arc<Mutex<Option<Instant>>>,
    /// (arrival, loud) per packet received.
    heard: Arc<Mutex<Vec<(Instant, bool)>>>,
    peer: Arc<Mutex<Option<SocketAddr>>>,
}

impl Caller {
    async fn start() -> anyhow::Result<Caller> {
        let socket = Arc::new(tokio::net::UdpSocket::bind("127.0.0.1:0").await?);
        let addr = socket.local_addr()?;
        let caller = Caller {
            addr,
            to_say: Default::default(),
            said_at: Default::default(),
            heard: Default::default(),
            peer: Default::default(),
        };
        let (s, heard, peer) = (socket.clone(), caller.heard.clone(), caller.peer.clone());
        tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            while let Ok((n, from)) = s.recv_from(&mut buf).await {
                let Some(h) = switchboard_telephony::media::rtp::RtpHeader::parse(&buf[..n]) else {
                    continue;
                };
                if h.payload_type != 0 {
                    continue;
                }
                *peer.lock().unwrap_or_else(|e| e.into_inner()) = Some(from);
                let payload = h.payload(&buf[..n]);
                let energy = payload.iter().map(|&b| (g711::ulaw_to_linear(b) as f64).powi(2)).sum::<f64>()
                    / payload.len().max(1) as f64;
                heard.lock().unwrap_or_else(|e| e.into_inner()).push((Instant::now(), energy.sqrt() > 300.0));
            }
        });
        let (to_say, said_at, peer) = (caller.to_say.clone(), caller.said_at.clone(), caller.peer.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            let (mut seq, mut ts) = (0u16, 0u32);
            loop {
                tick.tick().await;
                let (frame, last) = {
                    let mut q = to_say.lock().unwrap_or_else(|e| e.into_inner());
                    let had = !q.is_empty();
                    let f: Vec<u8> =
                        (0..160).map(|_| g711::linear_to_ulaw(q.pop_front().unwrap_or(0))).collect();
                    (f, had && q.is_empty())
                };
                let Some(to) = *peer.lock().unwrap_or_else(|e| e.into_inner()) else { continue };
                let packet = switchboard_telephony::media::rtp::write(false, 0, seq, ts, 0xbe9c, &frame);
                if socket.send_to(&packet, to).await.is_err() {
                    return;
                }
                if last {
                    *said_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
                }
                (seq, ts) = (seq.wrapping_add(1), ts.wrapping_add(160));
            }
        });
        Ok(caller)
    }

    /// Waits until the agent has spoken after `since` and then been quiet for `quiet`.
    async fn wait_spoken_then_quiet(&self, since: Instant, quiet: Duration, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            let last_loud = self
                .heard
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .rev()
                .find(|(t, loud)| *loud && *t > since)
                .map(|(t, _)| *t);
            if last_loud.is_some_and(|t| t.elapsed() >= quiet) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    /// Says `speech`; returns the voice-to-voice latency (ms) of the agent's answer, and when
    /// the last voiced sample went out.
    async fn turn(&self, speech: &[i16], limit: Duration) -> Option<(f64, Instant)> {
        *self.said_at.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.to_say.lock().unwrap_or_else(|e| e.into_inner()).extend(speech);
        let deadline = Instant::now() + limit;
        let said = loop {
            if let Some(t) = *self.said_at.lock().unwrap_or_else(|e| e.into_inner()) {
                break t;
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        while Instant::now() < deadline {
            let first = self
                .heard
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .find(|(t, loud)| *loud && *t > said)
                .map(|(t, _)| *t);
            if let Some(t) = first {
                let latency = t.duration_since(said).as_secs_f64() * 1000.0;
                // Let the answer play out before the next question.
                self.wait_spoken_then_quiet(said, Duration::from_millis(500), limit).await;
                return Some((latency, said));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        None
    }
}

struct Rig {
    db: Db,
    records: calls::RecordWriter,
    account: i64,
    pool: Arc<PortPool>,
    sip: switchboard_telephony::driver::SipHandle,
    data_dir: std::path::PathBuf,
    next_call: std::sync::atomic::AtomicU64,
    live: crate::live::Live,
    snapshot: tokio::sync::watch::Receiver<Arc<crate::calls::snapshot::Snapshot>>,
}

impl Rig {
    /// One AI call with `turns` turns; the turns that were answered (their latency in ms, and
    /// when the caller's last voiced sample went out, unix ms), and how many were not.
    async fn call(&self, speech: Arc<Vec<i16>>, turns: usize) -> anyhow::Result<(Vec<(f64, f64)>, usize)> {
        let caller = Caller::start().await?;
        let ip = "127.0.0.1".parse()?;
        let (a, b) = (self.pool.bind(ip).await?, self.pool.bind(ip).await?);
        let relay = Arc::new(Relay::start(a, b, None)?);
        relay.set_payload_type(0);
        relay.update(Some(caller.addr), None, None, None);
        let (_digits_tx, digits) = tokio::sync::mpsc::unbounded_channel();
        let (ended_tx, ended) = tokio::sync::oneshot::channel();
        let id = self.next_call.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (_legs_tx, legs) = tokio::sync::mpsc::unbounded_channel();
        let mut line = crate::calls::AnsweredCall {
            db: self.db.clone(),
            sip: self.sip.clone(),
            call: CallId(1_000_000 + id),
            account: self.account,
            relay: relay.clone(),
            data_dir: self.data_dir.clone(),
            records: self.records.clone(),
            record: None,
            digits,
            caller: Some(crate::demo::customer_phone(id as usize % 30)),
            ended,
            legs: crate::calls::answered::Legs::new(legs),
            snapshot: self.snapshot.clone(),
            live: self.live.clone(),
            lead_in: None,
            verdict: Default::default(),
        };
        let agent = tokio::spawn(async move {
            VoiceCall::new("bench-agent".into()).run(&mut line).await;
            drop(_legs_tx);
        });
        let started = Instant::now();
        let mut latencies = Vec::new();
        let mut missed = 0;
        if caller.wait_spoken_then_quiet(started, Duration::from_millis(400), Duration::from_secs(20)).await {
            for _ in 0..turns {
                match caller.turn(&speech, Duration::from_secs(15)).await {
                    Some((ms, said)) => latencies.push((ms, crate::clock::unix_ms_of(said))),
                    None => missed += 1,
                }
            }
        } else {
            missed = turns;
        }
        drop(ended_tx);
        let _ = tokio::time::timeout(Duration::from_secs(5), agent).await;
        Ok((latencies, missed))
    }
}

/// Where a stage's time comes from.
#[derive(Clone, Copy)]
enum At {
    /// The agent heard the end of speech (`speech_end_unix_ms` on the caller's clock).
    Heard,
    /// A stage of the agent's latency event (`{name}_ms` after the end of speech).
    Event(&'static str),
    /// The caller heard the answer (its own measurement).
    Answered,
}

/// The stages of a turn as the caller lives them: ms after its last voiced sample went out,
/// each stage's p50 and p95 over the turns.
struct Waterfall {
    stages: Vec<(&'static str, Vec<f64>)>,
}

impl Waterfall {
    /// The stages in order: where each comes from, and what it is.
    const STAGES: [(At, &'static str); 9] = [
        (At::Heard, "speech end heard by the agent (network, relay, jitter buffer)"),
        (At::Event("speech_stopped"), "voice activity detector: speech stopped"),
        (At::Event("end_of_turn"), "end of turn"),
        (At::Event("final_transcript"), "final transcript"),
        (At::Event("first_token"), "LLM's first token"),
        (At::Event("first_sentence"), "first sentence"),
        (At::Event("first_audio"), "first audio synthesised"),
        (At::Event("first_packet"), "first packet sent"),
        (At::Answered, "first voiced packet heard by the caller"),
    ];

    fn new() -> Waterfall {
        Waterfall { stages: Self::STAGES.iter().map(|(_, what)| (*what, Vec::new())).collect() }
    }

    /// One turn's latency event, placed on the caller's clock by the turn whose last voiced
    /// sample went out just before the agent heard speech end (both clocks are this machine's).
    fn add(&mut self, data: &serde_json::Value, turns: &[(f64, f64)]) {
        let Some(heard) = data["speech_end_unix_ms"].as_f64() else { return };
        let Some(&(latency, said)) = turns
            .iter()
            .filter(|(_, said)| (heard - said).abs() < 1000.0)
            .min_by(|a, b| (heard - a.1).abs().total_cmp(&(heard - b.1).abs()))
        else {
            return;
        };
        let offset = heard - said;
        for ((at, _), (_, v)) in Self::STAGES.iter().zip(self.stages.iter_mut()) {
            v.extend(match at {
                At::Heard => Some(offset),
                At::Event(f) => data[format!("{f}_ms")].as_f64().map(|ms| offset + ms),
                At::Answered => Some(latency),
            });
        }
    }

    fn print(&self) {
        println!("   the turn on the caller's clock, ms after its last voiced sample went out (p50 / p95):");
        for (what, v) in &self.stages {
            if !v.is_empty() {
                println!("     {what:<62} {:>6.0} {:>6.0}", percentile(v, 0.5), percentile(v, 0.95));
            }
        }
    }
}

fn percentile(v: &[f64], p: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    v[((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1]
}

pub async fn agent(opts: BenchAgentOptions) -> anyhow::Result<()> {
    super::options::media_threads()?;
    // The recogniser the engines load (the setting `serve --recogniser` makes).
    crate::speechcloud::CloudSpeechOptions { recogniser: opts.recogniser, ..Default::default() }.install();
    let engines = crate::agent::voice::Engines::shared().await;
    if let Err(e) = &engines.recognizer {
        bail!("speech recognition is not available ({e}); run scripts/setup");
    }
    if !(200..=5000).contains(&opts.end_of_turn_ms) {
        bail!("--end-of-turn-ms must be 200..=5000");
    }
    let dir = tempfile::tempdir()?;
    let db = Db::open(&Db::sqlite_url(dir.path())).await?;
    crate::demo::ensure(&db).await?;
    let account = accounts::by_slug(&db, crate::demo::ACCOUNT).await?.context("demo account")?.id;
    let mut agent: crate::model::AiAgent = serde_json::from_value(serde_json::json!({
        "name": "bench-agent", "system_prompt": "You help callers.", "greeting": "Hello.",
        "llm": {"base_url": scripted_llm().await?, "model": "scripted"},
        "escalation_target": {"type": "agent", "extension": "101"},
        "end_of_turn_silence_ms": opts.end_of_turn_ms
    }))?;
    let brain = match &opts.llm_url {
        None => "LLM (scripted, instant)".to_string(),
        Some(url) => {
            let demo = config::get_by_key::<crate::model::AiAgent>(&db, account, "order-assistant")
                .await?
                .context("the demo's order assistant")?
                .spec;
            (agent.system_prompt, agent.tools) = (demo.system_prompt, demo.tools);
            agent.llm = Some(serde_json::from_value(serde_json::json!({
                "base_url": url, "model": opts.llm_model,
                "first_token_timeout_ms": opts.first_token_timeout_ms,
                "stall_timeout_ms": opts.first_token_timeout_ms.max(2000)
            }))?);
            let warm = crate::agent::warm_up::request(&db, account, &agent).await?.context("an LLM agent")?;
            let client = crate::llm::OpenAiCompatible::new(url, None);
            match crate::agent::warm_up::send(&client, warm).await {
                Ok(took) => {
                    println!("LLM warm-up (instructions and tools read once): {} ms", took.as_millis())
                }
                Err(why) => println!("LLM warm-up failed: {why}"),
            }
            format!("LLM {} at {url}, first-token limit {} ms", opts.llm_model, opts.first_token_timeout_ms)
        }
    };
    config::create(&db, account, agent).await?;
    let (events_tx, mut events) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move { while events.recv().await.is_some() {} });
    let (sip, _sip_task) = switchboard_telephony::driver::start(
        switchboard_telephony::driver::SipConfig {
            bind: "127.0.0.1:0".parse()?,
            registrar: Default::default(),
            secret: "bench".into(),
            nonce_secret: None,
            server_name: "bench".into(),
            webrtc: None,
        },
        events_tx,
    )
    .await?;
    let snapshot =
        tokio::sync::watch::channel(Arc::new(crate::calls::snapshot::Snapshot::load(&db).await?)).1;
    let rig = Arc::new(Rig {
        snapshot,
        records: calls::RecordWriter::start(db.clone()),
        db,
        account,
        pool: Arc::new(PortPool::new(42000, 44998)),
        sip,
        data_dir: dir.path().to_path_buf(),
        next_call: Default::default(),
        live: crate::live::Live::new(),
    });
    // The caller's question, with the synthesiser's trailing silence cut.
    let caller_voice = opts.caller_voice.clone();
    let speech = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<i16>> {
        use switchboard_speech::tts::TextToSpeech;
        let question = "Where is my order?";
        let a = match caller_voice.as_str() {
            "espeak" => switchboard_speech::tts::Espeak::default().synthesize(question)?,
            "piper" => {
                // Its own instance, steady (the same audio every run), not the agent's sessions.
                let dir = switchboard_models::catalog::default_dir();
                switchboard_speech::tts::Piper::load(&dir, 1)
                    .context("the piper voice package (run scripts/setup, or use --caller-voice espeak)")?
                    .steady()
                    .synthesize(question)?
            }
            other => bail!("unknown --caller-voice {other}: piper or espeak"),
        };
        let mut s = switchboard_telephony::media::player::resample(&a.samples, a.rate, 8000);
        while s.last().is_some_and(|x| x.unsigned_abs() < 200) {
            s.pop();
        }
        Ok(s)
    })
    .await??;
    let speech = Arc::new(speech);
    let eot = opts.end_of_turn_ms as f64;
    println!("Switchboard AI agent benchmark: RTP caller -> relay -> VAD/end of turn -> recogniser -> {brain} -> TTS -> RTP");
    println!(
        "host: {} CPU cores; agent voice: {}; caller voice: {}; end-of-turn silence {} ms",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        engines.voice.name(),
        opts.caller_voice,
        opts.end_of_turn_ms
    );
    println!();
    println!(
        "1. voice-to-voice latency, one call, {} turns (end of caller speech -> first agent audio packet)",
        opts.turns
    );
    let mut updates = rig.live.subscribe();
    let (turns, missed) = rig.call(speech.clone(), opts.turns).await?;
    let lat: Vec<f64> = turns.iter().map(|(ms, _)| *ms).collect();
    // The tools the LLM chose for the caller's question ("Where is my order?"), and turns it
    // gave up on.
    let mut tools: std::collections::BTreeMap<String, usize> = Default::default();
    // Each turn's waterfall on the caller's clock: ms after its last voiced sample went out.
    let mut waterfall = Waterfall::new();
    loop {
        let u = match updates.try_recv() {
            Ok(u) => u,
            Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => continue,
            Err(_) => break,
        };
        let e = &u.message["event"];
        if u.message["type"] == "event" && (e["kind"] == "tool_call" || e["kind"] == "ai_fallback") {
            let name =
                e["data"]["tool"].as_str().map_or("gave up (fallback)".to_string(), |t| format!("tool {t}"));
            *tools.entry(name).or_default() += 1;
        }
        if u.message["type"] == "event" && e["kind"] == "latency" {
            waterfall.add(&e["data"], &turns);
        }
    }
    let (p50, p95) = (percentile(&lat, 0.5), percentile(&lat, 0.95));
    println!("   answered {} of {} turns", lat.len(), lat.len() + missed);
    if opts.llm_url.is_some() {
        let chosen: Vec<String> = tools.iter().map(|(t, n)| format!("{t} ×{n}")).collect();
        println!(
            "   the LLM's choices over the turns: {}",
            if chosen.is_empty() { "no tool".into() } else { chosen.join(", ") }
        );
    }
    println!("   p50 {p50:.0} ms, p95 {p95:.0} ms");
    println!(
        "   (a turn recognised as a finished sentence ends then; others wait the {eot:.0} ms end-of-turn silence)"
    );
    waterfall.print();
    println!();
    let recogniser = engines.recognizer.as_ref().map(|r| r.engine_name().to_string()).unwrap_or_default();
    println!(
        "2. simultaneous AI calls ({} turns each; callers start 300 ms apart; {} runs a step; recogniser {recogniser}{})",
        opts.turns_per_call,
        opts.repeats.max(1),
        if opts.background_load { "; one core kept busy by another process" } else { "" }
    );
    let burner = if opts.background_load {
        Some(
            std::process::Command::new("sh")
                .args(["-c", "while :; do :; done"])
                .spawn()
                .context("start the background load")?,
        )
    } else {
        None
    };
    println!("  calls  run  answered  missed   p50 ms   p95 ms   max ms  slow-answer alerts");
    let mut held = 0;
    let mut n = 2;
    while n <= opts.max_calls {
        let mut step_ok = true;
        for run in 1..=opts.repeats.max(1) {
            let mut alerts = rig.live.subscribe();
            let mut tasks = Vec::new();
            for i in 0..n {
                let (rig, speech) = (rig.clone(), speech.clone());
                let turns = opts.turns_per_call;
                tasks.push(tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(300 * i as u64)).await;
                    rig.call(speech, turns).await
                }));
            }
            let (mut all, mut missed) = (Vec::new(), 0);
            for t in tasks {
                let (l, m) = t.await??;
                all.extend(l.into_iter().map(|(ms, _)| ms));
                missed += m;
            }
            // Calls whose supervisor tile showed "slow answers" (what a supervisor would see).
            let mut slow = std::collections::HashSet::new();
            loop {
                match alerts.try_recv() {
                    Ok(u) => {
                        if u.message.to_string().contains("\"slow_turn\"") {
                            slow.insert(u.id);
                        }
                    }
                    Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => continue,
                    Err(_) => break,
                }
            }
            let p95 = percentile(&all, 0.95);
            let max = all.iter().cloned().fold(0.0, f64::max);
            println!(
                "  {n:>5}  {run:>3}  {:>8}  {missed:>6}  {:>7.0}  {p95:>7.0}  {max:>7.0}  {:>6}",
                all.len(),
                percentile(&all, 0.5),
                slow.len()
            );
            step_ok &= missed == 0 && p95 < 1000.0;
        }
        if step_ok && held == n - 2 {
            held = n;
        }
        n += 2;
    }
    if let Some(mut b) = burner {
        let _ = b.kill();
        let _ = b.wait();
    }
    println!("=> {held} simultaneous AI calls with every turn answered and p95 under 1 s");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_turn_is_placed_on_the_callers_clock_by_when_its_speech_ended() {
        let mut w = Waterfall::new();
        // Two turns: said at 10,000 and 20,000 (unix ms), answered after 300 and 280 ms.
        let turns = [(300.0, 10_000.0), (280.0, 20_000.0)];
        let event = serde_json::json!({
            "speech_end_unix_ms": 20_030.0, "speech_stopped_ms": 40, "end_of_turn_ms": 70,
            "final_transcript_ms": 150, "first_token_ms": 160, "first_sentence_ms": 170,
            "first_audio_ms": 220, "first_packet_ms": 230,
        });
        w.add(&event, &turns);
        // An event far from any turn is not placed.
        w.add(&serde_json::json!({"speech_end_unix_ms": 50_000.0, "end_of_turn_ms": 1}), &turns);
        let got: Vec<(&str, Vec<f64>)> = w.stages.iter().map(|(s, v)| (*s, v.clone())).collect();
        assert_eq!(got[0].1, vec![30.0], "heard 30 ms after the second turn's speech went out");
        assert_eq!(got[1].1, vec![70.0]);
        assert_eq!(got[7].1, vec![260.0], "first packet");
        assert_eq!(got[8].1, vec![280.0], "the caller's own measurement of the second turn");
        assert!(got.iter().all(|(_, v)| v.len() == 1));
    }
}
