//! Calls with more than two people, and calls joined together. An agent with a caller on one
//! line calls someone on the other (a consult: the caller hears hold music meanwhile), then
//! either completes a warm transfer (the caller and the person consulted are joined, the agent
//! leaves both calls) or merges the two into a conference (the person consulted joins the
//! caller and the agent). Each person left on a call is a party of a bridge (the relay's mixer,
//! `switchboard_telephony::media::conference`): everyone hears everyone else, whatever their
//! codec. Per party: mute (heard by nobody, still hears), hold (hears hold music, heard by
//! nobody), remove; the agent who started it can leave and the others go on. The router owns
//! the conferences (it owns the calls); the web app asks through this hub and reads the
//! conferences' views from it.

use crate::store::calls::RecordKey;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::{mpsc, oneshot};

/// What the web app asks of two calls or of a conference's party.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ask {
    /// Warm transfer: `call`'s other person and `consult`'s other person are joined; the agent
    /// leaves both calls.
    Complete { consult: RecordKey },
    /// Conference: `consult`'s other person joins `call` (and its conference, if it has one);
    /// the agent stays on `call` and leaves `consult`.
    Merge { consult: RecordKey },
    /// One party of `call`'s conference.
    Party { party: u32, action: PartyAction },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartyAction {
    Mute(bool),
    Hold(bool),
    Remove,
}

pub struct Request {
    pub call: RecordKey,
    pub ask: Ask,
    /// Who asked (for the timeline) and their extension (they must be on the calls).
    pub by: String,
    pub extension: Option<String>,
    pub reply: oneshot::Sender<Result<View, String>>,
}

/// A conference as the web app shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct View {
    pub id: u64,
    pub parties: Vec<PartyView>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct PartyView {
    pub id: u32,
    /// A name (an agent's) or a number.
    pub name: String,
    /// The agent's extension when the party is one of the account's agents.
    pub extension: Option<String>,
    pub muted: bool,
    pub held: bool,
}

/// Where the web app's asks go (the router, once it runs), and the live conferences' views by
/// each of their calls' records.
#[derive(Default)]
pub struct Conferences {
    router: Mutex<Option<mpsc::UnboundedSender<Request>>>,
    views: Mutex<HashMap<RecordKey, View>>,
}

impl Conferences {
    /// The router's end (it calls this once at start).
    pub fn attach(&self) -> mpsc::UnboundedReceiver<Request> {
        let (tx, rx) = mpsc::unbounded_channel();
        *self.router.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
        rx
    }

    pub async fn ask(
        &self,
        call: RecordKey,
        ask: Ask,
        by: &str,
        extension: Option<&str>,
    ) -> Result<View, String> {
        let router = self.router.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let Some(router) = router else { return Err("calls are not handled by this process".into()) };
        let (reply, answer) = oneshot::channel();
        let request =
            Request { call, ask, by: by.to_string(), extension: extension.map(str::to_string), reply };
        if router.send(request).is_err() {
            return Err("the call router is not running".into());
        }
        answer.await.unwrap_or_else(|_| Err("the call router did not answer".into()))
    }

    /// The conference `call` is in, if any.
    pub fn view(&self, call: RecordKey) -> Option<View> {
        self.views.lock().unwrap_or_else(|e| e.into_inner()).get(&call).cloned()
    }

    /// The router publishes a conference's view for each of its calls (`None`: it is over).
    pub fn publish(&self, calls: &[RecordKey], view: Option<&View>) {
        let mut views = self.views.lock().unwrap_or_else(|e| e.into_inner());
        for call in calls {
            match view {
                Some(v) => views.insert(*call, v.clone()),
                None => views.remove(call),
            };
        }
    }
}
