//! SIP messages: requests, responses and their headers, with serialisation.

use std::fmt;

/// A SIP method. Unknown methods are kept by name (`Other`) so they can be answered 405/501.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    Invite,
    Ack,
    Bye,
    Cancel,
    Register,
    Options,
    Info,
    Update,
    Prack,
    Subscribe,
    Notify,
    Refer,
    Message,
    Publish,
    Other(String),
}

impl Method {
    pub fn as_str(&self) -> &str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Register => "REGISTER",
            Method::Options => "OPTIONS",
            Method::Info => "INFO",
            Method::Update => "UPDATE",
            Method::Prack => "PRACK",
            Method::Subscribe => "SUBSCRIBE",
            Method::Notify => "NOTIFY",
            Method::Refer => "REFER",
            Method::Message => "MESSAGE",
            Method::Publish => "PUBLISH",
            Method::Other(s) => s,
        }
    }

    /// Methods are case-sensitive tokens (RFC 3261 §7.1).
    pub fn from_token(s: &str) -> Method {
        match s {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "REGISTER" => Method::Register,
            "OPTIONS" => Method::Options,
            "INFO" => Method::Info,
            "UPDATE" => Method::Update,
            "PRACK" => Method::Prack,
            "SUBSCRIBE" => Method::Subscribe,
            "NOTIFY" => Method::Notify,
            "REFER" => Method::Refer,
            "MESSAGE" => Method::Message,
            "PUBLISH" => Method::Publish,
            other => Method::Other(other.to_string()),
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Header fields in order. Names are stored in their long canonical form for the headers we
/// know (compact forms such as `v` and `i` are expanded) and compared case-insensitively.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    entries: Vec<(String, String)>,
}

/// Expands compact header names and gives known headers their usual spelling.
pub fn canonical_name(name: &str) -> String {
    const KNOWN: &[&str] = &[
        "Via",
        "From",
        "To",
        "Call-ID",
        "CSeq",
        "Contact",
        "Max-Forwards",
        "Content-Length",
        "Content-Type",
        "Expires",
        "Route",
        "Record-Route",
        "Authorization",
        "WWW-Authenticate",
        "Proxy-Authorization",
        "Proxy-Authenticate",
        "User-Agent",
        "Server",
        "Allow",
        "Supported",
        "Require",
        "Proxy-Require",
        "Unsupported",
        "Min-Expires",
        "Retry-After",
        "Event",
        "Subject",
        "Content-Encoding",
        "Accept",
        "Date",
        "Timestamp",
        "Warning",
        "Reason",
    ];
    let long = match name.to_ascii_lowercase().as_str() {
        "v" => "Via",
        "f" => "From",
        "t" => "To",
        "i" => "Call-ID",
        "m" => "Contact",
        "l" => "Content-Length",
        "c" => "Content-Type",
        "e" => "Content-Encoding",
        "s" => "Subject",
        "k" => "Supported",
        "o" => "Event",
        _ => {
            return KNOWN
                .iter()
                .find(|k| k.eq_ignore_ascii_case(name))
                .map_or_else(|| name.to_string(), |k| k.to_string())
        }
    };
    long.to_string()
}

impl Headers {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a header (name canonicalised).
    pub fn push(&mut self, name: &str, value: impl Into<String>) {
        self.entries.push((canonical_name(name), value.into()));
    }

    /// Inserts a header before all others (e.g. a new top Via).
    pub fn push_front(&mut self, name: &str, value: impl Into<String>) {
        self.entries.insert(0, (canonical_name(name), value.into()));
    }

    /// The first value of a header.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Every value of a header, each header line split at top-level commas.
    pub fn get_all(&self, name: &str) -> Vec<&str> {
        self.entries
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| split_list(v))
            .collect()
    }

    /// Header lines with this name, unsplit.
    pub fn lines(&self, name: &str) -> impl Iterator<Item = &str> {
        let name = name.to_string();
        self.entries.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(&name)).map(|(_, v)| v.as_str())
    }

    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.remove(name);
        self.push(name, value);
    }

    pub fn remove(&mut self, name: &str) {
        self.entries.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// Removes the first value of a (possibly comma-joined) header, e.g. our own top Via.
    pub fn remove_first(&mut self, name: &str) {
        if let Some(i) = self.entries.iter().position(|(n, _)| n.eq_ignore_ascii_case(name)) {
            let rest: Vec<String> =
                split_list(&self.entries[i].1).into_iter().skip(1).map(str::to_string).collect();
            if rest.is_empty() {
                self.entries.remove(i);
            } else {
                self.entries[i].1 = rest.join(", ");
            }
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Splits a header value at commas that are outside quotes and angle brackets.
pub fn split_list(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut quoted, mut escaped, mut start) = (0i32, false, false, 0);
    for (i, c) in value.char_indices() {
        if quoted {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => quoted = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            '<' => depth += 1,
            '>' => depth -= 1,
            ',' if depth <= 0 => {
                // `start` and `i` come from `char_indices`: always character boundaries.
                let part = value.get(start..i).unwrap_or_default().trim();
                if !part.is_empty() {
                    out.push(part);
                }
                start = i + 1;
            }
            _ => {}
        }
    }
    let part = value.get(start..).unwrap_or_default().trim();
    if !part.is_empty() {
        out.push(part);
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    /// The Request-URI as sent.
    pub uri: String,
    pub headers: Headers,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Headers,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Request(Request),
    Response(Response),
}

impl Message {
    /// Wire form (see `Request::to_bytes`, `Response::to_bytes`).
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Message::Request(r) => r.to_bytes(),
            Message::Response(r) => r.to_bytes(),
        }
    }

    pub fn headers(&self) -> &Headers {
        match self {
            Message::Request(r) => &r.headers,
            Message::Response(r) => &r.headers,
        }
    }
}

fn write_headers(out: &mut Vec<u8>, headers: &Headers, body: &[u8]) {
    for (n, v) in headers.iter() {
        if n.eq_ignore_ascii_case("Content-Length") {
            continue;
        }
        out.extend_from_slice(n.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
}

impl Request {
    pub fn new(method: Method, uri: impl Into<String>) -> Self {
        Request { method, uri: uri.into(), headers: Headers::new(), body: Vec::new() }
    }

    /// Wire form; Content-Length always matches the body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{} {} SIP/2.0\r\n", self.method, self.uri).into_bytes();
        write_headers(&mut out, &self.headers, &self.body);
        out
    }
}

impl Response {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("SIP/2.0 {} {}\r\n", self.status, self.reason).into_bytes();
        write_headers(&mut out, &self.headers, &self.body);
        out
    }

    /// A response to `req` with the headers RFC 3261 §8.2.6 copies (Via, From, To, Call-ID,
    /// CSeq). `to_tag` is added to To when it has none.
    pub fn for_request(req: &Request, status: u16, to_tag: Option<&str>) -> Response {
        let mut headers = Headers::new();
        for v in req.headers.lines("Via") {
            headers.push("Via", v);
        }
        for name in ["From", "To", "Call-ID", "CSeq"] {
            if let Some(v) = req.headers.get(name) {
                let mut v = v.to_string();
                if name == "To" && status > 100 {
                    if let Some(tag) = to_tag {
                        if !crate::sip::header::has_param(&v, "tag") {
                            v = format!("{v};tag={tag}");
                        }
                    }
                }
                headers.push(name, v);
            }
        }
        Response { status, reason: reason_phrase(status).to_string(), headers, body: Vec::new() }
    }
}

/// The usual reason phrase of a status code.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        413 => "Request Entity Too Large",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        423 => "Interval Too Brief",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_split_outside_quotes_and_brackets() {
        let v = r#""Doe, John" <sip:j@x;a=1,2>;tag=1, <sip:k@y>"#;
        assert_eq!(split_list(v), vec![r#""Doe, John" <sip:j@x;a=1,2>;tag=1"#, "<sip:k@y>"]);
        assert_eq!(split_list(" , a ,, b"), vec!["a", "b"]);
    }

    #[test]
    fn compact_names_expand() {
        let mut h = Headers::new();
        h.push("v", "SIP/2.0/UDP a");
        h.push("VIA", "SIP/2.0/UDP b, SIP/2.0/UDP c");
        h.push("i", "abc");
        assert_eq!(h.get_all("via"), vec!["SIP/2.0/UDP a", "SIP/2.0/UDP b", "SIP/2.0/UDP c"]);
        assert_eq!(h.get("Call-ID"), Some("abc"));
        h.remove_first("Via");
        assert_eq!(h.get_all("Via").len(), 2);
    }
}
