//! The driver of browsers' call legs (WebRTC): for each, a UDP socket on the RTP range toward
//! the browser (ICE-lite host candidate, DTLS-SRTP, RTCP multiplexed) and a socket toward the
//! relay's side for that browser, over which the browser's audio travels as plain PCMU RTP. The
//! relay treats it like any phone (jitter buffer, players, taps, DTMF, recording); this task
//! only transcodes, packet by packet (Opus ⇄ PCMU through 8 kHz frames, `media::webrtc`).
//!
//! Implements the B2BUA's [`WebRtcMedia`]: the SIP core asks for an answer or an offer when a
//! browser calls or is rung, and releases the leg when the call ends.

use super::endpoint::G711;
use super::relay::PortPool;
use super::rtp::{self, RtpHeader};
use super::webrtc::{WebRtcEvent, WebRtcLeg};
use crate::sip::b2bua::{CallId, Side, WebRtcMedia, WebRtcSide};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::net::UdpSocket;

impl std::fmt::Debug for WebRtcConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebRtcConfig").field("bind", &self.bind).field("advertise", &self.advertise).finish()
    }
}

/// Where browsers' legs bind and what address they advertise.
#[derive(Clone)]
pub struct WebRtcConfig {
    pub pool: Arc<PortPool>,
    /// The address the sockets bind to.
    pub bind: IpAddr,
    /// The address in our ICE candidate (a public address in front of NAT); `bind` when None.
    pub advertise: Option<IpAddr>,
}

/// Packets browsers' legs received and sent (benchmarks and tests read these).
pub static BROWSER_PACKETS_IN: AtomicU64 = AtomicU64::new(0);
pub static BROWSER_FRAMES_OUT: AtomicU64 = AtomicU64::new(0);

struct Running {
    leg: Arc<Mutex<WebRtcLeg>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(mut leg) = self.leg.lock() {
            leg.close();
        }
        self.task.abort();
    }
}

/// Every browser leg of the process, by call and side.
pub struct Gateways {
    config: WebRtcConfig,
    base: Instant,
    legs: HashMap<(CallId, Side), Running>,
}

impl Gateways {
    pub fn new(config: WebRtcConfig) -> Self {
        Gateways { config, base: Instant::now(), legs: HashMap::new() }
    }

    fn now_ms(&self) -> u64 {
        self.base.elapsed().as_millis() as u64
    }

    /// Binds the browser's socket and the relay link, builds the leg, starts its task.
    fn open(
        &mut self,
        call: CallId,
        side: Side,
        relay: SocketAddr,
        make: impl FnOnce(Instant, u64, SocketAddr, SocketAddr) -> Result<(WebRtcLeg, String), String>,
    ) -> Result<WebRtcSide, String> {
        let public = self.config.pool.bind_one(self.config.bind).map_err(|e| e.to_string())?;
        let local = public.local_addr().map_err(|e| e.to_string())?;
        let advertised = SocketAddr::new(self.config.advertise.unwrap_or(local.ip()), local.port());
        // The relay's socket may listen on every address: reach it on loopback then.
        let relay = if relay.ip().is_unspecified() {
            SocketAddr::new(IpAddr::from([127, 0, 0, 1]), relay.port())
        } else {
            relay
        };
        let link = std::net::UdpSocket::bind(SocketAddr::new(relay.ip(), 0)).map_err(|e| e.to_string())?;
        let relay_peer = link.local_addr().map_err(|e| e.to_string())?;
        let (leg, sdp) = make(self.base, self.now_ms(), local, advertised)?;
        tracing::debug!(%call, ?side, %local, %relay_peer, "browser leg opened");
        let leg = Arc::new(Mutex::new(leg));
        let public = to_tokio(public)?;
        let link = to_tokio(link)?;
        let task = tokio::spawn(run(leg.clone(), public, link, relay, self.base));
        self.legs.insert((call, side), Running { leg, task });
        Ok(WebRtcSide { sdp, relay_peer })
    }
}

fn to_tokio(socket: std::net::UdpSocket) -> Result<UdpSocket, String> {
    socket.set_nonblocking(true).map_err(|e| e.to_string())?;
    UdpSocket::from_std(socket).map_err(|e| e.to_string())
}

impl WebRtcMedia for Gateways {
    fn answer(
        &mut self,
        call: CallId,
        side: Side,
        relay: SocketAddr,
        offer: &str,
    ) -> Result<WebRtcSide, String> {
        let offer = offer.to_string();
        self.open(call, side, relay, move |base, now, local, advertised| {
            WebRtcLeg::answer(base, now, local, advertised, &offer).map_err(|e| e.to_string())
        })
    }

    fn offer(&mut self, call: CallId, side: Side, relay: SocketAddr) -> Result<WebRtcSide, String> {
        self.open(call, side, relay, |base, now, local, advertised| {
            WebRtcLeg::offer(base, now, local, advertised).map_err(|e| e.to_string())
        })
    }

    fn accept_answer(&mut self, call: CallId, side: Side, answer: &str) -> Result<(), String> {
        let running = self.legs.get(&(call, side)).ok_or("no such browser leg")?;
        let mut leg = running.leg.lock().map_err(|_| "the browser leg failed")?;
        leg.accept_answer(answer).map_err(|e| e.to_string())
    }

    fn release(&mut self, call: CallId, side: Option<Side>) {
        match side {
            Some(side) => {
                self.legs.remove(&(call, side));
            }
            None => self.legs.retain(|(c, _), _| *c != call),
        }
    }
}

/// What one wake-up of the task has to send.
#[derive(Default)]
struct Outgoing {
    to_browser: Vec<(SocketAddr, Vec<u8>)>,
    to_relay: Vec<Vec<u8>>,
    closed: bool,
}

/// Takes what the leg produced: datagrams for the browser, frames for the relay as PCMU RTP.
fn collect(leg: &mut WebRtcLeg, ssrc: u32, out: &mut Outgoing) {
    while let Some(t) = leg.poll_transmit() {
        out.to_browser.push(t);
    }
    while let Some(e) = leg.poll_event() {
        match e {
            WebRtcEvent::Heard(h) => {
                let payload = G711::Ulaw.encode(&h.samples);
                out.to_relay.push(rtp::write(false, 0, h.seq, h.timestamp, ssrc, &payload));
            }
            WebRtcEvent::Connected => tracing::debug!(codec = leg.codec_name(), "browser media connected"),
            WebRtcEvent::Closed => out.closed = true,
        }
    }
}

async fn run(
    leg: Arc<Mutex<WebRtcLeg>>,
    public: UdpSocket,
    link: UdpSocket,
    relay: SocketAddr,
    base: Instant,
) {
    let mut from_browser = vec![0u8; 2048];
    let mut from_relay = vec![0u8; 2048];
    let ssrc = link.local_addr().map(|a| a.port() as u32 * 7919).unwrap_or(1);
    let now_ms = || base.elapsed().as_millis() as u64;
    loop {
        let wake = {
            let Ok(leg) = leg.lock() else { return };
            leg.poll_timeout()
        };
        let sleep = match wake {
            Some(ms) => tokio::time::sleep_until(tokio::time::Instant::from_std(
                base + std::time::Duration::from_millis(ms),
            )),
            None => tokio::time::sleep(std::time::Duration::from_secs(3600)),
        };
        let mut out = Outgoing::default();
        tokio::select! {
            r = public.recv_from(&mut from_browser) => {
                let Ok((n, source)) = r else { continue };
                BROWSER_PACKETS_IN.fetch_add(1, Ordering::Relaxed);
                let Ok(mut leg) = leg.lock() else { return };
                leg.handle_datagram(now_ms(), source, from_browser.get(..n).unwrap_or_default());
                collect(&mut leg, ssrc, &mut out);
            }
            r = link.recv_from(&mut from_relay) => {
                let Ok((n, _)) = r else { continue };
                let packet = from_relay.get(..n).unwrap_or_default();
                if RtpHeader::is_rtcp(packet) {
                    continue; // the browser gets RTCP from its own session
                }
                let Some(h) = RtpHeader::parse(packet) else { continue };
                if h.payload_type != 0 && h.payload_type != 8 {
                    continue; // telephone-events: a browser's keys travel by SIP INFO
                }
                let frame = G711::from_payload_type(h.payload_type).decode(h.payload(packet));
                let Ok(mut leg) = leg.lock() else { return };
                leg.send_frame(now_ms(), &frame);
                BROWSER_FRAMES_OUT.fetch_add(1, Ordering::Relaxed);
                collect(&mut leg, ssrc, &mut out);
            }
            _ = sleep => {
                let Ok(mut leg) = leg.lock() else { return };
                leg.handle_timeout(now_ms());
                collect(&mut leg, ssrc, &mut out);
            }
        }
        for (to, bytes) in out.to_browser {
            let _ = public.send_to(&bytes, to).await;
        }
        for bytes in out.to_relay {
            let _ = link.send_to(&bytes, relay).await;
        }
        if out.closed {
            tracing::debug!(%relay, "browser leg closed");
            // Keep the sockets until the call is released; nothing more comes.
            std::future::pending::<()>().await;
        }
    }
}
