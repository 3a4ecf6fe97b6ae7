//! The router's side of transfers (see `calls::transfer`): the caller is taken back from the
//! person connected to the call and handed to the dispatcher from the target.

use super::*;
use crate::calls::transfer::{self, Refused};
use crate::model::Target;
use serde_json::json;

impl CallRouter {
    /// A transfer asked by the web app.
    pub(super) async fn transfer_request(&mut self, request: transfer::Request) {
        let call = self.calls.iter().find(|(_, c)| c.record == Some(request.record)).map(|(id, _)| *id);
        let result = match call {
            Some(call) => {
                self.checked_transfer(call, request.target, &request.by, request.extension.as_deref()).await
            }
            None => Err(Refused::Call("the call has ended".into())),
        };
        let _ = request.reply.send(result);
    }

    /// The target checked against the configuration in force, for the agent who asked (see
    /// `transfer::check`), then the transfer; the target as dialled.
    async fn checked_transfer(
        &mut self,
        call: CallId,
        target: Target,
        by: &str,
        extension: Option<&str>,
    ) -> Result<Target, Refused> {
        let account = self.calls.get(&call).and_then(|c| c.account);
        let account = account.ok_or_else(|| Refused::Call("the call has no account here".into()))?;
        let snapshot = self.planner.snapshot.borrow().clone();
        let target = transfer::check(&snapshot, account, extension, target).map_err(Refused::Target)?;
        self.transfer(call, target.clone(), by, extension).await.map_err(Refused::Call)?;
        Ok(target)
    }

    /// A desk phone's REFER (already accepted): where it points, checked as for the agent on
    /// the call. A transfer that cannot go ahead leaves the call as it was.
    pub(super) async fn refer(&mut self, call: CallId, side: Side, user: &str) {
        let Some(active) = self.calls.get(&call) else { return };
        let Some(account) = active.account else { return };
        let placed_by = active.placed_by.as_ref().map(|(_, e)| e.clone());
        let agent = if side == Side::Caller {
            // The caller asked: only an agent of ours who placed the call sends on the person
            // they called.
            if placed_by.is_none() {
                self.sip.refuse_transfer(call, 403).await;
                let reason = "only an agent who placed the call can transfer it from the caller's side";
                return self
                    .event(call, "transfer_failed", json!({ "target": user, "reason": reason }))
                    .await;
            }
            placed_by
        } else {
            // The callee asked: the agent rung for the call, or one on it who did not place it.
            active.rung.as_ref().map(|(_, e)| e.clone()).or_else(|| {
                let on = self.live.agents().on(call);
                on.into_iter().find(|(a, e)| *a == account && Some(e) != placed_by.as_ref()).map(|(_, e)| e)
            })
        };
        let snapshot = self.planner.snapshot.borrow().clone();
        let target = transfer::dialled(&snapshot, account, user);
        let by = agent.clone().map_or_else(|| "the callee's phone".to_string(), |e| format!("extension {e}"));
        if let Err(refused) = self.checked_transfer(call, target, &by, agent.as_deref()).await {
            let reason = refused.reason();
            tracing::info!(%call, target = user, %reason, "transfer refused");
            // The phone hears why not (its REFER's NOTIFY); the call goes on.
            self.sip.refuse_transfer(call, 403).await;
            self.event(call, "transfer_failed", json!({ "target": user, "by": by, "reason": reason })).await;
        }
    }

    /// Sends the caller of `call` to `target`; the person connected (the callee) leaves.
    /// `extension`: the agent who asked, if one did.
    async fn transfer(
        &mut self,
        call: CallId,
        target: Target,
        by: &str,
        extension: Option<&str>,
    ) -> Result<(), String> {
        let Some(active) = self.calls.get(&call) else { return Err("the call has ended".into()) };
        // The caller's leg is the one kept: an agent who placed the call would be the one sent
        // on (asking themselves, or a call out that no agent of ours answered).
        let placed_by = active.placed_by.as_ref().map(|(_, e)| e.as_str());
        let dialled_out = active.rung.is_none() && active.ended.is_none();
        let turn = placed_by.is_some() && (dialled_out || placed_by == extension);
        if self.conf_of(call).is_some() {
            return Err("the call is in a conference: remove its parties or leave it".into());
        }
        if active.relay.is_none() || active.account.is_none() {
            return Err("the call has no media here".into());
        }
        if turn {
            // The person called goes on; the one who placed the call leaves.
            self.turn_around(call).await?;
        } else if !self.sip.release_callee(call).await {
            return Err("nobody is connected to this call".into());
        }
        tracing::debug!(%call, ?target, by, "transferred");
        self.event(call, "transferred", json!({ "kind": "blind", "by": by, "target": target })).await;
        // The person who left is free (or wraps up); whoever answers next is rung afresh.
        self.live.agents().call_ended(call);
        if let Some(active) = self.calls.get_mut(&call) {
            active.rung = None;
            active.ringing = None;
        }
        let Some(answered) = self.answered_call(call) else {
            return Err("the call has ended".into());
        };
        tokio::spawn(crate::calls::dispatch::resume(answered, target));
        Ok(())
    }

    /// A call someone placed, turned around for its blind transfer (see the B2BUA's
    /// `turn_around`): the person called is its caller from now on, on side A of the relay, and
    /// the call's services (recording, payments, coaching) know their customer there.
    async fn turn_around(&mut self, call: CallId) -> Result<(), String> {
        use switchboard_telephony::sip::b2bua::TurnRefused;
        match self.sip.turn_around(call).await {
            Ok(()) => {}
            Err(TurnRefused::NotConnected) => return Err("nobody is connected to this call".into()),
            Err(TurnRefused::CalleeIsBrowser) => {
                return Err("the person you called is on a browser phone: they can transfer the call themselves, or use a warm transfer".into())
            }
        }
        let Some(active) = self.calls.get_mut(&call) else { return Err("the call has ended".into()) };
        let Some(relay) = active.relay.clone() else { return Err("the call has no media here".into()) };
        relay.turn_around();
        // The caller is whoever was called (their number, for the customer's match).
        active.from = std::mem::take(&mut active.to);
        active.to = active.placed_by.take().map(|(_, e)| e).unwrap_or_default();
        active.limit_minutes = None;
        if let (Some(key), Some(account)) = (active.record, active.account) {
            self.live.recordings().turned_around(key);
            self.live.payments().call_ended(key);
            self.live.coaching().call_ended(key);
            if let Some(keypad) = active.info_keys.clone() {
                self.live.payments().register(key, account, &relay, MediaSide::A, keypad);
            }
            self.live.coaching().register(key, account, &relay, MediaSide::A);
        }
        Ok(())
    }
}
