//! Leaving a voicemail: the box's greeting (its recording or text, or a standard one), a beep,
//! then the caller's message is recorded until they press #, stay silent for a while after
//! speaking, reach the box's limit or hang up. The recording is kept as a WAV file in the data
//! directory, filed in the box, transcribed by the local Whisper when the box says so, and
//! noted in the call's timeline.

use crate::calls::answered::{AnsweredCall, Next};
use crate::model::{Prompt, Target, VoicemailBox};
use crate::store::voicemail;
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;
use switchboard_telephony::media::player::Tone;
use switchboard_telephony::media::relay::MediaSide;

const GREETING: &str =
    "Please leave your message after the tone. Press the pound key or hang up when you are done.";
const SAVED: &str = "Thank you, your message has been saved. Goodbye.";
const SAVED_AND_ON: &str = "Thank you, your message has been saved.";
const NO_BOX: &str = "I'm sorry, this mailbox is not available. Goodbye.";
/// The caller is done when quiet this long after speaking.
const DONE_AFTER_SILENCE_MS: usize = 4_000;
/// A 20 ms frame louder than this (RMS of 16-bit samples) is speech, not line noise.
const VOICE_RMS: f64 = 300.0;

/// How a recording stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Pound,
    Silence,
    Limit,
    HungUp,
}

impl Stop {
    fn as_str(self) -> &'static str {
        match self {
            Stop::Pound => "pound key",
            Stop::Silence => "silence",
            Stop::Limit => "time limit",
            Stop::HungUp => "caller hung up",
        }
    }
}

/// 20 ms of silence, forever.
struct Silence;

impl switchboard_telephony::media::player::Source for Silence {
    fn next_frame(&mut self) -> Option<Vec<i16>> {
        Some(vec![0; 160])
    }
}

fn rms(frame: &[i16]) -> f64 {
    (frame.iter().map(|&s| (s as f64).powi(2)).sum::<f64>() / frame.len().max(1) as f64).sqrt()
}

/// Takes a message for `box_name`: its greeting (or `greeting`, said instead: an AI agent that
/// has just asked for the message says its own words), the beep, the recording. Then the box's
/// `after_message` target, or thanks and goodbye.
pub async fn deposit(call: &mut AnsweredCall, box_name: &str, greeting: Option<String>) -> Next {
    let vbox = call.snapshot.borrow().voicemail_box(call.account, box_name).cloned();
    let Some(vbox) = vbox else {
        tracing::warn!(call = %call.call, mailbox = %box_name, "no such voicemail box");
        call.event("voicemail_failed", json!({ "box": box_name, "reason": "no such box" }));
        call.say_text(NO_BOX).await;
        return Next::To(Target::Hangup);
    };
    call.event("voicemail_started", json!({ "box": box_name }));
    let greeting = match (greeting, vbox.greeting.clone()) {
        (Some(text), _) => Prompt::Text { text, voice: None },
        (None, Some(p)) => p,
        (None, None) => Prompt::Text { text: GREETING.into(), voice: None },
    };
    call.say(&greeting).await;
    if call.caller_left() {
        return Next::Done;
    }
    // The beep, then what the caller says (keys pressed during the greeting do not count).
    while call.digits.try_recv().is_ok() {}
    let beep = call.relay.play(MediaSide::A, Box::new(Tone::beep(8000, 400)));
    let _ = tokio::time::timeout(Duration::from_secs(2), beep).await;
    // Silence while recording keeps the caller's media flowing (phones and carriers hang up
    // on a stream that stops).
    drop(call.relay.play(MediaSide::A, Box::new(Silence)));
    let mut tap = call.relay.tap(MediaSide::A);
    let limit_frames = vbox.max_message_seconds.max(1) as usize * 50;
    let mut samples: Vec<i16> = Vec::new();
    let (mut first_voice, mut last_voice, mut spoke) = (0usize, 0usize, false);
    let stop = loop {
        let frames = samples.len() / 160;
        if frames >= limit_frames {
            break Stop::Limit;
        }
        if spoke && (frames - last_voice) * 20 >= DONE_AFTER_SILENCE_MS {
            break Stop::Silence;
        }
        tokio::select! {
            frame = tap.recv() => match frame {
                Some(f) => {
                    if rms(&f) > VOICE_RMS {
                        if !spoke {
                            first_voice = samples.len() / 160;
                        }
                        spoke = true;
                        last_voice = samples.len() / 160 + 1;
                    }
                    samples.extend(f);
                }
                None => break Stop::HungUp,
            },
            d = call.digits.recv() => if d == Some('#') { break Stop::Pound },
            _ = &mut call.ended => break Stop::HungUp,
        }
    };
    drop(tap);
    call.relay.stop_playing(MediaSide::A);
    // Silence before and after is not part of the message (300 ms of each is kept).
    samples.truncate(((last_voice + 15) * 160).min(samples.len()));
    samples.drain(..(first_voice.saturating_sub(15) * 160).min(samples.len()));
    if !spoke {
        call.event("voicemail_empty", json!({ "box": box_name, "stopped_by": stop.as_str() }));
    } else if file(call, box_name, &vbox, samples, stop).await {
        call.set_verdict(crate::store::calls::Disposition::Voicemail);
    }
    if stop == Stop::HungUp || call.caller_left() {
        return Next::Done;
    }
    match vbox.after_message {
        Some(target) => {
            call.say_text(SAVED_AND_ON).await;
            Next::To(target)
        }
        None => {
            call.say_text(SAVED).await;
            Next::To(Target::Hangup)
        }
    }
}

/// Saves the recording, files it in the box, and transcribes it (in the background); whether
/// it was filed.
async fn file(
    call: &AnsweredCall,
    box_name: &str,
    vbox: &VoicemailBox,
    samples: Vec<i16>,
    stop: Stop,
) -> bool {
    let duration_ms = samples.len() as i64 / 8;
    let stamp = crate::clock::now_ms();
    let relative = PathBuf::from("voicemail")
        .join(call.account.to_string())
        .join(box_name)
        .join(format!("{stamp}-{}.wav", call.call));
    let path = call.data_dir.join(&relative);
    let wav = switchboard_telephony::media::wav::encode_pcm16(&samples, 8000, 1);
    let written = match path.parent() {
        Some(dir) => tokio::fs::create_dir_all(dir).await.and(tokio::fs::write(&path, &wav).await),
        None => Ok(()),
    };
    if let Err(e) = written {
        tracing::error!(error = %e, path = %path.display(), "cannot save a voicemail");
        call.event("voicemail_failed", json!({ "box": box_name, "reason": e.to_string() }));
        return false;
    }
    let call_id = match call.record {
        Some(key) => call.records.id_of(key).await,
        None => None,
    };
    let relative = relative.to_string_lossy().into_owned();
    let from = call.caller_or_anonymous();
    let id = match voicemail::insert(&call.db, call.account, box_name, call_id, &from, &relative, duration_ms)
        .await
    {
        Ok(id) => id,
        Err(e) => {
            tracing::error!(error = %e, "cannot file a voicemail");
            call.event("voicemail_failed", json!({ "box": box_name, "reason": e.to_string() }));
            return false;
        }
    };
    tracing::debug!(call = %call.call, mailbox = %box_name, id, duration_ms, "voicemail left");
    call.event(
        "voicemail",
        json!({ "box": box_name, "message_id": id, "duration_ms": duration_ms, "stopped_by": stop.as_str() }),
    );
    if vbox.transcribe {
        let (db, records, record, account) =
            (call.db.clone(), call.records.clone(), call.record, call.account);
        tokio::spawn(async move {
            let engines = crate::agent::voice::Engines::shared().await;
            let meter = engines.meter();
            meter.recognised(samples.len() as u64 / 8);
            let text = transcribe(&engines, samples).await;
            if let (Some(u), Some(key), true) = (meter.unbilled(), record, text.is_ok()) {
                u.bill(&records, key, "voicemail");
            }
            match text {
                Ok(text) => {
                    if let Err(e) = voicemail::set_transcript(&db, account, id, &text).await {
                        tracing::warn!(error = %e, "cannot store a voicemail transcript");
                    }
                    if let Some(key) = record {
                        records.event(key, "voicemail_transcribed", json!({ "message_id": id }));
                    }
                }
                Err(e) => tracing::warn!(error = %e, "voicemail not transcribed"),
            }
        });
    }
    true
}

/// The message's words, by the shared local recogniser (queued fairly with live calls).
async fn transcribe(engines: &crate::agent::voice::Engines, samples: Vec<i16>) -> Result<String, String> {
    let recognizer = engines.recognizer.as_ref().map_err(|e| e.clone())?;
    let wide = switchboard_speech::resample::resample(&samples, 8000, 16_000).map_err(|e| e.to_string())?;
    let audio = switchboard_speech::frame::AudioFrame { rate: 16_000, samples: wide, at_ms: 0 };
    // Up to 28 s is recognised as one utterance (the window fitted to the audio, as for live
    // turns, which recognised phone audio better in our tests); longer in 30 s windows.
    let short = audio.samples.len() <= 28 * 16_000;
    // Voicemail is not a conversation: it queues as its own "caller".
    let rx = recognizer.submit(u64::MAX, audio, short).result;
    tokio::task::spawn_blocking(move || rx.recv())
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?
        .map(|t| switchboard_models::whisper::without_repeats(t.text.trim()))
        .map_err(|e| e.to_string())
}
