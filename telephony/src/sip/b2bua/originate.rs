//! Calls Switchboard places itself, e.g. a supervisor's phone rung to listen in on a call. There
//! is no caller's dialog: the call is "answered by us" from the start with its caller already
//! gone, and the person rung is its callee (side `b` of its media). The application connects
//! that side to whatever it wants (a conference's bridge). The call ends when the person hangs
//! up, when nobody takes it (busy, no answer, nobody registered: `CallEvent::Ended` with that
//! outcome), or when the application hangs it up.

use super::*;

/// What a call we place shows the person rung.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Originate {
    /// The From user (a number or a code) and display name the phone shows.
    pub from_user: String,
    pub from_display: Option<String>,
    /// Whom to ring: `Ring`, `RingGroup` or `Dial` (others are refused).
    pub decision: RouteDecision,
}

/// Characters a From user or display name keeps (nothing that could break the header).
fn clean(text: &str, extra: &[char]) -> String {
    text.chars().filter(|c| c.is_ascii_alphanumeric() || extra.contains(c)).take(64).collect()
}

impl B2bua {
    /// Places a call: rings whom `o.decision` names and reports it like a callee of a call we
    /// answered (`Ringing`, `Media` with `b_remote`, `Answered`; `Ended` when it is over). None
    /// when the decision does not ring anyone.
    pub fn originate(&mut self, now: u64, o: Originate, registrar: &Registrar) -> Option<CallId> {
        let media = match &o.decision {
            RouteDecision::Ring { media, .. }
            | RouteDecision::RingGroup { media, .. }
            | RouteDecision::Dial { media, .. } => *media,
            RouteDecision::Answer { .. } | RouteDecision::Reject { .. } => return None,
        };
        self.counter += 1;
        let id = CallId(self.counter);
        let user = clean(&o.from_user, &['+', '*', '#', '-', '.', '_']);
        let user = if user.is_empty() { "switchboard".to_string() } else { user };
        let display = o.from_display.as_deref().map(|d| clean(d, &[' ', '-', '.', ',', ':', '\'', '+']));
        let display =
            display.filter(|d| !d.trim().is_empty()).map(|d| format!("\"{d}\" ")).unwrap_or_default();
        // The caller's side as the rest of the core reads it: our own offer (the codecs the
        // person's phone may choose from), a From to show, and a dialog that never was.
        let mut invite = Request::new(Method::Invite, format!("sip:switchboard@{}", self.local));
        invite.headers.push("From", format!("{display}<sip:{user}@{}>", self.local.ip()));
        let ours = LocalAudio {
            address: media.a,
            codecs: SUPPORTED.iter().map(|c| (*c, c.static_pt())).collect(),
            telephone_event: Some(101),
            direction: Direction::SendRecv,
        };
        let offer = sdp::parse_audio(&sdp::write(&ours, id.0, 1)).ok()?;
        let tag = self.next_id("o");
        let mut call = Call::fresh(Inbound {
            invite,
            source: self.local,
            transport: "UDP",
            branch: format!("originated-{tag}"),
            call_id: format!("originated-{tag}"),
            local_tag: tag.clone(),
            remote_tag: tag,
            remote_target: String::new(),
            offer,
            last_provisional: None,
            final_status: Some(200),
            final_bytes: None,
            final_tx: None,
            local_cseq: 1,
            sdp_version: 1,
        });
        call.originated = true;
        call.answered_by_us = true;
        call.caller_gone = true;
        call.state = CallState::Answered;
        call.media = Some(media);
        call.payload_type = SUPPORTED[0].static_pt();
        self.calls.insert(id, call);
        self.route(now, id, o.decision, registrar);
        Some(id)
    }

    /// Nobody took a call we placed: it ends with why.
    pub(super) fn originated_unreached(&mut self, now: u64, id: CallId, outcome: Outcome) {
        let Some(call) = self.calls.get_mut(&id) else { return };
        call.state = CallState::Ending;
        call.ring_deadline = None;
        self.cancel_outbound(now, id, None);
        self.end(id, outcome);
        self.reap(id);
    }
}
