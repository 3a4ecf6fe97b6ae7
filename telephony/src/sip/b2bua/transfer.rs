//! Transfers. A person connected to a call asks for one with REFER (RFC 3515; a desk phone's
//! blind transfer), which is reported to the application as `CallEvent::TransferRequested`;
//! the application, for that or for its own reasons (a transfer from the web app), takes the
//! caller back from whoever is connected with `release_callee` and sends the caller on with a
//! new `RouteDecision`, as for a call it answered itself.

use super::*;

impl B2bua {
    /// A REFER inside a call's dialog, from `side` (`idx`: the callee's leg it came on).
    pub(super) fn refer(&mut self, id: CallId, side: Side, idx: Option<usize>, req: &Request) -> Response {
        let Some(call) = self.calls.get_mut(&id) else {
            return reject(req, 481, "Call/Transaction Does Not Exist");
        };
        let refer_to = req.headers.get("Refer-To").or_else(|| req.headers.get("r"));
        let Some(to) = refer_to.and_then(|v| NameAddr::parse(v).ok()) else {
            return reject(req, 400, "Bad Request (no usable Refer-To)");
        };
        let replaces = to.uri.headers.as_deref().and_then(replaces_call_id);
        // The callee transfers the caller; the caller (who placed the call) the person called:
        // the application decides whether they may (see `turn_around`).
        let asker_connected = match side {
            Side::Caller => !call.caller_gone && !call.originated,
            Side::Callee => call.answered == idx,
        };
        let connected = call.answered.is_some()
            && asker_connected
            && !call.ended
            && call.state == CallState::Answered
            && call.inbound.final_status == Some(200);
        if !connected {
            return reject(req, 403, "Forbidden (the call is not connected)");
        }
        if let Some(other) = replaces {
            // The transferor's other call: one where they placed the call (our inbound dialog)
            // or took it (an answered outbound leg).
            let found =
                self.by_inbound.iter().find(|((cid, _), _)| *cid == other).map(|(_, c)| *c).or_else(|| {
                    let (c, leg) = *self.by_outbound.get(&other)?;
                    (self.calls.get(&c)?.answered == Some(leg)).then_some(c)
                });
            let Some(replaces) = found.filter(|c| *c != id && self.calls.get(c).is_some_and(|c| !c.ended))
            else {
                return reject(req, 481, "Call/Transaction Does Not Exist (the call to replace)");
            };
            if let Some(call) = self.calls.get_mut(&id) {
                call.referred = idx;
                call.caller_referred = side == Side::Caller;
            }
            self.events.push_back(CallEvent::AttendedTransferRequested { call: id, replaces });
            return reject(req, 202, "Accepted");
        }
        let Some(call) = self.calls.get_mut(&id) else {
            return reject(req, 481, "Call/Transaction Does Not Exist");
        };
        let Some(target) = to.uri.user.clone().filter(|u| !u.is_empty()) else {
            return reject(req, 400, "Bad Request (Refer-To names nobody)");
        };
        call.referred = idx;
        call.caller_referred = side == Side::Caller;
        self.events.push_back(CallEvent::TransferRequested { call: id, side, target });
        reject(req, 202, "Accepted")
    }

    /// Takes the caller back from the person connected to the call: BYE to them (after the
    /// NOTIFY that completes their REFER, if they asked), and the call is ours again, as if we
    /// had answered it ourselves: a later `Ring` or `Dial` connects someone else. False when
    /// nobody is connected (still ringing, ended, or never answered).
    pub fn release_callee(&mut self, now: u64, id: CallId) -> bool {
        let released = self.take_caller_back(now, id);
        self.touched.push(id);
        self.rearm_touched();
        released
    }

    fn take_caller_back(&mut self, now: u64, id: CallId) -> bool {
        let Some(call) = self.calls.get_mut(&id) else { return false };
        let Some(idx) = call.answered else { return false };
        if call.ended || call.state != CallState::Answered || call.inbound.final_status != Some(200) {
            return false;
        }
        if call.referred.take() == Some(idx) {
            self.notify_referrer(id, idx, 200);
        }
        self.bye_outbound(now, id, idx);
        let Some(call) = self.calls.get_mut(&id) else { return false };
        call.answered = None;
        call.answered_by_us = true;
        call.keep_caller = false;
        call.ring_deadline = None;
        call.held[1] = false;
        if let Some(target) = call.target.take() {
            release_line(&mut self.lines, &target);
        }
        // Whoever is rung next gets a fresh offer if a browser.
        self.release_callee_browser(id);
        true
    }

    /// The application will not carry out the REFER the callee sent (`status`, e.g. 403: a
    /// target they may not call): a NOTIFY saying so ends its subscription, and the call goes
    /// on as it was. Nothing happens without a REFER waiting.
    pub fn refuse_transfer(&mut self, id: CallId, status: u16) {
        if self.calls.get(&id).is_some_and(|c| c.caller_referred) {
            return self.notify_caller_referrer(id, status);
        }
        let Some(idx) = self.calls.get_mut(&id).and_then(|c| c.referred.take()) else { return };
        self.notify_referrer(id, idx, status);
    }

    /// The same NOTIFY to a caller who asked (REFER on their own dialog, as the UAS's side).
    pub(super) fn notify_caller_referrer(&mut self, id: CallId, status: u16) {
        let transport = self.calls.get(&id).map_or("UDP", |c| c.inbound.transport);
        let (via, _) = self.via(transport);
        let contact = self.contact();
        let Some(call) = self.calls.get_mut(&id).filter(|c| c.caller_referred && !c.caller_gone) else {
            return;
        };
        call.caller_referred = false;
        let mut req = super::messages::in_caller_dialog(&mut call.inbound, Method::Notify, via);
        super::messages::refer_outcome(&mut req, contact, status);
        let to = call.inbound.source;
        self.out.push_back((to, req.to_bytes()));
    }

    /// The NOTIFY that ends a REFER's implicit subscription with the transfer's outcome (RFC
    /// 3515 §2.4.5: a sipfrag status line).
    pub(super) fn notify_referrer(&mut self, id: CallId, idx: usize, status: u16) {
        let transport = self.calls.get(&id).and_then(|c| c.outbound.get(idx)).map_or("UDP", |o| o.transport);
        let (via, _) = self.via(transport);
        let contact = self.contact();
        let Some(o) = self.calls.get_mut(&id).and_then(|c| c.outbound.get_mut(idx)) else { return };
        let mut req = super::messages::in_dialog(o, Method::Notify, via);
        super::messages::refer_outcome(&mut req, contact, status);
        let peer = o.peer;
        self.out.push_back((peer, req.to_bytes()));
    }
}

/// The Call-ID named by a Refer-To URI's `Replaces` header (RFC 3891; percent-encoded in the
/// URI's headers: `Replaces=abc%40host%3Bto-tag%3Dx%3Bfrom-tag%3Dy`).
fn replaces_call_id(headers: &str) -> Option<String> {
    let value = headers.split('&').find_map(|h| {
        let (name, value) = h.split_once('=')?;
        name.trim().eq_ignore_ascii_case("replaces").then_some(value)
    })?;
    let decoded = crate::sip::uri::unescape(value);
    let call_id = decoded.split(';').next()?.trim().to_string();
    (!call_id.is_empty()).then_some(call_id)
}
