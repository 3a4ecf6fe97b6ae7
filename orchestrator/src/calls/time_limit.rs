//! A class of service's longest call: a minute before the limit the agent hears a warning tone
//! (and the timeline says so), at the limit Switchboard hangs up. A call that ends before is
//! left alone (hanging up an ended call does nothing).

use crate::store::calls::{RecordKey, RecordWriter};
use serde_json::json;
use std::sync::Weak;
use std::time::Duration;
use switchboard_telephony::driver::SipHandle;
use switchboard_telephony::media::player::Tone;
use switchboard_telephony::media::relay::{MediaSide, Relay};
use switchboard_telephony::sip::b2bua::CallId;

/// How long before the limit the warning sounds.
pub const WARNING: Duration = Duration::from_secs(60);

/// Ends `call` after `minutes`, warning `agent`'s side a minute before.
pub fn enforce(
    sip: SipHandle,
    call: CallId,
    relay: Weak<Relay>,
    agent: MediaSide,
    records: RecordWriter,
    record: Option<RecordKey>,
    minutes: u32,
) -> tokio::task::JoinHandle<()> {
    let limit = Duration::from_secs(minutes as u64 * 60);
    tokio::spawn(async move {
        tokio::time::sleep(limit.saturating_sub(WARNING)).await;
        // Gone with the call: nothing to warn or end.
        let Some(r) = relay.upgrade() else { return };
        drop(r.play(agent, Box::new(Tone::beep(8000, 700))));
        drop(r);
        if let Some(key) = record {
            records.event(key, "time_limit_warning", json!({ "minutes": minutes }));
        }
        tokio::time::sleep(limit.min(WARNING)).await;
        if relay.upgrade().is_none() {
            return;
        }
        if let Some(key) = record {
            records.event(key, "time_limit_reached", json!({ "minutes": minutes }));
        }
        tracing::info!(%call, minutes, "the call reached its class of service's time limit");
        sip.hangup(call).await;
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use switchboard_telephony::driver::DriverCommand;
    use switchboard_telephony::media::relay::RelayCommand;

    #[tokio::test(start_paused = true)]
    async fn a_minute_before_the_limit_the_agent_hears_a_tone_and_at_the_limit_the_call_ends() {
        let (sip, mut asked) = SipHandle::detached("127.0.0.1:5060".parse().unwrap());
        let (relay, mut media) =
            Relay::detached("127.0.0.1:4000".parse().unwrap(), "127.0.0.1:4002".parse().unwrap());
        let relay = Arc::new(relay);
        let records = RecordWriter::detached().0;
        let started = tokio::time::Instant::now();
        let _task = enforce(sip, CallId(7), Arc::downgrade(&relay), MediaSide::A, records, None, 3);
        let warned = match media.recv().await {
            Some(RelayCommand::Play { side, .. }) => (side, started.elapsed()),
            _ => panic!("no warning tone"),
        };
        assert_eq!(warned, (MediaSide::A, Duration::from_secs(120)));
        match asked.recv().await {
            Some(DriverCommand::Hangup(call)) => assert_eq!(call, CallId(7)),
            _ => panic!("no hang-up"),
        }
        assert_eq!(started.elapsed(), Duration::from_secs(180));
        // A call that ended first is left alone.
        let (sip, mut asked) = SipHandle::detached("127.0.0.1:5060".parse().unwrap());
        let gone = Arc::downgrade(&relay);
        drop(relay);
        enforce(sip, CallId(8), gone, MediaSide::A, RecordWriter::detached().0, None, 1).await.unwrap();
        assert!(asked.try_recv().is_err());
    }
}
