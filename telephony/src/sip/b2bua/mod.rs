//! The back-to-back user agent, sans-IO: every call is an inbound leg (we are its UAS) and one
//! or more outbound legs (we are their UAC), each its own dialog. Media is anchored: the SDP we
//! send always points at our own RTP ports, chosen by the application per call.
//!
//! The application decides where calls go ([`RouteDecision`]); this core runs the SIP: INVITE
//! transactions with retransmission timers (RFC 3261 §17), provisional and final responses,
//! ACK, CANCEL, BYE from either side, re-INVITE (hold/resume), forking to every registered
//! contact, no-answer timeout, and busy lines.

use super::header::{self, NameAddr, Via};
use super::message::{Method, Request, Response};
use super::registrar::Registrar;
use crate::sdp::{self, AudioMedia, Codec, Direction, LocalAudio};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;

mod types;
pub use types::*;

#[cfg(test)]
mod tests;

pub const T1: u64 = 500;
pub const T2: u64 = 4_000;
const SUPPORTED: [Codec; 2] = [Codec::Pcmu, Codec::Pcma];

/// Where one outbound leg goes.
struct OutLeg {
    uri: String,
    peer: SocketAddr,
    to: String,
    /// The From user; the caller's own when unset.
    caller_id: Option<String>,
    credentials: Option<(String, String)>,
}

/// A message on a timer: resent with back-off until `deadline`.
#[derive(Debug, Clone)]
struct Retransmit {
    bytes: Vec<u8>,
    to: SocketAddr,
    next_at: u64,
    interval: u64,
    cap: u64,
    deadline: u64,
}

impl Retransmit {
    fn new(bytes: Vec<u8>, to: SocketAddr, now: u64, cap: u64) -> Self {
        Retransmit { bytes, to, next_at: now + T1, interval: T1, cap, deadline: now + 64 * T1 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutState {
    Calling,
    Proceeding,
    Answered,
    Done,
}

struct Inbound {
    invite: Request,
    source: SocketAddr,
    branch: String,
    call_id: String,
    local_tag: String,
    remote_tag: String,
    remote_target: String,
    offer: AudioMedia,
    last_provisional: Option<Vec<u8>>,
    final_status: Option<u16>,
    /// Our final response, kept to answer retransmitted INVITEs.
    final_bytes: Option<Vec<u8>>,
    final_tx: Option<Retransmit>,
    local_cseq: u32,
    sdp_version: u64,
}

struct Outbound {
    peer: SocketAddr,
    contact: String,
    call_id: String,
    local_tag: String,
    remote_tag: Option<String>,
    remote_target: Option<String>,
    from: String,
    to: String,
    cseq: u32,
    invite: Request,
    tx: Option<Retransmit>,
    state: OutState,
    got_provisional: bool,
    cancel_pending: bool,
    ack: Option<Vec<u8>>,
    sdp_version: u64,
    credentials: Option<(String, String)>,
    auth_tried: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallState {
    Routing,
    Ringing,
    Answered,
    Ending,
}

struct Call {
    inbound: Inbound,
    outbound: Vec<Outbound>,
    state: CallState,
    media: Option<MediaPorts>,
    target: Option<(i64, String)>,
    answered: Option<usize>,
    ring_deadline: Option<u64>,
    failure: Option<u16>,
    /// BYEs and CANCELs awaiting their answer, by Call-ID.
    byes: Vec<(String, Retransmit)>,
    payload_type: u8,
    ended: bool,
}

pub struct B2bua {
    local: SocketAddr,
    prefix: String,
    counter: u64,
    calls: BTreeMap<CallId, Call>,
    by_inbound: HashMap<(String, String), CallId>,
    by_branch: HashMap<String, CallId>,
    by_outbound: HashMap<String, (CallId, usize)>,
    out: VecDeque<(SocketAddr, Vec<u8>)>,
    events: VecDeque<CallEvent>,
}

fn uri_of(name_addr: &str) -> String {
    NameAddr::parse(name_addr).map(|n| n.uri_text).unwrap_or_else(|_| name_addr.to_string())
}

fn pick_failure(a: Option<u16>, b: u16) -> u16 {
    // Busy beats everything; otherwise the lowest class seen (RFC 3261 §16.7, simplified).
    match a {
        None => b,
        Some(486) | Some(600) => a.unwrap_or(b),
        _ if b == 486 || b == 600 => b,
        Some(x) => x.min(b),
    }
}

impl B2bua {
    /// `local` is our SIP address (for Via and Contact); `prefix` makes our tags, branches and
    /// Call-IDs unique to this process (pass something random).
    pub fn new(local: SocketAddr, prefix: impl Into<String>) -> Self {
        B2bua {
            local,
            prefix: prefix.into(),
            counter: 0,
            calls: BTreeMap::new(),
            by_inbound: HashMap::new(),
            by_branch: HashMap::new(),
            by_outbound: HashMap::new(),
            out: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    fn next_id(&mut self, kind: &str) -> String {
        self.counter += 1;
        format!("{kind}{}{}", self.prefix, self.counter)
    }

    pub fn active_calls(&self) -> usize {
        self.calls.len()
    }

    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.out.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<CallEvent> {
        self.events.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<u64> {
        let mut t: Option<u64> = None;
        let mut take = |x: u64| t = Some(t.map_or(x, |y| y.min(x)));
        for c in self.calls.values() {
            if let Some(r) = &c.inbound.final_tx {
                take(r.next_at.min(r.deadline));
            }
            for o in &c.outbound {
                if let Some(r) = &o.tx {
                    take(r.next_at.min(r.deadline));
                }
            }
            for (_, r) in &c.byes {
                take(r.next_at.min(r.deadline));
            }
            if let Some(d) = c.ring_deadline {
                take(d);
            }
        }
        t
    }

    fn via(&mut self) -> (String, String) {
        let branch = format!("z9hG4bK{}", self.next_id("b"));
        (format!("SIP/2.0/UDP {};branch={branch};rport", self.local), branch)
    }

    fn contact(&self) -> String {
        format!("<sip:switchboard@{}>", self.local)
    }

    fn send_response(&mut self, to: SocketAddr, resp: &Response) -> Vec<u8> {
        let bytes = resp.to_bytes();
        self.out.push_back((to, bytes.clone()));
        bytes
    }

    fn inbound_response(&self, call: &Call, status: u16) -> Response {
        let mut r = Response::for_request(&call.inbound.invite, status, Some(&call.inbound.local_tag));
        if let Some(top) = r.headers.get_all("Via").first().map(|v| v.to_string()) {
            r.headers.remove_first("Via");
            r.headers.push_front("Via", Via::stamp(&top, call.inbound.source));
        }
        if status < 300 && status > 100 {
            r.headers.push("Contact", self.contact());
        }
        r
    }

    /// A new INVITE (not a retransmission, not in a dialog) from an identified caller.
    pub fn handle_new_invite(
        &mut self,
        now: u64,
        req: Request,
        source: SocketAddr,
        caller: Caller,
    ) -> Option<Response> {
        let offer = match std::str::from_utf8(&req.body)
            .ok()
            .filter(|b| !b.trim().is_empty())
            .map(sdp::parse_audio)
        {
            Some(Ok(o)) => o,
            Some(Err(_)) => return Some(reject(&req, 400, "Bad Request (unreadable SDP)")),
            None => return Some(reject(&req, 488, "Not Acceptable Here (an SDP offer is required)")),
        };
        if offer.codecs().iter().all(|(c, _)| !SUPPORTED.contains(c)) {
            return Some(reject(&req, 488, "Not Acceptable Here (no common codec: PCMU or PCMA)"));
        }
        let from = req.headers.get("From").and_then(|v| NameAddr::parse(v).ok())?;
        let to = req.headers.get("To").and_then(|v| NameAddr::parse(v).ok())?;
        let call_id = req.headers.get("Call-ID")?.to_string();
        let branch = req
            .headers
            .get_all("Via")
            .first()
            .and_then(|v| Via::parse(v).ok())
            .and_then(|v| v.branch().map(str::to_string))?;
        let remote_tag = from.tag().unwrap_or_default().to_string();
        let remote_target = req.headers.get("Contact").map(uri_of).unwrap_or_else(|| from.uri_text.clone());
        let dialled = super::uri::SipUri::parse(&req.uri)
            .ok()
            .and_then(|u| u.user_unescaped())
            .or_else(|| to.uri.user_unescaped())
            .unwrap_or_default();
        self.counter += 1;
        let id = CallId(self.counter);
        let local_tag = self.next_id("t");
        let call = Call {
            inbound: Inbound {
                invite: req,
                source,
                branch: branch.clone(),
                call_id: call_id.clone(),
                local_tag,
                remote_tag: remote_tag.clone(),
                remote_target,
                offer,
                last_provisional: None,
                final_status: None,
                final_bytes: None,
                final_tx: None,
                local_cseq: 1,
                sdp_version: 1,
            },
            outbound: Vec::new(),
            state: CallState::Routing,
            media: None,
            target: None,
            answered: None,
            ring_deadline: None,
            failure: None,
            byes: Vec::new(),
            payload_type: 0,
            ended: false,
        };
        let trying = self.inbound_response(&call, 100);
        let bytes = self.send_response(source, &trying);
        let mut call = call;
        call.inbound.last_provisional = Some(bytes);
        self.by_inbound.insert((call_id, remote_tag), id);
        self.by_branch.insert(branch, id);
        self.calls.insert(id, call);
        let _ = now;
        self.events.push_back(CallEvent::Incoming(IncomingCall {
            call: id,
            caller,
            dialled,
            from_user: from.uri.user_unescaped(),
            from_display: from.display.clone(),
            source,
        }));
        None
    }

    /// Whether this branch belongs to a call's INVITE (a retransmission or its CANCEL/ACK).
    pub fn owns_branch(&self, branch: &str) -> bool {
        self.by_branch.contains_key(branch)
    }

    /// Answers a retransmitted INVITE with the last response sent.
    pub fn retransmitted_invite(&mut self, branch: &str) {
        if let Some(call) = self.by_branch.get(branch).and_then(|id| self.calls.get(id)) {
            let last = call.inbound.final_bytes.clone().or_else(|| call.inbound.last_provisional.clone());
            if let Some(bytes) = last {
                self.out.push_back((call.inbound.source, bytes));
            }
        }
    }

    /// Calls in progress for an extension (for the lines limit).
    pub fn calls_for(&self, account: i64, extension: &str) -> usize {
        self.calls
            .values()
            .filter(|c| !c.ended && c.target.as_ref().is_some_and(|(a, e)| *a == account && e == extension))
            .count()
    }

    /// The application's decision for an incoming call.
    pub fn route(&mut self, now: u64, id: CallId, decision: RouteDecision, registrar: &Registrar) {
        let Some(call) = self.calls.get(&id) else { return };
        if call.state != CallState::Routing {
            return;
        }
        match decision {
            RouteDecision::Reject { status } => self.fail_inbound(now, id, status, Outcome::Rejected(status)),
            RouteDecision::Ring { account, extension, max_lines, ring_timeout_ms, media } => {
                if self.calls_for(account, &extension) >= max_lines {
                    return self.fail_inbound(now, id, 486, Outcome::Busy);
                }
                let contacts: Vec<(String, SocketAddr)> = registrar
                    .contacts(account, &extension)
                    .iter()
                    .map(|b| (b.contact.clone(), b.source))
                    .collect();
                if contacts.is_empty() {
                    return self.fail_inbound(now, id, 480, Outcome::Rejected(480));
                }
                let call = self.calls.get_mut(&id).expect("checked above");
                call.target = Some((account, extension.clone()));
                call.media = Some(media);
                call.state = CallState::Ringing;
                call.ring_deadline = Some(now + ring_timeout_ms);
                for (contact, peer) in contacts {
                    let to = format!("<sip:{extension}@{}>", self.local.ip());
                    self.add_outbound(
                        now,
                        id,
                        OutLeg { uri: contact, peer, to, caller_id: None, credentials: None },
                        media.b,
                    );
                }
            }
            RouteDecision::Dial { uri, peer, caller_id, credentials, ring_timeout_ms, media } => {
                let call = self.calls.get_mut(&id).expect("checked above");
                call.media = Some(media);
                call.state = CallState::Ringing;
                call.ring_deadline = Some(now + ring_timeout_ms);
                let to = format!("<{uri}>");
                self.add_outbound(
                    now,
                    id,
                    OutLeg { uri, peer, to, caller_id: Some(caller_id), credentials },
                    media.b,
                );
            }
        }
    }

    fn add_outbound(&mut self, now: u64, id: CallId, leg: OutLeg, media_b: SocketAddr) {
        let OutLeg { uri: contact, peer, to, caller_id, credentials } = leg;
        let call_id = format!("{}@switchboard", self.next_id("c"));
        let local_tag = self.next_id("t");
        let (via, _) = self.via();
        let contact_hdr = self.contact();
        let Some(call) = self.calls.get(&id) else { return };
        let codecs: Vec<(Codec, u8)> = call
            .inbound
            .offer
            .codecs()
            .into_iter()
            .filter(|(c, _)| SUPPORTED.contains(c))
            .map(|(c, _)| (c, c.static_pt()))
            .collect();
        let offer = LocalAudio {
            address: media_b,
            codecs,
            telephone_event: Some(101),
            direction: Direction::SendRecv,
        };
        let from_hdr = call.inbound.invite.headers.get("From").and_then(|v| NameAddr::parse(v).ok());
        let display = from_hdr
            .as_ref()
            .and_then(|f| f.display.clone())
            .map(|d| format!("\"{}\" ", d.replace('"', "")))
            .unwrap_or_default();
        let from_user = caller_id
            .or_else(|| from_hdr.as_ref().and_then(|f| f.uri.user.clone()))
            .unwrap_or_else(|| "anonymous".into());
        let from = format!("{display}<sip:{from_user}@{}>", self.local.ip());
        let mut req = Request::new(Method::Invite, contact.clone());
        req.headers.push("Via", via);
        req.headers.push("Max-Forwards", "70");
        req.headers.push("From", format!("{from};tag={local_tag}"));
        req.headers.push("To", to.clone());
        req.headers.push("Call-ID", call_id.clone());
        req.headers.push("CSeq", "1 INVITE");
        req.headers.push("Contact", contact_hdr);
        req.headers.push("Allow", super::server::ALLOW);
        req.headers.push("Content-Type", "application/sdp");
        req.body = sdp::write(&offer, self.counter, 1).into_bytes();
        let bytes = req.to_bytes();
        self.out.push_back((peer, bytes.clone()));
        let call = self.calls.get_mut(&id).expect("exists");
        let idx = call.outbound.len();
        call.outbound.push(Outbound {
            peer,
            contact,
            call_id: call_id.clone(),
            local_tag,
            remote_tag: None,
            remote_target: None,
            from,
            to,
            cseq: 1,
            invite: req,
            tx: Some(Retransmit { cap: u64::MAX, ..Retransmit::new(bytes, peer, now, u64::MAX) }),
            state: OutState::Calling,
            got_provisional: false,
            cancel_pending: false,
            ack: None,
            sdp_version: 1,
            credentials,
            auth_tried: false,
        });
        self.by_outbound.insert(call_id, (id, idx));
    }

    /// Sends a final non-2xx to the caller and ends the call.
    fn fail_inbound(&mut self, now: u64, id: CallId, status: u16, outcome: Outcome) {
        let Some(call) = self.calls.get(&id) else { return };
        if call.inbound.final_status.is_some() {
            return;
        }
        let resp = self.inbound_response(call, status);
        let source = call.inbound.source;
        let bytes = self.send_response(source, &resp);
        let call = self.calls.get_mut(&id).expect("exists");
        call.inbound.final_status = Some(status);
        call.inbound.final_bytes = Some(bytes.clone());
        call.inbound.final_tx = Some(Retransmit::new(bytes, source, now, T2));
        call.state = CallState::Ending;
        call.ring_deadline = None;
        self.end(id, outcome);
        self.cancel_outbound(now, id, None);
    }

    fn end(&mut self, id: CallId, outcome: Outcome) {
        if let Some(call) = self.calls.get_mut(&id) {
            if !call.ended {
                call.ended = true;
                self.events.push_back(CallEvent::Ended { call: id, outcome });
            }
        }
    }

    /// CANCELs every outbound leg still ringing except `keep`.
    fn cancel_outbound(&mut self, now: u64, id: CallId, keep: Option<usize>) {
        let Some(call) = self.calls.get_mut(&id) else { return };
        let mut sends = Vec::new();
        for (i, o) in call.outbound.iter_mut().enumerate() {
            if Some(i) == keep || !matches!(o.state, OutState::Calling | OutState::Proceeding) {
                continue;
            }
            if !o.got_provisional {
                // RFC 3261 §9.1: wait for a provisional response before cancelling.
                o.cancel_pending = true;
                continue;
            }
            sends.push(cancel_of(o));
            o.state = OutState::Done;
        }
        for (to, req) in sends {
            let bytes = req.to_bytes();
            self.out.push_back((to, bytes.clone()));
            let call_id = req.headers.get("Call-ID").unwrap_or_default().to_string();
            let call = self.calls.get_mut(&id).expect("exists");
            call.byes.push((call_id, Retransmit::new(bytes, to, now, T2)));
        }
    }

    /// Handles a request that belongs to a call: ACK, CANCEL, BYE or re-INVITE.
    pub fn handle_in_call(&mut self, now: u64, req: &Request, source: SocketAddr) -> Option<Response> {
        let call_id = req.headers.get("Call-ID")?.to_string();
        let from_tag = req
            .headers
            .get("From")
            .and_then(|v| NameAddr::parse(v).ok())
            .and_then(|f| f.tag().map(str::to_string))
            .unwrap_or_default();
        let branch = req
            .headers
            .get_all("Via")
            .first()
            .and_then(|v| Via::parse(v).ok())
            .and_then(|v| v.branch().map(str::to_string))
            .unwrap_or_default();
        // The caller's side: matched by Call-ID and the caller's tag (or the INVITE's branch for CANCEL).
        let inbound = self.by_inbound.get(&(call_id.clone(), from_tag)).copied().or_else(|| {
            (req.method == Method::Cancel).then(|| self.by_branch.get(&branch).copied()).flatten()
        });
        if let Some(id) = inbound {
            return self.inbound_request(now, id, req, source);
        }
        if let Some(&(id, idx)) = self.by_outbound.get(&call_id) {
            return self.outbound_request(now, id, idx, req, source);
        }
        match req.method {
            Method::Ack => None,
            _ => Some(reject(req, 481, "Call/Transaction Does Not Exist")),
        }
    }

    fn inbound_request(
        &mut self,
        now: u64,
        id: CallId,
        req: &Request,
        source: SocketAddr,
    ) -> Option<Response> {
        match req.method {
            Method::Ack => {
                let call = self.calls.get_mut(&id)?;
                call.inbound.final_tx = None;
                self.reap(id);
                None
            }
            Method::Cancel => {
                let ok = reject(req, 200, "OK");
                let call = self.calls.get(&id)?;
                if call.inbound.final_status.is_none() {
                    self.fail_inbound(now, id, 487, Outcome::Cancelled);
                }
                Some(ok)
            }
            Method::Bye => {
                let call = self.calls.get_mut(&id)?;
                call.inbound.final_tx = None;
                let answered = call.answered;
                call.state = CallState::Ending;
                if let Some(idx) = answered {
                    self.bye_outbound(now, id, idx);
                } else {
                    self.cancel_outbound(now, id, None);
                }
                self.end(id, Outcome::Completed { hung_up_by: Side::Caller });
                self.reap(id);
                Some(reject(req, 200, "OK"))
            }
            Method::Invite => Some(self.reinvite(id, Side::Caller, req, source)),
            Method::Info => Some(self.info(id, Side::Caller, req)),
            _ => Some(reject(req, 200, "OK")),
        }
    }

    fn outbound_request(
        &mut self,
        now: u64,
        id: CallId,
        idx: usize,
        req: &Request,
        source: SocketAddr,
    ) -> Option<Response> {
        match req.method {
            Method::Ack => None,
            Method::Bye => {
                let call = self.calls.get_mut(&id)?;
                if let Some(o) = call.outbound.get_mut(idx) {
                    o.state = OutState::Done;
                    o.tx = None;
                }
                call.state = CallState::Ending;
                self.bye_inbound(now, id);
                self.end(id, Outcome::Completed { hung_up_by: Side::Callee });
                self.reap(id);
                Some(reject(req, 200, "OK"))
            }
            Method::Invite => Some(self.reinvite(id, Side::Callee, req, source)),
            Method::Info => Some(self.info(id, Side::Callee, req)),
            _ => Some(reject(req, 200, "OK")),
        }
    }

    /// SIP INFO: a DTMF digit (application/dtmf-relay or application/dtmf) is reported.
    fn info(&mut self, id: CallId, side: Side, req: &Request) -> Response {
        let ct = req.headers.get("Content-Type").unwrap_or_default();
        if let Some(digit) = crate::media::dtmf::info_digit(ct, &String::from_utf8_lossy(&req.body)) {
            self.events.push_back(CallEvent::Dtmf { call: id, side, digit });
        }
        reject(req, 200, "OK")
    }

    /// Hold, resume or a new address from one side: answered from our anchored media.
    fn reinvite(&mut self, id: CallId, side: Side, req: &Request, source: SocketAddr) -> Response {
        let Some(call) = self.calls.get_mut(&id) else {
            return reject(req, 481, "Call/Transaction Does Not Exist");
        };
        let (Some(media), Some(_)) = (call.media, call.answered) else {
            return reject(req, 491, "Request Pending");
        };
        let offer = match std::str::from_utf8(&req.body).ok().map(sdp::parse_audio) {
            Some(Ok(o)) => o,
            _ => return reject(req, 488, "Not Acceptable Here"),
        };
        let local_addr = if side == Side::Caller { media.a } else { media.b };
        let Some(answer) = sdp::answer(&offer, local_addr, &SUPPORTED) else {
            return reject(req, 488, "Not Acceptable Here");
        };
        let version = match side {
            Side::Caller => {
                call.inbound.sdp_version += 1;
                call.inbound.sdp_version
            }
            Side::Callee => {
                let o = &mut call.outbound[call.answered.unwrap_or(0)];
                o.sdp_version += 1;
                o.sdp_version
            }
        };
        let mut resp = Response::for_request(req, 200, None);
        if let Some(top) = resp.headers.get_all("Via").first().map(|v| v.to_string()) {
            resp.headers.remove_first("Via");
            resp.headers.push_front("Via", Via::stamp(&top, source));
        }
        resp.headers.push("Contact", format!("<sip:switchboard@{}>", self.local));
        resp.headers.push("Content-Type", "application/sdp");
        resp.body = sdp::write(&answer, id.0, version).into_bytes();
        let call = self.calls.get(&id).expect("exists");
        let remote = if offer.direction == Direction::SendRecv || offer.direction == Direction::RecvOnly {
            offer.remote()
        } else {
            None
        };
        let (a_remote, b_remote) = match side {
            Side::Caller => {
                (remote, call.answered.and_then(|i| call.outbound.get(i)).map(|_| None).unwrap_or(None))
            }
            Side::Callee => (None, remote),
        };
        // Report only the side that changed; the other keeps its address (`None` means unchanged here).
        self.events.push_back(CallEvent::Media {
            call: id,
            a_remote: if side == Side::Caller { a_remote } else { call.inbound.offer.remote() },
            b_remote: if side == Side::Callee { b_remote } else { None },
            payload_type: call.payload_type,
            a_dtmf: call.inbound.offer.telephone_event(),
            b_dtmf: Some(101),
        });
        resp
    }

    fn bye_inbound(&mut self, now: u64, id: CallId) {
        let (via, _) = self.via();
        let Some(call) = self.calls.get_mut(&id) else { return };
        if call.inbound.final_status.is_none_or(|s| s >= 300) {
            // Not answered: a final response ends it instead.
            let _ = call;
            self.fail_inbound(now, id, 487, Outcome::Cancelled);
            return;
        }
        call.inbound.local_cseq += 1;
        let inv = &call.inbound.invite;
        let mut req = Request::new(Method::Bye, call.inbound.remote_target.clone());
        req.headers.push("Via", via);
        req.headers.push("Max-Forwards", "70");
        let to_with_tag =
            format!("{};tag={}", inv.headers.get("To").unwrap_or_default(), call.inbound.local_tag);
        req.headers.push("From", to_with_tag);
        req.headers.push("To", inv.headers.get("From").unwrap_or_default());
        req.headers.push("Call-ID", call.inbound.call_id.clone());
        req.headers.push("CSeq", format!("{} BYE", call.inbound.local_cseq));
        let bytes = req.to_bytes();
        let to = call.inbound.source;
        call.byes.push((call.inbound.call_id.clone(), Retransmit::new(bytes.clone(), to, now, T2)));
        self.out.push_back((to, bytes));
    }

    fn bye_outbound(&mut self, now: u64, id: CallId, idx: usize) {
        let (via, _) = self.via();
        let Some(call) = self.calls.get_mut(&id) else { return };
        let Some(o) = call.outbound.get_mut(idx) else { return };
        o.cseq += 1;
        o.state = OutState::Done;
        let mut req = Request::new(Method::Bye, o.remote_target.clone().unwrap_or_else(|| o.contact.clone()));
        req.headers.push("Via", via);
        req.headers.push("Max-Forwards", "70");
        req.headers.push("From", format!("{};tag={}", o.from, o.local_tag));
        req.headers.push("To", format!("{};tag={}", o.to, o.remote_tag.clone().unwrap_or_default()));
        req.headers.push("Call-ID", o.call_id.clone());
        req.headers.push("CSeq", format!("{} BYE", o.cseq));
        let bytes = req.to_bytes();
        let to = o.peer;
        call.byes.push((o.call_id.clone(), Retransmit::new(bytes.clone(), to, now, T2)));
        self.out.push_back((to, bytes));
    }

    /// A response from a callee (to our INVITE, CANCEL or BYE).
    pub fn handle_response(&mut self, now: u64, resp: &Response) {
        let Some(call_id) = resp.headers.get("Call-ID") else { return };
        let Some((method, cseq)) =
            resp.headers.get("CSeq").and_then(|c| header::cseq(c).ok()).map(|(n, m)| (m, n))
        else {
            return;
        };
        // Responses to our BYEs towards the caller carry the caller's Call-ID.
        let Some(&(id, idx)) = self.by_outbound.get(call_id) else {
            if method == "BYE" {
                if let Some(id) =
                    self.calls.iter().find(|(_, c)| c.inbound.call_id == call_id).map(|(id, _)| *id)
                {
                    self.bye_done(id, cseq, call_id);
                }
            }
            return;
        };
        match method.as_str() {
            "INVITE" => self.invite_response(now, id, idx, resp),
            "BYE" | "CANCEL" => self.bye_done(id, cseq, call_id),
            _ => {}
        }
    }

    fn bye_done(&mut self, id: CallId, _cseq: u32, _call_id: &str) {
        if let Some(call) = self.calls.get_mut(&id) {
            // Any answer to a BYE/CANCEL ends its retransmission; match by Call-ID is enough here.
            call.byes.retain(|(_, r)| {
                !String::from_utf8_lossy(&r.bytes).contains(&format!("Call-ID: {_call_id}"))
            });
        }
        self.reap(id);
    }

    fn invite_response(&mut self, now: u64, id: CallId, idx: usize, resp: &Response) {
        let status = resp.status;
        let to_tag = resp
            .headers
            .get("To")
            .and_then(|v| NameAddr::parse(v).ok())
            .and_then(|t| t.tag().map(str::to_string));
        let Some(call) = self.calls.get_mut(&id) else { return };
        let Some(o) = call.outbound.get_mut(idx) else { return };
        if status < 200 {
            if o.state == OutState::Calling {
                o.state = OutState::Proceeding;
            }
            o.tx = None;
            if status > 100 {
                o.got_provisional = true;
                if o.remote_tag.is_none() {
                    o.remote_tag = to_tag;
                }
            }
            if o.cancel_pending && o.got_provisional {
                o.cancel_pending = false;
                let (to, req) = cancel_of(o);
                o.state = OutState::Done;
                let bytes = req.to_bytes();
                call.byes.push((o.call_id.clone(), Retransmit::new(bytes.clone(), to, now, T2)));
                self.out.push_back((to, bytes));
                return;
            }
            if (status == 180 || status == 183)
                && call.state == CallState::Ringing
                && call.inbound.last_provisional.as_ref().is_none_or(|p| p.starts_with(b"SIP/2.0 100"))
            {
                let ringing = self.inbound_response(self.calls.get(&id).expect("exists"), 180);
                let to = self.calls[&id].inbound.source;
                let bytes = self.send_response(to, &ringing);
                self.calls.get_mut(&id).expect("exists").inbound.last_provisional = Some(bytes);
                self.events.push_back(CallEvent::Ringing { call: id });
            }
            return;
        }
        if (200..300).contains(&status) {
            o.tx = None;
            o.remote_tag = to_tag.or(o.remote_tag.take());
            o.remote_target = resp.headers.get("Contact").map(uri_of).or(o.remote_target.take());
            // ACK every 2xx (retransmissions included), to the callee's Contact.
            let ack = match &o.ack {
                Some(a) => a.clone(),
                None => {
                    let a = self.build_ack_2xx(id, idx);
                    self.calls.get_mut(&id).expect("exists").outbound[idx].ack = Some(a.clone());
                    a
                }
            };
            let peer = self.calls[&id].outbound[idx].peer;
            self.out.push_back((peer, ack));
            let call = self.calls.get_mut(&id).expect("exists");
            if call.answered == Some(idx) {
                return; // a retransmitted 2xx
            }
            if call.answered.is_some() || call.state != CallState::Ringing {
                // Too late: someone else answered or the caller left. Hang this leg up.
                call.outbound[idx].state = OutState::Answered;
                self.bye_outbound(now, id, idx);
                return;
            }
            let answer = std::str::from_utf8(&resp.body).ok().and_then(|b| sdp::parse_audio(b).ok());
            let Some(answer) = answer else {
                call.outbound[idx].state = OutState::Answered;
                self.bye_outbound(now, id, idx);
                return self.fail_inbound(now, id, 488, Outcome::Rejected(488));
            };
            let Some((codec, _)) = answer.codecs().first().copied() else {
                call.outbound[idx].state = OutState::Answered;
                self.bye_outbound(now, id, idx);
                return self.fail_inbound(now, id, 488, Outcome::Rejected(488));
            };
            call.outbound[idx].state = OutState::Answered;
            call.answered = Some(idx);
            call.state = CallState::Answered;
            call.ring_deadline = None;
            call.payload_type = codec.static_pt();
            let media = call.media.expect("ringing calls have media");
            let a_pt = call
                .inbound
                .offer
                .codecs()
                .into_iter()
                .find(|(c, _)| *c == codec)
                .map(|(_, pt)| pt)
                .unwrap_or(codec.static_pt());
            let local = LocalAudio {
                address: media.a,
                codecs: vec![(codec, a_pt)],
                telephone_event: call.inbound.offer.telephone_event(),
                direction: Direction::SendRecv,
            };
            let contact = call.outbound[idx].contact.clone();
            let mut ok = self.inbound_response(self.calls.get(&id).expect("exists"), 200);
            ok.headers.push("Content-Type", "application/sdp");
            ok.body = sdp::write(&local, id.0, 1).into_bytes();
            let source = self.calls[&id].inbound.source;
            let bytes = self.send_response(source, &ok);
            let call = self.calls.get_mut(&id).expect("exists");
            call.inbound.final_status = Some(200);
            call.inbound.final_bytes = Some(bytes.clone());
            call.inbound.final_tx = Some(Retransmit::new(bytes, source, now, T2));
            self.events.push_back(CallEvent::Media {
                call: id,
                a_remote: call.inbound.offer.remote(),
                b_remote: answer.remote(),
                payload_type: codec.static_pt(),
                a_dtmf: call.inbound.offer.telephone_event(),
                b_dtmf: answer.telephone_event(),
            });
            self.events.push_back(CallEvent::Answered { call: id, contact });
            self.cancel_outbound(now, id, Some(idx));
            return;
        }
        // A carrier's challenge: ACK it and send the INVITE again with credentials, once.
        if (status == 401 || status == 407)
            && o.credentials.is_some()
            && !o.auth_tried
            && o.state != OutState::Done
        {
            let ack = ack_non_2xx(o, resp);
            let peer = o.peer;
            self.out.push_back((peer, ack));
            let (via, _) = self.via();
            let call = self.calls.get_mut(&id).expect("exists");
            let o = &mut call.outbound[idx];
            let (header, value) = if status == 401 {
                ("Authorization", "WWW-Authenticate")
            } else {
                ("Proxy-Authorization", "Proxy-Authenticate")
            };
            let (user, password) = o.credentials.clone().unwrap_or_default();
            let answer = resp.headers.get(value).and_then(|ch| {
                super::digest::answer(
                    ch,
                    "INVITE",
                    &o.invite.uri,
                    &user,
                    &password,
                    &format!("{:x}", now ^ 0x5eed),
                    1,
                )
            });
            if let Some(answer) = answer {
                o.auth_tried = true;
                o.cseq += 1;
                let mut again = o.invite.clone();
                again.headers.set("Via", via);
                again.headers.set("CSeq", format!("{} INVITE", o.cseq));
                again.headers.set(header, answer);
                let bytes = again.to_bytes();
                o.invite = again;
                o.state = OutState::Calling;
                o.tx = Some(Retransmit::new(bytes.clone(), peer, now, u64::MAX));
                self.out.push_back((peer, bytes));
                return;
            }
        }
        let Some(call) = self.calls.get_mut(&id) else { return };
        let Some(o) = call.outbound.get_mut(idx) else { return };
        // 3xx-6xx: ACK in the INVITE's transaction, then see whether anyone is left ringing.
        let ack = ack_non_2xx(o, resp);
        let peer = o.peer;
        let first = o.state != OutState::Done || o.tx.is_some();
        o.tx = None;
        o.state = OutState::Done;
        self.out.push_back((peer, ack));
        if !first {
            return;
        }
        call.failure = Some(pick_failure(call.failure, status));
        let everyone_failed = call.outbound.iter().all(|o| o.state == OutState::Done);
        if everyone_failed && call.answered.is_none() && call.inbound.final_status.is_none() {
            let status = call.failure.unwrap_or(480);
            let outcome =
                if status == 486 || status == 600 { Outcome::Busy } else { Outcome::Rejected(status) };
            let forward = if status == 487 { 480 } else { status };
            self.fail_inbound(now, id, forward, outcome);
        }
        self.reap(id);
    }

    fn build_ack_2xx(&mut self, id: CallId, idx: usize) -> Vec<u8> {
        let (via, _) = self.via();
        let o = &self.calls[&id].outbound[idx];
        let mut ack = Request::new(Method::Ack, o.remote_target.clone().unwrap_or_else(|| o.contact.clone()));
        ack.headers.push("Via", via);
        ack.headers.push("Max-Forwards", "70");
        ack.headers.push("From", format!("{};tag={}", o.from, o.local_tag));
        ack.headers.push("To", format!("{};tag={}", o.to, o.remote_tag.clone().unwrap_or_default()));
        ack.headers.push("Call-ID", o.call_id.clone());
        // The ACK carries the CSeq number of the INVITE it acknowledges.
        let invite_cseq = o.invite.headers.get("CSeq").and_then(|c| header::cseq(c).ok()).map_or(1, |c| c.0);
        ack.headers.push("CSeq", format!("{invite_cseq} ACK"));
        ack.to_bytes()
    }

    /// Timers: retransmissions, transaction timeouts and the no-answer timeout.
    pub fn handle_timeout(&mut self, now: u64) {
        let ids: Vec<CallId> = self.calls.keys().copied().collect();
        for id in ids {
            let mut timed_out_legs = Vec::new();
            let mut no_answer = false;
            let mut final_expired = false;
            {
                let Some(call) = self.calls.get_mut(&id) else { continue };
                let out = &mut self.out;
                let mut tick = |r: &mut Retransmit| -> bool {
                    if now >= r.deadline {
                        return false;
                    }
                    if now >= r.next_at {
                        out.push_back((r.to, r.bytes.clone()));
                        r.interval = (r.interval * 2).min(r.cap);
                        r.next_at = now + r.interval;
                    }
                    true
                };
                if let Some(r) = &mut call.inbound.final_tx {
                    if !tick(r) {
                        call.inbound.final_tx = None;
                        final_expired = true;
                    }
                }
                for (i, o) in call.outbound.iter_mut().enumerate() {
                    if let Some(r) = &mut o.tx {
                        if !tick(r) {
                            o.tx = None;
                            if o.state == OutState::Calling {
                                timed_out_legs.push(i);
                            }
                        }
                    }
                }
                call.byes.retain_mut(|(_, r)| tick(r));
                if call.ring_deadline.is_some_and(|d| now >= d) {
                    call.ring_deadline = None;
                    no_answer = call.answered.is_none();
                }
            }
            for i in timed_out_legs {
                let call = self.calls.get_mut(&id).expect("exists");
                call.outbound[i].state = OutState::Done;
                call.failure = Some(pick_failure(call.failure, 408));
                if call.outbound.iter().all(|o| o.state == OutState::Done) && call.answered.is_none() {
                    self.fail_inbound(now, id, 408, Outcome::NoAnswer);
                }
            }
            if no_answer {
                self.fail_inbound(now, id, 480, Outcome::NoAnswer);
            }
            if final_expired {
                // The caller never ACKed our final response (Timer H): give up on the call.
                let answered = self.calls.get(&id).and_then(|c| c.answered);
                if let Some(idx) = answered {
                    if self.calls[&id].state == CallState::Answered {
                        self.calls.get_mut(&id).expect("exists").state = CallState::Ending;
                        self.bye_outbound(now, id, idx);
                        self.end(id, Outcome::Rejected(408));
                    }
                }
            }
            self.reap(id);
        }
    }

    /// Forgets a call once nothing about it is pending.
    fn reap(&mut self, id: CallId) {
        let Some(call) = self.calls.get(&id) else { return };
        let pending = call.inbound.final_tx.is_some()
            || !call.byes.is_empty()
            || call
                .outbound
                .iter()
                .any(|o| o.tx.is_some() || matches!(o.state, OutState::Calling | OutState::Proceeding))
            || matches!(call.state, CallState::Routing | CallState::Ringing | CallState::Answered);
        if pending || !call.ended {
            return;
        }
        let call = self.calls.remove(&id).expect("exists");
        self.by_inbound.remove(&(call.inbound.call_id.clone(), call.inbound.remote_tag.clone()));
        self.by_branch.remove(&call.inbound.branch);
        for o in &call.outbound {
            self.by_outbound.remove(&o.call_id);
        }
    }
}

fn reject(req: &Request, status: u16, reason: &str) -> Response {
    let mut r = Response::for_request(req, status, Some("sb"));
    r.reason = reason.to_string();
    r
}

/// CANCEL for an outbound INVITE (same branch, Request-URI, Call-ID, From, To and CSeq number).
fn cancel_of(o: &Outbound) -> (SocketAddr, Request) {
    let mut req = Request::new(Method::Cancel, o.invite.uri.clone());
    for h in ["Via", "From", "To", "Call-ID"] {
        if let Some(v) = o.invite.headers.get(h) {
            req.headers.push(h, v);
        }
    }
    req.headers.push("Max-Forwards", "70");
    req.headers.push("CSeq", format!("{} CANCEL", o.cseq));
    (o.peer, req)
}

/// ACK for a non-2xx final response: same branch as the INVITE, To with the response's tag.
fn ack_non_2xx(o: &Outbound, resp: &Response) -> Vec<u8> {
    let mut ack = Request::new(Method::Ack, o.invite.uri.clone());
    for h in ["Via", "From", "Call-ID"] {
        if let Some(v) = o.invite.headers.get(h) {
            ack.headers.push(h, v);
        }
    }
    ack.headers.push("To", resp.headers.get("To").unwrap_or_default());
    ack.headers.push("Max-Forwards", "70");
    ack.headers.push("CSeq", format!("{} ACK", o.cseq));
    ack.to_bytes()
}
