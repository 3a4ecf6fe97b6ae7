//! What the B2BUA tells the application, and what the application decides.

use std::net::SocketAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub u64);

impl std::fmt::Display for CallId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "call-{}", self.0)
    }
}

/// Who placed a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// An authenticated phone of ours.
    User { account: i64, extension: String },
    /// A trusted carrier (by source address); the accounts that use it.
    Trunk { accounts: Vec<i64> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingCall {
    pub call: CallId,
    pub caller: Caller,
    /// The dialled user part of the Request-URI (an extension or a number).
    pub dialled: String,
    /// The caller's user part (From) and display name.
    pub from_user: Option<String>,
    pub from_display: Option<String>,
    pub source: SocketAddr,
}

/// Our RTP addresses for a call: `a` faces the caller, `b` faces the callee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaPorts {
    pub a: SocketAddr,
    pub b: SocketAddr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteDecision {
    /// Ring every registered contact of an extension.
    Ring { account: i64, extension: String, max_lines: usize, ring_timeout_ms: u64, media: MediaPorts },
    /// Ring every registered contact of several extensions at once (a queue's ring-all): the
    /// first to answer takes the call (`CallEvent::Answered` says which extension) and the
    /// others stop ringing. `members` are (extension, lines); one whose lines are all in use is
    /// left out, and when every member is, the call is busy (486).
    RingGroup { account: i64, members: Vec<(String, usize)>, ring_timeout_ms: u64, media: MediaPorts },
    /// Call one SIP destination, e.g. a number through a carrier trunk.
    Dial {
        /// The Request-URI, e.g. `sip:+12025550123@carrier.example`.
        uri: String,
        /// Where to send the INVITE.
        peer: SocketAddr,
        /// Caller ID presented (the From user), e.g. the business number.
        caller_id: String,
        /// Digest credentials, used if the carrier challenges.
        credentials: Option<(String, String)>,
        ring_timeout_ms: u64,
        media: MediaPorts,
    },
    Reject {
        status: u16,
        /// Why, for the caller's phone to show: added to the reason phrase.
        reason: Option<String>,
    },
    /// Answer the caller ourselves (IVR, announcements, voicemail, AI agents): media flows
    /// between the caller and our `a` port. A later `Ring` or `Dial` connects someone to the
    /// answered call.
    Answer { media: MediaPorts },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    Caller,
    Callee,
}

/// How a call ended, as the application records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Answered, then hung up by one side.
    Completed {
        hung_up_by: Side,
    },
    Busy,
    NoAnswer,
    /// The caller gave up before an answer.
    Cancelled,
    /// Refused by the application or the callee, with the status sent to the caller.
    Rejected(u16),
    /// Answered, then hung up by Switchboard (the application ended it).
    HungUpBySystem,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallEvent {
    Incoming(IncomingCall),
    Ringing {
        call: CallId,
    },
    Answered {
        call: CallId,
        contact: String,
        /// The extension whose phone answered (a `Ring` or `RingGroup`); None for a number
        /// dialled out or a call we answered ourselves.
        extension: Option<String>,
    },
    /// Where each side's media goes now (None: nowhere, e.g. on hold). `payload_type` is the
    /// negotiated codec on both sides; DTMF event types per side.
    Media {
        call: CallId,
        a_remote: Option<SocketAddr>,
        b_remote: Option<SocketAddr>,
        payload_type: u8,
        a_dtmf: Option<u8>,
        b_dtmf: Option<u8>,
    },
    Ended {
        call: CallId,
        outcome: Outcome,
    },
    /// A digit sent by SIP INFO (RTP events and in-band tones are heard by the media relay).
    Dtmf {
        call: CallId,
        side: Side,
        digit: char,
    },
    /// Nobody took a call we had already answered (busy, no answer, not reachable): the
    /// application decides what the caller hears next.
    Unreached {
        call: CallId,
        status: u16,
    },
    /// One side put the call on hold (`on`), or took it off hold, by re-INVITE: the other side
    /// should hear hold music meanwhile.
    Hold {
        call: CallId,
        side: Side,
        on: bool,
    },
    /// The person connected to a call we answered hung up, and the call keeps its caller
    /// (`keep_caller`): the caller is still with the application.
    CalleeLeft {
        call: CallId,
    },
    /// The person connected to the call asked (REFER, answered 202) to transfer the caller to
    /// `target` (the Refer-To user: an extension or a number). The application sends the
    /// caller there (`B2bua::release_callee`, then a route) or hangs up on the transferor.
    TransferRequested {
        call: CallId,
        side: Side,
        target: String,
    },
    /// The person connected to the call asked (REFER with Replaces, answered 202) to join the
    /// caller with whoever they are talking to on their other call, `replaces` (an attended
    /// transfer from a desk phone). The application joins them (`release` of the transferor on
    /// both calls) or refuses (`refuse_transfer`).
    AttendedTransferRequested {
        call: CallId,
        replaces: CallId,
    },
    /// In a call that keeps its legs (`B2bua::keep_legs`), one person hung up and the other
    /// stays on (the call ends when both have gone).
    LegLeft {
        call: CallId,
        side: Side,
    },
}

/// A browser's side of a call as the B2BUA sees it: our session description for the browser,
/// and the address that stands for the browser toward the relay (the relay itself drives the
/// browser's leg; the address marks that side as reached).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebRtcSide {
    pub sdp: String,
    pub relay_peer: SocketAddr,
}

/// What the B2BUA needs to carry browsers' calls (ICE, DTLS-SRTP, Opus): the driver implements
/// it with sockets and tasks (`media::gateway`); tests with a script. `relay` is our relay's
/// socket for that side of the call.
pub trait WebRtcMedia: Send {
    /// Answers a browser's offer.
    fn answer(
        &mut self,
        call: CallId,
        side: Side,
        relay: SocketAddr,
        offer: &str,
    ) -> Result<WebRtcSide, String>;
    /// Makes an offer for a browser.
    fn offer(&mut self, call: CallId, side: Side, relay: SocketAddr) -> Result<WebRtcSide, String>;
    /// The browser's answer to our offer.
    fn accept_answer(&mut self, call: CallId, side: Side, answer: &str) -> Result<(), String>;
    /// The side (or, with `None`, the whole call) is over: its sockets and task go.
    fn release(&mut self, call: CallId, side: Option<Side>);
}
