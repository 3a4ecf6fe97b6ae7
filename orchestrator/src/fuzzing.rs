//! Fuzz entry points: one function per parser of input someone else controls that the
//! orchestrator owns (the SIP, SDP, RTP and WAV parsers are the telephony crate's, fuzzed
//! there: `switchboard_telephony::fuzzing`).
//!
//! Each takes arbitrary bytes, runs the parser the way the server does and what consumes its
//! result, and checks the cheap properties: a refused input is a 4xx with a message (never a
//! 500), an accepted configuration entity that validates is stored and read back unchanged
//! (JSON in the database, YAML in exports). A panic, including a failed property, is a bug.
//! `orchestrator/tests/fuzz.rs` drives them with [`Mutator`] from real inputs, a bounded,
//! seeded run inside `cargo test`.

use crate::api::error::ApiError;
use crate::configfile::ConfigFile;
use crate::error::Error;
use crate::model::{self, ConfigKind, Problems};
use crate::store::{calls, commerce, users};
use axum::http::{header, HeaderMap, HeaderValue};
use serde::de::DeserializeOwned;
use serde::Serialize;
use switchboard_telephony::fuzzing::XorShift;

/// A request body, as [`crate::api`]'s `JsonBody` reads it, for every kind of body the API
/// takes: configuration entities (then validated; a valid one survives the database's JSON
/// and the export's YAML unchanged), customers, orders (and their totals), tickets, users,
/// tokens, account settings, logins, notes to the AI.
pub fn json_body(data: &[u8]) {
    macro_rules! kind {
        ($t:ty) => {
            config_entity::<$t>(data);
        };
    }
    crate::for_each_config_kind!(kind);
    if let Some(c) = request::<commerce::CustomerInput>(data) {
        let _ = c.validate();
    }
    if let Some(o) = request::<commerce::OrderInput>(data) {
        if o.validate().is_ok() {
            let _ = o.subtotal();
        }
    }
    if let Some(t) = request::<commerce::TicketInput>(data) {
        let _ = t.validate();
    }
    if let Some(u) = request::<users::UserInput>(data) {
        let _ = (u.validate(true), u.validate(false));
    }
    let _ = request::<users::TokenInput>(data);
    if let Some(s) = request::<model::AccountSettings>(data) {
        s.validate(&mut Problems::new());
    }
    let _ = request::<crate::api::LoginRequest>(data);
    let _ = request::<crate::api::NoteRequest>(data);
}

/// Parses a body the API's way; a refusal must be a 4xx with a message.
fn request<T: DeserializeOwned>(data: &[u8]) -> Option<T> {
    match crate::api::parse_json::<T>(data) {
        Ok(value) => Some(value),
        Err(e) => {
            refused_well(&e);
            None
        }
    }
}

fn refused_well(e: &ApiError) {
    assert!(e.status.is_client_error(), "refused with {}: {}", e.status, e.body.error);
    assert!(!e.body.error.is_empty(), "refused with {} and no message", e.status);
    for p in &e.body.problems {
        assert!(!p.message.is_empty(), "a problem at {} without a message", p.path);
    }
}

/// An entity: validated like the API and import do; one that validates is written as the
/// database stores it and read back, and as an export writes it and read back, unchanged.
fn config_entity<K: ConfigKind>(data: &[u8]) {
    let Some(entity) = request::<K>(data) else { return };
    let mut problems = Problems::new();
    entity.validate(&mut problems);
    let _ = (entity.key(), entity.references());
    let mut shown = entity.clone();
    shown.redact();
    if !problems.is_empty() {
        return;
    }
    let stored = serde_json::to_string(&entity).expect("a valid entity serialises");
    let back: K = model::from_json(stored.as_bytes())
        .unwrap_or_else(|p| panic!("a stored {} does not read back: {p}\n{stored}", K::SINGULAR));
    assert_same(&back, &entity, "JSON", &stored);
    let yaml = serde_yaml::to_string(&entity).expect("a valid entity exports");
    let back: K = serde_yaml::from_str(&yaml)
        .unwrap_or_else(|e| panic!("an exported {} does not import: {e}\n{yaml}", K::SINGULAR));
    assert_same(&back, &entity, "YAML", &yaml);
}

fn assert_same<T: Serialize>(a: &T, b: &T, what: &str, text: &str) {
    let (a, b) = (serde_json::to_value(a).ok(), serde_json::to_value(b).ok());
    assert_eq!(a, b, "changed by a round trip through {what}:\n{text}");
}

/// A query string, as `QueryParams` reads it, for every list endpoint's filters.
pub fn query(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    fn parse<T: DeserializeOwned>(q: &str) {
        if let Err(e) = crate::api::parse_query::<T>(q) {
            refused_well(&e);
        }
    }
    parse::<commerce::CustomerQuery>(&text);
    parse::<commerce::OrderQuery>(&text);
    parse::<commerce::TicketQuery>(&text);
    parse::<calls::CallQuery>(&text);
}

/// A config-as-code document (`switchboard import`): parsed (bounded nesting and alias
/// expansion), every problem found; a document that parses is exported and imported back
/// unchanged.
pub fn config_yaml(data: &[u8]) {
    // The command reads the file as UTF-8 text and refuses anything else before parsing.
    let Ok(text) = std::str::from_utf8(data) else { return };
    let file = match ConfigFile::from_yaml(text) {
        Ok(file) => file,
        Err(Error::Invalid(problems)) => {
            assert!(!problems.is_empty(), "refused without a problem");
            return;
        }
        Err(other) => panic!("a document refused with {other:?}"),
    };
    let problems = file.problems();
    let yaml = file.to_yaml().expect("a parsed document exports");
    let back = ConfigFile::from_yaml(&yaml)
        .unwrap_or_else(|e| panic!("an exported document does not import: {e:?}\n{yaml}"));
    if problems.is_empty() {
        assert_same(&back, &file, "YAML", &yaml);
    }
}

/// An `Authorization` header value: a bearer token or nothing, and the token is the trimmed,
/// non-empty text after the scheme.
pub fn authorization_header(data: &[u8]) {
    // What HTTP can carry in a header at all (the server refuses the rest before us).
    let Ok(value) = HeaderValue::from_bytes(data) else { return };
    if let Some(token) = crate::api::bearer_token(&value) {
        assert!(!token.is_empty() && token.trim() == token, "token {token:?}");
        let text = value.to_str().expect("a token came from visible ASCII");
        assert!(text.ends_with(token) || text.trim_end().ends_with(token), "token {token:?} of {text:?}");
    }
}

/// A desk phone's provisioning request: the file it asks for (the first line) and its
/// `Authorization` header (the second). A file names a MAC only as twelve hex digits in one of
/// the two formats; a phone is let in only with that MAC as its user and the exact password.
pub fn provisioning_request(data: &[u8]) {
    let mut lines = data.splitn(2, |b| *b == b'\n');
    let file = String::from_utf8_lossy(lines.next().unwrap_or_default());
    if let Some((mac, vendor)) = crate::api::provision::requested(&file) {
        assert!(
            mac.len() == 12 && mac.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
            "{mac:?}"
        );
        let asked = match vendor {
            model::PhoneVendor::Yealink => format!("{mac}.cfg"),
            model::PhoneVendor::Grandstream => format!("cfg{mac}.xml"),
        };
        assert_eq!(asked, file.to_lowercase(), "the file names the MAC as given");
    }
    let mut headers = HeaderMap::new();
    if let Some(value) = lines.next().and_then(|v| HeaderValue::from_bytes(v).ok()) {
        headers.insert(header::AUTHORIZATION, value);
    }
    const MAC: &str = "805ec0123456";
    for password in ["s3cret-pass", ""] {
        if crate::api::provision::authenticated(&headers, MAC, password) {
            let value = headers[header::AUTHORIZATION].to_str().expect("credentials came from ASCII");
            let encoded = value.get(6..).unwrap_or_default().trim();
            use base64::Engine as _;
            let decoded = base64::engine::general_purpose::STANDARD.decode(encoded).expect("valid base64");
            let text = String::from_utf8(decoded).expect("UTF-8");
            let (user, pass) = text.split_once(':').expect("user:password");
            assert_eq!((model::deskphone::normalize_mac(user).as_deref(), pass), (Some(MAC), password));
        }
    }
}

/// `Cookie` headers (one per line of the input): the session token, if any, is a non-empty
/// `sb_session` value without a separator, as sent.
pub fn cookie_header(data: &[u8]) {
    let mut headers = HeaderMap::new();
    for line in data.split(|b| *b == b'\n') {
        if let Ok(value) = HeaderValue::from_bytes(line) {
            headers.append(header::COOKIE, value);
        }
    }
    if let Some(token) = crate::api::cookie_token(&headers) {
        assert!(!token.is_empty() && !token.contains(';'), "token {token:?}");
        let sent = headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok());
        let cookie = format!("{}={token}", crate::api::SESSION_COOKIE);
        assert!(sent.into_iter().any(|v| v.contains(&cookie)), "token {token:?} was not sent");
    }
}

/// A `Range` header on a recording's audio (a browser's player seeking), against files of a
/// few lengths: a range given back lies inside the file and reads forwards.
pub fn range_header(data: &[u8]) {
    let mut headers = HeaderMap::new();
    for line in data.split(|b| *b == b'\n') {
        if let Ok(value) = HeaderValue::from_bytes(line) {
            headers.append(header::RANGE, value);
        }
    }
    for len in [0, 1, 44, 1_000_000, u64::MAX] {
        if let Some(Ok((from, to))) = crate::api::byte_range(&headers, len) {
            assert!(from <= to && to < len, "range {from}-{to} of {len} bytes");
        }
    }
}

/// A message from a browser on the live view's WebSocket feed (a text frame): a command, or
/// the error the feed sends back.
pub fn live_command(data: &[u8]) {
    // Text frames are UTF-8 (the WebSocket layer closes the connection otherwise).
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(e) = crate::api::parse_command(text) {
        assert!(!e.is_empty());
    }
}

/// Text someone else wrote that calls act on: what the recogniser heard a caller say, a
/// model's reply on its way to the voice, a merchant's reply template. Every reader of it
/// returns; the sentence chunker gives the same sentences however the reply is streamed.
pub fn spoken_text(data: &[u8]) {
    // A turn's transcript or a reply's sentence is far shorter; longer inputs only make the
    // run slower (what is quadratic in the length is bounded where it runs).
    let data = data.get(..MAX_SPOKEN).unwrap_or(data);
    let text = String::from_utf8_lossy(data);
    let heard = switchboard_models::whisper::without_repeats(&text);
    for t in [text.as_ref(), heard.as_str()] {
        let _ = (crate::live::sounds_negative(t), crate::live::asks_for_human(t));
        let _ = (crate::agent::guided::order_number(t), crate::agent::guided::email(t));
        let _ = (switchboard_speech::spoken::amount_cents(t), switchboard_speech::spoken::month_day(t));
        // A number read back is digits only, whatever was heard.
        if let Some(n) = crate::agent::guided::order_number(t) {
            assert!(n.bytes().all(|b| b.is_ascii_digit()) && (3..=12).contains(&n.len()), "{n:?}");
        }
        let _ =
            (switchboard_speech::turn::sounds_complete(t), switchboard_speech::turn::sounds_unfinished(t));
        let _ = switchboard_speech::bargein::BargeInConfig::default().is_backchannel(t);
    }
    let values =
        serde_json::json!({"number": text, "status": "shipped_€", "total": 12, "tracking_end": null});
    let _ = crate::agent::guided::fill(&text, &values);
    let _ = switchboard_speech::text::for_phone(&text);
    // A reply streamed in pieces (cut at character boundaries chosen by the bytes) chunks the
    // same as the whole reply.
    let whole = chunks(&[text.as_ref()]);
    let mut rng = XorShift::from_bytes(data);
    let mut pieces = Vec::new();
    let mut rest = text.as_ref();
    while !rest.is_empty() {
        let n = 1 + rng.below(12) as usize;
        let cut = rest.char_indices().nth(n).map_or(rest.len(), |(i, _)| i);
        let (piece, after) = rest.split_at(cut);
        pieces.push(piece);
        rest = after;
    }
    assert_eq!(chunks(&pieces), whole, "a streamed reply chunks differently from the whole");
}

const MAX_SPOKEN: usize = 4096;

fn chunks(pieces: &[&str]) -> Vec<String> {
    let mut c = switchboard_speech::text::SentenceChunker::clause_first();
    let mut out: Vec<String> = pieces.iter().flat_map(|p| c.push(p)).collect();
    out.extend(c.finish());
    for s in &out {
        let _ = switchboard_speech::text::for_phone(s);
    }
    out
}

/// A structure-aware, deterministic mutator for the orchestrator's text inputs (JSON bodies,
/// YAML documents, headers, query strings, transcripts). Like the telephony crate's it puts
/// multi-byte characters anywhere and makes numbers huge or negative; it also changes JSON
/// values' types, adds unknown fields, nests deeply, and adds YAML anchors, aliases, tags and
/// duplicate keys.
pub struct Mutator {
    pub rng: XorShift,
}

/// Characters of 2, 3 and 4 bytes, two that are whitespace to `char::is_whitespace`, and NUL.
pub const MULTIBYTE: [&str; 6] = ["é", "€", "𝄞", "\u{a0}", "\u{2028}", "\0"];

const TOKENS: [&str; 40] = [
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "\"",
    "\\",
    "\\u0000",
    "\\ud800",
    "null",
    "true",
    "false",
    "-",
    "?",
    "&a ",
    "*a",
    "!!binary ",
    "!tag ",
    "<<: ",
    "--- ",
    "...",
    "|\n",
    ">\n",
    "\n  ",
    "\t",
    "#",
    "'",
    "%",
    "=",
    "&",
    ";",
    " ",
    "Bearer ",
    "sb_session=",
    "\r\n",
    ".",
    "!",
    "@",
    "\u{feff}",
];

const NUMBERS: [&str; 16] = [
    "0",
    "-1",
    "-0",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
    "1e999",
    "-1e999",
    "0.5",
    "1e-999",
    ".nan",
    ".inf",
    "0x10",
];

impl Mutator {
    pub fn new(seed: u64) -> Self {
        Mutator { rng: XorShift::new(seed) }
    }

    fn below(&mut self, n: usize) -> usize {
        self.rng.below(n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// One to four mutations of text; JSON is mutated as a tree half the time.
    pub fn text(&mut self, seed: &[u8]) -> Vec<u8> {
        let mut m = seed.to_vec();
        for _ in 0..1 + self.below(4) {
            if self.below(2) == 0 {
                if let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&m) {
                    self.tree(&mut v);
                    m = v.to_string().into_bytes();
                    continue;
                }
            }
            self.bytes(&mut m);
        }
        m
    }

    fn bytes(&mut self, m: &mut Vec<u8>) {
        let at = self.below(m.len() + 1);
        match self.below(12) {
            0 | 1 => insert(m, at, self.pick(&MULTIBYTE).as_bytes()),
            2 | 3 => insert(m, at, self.pick(&TOKENS).as_bytes()),
            4 => {
                let t = self.pick(&TOKENS).as_bytes();
                let end = (at + 1 + self.below(3)).min(m.len());
                m.splice(at.min(end)..end, t.iter().copied());
            }
            5 | 6 => {
                // A run of digits becomes an edge number (or one is put in).
                let runs = digit_runs(m);
                let n = self.pick(&NUMBERS).as_bytes();
                match runs.is_empty() {
                    true => insert(m, at, n),
                    false => {
                        let (s, e) = *self.pick(&runs);
                        m.splice(s..e, n.iter().copied());
                    }
                }
            }
            7 => {
                // Deep nesting: brackets, or YAML's indented mappings and flow sequences.
                let depth = [64, 129, 1000, 3000][self.below(4)];
                let (open, close): (&[u8], &[u8]) = match self.below(3) {
                    0 => (b"[", b"]"),
                    1 => (b"{\"a\":", b"}"),
                    _ => (b"- ", b""),
                };
                let mut nested = open.repeat(depth);
                nested.extend_from_slice(&close.repeat(depth));
                insert(m, at, &nested);
            }
            8 => {
                // A line duplicated (duplicate keys in YAML) or removed.
                let mut lines: Vec<Vec<u8>> = m.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
                let i = self.below(lines.len());
                if self.below(2) == 0 {
                    let copy = lines[i].clone();
                    lines.insert(i, copy);
                } else if lines.len() > 1 {
                    lines.remove(i);
                }
                *m = lines.join(&b'\n');
            }
            9 => m.truncate(at),
            10 => {
                if let Some(b) = m.get_mut(at) {
                    *b ^= 1 << self.below(8);
                }
            }
            _ => {
                if let Some(b) = m.get_mut(at) {
                    *b = self.rng.next_u64() as u8;
                }
            }
        }
    }

    /// Changes one node of a JSON document: a value of another type or an edge value, an
    /// unknown field, a field removed, an array element repeated.
    fn tree(&mut self, v: &mut serde_json::Value) {
        use serde_json::{json, Value};
        // Walk down to a random node (its JSON pointer).
        let mut pointer = String::new();
        let mut at: &Value = v;
        for _ in 0..self.below(6) {
            let step = match at {
                Value::Object(m) if !m.is_empty() => {
                    let k = m.keys().nth(self.below(m.len())).cloned().unwrap_or_default();
                    m.get(&k).map(|n| (k.replace('~', "~0").replace('/', "~1"), n))
                }
                Value::Array(a) if !a.is_empty() => {
                    let i = self.below(a.len());
                    a.get(i).map(|n| (i.to_string(), n))
                }
                _ => None,
            };
            let Some((part, next)) = step else { break };
            pointer.push('/');
            pointer.push_str(&part);
            at = next;
        }
        let Some(node) = v.pointer_mut(&pointer) else { return };
        let replacements = [
            json!(null),
            json!(true),
            json!(""),
            json!(-1),
            json!(i64::MIN),
            json!(u64::MAX),
            json!(1.5),
            json!(1e300),
            json!([]),
            json!({}),
            json!("é€𝄞\u{0}"),
            json!("x".repeat(10_000)),
        ];
        match (self.below(4), &mut *node) {
            (0, Value::Object(m)) => {
                m.insert("unknown_field".into(), json!(1));
            }
            (1, Value::Object(m)) if !m.is_empty() => {
                let k = m.keys().nth(self.below(m.len())).cloned();
                if let Some(k) = k {
                    m.remove(&k);
                }
            }
            (1, Value::Array(a)) if !a.is_empty() => {
                let copy = a[self.below(a.len())].clone();
                for _ in 0..1 + self.below(100) {
                    a.push(copy.clone());
                }
            }
            (2, Value::String(s)) => {
                let at = s.char_indices().nth(self.below(s.chars().count() + 1)).map_or(s.len(), |(i, _)| i);
                let c = *self.pick(&MULTIBYTE);
                s.insert_str(at, c);
            }
            _ => *node = self.pick(&replacements).clone(),
        }
    }
}

fn insert(m: &mut Vec<u8>, at: usize, bytes: &[u8]) {
    let at = at.min(m.len());
    m.splice(at..at, bytes.iter().copied());
}

fn digit_runs(m: &[u8]) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut start = None;
    for (i, b) in m.iter().chain(std::iter::once(&b' ')).enumerate() {
        match (b.is_ascii_digit(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                runs.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    runs
}
