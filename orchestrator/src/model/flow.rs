//! Call flow building blocks: queues, IVR menus, voicemail boxes and the audio library.

use super::coach::CoachSettings;
use super::target::{check_opt_prompt, check_opt_target, check_target, prompt_refs, target_refs};
use super::validate::is_email;
use super::{ConfigKind, Problems, Prompt, RecordingPreference, Reference, Target};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A voicemail box: an agent's own or a queue's shared one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VoicemailBox {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Write-only: 4 to 10 digits for listening by phone.
    #[serde(default)]
    pub pin: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub greeting: Option<Prompt>,
    /// Where new messages are announced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_email: Option<String>,
    #[serde(default = "default_max_message")]
    pub max_message_seconds: u32,
    #[serde(default = "yes")]
    pub transcribe: bool,
    /// Where the caller goes once their message is saved (back to a menu, say); without one
    /// they are thanked and the call ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_message: Option<Target>,
}

fn default_max_message() -> u32 {
    180
}

fn yes() -> bool {
    true
}

impl ConfigKind for VoicemailBox {
    const KIND: &'static str = "voicemail_boxes";
    const SINGULAR: &'static str = "voicemail box";
    const KEY_FIELD: &'static str = "name";

    fn key(&self) -> &str {
        &self.name
    }

    fn validate(&self, p: &mut Problems) {
        p.name("name", &self.name);
        p.text("description", &self.description, false, 500);
        if let Some(pin) = &self.pin {
            if !(4..=10).contains(&pin.len()) || !pin.bytes().all(|b| b.is_ascii_digit()) {
                p.push("pin", "must be 4 to 10 digits");
            }
        }
        check_opt_prompt(p, "greeting", &self.greeting);
        if let Some(e) = &self.notify_email {
            if !is_email(e) {
                p.push("notify_email", "must be an e-mail address");
            }
        }
        p.range("max_message_seconds", self.max_message_seconds, 10, 900);
        check_opt_target(p, "after_message", &self.after_message);
    }

    fn references(&self) -> Vec<Reference> {
        let mut out = Vec::new();
        prompt_refs(&mut out, "greeting", &self.greeting);
        target_refs(&mut out, "after_message", &self.after_message);
        out
    }

    fn redact(&mut self) {
        self.pin = None;
    }

    fn secrets_mut(&mut self) -> Vec<&mut String> {
        self.pin.as_mut().into_iter().collect()
    }

    fn keep_secrets_from(&mut self, stored: &Self) {
        if self.pin.is_none() {
            self.pin = stored.pin.clone();
        }
    }
}

/// An entry of the audio library: an uploaded recording or text rendered by TTS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AudioEntry {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Text to synthesise when no file is uploaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tts_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice: Option<String>,
    /// File name of an uploaded WAV inside the account's audio folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Play in a loop (hold music).
    #[serde(default)]
    pub loop_playback: bool,
}

impl ConfigKind for AudioEntry {
    const KIND: &'static str = "audio";
    const SINGULAR: &'static str = "audio entry";
    const KEY_FIELD: &'static str = "name";

    fn key(&self) -> &str {
        &self.name
    }

    fn validate(&self, p: &mut Problems) {
        p.name("name", &self.name);
        p.text("description", &self.description, false, 500);
        // Neither text nor a file yet is allowed: the entry is made, then its recording
        // uploaded (until then a prompt naming it plays the short stand-in tone).
        if let Some(t) = &self.tts_text {
            p.text("tts_text", t, true, 4000);
        }
        if let Some(f) = &self.file {
            let ok = f.ends_with(".wav")
                && f.len() <= 128
                && !f.starts_with('.')
                && f.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            if !ok {
                p.push("file", "must be a plain file name ending in .wav");
            }
        }
    }
}

/// How a queue offers calls to its agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum QueueStrategy {
    #[default]
    RingAll,
    LongestIdle,
    RoundRobin,
    FewestCalls,
    Linear,
    Random,
}

/// A call queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Queue {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub strategy: QueueStrategy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub greeting: Option<Prompt>,
    /// Audio library entry played while waiting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_music: Option<String>,
    #[serde(default)]
    pub announce_position: bool,
    #[serde(default)]
    pub announce_wait_time: bool,
    #[serde(default = "default_announce_every")]
    pub announce_every_seconds: u32,
    #[serde(default = "default_ring_timeout")]
    pub ring_timeout_seconds: u32,
    #[serde(default = "default_wrap_up")]
    pub wrap_up_seconds: u32,
    #[serde(default = "default_max_wait")]
    pub max_wait_seconds: u32,
    /// Where callers go after `max_wait_seconds` or when nobody can take calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overflow_target: Option<Target>,
    /// Shared voicemail box offered to waiting callers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voicemail_box: Option<String>,
    /// A key (0-9, * or #) a waiting caller presses to leave the queue for the overflow target
    /// (or the voicemail box): "press 1 to leave a message".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opt_out_digit: Option<String>,
    /// Whether the queue's calls are recorded (the agent's own choice wins).
    #[serde(default, skip_serializing_if = "RecordingPreference::is_inherit")]
    pub recording: RecordingPreference,
    /// The service level's threshold: the share of callers answered within this many seconds.
    #[serde(default = "default_service_level")]
    pub service_level_seconds: u32,
    /// Offers a member lets ring out in a row before the queue sets them unavailable (0: never).
    #[serde(default = "default_max_missed")]
    pub max_missed_offers: u32,
    /// Live AI coaching for the agents on this queue's calls (off when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coach: Option<CoachSettings>,
}

fn default_max_missed() -> u32 {
    3
}

fn default_service_level() -> u32 {
    20
}

fn default_announce_every() -> u32 {
    60
}
fn default_ring_timeout() -> u32 {
    20
}
fn default_wrap_up() -> u32 {
    10
}
fn default_max_wait() -> u32 {
    600
}

impl ConfigKind for Queue {
    const KIND: &'static str = "queues";
    const SINGULAR: &'static str = "queue";
    const KEY_FIELD: &'static str = "name";

    fn key(&self) -> &str {
        &self.name
    }

    fn validate(&self, p: &mut Problems) {
        p.name("name", &self.name);
        p.text("description", &self.description, false, 500);
        check_opt_prompt(p, "greeting", &self.greeting);
        if let Some(h) = &self.hold_music {
            p.name("hold_music", h);
        }
        p.range("announce_every_seconds", self.announce_every_seconds, 15, 600);
        p.range("ring_timeout_seconds", self.ring_timeout_seconds, 5, 120);
        p.range("wrap_up_seconds", self.wrap_up_seconds, 0, 3600);
        p.range("max_wait_seconds", self.max_wait_seconds, 0, 86_400);
        p.range("service_level_seconds", self.service_level_seconds, 1, 3_600);
        p.range("max_missed_offers", self.max_missed_offers, 0, 20);
        check_opt_target(p, "overflow_target", &self.overflow_target);
        if let Some(d) = &self.opt_out_digit {
            if !(d.len() == 1 && d.chars().all(|c| c.is_ascii_digit() || c == '*' || c == '#')) {
                p.push("opt_out_digit", "must be one key: 0-9, * or #");
            }
        }
        if matches!(&self.overflow_target, Some(Target::Queue { name }) if *name == self.name) {
            p.push("overflow_target", "must not be the queue itself");
        }
        if let Some(coach) = &self.coach {
            p.field("coach", |p| coach.check(p));
        }
    }

    fn redact(&mut self) {
        if let Some(llm) = self.coach.as_mut().and_then(|c| c.llm.as_mut()) {
            llm.api_key = None;
        }
    }

    fn secrets_mut(&mut self) -> Vec<&mut String> {
        self.coach
            .as_mut()
            .and_then(|c| c.llm.as_mut())
            .and_then(|l| l.api_key.as_mut())
            .into_iter()
            .collect()
    }

    fn keep_secrets_from(&mut self, stored: &Self) {
        let old = stored.coach.as_ref().and_then(|c| c.llm.as_ref());
        if let (Some(new), Some(old)) = (self.coach.as_mut().and_then(|c| c.llm.as_mut()), old) {
            if new.api_key.is_none() {
                new.api_key = old.api_key.clone();
            }
        }
    }

    fn references(&self) -> Vec<Reference> {
        let mut out = Vec::new();
        prompt_refs(&mut out, "greeting", &self.greeting);
        if let Some(h) = &self.hold_music {
            out.push(Reference { path: "hold_music".into(), kind: "audio", key: h.clone() });
        }
        target_refs(&mut out, "overflow_target", &self.overflow_target);
        if let Some(v) = &self.voicemail_box {
            out.push(Reference { path: "voicemail_box".into(), kind: "voicemail_boxes", key: v.clone() });
        }
        out
    }
}

/// One choice of an IVR menu: a key, optional spoken phrases, and where it leads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IvrOption {
    /// One of 0-9, * or #.
    pub digit: String,
    /// Phrases a caller may say instead of pressing the key, e.g. "sales".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phrases: Vec<String>,
    pub target: Target,
}

/// An IVR menu. Options may lead to other menus (sub-menus).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IvrMenu {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub prompt: Prompt,
    pub options: Vec<IvrOption>,
    /// Seconds to wait for a choice after the prompt.
    #[serde(default = "default_ivr_timeout")]
    pub timeout_seconds: u32,
    /// Times the menu is offered before giving up.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalid_prompt: Option<Prompt>,
    /// Where callers go after `max_attempts` without a choice (hang up when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_target: Option<Target>,
    /// Where callers go after `max_attempts` invalid choices (hang up when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalid_target: Option<Target>,
}

fn default_ivr_timeout() -> u32 {
    5
}
fn default_attempts() -> u32 {
    3
}

impl ConfigKind for IvrMenu {
    const KIND: &'static str = "ivr_menus";
    const SINGULAR: &'static str = "IVR menu";
    const KEY_FIELD: &'static str = "name";

    fn key(&self) -> &str {
        &self.name
    }

    fn validate(&self, p: &mut Problems) {
        p.name("name", &self.name);
        p.text("description", &self.description, false, 500);
        p.field("prompt", |p| self.prompt.validate(p));
        if self.options.is_empty() {
            p.push("options", "must have at least one option");
        }
        p.field("options", |p| {
            for (i, o) in self.options.iter().enumerate() {
                p.index(i, |p| {
                    let valid_digit = o.digit.len() == 1
                        && o.digit.bytes().all(|b| b.is_ascii_digit() || b == b'*' || b == b'#');
                    if !valid_digit {
                        p.push("digit", "must be one of 0-9, * or #");
                    } else if self.options[..i].iter().any(|x| x.digit == o.digit) {
                        p.push("digit", format!("'{}' is used by an earlier option", o.digit));
                    }
                    p.field("phrases", |p| {
                        for (j, ph) in o.phrases.iter().enumerate() {
                            p.index(j, |p| p.text("", ph, true, 100));
                        }
                    });
                    check_target(p, "target", &o.target);
                });
            }
        });
        p.range("timeout_seconds", self.timeout_seconds, 1, 60);
        p.range("max_attempts", self.max_attempts, 1, 10);
        check_opt_prompt(p, "invalid_prompt", &self.invalid_prompt);
        check_opt_target(p, "timeout_target", &self.timeout_target);
        check_opt_target(p, "invalid_target", &self.invalid_target);
    }

    fn references(&self) -> Vec<Reference> {
        let mut out = Vec::new();
        prompt_refs(&mut out, "prompt", &Some(self.prompt.clone()));
        for (i, o) in self.options.iter().enumerate() {
            target_refs(&mut out, &format!("options[{i}].target"), &Some(o.target.clone()));
        }
        prompt_refs(&mut out, "invalid_prompt", &self.invalid_prompt);
        target_refs(&mut out, "timeout_target", &self.timeout_target);
        target_refs(&mut out, "invalid_target", &self.invalid_target);
        out
    }
}
