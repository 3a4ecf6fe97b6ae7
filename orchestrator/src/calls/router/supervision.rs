//! The router's side of supervising human calls (see `calls::conference`): a supervisor's
//! phone dials the code they were given, the router answers it and puts it in a bridge with the
//! supervised call's two people, in the mode asked (listen, whisper, barge), switched later
//! without redialling. Every step is in the supervised call's timeline.

use super::conference::Conf;
use super::*;
use crate::calls::conference::{Ask, Mode, Ticket, View, SUPERVISE_PREFIX};
use crate::store::calls::RecordKey;
use serde_json::json;
use switchboard_telephony::sip::b2bua::Originate;

/// How long a supervisor's phone rings, and on how many of its lines at once.
const RING_MS: u64 = 30_000;
const RING_LINES: usize = 4;

/// A supervisor's phone being rung.
pub(super) struct Ringing {
    account: i64,
    /// The supervision ticket's code, redeemed when the phone answers.
    code: String,
    /// The call supervised (its timeline says when nobody answered).
    target: Option<RecordKey>,
    /// The phone's keys, from its side of the media.
    keys: mpsc::UnboundedReceiver<char>,
}

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
        let target = match self.supervised(&ticket) {
            Ok(t) => t,
            Err(why) => return self.refuse(call, 480, &why).await,
        };
        let Some(relay) = self.calls.get(&call).and_then(|c| c.relay.clone()) else { return };
        let media = MediaPorts { a: relay.a_local, b: relay.b_local };
        self.sip.route(call, RouteDecision::Answer { media }).await;
        let keys = self.calls.get_mut(&call).and_then(|c| c.keys.take());
        self.join_supervisor(call, MediaSide::A, target, ticket, keys).await;
    }

    /// The live call a supervision is for, with someone of ours on it.
    fn supervised(&self, ticket: &Ticket) -> Result<CallId, String> {
        match self.live_call(ticket.call) {
            Ok(t) if !self.live.agents().on(t).is_empty() => Ok(t),
            Ok(_) => Err("nobody of ours is on that call".into()),
            Err(why) => Err(why),
        }
    }

    /// Puts the supervisor on `side` of `call` in a bridge with `target`'s two people, in the
    /// ticket's mode; `keys` (their phone's) switch modes.
    async fn join_supervisor(
        &mut self,
        call: CallId,
        side: MediaSide,
        target: CallId,
        ticket: Ticket,
        keys: Option<mpsc::UnboundedReceiver<char>>,
    ) {
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
        self.add_party(conf, call, side, ticket.by.clone(), None);
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
        if let Some(mut keys) = keys {
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

    /// Rings the supervisor's phone (every registered phone of `extension`) for the supervision
    /// `code` stands for; answered, it joins `target` (see `supervisor_answered`).
    pub(super) async fn ring_supervisor(
        &mut self,
        target: CallId,
        code: String,
        by: &str,
        extension: Option<&str>,
    ) -> Result<View, String> {
        let extension = extension.ok_or("say which phone to ring")?;
        let account =
            self.calls.get(&target).and_then(|c| c.account).ok_or("the call has no account here")?;
        if self.live.agents().on(target).is_empty() {
            return Err("nobody of ours is on that call".into());
        }
        let sockets = self.planner.bind_media().await;
        // The supervisor's keys (4 listen, 5 whisper, 6 barge) come from their side, `b`.
        let (digits_tx, mut digits) = mpsc::unbounded_channel();
        let relay = sockets.and_then(|(a, b)| Relay::start(a, b, Some(digits_tx))).map_err(|e| {
            tracing::error!(error = %e, "no RTP ports for a supervisor's phone");
            "no media ports left".to_string()
        })?;
        let relay = Arc::new(relay);
        let (keys_tx, keys) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(d) = digits.recv().await {
                if d.side == MediaSide::B && keys_tx.send(d.digit).is_err() {
                    break;
                }
            }
        });
        let (from, to) = self.calls.get(&target).map(|c| (c.from.clone(), c.to.clone())).unwrap_or_default();
        let media = MediaPorts { a: relay.a_local, b: relay.b_local };
        let decision = RouteDecision::Ring {
            account,
            extension: extension.to_string(),
            max_lines: RING_LINES,
            ring_timeout_ms: RING_MS,
            media,
        };
        let dialled = format!("{SUPERVISE_PREFIX}{code}");
        let display = Some(format!("Supervise {from} - {to}"));
        let placed =
            self.sip.originate(Originate { from_user: dialled.clone(), from_display: display, decision });
        let call = placed.await.ok_or("the phone could not be rung")?;
        let mut active = ActiveCall::new(Some(account), None, &dialled, extension);
        active.relay = Some(relay);
        self.calls.insert(call, active);
        let record = self.calls.get(&target).and_then(|c| c.record);
        self.confs.ringing.insert(call, Ringing { account, code, target: record, keys });
        self.event(target, "supervision_ringing", json!({ "by": by, "extension": extension })).await;
        Ok(self
            .conf_of(target)
            .and_then(|c| self.confs.all.get(&c))
            .map(|c| c.view())
            .unwrap_or(View { id: 0, parties: Vec::new() }))
    }

    /// A supervisor's phone we rang answered: joined to the call it was rung for (or hung up
    /// on when that is over). False for any other call.
    pub(super) async fn supervisor_answered(&mut self, call: CallId) -> bool {
        let Some(ringing) = self.confs.ringing.remove(&call) else { return false };
        let ticket = self.live.conferences().redeem(ringing.account, &ringing.code);
        let joined = ticket.map(|t| self.supervised(&t).map(|target| (target, t)));
        match joined {
            Some(Ok((target, ticket))) => {
                self.join_supervisor(call, MediaSide::B, target, ticket, Some(ringing.keys)).await;
            }
            Some(Err(why)) => {
                tracing::info!(%call, why, "a supervisor answered too late");
                self.sip.hangup(call).await;
            }
            None => {
                tracing::info!(%call, "a supervisor answered after their code expired");
                self.sip.hangup(call).await;
            }
        }
        true
    }

    /// A call ended: if supervisors' phones ring for it, they stop; if it is such a phone that
    /// ended before answering, the call supervised says so.
    pub(super) async fn supervisor_unanswered(&mut self, call: CallId) {
        let record = self.calls.get(&call).and_then(|c| c.record);
        let rung_for_it: Vec<CallId> = self
            .confs
            .ringing
            .iter()
            .filter(|(_, r)| record.is_some() && r.target == record)
            .map(|(id, _)| *id)
            .collect();
        for phone in rung_for_it {
            self.sip.hangup(phone).await;
        }
        let Some(ringing) = self.confs.ringing.remove(&call) else { return };
        let _ = self.live.conferences().redeem(ringing.account, &ringing.code);
        if let Some(record) = ringing.target {
            let extension = self.calls.get(&call).map(|c| c.to.clone()).unwrap_or_default();
            self.records.event(record, "supervision_unanswered", json!({ "extension": extension }));
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
