//! The RTP relay driver: two UDP sockets per call (one facing each side), packets copied
//! across unchanged when both sides use the same codec and nothing else listens. Each side's
//! address is latched to where its packets actually come from (symmetric RTP through NAT).

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::UdpSocket;
use tokio::sync::watch;

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

/// Where each side's media should go (from SDP); latching may override it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Targets {
    pub a: Option<SocketAddr>,
    pub b: Option<SocketAddr>,
}

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
    pub fn start(a: UdpSocket, b: UdpSocket) -> std::io::Result<Relay> {
        let (tx, rx) = watch::channel(Targets::default());
        let (a_local, b_local) = (a.local_addr()?, b.local_addr()?);
        let stats = Arc::new(RelayStats::default());
        let task = tokio::spawn(run(a, b, rx, stats.clone()));
        Ok(Relay { targets: tx, a_local, b_local, stats, task })
    }

    /// New addresses from signalling; `None` keeps the side's current address.
    pub fn update(&self, a: Option<SocketAddr>, b: Option<SocketAddr>) {
        self.targets.send_modify(|t| {
            if a.is_some() {
                t.a = a;
            }
            if b.is_some() {
                t.b = b;
            }
        });
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run(a: UdpSocket, b: UdpSocket, mut targets: watch::Receiver<Targets>, stats: Arc<RelayStats>) {
    let mut ba = vec![0u8; 2048];
    let mut bb = vec![0u8; 2048];
    let mut current = *targets.borrow();
    // Latched sources: where each side's packets really come from.
    let (mut latched_a, mut latched_b): (Option<SocketAddr>, Option<SocketAddr>) = (None, None);
    loop {
        tokio::select! {
            r = a.recv_from(&mut ba) => {
                let Ok((n, from)) = r else { continue };
                latched_a = Some(from);
                if let Some(to) = latched_b.or(current.b) {
                    if b.send_to(&ba[..n], to).await.is_ok() {
                        stats.a_to_b.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            r = b.recv_from(&mut bb) => {
                let Ok((n, from)) = r else { continue };
                latched_b = Some(from);
                if let Some(to) = latched_a.or(current.a) {
                    if a.send_to(&bb[..n], to).await.is_ok() {
                        stats.b_to_a.fetch_add(1, Ordering::Relaxed);
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
        let relay = Relay::start(pool.bind(ip).await.unwrap(), pool.bind(ip).await.unwrap()).unwrap();
        assert_ne!(relay.a_local, relay.b_local);
        let phone_a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let phone_b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        // Signalling says B is somewhere else; its real packets correct that (latching).
        relay.update(Some(phone_a.local_addr().unwrap()), Some("127.0.0.1:9".parse().unwrap()));
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
    }
}
