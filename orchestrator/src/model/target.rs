//! Where a call goes next, and what a caller hears.

use super::{validate::is_e164, validate::is_extension, Problems, Reference};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A routing target: the one place a number, menu option, schedule or overflow sends a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Target {
    Queue {
        name: String,
    },
    IvrMenu {
        name: String,
    },
    Agent {
        extension: String,
    },
    VoicemailBox {
        name: String,
    },
    Schedule {
        name: String,
    },
    AiAgent {
        name: String,
    },
    /// An outside number, dialled through the account's trunk.
    External {
        number: String,
    },
    Hangup,
}

impl Target {
    /// The entity this target refers to, if any.
    pub fn reference(&self, path: &str) -> Option<Reference> {
        let (kind, key) = match self {
            Target::Queue { name } => ("queues", name),
            Target::IvrMenu { name } => ("ivr_menus", name),
            Target::Agent { extension } => ("agents", extension),
            Target::VoicemailBox { name } => ("voicemail_boxes", name),
            Target::Schedule { name } => ("schedules", name),
            Target::AiAgent { name } => ("ai_agents", name),
            Target::External { .. } | Target::Hangup => return None,
        };
        Some(Reference { path: path.to_string(), kind, key: key.clone() })
    }

    pub fn validate(&self, p: &mut Problems) {
        match self {
            Target::Agent { extension } if !is_extension(extension) => {
                p.push("extension", "must be 2 to 6 digits, not starting with 0")
            }
            Target::External { number } if !is_e164(number) => {
                p.push("number", "must be an E.164 number such as +15551234567")
            }
            Target::Queue { name }
            | Target::IvrMenu { name }
            | Target::VoicemailBox { name }
            | Target::Schedule { name }
            | Target::AiAgent { name } => p.name("name", name),
            _ => {}
        }
    }
}

/// Something played to the caller: a recording from the audio library, or text spoken by TTS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Prompt {
    Audio {
        name: String,
    },
    Text {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        voice: Option<String>,
    },
}

impl Prompt {
    pub fn reference(&self, path: &str) -> Option<Reference> {
        match self {
            Prompt::Audio { name } => {
                Some(Reference { path: path.to_string(), kind: "audio", key: name.clone() })
            }
            Prompt::Text { .. } => None,
        }
    }

    pub fn validate(&self, p: &mut Problems) {
        match self {
            Prompt::Audio { name } => p.name("name", name),
            Prompt::Text { text, .. } => p.text("text", text, true, 2000),
        }
    }
}

/// Helpers for entities with optional targets and prompts.
pub(crate) fn check_target(p: &mut Problems, field: &str, t: &Target) {
    p.field(field, |p| t.validate(p));
}

pub(crate) fn check_opt_target(p: &mut Problems, field: &str, t: &Option<Target>) {
    if let Some(t) = t {
        check_target(p, field, t);
    }
}

pub(crate) fn check_opt_prompt(p: &mut Problems, field: &str, prompt: &Option<Prompt>) {
    if let Some(prompt) = prompt {
        p.field(field, |p| prompt.validate(p));
    }
}

pub(crate) fn target_refs(out: &mut Vec<Reference>, field: &str, t: &Option<Target>) {
    if let Some(r) = t.as_ref().and_then(|t| t.reference(field)) {
        out.push(r);
    }
}

pub(crate) fn prompt_refs(out: &mut Vec<Reference>, field: &str, prompt: &Option<Prompt>) {
    if let Some(r) = prompt.as_ref().and_then(|p| p.reference(field)) {
        out.push(r);
    }
}
