//! What a prompt sounds like: an audio-library entry (its uploaded recording, else its text
//! spoken by its voice; looping when the entry says so) or text spoken by the default voice.
//! Speech is synthesised once per text and voice and kept (a menu heard by every caller is not
//! synthesised for every caller). If nothing can be played, a short tone stands in (the caller
//! can still press keys).

use crate::calls::AnsweredCall;
use crate::model::{AudioEntry, Prompt};
use crate::store::config;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use switchboard_telephony::media::player::{Source, Tone, WavPlayer};

/// Spoken prompts kept, at most (8 kHz, a few seconds each: well under 100 KB apiece).
const CACHED: usize = 256;

/// Synthesised prompts by (voice, text), as 8 kHz WAV bytes: one slot per prompt, filled once
/// (callers arriving together wait for the one synthesis instead of each running their own).
type Slot = Arc<tokio::sync::OnceCell<Option<Arc<Vec<u8>>>>>;
type Spoken = HashMap<(Option<String>, String), Slot>;

fn cache() -> &'static Mutex<Spoken> {
    static CACHE: std::sync::OnceLock<Mutex<Spoken>> = std::sync::OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// `text` spoken by `voice` (the default voice when none or unknown), as WAV bytes; cached.
pub async fn spoken(text: &str, voice: Option<&str>) -> Option<Arc<Vec<u8>>> {
    let text = switchboard_speech::text::for_phone(text);
    let key = (voice.map(str::to_string), text.clone());
    let slot = {
        let mut cache = cache().lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CACHED && !cache.contains_key(&key) {
            cache.clear();
        }
        cache.entry(key.clone()).or_default().clone()
    };
    if let Some(Some(ready)) = slot.get() {
        return Some(ready.clone());
    }
    // Filled by a task of its own: a caller who hangs up meanwhile does not waste the work.
    let filling = slot.clone();
    let wanted = voice.map(str::to_string);
    let spoken = tokio::spawn(async move { filling.get_or_init(|| synthesise(text, wanted)).await.clone() })
        .await
        .ok()
        .flatten();
    if spoken.is_none() {
        // Not kept: the next caller tries again.
        cache().lock().unwrap_or_else(|e| e.into_inner()).remove(&key);
    }
    spoken
}

/// Keeps `wav` as what `text` sounds like in `voice` (unit tests of call handlers give each
/// prompt a recognisable sound instead of running a voice).
#[cfg(test)]
pub(crate) fn preload(text: &str, voice: Option<&str>, wav: Vec<u8>) {
    let key = (voice.map(str::to_string), switchboard_speech::text::for_phone(text));
    let slot: Slot = Arc::new(tokio::sync::OnceCell::new_with(Some(Some(Arc::new(wav)))));
    cache().lock().unwrap_or_else(|e| e.into_inner()).insert(key, slot);
}

/// Synthesises every account's audio-library entries that are text only (at start); how many
/// are ready.
pub async fn warm(db: &crate::db::Db) -> usize {
    let mut ready = 0;
    for account in crate::store::accounts::list(db).await.unwrap_or_default() {
        for entry in config::list::<AudioEntry>(db, account.id).await.unwrap_or_default() {
            let entry = entry.spec;
            if let (None, Some(text)) =
                (&entry.file, entry.tts_text.as_deref().filter(|t| !t.trim().is_empty()))
            {
                ready += usize::from(spoken(text, entry.voice.as_deref()).await.is_some());
            }
        }
    }
    ready
}

/// One synthesis, off the async runtime.
async fn synthesise(text: String, wanted: Option<String>) -> Option<Arc<Vec<u8>>> {
    let spoken = tokio::task::spawn_blocking(move || {
        use switchboard_speech::tts::TextToSpeech;
        let dir = switchboard_models::catalog::default_dir();
        // espeak-ng by name; every other name is the best installed voice (Piper when there).
        let voice: Arc<dyn TextToSpeech> = match wanted.as_deref() {
            Some("espeak" | "espeak-ng") => Arc::new(switchboard_speech::tts::Espeak::default()),
            _ => switchboard_speech::tts::default_voice(&dir),
        };
        voice.synthesize(&text).or_else(|e| {
            // A voice that fails on this text: the always-available one.
            tracing::warn!(error = %e, voice = %voice.name(), "voice failed; using espeak-ng");
            switchboard_speech::tts::Espeak::default().synthesize(&text)
        })
    })
    .await;
    let audio = match spoken {
        Ok(Ok(audio)) => audio,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot speak the prompt");
            return None;
        }
        Err(e) => {
            tracing::warn!(error = %e, "speech task failed");
            return None;
        }
    };
    let samples = switchboard_telephony::media::player::resample(&audio.samples, audio.rate, 8000);
    Some(Arc::new(switchboard_telephony::media::wav::encode_pcm16(&samples, 8000, 1)))
}

/// An audio-library entry as a source: its recording, else its text spoken by its voice;
/// looping when the entry (or `force_loop`, for hold music) says so. None when it has neither.
pub async fn audio_entry(
    call: &AnsweredCall,
    name: &str,
    force_loop: bool,
) -> Option<Box<dyn Source + Send>> {
    let entry = call.snapshot.borrow().audio(call.account, name).cloned();
    library_entry(entry, &call.data_dir, call.account, name, force_loop).await
}

/// What `audio_entry` plays, for callers without an answered call (the router's hold music).
pub async fn library_entry(
    entry: Option<AudioEntry>,
    data_dir: &std::path::Path,
    account: i64,
    name: &str,
    force_loop: bool,
) -> Option<Box<dyn Source + Send>> {
    let Some(entry) = entry else {
        tracing::warn!(entry = name, "no such audio entry");
        return None;
    };
    let looping = entry.loop_playback || force_loop;
    if let Some(file) = &entry.file {
        let path = data_dir.join("audio").join(account.to_string()).join(file);
        match tokio::fs::read(&path).await.map(|b| WavPlayer::new(&b, 8000, looping)) {
            Ok(Ok(player)) => return Some(Box::new(player)),
            Ok(Err(e)) => tracing::warn!(error = %e, path = %path.display(), "unusable recording"),
            Err(e) => tracing::warn!(error = %e, path = %path.display(), "recording missing"),
        }
    }
    let text = entry.tts_text.as_deref().filter(|t| !t.trim().is_empty())?;
    let wav = spoken(text, entry.voice.as_deref()).await?;
    WavPlayer::new(&wav, 8000, looping).ok().map(|p| Box::new(p) as Box<dyn Source + Send>)
}

/// What a caller hears while an agent has them on hold: the account's `hold_music` (looped), or
/// the hold chime when it has none or it cannot be played.
pub async fn hold_music(
    snapshot: &tokio::sync::watch::Receiver<Arc<crate::calls::snapshot::Snapshot>>,
    data_dir: &std::path::Path,
    account: Option<i64>,
) -> Box<dyn Source + Send> {
    let chosen = account.and_then(|account| {
        let snap = snapshot.borrow();
        let name = snap.account(account).and_then(|a| a.settings.as_ref()?.hold_music.clone())?;
        Some((account, snap.audio(account, &name).cloned(), name))
    });
    let music = match chosen {
        Some((account, entry, name)) => library_entry(entry, data_dir, account, &name, true).await,
        None => None,
    };
    music.unwrap_or_else(|| Box::new(Tone::hold(8000)))
}

/// What a prompt sounds like (a short tone if it cannot be played).
pub async fn source(call: &AnsweredCall, prompt: &Prompt) -> Box<dyn Source + Send> {
    let played = match prompt {
        Prompt::Audio { name } => audio_entry(call, name, false).await,
        Prompt::Text { text, voice } => return spoken_source(text, voice.as_deref()).await,
    };
    played.unwrap_or_else(|| Box::new(Tone::beep(8000, 300)))
}

/// `text` spoken by `voice` as a source to play (a short tone when it cannot be spoken).
pub async fn spoken_source(text: &str, voice: Option<&str>) -> Box<dyn Source + Send> {
    match spoken(text, voice).await.and_then(|wav| WavPlayer::new(&wav, 8000, false).ok()) {
        Some(p) => Box::new(p),
        None => Box::new(Tone::beep(8000, 300)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Callers arriving together share one synthesis of a prompt, and later ones get it kept.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_prompt_is_synthesised_once_for_callers_arriving_together() {
        if std::process::Command::new("espeak-ng").arg("--version").output().is_err() {
            assert!(std::env::var("CI").is_err(), "espeak-ng is missing");
            return;
        }
        let text = "Thanks for holding, this prompt is cached.";
        let together = futures_util::future::join_all((0..6).map(|_| spoken(text, Some("espeak")))).await;
        let first = together[0].clone().expect("spoken");
        assert!(first.len() > 8_000, "a WAV with sound: {} bytes", first.len());
        assert!(together.iter().all(|w| w.as_ref().is_some_and(|w| Arc::ptr_eq(w, &first))));
        let later = spoken(text, Some("espeak")).await.unwrap();
        assert!(Arc::ptr_eq(&later, &first));
    }
}
