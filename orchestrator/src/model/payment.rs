//! Where an account's card payments go: a payment processor speaking the Stripe-compatible
//! token and charge API.

use super::{ConfigKind, Problems};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A payment processor an account takes card payments through (agent-assisted keypad payments:
/// the card goes from the caller's keys to the processor and nowhere else).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentGateway {
    pub name: String,
    /// The processor's API base, e.g. `https://api.stripe.com` (`http://` only to this
    /// machine, for a processor's local test server).
    pub api_url: String,
    /// The secret API key (write-only; sealed at rest).
    #[serde(default)]
    pub secret_key: Option<String>,
    /// Currency when a payment names none (ISO 4217, lower case as the API wants it).
    #[serde(default = "default_currency")]
    pub currency: String,
    /// Ask the caller for the billing postal code too.
    #[serde(default)]
    pub postal_code: bool,
}

fn default_currency() -> String {
    "usd".into()
}

/// Whether an API base URL is acceptable: HTTPS anywhere, plain HTTP only to this machine.
pub fn acceptable_api_url(url: &str) -> bool {
    let Ok(u) = reqwest::Url::parse(url) else { return false };
    match u.scheme() {
        "https" => u.host_str().is_some(),
        "http" => matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]")),
        _ => false,
    }
}

impl ConfigKind for PaymentGateway {
    const KIND: &'static str = "payment_gateways";
    const SINGULAR: &'static str = "payment gateway";
    const KEY_FIELD: &'static str = "name";

    fn key(&self) -> &str {
        &self.name
    }

    fn validate(&self, p: &mut Problems) {
        p.name("name", &self.name);
        if !acceptable_api_url(&self.api_url) {
            p.push("api_url", "must be an https:// URL (or http:// to localhost)");
        }
        let c = &self.currency;
        if c.len() != 3 || !c.bytes().all(|b| b.is_ascii_lowercase()) {
            p.push("currency", "must be a three-letter ISO 4217 code in lower case, e.g. usd");
        }
        if self.secret_key.as_deref().is_some_and(|k| k.is_empty() || k.len() > 512) {
            p.push("secret_key", "must be 1 to 512 characters");
        }
    }

    fn redact(&mut self) {
        self.secret_key = None;
    }

    fn secrets_mut(&mut self) -> Vec<&mut String> {
        self.secret_key.as_mut().into_iter().collect()
    }

    fn keep_secrets_from(&mut self, stored: &Self) {
        if self.secret_key.is_none() {
            self.secret_key = stored.secret_key.clone();
        }
    }
}
