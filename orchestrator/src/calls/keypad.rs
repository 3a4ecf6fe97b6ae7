//! Where a call's keypad digits go, whichever way they came (RFC 4733 events and in-band tones
//! heard by the relay, SIP INFO reported by the B2BUA): to whatever serves the call (an IVR
//! menu, a queue's opt-out key), or, while a card is being taken, to the payment capture
//! alone. A captured digit is not logged, not written to the timeline and not given to anyone
//! else: the router asks [`Keypad::press`] first and does nothing more with a captured one.

use std::sync::{Arc, Mutex};
use switchboard_telephony::media::relay::MediaSide;
use tokio::sync::mpsc;

struct Inner {
    service: mpsc::UnboundedSender<char>,
    capture: Option<(MediaSide, mpsc::UnboundedSender<char>)>,
}

/// One call's keypad.
pub struct Keypad(Mutex<Inner>);

/// What became of a digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pressed {
    /// Taken by a payment capture: it must leave no trace.
    Captured,
    /// Given to the service of the call (the caller's digits) or to nobody (the callee's).
    Passed,
}

impl Keypad {
    pub fn new(service: mpsc::UnboundedSender<char>) -> Keypad {
        Keypad(Mutex::new(Inner { service, capture: None }))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The call is handed to another service: the caller's digits go there from now on.
    pub fn serve(&self, service: mpsc::UnboundedSender<char>) {
        self.lock().service = service;
    }

    /// From now on `side`'s digits go to the returned receiver only, until it is dropped or
    /// [`Keypad::release`] is called.
    pub fn capture(&self, side: MediaSide) -> mpsc::UnboundedReceiver<char> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.lock().capture = Some((side, tx));
        rx
    }

    pub fn release(&self) {
        self.lock().capture = None;
    }

    /// A digit from `side` (A the caller, B the callee).
    pub fn press(&self, side: MediaSide, digit: char) -> Pressed {
        let mut inner = self.lock();
        if let Some((captured, tx)) = &inner.capture {
            if *captured == side {
                if tx.send(digit).is_ok() {
                    return Pressed::Captured;
                }
                // The capture is over (its receiver went): the side is no longer captured,
                // but this digit is still treated as a card digit.
                inner.capture = None;
                return Pressed::Captured;
            }
        }
        if side == MediaSide::A {
            let _ = inner.service.send(digit);
        }
        Pressed::Passed
    }
}

/// Writes the digits a call's media relay hears into the call's timeline.
pub(crate) fn spawn_digit_recorder(
    records: crate::store::calls::RecordWriter,
    call: switchboard_telephony::sip::b2bua::CallId,
    record: Option<crate::store::calls::RecordKey>,
    mut digits: tokio::sync::mpsc::UnboundedReceiver<switchboard_telephony::media::relay::Digit>,
    keypad: Arc<Keypad>,
) {
    tokio::spawn(async move {
        // Ends when the relay (and with it the sender) is dropped at the end of the call.
        while let Some(d) = digits.recv().await {
            if keypad.press(d.side, d.digit) == Pressed::Captured {
                continue; // a card's digit: no log, no timeline
            }
            let side = if d.side == MediaSide::A { "caller" } else { "callee" };
            let via = if d.event { "rfc4733" } else { "inband" };
            tracing::debug!(%call, digit = %d.digit, side, via, "DTMF");
            if let Some(id) = record {
                records.event(
                    id,
                    "dtmf",
                    serde_json::json!({ "digit": d.digit.to_string(), "side": side, "via": via }),
                );
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capture_takes_its_sides_digits_and_nothing_else_gets_them() {
        let (tx, mut service) = mpsc::unbounded_channel();
        let keypad = Keypad::new(tx);
        assert_eq!(keypad.press(MediaSide::A, '1'), Pressed::Passed);
        assert_eq!(keypad.press(MediaSide::B, '9'), Pressed::Passed);
        assert_eq!(service.try_recv(), Ok('1'));
        assert!(service.try_recv().is_err(), "the callee's digits serve nobody");
        let mut card = keypad.capture(MediaSide::B);
        assert_eq!(keypad.press(MediaSide::B, '4'), Pressed::Captured);
        assert_eq!(keypad.press(MediaSide::A, '2'), Pressed::Passed);
        assert_eq!((card.try_recv(), service.try_recv()), (Ok('4'), Ok('2')));
        drop(card);
        assert_eq!(keypad.press(MediaSide::B, '4'), Pressed::Captured, "a late digit is still secret");
        assert_eq!(keypad.press(MediaSide::B, '5'), Pressed::Passed);
        assert!(service.try_recv().is_err());
    }
}
