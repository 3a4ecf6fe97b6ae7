//! AI agents and the tools they may call.

use super::target::{check_opt_target, check_target, target_refs};
use super::{ConfigKind, Problems, Reference, Target};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The built-in commerce and call-control tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BuiltinTool {
    LookupCustomer,
    LookupOrder,
    AccountBalance,
    OpenTickets,
    Transfer,
    TakeMessage,
    EndCall,
    /// A card payment by keypad on the call (voice calls only; the model sees the result, never
    /// the card).
    TakePayment,
}

impl BuiltinTool {
    pub const ALL: [BuiltinTool; 8] = [
        BuiltinTool::LookupCustomer,
        BuiltinTool::LookupOrder,
        BuiltinTool::AccountBalance,
        BuiltinTool::OpenTickets,
        BuiltinTool::Transfer,
        BuiltinTool::TakeMessage,
        BuiltinTool::EndCall,
        BuiltinTool::TakePayment,
    ];

    pub fn name(self) -> &'static str {
        match self {
            BuiltinTool::LookupCustomer => "lookup_customer",
            BuiltinTool::LookupOrder => "lookup_order",
            BuiltinTool::AccountBalance => "account_balance",
            BuiltinTool::OpenTickets => "open_tickets",
            BuiltinTool::Transfer => "transfer",
            BuiltinTool::TakeMessage => "take_message",
            BuiltinTool::EndCall => "end_call",
            BuiltinTool::TakePayment => "take_payment",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.name() == name)
    }
}

/// An OpenAI-compatible chat endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LlmConfig {
    /// e.g. `https://api.openai.com/v1` or a local vLLM / Ollama / llama.cpp server.
    pub base_url: String,
    pub model: String,
    /// Write-only.
    #[serde(default)]
    pub api_key: Option<String>,
    #[serde(default = "default_temperature")]
    pub temperature: f32,
    /// Price of prompt tokens, US dollars per million (for the call's cost).
    #[serde(default)]
    pub input_usd_per_million_tokens: f64,
    /// Price of completion tokens, US dollars per million.
    #[serde(default)]
    pub output_usd_per_million_tokens: f64,
    /// How long the model may take to start answering before the caller goes to the fallback
    /// (a local server reading a long prompt for the first time needs more than a cloud API).
    #[serde(default = "default_first_token_ms")]
    pub first_token_timeout_ms: u32,
    /// How long an answer may stall between two pieces once it has started.
    #[serde(default = "default_stall_ms")]
    pub stall_timeout_ms: u32,
}

fn default_first_token_ms() -> u32 {
    1_200
}

fn default_stall_ms() -> u32 {
    4_000
}

impl LlmConfig {
    /// Problems with the endpoint's settings (under the field that holds them).
    pub fn check(&self, p: &mut Problems) {
        check_url(p, "base_url", &self.base_url);
        p.text("model", &self.model, true, 200);
        if !(0.0..=2.0).contains(&self.temperature) {
            p.push("temperature", "must be 0..=2");
        }
        for (field, price) in [
            ("input_usd_per_million_tokens", self.input_usd_per_million_tokens),
            ("output_usd_per_million_tokens", self.output_usd_per_million_tokens),
        ] {
            if !(0.0..=10_000.0).contains(&price) {
                p.push(field, "must be 0..=10000");
            }
        }
        p.range("first_token_timeout_ms", self.first_token_timeout_ms, 200, 30_000);
        p.range("stall_timeout_ms", self.stall_timeout_ms, 500, 60_000);
    }
}

fn default_temperature() -> f32 {
    0.3
}

/// An autonomous voice agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AiAgent {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub system_prompt: String,
    pub greeting: String,
    /// Whether the caller can interrupt the greeting.
    #[serde(default = "yes")]
    pub greeting_interruptible: bool,
    /// TTS voice name ("default" picks the best installed voice).
    #[serde(default = "default_voice")]
    pub voice: String,
    /// Which speech recogniser hears callers: the server's default, Whisper tiny.en (the best
    /// on our phone-line tests), Whisper base (slower) or Moonshine base-en (quicker on short
    /// turns, weaker on robotic voices).
    #[serde(default)]
    pub recogniser: Recogniser,
    /// The LLM brain. Unset: the offline guided agent (intent matching, no network).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm: Option<LlmConfig>,
    /// Built-in tool names and merchant tool definitions this agent may call.
    #[serde(default)]
    pub tools: Vec<String>,
    /// Where "I want a person" or pressing 0 goes.
    pub escalation_target: Target,
    /// Where callers go when the AI fails (LLM, speech or tool outage); the escalation target when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_target: Option<Target>,
    /// Where `take_message` leaves the caller's message; when unset, a voicemail box that is the
    /// escalation or fallback target, else the caller goes to a person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voicemail_box: Option<String>,
    /// Silence after speech that ends the caller's turn.
    #[serde(default = "default_eot")]
    pub end_of_turn_silence_ms: u32,
    /// End the caller's turn after 200 ms of silence (not `end_of_turn_silence_ms`) when what
    /// they said reads as finished: a question, a request, a problem, an answer (a number, an
    /// e-mail address, a short detail) or thanks; not a greeting, a preface such as "I'm calling
    /// about my order", a half-read number or a sentence left on "is" or "and". False: always
    /// wait `end_of_turn_silence_ms`.
    #[serde(default = "yes")]
    pub end_turn_on_finished_sentence: bool,
    /// Also listen to how the caller says it: at each pause a local turn model (Smart Turn)
    /// judges from the voice whether the caller has finished; a pause it hears as unfinished
    /// waits longer even when the words read as a finished sentence. Fewer callers cut off
    /// mid-sentence, but on phone audio the model is often unsure, and an answer it misjudges
    /// waits about 1.3 s, so it is off by default.
    #[serde(default)]
    pub end_of_turn_model: bool,
    #[serde(default = "default_max_minutes")]
    pub max_call_minutes: u32,
    /// The offline guided agent's extra example phrases per intent and reply templates (used
    /// when `llm` is unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guided: Option<GuidedConfig>,
}

/// The intents a guided agent knows, which merchants may give examples for (the guided
/// agent's own list; a test keeps the two the same).
pub const GUIDED_INTENTS: &[&str] = &[
    "greet",
    "goodbye",
    "ask_for_person",
    "yes",
    "no",
    "lookup_order",
    "account_balance",
    "open_tickets",
    "take_message",
    "out_of_scope",
];

/// The guided agent's answer templates, which merchants may reword.
pub const GUIDED_TEMPLATES: &[&str] = &[
    "greet",
    "goodbye",
    "transfer",
    "take_message",
    "ask_order_number",
    "order_status",
    "order_tracking",
    "last_order",
    "no_orders",
    "order_not_found",
    "balance",
    "tickets_none",
    "tickets",
    "ask_email",
    "email_not_found",
    "unknown",
    "anything_else",
    "no_problem",
    "tool_failed",
];

/// Tuning of the offline guided agent.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GuidedConfig {
    /// Extra example phrases by intent: greet, goodbye, ask_for_person, yes, no, lookup_order,
    /// account_balance, open_tickets, take_message.
    #[serde(default)]
    pub examples: BTreeMap<String, Vec<String>>,
    /// Reply templates by name (e.g. `order_status`: "Order {number} is {status}.").
    #[serde(default)]
    pub templates: BTreeMap<String, String>,
}

fn yes() -> bool {
    true
}
/// A local speech recogniser.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Recogniser {
    /// The server's default recogniser.
    #[default]
    Default,
    /// Whisper tiny.en (whisper.cpp).
    Whisper,
    /// Whisper base (whisper.cpp; multilingual, told the caller speaks English).
    WhisperBase,
    /// Moonshine base-en (ONNX Runtime).
    Moonshine,
}

fn default_voice() -> String {
    "default".into()
}
fn default_eot() -> u32 {
    1000
}
fn default_max_minutes() -> u32 {
    30
}

fn check_url(p: &mut Problems, field: &str, url: &str) {
    let ok = (url.starts_with("http://") || url.starts_with("https://"))
        && url.len() <= 2000
        && !url.contains(char::is_whitespace)
        && url.split("://").nth(1).is_some_and(|rest| !rest.is_empty());
    if !ok {
        p.push(field, "must be an http:// or https:// URL");
    }
}

impl ConfigKind for AiAgent {
    const KIND: &'static str = "ai_agents";
    const SINGULAR: &'static str = "AI agent";
    const KEY_FIELD: &'static str = "name";

    fn key(&self) -> &str {
        &self.name
    }

    fn validate(&self, p: &mut Problems) {
        p.name("name", &self.name);
        p.text("description", &self.description, false, 500);
        p.text("system_prompt", &self.system_prompt, true, 20_000);
        p.text("greeting", &self.greeting, true, 1000);
        p.text("voice", &self.voice, true, 100);
        if let Some(llm) = &self.llm {
            p.field("llm", |p| llm.check(p));
        }
        p.field("tools", |p| {
            for (i, t) in self.tools.iter().enumerate() {
                p.index(i, |p| {
                    p.name("", t);
                    if self.tools[..i].contains(t) {
                        p.push("", "is listed twice");
                    }
                });
            }
        });
        check_target(p, "escalation_target", &self.escalation_target);
        check_opt_target(p, "fallback_target", &self.fallback_target);
        p.range("end_of_turn_silence_ms", self.end_of_turn_silence_ms, 200, 5000);
        if let Some(guided) = &self.guided {
            for key in guided.examples.keys() {
                if !GUIDED_INTENTS.contains(&key.as_str()) {
                    p.push(
                        &format!("guided.examples.{key}"),
                        format!("no such intent (one of {})", GUIDED_INTENTS.join(", ")),
                    );
                }
            }
            for key in guided.templates.keys() {
                if !GUIDED_TEMPLATES.contains(&key.as_str()) {
                    p.push(&format!("guided.templates.{key}"), "no such template");
                }
            }
            for (intent, phrases) in &guided.examples {
                for (i, phrase) in phrases.iter().enumerate() {
                    p.text(&format!("guided.examples.{intent}[{i}]"), phrase, true, 300);
                }
            }
            for (name, template) in &guided.templates {
                p.text(&format!("guided.templates.{name}"), template, true, 500);
            }
        }
        p.range("max_call_minutes", self.max_call_minutes, 1, 240);
    }

    fn references(&self) -> Vec<Reference> {
        let mut out = Vec::new();
        for (i, t) in self.tools.iter().enumerate() {
            // Built-in tools exist without a definition; a definition of the same name overrides.
            if BuiltinTool::from_name(t).is_none() {
                out.push(Reference { path: format!("tools[{i}]"), kind: "tools", key: t.clone() });
            }
        }
        target_refs(&mut out, "escalation_target", &Some(self.escalation_target.clone()));
        target_refs(&mut out, "fallback_target", &self.fallback_target);
        if let Some(v) = &self.voicemail_box {
            out.push(Reference { path: "voicemail_box".into(), kind: "voicemail_boxes", key: v.clone() });
        }
        out
    }

    fn redact(&mut self) {
        if let Some(llm) = &mut self.llm {
            llm.api_key = None;
        }
    }

    fn secrets_mut(&mut self) -> Vec<&mut String> {
        self.llm.as_mut().and_then(|l| l.api_key.as_mut()).into_iter().collect()
    }

    fn keep_secrets_from(&mut self, stored: &Self) {
        if let (Some(new), Some(old)) = (&mut self.llm, &stored.llm) {
            if new.api_key.is_none() {
                new.api_key = old.api_key.clone();
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Get,
    #[default]
    Post,
    Put,
    Patch,
    Delete,
}

/// What runs when the tool is called.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ToolImplementation {
    Builtin {
        builtin: BuiltinTool,
    },
    /// A merchant's HTTP endpoint, called with the validated arguments as JSON.
    Webhook {
        url: String,
        #[serde(default)]
        method: HttpMethod,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        headers: BTreeMap<String, String>,
        /// Header values that are secrets (write-only; null on update keeps the stored value).
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        secret_headers: BTreeMap<String, Option<String>>,
        #[serde(default = "default_timeout_ms")]
        timeout_ms: u32,
        #[serde(default = "default_retries")]
        retries: u32,
        /// JSON pointer into the response handed to the model (whole body when unset).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        result_pointer: Option<String>,
    },
}

fn default_timeout_ms() -> u32 {
    5000
}
fn default_retries() -> u32 {
    1
}

/// A tool an AI agent may call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolDefinition {
    pub name: String,
    /// What the tool does, for the model.
    pub description: String,
    /// JSON Schema of the arguments (an object schema).
    pub parameters: serde_json::Value,
    pub implementation: ToolImplementation,
    /// A supervisor must approve each call before it runs.
    #[serde(default)]
    pub requires_approval: bool,
    /// A caller interrupting the agent cancels a running call of this tool.
    #[serde(default = "yes")]
    pub cancel_on_interruption: bool,
}

fn header_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl ConfigKind for ToolDefinition {
    const KIND: &'static str = "tools";
    const SINGULAR: &'static str = "tool";
    const KEY_FIELD: &'static str = "name";

    fn key(&self) -> &str {
        &self.name
    }

    fn validate(&self, p: &mut Problems) {
        p.name("name", &self.name);
        p.text("description", &self.description, true, 2000);
        let is_object_schema = self.parameters.as_object().is_some_and(|o| {
            o.get("type").and_then(|t| t.as_str()) == Some("object")
                && o.get("properties").is_none_or(|p| p.is_object())
        });
        if !is_object_schema {
            p.push("parameters", "must be a JSON Schema with \"type\": \"object\"");
        }
        p.field("implementation", |p| match &self.implementation {
            ToolImplementation::Builtin { builtin } => {
                if builtin.name() != self.name {
                    p.push(
                        "builtin",
                        format!("a built-in tool definition must be named '{}'", builtin.name()),
                    );
                }
            }
            ToolImplementation::Webhook {
                url,
                headers,
                secret_headers,
                timeout_ms,
                retries,
                result_pointer,
                ..
            } => {
                check_url(p, "url", url);
                for name in headers.keys().chain(secret_headers.keys()) {
                    if !header_name_ok(name) {
                        p.push("headers", format!("'{name}' is not a valid header name"));
                    }
                }
                for name in secret_headers.keys() {
                    if headers.contains_key(name) {
                        p.push("secret_headers", format!("'{name}' is also a plain header"));
                    }
                }
                for (name, value) in secret_headers {
                    if value.is_none() {
                        p.push("secret_headers", format!("'{name}' needs a value"));
                    }
                }
                p.range("timeout_ms", *timeout_ms, 100, 30_000);
                p.range("retries", *retries, 0, 5);
                if let Some(ptr) = result_pointer {
                    if !ptr.is_empty() && !ptr.starts_with('/') {
                        p.push("result_pointer", "must be a JSON pointer starting with '/'");
                    }
                }
            }
        });
    }

    fn redact(&mut self) {
        if let ToolImplementation::Webhook { secret_headers, .. } = &mut self.implementation {
            for v in secret_headers.values_mut() {
                *v = None;
            }
        }
    }

    fn secrets_mut(&mut self) -> Vec<&mut String> {
        match &mut self.implementation {
            ToolImplementation::Webhook { secret_headers, .. } => {
                secret_headers.values_mut().filter_map(|v| v.as_mut()).collect()
            }
            _ => Vec::new(),
        }
    }

    fn keep_secrets_from(&mut self, stored: &Self) {
        if let (
            ToolImplementation::Webhook { secret_headers: new, .. },
            ToolImplementation::Webhook { secret_headers: old, .. },
        ) = (&mut self.implementation, &stored.implementation)
        {
            for (name, value) in new.iter_mut() {
                if value.is_none() {
                    *value = old.get(name).cloned().flatten();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_and_kept_on_update() {
        let mut stored = ToolDefinition {
            name: "loyalty".into(),
            description: "Loyalty points".into(),
            parameters: serde_json::json!({"type": "object", "properties": {}}),
            implementation: ToolImplementation::Webhook {
                url: "https://example.com/points".into(),
                method: HttpMethod::Post,
                headers: BTreeMap::new(),
                secret_headers: [("Authorization".to_string(), Some("Bearer s3cret".to_string()))].into(),
                timeout_ms: 2000,
                retries: 1,
                result_pointer: None,
            },
            requires_approval: false,
            cancel_on_interruption: true,
        };
        let mut shown = stored.clone();
        shown.redact();
        assert!(!serde_json::to_string(&shown).unwrap().contains("s3cret"));
        shown.keep_secrets_from(&stored);
        assert_eq!(shown, stored);
        let mut p = Problems::new();
        stored.parameters = serde_json::json!({"type": "string"});
        stored.validate(&mut p);
        assert_eq!(p.into_vec()[0].path, "parameters");
    }
}
