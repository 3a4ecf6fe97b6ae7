//! HTTP digest authentication for SIP (RFC 3261 §22, RFC 2617 with qop=auth, MD5): the
//! server side (challenges, stateless nonces, verification) and the client side (answering a
//! carrier's challenge). Time is an input: nonces carry their issue time, signed.

use crate::text;
use md5::{Digest, Md5};

fn md5_hex(s: &str) -> String {
    let d = Md5::digest(s.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// The MAC of a nonce's issue time: the first 8 bytes of MD5(secret:time), 16 hex digits.
fn nonce_mac(secret: &str, time: &str) -> String {
    let d = Md5::digest(format!("{secret}:{time}").as_bytes());
    d.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// `MD5(user:realm:password)`, the digest secret registrars may store instead of passwords.
pub fn ha1(user: &str, realm: &str, password: &str) -> String {
    md5_hex(&format!("{user}:{realm}:{password}"))
}

/// Parameters of a `Digest` challenge or credentials, lowercased names, unquoted values.
pub fn parse_params(value: &str) -> Option<Vec<(String, String)>> {
    let rest = text::strip_prefix_ignore_ascii_case(value.trim(), "Digest")?;
    let mut out = Vec::new();
    let mut chars = rest.char_indices().peekable();
    let bytes = rest;
    loop {
        // Skip separators.
        while let Some(&(_, c)) = chars.peek() {
            if c == ',' || c.is_whitespace() {
                chars.next();
            } else {
                break;
            }
        }
        let Some(&(start, _)) = chars.peek() else { break };
        let mut eq = None;
        for (i, c) in chars.by_ref() {
            if c == '=' {
                eq = Some(i);
                break;
            }
        }
        let eq = eq?;
        // Both indices come from `char_indices`: character boundaries.
        let name = bytes.get(start..eq).unwrap_or_default().trim().to_ascii_lowercase();
        let value = if let Some(&(_, '"')) = chars.peek() {
            chars.next();
            let mut s = String::new();
            let mut escaped = false;
            let mut closed = false;
            for (_, c) in chars.by_ref() {
                match c {
                    _ if escaped => {
                        s.push(c);
                        escaped = false
                    }
                    '\\' => escaped = true,
                    '"' => {
                        closed = true;
                        break;
                    }
                    _ => s.push(c),
                }
            }
            if !closed {
                return None;
            }
            s
        } else {
            let mut s = String::new();
            while let Some(&(_, c)) = chars.peek() {
                if c == ',' {
                    break;
                }
                s.push(c);
                chars.next();
            }
            s.trim().to_string()
        };
        if name.is_empty() {
            return None;
        }
        out.push((name, value));
    }
    Some(out)
}

fn get<'a>(p: &'a [(String, String)], name: &str) -> Option<&'a str> {
    p.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Credentials from an `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    pub uri: String,
    pub response: String,
    pub qop: Option<String>,
    pub nc: Option<String>,
    pub cnonce: Option<String>,
    pub algorithm: Option<String>,
}

impl Credentials {
    pub fn parse(value: &str) -> Option<Credentials> {
        let p = parse_params(value)?;
        Some(Credentials {
            username: get(&p, "username")?.to_string(),
            realm: get(&p, "realm")?.to_string(),
            nonce: get(&p, "nonce")?.to_string(),
            uri: get(&p, "uri")?.to_string(),
            response: get(&p, "response")?.to_ascii_lowercase(),
            qop: get(&p, "qop").map(str::to_string),
            nc: get(&p, "nc").map(str::to_string),
            cnonce: get(&p, "cnonce").map(str::to_string),
            algorithm: get(&p, "algorithm").map(str::to_string),
        })
    }

    /// Whether the response proves knowledge of the secret whose HA1 is given.
    pub fn verify(&self, method: &str, ha1: &str) -> bool {
        if self.algorithm.as_deref().is_some_and(|a| !a.eq_ignore_ascii_case("MD5")) {
            return false;
        }
        let ha2 = md5_hex(&format!("{method}:{}", self.uri));
        let expected = match (&self.qop, &self.nc, &self.cnonce) {
            (Some(qop), Some(nc), Some(cnonce)) if qop == "auth" => {
                md5_hex(&format!("{ha1}:{}:{nc}:{cnonce}:{qop}:{ha2}", self.nonce))
            }
            (Some(_), _, _) => return false,
            (None, _, _) => md5_hex(&format!("{ha1}:{}:{ha2}", self.nonce)),
        };
        constant_time_eq(expected.as_bytes(), self.response.as_bytes())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Issues and checks nonces without storing them: a nonce is its issue time (ms) plus a MAC
/// over it, so a registrar restart or many clients cost no memory, and old nonces go stale.
#[derive(Debug, Clone)]
pub struct NonceSource {
    secret: String,
    /// Nonce lifetime in milliseconds.
    pub lifetime_ms: u64,
    /// Added to `now_ms` in nonces (see `shared`).
    epoch_ms: u64,
}

/// How far ahead of ours another process's clock may be for its nonces to be fresh here.
const CLOCK_SKEW_MS: u64 = 10_000;

/// How a nonce checked out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    Fresh,
    /// Genuine but expired: challenge again with `stale=true` (the client retries silently).
    Stale,
    Forged,
}

impl NonceSource {
    pub fn new(secret: impl Into<String>) -> Self {
        NonceSource { secret: secret.into(), lifetime_ms: 5 * 60 * 1000, epoch_ms: 0 }
    }

    /// Nonces several processes accept from each other: one `secret`, and the time in them
    /// counted from the Unix epoch (`epoch_ms`: the Unix time of this process's `now_ms` 0), so
    /// that processes started at different times, or restarted, agree on a nonce's age.
    pub fn shared(secret: impl Into<String>, epoch_ms: u64) -> Self {
        NonceSource { epoch_ms, ..NonceSource::new(secret) }
    }

    pub fn issue(&self, now_ms: u64) -> String {
        let t = format!("{:x}", now_ms.saturating_add(self.epoch_ms));
        format!("{t}{}", nonce_mac(&self.secret, &t))
    }

    pub fn check(&self, nonce: &str, now_ms: u64) -> NonceCheck {
        let Some((t, mac)) = nonce.len().checked_sub(16).and_then(|i| nonce.split_at_checked(i)) else {
            return NonceCheck::Forged;
        };
        if t.is_empty() || !constant_time_eq(nonce_mac(&self.secret, t).as_bytes(), mac.as_bytes()) {
            return NonceCheck::Forged;
        }
        let now_ms = now_ms.saturating_add(self.epoch_ms);
        // (Another process's clock may be a little ahead of ours.)
        match u64::from_str_radix(t, 16) {
            Ok(issued)
                if issued <= now_ms + CLOCK_SKEW_MS && now_ms.saturating_sub(issued) <= self.lifetime_ms =>
            {
                NonceCheck::Fresh
            }
            Ok(_) => NonceCheck::Stale,
            Err(_) => NonceCheck::Forged,
        }
    }

    /// A `WWW-Authenticate` / `Proxy-Authenticate` value.
    pub fn challenge(&self, realm: &str, now_ms: u64, stale: bool) -> String {
        format!(
            "Digest realm={}, nonce=\"{}\", algorithm=MD5, qop=\"auth\"{}",
            quote(realm),
            self.issue(now_ms),
            if stale { ", stale=true" } else { "" }
        )
    }
}

/// Answers a challenge (client side, e.g. registering to a carrier trunk).
pub fn answer(
    challenge: &str,
    method: &str,
    uri: &str,
    user: &str,
    password: &str,
    cnonce: &str,
    nc: u32,
) -> Option<String> {
    let p = parse_params(challenge)?;
    let realm = get(&p, "realm")?;
    let nonce = get(&p, "nonce")?;
    let opaque = get(&p, "opaque");
    // A value with control characters cannot be sent back in a header line: no answer.
    if [Some(realm), Some(nonce), opaque].into_iter().flatten().any(|v| v.chars().any(char::is_control)) {
        return None;
    }
    let h1 = ha1(user, realm, password);
    let ha2 = md5_hex(&format!("{method}:{uri}"));
    let qop_auth = get(&p, "qop").is_some_and(|q| q.split(',').any(|x| x.trim() == "auth"));
    let mut out = format!(
        "Digest username={}, realm={}, nonce={}, uri={}, algorithm=MD5",
        quote(user),
        quote(realm),
        quote(nonce),
        quote(uri)
    );
    if qop_auth {
        let nc = format!("{nc:08x}");
        let response = md5_hex(&format!("{h1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
        out.push_str(&format!(", response=\"{response}\", qop=auth, nc={nc}, cnonce={}", quote(cnonce)));
    } else {
        out.push_str(&format!(", response=\"{}\"", md5_hex(&format!("{h1}:{nonce}:{ha2}"))));
    }
    if let Some(opaque) = opaque {
        out.push_str(&format!(", opaque={}", quote(opaque)));
    }
    Some(out)
}

/// A quoted-string (RFC 3261 §25.1): quotes and backslashes escaped, so a value taken from a
/// challenge cannot end the string early and add parameters of its own.
fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2617_example() {
        // The worked example of RFC 2617 §3.5, with method GET.
        let creds = Credentials::parse(
            r#"Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
        )
        .unwrap();
        assert!(creds.verify("GET", &ha1("Mufasa", "testrealm@host.com", "Circle Of Life")));
        assert!(!creds.verify("GET", &ha1("Mufasa", "testrealm@host.com", "circle of life")));
        assert!(!creds.verify("POST", &ha1("Mufasa", "testrealm@host.com", "Circle Of Life")));
    }

    #[test]
    fn client_answers_what_the_server_accepts() {
        let ns = NonceSource::new("s3cret");
        let challenge = ns.challenge("acme", 1_000, false);
        let auth = answer(&challenge, "REGISTER", "sip:pbx.example", "101", "pw-101", "abcd", 1).unwrap();
        let creds = Credentials::parse(&auth).unwrap();
        assert_eq!(ns.check(&creds.nonce, 2_000), NonceCheck::Fresh);
        assert!(creds.verify("REGISTER", &ha1("101", "acme", "pw-101")));
        assert!(!creds.verify("REGISTER", &ha1("101", "acme", "wrong")));
        // Old nonces go stale; tampered ones are forged.
        assert_eq!(ns.check(&creds.nonce, 1_000 + ns.lifetime_ms + 1), NonceCheck::Stale);
        let mut forged = creds.nonce.clone();
        forged.replace_range(0..1, "f");
        assert_eq!(ns.check(&forged, 2_000), NonceCheck::Forged);
        assert_eq!(ns.check("x", 2_000), NonceCheck::Forged);
        assert_eq!(NonceSource::new("other").check(&creds.nonce, 2_000), NonceCheck::Forged);
    }

    #[test]
    fn nodes_started_at_different_times_accept_each_others_nonces() {
        // Node A started at Unix time 1_700_000_000_000, node B ten minutes later: each counts
        // its own time from its start, the nonces carry Unix time.
        let a = NonceSource::shared("cluster", 1_700_000_000_000);
        let b = NonceSource::shared("cluster", 1_700_000_600_000);
        let from_a = a.issue(700_000); // Unix 1_700_000_700_000
        assert_eq!(b.check(&from_a, 100_500), NonceCheck::Fresh, "half a second later on B");
        let from_b = b.issue(100_000);
        assert_eq!(a.check(&from_b, 699_000), NonceCheck::Fresh, "A's clock a second behind B's");
        assert_eq!(a.check(&from_b, 700_000 + a.lifetime_ms + 1), NonceCheck::Stale);
        assert_eq!(a.check(&from_b, 650_000), NonceCheck::Stale, "from far in A's future");
        // A node restarted: its old nonces stay old (Unix time does not start again).
        let restarted = NonceSource::shared("cluster", 1_700_001_000_000);
        assert_eq!(restarted.check(&from_a, 1_000), NonceCheck::Stale);
    }

    #[test]
    fn challenge_values_cannot_add_parameters_to_our_answer() {
        let challenge = r#"Digest realm="a\"b", nonce="n\", response=\"forged", qop="auth""#;
        let auth = answer(challenge, "REGISTER", "sip:x", "u", "p", "c", 1).unwrap();
        let creds = Credentials::parse(&auth).unwrap();
        assert_eq!((creds.realm.as_str(), creds.nonce.as_str()), ("a\"b", "n\", response=\"forged"));
        assert!(creds.verify("REGISTER", &ha1("u", "a\"b", "p")));
        assert!(answer("Digest realm=\"a\rb\", nonce=\"n\"", "REGISTER", "sip:x", "u", "p", "c", 1).is_none());
        assert!(Credentials::parse(
            "DIGEST username=\"u\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"0\""
        )
        .is_some());
    }

    #[test]
    fn junk_never_verifies_or_panics() {
        for junk in [
            "",
            "Digest",
            "Digest username=",
            "Digest username=\"unclosed",
            "Basic abc",
            "Digest ,,,=,",
            "Digest a=\"\\",
        ] {
            if let Some(c) = Credentials::parse(junk) {
                assert!(!c.verify("REGISTER", "00"));
            }
        }
        assert_eq!(NonceSource::new("k").check("ééééééééééééééééé", 0), NonceCheck::Forged);
    }
}
