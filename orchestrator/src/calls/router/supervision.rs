//! The router's side of supervising human calls (see `calls::conference`): a supervisor's
//! phone dials the code they were given, the router answers it and puts it in a bridge with the
//! supervised call's two people, in the mode asked (listen, whisper, barge), switched later
//! without redialling. Every step is in the supervised call's timeline.

use super::conference::Conf;
use super::*;
use crate::calls::conference::{Ask, Mode, View};
use serde_json::json;

impl Conf {
    /// Applies a supervisor party's mode to the bridge: heard by nobody (listen), by the
    /// agent of `agent_of`'s call only (whisper), or by everyone (barge).
    fn apply_mode(&mut self, party: u32, mode: Mode, agent_side: MediaSide) {
        let Some(sup) = self.parties.iter().position(|p| p.id == party) else { return };
        let call = self.parties.iter().find(|p| p.supervising.is_none()).map(|p| p.call);
        let agent = self.parties.iter().find(|p| Some(p.call) == call && p.side == agent_side).map(|p| p.id);
        let p = &mut self.parties[sup];
        p.supervising = Some(mode);
        p.muted = mode == Mode::Listen;
        self.silence(party, false);
        self.bridge.whisper(party, if mode == Mode::Whisper { agent } else { None });
    }
}

impl CallRouter {
    /// The side of `call` the agent whispered to is on: the one rung for the call, else the one
    /// who placed it (a call out to a number).
    fn agent_side_of(&self, call: CallId) -> MediaSide {
        let Some(active) = self.calls.get(&call) else { return MediaSide::B };
        if active.rung.is_none() && active.placed_by.is_some() {
            MediaSide::A
        } else {
            MediaSide::B
        }
    }

    /// A supervisor's phone dialled a supervision code: answered and joined to the call, or
    /// refused with the reason.
    pub(super) async fn supervise_here(&mut self, call: CallId, code: &str) {
        let account = self.calls.get(&call).and_then(|c| c.account);
        let ticket = account.and_then(|a| self.live.conferences().redeem(a, code));
        let Some(ticket) = ticket else {
            return self.refuse(call, 404, "no such supervision code (or it expired)").await;
        };
        let target = match self.live_call(ticket.call) {
            Ok(t) if !self.live.agents().on(t).is_empty() => t,
            Ok(_) => return self.refuse(call, 480, "nobody of ours is on that call").await,
            Err(why) => return self.refuse(call, 480, &why).await,
        };
        let Some(relay) = self.calls.get(&call).and_then(|c| c.relay.clone()) else { return };
        let media = MediaPorts { a: relay.a_local, b: relay.b_local };
        self.sip.route(call, RouteDecision::Answer { media }).await;
        let conf = match self.conf_of(target) {
            Some(conf) => conf,
            None => {
                let conf = self.confs.start();
                for side in [MediaSide::A, MediaSide::B] {
                    let (name, extension) = self.who(target, side);
                    self.add_party(conf, target, side, name, extension);
                }
                conf
            }
        };
        self.add_party(conf, call, MediaSide::A, ticket.by.clone(), None);
        let agent_side = self.agent_side_of(target);
        if let Some(c) = self.confs.all.get_mut(&conf) {
            if let Some(party) = c.parties.iter().find(|p| p.call == call).map(|p| p.id) {
                c.apply_mode(party, ticket.mode, agent_side);
            }
        }
        let data = json!({ "by": ticket.by, "mode": ticket.mode.as_str() });
        self.event(target, "supervision_started", data).await;
        self.publish(conf);
        // Keys on the supervisor's phone switch modes, as Asterisk's ChanSpy does: 4 listen,
        // 5 whisper, 6 barge.
        if let Some(mut keys) = self.calls.get_mut(&call).and_then(|c| c.keys.take()) {
            let (live, record, by) = (self.live.clone(), ticket.call, ticket.by);
            tokio::spawn(async move {
                while let Some(key) = keys.recv().await {
                    let mode = match key {
                        '4' => Mode::Listen,
                        '5' => Mode::Whisper,
                        '6' => Mode::Barge,
                        _ => continue,
                    };
                    if let Err(why) = live.conferences().ask(record, Ask::Supervise { mode }, &by, None).await
                    {
                        tracing::debug!(%why, "a supervisor's key changed nothing");
                    }
                }
            });
        }
    }

    async fn refuse(&mut self, call: CallId, status: u16, why: &str) {
        tracing::info!(%call, status, why, "supervision refused");
        let reason = Some(why.to_string());
        self.sip.route(call, RouteDecision::Reject { status, reason }).await;
    }

    /// The supervisor named `by` on `call` changes mode.
    pub(super) async fn supervision_mode(
        &mut self,
        call: CallId,
        mode: Mode,
        by: &str,
    ) -> Result<View, String> {
        let conf = self.conf_of(call).ok_or("nobody supervises this call")?;
        let agent_side = self.agent_side_of(call);
        let c = self.confs.all.get_mut(&conf).ok_or("nobody supervises this call")?;
        let party = c.parties.iter().find(|p| p.supervising.is_some() && p.name == by).map(|p| p.id);
        let party = party.ok_or("you do not supervise this call")?;
        c.apply_mode(party, mode, agent_side);
        self.event(call, "supervision_mode", json!({ "by": by, "mode": mode.as_str() })).await;
        Ok(self.publish(conf))
    }

    /// Before `call` leaves conference `conf`: if it is a supervisor's, the calls supervised
    /// say so in their timelines.
    pub(super) async fn supervisors_leave(&mut self, conf: u64, call: CallId) {
        let Some(c) = self.confs.all.get(&conf) else { return };
        let leaving: Vec<String> = c
            .parties
            .iter()
            .filter(|p| p.call == call && p.supervising.is_some())
            .map(|p| p.name.clone())
            .collect();
        let mut others: Vec<CallId> = c.parties.iter().map(|p| p.call).filter(|c| *c != call).collect();
        others.sort();
        others.dedup();
        for by in leaving {
            for other in &others {
                self.event(*other, "supervision_ended", json!({ "by": by })).await;
            }
        }
    }
}
