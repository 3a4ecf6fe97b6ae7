//! Account-wide settings and user roles.

use super::{validate::is_email, Problems};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// The four roles. Each includes everything the roles before it may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Own calls and own status.
    Agent,
    /// Monitor calls, coach, approve overrides, see team data.
    Supervisor,
    /// Configure everything in the account.
    Admin,
    /// Users, roles, billing and API tokens.
    Owner,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Agent, Role::Supervisor, Role::Admin, Role::Owner];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role '{s}' (expected agent, supervisor, admin or owner)"))
    }
}

/// Settings that apply to the whole account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountSettings {
    /// Display name of the merchant.
    pub name: String,
    /// IANA time zone used where an entity names none, e.g. `America/New_York`.
    #[serde(default = "default_tz")]
    pub time_zone: String,
    /// Caller ID presented on outbound calls (E.164).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_email: Option<String>,
    #[serde(default = "default_plan")]
    pub plan: String,
    /// Lets merchant webhook tools reach loopback and private network addresses (off: such
    /// webhooks are refused, so an AI agent cannot be pointed at internal services).
    #[serde(default)]
    pub allow_private_webhooks: bool,
    /// Audio library entry (looped) that a caller hears while an agent has them on hold; the
    /// hold chime when unset or unplayable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_music: Option<String>,
    /// The outcomes an agent chooses from after a call (with their notes), in the order shown.
    #[serde(default = "default_wrap_up_codes")]
    pub wrap_up_codes: Vec<String>,
    /// Days call recordings are kept; a daily clean-up deletes older ones (0 keeps them).
    #[serde(default = "default_retention")]
    pub recording_retention_days: u32,
    /// Said to callers before anything else on the calls Switchboard answers (numbers leading
    /// to an IVR, a queue, an AI agent...), e.g. "This call may be recorded for quality and
    /// training."; unset: nothing is said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording_announcement: Option<super::Prompt>,
}

fn default_retention() -> u32 {
    90
}

fn default_wrap_up_codes() -> Vec<String> {
    [
        "Resolved",
        "Follow-up needed",
        "Order question",
        "Return or refund",
        "Complaint",
        "Wrong number",
        "Other",
    ]
    .map(String::from)
    .to_vec()
}

fn default_tz() -> String {
    "UTC".into()
}

fn default_plan() -> String {
    "standard".into()
}

impl AccountSettings {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            time_zone: default_tz(),
            caller_id: None,
            billing_email: None,
            plan: default_plan(),
            allow_private_webhooks: false,
            hold_music: None,
            recording_retention_days: default_retention(),
            recording_announcement: None,
            wrap_up_codes: default_wrap_up_codes(),
        }
    }

    pub fn validate(&self, p: &mut Problems) {
        p.text("name", &self.name, true, 200);
        if self.time_zone.parse::<chrono_tz::Tz>().is_err() {
            p.push("time_zone", "must be an IANA time zone such as America/New_York");
        }
        if let Some(c) = &self.caller_id {
            p.e164("caller_id", c);
        }
        if let Some(e) = &self.billing_email {
            if !is_email(e) {
                p.push("billing_email", "must be an e-mail address");
            }
        }
        if let Some(m) = &self.hold_music {
            p.text("hold_music", m, true, 200);
        }
        if !["trial", "standard", "enterprise"].contains(&self.plan.as_str()) {
            p.push("plan", "must be one of trial, standard, enterprise");
        }
        super::target::check_opt_prompt(p, "recording_announcement", &self.recording_announcement);
        if self.recording_retention_days > 3650 {
            p.push("recording_retention_days", "at most 3650 days (ten years); 0 keeps recordings");
        }
        if self.wrap_up_codes.len() > 50 {
            p.push("wrap_up_codes", "at most 50 codes");
        }
        for (i, code) in self.wrap_up_codes.iter().enumerate() {
            let path = format!("wrap_up_codes/{i}");
            p.text(&path, code, true, 60);
            if code.trim() != code {
                p.push(&path, "must not start or end with spaces");
            }
            if self.wrap_up_codes[..i].contains(code) {
                p.push(&path, "appears twice");
            }
        }
    }
}
