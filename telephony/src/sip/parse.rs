//! Parsing SIP messages from datagrams and streams (RFC 3261 §7), defensively: every input
//! either parses or yields a [`ParseError`]; nothing panics and nothing grows without bound.

use super::message::{Headers, Message, Method, Request, Response};
use crate::text::{excerpt, starts_with_ignore_ascii_case};

/// Largest message accepted (datagram or stream).
pub const MAX_MESSAGE: usize = 65_535;
/// Most header lines accepted.
pub const MAX_HEADERS: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A stream does not yet hold a whole message.
    #[error("incomplete message")]
    Incomplete,
    /// Only CRLFs: a keep-alive, not a message.
    #[error("keep-alive")]
    KeepAlive,
    #[error("message too large")]
    TooLarge,
    #[error("bad start line: {0}")]
    StartLine(String),
    #[error("unsupported SIP version {0}")]
    Version(String),
    #[error("bad header: {0}")]
    Header(String),
    #[error("bad Content-Length")]
    ContentLength,
    /// Content-Length claims more bytes than the datagram holds.
    #[error("body shorter than Content-Length")]
    Truncated,
}

fn is_token_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&c)
}

/// Splits off one line ending in CRLF (or a bare LF). Returns (line, rest).
fn take_line(buf: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = buf.iter().position(|&b| b == b'\n')?;
    let line = if i > 0 && buf[i - 1] == b'\r' { &buf[..i - 1] } else { &buf[..i] };
    Some((line, &buf[i + 1..]))
}

/// Where the header section ends: the index just past the empty line, if present.
fn header_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < buf.len() {
        let nl = buf[i..].iter().position(|&b| b == b'\n')? + i;
        let line = &buf[i..nl];
        if line.is_empty() || line == b"\r" {
            return Some(nl + 1);
        }
        i = nl + 1;
    }
    None
}

fn skip_keepalive(buf: &[u8]) -> usize {
    buf.iter().take_while(|&&b| b == b'\r' || b == b'\n').count()
}

/// Parses one whole datagram (UDP, or a WebSocket message).
pub fn parse_datagram(buf: &[u8]) -> Result<Message, ParseError> {
    if buf.len() > MAX_MESSAGE {
        return Err(ParseError::TooLarge);
    }
    let start = skip_keepalive(buf);
    if start == buf.len() {
        return Err(ParseError::KeepAlive);
    }
    let buf = &buf[start..];
    let end = header_end(buf).ok_or_else(|| ParseError::Header("no empty line after the headers".into()))?;
    let (start_line, headers) = parse_head(&buf[..end])?;
    let rest = &buf[end..];
    let body = match content_length(&headers)? {
        // Without Content-Length, a datagram's body is the rest of it (RFC 3261 §18.3).
        None => rest.to_vec(),
        Some(n) if n > rest.len() => return Err(ParseError::Truncated),
        // Bytes beyond Content-Length are discarded.
        Some(n) => rest[..n].to_vec(),
    };
    Ok(build(start_line, headers, body))
}

/// Parses the first message of a stream buffer (TCP, TLS). Returns the message and how many
/// bytes it used, `Incomplete` when more bytes are needed, or `KeepAlive` with the bytes to
/// drop when the buffer starts with CRLFs.
pub fn parse_stream(buf: &[u8]) -> Result<(Message, usize), (ParseError, usize)> {
    let start = skip_keepalive(buf);
    if start > 0 {
        return Err((ParseError::KeepAlive, start));
    }
    let Some(end) = header_end(buf) else {
        return Err((if buf.len() > MAX_MESSAGE { ParseError::TooLarge } else { ParseError::Incomplete }, 0));
    };
    let (start_line, headers) = parse_head(&buf[..end]).map_err(|e| (e, 0))?;
    // On a stream, Content-Length is mandatory (RFC 3261 §18.3).
    let len = content_length(&headers).map_err(|e| (e, 0))?.ok_or((ParseError::ContentLength, 0))?;
    if end + len > MAX_MESSAGE {
        return Err((ParseError::TooLarge, 0));
    }
    if buf.len() < end + len {
        return Err((ParseError::Incomplete, 0));
    }
    Ok((build(start_line, headers, buf[end..end + len].to_vec()), end + len))
}

enum StartLine {
    Request(Method, String),
    Response(u16, String),
}

fn build(start: StartLine, headers: Headers, body: Vec<u8>) -> Message {
    match start {
        StartLine::Request(method, uri) => Message::Request(Request { method, uri, headers, body }),
        StartLine::Response(status, reason) => Message::Response(Response { status, reason, headers, body }),
    }
}

fn content_length(headers: &Headers) -> Result<Option<usize>, ParseError> {
    match headers.get("Content-Length") {
        None => Ok(None),
        Some(v) => {
            let v = v.trim();
            if v.is_empty() || v.len() > 9 || !v.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ParseError::ContentLength);
            }
            v.parse().map(Some).map_err(|_| ParseError::ContentLength)
        }
    }
}

fn check_version(v: &str) -> Result<(), ParseError> {
    if v.eq_ignore_ascii_case("SIP/2.0") {
        Ok(())
    } else if v.len() > 4 && starts_with_ignore_ascii_case(v, "SIP/") {
        Err(ParseError::Version(excerpt(v, 40)))
    } else {
        Err(ParseError::StartLine(format!("expected SIP/2.0, got '{}'", excerpt(v, 40))))
    }
}

fn parse_start_line(line: &str) -> Result<StartLine, ParseError> {
    if starts_with_ignore_ascii_case(line, "SIP/") {
        // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
        let mut parts = line.splitn(3, ' ');
        let version = parts.next().unwrap_or_default();
        check_version(version)?;
        let code = parts.next().unwrap_or_default();
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::StartLine(format!("bad status code '{}'", excerpt(code, 40))));
        }
        let status: u16 = code.parse().map_err(|_| ParseError::StartLine(excerpt(code, 40)))?;
        if !(100..=699).contains(&status) {
            return Err(ParseError::StartLine(format!("status code {status} out of range")));
        }
        return Ok(StartLine::Response(status, parts.next().unwrap_or_default().to_string()));
    }
    // Request-Line = Method SP Request-URI SP SIP-Version (single spaces, RFC 3261 §7.1).
    let parts: Vec<&str> = line.split(' ').collect();
    if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) {
        return Err(ParseError::StartLine("a request line is METHOD SP URI SP SIP/2.0".into()));
    }
    if !parts[0].bytes().all(is_token_char) {
        return Err(ParseError::StartLine(format!("bad method '{}'", excerpt(parts[0], 40))));
    }
    let uri = parts[1];
    if !uri.contains(':') || uri.bytes().any(|b| b.is_ascii_control()) || uri.starts_with('<') {
        return Err(ParseError::StartLine(format!("bad Request-URI '{}'", excerpt(uri, 40))));
    }
    check_version(parts[2])?;
    Ok(StartLine::Request(Method::from_token(parts[0]), uri.to_string()))
}

fn parse_head(head: &[u8]) -> Result<(StartLine, Headers), ParseError> {
    let (first, mut rest) = take_line(head).ok_or(ParseError::Incomplete)?;
    let first = std::str::from_utf8(first).map_err(|_| ParseError::StartLine("not UTF-8".into()))?;
    let start = parse_start_line(first)?;
    let mut headers = Headers::new();
    let mut current: Option<(String, String)> = None;
    let mut count = 0;
    while let Some((line, next)) = take_line(rest) {
        rest = next;
        if line.is_empty() {
            break;
        }
        let line = String::from_utf8_lossy(line);
        if line.starts_with(' ') || line.starts_with('\t') {
            // Folded continuation of the previous header (LWS): one space joins the parts, so
            // the value reads (and is written again) exactly as an unfolded line would.
            match &mut current {
                Some((_, v)) => {
                    let more = line.trim();
                    if !more.is_empty() {
                        if !v.is_empty() {
                            v.push(' ');
                        }
                        v.push_str(more);
                    }
                }
                None => return Err(ParseError::Header("continuation line before any header".into())),
            }
            continue;
        }
        if let Some((n, v)) = current.take() {
            headers.push(&n, v);
        }
        count += 1;
        if count > MAX_HEADERS {
            return Err(ParseError::Header("too many headers".into()));
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| ParseError::Header(format!("no colon in '{}'", excerpt(&line, 40))))?;
        let name = name.trim_end_matches([' ', '\t']);
        if name.is_empty() || !name.bytes().all(is_token_char) {
            return Err(ParseError::Header(format!("bad header name '{}'", excerpt(name, 40))));
        }
        current = Some((name.to_string(), value.trim().to_string()));
    }
    if let Some((n, v)) = current.take() {
        headers.push(&n, v);
    }
    Ok((start, headers))
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &str = "INVITE sip:bob@example.com SIP/2.0\r\n\
        Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds\r\n\
        Max-Forwards: 70\r\n\
        To: Bob <sip:bob@example.com>\r\n\
        From: Alice <sip:alice@example.com>;tag=1928301774\r\n\
        Call-ID: a84b4c76e66710@pc33.example.com\r\n\
        CSeq: 314159 INVITE\r\n\
        Contact: <sip:alice@pc33.example.com>\r\n\
        Content-Type: application/sdp\r\n\
        Content-Length: 4\r\n\r\nv=0\n";

    #[test]
    fn parses_a_request_and_round_trips() {
        let Message::Request(r) = parse_datagram(INVITE.as_bytes()).unwrap() else { panic!() };
        assert_eq!(r.method, Method::Invite);
        assert_eq!(r.uri, "sip:bob@example.com");
        assert_eq!(r.headers.get("call-id"), Some("a84b4c76e66710@pc33.example.com"));
        assert_eq!(r.body, b"v=0\n");
        let again = parse_datagram(&r.to_bytes()).unwrap();
        assert_eq!(again, Message::Request(r));
    }

    #[test]
    fn parses_responses_with_any_reason() {
        let msg =
            b"SIP/2.0 180 \xc3\x89a sonne\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nContent-Length: 0\r\n\r\n";
        let Message::Response(r) = parse_datagram(msg).unwrap() else { panic!() };
        assert_eq!((r.status, r.reason.as_str()), (180, "Éa sonne"));
        let Message::Response(r) = parse_datagram(b"SIP/2.0 200 \r\nContent-Length: 0\r\n\r\n").unwrap()
        else {
            panic!()
        };
        assert_eq!(r.status, 200);
    }

    #[test]
    fn folding_compact_forms_and_extra_bytes() {
        let msg =
            "OPTIONS sip:x@y SIP/2.0\r\nv: SIP/2.0/UDP a\r\n ;branch=z9hG4bKx\r\ni: abc\r\nl: 2\r\n\r\nhello";
        let Message::Request(r) = parse_datagram(msg.as_bytes()).unwrap() else { panic!() };
        assert_eq!(r.headers.get("Via"), Some("SIP/2.0/UDP a ;branch=z9hG4bKx"));
        assert_eq!(r.body, b"he");
    }

    #[test]
    fn rejects_what_it_must() {
        let bad = |s: &[u8]| parse_datagram(s).unwrap_err();
        assert_eq!(bad(b"\r\n\r\n"), ParseError::KeepAlive);
        assert!(matches!(bad(b"INVITE sip:x SIP/7.0\r\n\r\n"), ParseError::Version(_)));
        assert!(matches!(bad(b"INVITE  sip:x SIP/2.0\r\n\r\n"), ParseError::StartLine(_)));
        assert!(matches!(bad(b"SIP/2.0 99 Weird\r\n\r\n"), ParseError::StartLine(_)));
        assert!(matches!(bad(b"INVITE sip:x SIP/2.0\r\nNoColon\r\n\r\n"), ParseError::Header(_)));
        assert_eq!(bad(b"INVITE sip:x SIP/2.0\r\nContent-Length: 50\r\n\r\nshort"), ParseError::Truncated);
        assert_eq!(bad(b"INVITE sip:x SIP/2.0\r\nContent-Length: -1\r\n\r\n"), ParseError::ContentLength);
        assert!(matches!(bad(b"INVITE sip:x SIP/2.0\r\nVia: a\r\n"), ParseError::Header(_)));
    }

    #[test]
    fn streams_frame_by_content_length() {
        let one = INVITE.as_bytes();
        let mut buf = b"\r\n\r\n".to_vec();
        buf.extend_from_slice(one);
        buf.extend_from_slice(&one[..20]);
        assert_eq!(parse_stream(&buf).unwrap_err(), (ParseError::KeepAlive, 4));
        let (msg, used) = parse_stream(&buf[4..]).unwrap();
        assert!(matches!(msg, Message::Request(_)));
        assert_eq!(used, one.len());
        assert_eq!(parse_stream(&buf[4 + used..]).unwrap_err().0, ParseError::Incomplete);
        let no_len = b"OPTIONS sip:x SIP/2.0\r\nVia: a\r\n\r\n";
        assert_eq!(parse_stream(no_len).unwrap_err().0, ParseError::ContentLength);
    }

    #[test]
    fn random_bytes_never_panic() {
        // A small deterministic generator: no dependency, reproducible failures.
        let mut x: u64 = 0x9E3779B97F4A7C15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let seed = INVITE.as_bytes();
        for _ in 0..20_000 {
            let mut m = seed.to_vec();
            for _ in 0..(next() % 8) {
                let i = (next() as usize) % m.len();
                match next() % 4 {
                    0 => m[i] = next() as u8,
                    1 => {
                        m.remove(i);
                    }
                    2 => m.insert(i, b"\r\n:;<>\"\0 "[(next() % 9) as usize]),
                    _ => m.truncate(i),
                }
                if m.is_empty() {
                    break;
                }
            }
            let _ = parse_datagram(&m);
            let _ = parse_stream(&m);
        }
    }
}
