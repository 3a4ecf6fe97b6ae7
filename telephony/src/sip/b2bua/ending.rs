//! How calls end: hung up from our side, refused, cancelled; and the CANCELs of legs still
//! ringing.

use super::*;

impl B2bua {
    /// Hangs the call up from our side: BYE to whoever is connected, CANCEL to whoever rings.
    pub fn hangup(&mut self, now: u64, id: CallId) {
        self.hang_up(now, id);
        self.touched.push(id);
        self.rearm_touched();
    }

    pub(super) fn hang_up(&mut self, now: u64, id: CallId) {
        let Some(call) = self.calls.get_mut(&id) else { return };
        if call.ended {
            return;
        }
        let answered = call.answered;
        let caller_answered = call.inbound.final_status == Some(200);
        call.state = CallState::Ending;
        call.ring_deadline = None;
        if let Some(idx) = answered {
            self.bye_outbound(now, id, idx);
        } else {
            self.cancel_outbound(now, id, None);
        }
        if caller_answered {
            if !self.calls.get(&id).is_some_and(|c| c.caller_gone) {
                self.bye_inbound(now, id);
            }
            // A call we placed that nobody took yet was called off, not hung up.
            let called_off = self.calls.get(&id).is_some_and(|c| c.originated) && answered.is_none();
            self.end(id, if called_off { Outcome::Cancelled } else { Outcome::HungUpBySystem });
        } else {
            self.fail_inbound(now, id, 480, Outcome::Rejected(480));
        }
        self.reap(id);
    }

    /// Sends a final non-2xx to the caller and ends the call.
    pub(super) fn fail_inbound(&mut self, now: u64, id: CallId, status: u16, outcome: Outcome) {
        let Some(call) = self.calls.get(&id) else { return };
        if call.inbound.final_status.is_some() {
            return;
        }
        let mut resp = self.inbound_response(call, status);
        if let Some(reason) = &call.reason {
            // One line of text: what the application said, without control characters.
            let clean: String = reason.chars().filter(|c| !c.is_control()).take(120).collect();
            resp.reason = format!("{} ({clean})", resp.reason);
        }
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

    pub(super) fn end(&mut self, id: CallId, outcome: Outcome) {
        if let Some(call) = self.calls.get_mut(&id) {
            if !call.ended {
                call.ended = true;
                if let Some(target) = &call.target {
                    release_line(&mut self.lines, target);
                }
                for member in std::mem::take(&mut call.ringing_members) {
                    release_line(&mut self.lines, &member);
                }
                if call.webrtc_a.is_some() || call.webrtc_b.is_some() {
                    if let Some(media) = self.webrtc.as_mut() {
                        media.release(id, None);
                    }
                }
                self.events.push_back(CallEvent::Ended { call: id, outcome });
            }
        }
    }

    /// CANCELs every outbound leg still ringing except `keep`.
    pub(super) fn cancel_outbound(&mut self, now: u64, id: CallId, keep: Option<usize>) {
        // Whoever is still rung stops ringing: a ring group's members have their lines back.
        self.stop_ringing_members(id);
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
            let (to, req) = cancel_of(o);
            sends.push((to, req, o.transport));
            o.state = OutState::Done;
        }
        for (to, req, transport) in sends {
            let bytes = req.to_bytes();
            self.out.push_back((to, bytes.clone()));
            let call_id = req.headers.get("Call-ID").unwrap_or_default().to_string();
            let call = self.calls.get_mut(&id).expect("exists");
            call.byes.push((call_id, Retransmit::new(bytes, to, now, T2).over(transport)));
        }
    }
}
