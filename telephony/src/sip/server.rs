//! The SIP server core, sans-IO: parses what arrives, answers what it can (REGISTER through the
//! registrar, OPTIONS keep-alives), absorbs retransmissions by replaying the cached response
//! (RFC 3261 §17.2.2, Timer J), and rejects malformed or unsupported requests with the right
//! status. Bytes and the time come in; bytes to send, events and the next timeout come out.

use super::b2bua::{B2bua, CallEvent, CallId, Caller, RouteDecision};
use super::flood::{FloodConfig, FloodGuard, FloodStats, SourceClass, Verdict};
use super::header::{self, NameAddr, Via};
use super::message::{Message, Method, Request, Response};
use super::parse::{parse_datagram, ParseError};
use super::registrar::{self, Directory, Registrar, RegistrarConfig, RegistrarEvent};
use super::uplink::{UplinkState, Uplinks};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;

/// How long a non-INVITE server transaction absorbs retransmissions over UDP (Timer J = 64·T1).
pub const TIMER_J_MS: u64 = 32_000;
/// Most transactions remembered at once (oldest forgotten first).
const MAX_TRANSACTIONS: usize = 100_000;
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO, REFER";

/// Bytes to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub to: SocketAddr,
    pub transport: &'static str,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    Registrar(RegistrarEvent),
    Call(CallEvent),
    /// Something arrived that could not be used.
    Malformed {
        source: SocketAddr,
        reason: String,
    },
    /// A source sends more requests than it may: its requests are dropped for a cool-down.
    /// Reported once per sampling window while it lasts, with the drops since the last report.
    Flood {
        source: SocketAddr,
        dropped: u64,
    },
}

/// Messages that arrived and were not used, by cause (for monitoring).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dropped {
    /// Did not parse (a 400 or 505 was answered where possible).
    pub malformed: u64,
    /// From a source over its rate (see `flood`).
    pub flood: u64,
}

struct Cached {
    response: Vec<u8>,
    to: SocketAddr,
    expires_ms: u64,
}

pub struct SipServer {
    registrar: Registrar,
    b2bua: B2bua,
    uplinks: Uplinks,
    directory: Directory,
    transactions: HashMap<(String, String), Cached>,
    order: VecDeque<(String, String)>,
    out: VecDeque<Transmit>,
    events: VecDeque<ServerEvent>,
    server_name: String,
    flood: FloodGuard,
    dropped: Dropped,
    /// Taking no new calls (a node of a cluster being drained): OPTIONS and new INVITEs are
    /// answered 503, so that a dispatcher in front sends calls elsewhere; calls up go on.
    draining: bool,
}

fn is_request_like(buf: &[u8]) -> bool {
    let start = buf.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(buf.len());
    let word: Vec<u8> = buf[start..].iter().take_while(|b| b.is_ascii_uppercase()).copied().collect();
    !word.is_empty() && buf.get(start + word.len()) == Some(&b' ')
}

/// Collects the headers of a message that failed to parse, leniently, to answer 400.
fn salvage(buf: &[u8]) -> Option<Request> {
    let text = String::from_utf8_lossy(buf);
    let mut lines = text.split('\n');
    let first = lines.next()?.trim();
    let method = first.split(' ').next()?;
    let mut req = Request::new(Method::from_token(method), "sip:invalid");
    for line in lines {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            break;
        }
        if let Some((n, v)) = line.split_once(':') {
            let n = n.trim();
            if !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                req.headers.push(n, v.trim());
            }
        }
    }
    for h in ["Via", "From", "To", "Call-ID", "CSeq"] {
        req.headers.get(h)?;
    }
    Some(req)
}

impl SipServer {
    /// `local` is the address we are reached at (for Via and Contact).
    pub fn new(
        local: SocketAddr,
        config: RegistrarConfig,
        secret: impl Into<String>,
        server_name: impl Into<String>,
    ) -> Self {
        let secret = secret.into();
        let prefix: String = secret.chars().take(6).collect();
        SipServer {
            registrar: Registrar::new(config, secret),
            b2bua: B2bua::new(local, prefix.clone()),
            uplinks: Uplinks::new(local, prefix),
            directory: Directory::default(),
            transactions: HashMap::new(),
            order: VecDeque::new(),
            out: VecDeque::new(),
            events: VecDeque::new(),
            server_name: server_name.into(),
            flood: FloodGuard::new(FloodConfig::default()),
            dropped: Dropped::default(),
            draining: false,
        }
    }

    /// Stops (or resumes) taking new calls; see `draining`.
    pub fn set_draining(&mut self, draining: bool) {
        self.draining = draining;
    }

    /// Whether a request belongs to a dialog (its To has a tag).
    fn in_dialog(req: &Request) -> bool {
        req.headers.get("To").and_then(|v| NameAddr::parse(v).ok()).is_some_and(|t| t.tag().is_some())
    }

    /// Replaces the flood limits (see `flood::FloodConfig`).
    pub fn set_flood_limits(&mut self, config: FloodConfig) {
        self.flood = FloodGuard::new(config);
    }

    /// Messages dropped so far, by cause.
    pub fn dropped(&self) -> Dropped {
        self.dropped
    }

    /// Sources blocked and drops for flooding.
    pub fn flood_stats(&self, now_ms: u64) -> FloodStats {
        self.flood.stats(now_ms)
    }

    /// Who may register and which carriers we register with.
    pub fn set_directory(&mut self, now_ms: u64, directory: Directory) {
        self.uplinks.set(now_ms, directory.uplinks.clone());
        self.registrar.prune(&directory);
        self.directory = directory;
        self.drain_b2bua();
    }

    /// Registration state of each carrier trunk we register with.
    pub fn uplink_status(&self) -> Vec<(String, UplinkState)> {
        self.uplinks.status()
    }

    pub fn registrar(&self) -> &Registrar {
        &self.registrar
    }

    /// Replaces the devices registered through other nodes of a cluster (see
    /// `Registrar::set_remote`).
    /// Signs digest nonces with this secret instead of the process's own (a cluster's nodes
    /// share one, so that each accepts an answer to another's challenge).
    /// `epoch_ms` is the Unix time of `now_ms` 0.
    pub fn set_nonce_secret(&mut self, secret: impl Into<String>, epoch_ms: u64) {
        self.registrar.set_nonce_secret(secret, epoch_ms);
    }

    pub fn set_remote_bindings(&mut self, bindings: Vec<(i64, String, super::registrar::Binding)>) {
        self.registrar.set_remote(bindings);
    }

    /// Lets browsers call and be called (see `B2bua::set_webrtc`).
    pub fn set_webrtc(&mut self, media: Box<dyn super::b2bua::WebRtcMedia>) {
        self.b2bua.set_webrtc(media);
    }

    pub fn b2bua(&self) -> &B2bua {
        &self.b2bua
    }

    /// The application's routing decision for an incoming call.
    pub fn route(&mut self, now_ms: u64, call: CallId, decision: RouteDecision) {
        self.b2bua.route(now_ms, call, decision, &self.registrar);
        self.drain_b2bua();
    }

    /// Places a call (see `B2bua::originate`).
    pub fn originate(&mut self, now_ms: u64, o: crate::sip::b2bua::Originate) -> Option<CallId> {
        let id = self.b2bua.originate(now_ms, o, &self.registrar);
        self.drain_b2bua();
        id
    }

    /// See `B2bua::turn_around`.
    pub fn turn_around(&mut self, now_ms: u64, call: CallId) -> Result<(), crate::sip::b2bua::TurnRefused> {
        let turned = self.b2bua.turn_around(now_ms, call);
        self.drain_b2bua();
        turned
    }

    /// See `B2bua::report_unreached`.
    pub fn report_unreached(&mut self, call: CallId, report: bool) {
        self.b2bua.report_unreached(call, report);
    }

    /// See `B2bua::keep_caller`.
    pub fn keep_caller(&mut self, call: CallId, keep: bool) {
        self.b2bua.keep_caller(call, keep);
    }

    /// See `B2bua::keep_legs`.
    pub fn keep_legs(&mut self, call: CallId, keep: bool) {
        self.b2bua.keep_legs(call, keep);
    }

    /// See `B2bua::release`.
    pub fn release(&mut self, now_ms: u64, call: CallId, side: crate::sip::b2bua::Side) -> bool {
        let released = self.b2bua.release(now_ms, call, side);
        self.drain_b2bua();
        released
    }

    /// See `B2bua::release_callee`.
    pub fn release_callee(&mut self, now_ms: u64, call: CallId) -> bool {
        let released = self.b2bua.release_callee(now_ms, call);
        self.drain_b2bua();
        released
    }

    /// See `B2bua::refuse_transfer`.
    pub fn refuse_transfer(&mut self, call: CallId, status: u16) {
        self.b2bua.refuse_transfer(call, status);
        self.drain_b2bua();
    }

    /// See `B2bua::stop_ringing`.
    pub fn stop_ringing(&mut self, now_ms: u64, call: CallId) {
        self.b2bua.stop_ringing(now_ms, call);
        self.drain_b2bua();
    }

    /// Hangs a call up from our side.
    pub fn hangup(&mut self, now_ms: u64, call: CallId) {
        self.b2bua.hangup(now_ms, call);
        self.drain_b2bua();
    }

    fn drain_b2bua(&mut self) {
        while let Some((to, bytes)) = self.uplinks.poll_transmit() {
            self.out.push_back(Transmit { to, transport: "UDP", bytes });
        }
        while let Some((to, bytes)) = self.b2bua.poll_transmit() {
            self.out.push_back(Transmit { to, transport: "UDP", bytes });
        }
        while let Some(e) = self.b2bua.poll_event() {
            self.events.push_back(ServerEvent::Call(e));
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        if let Some(e) = self.registrar.poll_event() {
            return Some(ServerEvent::Registrar(e));
        }
        self.events.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<u64> {
        let txn = self.order.front().and_then(|k| self.transactions.get(k)).map(|c| c.expires_ms);
        [txn, self.registrar.poll_timeout(), self.b2bua.poll_timeout(), self.uplinks.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    pub fn handle_timeout(&mut self, now_ms: u64) {
        self.registrar.handle_timeout(now_ms);
        self.b2bua.handle_timeout(now_ms);
        self.uplinks.handle_timeout(now_ms);
        self.drain_b2bua();
        while let Some(k) = self.order.front() {
            match self.transactions.get(k) {
                Some(c) if c.expires_ms > now_ms => break,
                _ => {
                    let k = self.order.pop_front().expect("front exists");
                    self.transactions.remove(&k);
                }
            }
        }
    }

    pub fn handle_datagram(
        &mut self,
        now_ms: u64,
        source: SocketAddr,
        transport: &'static str,
        bytes: &[u8],
    ) {
        if self.flooded(now_ms, source, transport, bytes) {
            return;
        }
        match parse_datagram(bytes) {
            Ok(Message::Request(req)) => self.handle_request(now_ms, source, transport, req),
            // Responses belong to our outbound legs; strays are dropped (RFC 3261 §18.1.2).
            Ok(Message::Response(resp)) => {
                if !self.uplinks.handle_response(now_ms, &resp) {
                    self.b2bua.handle_response(now_ms, &resp);
                }
                self.drain_b2bua();
            }
            Err(ParseError::KeepAlive) => {}
            Err(e) => {
                self.dropped.malformed += 1;
                self.events.push_back(ServerEvent::Malformed { source, reason: e.to_string() });
                if let (true, Some(req)) = (is_request_like(bytes), salvage(bytes)) {
                    if req.method != Method::Ack {
                        let status = if matches!(e, ParseError::Version(_)) { 505 } else { 400 };
                        let mut r = Response::for_request(&req, status, Some("x"));
                        r.reason = format!("{} ({e})", r.reason);
                        self.send(source, transport, r);
                    }
                }
            }
        }
    }

    /// Counts a request against its source's rate; `true` when it is dropped for flooding
    /// (the first drop of a window is answered 503 with Retry-After and reported). Responses
    /// and keep-alives are not counted, nor the server's own probe (from the unspecified
    /// address, which no packet from the network can have).
    fn flooded(&mut self, now_ms: u64, source: SocketAddr, transport: &'static str, bytes: &[u8]) -> bool {
        let first = bytes.iter().position(|b| !b.is_ascii_whitespace());
        let Some(first) = first else { return false };
        if source.ip().is_unspecified() || bytes.get(first..first + 4) == Some(b"SIP/") {
            return false;
        }
        let (directory, registrar) = (&self.directory, &self.registrar);
        let class = || match directory.trusted(source) {
            Some(_) => SourceClass::Trunk,
            None if registrar.is_registered_ip(source.ip()) => SourceClass::Phone,
            None => SourceClass::Unknown,
        };
        let Verdict::Drop { report, dropped_before } = self.flood.check(now_ms, source.ip(), class) else {
            return false;
        };
        self.dropped.flood += 1;
        if report {
            self.events.push_back(ServerEvent::Flood { source, dropped: dropped_before });
            if let Ok(Message::Request(req)) = parse_datagram(bytes) {
                if req.method != Method::Ack {
                    let mut r = Response::for_request(&req, 503, Some("x"));
                    r.headers.push("Retry-After", (self.flood.config().block_ms / 1000).max(1).to_string());
                    self.send(source, transport, r);
                }
            }
        }
        true
    }

    fn send(&mut self, to: SocketAddr, transport: &'static str, mut resp: Response) {
        let top = resp.headers.get_all("Via").first().map(|v| v.to_string());
        if let Some(top) = top {
            let stamped = Via::stamp(&top, to);
            resp.headers.remove_first("Via");
            resp.headers.push_front("Via", stamped);
        }
        resp.headers.push("Server", self.server_name.clone());
        self.out.push_back(Transmit { to, transport, bytes: resp.to_bytes() });
    }

    /// Checks RFC 3261 §8.2 requirements; the failing response if any.
    fn validate(req: &Request) -> Result<(), (u16, String)> {
        let bad = |m: &str| Err((400, format!("Bad Request ({m})")));
        let top_via = req.headers.get_all("Via").first().map(|v| Via::parse(v));
        match top_via {
            None => return bad("missing Via"),
            Some(Err(_)) => return bad("malformed Via"),
            Some(Ok(_)) => {}
        }
        for h in ["From", "To"] {
            match req.headers.get(h).map(NameAddr::parse) {
                None => return bad(&format!("missing {h}")),
                Some(Err(_)) => return bad(&format!("malformed {h}")),
                Some(Ok(_)) => {}
            }
        }
        if req.headers.get("Call-ID").is_none_or(|c| c.trim().is_empty()) {
            return bad("missing Call-ID");
        }
        match req.headers.get("CSeq").map(header::cseq) {
            None => return bad("missing CSeq"),
            Some(Err(_)) => return bad("malformed CSeq"),
            Some(Ok((_, m))) if m != req.method.as_str() => return bad("CSeq method does not match"),
            Some(Ok(_)) => {}
        }
        if let Some(mf) = req.headers.get("Max-Forwards") {
            if mf.trim().parse::<u8>().is_err() {
                return bad("malformed Max-Forwards");
            }
        }
        if !req.uri.to_ascii_lowercase().starts_with("sip:")
            && !req.uri.to_ascii_lowercase().starts_with("sips:")
        {
            return Err((416, "Unsupported URI Scheme".into()));
        }
        let required: Vec<&str> = req.headers.get_all("Require");
        if !required.is_empty() && req.method != Method::Ack && req.method != Method::Cancel {
            return Err((420, required.join(", ")));
        }
        Ok(())
    }

    fn handle_request(&mut self, now_ms: u64, source: SocketAddr, transport: &'static str, req: Request) {
        let branch = req
            .headers
            .get_all("Via")
            .first()
            .and_then(|v| Via::parse(v).ok())
            .and_then(|v| v.branch().map(str::to_string));
        let method_key =
            if req.method == Method::Ack { "INVITE".to_string() } else { req.method.to_string() };
        let key = branch.map(|b| (b, method_key));
        if let Some(cached) = key.as_ref().and_then(|k| self.transactions.get(k)) {
            // A retransmission (or the ACK of a final non-2xx): replay or absorb.
            if req.method != Method::Ack {
                self.out.push_back(Transmit { to: cached.to, transport, bytes: cached.response.clone() });
            }
            return;
        }
        if req.method == Method::Ack {
            // The ACK of a 2xx belongs to the call's dialog; it never gets a response.
            self.b2bua.handle_in_call(now_ms, &req, source);
            self.drain_b2bua();
            return;
        }
        if req.method == Method::Invite {
            if let Some((b, _)) = &key {
                if self.b2bua.owns_branch(b) {
                    self.b2bua.retransmitted_invite(b);
                    self.drain_b2bua();
                    return;
                }
            }
        }
        let resp = match Self::validate(&req) {
            Err((420, unsupported)) => {
                let mut r = Response::for_request(&req, 420, Some("x"));
                r.headers.push("Unsupported", unsupported);
                r
            }
            Err((status, reason)) => {
                let mut r = Response::for_request(&req, status, Some("x"));
                r.reason = reason;
                r
            }
            Ok(()) => match req.method {
                Method::Register => {
                    self.registrar.handle_register(now_ms, &req, source, transport, &self.directory)
                }
                Method::Options | Method::Invite if self.draining && !Self::in_dialog(&req) => {
                    let mut r = Response::for_request(&req, 503, Some("drain"));
                    r.reason = "Draining".into();
                    r.headers.push("Retry-After", "30");
                    r
                }
                Method::Options => {
                    let mut r = Response::for_request(&req, 200, Some("opt"));
                    r.headers.push("Allow", ALLOW);
                    r.headers.push("Accept", "application/sdp");
                    r
                }
                Method::Invite => {
                    let answer = if Self::in_dialog(&req) {
                        self.b2bua.handle_in_call(now_ms, &req, source)
                    } else {
                        // A carrier is trusted by address; a registered phone at that very address
                        // (a PBX and its phones can share a host), or one registered through the
                        // proxy that relays this request, still authenticates as a user.
                        let client = registrar::client_address(&req, source, &self.directory);
                        let phone = self.registrar.is_registered_source(source)
                            || (client != source && self.registrar.is_registered_behind(source, client));
                        let trunk = self.directory.trusted(source).filter(|_| !phone);
                        let caller = match trunk {
                            Some(accounts) => Ok(Caller::Trunk { accounts: accounts.to_vec() }),
                            None => self
                                .registrar
                                .authenticate(now_ms, &req, source, &self.directory)
                                .map(|u| Caller::User { account: u.account, extension: u.extension }),
                        };
                        match caller {
                            Ok(caller) => {
                                self.b2bua.handle_new_invite(now_ms, req.clone(), source, transport, caller)
                            }
                            Err(challenge) => Some(challenge),
                        }
                    };
                    self.drain_b2bua();
                    match answer {
                        Some(r) => r,
                        None => return,
                    }
                }
                Method::Bye | Method::Cancel | Method::Info | Method::Refer => {
                    let answer = self.b2bua.handle_in_call(now_ms, &req, source);
                    self.drain_b2bua();
                    match answer {
                        Some(r) => r,
                        None => return,
                    }
                }
                Method::Other(_) => {
                    let mut r = Response::for_request(&req, 501, Some("x"));
                    r.headers.push("Allow", ALLOW);
                    r
                }
                _ => {
                    let mut r = Response::for_request(&req, 405, Some("x"));
                    r.headers.push("Allow", ALLOW);
                    r
                }
            },
        };
        let status = resp.status;
        self.send(source, transport, resp);
        if let (Some(key), Some(sent)) = (key, self.out.back()) {
            if status >= 200 {
                let linger = if transport == "UDP" { TIMER_J_MS } else { 0 };
                if linger > 0 {
                    if self.order.len() >= MAX_TRANSACTIONS {
                        if let Some(old) = self.order.pop_front() {
                            self.transactions.remove(&old);
                        }
                    }
                    self.transactions.insert(
                        key.clone(),
                        Cached { response: sent.bytes.clone(), to: source, expires_ms: now_ms + linger },
                    );
                    self.order.push_back(key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::digest;
    use crate::sip::registrar::SipUser;

    fn server() -> SipServer {
        let mut s =
            SipServer::new("127.0.0.1:5060".parse().unwrap(), RegistrarConfig::default(), "k", "test");
        s.set_directory(
            0,
            Directory::new([SipUser {
                account: 1,
                domain: None,
                username: "101".into(),
                password: "pw-101-long".into(),
                extension: "101".into(),
            }]),
        );
        s
    }

    fn src() -> SocketAddr {
        "127.0.0.1:5062".parse().unwrap()
    }

    fn response(s: &mut SipServer) -> Response {
        let t = s.poll_transmit().expect("a response");
        assert!(s.poll_transmit().is_none());
        match parse_datagram(&t.bytes).unwrap() {
            Message::Response(r) => r,
            _ => panic!("not a response"),
        }
    }

    fn msg(method: &str, branch: &str, extra: &str) -> Vec<u8> {
        format!(
            "{method} sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5062;branch={branch};rport\r\n\
             From: <sip:101@127.0.0.1>;tag=a\r\nTo: <sip:101@127.0.0.1>\r\nCall-ID: c1\r\nCSeq: 1 {method}\r\n\
             Max-Forwards: 70\r\n{extra}Content-Length: 0\r\n\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn a_draining_server_refuses_new_calls_and_probes_but_not_registrations() {
        let mut s = server();
        s.set_draining(true);
        s.handle_datagram(0, src(), "UDP", &msg("OPTIONS", "z9hG4bKd1", ""));
        let r = response(&mut s);
        assert_eq!((r.status, r.reason.as_str()), (503, "Draining"));
        assert_eq!(r.headers.get("Retry-After"), Some("30"));
        let invite = msg("INVITE", "z9hG4bKd2", "Contact: <sip:x@127.0.0.1:5062>\r\n");
        s.handle_datagram(0, src(), "UDP", &invite);
        assert_eq!(response(&mut s).status, 503);
        s.handle_datagram(
            0,
            src(),
            "UDP",
            &msg("REGISTER", "z9hG4bKd3", "Contact: <sip:101@127.0.0.1:5062>\r\n"),
        );
        assert_eq!(response(&mut s).status, 401, "phones still register on a draining node");
        s.set_draining(false);
        s.handle_datagram(0, src(), "UDP", &msg("OPTIONS", "z9hG4bKd4", ""));
        assert_eq!(response(&mut s).status, 200);
    }

    #[test]
    fn options_register_and_retransmissions() {
        let mut s = server();
        s.handle_datagram(0, src(), "UDP", &msg("OPTIONS", "z9hG4bK1", ""));
        let r = response(&mut s);
        assert_eq!(r.status, 200);
        assert!(r.headers.get("Via").unwrap().contains("rport=5062"));
        assert_eq!(r.headers.get("Allow"), Some(ALLOW));
        // The same request again: the same bytes again, no new processing.
        s.handle_datagram(10, src(), "UDP", &msg("OPTIONS", "z9hG4bK1", ""));
        assert_eq!(response(&mut s).status, 200);
        assert_eq!(s.poll_timeout(), Some(TIMER_J_MS));
        s.handle_timeout(TIMER_J_MS);
        assert_eq!(s.poll_timeout(), None);

        s.handle_datagram(
            0,
            src(),
            "UDP",
            &msg("REGISTER", "z9hG4bK2", "Contact: <sip:101@127.0.0.1:5062>\r\n"),
        );
        let ch = response(&mut s);
        assert_eq!(ch.status, 401);
        let auth = digest::answer(
            ch.headers.get("WWW-Authenticate").unwrap(),
            "REGISTER",
            "sip:127.0.0.1",
            "101",
            "pw-101-long",
            "x",
            1,
        )
        .unwrap();
        let again = msg(
            "REGISTER",
            "z9hG4bK3",
            &format!("Contact: <sip:101@127.0.0.1:5062>\r\nAuthorization: {auth}\r\n"),
        );
        s.handle_datagram(5, src(), "UDP", &again);
        assert_eq!(response(&mut s).status, 200);
        assert!(matches!(s.poll_event(), Some(ServerEvent::Registrar(RegistrarEvent::Registered { .. }))));
        assert_eq!(s.registrar().contacts(1, "101").len(), 1);
    }

    #[test]
    fn malformed_and_unsupported_requests_get_the_right_answer() {
        let mut s = server();
        // Missing Call-ID.
        let no_callid =
            String::from_utf8(msg("OPTIONS", "z9hG4bK5", "")).unwrap().replace("Call-ID: c1\r\n", "");
        s.handle_datagram(0, src(), "UDP", no_callid.as_bytes());
        let r = response(&mut s);
        assert_eq!((r.status, r.reason.as_str()), (400, "Bad Request (missing Call-ID)"));
        let mismatch = String::from_utf8(msg("OPTIONS", "z9hG4bK6", ""))
            .unwrap()
            .replace("CSeq: 1 OPTIONS", "CSeq: 1 INVITE");
        s.handle_datagram(0, src(), "UDP", mismatch.as_bytes());
        assert_eq!(response(&mut s).status, 400);
        s.handle_datagram(0, src(), "UDP", &msg("OPTIONS", "z9hG4bK7", "Require: nonsense\r\n"));
        let r = response(&mut s);
        assert_eq!((r.status, r.headers.get("Unsupported")), (420, Some("nonsense")));
        s.handle_datagram(0, src(), "UDP", &msg("FOO", "z9hG4bK8", ""));
        assert_eq!(response(&mut s).status, 501);
        s.handle_datagram(0, src(), "UDP", &msg("SUBSCRIBE", "z9hG4bK9", ""));
        assert_eq!(response(&mut s).status, 405);
        let v3 = String::from_utf8(msg("OPTIONS", "z9hG4bKa", ""))
            .unwrap()
            .replace("sip:127.0.0.1 SIP/2.0", "sip:127.0.0.1 SIP/3.0");
        s.handle_datagram(0, src(), "UDP", v3.as_bytes());
        assert_eq!(response(&mut s).status, 505);
        s.handle_datagram(0, src(), "UDP", &msg("ACK", "z9hG4bKb", ""));
        assert!(s.poll_transmit().is_none(), "ACK is never answered");
        s.handle_datagram(0, src(), "UDP", b"\x16\x03\x01 binary junk \x00\xff");
        assert!(s.poll_transmit().is_none());
        assert!(matches!(s.poll_event(), Some(ServerEvent::Malformed { .. })));
    }

    #[test]
    fn a_flooding_source_is_answered_503_once_then_dropped_while_others_are_served() {
        let mut s = server();
        let attacker: SocketAddr = "192.0.2.66:5060".parse().unwrap();
        let mut answers = Vec::new();
        for i in 0..1_000 {
            s.handle_datagram(i / 10, attacker, "UDP", &msg("INVITE", &format!("z9hG4bKf{i}"), ""));
            while let Some(t) = s.poll_transmit() {
                answers.push(t);
            }
        }
        let limit = FloodConfig::default().unknown as usize;
        // The first `limit` INVITEs are challenged (407), the next one gets 503, the rest nothing.
        assert_eq!(answers.len(), limit + 1);
        let Ok(Message::Response(last)) = parse_datagram(&answers[limit].bytes) else { panic!() };
        assert_eq!(last.status, 503);
        assert_eq!(last.headers.get("Retry-After"), Some("60"));
        assert_eq!(s.dropped().flood, 1_000 - limit as u64);
        let flood_events = std::iter::from_fn(|| s.poll_event())
            .filter(|e| matches!(e, ServerEvent::Flood { source, .. } if *source == attacker))
            .count();
        assert_eq!(flood_events, 1, "reported once per window");
        // Another source is answered as usual; responses from the attacker's address are not counted.
        s.handle_datagram(100, src(), "UDP", &msg("OPTIONS", "z9hG4bKok", ""));
        assert_eq!(response(&mut s).status, 200);
        assert!(s.flood_stats(100).blocked_now == 1);
        // The cool-down passes.
        s.handle_datagram(70_000, attacker, "UDP", &msg("OPTIONS", "z9hG4bKlater", ""));
        assert_eq!(response(&mut s).status, 200);
    }
}
