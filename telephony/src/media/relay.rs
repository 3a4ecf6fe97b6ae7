//! The RTP relay driver: two UDP sockets per call (one facing each side), packets copied
//! across unchanged when both sides use the same codec and nothing else listens. Each side's
//! address is latched to where its packets actually come from (symmetric RTP through NAT).

use super::dtmf::{EventReceiver, ToneDetector};
use super::endpoint::{RtpEndpoint, G711};
use super::g711;
use super::player::Source;
use super::rtp::RtpHeader;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot, watch};

/// Hands out even RTP ports from a range, round robin, skipping ports in use.
pub struct PortPool {
    lo: u16,
    hi: u16,
    next: Mutex<u16>,
}

impl PortPool {
    pub fn new(lo: u16, hi: u16) -> Self {
        let lo = lo + (lo % 2);
        PortPool { lo, hi, next: Mutex::new(lo) }
    }

    /// Binds a socket on `ip` at the next free even port.
    pub async fn bind(&self, ip: IpAddr) -> std::io::Result<UdpSocket> {
        let span = ((self.hi - self.lo) / 2).max(1) as usize;
        for _ in 0..span {
            let port = {
                let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
                let p = *next;
                *next = if p + 2 >= self.hi { self.lo } else { p + 2 };
                p
            };
            if let Ok(s) = UdpSocket::bind(SocketAddr::new(ip, port)).await {
                return Ok(s);
            }
        }
        Err(std::io::Error::new(std::io::ErrorKind::AddrInUse, "no free RTP port in the configured range"))
    }
}

/// Where each side's media should go (from SDP; latching may override it) and each side's
/// telephone-event payload type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Targets {
    pub a: Option<SocketAddr>,
    pub b: Option<SocketAddr>,
    pub a_dtmf: Option<u8>,
    pub b_dtmf: Option<u8>,
    /// The G.711 payload type both sides use (PCMU when unknown).
    pub payload_type: Option<u8>,
}

/// Which side of a call a digit came from: `A` faces the caller, `B` the callee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaSide {
    A,
    B,
}

/// A DTMF digit heard in the media, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digit {
    pub side: MediaSide,
    pub digit: char,
    /// `true` for RFC 4733 events, `false` for in-band tones.
    pub event: bool,
}

/// Packets every relay of the process received and forwarded (benchmarks read these).
pub static PACKETS_RECEIVED: AtomicU64 = AtomicU64::new(0);
pub static PACKETS_FORWARDED: AtomicU64 = AtomicU64::new(0);

/// Packet counts, for tests and metrics.
#[derive(Debug, Default)]
pub struct RelayStats {
    pub a_to_b: AtomicU64,
    pub b_to_a: AtomicU64,
}

/// A running relay; dropping it stops the relay and frees its ports.
pub struct Relay {
    targets: watch::Sender<Targets>,
    commands: mpsc::UnboundedSender<Command>,
    pub a_local: SocketAddr,
    pub b_local: SocketAddr,
    pub stats: Arc<RelayStats>,
    task: tokio::task::JoinHandle<()>,
}

/// What the application attaches to a side of the relay.
enum Command {
    /// Send this audio to `side` instead of what the other side says, until it ends.
    Play { side: MediaSide, source: Box<dyn Source + Send>, done: oneshot::Sender<()> },
    /// Stop playing to `side` (what the other side says flows again).
    Stop { side: MediaSide },
    /// Decoded 20 ms frames of what `side` says.
    Tap { side: MediaSide, frames: mpsc::UnboundedSender<Vec<i16>> },
}

impl Relay {
    /// Sets the G.711 payload type the call negotiated (0 PCMU, 8 PCMA).
    pub fn set_payload_type(&self, pt: u8) {
        self.targets.send_modify(|t| t.payload_type = Some(pt));
    }

    /// Starts relaying; DTMF digits heard on either side go to `digits`.
    pub fn start(
        a: UdpSocket,
        b: UdpSocket,
        digits: Option<mpsc::UnboundedSender<Digit>>,
    ) -> std::io::Result<Relay> {
        let (tx, rx) = watch::channel(Targets::default());
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (a_local, b_local) = (a.local_addr()?, b.local_addr()?);
        let stats = Arc::new(RelayStats::default());
        let task = tokio::spawn(run(a, b, rx, command_rx, stats.clone(), digits));
        Ok(Relay { targets: tx, commands, a_local, b_local, stats, task })
    }

    /// Plays `source` to one side; the receiver completes when it has played out (or was
    /// stopped or replaced).
    pub fn play(&self, side: MediaSide, source: Box<dyn Source + Send>) -> oneshot::Receiver<()> {
        let (done, finished) = oneshot::channel();
        let _ = self.commands.send(Command::Play { side, source, done });
        finished
    }

    pub fn stop_playing(&self, side: MediaSide) {
        let _ = self.commands.send(Command::Stop { side });
    }

    /// Decoded audio from one side, 20 ms at a time (for recording and speech recognition).
    pub fn tap(&self, side: MediaSide) -> mpsc::UnboundedReceiver<Vec<i16>> {
        let (frames, rx) = mpsc::unbounded_channel();
        let _ = self.commands.send(Command::Tap { side, frames });
        rx
    }

    /// New addresses and DTMF payload types from signalling; `None` keeps what was there.
    pub fn update(
        &self,
        a: Option<SocketAddr>,
        b: Option<SocketAddr>,
        a_dtmf: Option<u8>,
        b_dtmf: Option<u8>,
    ) {
        self.targets.send_modify(|t| {
            t.a = a.or(t.a);
            t.b = b.or(t.b);
            t.a_dtmf = a_dtmf.or(t.a_dtmf);
            t.b_dtmf = b_dtmf.or(t.b_dtmf);
        });
    }
}

/// Per-direction DTMF listening and payload-type translation.
struct Listener {
    side: MediaSide,
    events: EventReceiver,
    tones: ToneDetector,
}

impl Listener {
    fn new(side: MediaSide) -> Self {
        Listener { side, events: EventReceiver::default(), tones: ToneDetector::default() }
    }

    /// Looks at a packet from this side; rewrites the telephone-event payload type for the
    /// other side when they differ.
    fn inspect(&mut self, packet: &mut [u8], own_dtmf: Option<u8>, other_dtmf: Option<u8>) -> Option<Digit> {
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
        let samples: Vec<i16> = match h.payload_type {
            0 => h.payload(packet).iter().map(|&b| g711::ulaw_to_linear(b)).collect(),
            8 => h.payload(packet).iter().map(|&b| g711::alaw_to_linear(b)).collect(),
            _ => return None,
        };
        self.tones.handle_block(&samples).map(|digit| Digit { side: self.side, digit, event: false })
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Where decoded frames of one side go.
type FrameTap = mpsc::UnboundedSender<Vec<i16>>;

/// A player attached to one side.
struct Playing {
    source: Box<dyn Source + Send>,
    endpoint: RtpEndpoint,
    done: Option<oneshot::Sender<()>>,
}

fn codec_of(pt: Option<u8>) -> G711 {
    if pt == Some(8) {
        G711::Alaw
    } else {
        G711::Ulaw
    }
}

fn decode(packet: &[u8], pt: Option<u8>) -> Option<Vec<i16>> {
    let h = RtpHeader::parse(packet)?;
    match (h.payload_type, pt.unwrap_or(0)) {
        (0, 0) => Some(h.payload(packet).iter().map(|&b| g711::ulaw_to_linear(b)).collect()),
        (8, 8) => Some(h.payload(packet).iter().map(|&b| g711::alaw_to_linear(b)).collect()),
        _ => None,
    }
}

async fn run(
    a: UdpSocket,
    b: UdpSocket,
    mut targets: watch::Receiver<Targets>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    stats: Arc<RelayStats>,
    digits: Option<mpsc::UnboundedSender<Digit>>,
) {
    let mut ba = vec![0u8; 2048];
    let mut bb = vec![0u8; 2048];
    let (mut from_a, mut from_b) = (Listener::new(MediaSide::A), Listener::new(MediaSide::B));
    let mut current = *targets.borrow();
    // Latched sources: where each side's packets really come from.
    let (mut latched_a, mut latched_b): (Option<SocketAddr>, Option<SocketAddr>) = (None, None);
    let (mut play_a, mut play_b): (Option<Playing>, Option<Playing>) = (None, None);
    let (mut tap_a, mut tap_b): (Option<FrameTap>, Option<FrameTap>) = (None, None);
    let mut ticker = tokio::time::interval(std::time::Duration::from_millis(20));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let seed = a.local_addr().map(|x| x.port() as u32).unwrap_or(1);
    loop {
        let playing = play_a.is_some() || play_b.is_some();
        tokio::select! {
            r = a.recv_from(&mut ba) => {
                let Ok((n, from)) = r else { continue };
                PACKETS_RECEIVED.fetch_add(1, Ordering::Relaxed);
                latched_a = Some(from);
                if let (Some(d), Some(tx)) = (from_a.inspect(&mut ba[..n], current.a_dtmf, current.b_dtmf), &digits) {
                    let _ = tx.send(d);
                }
                if let Some(tap) = &tap_a {
                    if let Some(frame) = decode(&ba[..n], current.payload_type) {
                        if tap.send(frame).is_err() {
                            tap_a = None;
                        }
                    }
                }
                if play_b.is_some() {
                    continue; // a player owns what B hears
                }
                if let Some(to) = latched_b.or(current.b) {
                    if b.send_to(&ba[..n], to).await.is_ok() {
                        stats.a_to_b.fetch_add(1, Ordering::Relaxed);
                        PACKETS_FORWARDED.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            r = b.recv_from(&mut bb) => {
                let Ok((n, from)) = r else { continue };
                PACKETS_RECEIVED.fetch_add(1, Ordering::Relaxed);
                latched_b = Some(from);
                if let (Some(d), Some(tx)) = (from_b.inspect(&mut bb[..n], current.b_dtmf, current.a_dtmf), &digits) {
                    let _ = tx.send(d);
                }
                if let Some(tap) = &tap_b {
                    if let Some(frame) = decode(&bb[..n], current.payload_type) {
                        if tap.send(frame).is_err() {
                            tap_b = None;
                        }
                    }
                }
                if play_a.is_some() {
                    continue; // a player owns what A hears
                }
                if let Some(to) = latched_a.or(current.a) {
                    if a.send_to(&bb[..n], to).await.is_ok() {
                        stats.b_to_a.fetch_add(1, Ordering::Relaxed);
                        PACKETS_FORWARDED.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            _ = ticker.tick(), if playing => {
                for (slot, socket, to) in [(&mut play_a, &a, latched_a.or(current.a)), (&mut play_b, &b, latched_b.or(current.b))] {
                    let Some(p) = slot else { continue };
                    match p.source.next_frame() {
                        Some(frame) => {
                            let packet = p.endpoint.send_frame(&frame);
                            if let Some(to) = to {
                                let _ = socket.send_to(&packet, to).await;
                            }
                        }
                        None => {
                            if let Some(done) = p.done.take() {
                                let _ = done.send(());
                            }
                            *slot = None;
                        }
                    }
                }
            }
            command = commands.recv() => match command {
                Some(Command::Play { side, source, done }) => {
                    let endpoint = RtpEndpoint::new(codec_of(current.payload_type), seed.wrapping_mul(2654435761), seed as u16, seed, 0);
                    let p = Playing { source, endpoint, done: Some(done) };
                    match side {
                        MediaSide::A => play_a = Some(p),
                        MediaSide::B => play_b = Some(p),
                    }
                }
                Some(Command::Stop { side }) => match side {
                    MediaSide::A => play_a = None,
                    MediaSide::B => play_b = None,
                },
                Some(Command::Tap { side, frames }) => match side {
                    MediaSide::A => tap_a = Some(frames),
                    MediaSide::B => tap_b = Some(frames),
                },
                None => {}
            },
            changed = targets.changed() => {
                if changed.is_err() {
                    break;
                }
                let next = *targets.borrow();
                // A new address from signalling (e.g. after hold) resets the latch for that side.
                if next.a != current.a {
                    latched_a = None;
                }
                if next.b != current.b {
                    latched_b = None;
                }
                current = next;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn relays_both_ways_and_latches() {
        let pool = PortPool::new(40000, 40100);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let (tx, mut digits) = mpsc::unbounded_channel();
        let relay =
            Relay::start(pool.bind(ip).await.unwrap(), pool.bind(ip).await.unwrap(), Some(tx)).unwrap();
        assert_ne!(relay.a_local, relay.b_local);
        let phone_a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let phone_b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        // Signalling says B is somewhere else; its real packets correct that (latching).
        relay.update(
            Some(phone_a.local_addr().unwrap()),
            Some("127.0.0.1:9".parse().unwrap()),
            Some(96),
            Some(101),
        );
        phone_b.send_to(b"from b", relay.b_local).await.unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = tokio::time::timeout(std::time::Duration::from_secs(2), phone_a.recv_from(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((&buf[..n], from), (&b"from b"[..], relay.a_local));
        phone_a.send_to(b"from a", relay.a_local).await.unwrap();
        let (n, from) = tokio::time::timeout(std::time::Duration::from_secs(2), phone_b.recv_from(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((&buf[..n], from), (&b"from a"[..], relay.b_local));
        assert_eq!(relay.stats.a_to_b.load(Ordering::Relaxed), 1);
        assert_eq!(relay.stats.b_to_a.load(Ordering::Relaxed), 1);
        // A telephone-event from A: reported once, passed to B with B's payload type.
        for _ in 0..3 {
            phone_a
                .send_to(&crate::media::rtp::write(false, 96, 5, 800, 1, &[9, 0x8a, 0, 160]), relay.a_local)
                .await
                .unwrap();
        }
        let (n, _) = tokio::time::timeout(std::time::Duration::from_secs(2), phone_b.recv_from(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(RtpHeader::parse(&buf[..n]).unwrap().payload_type, 101);
        let d =
            tokio::time::timeout(std::time::Duration::from_secs(2), digits.recv()).await.unwrap().unwrap();
        assert_eq!(d, Digit { side: MediaSide::A, digit: '9', event: true });
    }
}
