//! The driver of browsers' call legs (WebRTC): for each, a UDP socket on the RTP range toward
//! the browser (ICE-lite host candidate, DTLS-SRTP, RTCP multiplexed) and the leg's state
//! (`media::webrtc`), both handed to the relay of the browser's call, whose loop reads the socket
//! and drives the leg (see `relay::attach`): the relay treats the browser like any phone (jitter
//! buffer, players, taps, DTMF, recording) and the leg transcodes, frame by frame (Opus ⇄ 8 kHz).
//!
//! Implements the B2BUA's [`WebRtcMedia`]: the SIP core asks for an answer or an offer when a
//! browser calls or is rung, and releases the leg when the call ends.

use super::relay::{self, Attached, BrowserLink, PortPool};
use super::webrtc::{BrowserCodecs, WebRtcLeg};
use crate::sip::b2bua::{CallId, Side, WebRtcMedia, WebRtcSide};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

impl std::fmt::Debug for WebRtcConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebRtcConfig")
            .field("bind", &self.bind)
            .field("advertise", &self.advertise)
            .field("codecs", &self.codecs)
            .finish()
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
    /// What browsers' legs offer and accept.
    pub codecs: BrowserCodecs,
}

struct Running {
    leg: Arc<Mutex<WebRtcLeg>>,
    relay: Attached,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(mut leg) = self.leg.lock() {
            leg.close();
        }
        self.relay.detach();
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

    /// Binds the browser's socket, builds the leg and puts both on the relay's side whose
    /// socket is `relay`.
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
        let (leg, sdp) = make(self.base, self.now_ms(), local, advertised)?;
        tracing::debug!(%call, ?side, %local, %relay, "browser leg opened");
        let leg = Arc::new(Mutex::new(leg));
        let link = BrowserLink { socket: public, leg: leg.clone(), base: self.base };
        let attached = relay::attach(relay, link).map_err(|_| format!("no media relay at {relay}"))?;
        self.legs.insert((call, side), Running { leg, relay: attached });
        // The relay stands in for the browser itself: the address only marks the side as reached.
        Ok(WebRtcSide { sdp, relay_peer: local })
    }
}

impl WebRtcMedia for Gateways {
    fn answer(
        &mut self,
        call: CallId,
        side: Side,
        relay: SocketAddr,
        offer: &str,
    ) -> Result<WebRtcSide, String> {
        let (offer, codecs) = (offer.to_string(), self.config.codecs);
        self.open(call, side, relay, move |base, now, local, advertised| {
            WebRtcLeg::answer(codecs, base, now, local, advertised, &offer).map_err(|e| e.to_string())
        })
    }

    fn offer(&mut self, call: CallId, side: Side, relay: SocketAddr) -> Result<WebRtcSide, String> {
        let codecs = self.config.codecs;
        self.open(call, side, relay, move |base, now, local, advertised| {
            WebRtcLeg::offer(codecs, base, now, local, advertised).map_err(|e| e.to_string())
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
