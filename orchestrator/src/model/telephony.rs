//! Agents, numbers, trunks and class-of-service templates.

use super::target::{check_opt_target, check_target, target_refs};
use super::validate::{is_e164, is_email, is_extension};
use super::{ConfigKind, Problems, Reference, Target};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// What a group of agents may dial.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClassOfService {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "yes")]
    pub allow_internal: bool,
    #[serde(default = "yes")]
    pub allow_national: bool,
    #[serde(default)]
    pub allow_international: bool,
    #[serde(default)]
    pub allow_premium: bool,
    /// Longest outbound call in minutes (none: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_call_minutes: Option<u32>,
    /// E.164 prefixes always refused, e.g. `+1900`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked_prefixes: Vec<String>,
    /// No outside calls at all.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub block_outbound: bool,
    /// Outside calls only while this schedule is open (business hours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbound_hours: Option<String>,
}

fn yes() -> bool {
    true
}

impl ConfigKind for ClassOfService {
    const KIND: &'static str = "classes_of_service";
    const SINGULAR: &'static str = "class of service";
    const KEY_FIELD: &'static str = "name";

    fn key(&self) -> &str {
        &self.name
    }

    fn validate(&self, p: &mut Problems) {
        p.name("name", &self.name);
        p.text("description", &self.description, false, 500);
        if let Some(m) = self.max_call_minutes {
            p.range("max_call_minutes", m, 1, 1440);
        }
        if let Some(s) = &self.outbound_hours {
            p.name("outbound_hours", s);
        }
        p.field("blocked_prefixes", |p| {
            for (i, prefix) in self.blocked_prefixes.iter().enumerate() {
                let ok = prefix
                    .strip_prefix('+')
                    .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()));
                if !ok {
                    p.index(i, |p| p.push("", "must be '+' followed by digits"));
                }
            }
        });
    }

    fn references(&self) -> Vec<Reference> {
        let hours = self.outbound_hours.iter();
        hours
            .map(|s| Reference { path: "outbound_hours".into(), kind: "schedules", key: s.clone() })
            .collect()
    }
}

/// Whether calls are recorded: an agent's choice wins over their queue's, a queue's over the
/// number's; `always` records from the moment a person answers (for a number: from the
/// moment Switchboard answers), `never` refuses to record, and both `on_demand` and `inherit`
/// (everywhere) leave it to the agent's record button.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordingPreference {
    /// Follow the queue or account default.
    #[default]
    Inherit,
    Always,
    Never,
    /// The agent starts and stops recording during the call.
    OnDemand,
}

impl RecordingPreference {
    pub fn is_inherit(&self) -> bool {
        *self == RecordingPreference::Inherit
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueMembership {
    pub queue: String,
    /// 1 is offered calls first.
    #[serde(default = "default_priority")]
    pub priority: u8,
}

fn default_priority() -> u8 {
    5
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Forwarding {
    /// Forward every call without ringing the agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unconditional: Option<Target>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_busy: Option<Target>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_no_answer: Option<Target>,
    #[serde(default = "default_no_answer")]
    pub no_answer_seconds: u32,
}

fn default_no_answer() -> u32 {
    20
}

/// No forwarding, rung for 20 s (an agent saved without `forwarding` is valid).
impl Default for Forwarding {
    fn default() -> Self {
        Forwarding {
            unconditional: None,
            on_busy: None,
            on_no_answer: None,
            no_answer_seconds: default_no_answer(),
        }
    }
}

/// A human agent: an extension with SIP credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    pub extension: String,
    pub display_name: String,
    /// SIP user name for registration (defaults to the extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sip_username: Option<String>,
    /// Write-only: never shown; leave out (null) on update to keep the stored password.
    #[serde(default)]
    pub sip_password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queues: Vec<QueueMembership>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voicemail_box: Option<String>,
    #[serde(default)]
    pub recording: RecordingPreference,
    #[serde(default)]
    pub forwarding: Forwarding,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_of_service: Option<String>,
    /// Simultaneous calls before the agent counts as busy.
    #[serde(default = "default_lines")]
    pub lines: u8,
    /// Desk phones Switchboard provisions with this agent's account, by MAC address.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub desk_phones: Vec<super::DeskPhone>,
}

fn default_lines() -> u8 {
    2
}

/// How an extension rings when it is not configured: two lines, 20 s.
pub const UNKNOWN_AGENT_RINGING: (usize, u64) = (2, 20_000);

impl Agent {
    pub fn sip_username(&self) -> &str {
        self.sip_username.as_deref().unwrap_or(&self.extension)
    }

    /// How the agent is rung: lines at once, and ms before no answer.
    pub fn ringing(&self) -> (usize, u64) {
        (self.lines as usize, self.forwarding.no_answer_seconds as u64 * 1000)
    }
}

impl ConfigKind for Agent {
    const KIND: &'static str = "agents";
    const SINGULAR: &'static str = "agent";
    const KEY_FIELD: &'static str = "extension";

    fn key(&self) -> &str {
        &self.extension
    }

    fn validate(&self, p: &mut Problems) {
        if !is_extension(&self.extension) {
            p.push("extension", "must be 2 to 6 digits, not starting with 0");
        }
        p.text("display_name", &self.display_name, true, 100);
        if let Some(u) = &self.sip_username {
            let ok = !u.is_empty()
                && u.len() <= 64
                && u.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            if !ok {
                p.push("sip_username", "must be 1 to 64 letters, digits, '.', '_' or '-'");
            }
        }
        match &self.sip_password {
            None => p.push("sip_password", "is required"),
            Some(pw) if pw.len() < 8 || pw.len() > 128 => {
                p.push("sip_password", "must be 8 to 128 characters")
            }
            Some(_) => {}
        }
        if let Some(e) = &self.email {
            if !is_email(e) {
                p.push("email", "must be an e-mail address");
            }
        }
        p.field("queues", |p| {
            for (i, m) in self.queues.iter().enumerate() {
                p.index(i, |p| {
                    p.name("queue", &m.queue);
                    p.range("priority", m.priority, 1, 10);
                    if self.queues[..i].iter().any(|o| o.queue == m.queue) {
                        p.push("queue", "is listed twice");
                    }
                });
            }
        });
        p.field("forwarding", |p| {
            check_opt_target(p, "unconditional", &self.forwarding.unconditional);
            check_opt_target(p, "on_busy", &self.forwarding.on_busy);
            check_opt_target(p, "on_no_answer", &self.forwarding.on_no_answer);
            p.range("no_answer_seconds", self.forwarding.no_answer_seconds, 5, 120);
        });
        p.range("lines", self.lines, 1, 8);
        p.field("desk_phones", |p| {
            for (i, phone) in self.desk_phones.iter().enumerate() {
                p.index(i, |p| {
                    phone.check(p);
                    let mac = super::deskphone::normalize_mac(&phone.mac);
                    if mac.is_some()
                        && self.desk_phones[..i]
                            .iter()
                            .any(|o| super::deskphone::normalize_mac(&o.mac) == mac)
                    {
                        p.push("mac", "is listed twice");
                    }
                });
            }
        });
    }

    fn references(&self) -> Vec<Reference> {
        let mut out = Vec::new();
        for (i, m) in self.queues.iter().enumerate() {
            out.push(Reference { path: format!("queues[{i}].queue"), kind: "queues", key: m.queue.clone() });
        }
        if let Some(v) = &self.voicemail_box {
            out.push(Reference { path: "voicemail_box".into(), kind: "voicemail_boxes", key: v.clone() });
        }
        if let Some(c) = &self.class_of_service {
            out.push(Reference {
                path: "class_of_service".into(),
                kind: "classes_of_service",
                key: c.clone(),
            });
        }
        target_refs(&mut out, "forwarding.unconditional", &self.forwarding.unconditional);
        target_refs(&mut out, "forwarding.on_busy", &self.forwarding.on_busy);
        target_refs(&mut out, "forwarding.on_no_answer", &self.forwarding.on_no_answer);
        out
    }

    fn redact(&mut self) {
        self.sip_password = None;
        for phone in &mut self.desk_phones {
            phone.provisioning_password = None;
        }
    }

    fn secrets_mut(&mut self) -> Vec<&mut String> {
        let phones = self.desk_phones.iter_mut().filter_map(|d| d.provisioning_password.as_mut());
        self.sip_password.as_mut().into_iter().chain(phones).collect()
    }

    fn keep_secrets_from(&mut self, stored: &Self) {
        if self.sip_password.is_none() {
            self.sip_password = stored.sip_password.clone();
        }
        // A phone's password is kept when the phone (its MAC) is kept.
        for phone in &mut self.desk_phones {
            if phone.provisioning_password.is_none() {
                let mac = super::deskphone::normalize_mac(&phone.mac);
                phone.provisioning_password = stored
                    .desk_phones
                    .iter()
                    .find(|o| super::deskphone::normalize_mac(&o.mac) == mac)
                    .and_then(|o| o.provisioning_password.clone());
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TrunkTransport {
    #[default]
    Udp,
    Tcp,
}

/// An upstream SIP trunk: carries inbound DIDs and outbound calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Trunk {
    pub name: String,
    pub host: String,
    #[serde(default = "default_sip_port")]
    pub port: u16,
    #[serde(default)]
    pub transport: TrunkTransport,
    /// Register with these credentials (otherwise the carrier authenticates us by IP).
    #[serde(default)]
    pub register: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Write-only.
    #[serde(default)]
    pub password: Option<String>,
    /// Source addresses inbound calls from this carrier may come from: an IP (any port) or
    /// IP:port (only that port, for a carrier that shares a host with phones).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inbound_ips: Vec<String>,
    /// Caller ID for outbound calls that have none of their own (E.164).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_channels: Option<u32>,
    /// What the carrier charges per minute for calls it brings in (US dollars; billed by the
    /// second from answer), for each call's cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbound_usd_per_minute: Option<f64>,
    /// What the carrier charges per minute for calls out through it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbound_usd_per_minute: Option<f64>,
}

fn default_sip_port() -> u16 {
    5060
}

impl ConfigKind for Trunk {
    const KIND: &'static str = "trunks";
    const SINGULAR: &'static str = "trunk";
    const KEY_FIELD: &'static str = "name";

    fn key(&self) -> &str {
        &self.name
    }

    fn validate(&self, p: &mut Problems) {
        p.name("name", &self.name);
        let host_ok = !self.host.is_empty()
            && self.host.len() <= 253
            && self.host.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
        if !host_ok {
            p.push("host", "must be a host name or IP address");
        }
        if self.port == 0 {
            p.push("port", "must be 1..=65535");
        }
        if self.register && (self.username.is_none() || self.password.is_none()) {
            p.push("register", "registration needs username and password");
        }
        p.field("inbound_ips", |p| {
            for (i, ip) in self.inbound_ips.iter().enumerate() {
                if ip.parse::<IpAddr>().is_err() && ip.parse::<std::net::SocketAddr>().is_err() {
                    p.index(i, |p| p.push("", "must be an IP address or IP:port"));
                }
            }
        });
        if let Some(c) = &self.caller_id {
            p.e164("caller_id", c);
        }
        if let Some(m) = self.max_channels {
            p.range("max_channels", m, 1, 10_000);
        }
        for (field, rate) in [
            ("inbound_usd_per_minute", self.inbound_usd_per_minute),
            ("outbound_usd_per_minute", self.outbound_usd_per_minute),
        ] {
            if let Some(r) = rate {
                if !(0.0..=100.0).contains(&r) {
                    p.push(field, "must be between 0 and 100 (US dollars per minute)");
                }
            }
        }
    }

    fn redact(&mut self) {
        self.password = None;
    }

    fn secrets_mut(&mut self) -> Vec<&mut String> {
        self.password.as_mut().into_iter().collect()
    }

    fn keep_secrets_from(&mut self, stored: &Self) {
        if self.password.is_none() {
            self.password = stored.password.clone();
        }
    }
}

/// A DID owned by the account and where its calls go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneNumber {
    /// E.164, e.g. `+15550100`.
    pub number: String,
    #[serde(default)]
    pub description: String,
    pub target: Target,
    /// The trunk this number arrives on (any trunk when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trunk: Option<String>,
    /// Whether calls to this number are recorded (a queue's or agent's own choice wins).
    #[serde(default, skip_serializing_if = "RecordingPreference::is_inherit")]
    pub recording: RecordingPreference,
}

impl ConfigKind for PhoneNumber {
    const KIND: &'static str = "phone_numbers";
    const SINGULAR: &'static str = "phone number";
    const KEY_FIELD: &'static str = "number";

    fn key(&self) -> &str {
        &self.number
    }

    fn validate(&self, p: &mut Problems) {
        if !is_e164(&self.number) {
            p.push("number", "must be an E.164 number such as +15551234567");
        }
        p.text("description", &self.description, false, 500);
        check_target(p, "target", &self.target);
    }

    fn references(&self) -> Vec<Reference> {
        let mut out = Vec::new();
        target_refs(&mut out, "target", &Some(self.target.clone()));
        if let Some(t) = &self.trunk {
            out.push(Reference { path: "trunk".into(), kind: "trunks", key: t.clone() });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agent_saved_without_forwarding_is_valid_and_rings_for_twenty_seconds() {
        let agent: Agent =
            serde_json::from_value(serde_json::json!({"extension": "104", "display_name": "Dee", "sip_password": "a-long-sip-secret-104"})).unwrap();
        let mut p = crate::model::Problems::new();
        agent.validate(&mut p);
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(agent.ringing(), (agent.lines as usize, 20_000));
        assert_eq!(Forwarding::default().no_answer_seconds, 20);
    }
}
