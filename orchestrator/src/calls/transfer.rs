//! Blind (cold) transfers: the person connected to a call sends the caller somewhere else (an
//! agent, a queue, an IVR menu, an AI agent, a voicemail box or an outside number) and leaves.
//! Asked from the web app (`POST /api/calls/{id}/transfer`) or from a desk phone (SIP REFER);
//! either way the router takes the caller back from the person and hands the call to the
//! dispatcher, from the target, as for a call Switchboard answered itself (a target that does
//! not answer follows that target's own rules: forwarding, voicemail, a queue's overflow).

use crate::calls::planner::{as_e164, dialled_number, may_call_out};
use crate::calls::snapshot::Snapshot;
use crate::model::Target;
use crate::store::calls::RecordKey;
use std::sync::Mutex;
use tokio::sync::{mpsc, oneshot};

/// A transfer asked for a live call (by its record).
pub struct Request {
    pub record: RecordKey,
    pub target: Target,
    /// Who asked, for the timeline, and their extension if they have one.
    pub by: String,
    pub extension: Option<String>,
    pub reply: oneshot::Sender<Result<Target, Refused>>,
}

/// Why a transfer did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The target: it does not exist, or the agent may not call it.
    Target(String),
    /// The call: it ended, nobody is connected, the agent placed it.
    Call(String),
}

impl Refused {
    pub fn reason(&self) -> &str {
        match self {
            Refused::Target(why) | Refused::Call(why) => why,
        }
    }
}

/// Where transfers asked by the web app go: the call router, once it runs.
#[derive(Default)]
pub struct Transfers {
    router: Mutex<Option<mpsc::UnboundedSender<Request>>>,
}

impl Transfers {
    /// The router's end (it calls this once at start).
    pub fn attach(&self) -> mpsc::UnboundedReceiver<Request> {
        let (tx, rx) = mpsc::unbounded_channel();
        *self.router.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
        rx
    }

    /// Transfers the live call with this record (the router checks the target against its
    /// configuration); the target as dialled, or why not.
    pub async fn transfer(
        &self,
        record: RecordKey,
        target: Target,
        by: &str,
        extension: Option<&str>,
    ) -> Result<Target, Refused> {
        let refused = |why: &str| Refused::Call(why.to_string());
        let router = self.router.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let Some(router) = router else { return Err(refused("calls are not handled by this process")) };
        let (reply, answer) = oneshot::channel();
        let extension = extension.map(str::to_string);
        if router.send(Request { record, target, by: by.to_string(), extension, reply }).is_err() {
            return Err(refused("the call router is not running"));
        }
        answer.await.unwrap_or_else(|_| Err(refused("the call router did not answer")))
    }
}

/// A target an agent (`extension`, whose class of service applies to outside numbers) may send
/// a caller of `account` to, as it will be dialled; the reason when not.
pub fn check(
    snapshot: &Snapshot,
    account: i64,
    extension: Option<&str>,
    target: Target,
) -> Result<Target, String> {
    let missing = |what: &str, name: &str| Err(format!("there is no {what} {name:?}"));
    match target {
        Target::Agent { ref extension } if snapshot.agent(account, extension).is_none() => {
            missing("agent with extension", extension)
        }
        Target::Queue { ref name } if snapshot.queue(account, name).is_none() => missing("queue", name),
        Target::IvrMenu { ref name } if snapshot.ivr_menu(account, name).is_none() => {
            missing("IVR menu", name)
        }
        Target::VoicemailBox { ref name } if snapshot.voicemail_box(account, name).is_none() => {
            missing("voicemail box", name)
        }
        Target::Schedule { ref name } if snapshot.schedule(account, name).is_none() => {
            missing("schedule", name)
        }
        Target::Hangup => Err("to end the call, hang up".into()),
        Target::External { number } => {
            let Some(number) = as_e164(&number) else {
                return Err(format!("{number:?} is not a phone number"));
            };
            let home = home(snapshot, account);
            let cos = extension
                .and_then(|e| snapshot.agent(account, e))
                .and_then(|a| a.class_of_service.clone())
                .and_then(|name| snapshot.class_of_service(account, &name).cloned());
            may_call_out(snapshot, account, cos.as_ref(), &number, &home, crate::clock::now())?;
            // One of the account's own numbers: where that number goes (not out and back in).
            match snapshot.number(account, &number) {
                Some(own) => Ok(own.target.clone()),
                None => Ok(Target::External { number }),
            }
        }
        other => Ok(other),
    }
}

/// The account's own number (its caller ID), `+1` when it has none (as the planner reads it).
fn home(snapshot: &Snapshot, account: i64) -> String {
    snapshot
        .account(account)
        .and_then(|a| a.settings.as_ref()?.caller_id.clone())
        .unwrap_or_else(|| "+1".into())
}

/// What a desk phone's REFER names (the Refer-To user part): an agent's extension, or a number
/// (ten digits are a national number in a +1 account).
pub fn dialled(snapshot: &Snapshot, account: i64, user: &str) -> Target {
    if snapshot.agent(account, user).is_some() {
        return Target::Agent { extension: user.to_string() };
    }
    let number = dialled_number(user, &home(snapshot, account)).unwrap_or_else(|| user.to_string());
    Target::External { number }
}
