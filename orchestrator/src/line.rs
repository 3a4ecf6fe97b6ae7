//! The caller's side of a call as each handler that serves it (IVR menus, queues, voicemail, AI
//! agents) receives it, and how one handler hands it on to the next.

use crate::db::Db;
use crate::store::calls::{RecordKey, RecordWriter};
use std::path::PathBuf;
use std::sync::Arc;
use switchboard_telephony::driver::SipHandle;
use switchboard_telephony::media::relay::Relay;
use switchboard_telephony::sip::b2bua::CallId;
use tokio::sync::{mpsc, oneshot};

pub struct CallerLine {
    pub db: Db,
    pub sip: SipHandle,
    pub call: CallId,
    pub account: i64,
    /// The call's media; side A is the caller.
    pub relay: Arc<Relay>,
    pub data_dir: PathBuf,
    pub records: RecordWriter,
    pub record: Option<RecordKey>,
    /// The caller's keypad presses.
    pub digits: mpsc::UnboundedReceiver<char>,
    /// The caller's number (E.164), when known.
    pub caller: Option<String>,
    /// Completes (with an error) when the call ends.
    pub ended: oneshot::Receiver<()>,
}

impl CallerLine {
    /// The line for the next handler: the same call, with the caller's keys and the end of the
    /// call. The handler that hands it on keeps closed channels: it is done with the caller.
    pub fn hand_over(&mut self) -> CallerLine {
        CallerLine {
            db: self.db.clone(),
            sip: self.sip.clone(),
            call: self.call,
            account: self.account,
            relay: self.relay.clone(),
            data_dir: self.data_dir.clone(),
            records: self.records.clone(),
            record: self.record,
            digits: std::mem::replace(&mut self.digits, mpsc::unbounded_channel().1),
            caller: self.caller.clone(),
            ended: std::mem::replace(&mut self.ended, oneshot::channel().1),
        }
    }

    /// Who a message left on this line is from.
    pub fn caller_or_anonymous(&self) -> String {
        self.caller.clone().unwrap_or_else(|| "anonymous".into())
    }

    /// Whether the caller has hung up.
    pub fn caller_left(&mut self) -> bool {
        !matches!(self.ended.try_recv(), Err(oneshot::error::TryRecvError::Empty))
    }
}
