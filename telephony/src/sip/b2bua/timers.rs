//! Timers: retransmissions (RFC 3261 §17 Timers A, E, G), transaction timeouts (B, F, H),
//! the no-answer timeout, and forgetting calls once nothing is pending.

use super::*;

/// A message on a timer: resent with back-off until `deadline`.
#[derive(Debug, Clone)]
pub(super) struct Retransmit {
    pub(super) bytes: Vec<u8>,
    pub(super) to: SocketAddr,
    pub(super) next_at: u64,
    pub(super) interval: u64,
    pub(super) cap: u64,
    pub(super) deadline: u64,
}

impl Retransmit {
    pub(super) fn new(bytes: Vec<u8>, to: SocketAddr, now: u64, cap: u64) -> Self {
        Retransmit { bytes, to, next_at: now + T1, interval: T1, cap, deadline: now + 64 * T1 }
    }

    /// A request sent over `transport`: over a stream (TCP, TLS, WebSocket) it is delivered or
    /// the connection fails, so it is never resent (RFC 3261 §17.1.1.2 Timer A and §17.1.2.2
    /// Timer E are for UDP only); it still times out (Timers B and F).
    pub(super) fn over(self, transport: &str) -> Self {
        if stream_transport(transport) {
            Retransmit { next_at: u64::MAX, ..self }
        } else {
            self
        }
    }
}

/// A transport that delivers in order or fails: a resent request only reaches the peer twice,
/// which a phone slow to answer (a browser, over a busy machine) may not take as a resend.
fn stream_transport(transport: &str) -> bool {
    matches!(transport, "TCP" | "TLS" | "WS" | "WSS")
}

impl B2bua {
    /// Timers: retransmissions, transaction timeouts and the no-answer timeout.
    pub fn handle_timeout(&mut self, now: u64) {
        let mut ids: Vec<CallId> = Vec::new();
        while let Some(Reverse((at, id))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            // Only the entry matching the call's `armed` is live; the rest are superseded.
            if let Some(call) = self.calls.get_mut(&id).filter(|c| c.armed == Some(at)) {
                call.armed = None;
                ids.push(id);
            }
        }
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
                    self.unreached(now, id, 408, Outcome::NoAnswer);
                }
            }
            if no_answer {
                // The application hears "no answer" (408), distinct from nobody to ring (480:
                // a queue counts a missed offer by it); a caller we refuse is told 480.
                let told = self.calls.get(&id).is_some_and(|c| {
                    c.answered_by_us || (c.report_unreached && c.inbound.final_status.is_none())
                });
                self.unreached(now, id, if told { 408 } else { 480 }, Outcome::NoAnswer);
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
            self.touched.push(id);
        }
        self.rearm_touched();
    }

    /// Forgets a call once nothing about it is pending.
    pub(super) fn reap(&mut self, id: CallId) {
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
        if !self.retired.is_empty() {
            self.retired.retain(|_, c| *c != id);
        }
    }
}
