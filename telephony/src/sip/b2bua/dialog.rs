//! Requests inside a call's dialogs: ACK, CANCEL, BYE, INFO, REFER and re-INVITE from either side,
//! and the BYEs we send.

use super::*;

impl B2bua {
    /// Handles a request that belongs to a call: ACK, CANCEL, BYE or re-INVITE.
    pub fn handle_in_call(&mut self, now: u64, req: &Request, source: SocketAddr) -> Option<Response> {
        let answer = self.in_call(now, req, source);
        self.rearm_touched();
        answer
    }

    fn in_call(&mut self, now: u64, req: &Request, source: SocketAddr) -> Option<Response> {
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
        if self.retired.contains_key(&(call_id.clone(), from_tag.clone())) {
            // A caller who left a call that goes on without them (see `turn_around`).
            return match req.method {
                Method::Ack => None,
                Method::Bye => Some(reject(req, 200, "OK")),
                _ => Some(reject(req, 481, "Call/Transaction Does Not Exist")),
            };
        }
        // The caller's side: matched by Call-ID and the caller's tag (or the INVITE's branch for CANCEL).
        let inbound = self.by_inbound.get(&(call_id.clone(), from_tag)).copied().or_else(|| {
            (req.method == Method::Cancel).then(|| self.by_branch.get(&branch).copied()).flatten()
        });
        if let Some(id) = inbound {
            self.touched.push(id);
            return self.inbound_request(now, id, req, source);
        }
        if let Some(&(id, idx)) = self.by_outbound.get(&call_id) {
            self.touched.push(id);
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
                if self.caller_leaves(id) {
                    return Some(reject(req, 200, "OK"));
                }
                let call = self.calls.get_mut(&id)?;
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
            Method::Refer => Some(self.refer(id, Side::Caller, None, req)),
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
                if call.answered != Some(idx) {
                    // A leg no longer connected (transferred away; a fork that lost): only its
                    // own dialog ends.
                    return Some(reject(req, 200, "OK"));
                }
                if call.caller_gone {
                    // The caller left before (a call kept for its callee): nobody is left.
                    call.state = CallState::Ending;
                    self.end(id, Outcome::Completed { hung_up_by: Side::Callee });
                    self.reap(id);
                    return Some(reject(req, 200, "OK"));
                }
                if call.keep_legs {
                    self.callee_leaves(id);
                    return Some(reject(req, 200, "OK"));
                }
                if call.keep_caller && call.answered_by_us {
                    // Only the person leaves: the caller stays with us, ready for another.
                    call.answered = None;
                    call.state = CallState::Answered;
                    if let Some(target) = call.target.take() {
                        super::release_line(&mut self.lines, &target);
                    }
                    self.events.push_back(CallEvent::CalleeLeft { call: id });
                    // The next person rung gets a fresh offer if a browser.
                    self.release_callee_browser(id);
                    return Some(reject(req, 200, "OK"));
                }
                call.state = CallState::Ending;
                self.bye_inbound(now, id);
                self.end(id, Outcome::Completed { hung_up_by: Side::Callee });
                self.reap(id);
                Some(reject(req, 200, "OK"))
            }
            Method::Invite => Some(self.reinvite(id, Side::Callee, req, source)),
            Method::Info => Some(self.info(id, Side::Callee, req)),
            Method::Refer => Some(self.refer(id, Side::Callee, Some(idx), req)),
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
        // A browser's session stays as it is (same ICE and DTLS): our earlier description
        // again, with the direction that answers this offer.
        let earlier_webrtc = match side {
            Side::Caller => call.webrtc_a.as_ref().map(|w| w.sdp.clone()),
            Side::Callee => call.webrtc_b.as_ref().map(|w| w.sdp.clone()),
        };
        if offer.webrtc != earlier_webrtc.is_some() {
            return reject(req, 488, "Not Acceptable Here (the media transport cannot change)");
        }
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
        resp.body = match earlier_webrtc {
            Some(earlier) => sdp::rewrite_webrtc(&earlier, offer.direction, version).into_bytes(),
            None => sdp::write(&answer, id.0, version).into_bytes(),
        };
        let call = self.calls.get(&id).expect("exists");
        let remote = if offer.webrtc {
            None // the relay keeps reaching the browser through its WebRTC leg
        } else if offer.direction == Direction::SendRecv || offer.direction == Direction::RecvOnly {
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
        // Hold: the side sends no media to us (sendonly or inactive, or the old 0.0.0.0 way).
        let holding = matches!(offer.direction, Direction::SendOnly | Direction::Inactive)
            || (!offer.webrtc && offer.remote().is_none());
        let index = if side == Side::Caller { 0 } else { 1 };
        if call.held[index] != holding {
            self.events.push_back(CallEvent::Hold { call: id, side, on: holding });
        }
        let call = self.calls.get_mut(&id).expect("exists");
        call.held[index] = holding;
        let call = self.calls.get(&id).expect("exists");
        // Report only the side that changed; the other keeps its address (`None` means unchanged here).
        self.events.push_back(CallEvent::Media {
            call: id,
            a_remote: if side == Side::Caller { a_remote } else { Self::caller_media(call) },
            b_remote: if side == Side::Callee { b_remote } else { None },
            payload_type: call.payload_type,
            a_dtmf: call.inbound.offer.telephone_event(),
            b_dtmf: Some(101),
        });
        resp
    }

    pub(super) fn bye_inbound(&mut self, now: u64, id: CallId) {
        let transport = self.calls.get(&id).map_or("UDP", |c| c.inbound.transport);
        let (via, _) = self.via(transport);
        let Some(call) = self.calls.get_mut(&id) else { return };
        if call.inbound.final_status.is_none_or(|s| s >= 300) {
            // Not answered: a final response ends it instead.
            let _ = call;
            self.fail_inbound(now, id, 487, Outcome::Cancelled);
            return;
        }
        let bytes = super::messages::in_caller_dialog(&mut call.inbound, Method::Bye, via).to_bytes();
        let to = call.inbound.source;
        let bye = Retransmit::new(bytes.clone(), to, now, T2).over(call.inbound.transport);
        call.byes.push((call.inbound.call_id.clone(), bye));
        self.out.push_back((to, bytes));
    }

    pub(super) fn bye_outbound(&mut self, now: u64, id: CallId, idx: usize) {
        let transport = self.calls.get(&id).and_then(|c| c.outbound.get(idx)).map_or("UDP", |o| o.transport);
        let (via, _) = self.via(transport);
        let Some(call) = self.calls.get_mut(&id) else { return };
        let Some(o) = call.outbound.get_mut(idx) else { return };
        o.state = OutState::Done;
        let bytes = super::messages::in_dialog(o, Method::Bye, via).to_bytes();
        let to = o.peer;
        call.byes.push((o.call_id.clone(), Retransmit::new(bytes.clone(), to, now, T2).over(transport)));
        self.out.push_back((to, bytes));
    }
}
