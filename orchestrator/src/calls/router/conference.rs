//! The router's side of warm transfers and conferences (see `calls::conference`): the agent's
//! two calls, the people left on them joined in a bridge, and what happens when one leaves.

use super::*;
use crate::calls::conference::{Ask, Mode, PartyAction, PartyView, Request, View};
use crate::store::calls::RecordKey;
use serde_json::json;
use switchboard_telephony::media::conference::Bridge;

/// The live conferences (a warm transfer's joined calls are one of two parties).
#[derive(Default)]
pub(super) struct Confs {
    next: u64,
    pub(super) all: HashMap<u64, Conf>,
    /// Supervisors' phones we ring, until they answer (see `router/supervision.rs`).
    pub(super) ringing: HashMap<CallId, super::supervision::Ringing>,
}

impl Confs {
    /// A new conference, empty, and its id.
    pub(super) fn start(&mut self) -> u64 {
        self.next += 1;
        let id = self.next;
        self.all.insert(id, Conf { id, bridge: Bridge::start(), parties: Vec::new(), records: Vec::new() });
        id
    }
}

pub(super) struct Conf {
    pub(super) id: u64,
    pub(super) bridge: Bridge,
    pub(super) parties: Vec<Party>,
    /// Every call record that has been in it (their views are cleared when they leave).
    records: Vec<(CallId, RecordKey)>,
}

pub(super) struct Party {
    pub(super) id: u32,
    pub(super) call: CallId,
    pub(super) side: MediaSide,
    pub(super) name: String,
    extension: Option<String>,
    pub(super) muted: bool,
    held: bool,
    /// A supervisor's party, and their mode.
    pub(super) supervising: Option<Mode>,
}

impl Conf {
    pub(super) fn view(&self) -> View {
        let parties = self
            .parties
            .iter()
            .map(|p| PartyView {
                id: p.id,
                name: p.name.clone(),
                extension: p.extension.clone(),
                muted: p.muted,
                held: p.held,
                supervising: p.supervising,
            })
            .collect();
        View { id: self.id, parties }
    }

    /// Only a call's own two people and supervisors: nothing for the web app to show as a
    /// conference.
    fn supervision_only(&self) -> bool {
        let mut people = self.parties.iter().filter(|p| p.supervising.is_none()).map(|p| p.call);
        let first = people.next();
        people.all(|c| Some(c) == first)
    }

    pub(super) fn has(&self, call: CallId) -> bool {
        self.parties.iter().any(|p| p.call == call)
    }

    /// Heard by nobody while muted or held (by us, or by their own phone).
    pub(super) fn silence(&self, party: u32, phone_held: bool) {
        if let Some(p) = self.parties.iter().find(|p| p.id == party) {
            self.bridge.mute(p.id, p.muted || p.held || phone_held);
        }
    }
}

fn sip_side(side: MediaSide) -> Side {
    match side {
        MediaSide::A => Side::Caller,
        MediaSide::B => Side::Callee,
    }
}

fn media_side(side: Side) -> MediaSide {
    match side {
        Side::Caller => MediaSide::A,
        Side::Callee => MediaSide::B,
    }
}

impl CallRouter {
    pub(super) async fn conference_request(&mut self, r: Request) {
        let result = self.conference_ask(r.call, r.ask, &r.by, r.extension.as_deref()).await;
        let _ = r.reply.send(result);
    }

    pub(super) fn live_call(&self, record: RecordKey) -> Result<CallId, String> {
        let found = self.calls.iter().find(|(_, c)| c.record == Some(record) && c.relay.is_some());
        found.map(|(id, _)| *id).ok_or_else(|| "the call has ended".to_string())
    }

    pub(super) fn conf_of(&self, call: CallId) -> Option<u64> {
        self.confs.all.values().find(|c| c.has(call)).map(|c| c.id)
    }

    /// Which side of `call` the agent is on: the caller's if they placed it, else the callee's.
    fn agent_side(&self, call: CallId, account: i64, extension: &str) -> Result<MediaSide, String> {
        let active = self.calls.get(&call).ok_or("the call has ended")?;
        if active.account != Some(account) || !self.live.agents().on(call).iter().any(|(_, e)| e == extension)
        {
            return Err("you are not on both calls".into());
        }
        let placed = active.placed_by.as_ref().is_some_and(|(_, e)| e == extension);
        Ok(if placed { MediaSide::A } else { MediaSide::B })
    }

    /// An agent's name (their extension when the configuration has none).
    fn agent_name(&self, account: i64, extension: &str) -> String {
        let snapshot = self.planner.snapshot.borrow().clone();
        snapshot.agent(account, extension).map_or_else(|| extension.to_string(), |a| a.display_name.clone())
    }

    /// Who is on `side` of `call`: an agent of the account (name, extension) or a number.
    pub(super) fn who(&self, call: CallId, side: MediaSide) -> (String, Option<String>) {
        let Some(active) = self.calls.get(&call) else { return ("someone".into(), None) };
        let party = match side {
            MediaSide::A => {
                active.placed_by.as_ref().map(|(_, e)| e.clone()).unwrap_or_else(|| active.from.clone())
            }
            MediaSide::B => active.rung.as_ref().map(|(_, e)| e.clone()).unwrap_or_else(|| active.to.clone()),
        };
        let snapshot = self.planner.snapshot.borrow().clone();
        match active.account.and_then(|a| snapshot.agent(a, &party)) {
            Some(agent) => (agent.display_name.clone(), Some(party)),
            None => (party, None),
        }
    }

    async fn conference_ask(
        &mut self,
        record: RecordKey,
        ask: Ask,
        by: &str,
        extension: Option<&str>,
    ) -> Result<View, String> {
        let call = self.live_call(record)?;
        let (consult, stay) = match ask {
            Ask::Party { party, action } => return self.party_action(call, party, action, by).await,
            Ask::Supervise { mode } => return self.supervision_mode(call, mode, by).await,
            Ask::Ring { code } => return self.ring_supervisor(call, code, by, extension).await,
            Ask::Complete { consult } => (consult, false),
            Ask::Merge { consult } => (consult, true),
        };
        let consult = self.live_call(consult)?;
        if consult == call {
            return Err("a call cannot be joined to itself".into());
        }
        let extension = extension.ok_or("only an agent on both calls can join them")?;
        let account = self.calls.get(&call).and_then(|c| c.account).ok_or("the call has no account here")?;
        let (mine, theirs) =
            (self.agent_side(call, account, extension)?, self.agent_side(consult, account, extension)?);
        if self.conf_of(consult).is_some() {
            return Err("the other call is already in a conference".into());
        }
        if !stay && self.conf_of(call).is_some() {
            return Err("a conference is not transferred: remove its parties or leave it".into());
        }
        // The agent leaves the consult call first: if it is over, nothing has changed.
        if !self.sip.release(consult, sip_side(theirs)).await {
            return Err("the person you called is not connected".into());
        }
        self.live.agents().left(consult, account, extension);
        let joining = self.who(consult, theirs.other());
        let mut parties = vec![(consult, theirs.other(), joining.clone())];
        let conf = match self.conf_of(call) {
            Some(conf) => conf,
            None => {
                let caller = self.who(call, mine.other());
                parties.insert(0, (call, mine.other(), caller));
                if stay {
                    self.sip.keep_legs(call, true).await;
                    let name = self.agent_name(account, extension);
                    parties.insert(1, (call, mine, (name, Some(extension.to_string()))));
                } else if !self.sip.release(call, sip_side(mine)).await {
                    // The caller left meanwhile: the person consulted has nobody to talk to.
                    self.sip.hangup(consult).await;
                    return Err("the caller has hung up".into());
                }
                self.confs.start()
            }
        };
        if !stay {
            self.live.agents().left(call, account, extension);
        }
        for (c, side, (name, ext)) in parties {
            self.add_party(conf, c, side, name, ext);
        }
        let (name, _) = joining;
        let (kind, data) = if stay {
            ("conference_joined", json!({ "by": by, "party": name }))
        } else {
            ("transferred", json!({ "kind": "warm", "by": by, "target": name }))
        };
        self.event(call, kind, data.clone()).await;
        self.event(consult, kind, data).await;
        Ok(self.publish(conf))
    }

    /// A desk phone's attended transfer (REFER with Replaces, accepted): the agent on both
    /// calls completes it as from the web app; refused (NOTIFY 403) when that cannot be.
    pub(super) async fn attended_refer(&mut self, call: CallId, replaces: CallId) {
        let on_other = self.live.agents().on(replaces);
        let agent = self.live.agents().on(call).into_iter().find(|a| on_other.contains(a));
        let records =
            (self.calls.get(&call).and_then(|c| c.record), self.calls.get(&replaces).and_then(|c| c.record));
        let result = match (agent, records) {
            (Some((account, extension)), (Some(record), Some(consult))) => {
                let by = self.agent_name(account, &extension);
                self.conference_ask(record, Ask::Complete { consult }, &by, Some(&extension))
                    .await
                    .map(|_| ())
            }
            _ => Err("the phone's two calls do not share an agent".to_string()),
        };
        if let Err(reason) = result {
            tracing::info!(%call, %replaces, %reason, "attended transfer refused");
            self.sip.refuse_transfer(call, 403).await;
            self.event(call, "transfer_failed", json!({ "kind": "warm", "reason": reason })).await;
        }
    }

    pub(super) fn add_party(
        &mut self,
        conf: u64,
        call: CallId,
        side: MediaSide,
        name: String,
        extension: Option<String>,
    ) {
        let Some(relay) = self.calls.get(&call).and_then(|c| c.relay.clone()) else { return };
        let record = self.calls.get(&call).and_then(|c| c.record);
        let Some(c) = self.confs.all.get_mut(&conf) else { return };
        let (id, port) = c.bridge.join();
        relay.join(side, Some(port));
        // Whatever played to them (hold music while the agent consulted) stops.
        relay.stop_playing(side);
        c.parties.push(Party {
            id,
            call,
            side,
            name,
            extension,
            muted: false,
            held: false,
            supervising: None,
        });
        if let Some(record) = record.filter(|r| !c.records.iter().any(|(_, k)| k == r)) {
            c.records.push((call, record));
        }
    }

    /// The web app's view of a conference, published for each of its calls (cleared for calls
    /// no longer in it).
    pub(super) fn publish(&self, conf: u64) -> View {
        let Some(c) = self.confs.all.get(&conf) else { return View { id: conf, parties: Vec::new() } };
        let view = c.view();
        let (inside, gone): (Vec<_>, Vec<_>) =
            c.records.iter().partition(|(call, _)| c.has(*call) && !c.supervision_only());
        let conferences = self.live.conferences();
        conferences.publish(&inside.iter().map(|(_, k)| *k).collect::<Vec<_>>(), Some(&view));
        conferences.publish(&gone.iter().map(|(_, k)| *k).collect::<Vec<_>>(), None);
        view
    }

    async fn party_action(
        &mut self,
        call: CallId,
        party: u32,
        action: PartyAction,
        by: &str,
    ) -> Result<View, String> {
        let conf = self.conf_of(call).ok_or("the call is not in a conference")?;
        let c = self.confs.all.get_mut(&conf).ok_or("the conference has ended")?;
        let p = c.parties.iter_mut().find(|p| p.id == party).ok_or("no such party in this conference")?;
        let (pcall, side, name) = (p.call, p.side, p.name.clone());
        match action {
            PartyAction::Mute(on) => {
                p.muted = on;
                c.silence(party, false);
                self.event(
                    call,
                    if on { "party_muted" } else { "party_unmuted" },
                    json!({ "by": by, "party": name }),
                )
                .await;
            }
            PartyAction::Hold(on) => {
                p.held = on;
                c.silence(party, false);
                self.hold_music(pcall, side, on);
                self.event(
                    call,
                    if on { "party_held" } else { "party_resumed" },
                    json!({ "by": by, "party": name }),
                )
                .await;
            }
            PartyAction::Remove => {
                // The other person of their call may still be in it (the agent's own call).
                if !self.sip.release(pcall, sip_side(side)).await {
                    self.sip.hangup(pcall).await;
                }
                self.event(call, "party_removed", json!({ "by": by, "party": name })).await;
                self.remove_party(conf, pcall, Some(side)).await;
            }
        }
        Ok(self.publish(conf))
    }

    /// A party's own phone holds or resumes: not heard while held, and no hold music goes into
    /// the conference. False when the side is no conference party (ordinary hold).
    pub(super) fn party_holds(&mut self, call: CallId, side: Side, on: bool) -> bool {
        let side = media_side(side);
        let Some(conf) = self.conf_of(call) else { return false };
        let Some(c) = self.confs.all.get(&conf) else { return false };
        let Some(p) = c.parties.iter().find(|p| p.call == call && p.side == side) else { return false };
        c.silence(p.id, on);
        true
    }

    /// One person of a joined call hung up.
    pub(super) async fn party_left(&mut self, call: CallId, side: Side) {
        let side = media_side(side);
        let Some(conf) = self.conf_of(call) else { return };
        if let Some(p) = self
            .confs
            .all
            .get(&conf)
            .and_then(|c| c.parties.iter().find(|p| p.call == call && p.side == side))
        {
            let data = json!({ "party": p.name });
            let extension = p.extension.clone();
            self.event(call, "party_left", data).await;
            if let (Some(extension), Some(account)) =
                (extension, self.calls.get(&call).and_then(|c| c.account))
            {
                self.live.agents().left(call, account, &extension);
            }
        }
        self.remove_party(conf, call, Some(side)).await;
    }

    /// A call ended: its parties leave whatever conference they were in.
    pub(super) async fn conference_call_ended(&mut self, call: CallId) {
        self.supervisor_unanswered(call).await;
        if let Some(conf) = self.conf_of(call) {
            self.remove_party(conf, call, None).await;
        }
    }

    /// Takes `call`'s party on `side` (both with `None`) out of the conference, then settles
    /// what is left: one person alone is hung up on, two on one call talk directly again.
    async fn remove_party(&mut self, conf: u64, call: CallId, side: Option<MediaSide>) {
        self.supervisors_leave(conf, call).await;
        let relay = self.calls.get(&call).and_then(|c| c.relay.clone());
        let Some(c) = self.confs.all.get_mut(&conf) else { return };
        let leaving: Vec<(u32, MediaSide)> = c
            .parties
            .iter()
            .filter(|p| p.call == call && side.is_none_or(|s| s == p.side))
            .map(|p| (p.id, p.side))
            .collect();
        for (id, s) in &leaving {
            c.bridge.leave(*id);
            if let Some(relay) = &relay {
                relay.join(*s, None);
            }
        }
        c.parties.retain(|p| !leaving.iter().any(|(id, _)| *id == p.id));
        let mut calls: Vec<CallId> = c.parties.iter().map(|p| p.call).collect();
        calls.sort();
        calls.dedup();
        if c.parties.len() >= 2 && calls.len() >= 2 {
            self.publish(conf);
            return;
        }
        // Over: nobody to talk to, or the two left are one call's own two people.
        let c = self.confs.all.remove(&conf).expect("checked");
        let records: Vec<RecordKey> = c.records.iter().map(|(_, k)| *k).collect();
        self.live.conferences().publish(&records, None);
        for p in &c.parties {
            if let Some(relay) = self.calls.get(&p.call).and_then(|x| x.relay.clone()) {
                relay.join(p.side, None);
                relay.stop_playing(p.side);
            }
        }
        match calls.first() {
            Some(&last) if c.parties.len() == 1 => {
                self.event(last, "conference_ended", json!({ "reason": "nobody else is left" })).await;
                self.sip.hangup(last).await;
            }
            Some(&last) => {
                self.sip.keep_legs(last, false).await;
                self.event(last, "conference_ended", json!({ "reason": "two people are left on one call" }))
                    .await;
            }
            None => {}
        }
    }
}
