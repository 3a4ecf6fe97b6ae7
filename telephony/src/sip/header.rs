//! Typed views of the headers the stack reads: Via, name-addr (From, To, Contact), CSeq and
//! parameter lists.

use super::uri::SipUri;
use crate::text;

/// `;name=value` parameters after a header value, in order. Names are lowercased.
pub fn params(s: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    let mut pieces = Vec::new();
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ';' if !quoted => {
                // Indices from `char_indices`: always character boundaries.
                pieces.push(s.get(start..i).unwrap_or_default());
                start = i + 1;
            }
            _ => {}
        }
    }
    pieces.push(s.get(start..).unwrap_or_default());
    for p in pieces.into_iter().skip(1) {
        let p = p.trim();
        if p.is_empty() {
            continue;
        }
        match p.split_once('=') {
            Some((k, v)) => {
                out.push((k.trim().to_ascii_lowercase(), Some(v.trim().trim_matches('"').to_string())))
            }
            None => out.push((p.to_ascii_lowercase(), None)),
        }
    }
    out
}

pub fn param(s: &str, name: &str) -> Option<String> {
    params(s).into_iter().find(|(k, _)| k == name).and_then(|(_, v)| v)
}

pub fn has_param(s: &str, name: &str) -> bool {
    params(s).iter().any(|(k, _)| k == name)
}

/// A name-addr or addr-spec with header parameters: `"Alice" <sip:a@x>;tag=1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    pub display: Option<String>,
    pub uri: SipUri,
    /// The URI exactly as written (for echoing back).
    pub uri_text: String,
    pub params: Vec<(String, Option<String>)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad header value: {0}")]
pub struct HeaderError(pub String);

impl NameAddr {
    pub fn parse(v: &str) -> Result<NameAddr, HeaderError> {
        let v = v.trim();
        let err = |m: &str| HeaderError(format!("{m}: '{v}'"));
        let (display, uri_text, tail) = if let Some(rest) = v.strip_prefix('"') {
            let mut escaped = false;
            let mut end = None;
            for (i, c) in rest.char_indices() {
                match c {
                    _ if escaped => escaped = false,
                    '\\' => escaped = true,
                    '"' => {
                        end = Some(i);
                        break;
                    }
                    _ => {}
                }
            }
            let (name, after) =
                end.and_then(|i| text::around(rest, i)).ok_or_else(|| err("unclosed quote"))?;
            let inner =
                after.trim_start().strip_prefix('<').ok_or_else(|| err("quoted name without <uri>"))?;
            let (uri_text, tail) = inner.split_once('>').ok_or_else(|| err("no closing >"))?;
            (Some(name.replace("\\\"", "\"")), uri_text, tail)
        } else if let Some((name, inner)) = v.split_once('<') {
            let (uri_text, tail) = inner.split_once('>').ok_or_else(|| err("no closing >"))?;
            let name = name.trim();
            (Some(name.to_string()).filter(|n| !n.is_empty()), uri_text, tail)
        } else {
            // addr-spec: parameters after the URI belong to the header, not the URI.
            match v.find(';') {
                Some(i) => {
                    let (uri_text, tail) = v.split_at_checked(i).ok_or_else(|| err("bad parameters"))?;
                    (None, uri_text, tail)
                }
                None => (None, v, ""),
            }
        };
        let tail = tail.trim();
        if !tail.is_empty() && !tail.starts_with(';') {
            return Err(err("junk after the address"));
        }
        if uri_text.trim() != uri_text && !uri_text.is_empty() && v.contains('<') {
            // RFC 4475 §3.1.2.14: no whitespace inside <> around the URI.
            return Err(err("whitespace inside <>"));
        }
        let uri = SipUri::parse(uri_text).map_err(|e| HeaderError(e.0))?;
        Ok(NameAddr { display, uri, uri_text: uri_text.trim().to_string(), params: params(tail) })
    }

    pub fn tag(&self) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == "tag").and_then(|(_, v)| v.as_deref())
    }

    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_deref())
    }
}

/// One Via value: `SIP/2.0/UDP host:port;branch=...;rport`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    pub transport: String,
    pub host: String,
    pub port: Option<u16>,
    pub params: Vec<(String, Option<String>)>,
}

impl Via {
    pub fn parse(v: &str) -> Result<Via, HeaderError> {
        let err = |m: &str| HeaderError(format!("{m}: '{v}'"));
        let (proto, rest) = v.trim().split_once(char::is_whitespace).ok_or_else(|| err("no sent-by"))?;
        let mut parts = proto.split('/').map(str::trim);
        let (name, version, transport) = (parts.next(), parts.next(), parts.next());
        if !name.is_some_and(|n| n.eq_ignore_ascii_case("SIP")) || version != Some("2.0") {
            return Err(err("not SIP/2.0"));
        }
        let transport =
            transport.filter(|t| !t.is_empty()).ok_or_else(|| err("no transport"))?.to_ascii_uppercase();
        let rest = rest.trim();
        let sent_by = rest.split(';').next().unwrap_or_default().trim();
        let (host, port) = if sent_by.starts_with('[') {
            let (address, after) = sent_by.split_once(']').ok_or_else(|| err("unclosed IPv6"))?;
            let host = sent_by.get(..=address.len()).ok_or_else(|| err("unclosed IPv6"))?;
            (host, after.trim().strip_prefix(':').map(str::trim))
        } else {
            match sent_by.split_once(':') {
                Some((h, p)) => (h.trim(), Some(p.trim())),
                None => (sent_by, None),
            }
        };
        if host.is_empty() || host.contains(char::is_whitespace) {
            return Err(err("bad host"));
        }
        let port = match port {
            None => None,
            Some(p) => Some(p.parse::<u16>().map_err(|_| err("bad port"))?),
        };
        Ok(Via { transport, host: host.to_ascii_lowercase(), port, params: params(rest) })
    }

    pub fn branch(&self) -> Option<&str> {
        self.param("branch").flatten()
    }

    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_deref())
    }

    /// Sets `received` and `rport` from where the request came from (RFC 3261 §18.2.1, RFC 3581).
    pub fn stamp(value: &str, source: std::net::SocketAddr) -> String {
        let via = match Via::parse(value) {
            Ok(v) => v,
            Err(_) => return value.to_string(),
        };
        let mut out = format!("SIP/2.0/{} {}", via.transport, via.host);
        if let Some(p) = via.port {
            out.push_str(&format!(":{p}"));
        }
        let mut has_received = false;
        for (k, v) in &via.params {
            match (k.as_str(), v) {
                ("rport", _) => out.push_str(&format!(";rport={}", source.port())),
                ("received", _) => {
                    has_received = true;
                    out.push_str(&format!(";received={}", source.ip()));
                }
                (k, Some(v)) => out.push_str(&format!(";{k}={v}")),
                (k, None) => out.push_str(&format!(";{k}")),
            }
        }
        if !has_received && via.host != source.ip().to_string() {
            out.push_str(&format!(";received={}", source.ip()));
        }
        out
    }
}

/// `CSeq: 4711 INVITE`.
pub fn cseq(v: &str) -> Result<(u32, String), HeaderError> {
    let mut it = v.split_whitespace();
    let (n, m) = (it.next(), it.next());
    match (n.and_then(|n| n.parse::<u32>().ok()), m, it.next()) {
        (Some(n), Some(m), None) => Ok((n, m.to_string())),
        _ => Err(HeaderError(format!("bad CSeq '{v}'"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_addr_shapes() {
        let a = NameAddr::parse(r#""Alice \"Al\" Liddell" <sip:alice@x.example>;tag=88sja8x"#).unwrap();
        assert_eq!(a.display.as_deref(), Some(r#"Alice "Al" Liddell"#));
        assert_eq!(a.tag(), Some("88sja8x"));
        let b = NameAddr::parse("sip:bob@y.example;tag=1").unwrap();
        assert_eq!(b.uri.user.as_deref(), Some("bob"));
        assert_eq!(b.tag(), Some("1"));
        let c = NameAddr::parse("Bob <sip:bob@y.example;transport=tcp>;expires=60").unwrap();
        assert_eq!(c.uri.param("transport"), Some(Some("tcp")));
        assert_eq!(c.param("expires"), Some(Some("60")));
        assert!(NameAddr::parse("<sip:x@y").is_err());
        assert!(NameAddr::parse("\"unclosed <sip:x@y>").is_err());
        assert!(NameAddr::parse("<sip:x@y> junk").is_err());
    }

    #[test]
    fn via_and_stamping() {
        let v = Via::parse("SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKabc;rport").unwrap();
        assert_eq!((v.transport.as_str(), v.host.as_str(), v.port), ("UDP", "10.0.0.5", Some(5062)));
        assert_eq!(v.branch(), Some("z9hG4bKabc"));
        let s = Via::stamp(
            "SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKabc;rport",
            "192.0.2.1:40000".parse().unwrap(),
        );
        assert_eq!(s, "SIP/2.0/UDP 10.0.0.5:5062;branch=z9hG4bKabc;rport=40000;received=192.0.2.1");
        assert!(Via::parse("SIP/3.0/UDP a").is_err());
        assert!(Via::parse("SIP/2.0/UDP").is_err());
        assert_eq!(cseq("314159 INVITE").unwrap(), (314159, "INVITE".to_string()));
        assert!(cseq("x INVITE").is_err());
        assert!(cseq("1 INVITE extra").is_err());
    }
}
