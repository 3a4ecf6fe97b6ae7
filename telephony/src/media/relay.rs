//! The RTP relay driver: two UDP sockets per call (one facing each side), packets copied
//! across unchanged when both sides use the same codec and nothing else listens. Each side's
//! address is latched to where its packets actually come from (symmetric RTP through NAT).

use super::dtmf::{EventReceiver, ToneDetector};
use super::g711;
use super::rtp::RtpHeader;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

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
    pub a_local: SocketAddr,
    pub b_local: SocketAddr,
    pub stats: Arc<RelayStats>,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    /// Starts relaying; DTMF digits heard on either side go to `digits`.
    pub fn start(
        a: UdpSocket,
        b: UdpSocket,
        digits: Option<mpsc::UnboundedSender<Digit>>,
    ) -> std::io::Result<Relay> {
        let (tx, rx) = watch::channel(Targets::default());
        let (a_local, b_local) = (a.local_addr()?, b.local_addr()?);
        let stats = Arc::new(RelayStats::default());
        let task = tokio::spawn(run(a, b, rx, stats.clone(), digits));
        Ok(Relay { targets: tx, a_local, b_local, stats, task })
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

async fn run(
    a: UdpSocket,
    b: UdpSocket,
    mut targets: watch::Receiver<Targets>,
    stats: Arc<RelayStats>,
    digits: Option<mpsc::UnboundedSender<Digit>>,
) {
    let mut ba = vec![0u8; 2048];
    let mut bb = vec![0u8; 2048];
    let (mut from_a, mut from_b) = (Listener::new(MediaSide::A), Listener::new(MediaSide::B));
    let mut current = *targets.borrow();
    // Latched sources: where each side's packets really come from.
    let (mut latched_a, mut latched_b): (Option<SocketAddr>, Option<SocketAddr>) = (None, None);
    loop {
        tokio::select! {
            r = a.recv_from(&mut ba) => {
                let Ok((n, from)) = r else { continue };
                PACKETS_RECEIVED.fetch_add(1, Ordering::Relaxed);
                latched_a = Some(from);
                if let (Some(d), Some(tx)) = (from_a.inspect(&mut ba[..n], current.a_dtmf, current.b_dtmf), &digits) {
                    let _ = tx.send(d);
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
                if let Some(to) = latched_a.or(current.a) {
                    if a.send_to(&bb[..n], to).await.is_ok() {
                        stats.b_to_a.fetch_add(1, Ordering::Relaxed);
                        PACKETS_FORWARDED.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
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
