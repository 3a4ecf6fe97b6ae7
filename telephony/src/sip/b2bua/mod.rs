//! The back-to-back user agent, sans-IO: every call is an inbound leg (we are its UAS) and one
//! or more outbound legs (we are their UAC), each its own dialog. Media is anchored: the SDP we
//! send always points at our own RTP ports, chosen by the application per call.
//!
//! The application decides where calls go ([`RouteDecision`]); this core runs the SIP: INVITE
//! transactions with retransmission timers (RFC 3261 §17), provisional and final responses,
//! ACK, CANCEL, BYE from either side, re-INVITE (hold/resume), forking to every registered
//! contact, no-answer timeout, busy lines, and transfers (REFER; `release_callee`).

use super::header::{self, NameAddr, Via};
use super::message::{Method, Request, Response};
use super::registrar::Registrar;
use crate::sdp::{self, AudioMedia, Codec, Direction, LocalAudio};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;

mod browsers;
mod dialog;
mod ending;
mod messages;
mod originate;
mod parties;
mod responses;
mod ring_group;
mod timers;
mod transfer;
mod turn_around;
mod types;
use messages::{ack_non_2xx, cancel_of, reject};
pub use originate::Originate;
pub use turn_around::TurnRefused;
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
    transport: &'static str,
    to: String,
    /// The From user; the caller's own when unset.
    caller_id: Option<String>,
    credentials: Option<(String, String)>,
    /// The extension rung (its lines count the call once it answers).
    member: Option<(i64, String)>,
    /// A preloaded route set (`Route` headers): the registration's `Path`.
    route: Vec<String>,
}

use timers::Retransmit;

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
    transport: &'static str,
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
    transport: &'static str,
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
    /// A browser: offered our WebRTC description.
    webrtc: bool,
    /// The extension this leg rings (None: a number dialled out).
    member: Option<(i64, String)>,
    /// A final response to our INVITE arrived (a cancelled leg's 487 is still awaited, to be
    /// ACKed, until then).
    finished: bool,
    /// The callee's session description in their 2xx (kept for `turn_around`).
    answer: Option<AudioMedia>,
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
    /// Answered by Switchboard itself (`RouteDecision::Answer`).
    answered_by_us: bool,
    /// When the person connected to a call we answered hangs up, the caller stays with us
    /// (someone listening in left) instead of the call ending.
    keep_caller: bool,
    /// Either person may leave without ending the call, which ends when both have gone (a
    /// conference, a transfer that joined two calls: see `parties.rs`).
    keep_legs: bool,
    /// The caller's dialog is over (they left, or we released them) while the callee stays.
    caller_gone: bool,
    /// Nobody taking a call we have not answered is told to the application (which then
    /// answers it for voicemail or another target, or refuses it) instead of refused at once.
    report_unreached: bool,
    outbound: Vec<Outbound>,
    state: CallState,
    media: Option<MediaPorts>,
    target: Option<(i64, String)>,
    /// A ring group's members while they ring: each holds one of their lines until someone
    /// answers or the ringing stops, so that a member is not rung for more calls than they have
    /// lines.
    ringing_members: Vec<(i64, String)>,
    answered: Option<usize>,
    ring_deadline: Option<u64>,
    failure: Option<u16>,
    /// BYEs and CANCELs awaiting their answer, by Call-ID.
    byes: Vec<(String, Retransmit)>,
    payload_type: u8,
    /// Which sides (caller, callee) hold the call now (by re-INVITE).
    held: [bool; 2],
    /// Why the application refused the call (added to the final response's reason phrase).
    reason: Option<String>,
    /// The callee's leg whose REFER awaits the application (see `release_callee`).
    referred: Option<usize>,
    /// The caller's REFER awaits the application (see `turn_around`, `release`).
    caller_referred: bool,
    /// Browsers' sides of the call (WebRTC legs), once made.
    webrtc_a: Option<WebRtcSide>,
    webrtc_b: Option<WebRtcSide>,
    ended: bool,
    /// The time this call's earliest entry in `B2bua::timers` is for (None: not queued).
    armed: Option<u64>,
    /// Placed by Switchboard itself (see `originate.rs`): no caller's dialog, only the person rung.
    originated: bool,
}

impl Call {
    /// A call that has just begun: its caller's leg, nothing decided yet.
    fn fresh(inbound: Inbound) -> Call {
        Call {
            inbound,
            outbound: Vec::new(),
            answered_by_us: false,
            keep_caller: false,
            keep_legs: false,
            caller_gone: false,
            report_unreached: false,
            state: CallState::Routing,
            media: None,
            target: None,
            ringing_members: Vec::new(),
            answered: None,
            ring_deadline: None,
            failure: None,
            byes: Vec::new(),
            payload_type: 0,
            held: [false; 2],
            reason: None,
            referred: None,
            caller_referred: false,
            webrtc_a: None,
            webrtc_b: None,
            ended: false,
            armed: None,
            originated: false,
        }
    }
}

pub struct B2bua {
    local: SocketAddr,
    prefix: String,
    counter: u64,
    calls: BTreeMap<CallId, Call>,
    by_inbound: HashMap<(String, String), CallId>,
    by_branch: HashMap<String, CallId>,
    by_outbound: HashMap<String, (CallId, usize)>,
    /// Dialogs of callers who left a call that went on without them (`turn_around`), by
    /// (Call-ID, their tag): their BYE is answered, our BYE's answer is taken, nothing else.
    retired: HashMap<(String, String), CallId>,
    out: VecDeque<(SocketAddr, Vec<u8>)>,
    events: VecDeque<CallEvent>,
    /// Calls by when they next need `handle_timeout`; an entry is live only while it matches
    /// the call's `armed` (others are skipped when they come up), so nothing scans all calls.
    timers: BinaryHeap<Reverse<(u64, CallId)>>,
    /// Calls a request or response touched, re-armed when the handler returns.
    touched: Vec<CallId>,
    /// Calls in progress per (account, extension), for the lines limit.
    lines: HashMap<(i64, String), usize>,
    /// Browsers' media (None: browsers' offers are refused with 488, and browsers registered
    /// over WebSocket are offered plain RTP).
    webrtc: Option<Box<dyn WebRtcMedia>>,
}

/// The transports we speak, as static names.
pub(crate) fn static_transport(t: &str) -> &'static str {
    match t.to_ascii_uppercase().as_str() {
        "TCP" => "TCP",
        "WS" => "WS",
        "WSS" => "WSS",
        "TLS" => "TLS",
        _ => "UDP",
    }
}

fn uri_of(name_addr: &str) -> String {
    NameAddr::parse(name_addr).map(|n| n.uri_text).unwrap_or_else(|_| name_addr.to_string())
}

fn release_line(lines: &mut HashMap<(i64, String), usize>, target: &(i64, String)) {
    if let Some(n) = lines.get_mut(target) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            lines.remove(target);
        }
    }
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
            retired: HashMap::new(),
            out: VecDeque::new(),
            events: VecDeque::new(),
            timers: BinaryHeap::new(),
            touched: Vec::new(),
            lines: HashMap::new(),
            webrtc: None,
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
        // The top entry may be stale (the call re-armed or ended): an early wake-up is harmless.
        self.timers.peek().map(|Reverse((t, _))| *t)
    }

    fn via(&mut self, transport: &str) -> (String, String) {
        let branch = format!("z9hG4bK{}", self.next_id("b"));
        (format!("SIP/2.0/{transport} {};branch={branch};rport", self.local), branch)
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
        transport: &'static str,
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
        if offer.webrtc && self.webrtc.is_none() {
            return Some(reject(&req, 488, "Not Acceptable Here (browsers' media is not enabled)"));
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
        let call = Call::fresh(Inbound {
            invite: req,
            source,
            transport,
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
        });
        let trying = self.inbound_response(&call, 100);
        let bytes = self.send_response(source, &trying);
        let mut call = call;
        call.inbound.last_provisional = Some(bytes);
        self.by_inbound.insert((call_id, remote_tag), id);
        self.by_branch.insert(branch, id);
        self.calls.insert(id, call);
        let _ = now;
        self.arm(id);
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
        self.lines.get(&(account, extension.to_string())).copied().unwrap_or(0)
    }

    /// Counts a call against its extension's lines until it ends.
    fn set_target(&mut self, id: CallId, target: (i64, String)) {
        let Some(call) = self.calls.get_mut(&id) else { return };
        if call.ended {
            return;
        }
        if let Some(old) = call.target.replace(target.clone()) {
            release_line(&mut self.lines, &old);
        }
        *self.lines.entry(target).or_default() += 1;
    }

    /// When this call next needs `handle_timeout`, from its pending retransmissions and timers.
    fn next_deadline(call: &Call) -> Option<u64> {
        let retransmits = call
            .inbound
            .final_tx
            .iter()
            .chain(call.outbound.iter().filter_map(|o| o.tx.as_ref()))
            .chain(call.byes.iter().map(|(_, r)| r));
        retransmits.map(|r| r.next_at.min(r.deadline)).chain(call.ring_deadline).min()
    }

    /// Queues the call's next deadline unless an earlier wake-up is already queued for it.
    fn arm(&mut self, id: CallId) {
        let Some(call) = self.calls.get_mut(&id) else { return };
        if let Some(due) = Self::next_deadline(call) {
            if call.armed.is_none_or(|a| due < a) {
                call.armed = Some(due);
                self.timers.push(Reverse((due, id)));
            }
        }
    }

    /// Re-arms the calls the last request or response touched.
    fn rearm_touched(&mut self) {
        while let Some(id) = self.touched.pop() {
            self.arm(id);
        }
        self.prune_timers();
    }

    /// Drops superseded entries from the top of the timer queue, so `poll_timeout` names a
    /// real deadline (amortised: each entry is dropped once).
    fn prune_timers(&mut self) {
        while let Some(Reverse((at, id))) = self.timers.peek() {
            if self.calls.get(id).is_some_and(|c| c.armed == Some(*at)) {
                break;
            }
            self.timers.pop();
        }
    }

    /// The application's decision for an incoming call.
    pub fn route(&mut self, now: u64, id: CallId, decision: RouteDecision, registrar: &Registrar) {
        self.route_call(now, id, decision, registrar);
        self.touched.push(id);
        self.rearm_touched();
    }

    fn route_call(&mut self, now: u64, id: CallId, decision: RouteDecision, registrar: &Registrar) {
        let Some(call) = self.calls.get(&id) else { return };
        // New decisions while routing, or to connect someone to a call we answered ourselves.
        let connecting = call.answered_by_us && call.state == CallState::Answered && call.answered.is_none();
        if call.state != CallState::Routing && !connecting {
            return;
        }
        match decision {
            RouteDecision::Reject { .. } | RouteDecision::Answer { .. } if connecting => {}
            RouteDecision::Reject { status, reason } => {
                if let (Some(call), Some(reason)) = (self.calls.get_mut(&id), reason) {
                    call.reason = Some(reason);
                }
                self.fail_inbound(now, id, status, Outcome::Rejected(status))
            }
            RouteDecision::Answer { media } => self.answer_ourselves(now, id, media),
            RouteDecision::Ring { account, extension, max_lines, ring_timeout_ms, media } => {
                if self.calls_for(account, &extension) >= max_lines {
                    return self.unreached(now, id, 486, Outcome::Busy);
                }
                let contacts: Vec<(String, SocketAddr, &'static str, Vec<String>)> = registrar
                    .contacts(account, &extension)
                    .into_iter()
                    .map(|b| {
                        (
                            b.contact.clone(),
                            b.next_hop(),
                            static_transport(b.next_hop_transport()),
                            b.path.clone(),
                        )
                    })
                    .collect();
                if contacts.is_empty() {
                    return self.unreached(now, id, 480, Outcome::Rejected(480));
                }
                self.set_target(id, (account, extension.clone()));
                let call = self.calls.get_mut(&id).expect("checked above");
                call.media = call.media.or(Some(media));
                // A call's ports stay as first given (a call turned around has them swapped).
                let media = call.media.expect("just set");
                call.state = CallState::Ringing;
                call.ring_deadline = Some(now + ring_timeout_ms);
                let member = Some((account, extension.clone()));
                for (contact, peer, transport, route) in contacts {
                    let to = format!("<sip:{extension}@{}>", self.local.ip());
                    let leg = OutLeg {
                        uri: contact,
                        peer,
                        transport,
                        to,
                        caller_id: None,
                        credentials: None,
                        member: member.clone(),
                        route,
                    };
                    self.add_outbound(now, id, leg, media.b);
                }
            }
            RouteDecision::RingGroup { account, members, ring_timeout_ms, media } => {
                self.ring_group(now, id, account, members, ring_timeout_ms, media, registrar)
            }
            RouteDecision::Dial { uri, peer, caller_id, credentials, ring_timeout_ms, media } => {
                let call = self.calls.get_mut(&id).expect("checked above");
                call.media = call.media.or(Some(media));
                call.state = CallState::Ringing;
                call.ring_deadline = Some(now + ring_timeout_ms);
                let media = call.media.expect("just set");
                let to = format!("<{uri}>");
                self.add_outbound(
                    now,
                    id,
                    OutLeg {
                        uri,
                        peer,
                        transport: "UDP",
                        to,
                        caller_id: Some(caller_id),
                        credentials,
                        member: None,
                        route: Vec::new(),
                    },
                    media.b,
                );
            }
        }
    }

    fn add_outbound(&mut self, now: u64, id: CallId, leg: OutLeg, media_b: SocketAddr) {
        let OutLeg { uri: contact, peer, transport, to, caller_id, credentials, member, route } = leg;
        let call_id = format!("{}@switchboard", self.next_id("c"));
        let local_tag = self.next_id("t");
        let (via, _) = self.via(transport);
        let contact_hdr = self.contact();
        let Some(call) = self.calls.get(&id) else { return };
        let codecs: Vec<(Codec, u8)> = call
            .inbound
            .offer
            .codecs()
            .into_iter()
            .filter(|(c, _)| SUPPORTED.contains(c))
            // A call we answered already has its codec: the callee must use the same one.
            .filter(|(c, _)| !call.answered_by_us || call.originated || c.static_pt() == call.payload_type)
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
        for r in &route {
            req.headers.push("Route", format!("<{r}>"));
        }
        req.headers.push("Max-Forwards", "70");
        req.headers.push("From", format!("{from};tag={local_tag}"));
        req.headers.push("To", to.clone());
        req.headers.push("Call-ID", call_id.clone());
        req.headers.push("CSeq", "1 INVITE");
        req.headers.push("Contact", contact_hdr);
        req.headers.push("Allow", super::server::ALLOW);
        req.headers.push("Content-Type", "application/sdp");
        // A browser (registered over WebSocket, here or with a proxy that holds its connection
        // and says so in its Contact) gets our WebRTC offer when we can make one.
        let over_websocket = matches!(transport, "WS" | "WSS")
            || crate::sip::header::param(&contact, "transport")
                .is_some_and(|t| t.eq_ignore_ascii_case("ws") || t.eq_ignore_ascii_case("wss"));
        let browser = over_websocket && self.webrtc.is_some();
        let webrtc = if browser { self.webrtc_for_callee(id, media_b) } else { None };
        req.body = match &webrtc {
            Some(side) => side.sdp.clone().into_bytes(),
            None => sdp::write(&offer, self.counter, 1).into_bytes(),
        };
        let bytes = req.to_bytes();
        self.out.push_back((peer, bytes.clone()));
        let call = self.calls.get_mut(&id).expect("exists");
        let idx = call.outbound.len();
        call.outbound.push(Outbound {
            peer,
            transport,
            contact,
            call_id: call_id.clone(),
            local_tag,
            remote_tag: None,
            remote_target: None,
            from,
            to,
            cseq: 1,
            invite: req,
            tx: Some(Retransmit::new(bytes, peer, now, u64::MAX).over(transport)),
            state: OutState::Calling,
            got_provisional: false,
            cancel_pending: false,
            ack: None,
            sdp_version: 1,
            credentials,
            auth_tried: false,
            webrtc: webrtc.is_some(),
            member,
            finished: false,
            answer: None,
        });
        self.by_outbound.insert(call_id, (id, idx));
    }

    /// Answers the caller with our own media (no callee yet).
    fn answer_ourselves(&mut self, now: u64, id: CallId, media: MediaPorts) {
        let Some(call) = self.calls.get(&id) else { return };
        let Some((codec, a_pt)) =
            call.inbound.offer.codecs().into_iter().find(|(c, _)| SUPPORTED.contains(c))
        else {
            return self.fail_inbound(now, id, 488, Outcome::Rejected(488));
        };
        let local = LocalAudio {
            address: media.a,
            codecs: vec![(codec, a_pt)],
            telephone_event: call.inbound.offer.telephone_event(),
            direction: Direction::SendRecv,
        };
        let body = if call.inbound.offer.webrtc {
            match self.webrtc_for_caller(id, media.a) {
                Some(side) => side.sdp,
                None => return self.fail_inbound(now, id, 488, Outcome::Rejected(488)),
            }
        } else {
            sdp::write(&local, id.0, 1)
        };
        let call = self.calls.get(&id).expect("exists");
        let mut ok = self.inbound_response(call, 200);
        ok.headers.push("Content-Type", "application/sdp");
        ok.body = body.into_bytes();
        let source = call.inbound.source;
        let bytes = self.send_response(source, &ok);
        let call = self.calls.get_mut(&id).expect("exists");
        call.inbound.final_status = Some(200);
        call.inbound.final_bytes = Some(bytes.clone());
        call.inbound.final_tx = Some(Retransmit::new(bytes, source, now, T2));
        call.answered_by_us = true;
        call.state = CallState::Answered;
        call.media = Some(media);
        call.payload_type = codec.static_pt();
        self.events.push_back(CallEvent::Media {
            call: id,
            a_remote: Self::caller_media(call),
            b_remote: None,
            payload_type: codec.static_pt(),
            a_dtmf: call.inbound.offer.telephone_event(),
            b_dtmf: None,
        });
        self.events.push_back(CallEvent::Answered {
            call: id,
            contact: "switchboard".into(),
            extension: None,
        });
    }

    /// Nobody can take the call: refuse it, or, when we answered it, tell the application.
    fn unreached(&mut self, now: u64, id: CallId, status: u16, outcome: Outcome) {
        let Some(call) = self.calls.get_mut(&id) else { return };
        if call.originated {
            // Nobody to send on: a call we placed ends when nobody takes it.
            return self.originated_unreached(now, id, outcome);
        }
        if call.answered_by_us {
            call.state = CallState::Answered;
            call.ring_deadline = None;
            self.events.push_back(CallEvent::Unreached { call: id, status });
            self.cancel_outbound(now, id, None);
            // Whoever is rung next gets a fresh offer if a browser.
            self.release_callee_browser(id);
        } else if call.report_unreached && call.inbound.final_status.is_none() {
            // The caller keeps waiting (no final response) for the application's next decision.
            call.report_unreached = false;
            call.state = CallState::Routing;
            call.ring_deadline = None;
            self.events.push_back(CallEvent::Unreached { call: id, status });
            self.cancel_outbound(now, id, None);
        } else {
            self.fail_inbound(now, id, status, outcome);
        }
    }

    /// Whether the caller of a call we answered stays when the person connected to it hangs up
    /// (`CallEvent::CalleeLeft`) rather than the call ending.
    pub fn keep_caller(&mut self, id: CallId, keep: bool) {
        if let Some(call) = self.calls.get_mut(&id) {
            call.keep_caller = keep && call.answered_by_us;
        }
    }

    /// Whether nobody taking this (not yet answered) call is reported as `CallEvent::Unreached`
    /// so that the application can send it on (an agent's no-answer forwarding), rather than
    /// refused at once. Applies to the next ring only.
    pub fn report_unreached(&mut self, id: CallId, report: bool) {
        if let Some(call) = self.calls.get_mut(&id) {
            call.report_unreached = report && !call.answered_by_us;
        }
    }

    /// Stops ringing whoever is rung for a call we answered (the caller chose something else
    /// meanwhile): CANCEL to them, and `CallEvent::Unreached` (487) for the application, the
    /// caller staying with us. Nothing happens once someone answered or the call ended.
    pub fn stop_ringing(&mut self, now: u64, id: CallId) {
        let Some(call) = self.calls.get(&id) else { return };
        let ringing = call.answered.is_none()
            && !call.ended
            && call.outbound.iter().any(|o| matches!(o.state, OutState::Calling | OutState::Proceeding));
        if call.answered_by_us && ringing {
            self.unreached(now, id, 487, Outcome::NoAnswer);
            self.touched.push(id);
            self.rearm_touched();
        }
    }
}
