//! The account configuration: every entity a merchant configures, its validation and how
//! entities refer to each other. Storage, the API and config-as-code all go through these types.

mod account;
mod ai;
pub mod coach;
pub mod deskphone;
mod flow;
mod payment;
mod schedule;
mod target;
mod telephony;
pub mod validate;

pub use account::{AccountSettings, Role};
pub use ai::{
    AiAgent, BuiltinTool, GuidedConfig, HttpMethod, LlmConfig, Recogniser, ToolDefinition,
    ToolImplementation, GUIDED_INTENTS, GUIDED_TEMPLATES,
};
pub use coach::{ChecklistItem, CoachAnswer, CoachSettings};
pub use deskphone::{DeskPhone, PhoneVendor};
pub use flow::{AudioEntry, IvrMenu, IvrOption, Queue, QueueStrategy, VoicemailBox};
pub use payment::{acceptable_api_url, PaymentGateway};
pub use schedule::{Holiday, Hours, OpenHours, Schedule, Weekday};
pub use target::{Prompt, Target};
pub use telephony::{
    Agent, ClassOfService, Forwarding, PhoneNumber, QueueMembership, RecordingPreference, Trunk,
    TrunkTransport, UNKNOWN_AGENT_RINGING,
};
pub use validate::{Problem, Problems};

use serde::{de::DeserializeOwned, Serialize};
use std::collections::{HashMap, HashSet};

/// A reference from one entity to another, by kind and key, found at `path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub path: String,
    pub kind: &'static str,
    pub key: String,
}

/// A configuration entity kind. `KIND` is its URL segment (`/api/queues`), its section in an
/// exported config file and its discriminator in storage.
pub trait ConfigKind:
    Serialize + DeserializeOwned + schemars::JsonSchema + Clone + Send + Sync + Unpin + 'static
{
    const KIND: &'static str;
    /// Human name of one entity, e.g. "queue".
    const SINGULAR: &'static str;
    /// The field that holds the natural key (unique within an account).
    const KEY_FIELD: &'static str;

    fn key(&self) -> &str;
    /// Checks that need nothing but the entity itself.
    fn validate(&self, p: &mut Problems);
    /// Other entities this one refers to (checked against a [`Catalog`]).
    fn references(&self) -> Vec<Reference> {
        Vec::new()
    }
    /// Replaces write-only secrets (passwords, API keys) with `None` before the entity is shown.
    fn redact(&mut self) {}
    /// Fills secrets left out of an update (`None`) from the stored entity.
    fn keep_secrets_from(&mut self, _stored: &Self) {}
    /// The secret values, for sealing at rest (`crate::secrets`).
    fn secrets_mut(&mut self) -> Vec<&mut String> {
        Vec::new()
    }
}

/// The set of keys that exist per kind, against which references are checked.
#[derive(Debug, Default, Clone)]
pub struct Catalog {
    keys: HashMap<&'static str, HashSet<String>>,
}

impl Catalog {
    pub fn insert(&mut self, kind: &'static str, key: impl Into<String>) {
        self.keys.entry(kind).or_default().insert(key.into());
    }

    pub fn contains(&self, kind: &str, key: &str) -> bool {
        self.keys.get(kind).is_some_and(|k| k.contains(key))
    }

    /// Problems for every reference of `entity` that points at nothing; paths are prefixed.
    pub fn check<K: ConfigKind>(&self, entity: &K, prefix: &str, p: &mut Problems) {
        for r in entity.references() {
            if !self.contains(r.kind, &r.key) {
                let path = join_path(prefix, &r.path);
                p.extend(vec![Problem {
                    path,
                    message: format!("refers to {} '{}', which does not exist", singular(r.kind), r.key),
                }]);
            }
        }
    }
}

pub(crate) fn join_path(prefix: &str, path: &str) -> String {
    match (prefix.is_empty(), path.is_empty()) {
        (true, _) => path.to_string(),
        (false, true) => prefix.to_string(),
        (false, false) => format!("{prefix}.{path}"),
    }
}

/// Human name of a kind, for messages.
pub fn singular(kind: &str) -> &'static str {
    macro_rules! pick {
        ($($t:ty),*) => {
            $(if kind == <$t>::KIND { return <$t>::SINGULAR; })*
        };
    }
    pick!(
        ClassOfService,
        VoicemailBox,
        AudioEntry,
        Schedule,
        Queue,
        IvrMenu,
        Agent,
        AiAgent,
        ToolDefinition,
        Trunk,
        PhoneNumber
    );
    "entity"
}

/// Calls `$mac!(Type)` for every configuration kind, in dependency-friendly order.
#[macro_export]
macro_rules! for_each_config_kind {
    ($mac:ident) => {
        $mac!($crate::model::ClassOfService);
        $mac!($crate::model::VoicemailBox);
        $mac!($crate::model::AudioEntry);
        $mac!($crate::model::Trunk);
        $mac!($crate::model::Schedule);
        $mac!($crate::model::Queue);
        $mac!($crate::model::IvrMenu);
        $mac!($crate::model::Agent);
        $mac!($crate::model::ToolDefinition);
        $mac!($crate::model::AiAgent);
        $mac!($crate::model::PhoneNumber);
        $mac!($crate::model::PaymentGateway);
    };
}

/// Parses JSON into `T`, reporting the path of the first field that does not fit.
pub fn from_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| Problem {
        path: clean_path(&e.path().to_string()),
        message: clean_serde_message(&e.inner().to_string()),
    })
}

/// Converts a JSON value into `T`, reporting the path of the first field that does not fit.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, Problem> {
    serde_path_to_error::deserialize(value).map_err(|e| Problem {
        path: clean_path(&e.path().to_string()),
        message: clean_serde_message(&e.to_string_inner()),
    })
}

trait InnerMessage {
    fn to_string_inner(&self) -> String;
}

impl InnerMessage for serde_path_to_error::Error<serde_json::Error> {
    fn to_string_inner(&self) -> String {
        self.inner().to_string()
    }
}

fn clean_path(path: &str) -> String {
    if path == "." {
        String::new()
    } else {
        path.to_string()
    }
}

/// serde_json appends " at line L column C"; the path already says where.
fn clean_serde_message(msg: &str) -> String {
    match msg.rsplit_once(" at line ") {
        Some((message, _)) => message.to_string(),
        None => msg.to_string(),
    }
}
