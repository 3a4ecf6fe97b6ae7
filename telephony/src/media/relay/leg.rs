//! One side of the relay: its addresses (signalled and latched), its RTP endpoint, and what is
//! attached to it (a player, a tap, DTMF to send, listen-in, a conference port).

use super::super::conference::Port;
use super::super::dtmf::{EventReceiver, EventSender, ToneDetector};
use super::super::endpoint::{RtpEndpoint, G711};
use super::super::player::{Source, Tone};
use super::super::rtp::RtpHeader;
use super::{Digit, MediaSide, Targets};
use std::collections::VecDeque;
use std::net::SocketAddr;
use tokio::sync::{mpsc, oneshot};

/// Per-direction DTMF listening and payload-type translation.
pub(super) struct DigitWatch {
    pub(super) side: MediaSide,
    pub(super) events: EventReceiver,
    pub(super) tones: ToneDetector,
}

impl DigitWatch {
    pub(super) fn new(side: MediaSide) -> Self {
        DigitWatch { side, events: EventReceiver::default(), tones: ToneDetector::default() }
    }

    /// Looks at a packet from this side; rewrites the telephone-event payload type for the
    /// other side when they differ.
    pub(super) fn inspect(
        &mut self,
        packet: &mut [u8],
        own_dtmf: Option<u8>,
        other_dtmf: Option<u8>,
    ) -> Option<Digit> {
        let h = RtpHeader::parse(packet)?;
        if Some(h.payload_type) == own_dtmf {
            let digit = self.events.handle(&h, h.payload(packet));
            if let Some(pt) = other_dtmf.filter(|pt| Some(*pt) != own_dtmf) {
                packet[1] = (packet[1] & 0x80) | (pt & 0x7F);
            }
            return digit.map(|digit| Digit { side: self.side, digit, event: true });
        }
        if own_dtmf.is_some() {
            return None; // events negotiated: in-band tones are not looked for
        }
        if h.payload_type != 0 && h.payload_type != 8 {
            return None;
        }
        let samples = G711::from_payload_type(h.payload_type).decode(h.payload(packet));
        self.tones.handle_block(&samples).map(|digit| Digit { side: self.side, digit, event: false })
    }
}

/// Replaces the audio of an RTP packet from a masked side by silence in its codec (the
/// packet keeps its header, so playout and loss counting go on as before).
pub(super) fn silence_payload(packet: &mut [u8], codec: G711) {
    let Some(h) = RtpHeader::parse(packet) else { return };
    let end = packet.len().saturating_sub(h.padding);
    if let Some(payload) = packet.get_mut(h.payload_offset..end) {
        let silence = codec.encode(&[0]);
        payload.fill(silence.first().copied().unwrap_or(0xFF));
    }
}

/// Where decoded frames of one side go.
pub(super) type FrameTap = mpsc::UnboundedSender<Vec<i16>>;

/// A player attached to one side.
pub(super) struct Playing {
    pub(super) source: Box<dyn Source + Send>,
    pub(super) done: Option<oneshot::Sender<()>>,
}

/// The state of one side of the relay (its sockets live beside it).
pub(super) struct Leg {
    pub(super) signalled: Option<SocketAddr>,
    pub(super) latched: Option<SocketAddr>,
    /// Where a person who left this side (the call turned around) sent from: their late
    /// packets are dropped, so they cannot latch the side away from whoever comes next.
    pub(super) departed: Vec<SocketAddr>,
    pub(super) rtcp_latched: Option<SocketAddr>,
    /// The peer sends RTCP on the RTP port.
    pub(super) mux: bool,
    pub(super) dtmf: Option<u8>,
    pub(super) digits: DigitWatch,
    pub(super) endpoint: RtpEndpoint,
    pub(super) player: Option<Playing>,
    pub(super) tap: Option<FrameTap>,
    pub(super) digits_out: VecDeque<char>,
    /// The telephone-event being sent, with its key.
    pub(super) event_out: Option<(EventSender, u32)>,
    /// An in-band DTMF tone being sent (the side has no telephone-events).
    pub(super) tone_out: Option<Tone>,
    /// Listening in (see `Relay::monitor`).
    pub(super) monitor: bool,
    /// In a conference: what this side says goes to the bridge, and it hears the bridge's mix.
    pub(super) port: Option<Port>,
    /// Masked (see `Relay::mask`): its audio is replaced by silence before anything hears it,
    /// and its telephone-events are reported but not passed on.
    pub(super) masked: bool,
}

impl Leg {
    pub(super) fn new(side: MediaSide, seed: u32) -> Self {
        let ssrc = seed.wrapping_mul(2654435761) ^ (side.index() as u32 * 0x9E37_79B9);
        Leg {
            signalled: None,
            latched: None,
            departed: Vec::new(),
            rtcp_latched: None,
            mux: false,
            dtmf: None,
            digits: DigitWatch::new(side),
            endpoint: RtpEndpoint::new(G711::Ulaw, ssrc, (ssrc >> 7) as u16, ssrc >> 3, 0),
            player: None,
            tap: None,
            monitor: false,
            port: None,
            masked: false,
            digits_out: VecDeque::new(),
            event_out: None,
            tone_out: None,
        }
    }

    pub(super) fn to(&self) -> Option<SocketAddr> {
        self.latched.or(self.signalled)
    }

    pub(super) fn rtcp_to(&self) -> Option<SocketAddr> {
        if self.mux {
            return self.to();
        }
        self.rtcp_latched.or(self.to().map(|a| SocketAddr::new(a.ip(), a.port().wrapping_add(1))))
    }

    /// Something needs frames from or to this side.
    pub(super) fn attached(&self) -> bool {
        self.player.is_some()
            || self.monitor
            || self.port.is_some()
            || self.masked
            || self.tap.is_some()
            || self.event_out.is_some()
            || self.tone_out.is_some()
            || !self.digits_out.is_empty()
    }

    pub(super) fn set_codec(&mut self, pt: u8) {
        let codec = G711::from_payload_type(pt);
        if codec != self.endpoint.codec() {
            let ssrc = self.endpoint.ssrc();
            self.endpoint = RtpEndpoint::new(codec, ssrc, (ssrc >> 7) as u16, ssrc >> 3, 0);
            if self.tap.is_some() {
                self.endpoint.hear_eagerly();
            }
        }
    }

    /// Gives the tap what arrived: in sequence, as soon as it arrives (whoever taps follows the
    /// audio, it does not play it, so a playout delay would only make it hear later).
    pub(super) fn feed_tap(&mut self, now_ms: u64) {
        let Some(tap) = &self.tap else { return };
        while let Some(frame) = self.endpoint.poll_heard(now_ms) {
            if tap.send(frame).is_err() {
                self.tap = None;
                self.endpoint.stop_hearing_eagerly();
                return;
            }
        }
    }

    /// The audio this side gets for the next 20 ms when something other than the other side
    /// speaks to it (a DTMF tone, then a player), and whether it is silenced for an event.
    pub(super) fn own_audio(&mut self) -> (Option<Vec<i16>>, bool) {
        if self.tone_out.is_none() && self.event_out.is_none() {
            if let Some(d) = self.digits_out.pop_front() {
                if self.dtmf.is_some() {
                    self.event_out = EventSender::new(d, 100).map(|e| (e, u32::MAX - d as u32));
                } else {
                    self.tone_out = Tone::dtmf(8000, d, 100);
                }
            }
        }
        if self.event_out.is_some() {
            return (None, true);
        }
        if let Some(t) = &mut self.tone_out {
            match t.next_frame() {
                Some(f) => return (Some(f), false),
                None => self.tone_out = None,
            }
        }
        if let Some(p) = &mut self.player {
            match p.source.next_frame() {
                Some(f) => return (Some(f), false),
                None => {
                    if let Some(done) = p.done.take() {
                        let _ = done.send(());
                    }
                    self.player = None;
                }
            }
        }
        (None, false)
    }
}

/// The call was turned around (see `Relay::turn_around`): the legs trade places, each with all
/// it has, and the digits each hears are reported as its new side's.
pub(super) fn turn_legs(legs: &mut [Leg; 2]) {
    legs.swap(0, 1);
    legs[0].digits.side = MediaSide::A;
    legs[1].digits.side = MediaSide::B;
    let left = &mut legs[1];
    let gone = [left.signalled, left.latched, left.rtcp_latched];
    left.departed.extend(gone.into_iter().flatten());
    // Nothing the one who left had (a player, a tap, a listen-in, a mask, digits being sent)
    // applies to whoever comes next.
    left.player = None;
    left.tap = None;
    left.monitor = false;
    left.masked = false;
    left.digits_out.clear();
    left.event_out = None;
    left.tone_out = None;
}

/// New signalling: addresses (a new one resets that side's latches), payload types.
pub(super) fn apply_targets(legs: &mut [Leg; 2], old: &Targets, new: &Targets) {
    let sides = [(new.a, old.a, new.a_dtmf, new.a_pt), (new.b, old.b, new.b_dtmf, new.b_pt)];
    for (leg, (addr, old_addr, dtmf, pt)) in legs.iter_mut().zip(sides) {
        if addr != old_addr {
            leg.latched = None;
            leg.rtcp_latched = None;
            leg.mux = false;
            // Someone who left and is signalled again (called back) is heard again.
            leg.departed.retain(|d| Some(*d) != addr);
        }
        leg.signalled = addr;
        leg.dtmf = dtmf;
        leg.set_codec(pt.unwrap_or(0));
    }
}
