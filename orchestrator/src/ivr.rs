//! IVR menus on live calls: the call is answered by Switchboard, the menu's prompt is played, a
//! digit chooses an option, and the option's target takes the call. Recorded prompts come from
//! the audio library; text prompts are spoken by the default voice (Piper when installed, else
//! espeak-ng), normalised for the phone. If a prompt cannot be played, a short tone stands in (the caller can still press
//! keys).

use crate::db::Db;
use crate::model::{Agent, AudioEntry, IvrMenu, Prompt, Target};
use crate::store::config;
use std::time::Duration;
use switchboard_telephony::media::player::{Source, Tone, WavPlayer};
use switchboard_telephony::media::relay::MediaSide;
use switchboard_telephony::sip::b2bua::{MediaPorts, RouteDecision};
use tokio::sync::mpsc;

/// Everything an IVR needs about its call.
pub struct IvrCall {
    pub line: crate::line::CallerLine,
    /// Answers and failures of hand-offs, for an AI agent behind a menu option (dropped when
    /// the menu rings a person itself: the router then connects them as usual).
    pub legs: Option<mpsc::UnboundedReceiver<crate::agent::voice::LegEvent>>,
    /// Supervisors watch AI agents here.
    pub live: crate::live::Live,
}

/// What a prompt sounds like: its recording from the audio library, or its text spoken (a
/// short tone if neither works).
pub(crate) async fn prompt_source(
    db: &Db,
    account: i64,
    data_dir: &std::path::Path,
    prompt: &Prompt,
) -> Box<dyn Source + Send> {
    {
        if let Prompt::Audio { name } = prompt {
            if let Ok(Some(entry)) = config::get_by_key::<AudioEntry>(db, account, name).await {
                if let Some(file) = entry.spec.file {
                    let path = data_dir.join("audio").join(account.to_string()).join(file);
                    match tokio::fs::read(&path).await.map(|b| WavPlayer::new(&b, 8000, false)) {
                        Ok(Ok(player)) => return Box::new(player),
                        Ok(Err(e)) => {
                            tracing::warn!(error = %e, path = %path.display(), "unusable prompt recording")
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, path = %path.display(), "prompt recording missing")
                        }
                    }
                }
            }
        }
        if let Prompt::Text { text, .. } = prompt {
            let text = switchboard_speech::text::for_phone(text);
            let spoken = tokio::task::spawn_blocking(move || {
                let voice =
                    switchboard_speech::tts::default_voice(&switchboard_models::catalog::default_dir());
                match voice.synthesize(&text) {
                    Ok(audio) => Ok(audio),
                    // A voice that fails on this text: the always-available one.
                    Err(e) => {
                        tracing::warn!(error = %e, voice = %voice.name(), "voice failed; using espeak-ng");
                        use switchboard_speech::tts::TextToSpeech;
                        switchboard_speech::tts::Espeak::default().synthesize(&text)
                    }
                }
            })
            .await;
            match spoken {
                Ok(Ok(audio)) => {
                    let wav = switchboard_telephony::media::wav::encode_pcm16(&audio.samples, audio.rate, 1);
                    match WavPlayer::new(&wav, 8000, false) {
                        Ok(player) => return Box::new(player),
                        Err(e) => tracing::warn!(error = %e, "spoken prompt unusable"),
                    }
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "cannot speak the prompt; playing a tone"),
                Err(e) => tracing::warn!(error = %e, "speech task failed"),
            }
        }
        // No recording, or speech failed: a short tone.
        Box::new(Tone::beep(8000, 300))
    }
}

impl IvrCall {
    async fn source_for(&self, prompt: &Prompt) -> Box<dyn Source + Send> {
        prompt_source(&self.line.db, self.line.account, &self.line.data_dir, prompt).await
    }

    async fn event(&self, kind: &str, data: serde_json::Value) {
        if let Some(id) = self.line.record {
            self.line.records.event(id, kind, data);
        }
    }

    /// Plays a prompt; a key pressed meanwhile stops it and is returned.
    async fn play(&mut self, prompt: &Prompt) -> Option<char> {
        let done = self.line.relay.play(MediaSide::A, self.source_for(prompt).await);
        tokio::select! {
            _ = done => None,
            d = self.line.digits.recv() => {
                self.line.relay.stop_playing(MediaSide::A);
                d
            }
        }
    }

    /// Waits for a key for up to `seconds`.
    async fn key(&mut self, seconds: u32) -> Option<char> {
        tokio::time::timeout(Duration::from_secs(seconds as u64), self.line.digits.recv())
            .await
            .ok()
            .flatten()
    }

    fn media(&self) -> MediaPorts {
        MediaPorts { a: self.line.relay.a_local, b: self.line.relay.b_local }
    }

    /// Sends the call where `target` says; `Some(menu)` to continue in another menu.
    async fn go(&mut self, target: &Target) -> Option<String> {
        self.event("ivr_target", serde_json::json!({ "target": target })).await;
        match target {
            Target::IvrMenu { name } => return Some(name.clone()),
            Target::Agent { extension } => {
                self.legs = None;
                let (lines, ring_ms) = Agent::ringing_of(&self.line.db, self.line.account, extension).await;
                let decision = RouteDecision::Ring {
                    account: self.line.account,
                    extension: extension.clone(),
                    max_lines: lines,
                    ring_timeout_ms: ring_ms,
                    media: self.media(),
                };
                // The caller hears ringback while the agent's phone rings.
                // Not awaited: it stops when the agent answers.
                drop(
                    self.line.relay.play(MediaSide::A, Box::new(Tone::ringback(8000).for_ms(ring_ms + 1000))),
                );
                self.line.sip.route(self.line.call, decision).await;
            }
            Target::Hangup => self.line.sip.hangup(self.line.call).await,
            Target::AiAgent { name } => {
                self.line.relay.stop_playing(MediaSide::A);
                let voice = crate::agent::voice::VoiceCall {
                    line: self.line.hand_over(),
                    agent: name.clone(),
                    llm: None,
                    legs: self.legs.take().unwrap_or_else(|| mpsc::unbounded_channel().1),
                    live: self.live.clone(),
                };
                tokio::spawn(voice.run());
            }
            Target::Queue { name } if self.legs.is_some() => {
                let waiting = crate::queue::QueueCall {
                    line: self.line.hand_over(),
                    legs: self.legs.take().unwrap_or_else(|| mpsc::unbounded_channel().1),
                    queue: name.clone(),
                };
                tokio::spawn(waiting.run());
            }
            Target::VoicemailBox { name } => {
                self.line.relay.stop_playing(MediaSide::A);
                let from = self.line.caller_or_anonymous();
                let deposit = crate::voicemail::Deposit {
                    line: self.line.hand_over(),
                    from,
                    box_name: name.clone(),
                    greeting: None,
                };
                tokio::spawn(deposit.run());
            }
            other => {
                // Schedules and outside numbers behind a menu come
                // with their own features; until then the caller hears busy and the call ends.
                tracing::debug!(call = %self.line.call, target = ?other, "IVR target not available yet");
                let done = self.line.relay.play(MediaSide::A, Box::new(Tone::busy(8000).for_ms(2000)));
                let _ = done.await;
                self.line.sip.hangup(self.line.call).await;
            }
        }
        None
    }

    /// Goes to `target`, or hangs up when there is none.
    async fn go_or_hang_up(&mut self, target: &Option<Target>) -> Option<String> {
        match target {
            Some(t) => self.go(t).await,
            None => {
                self.line.sip.hangup(self.line.call).await;
                None
            }
        }
    }

    /// Offers one menu up to its number of attempts; `Some(name)` to continue in another menu.
    async fn offer(&mut self, menu: &IvrMenu) -> Option<String> {
        for attempt in 1..=menu.max_attempts {
            let key = match self.play(&menu.prompt).await {
                Some(k) => Some(k),
                None => self.key(menu.timeout_seconds).await,
            };
            let last = attempt == menu.max_attempts;
            match key {
                Some(k) => {
                    self.event("ivr_key", serde_json::json!({ "menu": menu.name, "key": k.to_string() }))
                        .await;
                    if let Some(option) = menu.options.iter().find(|o| o.digit == k.to_string()) {
                        return self.go(&option.target).await;
                    }
                    if let Some(p) = &menu.invalid_prompt {
                        self.play(p).await;
                    }
                    if last {
                        return self.go_or_hang_up(&menu.invalid_target).await;
                    }
                }
                None if last => return self.go_or_hang_up(&menu.timeout_target).await,
                None => {}
            }
        }
        None
    }

    /// Runs menus until the call leaves them.
    pub async fn run(mut self, first: String) {
        let mut name = first;
        for _ in 0..20 {
            let Ok(Some(menu)) = config::get_by_key::<IvrMenu>(&self.line.db, self.line.account, &name).await
            else {
                tracing::warn!(call = %self.line.call, menu = %name, "IVR menu missing; hanging up");
                return self.line.sip.hangup(self.line.call).await;
            };
            self.event("ivr_menu", serde_json::json!({ "menu": menu.spec.name })).await;
            match self.offer(&menu.spec).await {
                Some(next) => name = next,
                None => return,
            }
        }
        // A loop of menus nobody leaves: end it.
        self.line.sip.hangup(self.line.call).await;
    }
}
