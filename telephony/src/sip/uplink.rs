//! Registering Switchboard with carrier trunks (we are the client: RFC 3261 §10.2), sans-IO.
//! Each trunk that asks for registration gets a REGISTER, an answer to the carrier's digest
//! challenge, refreshes at half the granted interval, and retries with back-off on failure.

use super::digest;
use super::header::{self, NameAddr};
use super::message::{Method, Request, Response};
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;

const T1: u64 = 500;
const T2: u64 = 4_000;
/// Retry after a failure (refused, timed out), growing to `MAX_RETRY_MS`.
const RETRY_MS: u64 = 30_000;
const MAX_RETRY_MS: u64 = 600_000;

/// A trunk that wants to be registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UplinkConfig {
    pub name: String,
    pub peer: SocketAddr,
    /// The carrier's domain (Request-URI and AOR host).
    pub domain: String,
    pub username: String,
    pub password: String,
    pub expires: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UplinkState {
    Registering,
    /// Registered until this time (ms).
    Registered {
        until_ms: u64,
    },
    /// Refused or unreachable; the status and when we try again.
    Failed {
        status: u16,
        retry_at_ms: u64,
    },
}

struct Uplink {
    config: UplinkConfig,
    state: UplinkState,
    call_id: String,
    tag: String,
    cseq: u32,
    /// The REGISTER in flight and its retransmission schedule.
    pending: Option<(Vec<u8>, u64, u64, u64)>, // (bytes, next_at, interval, deadline)
    challenged: bool,
    next_refresh_ms: Option<u64>,
    retry_ms: u64,
}

pub struct Uplinks {
    local: SocketAddr,
    prefix: String,
    counter: u64,
    uplinks: BTreeMap<String, Uplink>,
    out: VecDeque<(SocketAddr, Vec<u8>)>,
}

impl Uplinks {
    pub fn new(local: SocketAddr, prefix: impl Into<String>) -> Self {
        Uplinks { local, prefix: prefix.into(), counter: 0, uplinks: BTreeMap::new(), out: VecDeque::new() }
    }

    fn id(&mut self, kind: &str) -> String {
        self.counter += 1;
        format!("{kind}{}{}", self.prefix, self.counter)
    }

    /// The trunks to keep registered; new ones register now, removed ones are forgotten.
    pub fn set(&mut self, now_ms: u64, configs: Vec<UplinkConfig>) {
        self.uplinks.retain(|name, u| configs.iter().any(|c| &c.name == name && *c == u.config));
        for config in configs {
            if self.uplinks.contains_key(&config.name) {
                continue;
            }
            let (call_id, tag) = (format!("{}@switchboard", self.id("reg")), self.id("t"));
            let name = config.name.clone();
            self.uplinks.insert(
                name.clone(),
                Uplink {
                    config,
                    state: UplinkState::Registering,
                    call_id,
                    tag,
                    cseq: 0,
                    pending: None,
                    challenged: false,
                    next_refresh_ms: None,
                    retry_ms: RETRY_MS,
                },
            );
            self.send_register(now_ms, &name, None);
        }
    }

    pub fn status(&self) -> Vec<(String, UplinkState)> {
        self.uplinks.iter().map(|(n, u)| (n.clone(), u.state)).collect()
    }

    /// Sends (a new) REGISTER, with an `Authorization` or `Proxy-Authorization` header if given.
    fn send_register(&mut self, now_ms: u64, name: &str, authorization: Option<(&str, String)>) {
        let branch = format!("z9hG4bK{}", self.id("u"));
        let local = self.local;
        let Some(u) = self.uplinks.get_mut(name) else { return };
        u.cseq += 1;
        let c = &u.config;
        let mut req = Request::new(Method::Register, format!("sip:{}", c.domain));
        req.headers.push("Via", format!("SIP/2.0/UDP {local};branch={branch};rport"));
        req.headers.push("Max-Forwards", "70");
        req.headers.push("From", format!("<sip:{}@{}>;tag={}", c.username, c.domain, u.tag));
        req.headers.push("To", format!("<sip:{}@{}>", c.username, c.domain));
        req.headers.push("Call-ID", u.call_id.clone());
        req.headers.push("CSeq", format!("{} REGISTER", u.cseq));
        req.headers.push("Contact", format!("<sip:{}@{local}>", c.username));
        req.headers.push("Expires", c.expires.to_string());
        if let Some((field, value)) = authorization {
            req.headers.push(field, value);
        }
        let bytes = req.to_bytes();
        u.pending = Some((bytes.clone(), now_ms + T1, T1, now_ms + 64 * T1));
        if u.state != UplinkState::Registering && !matches!(u.state, UplinkState::Registered { .. }) {
            u.state = UplinkState::Registering;
        }
        self.out.push_back((c.peer, bytes));
    }

    fn fail(&mut self, now_ms: u64, name: &str, status: u16) {
        if let Some(u) = self.uplinks.get_mut(name) {
            u.pending = None;
            u.challenged = false;
            u.state = UplinkState::Failed { status, retry_at_ms: now_ms + u.retry_ms };
            u.retry_ms = (u.retry_ms * 2).min(MAX_RETRY_MS);
            u.next_refresh_ms = None;
        }
    }

    /// A response; `true` if it answered one of our REGISTERs.
    pub fn handle_response(&mut self, now_ms: u64, resp: &Response) -> bool {
        let Some(call_id) = resp.headers.get("Call-ID") else { return false };
        let Some(name) = self.uplinks.iter().find(|(_, u)| u.call_id == call_id).map(|(n, _)| n.clone())
        else {
            return false;
        };
        let cseq = resp.headers.get("CSeq").and_then(|c| header::cseq(c).ok()).map(|c| c.0);
        let u = self.uplinks.get_mut(&name).expect("found above");
        if cseq != Some(u.cseq) || u.pending.is_none() {
            return true; // a late or duplicate answer
        }
        match resp.status {
            100..=199 => {
                // Stop retransmitting, keep waiting for the final answer.
                if let Some(p) = &mut u.pending {
                    p.1 = p.3;
                }
            }
            200..=299 => {
                u.pending = None;
                u.challenged = false;
                u.retry_ms = RETRY_MS;
                // The granted interval: our contact's expires param, else Expires, else ours.
                let granted = resp
                    .headers
                    .get_all("Contact")
                    .iter()
                    .filter_map(|c| NameAddr::parse(c).ok())
                    .find_map(|c| c.param("expires").flatten().and_then(|e| e.parse::<u32>().ok()))
                    .or_else(|| resp.headers.get("Expires").and_then(|e| e.trim().parse::<u32>().ok()))
                    .map_or(u.config.expires as u64, u64::from)
                    .max(10);
                u.state = UplinkState::Registered { until_ms: now_ms + granted * 1000 };
                u.next_refresh_ms = Some(now_ms + granted * 500);
            }
            401 | 407 if !u.challenged => {
                let header = if resp.status == 401 { "WWW-Authenticate" } else { "Proxy-Authenticate" };
                let uri = format!("sip:{}", u.config.domain);
                let answer = resp.headers.get(header).and_then(|ch| {
                    digest::answer(
                        ch,
                        "REGISTER",
                        &uri,
                        &u.config.username,
                        &u.config.password,
                        &format!("{now_ms:x}"),
                        1,
                    )
                });
                match answer {
                    Some(a) => {
                        u.challenged = true;
                        let field = if resp.status == 401 { "Authorization" } else { "Proxy-Authorization" };
                        self.send_register(now_ms, &name, Some((field, a)));
                    }
                    None => self.fail(now_ms, &name, resp.status),
                }
            }
            status => self.fail(now_ms, &name, status),
        }
        true
    }

    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.out.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<u64> {
        self.uplinks
            .values()
            .flat_map(|u| {
                let retry = match u.state {
                    UplinkState::Failed { retry_at_ms, .. } => Some(retry_at_ms),
                    _ => None,
                };
                [u.pending.as_ref().map(|p| p.1.min(p.3)), u.next_refresh_ms, retry]
            })
            .flatten()
            .min()
    }

    pub fn handle_timeout(&mut self, now_ms: u64) {
        let names: Vec<String> = self.uplinks.keys().cloned().collect();
        for name in names {
            let Some(u) = self.uplinks.get_mut(&name) else { continue };
            if let Some((bytes, next_at, interval, deadline)) = &mut u.pending {
                if now_ms >= *deadline {
                    self.fail(now_ms, &name, 408);
                    continue;
                }
                if now_ms >= *next_at {
                    self.out.push_back((u.config.peer, bytes.clone()));
                    *interval = (*interval * 2).min(T2);
                    *next_at = now_ms + *interval;
                }
                continue;
            }
            let refresh = u.next_refresh_ms.is_some_and(|t| now_ms >= t);
            let retry = matches!(u.state, UplinkState::Failed { retry_at_ms, .. } if now_ms >= retry_at_ms);
            if refresh || retry {
                u.next_refresh_ms = None;
                u.challenged = false;
                self.send_register(now_ms, &name, None);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::digest::{ha1, Credentials, NonceSource};
    use crate::sip::message::Message;
    use crate::sip::parse::parse_datagram;

    fn config() -> UplinkConfig {
        UplinkConfig {
            name: "carrier".into(),
            peer: "192.0.2.10:5060".parse().unwrap(),
            domain: "carrier.example".into(),
            username: "acct-42".into(),
            password: "trunk-secret".into(),
            expires: 300,
        }
    }

    fn sent(u: &mut Uplinks) -> Request {
        let (_, bytes) = u.poll_transmit().expect("a REGISTER");
        match parse_datagram(&bytes).unwrap() {
            Message::Request(r) => r,
            _ => panic!("not a request"),
        }
    }

    #[test]
    fn registers_through_a_challenge_refreshes_and_retries() {
        let mut u = Uplinks::new("198.51.100.1:5060".parse().unwrap(), "x");
        u.set(0, vec![config()]);
        let first = sent(&mut u);
        assert_eq!(first.uri, "sip:carrier.example");
        // Unanswered: resent after T1.
        u.handle_timeout(T1);
        let again = sent(&mut u);
        assert_eq!(again.headers.get("CSeq"), first.headers.get("CSeq"));
        let ns = NonceSource::new("carrier");
        let mut challenge = Response::for_request(&again, 401, Some("c"));
        challenge.headers.push("WWW-Authenticate", ns.challenge("carrier.example", 0, false));
        assert!(u.handle_response(600, &challenge));
        let authed = sent(&mut u);
        let creds = Credentials::parse(authed.headers.get("Authorization").unwrap()).unwrap();
        assert!(creds.verify("REGISTER", &ha1("acct-42", "carrier.example", "trunk-secret")));
        let mut ok = Response::for_request(&authed, 200, Some("c"));
        ok.headers.push("Contact", "<sip:acct-42@198.51.100.1:5060>;expires=120");
        assert!(u.handle_response(700, &ok));
        assert_eq!(u.status()[0].1, UplinkState::Registered { until_ms: 120_700 });
        // Refreshed at half the granted time.
        assert_eq!(u.poll_timeout(), Some(60_700));
        u.handle_timeout(60_700);
        let refresh = sent(&mut u);
        assert_ne!(refresh.headers.get("CSeq"), authed.headers.get("CSeq"));
        // A refusal schedules a retry; unrelated responses are not ours.
        assert!(u.handle_response(60_800, &Response::for_request(&refresh, 403, Some("c"))));
        assert!(matches!(u.status()[0].1, UplinkState::Failed { status: 403, retry_at_ms: 90_800 }));
        let mut stranger = Response::for_request(&refresh, 200, Some("c"));
        stranger.headers.set("Call-ID", "someone-else");
        assert!(!u.handle_response(60_900, &stranger));
        u.handle_timeout(90_800);
        assert_eq!(sent(&mut u).method, Method::Register);
        // Removing the trunk forgets it.
        u.set(91_000, vec![]);
        assert!(u.status().is_empty() && u.poll_timeout().is_none());
    }

    #[test]
    fn a_huge_granted_interval_is_not_believed() {
        // Expires is 32 bits (RFC 3261 §20.19); a bigger number used to overflow `* 1000`.
        for expires in ["18446744073709551615", "4294967296", "-1"] {
            let mut u = Uplinks::new("198.51.100.1:5060".parse().unwrap(), "x");
            u.set(0, vec![config()]);
            let register = sent(&mut u);
            let mut ok = Response::for_request(&register, 200, Some("c"));
            ok.headers.push("Contact", format!("<sip:acct-42@198.51.100.1:5060>;expires={expires}"));
            ok.headers.push("Expires", expires);
            assert!(u.handle_response(700, &ok));
            assert_eq!(u.status()[0].1, UplinkState::Registered { until_ms: 300_700 }, "{expires}");
        }
    }

    #[test]
    fn an_unreachable_carrier_times_out() {
        let mut u = Uplinks::new("198.51.100.1:5060".parse().unwrap(), "x");
        u.set(0, vec![config()]);
        while let Some(t) = u.poll_timeout().filter(|t| *t <= 64 * T1) {
            u.handle_timeout(t);
        }
        assert!(matches!(u.status()[0].1, UplinkState::Failed { status: 408, .. }));
    }
}
