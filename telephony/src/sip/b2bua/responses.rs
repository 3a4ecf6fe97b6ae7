//! Responses from callees: provisional, answer (with the ACK and the caller's 200), failure,
//! a carrier's challenge, and the answers to our BYEs and CANCELs.

use super::*;

impl B2bua {
    /// A response from a callee (to our INVITE, CANCEL or BYE).
    pub fn handle_response(&mut self, now: u64, resp: &Response) {
        self.response(now, resp);
        self.rearm_touched();
    }

    fn response(&mut self, now: u64, resp: &Response) {
        let Some(call_id) = resp.headers.get("Call-ID") else { return };
        let Some((method, cseq)) =
            resp.headers.get("CSeq").and_then(|c| header::cseq(c).ok()).map(|(n, m)| (m, n))
        else {
            return;
        };
        // Responses to our BYEs towards the caller carry the caller's Call-ID.
        let Some(&(id, idx)) = self.by_outbound.get(call_id) else {
            if method == "BYE" {
                // Their tag is in To; the caller's dialog is keyed by (Call-ID, their tag).
                let their_tag = resp
                    .headers
                    .get("To")
                    .and_then(|v| NameAddr::parse(v).ok())
                    .and_then(|t| t.tag().map(str::to_string))
                    .unwrap_or_default();
                let key = (call_id.to_string(), their_tag);
                if let Some(id) = self.by_inbound.get(&key).or_else(|| self.retired.get(&key)).copied() {
                    self.touched.push(id);
                    self.bye_done(id, cseq, call_id);
                }
            }
            return;
        };
        self.touched.push(id);
        match method.as_str() {
            "INVITE" => self.invite_response(now, id, idx, resp),
            "BYE" => self.bye_done(id, cseq, call_id),
            "CANCEL" => self.cancel_done(now, id, idx, cseq, call_id),
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

    /// The callee confirmed our CANCEL: its 487 is still to come (and to be ACKed), so the call
    /// waits for it, a transaction's time at most, before it can be forgotten.
    fn cancel_done(&mut self, now: u64, id: CallId, idx: usize, cseq: u32, call_id: &str) {
        if let Some(call) = self.calls.get_mut(&id) {
            if call.outbound.get(idx).is_some_and(|o| !o.finished) {
                let peer = call.outbound[idx].peer;
                let wait = Retransmit { next_at: u64::MAX, ..Retransmit::new(Vec::new(), peer, now, T2) };
                call.byes.push((call_id.to_string(), wait));
            }
        }
        self.bye_done(id, cseq, call_id);
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
        if status >= 200 {
            o.finished = true;
        }
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
                call.byes
                    .push((o.call_id.clone(), Retransmit::new(bytes.clone(), to, now, T2).over(o.transport)));
                self.out.push_back((to, bytes));
                return;
            }
            if (status == 180 || status == 183)
                && call.state == CallState::Ringing
                && call.inbound.last_provisional.as_ref().is_none_or(|p| p.starts_with(b"SIP/2.0 100"))
            {
                // A caller we already answered (IVR, AI agent) gets no provisional response
                // after our 200: it hears ringback from us instead.
                if call.inbound.final_status.is_none() {
                    let ringing = self.inbound_response(self.calls.get(&id).expect("exists"), 180);
                    let to = self.calls[&id].inbound.source;
                    let bytes = self.send_response(to, &ringing);
                    self.calls.get_mut(&id).expect("exists").inbound.last_provisional = Some(bytes);
                }
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
            if call.answered.is_none() && call.answered_by_us && call.state == CallState::Ringing {
                // Someone takes a call we answered: media now flows between them and the caller.
                let answer = std::str::from_utf8(&resp.body).ok().and_then(|b| sdp::parse_audio(b).ok());
                call.outbound[idx].answer = answer.clone();
                call.outbound[idx].state = OutState::Answered;
                call.answered = Some(idx);
                call.state = CallState::Answered;
                call.ring_deadline = None;
                if call.originated {
                    // Nobody else's codec to match: the one the person's phone chose.
                    let chosen = answer.as_ref().and_then(|a| a.codecs().first().map(|(c, _)| c.static_pt()));
                    call.payload_type = chosen.unwrap_or(call.payload_type);
                }
                let contact = call.outbound[idx].contact.clone();
                let b_remote = match self.callee_media(id, idx, &resp.body) {
                    Ok(peer) => peer.or(answer.as_ref().and_then(|a| a.remote())),
                    Err(()) => {
                        self.bye_outbound(now, id, idx);
                        return self.unreached(now, id, 488, Outcome::Rejected(488));
                    }
                };
                let call = self.calls.get_mut(&id).expect("exists");
                self.events.push_back(CallEvent::Media {
                    call: id,
                    a_remote: None,
                    b_remote,
                    payload_type: call.payload_type,
                    a_dtmf: None,
                    b_dtmf: answer.as_ref().and_then(|a| a.telephone_event()),
                });
                let extension = self.answered_leg(id, idx);
                self.events.push_back(CallEvent::Answered { call: id, contact, extension });
                self.cancel_outbound(now, id, Some(idx));
                return;
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
            call.outbound[idx].answer = Some(answer.clone());
            call.answered = Some(idx);
            call.state = CallState::Answered;
            call.ring_deadline = None;
            call.payload_type = codec.static_pt();
            let media = call.media.expect("ringing calls have media");
            let webrtc_caller = call.inbound.offer.webrtc;
            let b_remote = match self.callee_media(id, idx, &resp.body) {
                Ok(peer) => peer.or(answer.remote()),
                Err(()) => {
                    self.bye_outbound(now, id, idx);
                    return self.fail_inbound(now, id, 488, Outcome::Rejected(488));
                }
            };
            let caller_answer = if webrtc_caller {
                match self.webrtc_for_caller(id, media.a) {
                    Some(side) => Some(side.sdp),
                    None => {
                        self.bye_outbound(now, id, idx);
                        return self.fail_inbound(now, id, 488, Outcome::Rejected(488));
                    }
                }
            } else {
                None
            };
            let call = self.calls.get_mut(&id).expect("exists");
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
            ok.body = caller_answer.unwrap_or_else(|| sdp::write(&local, id.0, 1)).into_bytes();
            let source = self.calls[&id].inbound.source;
            let bytes = self.send_response(source, &ok);
            let call = self.calls.get_mut(&id).expect("exists");
            call.inbound.final_status = Some(200);
            call.inbound.final_bytes = Some(bytes.clone());
            call.inbound.final_tx = Some(Retransmit::new(bytes, source, now, T2));
            self.events.push_back(CallEvent::Media {
                call: id,
                a_remote: Self::caller_media(call),
                b_remote,
                payload_type: codec.static_pt(),
                a_dtmf: call.inbound.offer.telephone_event(),
                b_dtmf: answer.telephone_event(),
            });
            let extension = self.answered_leg(id, idx);
            self.events.push_back(CallEvent::Answered { call: id, contact, extension });
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
            let transport = o.transport;
            let (via, _) = self.via(transport);
            let call = self.calls.get_mut(&id).expect("exists");
            let o = &mut call.outbound[idx];
            let (header, value) = if status == 401 {
                ("Authorization", "WWW-Authenticate")
            } else {
                ("Proxy-Authorization", "Proxy-Authenticate")
            };
            let (user, password) = o.credentials.clone().unwrap_or_default();
            let answer = resp.headers.get(value).and_then(|ch| {
                crate::sip::digest::answer(
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
                o.tx = Some(Retransmit::new(bytes.clone(), peer, now, u64::MAX).over(o.transport));
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
            // A cancelled leg's 487, awaited (see `cancel_done`): nothing is left to wait for.
            let leg = call.outbound[idx].call_id.clone();
            call.byes.retain(|(c, r)| *c != leg || !r.bytes.is_empty());
            return self.reap(id);
        }
        call.failure = Some(pick_failure(call.failure, status));
        let everyone_failed = call.outbound.iter().all(|o| o.state == OutState::Done);
        if everyone_failed
            && (call.answered_by_us || call.report_unreached)
            && call.answered.is_none()
            && call.state == CallState::Ringing
        {
            let status = call.failure.unwrap_or(480);
            let outcome =
                if status == 486 || status == 600 { Outcome::Busy } else { Outcome::Rejected(status) };
            self.unreached(now, id, status, outcome);
        } else if everyone_failed
            && call.answered.is_none()
            && call.inbound.final_status.is_none()
            && call.state == CallState::Ringing
        {
            let status = call.failure.unwrap_or(480);
            let outcome =
                if status == 486 || status == 600 { Outcome::Busy } else { Outcome::Rejected(status) };
            let forward = if status == 487 { 480 } else { status };
            self.fail_inbound(now, id, forward, outcome);
        }
        self.reap(id);
    }

    /// The callee that answered is a browser: its answer goes to our WebRTC leg, and the relay
    /// reaches it there (`Ok(Some)`); a phone: our offer for browsers is not needed any more
    /// (`Ok(None)`). `Err`: the browser's answer was refused.
    fn callee_media(&mut self, id: CallId, idx: usize, body: &[u8]) -> Result<Option<SocketAddr>, ()> {
        let Some(call) = self.calls.get(&id) else { return Err(()) };
        let browser = call.outbound.get(idx).is_some_and(|o| o.webrtc);
        let side = call.webrtc_b.clone();
        let Some(media) = self.webrtc.as_mut() else { return Ok(None) };
        match (browser, side) {
            (true, Some(side)) => {
                let answer = String::from_utf8_lossy(body);
                match media.accept_answer(id, Side::Callee, &answer) {
                    Ok(()) => Ok(Some(side.relay_peer)),
                    Err(e) => {
                        tracing::info!(%id, error = %e, "a browser's answer was refused");
                        Err(())
                    }
                }
            }
            (false, Some(_)) => {
                media.release(id, Some(Side::Callee));
                if let Some(call) = self.calls.get_mut(&id) {
                    call.webrtc_b = None;
                }
                Ok(None)
            }
            (_, None) => Ok(None),
        }
    }

    fn build_ack_2xx(&mut self, id: CallId, idx: usize) -> Vec<u8> {
        let transport = self.calls[&id].outbound[idx].transport;
        let (via, _) = self.via(transport);
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
}
