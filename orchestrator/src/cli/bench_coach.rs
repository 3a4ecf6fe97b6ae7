//! `switchboard bench coach`: how soon a coaching card reaches the agent after the caller's
//! words. A benchmark prints numbers; it never fails a build.
//!
//! Set-up, in process: the demo account in a temporary SQLite database (its orders and its
//! coach's written answers), the real speech engines (Whisper, the MiniLM embedder) and, per
//! coached call, the coaching task fed at the pace of a call with 20 ms frames of the caller's
//! speech (the piper voice, or espeak-ng) and the agent's silence, as the relay's taps feed it.
//! Latency runs from the frame that carries the end of the caller's words to the card in the
//! view that the workspace long-polls. It includes the pause that ends a line (600 ms), the
//! recognition, the embedding and the store lookup. `--calls` coaches that many calls at once.

use crate::calls::coach::{self, Audio, Session};
use crate::db::Db;
use anyhow::{bail, Context};
use clap::Args;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

#[derive(Debug, Clone, Args)]
pub struct BenchCoachOptions {
    /// Caller lines measured per call (each brings up one card).
    #[arg(long, default_value_t = 10)]
    pub lines: usize,
    /// Coached calls at once.
    #[arg(long, default_value_t = 1)]
    pub calls: usize,
    /// The caller's voice: `piper` (natural; needs its model package) or `espeak`.
    #[arg(long, default_value = "piper")]
    pub caller_voice: String,
}

/// What the caller says, and what card each line brings up.
const LINES: [(&str, &str); 4] = [
    ("Hi, I'm calling about order number one zero zero two.", "Order #1002"),
    ("How do I return something?", "Returns are free"),
    ("Can you check order one zero zero five for me?", "Order #1005"),
    ("How long does shipping take?", "Standard shipping"),
];

fn speak(voice: &str, text: &str) -> anyhow::Result<Vec<i16>> {
    use switchboard_speech::tts::TextToSpeech;
    let a = match voice {
        "espeak" => switchboard_speech::tts::Espeak::default().synthesize(text)?,
        "piper" => {
            let dir = switchboard_models::catalog::default_dir();
            switchboard_speech::tts::Piper::load(&dir, 1)
                .context("the piper voice package (run scripts/setup, or use --caller-voice espeak)")?
                .steady()
                .synthesize(text)?
        }
        other => bail!("unknown --caller-voice {other}: piper or espeak"),
    };
    let mut s = switchboard_telephony::media::player::resample(&a.samples, a.rate, 8000);
    while s.last().is_some_and(|x| x.unsigned_abs() < 200) {
        s.pop();
    }
    Ok(s)
}

/// One coached call: each line said (at most one round of `LINES`: a card is given once per
/// call), then silence until its card shows (or 10 s); the latencies in ms, and the lines
/// whose card never came.
async fn one_call(
    db: Db,
    account: i64,
    lines: usize,
    speech: Arc<Vec<(Vec<i16>, &'static str)>>,
) -> (Vec<f64>, Vec<&'static str>) {
    let session = Session::new(account, None, 0, "bench", "101");
    let (caller_tx, caller) = mpsc::unbounded_channel();
    let (agent_tx, agent) = mpsc::unbounded_channel();
    let (stop_tx, stop) = oneshot::channel();
    let settings = crate::demo::coach();
    let task = {
        let session = session.clone();
        tokio::spawn(async move {
            coach::run(session, &settings, Audio { caller, agent }, db, None, None, stop).await
        })
    };
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let silence = vec![0i16; 160];
    let (mut latencies, mut missed) = (Vec::new(), Vec::new());
    // A second of silence first (the coach loads its models).
    for _ in 0..50 {
        tick.tick().await;
        let _ = (caller_tx.send(silence.clone()), agent_tx.send(silence.clone()));
    }
    for i in 0..lines {
        let (audio, wanted) = &speech[i % speech.len()];
        let cards_before = session.view().cards.len();
        for chunk in audio.chunks(160) {
            tick.tick().await;
            let mut frame = chunk.to_vec();
            frame.resize(160, 0);
            let _ = (caller_tx.send(frame), agent_tx.send(silence.clone()));
        }
        let said = Instant::now();
        let deadline = said + Duration::from_secs(10);
        let mut changes = session.changes();
        let got = loop {
            let view = session.view();
            let new = &view.cards[cards_before.min(view.cards.len())..];
            if new.iter().any(|c| c.title.contains(wanted) || c.lines.iter().any(|l| l.contains(wanted))) {
                break Some(said.elapsed());
            }
            if Instant::now() > deadline {
                break None;
            }
            tokio::select! {
                _ = tick.tick() => { let _ = (caller_tx.send(silence.clone()), agent_tx.send(silence.clone())); }
                _ = changes.changed() => {}
            }
        };
        match got {
            Some(t) => latencies.push(t.as_secs_f64() * 1000.0),
            None => missed.push(*wanted),
        }
        // A pause between lines, as in a conversation.
        for _ in 0..25 {
            tick.tick().await;
            let _ = (caller_tx.send(silence.clone()), agent_tx.send(silence.clone()));
        }
    }
    let _ = stop_tx.send(());
    let _ = task.await;
    (latencies, missed)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

pub async fn coach(opts: BenchCoachOptions) -> anyhow::Result<()> {
    let engines = crate::agent::voice::Engines::shared().await;
    if let Err(e) = &engines.recognizer {
        bail!("speech recognition is not available ({e}); run scripts/setup");
    }
    let dir = tempfile::tempdir()?;
    let db = Db::open(&Db::sqlite_url(dir.path())).await?;
    crate::demo::ensure(&db).await?;
    let account =
        crate::store::accounts::by_slug(&db, crate::demo::ACCOUNT).await?.context("demo account")?.id;
    let voice = opts.caller_voice.clone();
    let speech = tokio::task::spawn_blocking(move || {
        LINES
            .iter()
            .map(|(text, wanted)| Ok((speak(&voice, text)?, *wanted)))
            .collect::<anyhow::Result<Vec<_>>>()
    })
    .await??;
    let speech = Arc::new(speech);
    println!("Switchboard coaching benchmark: caller's words -> VAD/end of line (600 ms) -> Whisper -> coach -> card");
    println!(
        "host: {} CPU cores; caller voice: {}; {} line(s) per call, {} call(s) at once",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        opts.caller_voice,
        opts.lines,
        opts.calls
    );
    let mut all = Vec::new();
    let mut missed = Vec::new();
    let mut rounds = opts.lines;
    while rounds > 0 {
        let per_call = rounds.min(LINES.len());
        rounds -= per_call;
        let runs: Vec<_> = (0..opts.calls)
            .map(|_| tokio::spawn(one_call(db.clone(), account, per_call, speech.clone())))
            .collect();
        for r in runs {
            let (l, m) = r.await?;
            all.extend(l);
            missed.extend(m);
        }
    }
    all.sort_by(f64::total_cmp);
    println!(
        "cards: {} shown, {} missed{}",
        all.len(),
        missed.len(),
        if missed.is_empty() { String::new() } else { format!(" ({})", missed.join(", ")) }
    );
    println!(
        "latency from the end of the caller's words to the card: p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms (target: p50 <= 2000 ms)",
        percentile(&all, 0.5),
        percentile(&all, 0.95),
        all.last().copied().unwrap_or(f64::NAN)
    );
    Ok(())
}
