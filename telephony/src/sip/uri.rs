//! SIP URIs (RFC 3261 §19.1): `sip:user:password@host:port;params?headers`.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipUri {
    /// `sip` or `sips` (lowercase).
    pub scheme: String,
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    /// URI parameters in order, e.g. `transport=tcp`, `lr` (no value).
    pub params: Vec<(String, Option<String>)>,
    /// Everything after `?`, unparsed.
    pub headers: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad SIP URI: {0}")]
pub struct UriError(pub String);

fn valid_host(host: &str) -> bool {
    if let Some(v6) = host.strip_prefix('[') {
        return v6.strip_suffix(']').is_some_and(|a| a.parse::<std::net::Ipv6Addr>().is_ok());
    }
    !host.is_empty()
        && host.len() <= 253
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        && !host.starts_with('.')
        && !host.starts_with('-')
}

/// Decodes `%xx` escapes in a user part.
pub fn unescape(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl SipUri {
    pub fn parse(s: &str) -> Result<SipUri, UriError> {
        let s = s.trim();
        let err = |m: &str| UriError(format!("{m}: '{s}'"));
        let (scheme, rest) = s.split_once(':').ok_or_else(|| err("no scheme"))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "sip" && scheme != "sips" {
            return Err(err("unsupported scheme"));
        }
        // '@' cannot appear unescaped in URI headers, so the last one ends the user part
        // (which may itself contain '?' and ';'); headers start at the first '?' after it.
        let (user, after_user) = match rest.rsplit_once('@') {
            Some((userinfo, after_user)) => {
                // A password in a URI is deprecated and ignored; keep the user only.
                let user = userinfo.split(':').next().unwrap_or_default();
                if user.is_empty() {
                    return Err(err("empty user"));
                }
                (Some(user.to_string()), after_user)
            }
            None => (None, rest),
        };
        let (hostpart, headers) = match after_user.split_once('?') {
            Some((h, hdrs)) => (h, Some(hdrs.to_string())),
            None => (after_user, None),
        };
        let mut pieces = hostpart.split(';');
        let hostport = pieces.next().unwrap_or_default();
        let (host, port) = if hostport.starts_with('[') {
            let (address, after) = hostport.split_once(']').ok_or_else(|| err("unclosed IPv6 address"))?;
            let host = hostport.get(..=address.len()).ok_or_else(|| err("unclosed IPv6 address"))?;
            match after {
                "" => (host, None),
                p => (host, Some(p.strip_prefix(':').ok_or_else(|| err("junk after host"))?)),
            }
        } else {
            match hostport.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if !valid_host(host) {
            return Err(err("bad host"));
        }
        let port = match port {
            None => None,
            Some(p) => Some(p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| err("bad port"))?),
        };
        let mut params = Vec::new();
        for p in pieces {
            if p.is_empty() {
                continue;
            }
            match p.split_once('=') {
                Some((k, v)) => params.push((k.to_ascii_lowercase(), Some(v.to_string()))),
                None => params.push((p.to_ascii_lowercase(), None)),
            }
        }
        Ok(SipUri { scheme, user, host: host.to_ascii_lowercase(), port, params, headers })
    }

    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_deref())
    }

    /// The user part with escapes decoded.
    pub fn user_unescaped(&self) -> Option<String> {
        self.user.as_deref().map(unescape)
    }
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.scheme)?;
        if let Some(u) = &self.user {
            write!(f, "{u}@")?;
        }
        write!(f, "{}", self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        for (k, v) in &self.params {
            match v {
                Some(v) => write!(f, ";{k}={v}")?,
                None => write!(f, ";{k}")?,
            }
        }
        if let Some(h) = &self.headers {
            write!(f, "?{h}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_shapes() {
        let u = SipUri::parse("sip:alice:secret@Example.COM:5070;transport=TCP;lr?subject=hi").unwrap();
        assert_eq!(u.user.as_deref(), Some("alice"));
        assert_eq!(u.host, "example.com");
        assert_eq!(u.port, Some(5070));
        assert_eq!(u.param("transport"), Some(Some("TCP")));
        assert_eq!(u.param("lr"), Some(None));
        assert_eq!(u.headers.as_deref(), Some("subject=hi"));
        let v6 = SipUri::parse("sips:[2001:db8::1]:5061").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("[2001:db8::1]", Some(5061)));
        assert_eq!(SipUri::parse("sip:%61lice@x").unwrap().user_unescaped().as_deref(), Some("alice"));
        assert_eq!(
            SipUri::parse("sip:+15551234567;npdi@gw.example;user=phone").unwrap().user.as_deref(),
            Some("+15551234567;npdi")
        );
    }

    #[test]
    fn refuses_bad_ones() {
        for bad in [
            "bob@x",
            "http://x",
            "sip:",
            "sip:a@",
            "sip:x:0",
            "sip:x:70000",
            "sip:[::1",
            "sip:ex ample.com",
            "sip:%",
        ] {
            assert!(SipUri::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(unescape("%"), "%");
        assert_eq!(unescape("a%2"), "a%2");
    }
}
