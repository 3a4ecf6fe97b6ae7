//! Merchant webhook tools: the model's (checked) arguments go to the merchant's HTTP endpoint as
//! JSON (or a query string for GET), with the configured headers (secrets included); the answer,
//! or the part of it the merchant points at, goes back to the model. Transport failures and 5xx
//! answers are retried; the tool's timeout bounds the whole call. Endpoints on loopback, private,
//! link-local or other non-public addresses are refused unless the account allows them (no
//! server-side request forgery). HTTP itself is the orchestrator's: it implements [`HttpClient`]
//! and must connect only to the addresses it checked with [`address_allowed`].

use crate::{CallContext, Tool, ToolError, ToolFuture, ToolSpec};
use serde_json::{json, Value};
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
    /// Whether non-public addresses may be reached.
    pub allow_private: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HttpResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum HttpError {
    /// The address is not allowed (never retried).
    Blocked(String),
    /// Connection, DNS or timeout trouble (retried).
    Transport(String),
}

pub type HttpFuture<'a> = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'a>>;

pub trait HttpClient: Send + Sync {
    fn send<'a>(&'a self, request: &'a HttpRequest) -> HttpFuture<'a>;
}

/// Whether a webhook may connect to `ip`: public unicast addresses only.
pub fn address_allowed(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1])) // carrier-grade NAT
                || (o[0] == 198 && (o[1] == 18 || o[1] == 19)) // benchmarking
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return address_allowed(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80) // link local
        }
    }
}

/// A merchant webhook, ready to call.
pub struct Webhook {
    pub spec: ToolSpec,
    pub url: String,
    pub method: String,
    pub headers: Vec<(String, String)>,
    pub retries: u32,
    /// JSON pointer into the answer handed to the model (the whole answer when unset).
    pub result_pointer: Option<String>,
    pub allow_private: bool,
    pub client: Arc<dyn HttpClient>,
}

fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Webhook {
    fn request(&self, args: &Value) -> HttpRequest {
        let get = self.method.eq_ignore_ascii_case("GET");
        let url = if get {
            let pairs: Vec<String> = args
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| {
                    format!(
                        "{}={}",
                        percent(k),
                        percent(&v.as_str().map_or_else(|| v.to_string(), str::to_string))
                    )
                })
                .collect();
            match (pairs.is_empty(), self.url.contains('?')) {
                (true, _) => self.url.clone(),
                (false, true) => format!("{}&{}", self.url, pairs.join("&")),
                (false, false) => format!("{}?{}", self.url, pairs.join("&")),
            }
        } else {
            self.url.clone()
        };
        HttpRequest {
            method: self.method.to_ascii_uppercase(),
            url,
            headers: self.headers.clone(),
            body: (!get).then(|| args.clone()),
            allow_private: self.allow_private,
        }
    }

    async fn run(&self, args: Value) -> Result<Value, ToolError> {
        let request = self.request(&args);
        let mut last = String::new();
        for attempt in 0..=self.retries {
            if attempt > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(200 * attempt as u64)).await;
            }
            match self.client.send(&request).await {
                Err(HttpError::Blocked(why)) => {
                    return Err(ToolError::Failed(format!("the webhook is not allowed: {why}")))
                }
                Err(HttpError::Transport(why)) => last = why,
                Ok(r) if r.status >= 500 => last = format!("the webhook answered HTTP {}", r.status),
                Ok(r) if r.status >= 400 => {
                    return Err(ToolError::Failed(format!(
                        "the webhook refused the call (HTTP {}): {}",
                        r.status,
                        String::from_utf8_lossy(&r.body).chars().take(200).collect::<String>()
                    )))
                }
                Ok(r) => {
                    let body: Value = serde_json::from_slice(&r.body)
                        .unwrap_or_else(|_| json!({"text": String::from_utf8_lossy(&r.body)}));
                    return Ok(match &self.result_pointer {
                        Some(p) => body.pointer(p).cloned().unwrap_or(Value::Null),
                        None => body,
                    });
                }
            }
        }
        Err(ToolError::Unavailable(format!("the webhook failed after {} attempts: {last}", self.retries + 1)))
    }
}

impl Tool for Webhook {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn invoke<'a>(&'a self, args: Value, _ctx: &'a CallContext) -> ToolFuture<'a> {
        Box::pin(self.run(args))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_allowed() {
        for blocked in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "224.0.0.1",
        ] {
            assert!(!address_allowed(blocked.parse().unwrap()), "{blocked}");
        }
        for allowed in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(address_allowed(allowed.parse().unwrap()), "{allowed}");
        }
    }
}
