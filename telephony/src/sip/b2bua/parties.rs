//! Calls whose two people may leave one at a time: a conference (each call's remaining person
//! is a party of a bridge the application runs), a warm transfer (two calls' remaining people
//! joined, the agent gone from both). The application marks such a call (`keep_legs`) and may
//! release either person itself (`release`); a person who hangs up is reported
//! (`CallEvent::LegLeft`) while the other stays; the call ends when both have gone.

use super::*;

impl B2bua {
    /// Lets either person of a connected call leave without ending it (or stops doing so).
    pub fn keep_legs(&mut self, id: CallId, keep: bool) {
        if let Some(call) = self.calls.get_mut(&id) {
            call.keep_legs = keep;
        }
    }

    /// Sends one person of a connected call away (BYE) while the other stays: the call then
    /// keeps its legs (see `keep_legs`). False when that person is not connected, or is the
    /// only one left (hang the call up instead).
    pub fn release(&mut self, now: u64, id: CallId, side: Side) -> bool {
        let Some(call) = self.calls.get_mut(&id) else { return false };
        let both = call.answered.is_some()
            && !call.caller_gone
            && !call.ended
            && call.state == CallState::Answered
            && call.inbound.final_status == Some(200);
        if !both {
            return false;
        }
        call.keep_legs = true;
        match side {
            Side::Caller => {
                self.notify_caller_referrer(id, 200);
                self.bye_inbound(now, id);
                self.caller_gone(id);
            }
            Side::Callee => {
                let Some(idx) = call.answered else { return false };
                if call.referred.take() == Some(idx) {
                    self.notify_referrer(id, idx, 200);
                }
                self.bye_outbound(now, id, idx);
                self.callee_gone(id);
            }
        }
        self.touched.push(id);
        self.rearm_touched();
        true
    }

    /// The caller hung up a call that keeps its legs while the callee is connected: reported,
    /// and the call goes on. False when the call does not keep its legs (the BYE ends it).
    pub(super) fn caller_leaves(&mut self, id: CallId) -> bool {
        let Some(call) = self.calls.get_mut(&id) else { return false };
        if call.caller_gone {
            return true; // a retransmitted BYE
        }
        if !call.keep_legs || call.answered.is_none() || call.ended {
            return false;
        }
        self.caller_gone(id);
        self.events.push_back(CallEvent::LegLeft { call: id, side: Side::Caller });
        true
    }

    /// The callee hung up a call that keeps its legs while the caller is connected.
    pub(super) fn callee_leaves(&mut self, id: CallId) {
        self.callee_gone(id);
        self.events.push_back(CallEvent::LegLeft { call: id, side: Side::Callee });
    }

    fn caller_gone(&mut self, id: CallId) {
        let Some(call) = self.calls.get_mut(&id) else { return };
        call.caller_gone = true;
        call.inbound.final_tx = None;
        call.held[0] = false;
        self.release_caller_browser(id);
    }

    fn callee_gone(&mut self, id: CallId) {
        let Some(call) = self.calls.get_mut(&id) else { return };
        call.answered = None;
        call.held[1] = false;
        if let Some(target) = call.target.take() {
            release_line(&mut self.lines, &target);
        }
        self.release_callee_browser(id);
    }
}
