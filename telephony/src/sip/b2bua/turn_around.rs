//! Turning a call around, for the blind transfer of a call someone placed: the person who
//! placed it leaves (BYE), and the person they called becomes the call's caller, as if they had
//! called us and we had answered. Their dialog stays as it is (we were its UAC; it is kept in
//! the caller's slot with its headers seen from our side), their media keeps going to the port
//! it goes to, which becomes the call's `a` port: the application swaps its relay's sides to
//! match. A later `Ring` or `Dial` connects someone else to them, and everything the core does
//! with a caller (BYE either way, hold, INFO, REFER refused) works on their dialog.

use super::*;

/// Why a call cannot be turned around.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnRefused {
    /// Not both people are connected (ringing, ended, one of them gone).
    NotConnected,
    /// The person called is a browser: its WebRTC leg belongs to the callee's side.
    CalleeIsBrowser,
}

impl B2bua {
    /// Turns `id` around (see the module's text). The new caller's side is reported with a
    /// `Media` event whose `a_remote` is their address (`b_remote` None: nobody is connected).
    pub fn turn_around(&mut self, now: u64, id: CallId) -> Result<(), TurnRefused> {
        let turned = self.turn(now, id);
        self.touched.push(id);
        self.rearm_touched();
        turned
    }

    fn turn(&mut self, now: u64, id: CallId) -> Result<(), TurnRefused> {
        let call = self.calls.get(&id).ok_or(TurnRefused::NotConnected)?;
        let idx = call.answered.ok_or(TurnRefused::NotConnected)?;
        let connected = !call.ended
            && !call.caller_gone
            && !call.originated
            && call.state == CallState::Answered
            && call.inbound.final_status == Some(200);
        let o = call.outbound.get(idx).ok_or(TurnRefused::NotConnected)?;
        let (Some(answer), Some(remote_tag)) = (o.answer.clone(), o.remote_tag.clone()) else {
            return Err(TurnRefused::NotConnected);
        };
        if !connected {
            return Err(TurnRefused::NotConnected);
        }
        if call.webrtc_b.is_some() {
            return Err(TurnRefused::CalleeIsBrowser);
        }
        // The caller leaves (told first that the transfer they asked for went ahead); their
        // dialog only answers its own BYE from now on.
        self.notify_caller_referrer(id, 200);
        self.bye_inbound(now, id);
        let call = self.calls.get_mut(&id).expect("checked above");
        let old = (call.inbound.call_id.clone(), call.inbound.remote_tag.clone());
        self.by_inbound.remove(&old);
        self.by_branch.remove(&call.inbound.branch);
        self.retired.insert(old, id);
        self.release_caller_browser(id);
        let call = self.calls.get_mut(&id).expect("checked above");
        let o = &mut call.outbound[idx];
        o.state = OutState::Done;
        // Their dialog as the caller's slot keeps it: our INVITE's headers seen from their side
        // (their To with their tag is the "From", our From the "To").
        let mut invite = Request::new(Method::Invite, format!("sip:switchboard@{}", self.local));
        invite.headers.push("From", format!("{};tag={remote_tag}", o.to));
        invite.headers.push("To", o.from.clone());
        invite.headers.push("Call-ID", o.call_id.clone());
        let inbound = Inbound {
            invite,
            source: o.peer,
            transport: o.transport,
            branch: format!("turned-{}", o.call_id),
            call_id: o.call_id.clone(),
            local_tag: o.local_tag.clone(),
            remote_tag: remote_tag.clone(),
            remote_target: o.remote_target.clone().unwrap_or_else(|| o.contact.clone()),
            offer: answer,
            last_provisional: None,
            final_status: Some(200),
            final_bytes: None,
            final_tx: None,
            local_cseq: o.cseq,
            sdp_version: o.sdp_version,
        };
        let leg_call_id = o.call_id.clone();
        self.by_outbound.remove(&leg_call_id);
        self.by_inbound.insert((leg_call_id, remote_tag), id);
        call.inbound = inbound;
        call.answered = None;
        call.answered_by_us = true;
        call.keep_caller = false;
        call.keep_legs = false;
        call.referred = None;
        call.ring_deadline = None;
        call.held = [call.held[1], false];
        call.media = call.media.map(|m| MediaPorts { a: m.b, b: m.a });
        if let Some(target) = call.target.take() {
            release_line(&mut self.lines, &target);
        }
        let call = self.calls.get(&id).expect("checked above");
        self.events.push_back(CallEvent::Media {
            call: id,
            a_remote: Self::caller_media(call),
            b_remote: None,
            payload_type: call.payload_type,
            a_dtmf: call.inbound.offer.telephone_event(),
            b_dtmf: None,
        });
        Ok(())
    }
}
