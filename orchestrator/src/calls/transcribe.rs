//! Transcripts of recordings: after a call, each recording is transcribed in the background by
//! the local recogniser, channel by channel (the customer on the left, the agent on the right),
//! into transcript lines with their speaker, the agent's name, and start and end in the call's
//! time. The queue is the recordings' `transcript_state` in the database, so work left when
//! the process stops is done after it starts again. Card numbers are redacted from the text,
//! as everywhere a transcript is written.
//!
//! One recording at a time, one utterance at a time, and only while no AI call is live (an
//! utterance would hold the recogniser's cores while a caller waits for an answer): the
//! transcripts wait, for five minutes at most per utterance, then go ahead one utterance at a
//! time under a queue of their own (the recogniser serves its queues in turn).

use crate::db::Db;
use crate::model::Agent;
use crate::store::calls::TranscriptLine;
use crate::store::recordings::{self, ToTranscribe};
use std::path::{Path, PathBuf};
use std::time::Duration;
use switchboard_speech::frame::AudioFrame;
use switchboard_speech::vad::{Vad, FRAME_MS};

/// Wakes the transcriber (a recording has just ended).
pub static WAKE: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// How often the transcriber looks for work without being woken (and retries when the
/// recogniser was not available).
const IDLE: Duration = Duration::from_secs(30);

/// The recogniser's queue this work waits in (apart from every live caller's).
const QUEUE: u64 = u64::MAX - 1;

/// Speech in a channel: VAD frames above this score are voiced.
const VOICED: f32 = 0.5;
/// An utterance ends after this much unvoiced audio.
const END_SILENCE_MS: u64 = 700;
/// Voiced stretches shorter than this are clicks and breaths, not words.
const MIN_SPEECH_MS: u64 = 250;
/// Audio kept before and after the voiced frames (word onsets and tails).
const PAD_MS: u64 = 150;
/// The longest utterance recognised at once (bounds how long one holds the recogniser).
const MAX_UTTERANCE_MS: u64 = 15_000;
/// The longest an utterance waits for the AI calls to end.
const MAX_DEFER: Duration = Duration::from_secs(300);

/// The stretches of speech in a channel, as (start, end) in ms, from VAD frame scores.
pub fn utterances(scores: &[(u64, f32)]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut current: Option<(u64, u64)> = None;
    for &(at, score) in scores {
        let voiced = score >= VOICED;
        current = match (current, voiced) {
            (None, true) => Some((at, at + FRAME_MS)),
            (Some((start, _)), true) if at + FRAME_MS - start > MAX_UTTERANCE_MS => {
                out.push((start, at));
                Some((at, at + FRAME_MS))
            }
            (Some((start, _)), true) => Some((start, at + FRAME_MS)),
            (Some((start, end)), false) if at >= end + END_SILENCE_MS => {
                out.push((start, end));
                None
            }
            (c, _) => c,
        };
    }
    out.extend(current);
    out.into_iter()
        .filter(|(s, e)| e - s >= MIN_SPEECH_MS)
        .map(|(s, e)| (s.saturating_sub(PAD_MS), e + PAD_MS))
        .collect()
}

/// Runs the transcriber for the life of the process.
/// The least audio (16 kHz samples, 100 ms) an utterance must have to be recognised.
const MIN_AUDIO: usize = 1_600;

pub fn spawn(db: Db, data_dir: PathBuf, live: crate::live::Live) {
    tokio::spawn(async move {
        let mut unavailable_logged = false;
        loop {
            match recordings::next_to_transcribe(&db).await {
                Ok(Some(job)) => match transcribe(&db, &data_dir, &job, &live).await {
                    Ok(lines) => {
                        unavailable_logged = false;
                        if let Err(e) = recordings::transcribed(&db, &job, Ok(&lines)).await {
                            tracing::warn!(error = %e, "a recording's transcript was not saved");
                            tokio::time::sleep(IDLE).await;
                        }
                        continue;
                    }
                    Err(Failure::Unusable(why)) => {
                        tracing::warn!(recording = job.id, %why, "a recording cannot be transcribed");
                        let _ = recordings::transcribed(&db, &job, Err(&why)).await;
                        continue;
                    }
                    Err(Failure::NoRecogniser(why)) => {
                        if !unavailable_logged {
                            tracing::warn!(%why, "recordings wait for their transcripts: no recogniser");
                            unavailable_logged = true;
                        }
                    }
                },
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "cannot read the recordings to transcribe"),
            }
            let _ = tokio::time::timeout(IDLE, WAKE.notified()).await;
        }
    });
}

enum Failure {
    /// The file is missing or not audio: this recording will never be transcribed.
    Unusable(String),
    /// Recognition is not available now: try again later.
    NoRecogniser(String),
}

/// One recording's lines, both channels, in the call's time.
async fn transcribe(
    db: &Db,
    data_dir: &Path,
    job: &ToTranscribe,
    live: &crate::live::Live,
) -> Result<Vec<TranscriptLine>, Failure> {
    let bytes = tokio::fs::read(data_dir.join(&job.path))
        .await
        .map_err(|e| Failure::Unusable(format!("the file cannot be read: {e}")))?;
    let (info, samples) =
        switchboard_telephony::media::wav::decode(&bytes).map_err(|e| Failure::Unusable(e.to_string()))?;
    if info.channels != 2 || info.sample_rate != 8000 {
        return Err(Failure::Unusable("not an 8 kHz two-channel recording".into()));
    }
    let engines = crate::agent::voice::Engines::shared().await;
    let recognizer = engines.recognizer.as_ref().map_err(|e| Failure::NoRecogniser(e.clone()))?;
    let meter = engines.meter();
    let agent_name = match &job.agent_extension {
        Some(ext) => crate::store::config::list::<Agent>(db, job.account_id)
            .await
            .ok()
            .and_then(|agents| agents.into_iter().find(|a| a.spec.extension == *ext))
            .map(|a| a.spec.display_name),
        None => None,
    };
    let mut lines = Vec::new();
    for (channel, speaker, name) in [(0, "caller", None), (1, "agent", agent_name)] {
        let mono: Vec<i16> = samples.iter().skip(channel).step_by(2).copied().collect();
        let wide = switchboard_speech::resample::resample(&mono, 8000, 16_000)
            .map_err(|e| Failure::Unusable(e.to_string()))?;
        let (scores, wide) = tokio::task::spawn_blocking(move || (Vad::default().handle(0, &wide), wide))
            .await
            .map_err(|e| Failure::Unusable(e.to_string()))?;
        for (start, end) in utterances(&scores) {
            let from = (start as usize * 16).min(wide.len());
            let to = (end as usize * 16).min(wide.len());
            if to < from + MIN_AUDIO {
                // The VAD's last frames can reach past the samples: no audio, or a sliver of it,
                // nothing said (a recogniser given next to none may still "hear" a word, at no
                // length: a CI run's "May." with start = end).
                continue;
            }
            let deferred = tokio::time::Instant::now();
            while live.engagements() > 0 && deferred.elapsed() < MAX_DEFER {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            let audio = AudioFrame { rate: 16_000, samples: wide[from..to].to_vec(), at_ms: start };
            meter.recognised(audio.duration_ms());
            let rx = recognizer.submit(QUEUE, audio, true).result;
            let heard = tokio::task::spawn_blocking(move || rx.recv())
                .await
                .map_err(|e| Failure::NoRecogniser(e.to_string()))?
                .map_err(|e| Failure::NoRecogniser(e.to_string()))?
                .map_err(|e| Failure::NoRecogniser(e.to_string()))?;
            let text =
                crate::prompt::redact_cards(&switchboard_models::whisper::without_repeats(heard.text.trim()));
            if text.is_empty() {
                continue;
            }
            lines.push(TranscriptLine {
                speaker: speaker.into(),
                name: name.clone(),
                start_ms: job.offset_ms + start as i64,
                end_ms: job.offset_ms + end.min(to as u64 / 16) as i64,
                text,
            });
        }
    }
    lines.sort_by_key(|l| l.start_ms);
    if let Some(u) = meter.unbilled() {
        // A cloud recogniser's minutes are the call's cost too.
        let data = u.data("recording");
        let priced = crate::store::call_cost::add_speech_usage(db, job.call_id, &data, u.cost_micros);
        if let Err(e) = priced.await {
            tracing::warn!(error = %e, call_id = job.call_id, "cannot add a transcription's cost to its call");
        }
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scores(pattern: &[(u64, f32)]) -> Vec<(u64, f32)> {
        // (duration ms, score) runs into 16 ms frames.
        let mut out = Vec::new();
        let mut at = 0;
        for &(ms, score) in pattern {
            for _ in 0..ms / FRAME_MS {
                out.push((at, score));
                at += FRAME_MS;
            }
        }
        out
    }

    #[test]
    fn speech_is_cut_into_utterances_at_pauses() {
        // A second of speech, a short pause (kept inside), more speech, a long pause, a click,
        // a long pause, speech to the end.
        let s =
            scores(&[(1008, 0.9), (304, 0.1), (496, 0.9), (1504, 0.0), (96, 0.9), (1504, 0.0), (800, 0.8)]);
        let u = utterances(&s);
        assert_eq!(u.len(), 2, "{u:?}");
        assert_eq!(u[0], (0, 1808 + PAD_MS));
        let last_start = 1008 + 304 + 496 + 1504 + 96 + 1504;
        assert_eq!(u[1], (last_start - PAD_MS, last_start + 800 + PAD_MS));
        assert!(utterances(&scores(&[(5000, 0.0)])).is_empty(), "silence has no utterances");
        // Talking without a pause is cut at the longest utterance recognised at once.
        let long = utterances(&scores(&[(60_000, 0.9)]));
        assert!(
            long.len() >= 3 && long.iter().all(|(s, e)| e - s <= MAX_UTTERANCE_MS + 2 * PAD_MS),
            "{long:?}"
        );
    }
}
