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
//!
//! Supervision of a human call uses the same bridge: a supervisor asks to supervise a call and
//! gets a one-time code to dial (`*77` and six digits) from their browser phone or desk phone;
//! the router answers that call and puts it in a bridge with the call's two people, in one of
//! three modes, switched without redialling: listen (heard by nobody), whisper (heard by the
//! agent only) or barge (heard by both). Or the PBX rings the supervisor's phone (desk phone or
//! browser: every phone of their extension) and answering it does the same.

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
    /// The supervisor on `call` (the one who asks) listens, whispers or barges from now on.
    Supervise { mode: Mode },
    /// Ring the supervisor's phone (the request's extension) for the supervision `code` stands
    /// for (see `Conferences::ticket`): answering joins them to `call`.
    Ring { code: String },
}

/// How a supervisor is in a human call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Hears both, heard by nobody.
    Listen,
    /// Heard by the agent only (coaching); hears both.
    Whisper,
    /// A party like the others: heard by both.
    Barge,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Listen => "listen",
            Mode::Whisper => "whisper",
            Mode::Barge => "barge",
        }
    }
}

/// What the dialled code `*77` + six digits stands for (see `Conferences::ticket`).
pub const SUPERVISE_PREFIX: &str = "*77";

/// How long a supervision code may be dialled.
const TICKET_LIFETIME: std::time::Duration = std::time::Duration::from_secs(120);

/// A supervision asked for and not yet dialled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    pub account: i64,
    pub call: RecordKey,
    pub mode: Mode,
    /// The supervisor's name, for the timeline.
    pub by: String,
    expires: std::time::Instant,
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
    /// A supervisor, and how they are in the call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supervising: Option<Mode>,
}

/// Where the web app's asks go (the router, once it runs), and the live conferences' views by
/// each of their calls' records.
#[derive(Default)]
pub struct Conferences {
    router: Mutex<Option<mpsc::UnboundedSender<Request>>>,
    views: Mutex<HashMap<RecordKey, View>>,
    tickets: Mutex<HashMap<String, Ticket>>,
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

    /// A one-time code for a supervisor of `account` to dial (after `SUPERVISE_PREFIX`) to
    /// supervise `call` in `mode`; valid for two minutes.
    pub fn ticket(&self, account: i64, call: RecordKey, mode: Mode, by: &str) -> String {
        let mut tickets = self.tickets.lock().unwrap_or_else(|e| e.into_inner());
        let now = std::time::Instant::now();
        tickets.retain(|_, t| t.expires > now);
        let code = loop {
            let mut b = [0u8; 4];
            let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b);
            let code = format!("{:06}", u32::from_le_bytes(b) % 1_000_000);
            if !tickets.contains_key(&code) {
                break code;
            }
        };
        let ticket = Ticket { account, call, mode, by: by.to_string(), expires: now + TICKET_LIFETIME };
        tickets.insert(code.clone(), ticket);
        code
    }

    /// The supervision a dialled code stands for (once: the code is spent), for a phone of
    /// `account`.
    pub fn redeem(&self, account: i64, code: &str) -> Option<Ticket> {
        let mut tickets = self.tickets.lock().unwrap_or_else(|e| e.into_inner());
        let valid =
            tickets.get(code).is_some_and(|t| t.account == account && t.expires > std::time::Instant::now());
        if valid {
            tickets.remove(code)
        } else {
            None
        }
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
