//! A browser on one side of the relay (WebRTC): the relay's own loop reads the browser's socket
//! and drives its [`WebRtcLeg`] (ICE-lite, DTLS-SRTP, Opus), so a browser's packet costs one
//! receive and one send, as a phone's does, instead of crossing loopback to a task of its own.
//!
//! Toward the rest of the relay a browser looks like a PCMU phone: what it says becomes PCMU RTP
//! packets (our numbering, a gap where a packet was lost and not rebuilt), handled as if they had
//! arrived on the side's RTP socket; what the relay sends it (PCMU or PCMA RTP) is decoded and
//! given to the leg to encode. RTCP and telephone-events are not sent to a browser: str0m keeps
//! its own RTCP, and the softphone's keys travel by SIP INFO.
//!
//! The WebRTC gateway finds a relay by the port of the side it was given (see [`attach`]).

use super::super::endpoint::G711;
use super::super::rtp::{self, RtpHeader};
use super::super::webrtc::{WebRtcEvent, WebRtcLeg};
use super::{MediaSide, RelayCommand};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::Sleep;

/// What the gateway hands a relay: the browser's socket and its leg (shared with the gateway,
/// which gives it the browser's SDP answer and closes it), with the instant its times count from.
/// The socket is a plain one: the relay registers it with its own runtime's poller (a media
/// thread's), so that a browser's packet wakes only the relay's thread. Registered where the
/// gateway runs, every packet woke the application's runtime first, which then woke the media
/// thread: about a tenth of a browser call's CPU (`bench webrtc`).
pub struct BrowserLink {
    pub socket: std::net::UdpSocket,
    pub leg: Arc<Mutex<WebRtcLeg>>,
    pub base: Instant,
}

/// The relays of the process, by the port of each side: where the gateway finds the relay of a
/// browser's call.
/// A relay's commands and which of its sides a port is.
type SideOf = (mpsc::UnboundedSender<RelayCommand>, MediaSide);

static SIDES: Mutex<Option<HashMap<u16, SideOf>>> = Mutex::new(None);

pub(super) fn register(port: u16, side: MediaSide, commands: mpsc::UnboundedSender<RelayCommand>) {
    let mut sides = SIDES.lock().unwrap_or_else(|e| e.into_inner());
    sides.get_or_insert_with(HashMap::new).insert(port, (commands, side));
}

pub(super) fn unregister(port: u16, commands: &mpsc::UnboundedSender<RelayCommand>) {
    let mut sides = SIDES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(sides) = sides.as_mut() {
        if sides.get(&port).is_some_and(|(c, _)| c.same_channel(commands)) {
            sides.remove(&port);
        }
    }
}

/// A browser attached to a relay's side; dropping it does not detach it (see `detach`).
pub struct Attached {
    commands: mpsc::UnboundedSender<RelayCommand>,
    side: MediaSide,
}

impl Attached {
    /// Takes the browser off the relay (its socket closes); the relay's side is then silent.
    pub fn detach(&self) {
        let _ = self.commands.send(RelayCommand::Browser { side: self.side, link: None });
    }
}

/// Puts a browser on the side of a running relay of this process whose socket has the port of
/// `relay`; the link back when there is none.
pub fn attach(relay: SocketAddr, link: BrowserLink) -> Result<Attached, BrowserLink> {
    let found = {
        let sides = SIDES.lock().unwrap_or_else(|e| e.into_inner());
        sides.as_ref().and_then(|s| s.get(&relay.port()).cloned())
    };
    let Some((commands, side)) = found else { return Err(link) };
    if commands.is_closed() {
        return Err(link);
    }
    // The relay can only stop between the check and the send when its call ends.
    let _ = commands.send(RelayCommand::Browser { side, link: Some(link) });
    Ok(Attached { commands, side })
}

/// A browser on one side, in the relay's loop.
pub(super) struct Browser {
    /// The link's socket, registered with the relay's runtime.
    socket: UdpSocket,
    leg: Arc<Mutex<WebRtcLeg>>,
    base: Instant,
    wake: Pin<Box<Sleep>>,
    /// What the browser said, as PCMU RTP packets for the relay, oldest first.
    heard: VecDeque<Vec<u8>>,
    ssrc: u32,
    /// Where its packets come from (the relay latches it like a phone's).
    pub(super) from: SocketAddr,
}

impl Browser {
    /// Called in the relay's loop; `None` when the socket cannot be registered there.
    pub(super) fn new(link: BrowserLink) -> Option<Self> {
        let BrowserLink { socket, leg, base } = link;
        let socket = socket.set_nonblocking(true).and_then(|()| UdpSocket::from_std(socket));
        let socket = match socket {
            Ok(socket) => socket,
            Err(e) => {
                tracing::warn!(error = %e, "a browser's socket could not join the relay");
                return None;
            }
        };
        let local = socket.local_addr().ok();
        let ssrc = local.map_or(1, |a| a.port() as u32 * 7919);
        let from = local.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        let mut browser = Browser {
            socket,
            leg,
            base,
            wake: Box::pin(tokio::time::sleep(Duration::from_secs(3600))),
            heard: VecDeque::new(),
            ssrc,
            from,
        };
        browser.rearm();
        Some(browser)
    }

    fn now_ms(&self) -> u64 {
        self.base.elapsed().as_millis() as u64
    }

    /// Its socket and its timer, to wait on both at once.
    pub(super) fn parts(&mut self) -> (&UdpSocket, Pin<&mut Sleep>) {
        (&self.socket, self.wake.as_mut())
    }

    /// The next packet of what the browser said.
    pub(super) fn next_heard(&mut self) -> Option<Vec<u8>> {
        self.heard.pop_front()
    }

    /// Runs `f` on the leg, then sends what it produced and keeps what the browser said.
    async fn with_leg(&mut self, f: impl FnOnce(&mut WebRtcLeg, u64)) {
        let now = self.now_ms();
        let mut out = Vec::new();
        {
            let Ok(mut leg) = self.leg.lock() else { return };
            f(&mut leg, now);
            while let Some(t) = leg.poll_transmit() {
                out.push(t);
            }
            while let Some(e) = leg.poll_event() {
                match e {
                    WebRtcEvent::Heard(h) => {
                        let payload = G711::Ulaw.encode(&h.samples);
                        self.heard.push_back(rtp::write(false, 0, h.seq, h.timestamp, self.ssrc, &payload));
                    }
                    WebRtcEvent::Connected => {
                        tracing::debug!(codec = leg.codec_name(), "browser media connected")
                    }
                    WebRtcEvent::Closed => tracing::debug!("browser media closed"),
                }
            }
        }
        for (to, bytes) in out {
            let _ = self.socket.send_to(&bytes, to).await;
        }
        self.rearm();
    }

    /// Sets the timer to the leg's next timeout.
    fn rearm(&mut self) {
        let due = self.leg.lock().ok().and_then(|leg| leg.poll_timeout());
        let at = match due {
            Some(ms) => self.base + Duration::from_millis(ms),
            None => Instant::now() + Duration::from_secs(3600),
        };
        let at = tokio::time::Instant::from_std(at);
        if self.wake.deadline() != at {
            self.wake.as_mut().reset(at);
        }
    }

    /// A datagram at the browser's socket.
    pub(super) async fn on_datagram(&mut self, from: SocketAddr, bytes: &[u8]) {
        self.from = from;
        self.with_leg(|leg, now| leg.handle_datagram(now, from, bytes)).await;
    }

    /// The leg's timer fired.
    pub(super) async fn on_timeout(&mut self) {
        self.with_leg(|leg, now| leg.handle_timeout(now)).await;
    }

    /// A packet the relay sends this side: G.711 audio goes to the browser; anything else
    /// (RTCP, telephone-events) does not. Whether it was taken.
    pub(super) async fn send(&mut self, packet: &[u8]) -> bool {
        if RtpHeader::is_rtcp(packet) {
            return false;
        }
        let Some(h) = RtpHeader::parse(packet) else { return false };
        if h.payload_type != 0 && h.payload_type != 8 {
            return false;
        }
        let frame = G711::from_payload_type(h.payload_type).decode(h.payload(packet));
        self.with_leg(|leg, now| leg.send_frame(now, &frame)).await;
        true
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Ok(mut leg) = self.leg.lock() {
            leg.close();
        }
    }
}

/// A side's browser socket, for the relay's `select!` (never ready without a browser).
pub(super) async fn recv(socket: Option<&UdpSocket>, buf: &mut [u8]) -> std::io::Result<(usize, SocketAddr)> {
    match socket {
        Some(s) => s.recv_from(buf).await,
        None => std::future::pending().await,
    }
}

/// A side's browser timer, for the relay's `select!`.
pub(super) async fn timer(wake: Option<Pin<&mut Sleep>>) {
    match wake {
        Some(w) => w.await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
#[path = "browser_tests.rs"]
mod tests;
