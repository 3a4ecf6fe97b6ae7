//! The RTP relay driver: one RTP and one RTCP socket per side of a call (`A` faces the caller,
//! `B` the callee), each side an [`RtpEndpoint`](super::endpoint::RtpEndpoint). While both sides use the same codec and nothing
//! is attached, packets are copied across unchanged (pass-through, the cheap path). When a
//! player, a tap or outgoing DTMF is attached, or the codecs differ, the relay bridges frames
//! instead: each side's packets go through its jitter buffer and are decoded, and every 20 ms
//! each side is sent one frame (what the other side said, or what is played to it) encoded for
//! its codec; once bridged, a call stays bridged (the peers keep one stream each). A tap gets
//! its side's frames without the playout delay: in sequence, as they arrive. Either way each
//! side gets RTCP receiver/sender reports from us every five seconds,
//! and the peer's reports are read for its view of the call. Each side's address is latched to
//! where its packets actually come from (symmetric RTP through NAT); RTCP multiplexed on the RTP
//! port (RFC 5761) is recognised and answered the same way.

use super::conference::Port;
use super::endpoint::LegQuality;
use super::player::Source;
use super::rtcp;
use super::rtp::RtpHeader;
use recording::Recording;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot, watch};

mod browser;
mod leg;
mod recording;
mod threads;

use browser::Browser;
pub use browser::{attach, Attached, BrowserLink};
use leg::{apply_targets, Leg, Playing};
pub use threads::use_media_threads;

/// Hands out even RTP ports (with the odd port above for RTCP) from a range, round robin,
/// skipping ports in use.
pub struct PortPool {
    lo: u16,
    hi: u16,
    next: Mutex<u16>,
}

/// The sockets of one side: RTP on an even port, RTCP on the port above.
pub struct MediaSockets {
    pub rtp: UdpSocket,
    pub rtcp: Option<UdpSocket>,
}

/// A relay side's sockets as the standard library's, to move them to another runtime.
struct StdSockets {
    rtp: std::net::UdpSocket,
    rtcp: Option<std::net::UdpSocket>,
}

impl MediaSockets {
    fn into_std(self) -> std::io::Result<StdSockets> {
        Ok(StdSockets { rtp: self.rtp.into_std()?, rtcp: self.rtcp.map(|s| s.into_std()).transpose()? })
    }

    /// Registers the sockets with the runtime it is called on.
    fn from_std(s: StdSockets) -> std::io::Result<MediaSockets> {
        Ok(MediaSockets {
            rtp: UdpSocket::from_std(s.rtp)?,
            rtcp: s.rtcp.map(UdpSocket::from_std).transpose()?,
        })
    }
}

impl PortPool {
    pub fn new(lo: u16, hi: u16) -> Self {
        let lo = lo + (lo % 2);
        PortPool { lo, hi, next: Mutex::new(lo) }
    }

    /// Binds one socket (RTP and RTCP multiplexed, as browsers do) at the next free even port.
    pub fn bind_one(&self, ip: IpAddr) -> std::io::Result<std::net::UdpSocket> {
        let span = ((self.hi - self.lo) / 2).max(1) as usize;
        for _ in 0..span {
            let port = self.next_port();
            if let Ok(socket) = std::net::UdpSocket::bind(SocketAddr::new(ip, port)) {
                return Ok(socket);
            }
        }
        Err(std::io::Error::new(std::io::ErrorKind::AddrInUse, "no free RTP port in the configured range"))
    }

    fn next_port(&self) -> u16 {
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        let p = *next;
        *next = if p + 3 >= self.hi { self.lo } else { p + 2 };
        p
    }

    /// Binds RTP and RTCP sockets on `ip` at the next free even port and the one above it.
    pub async fn bind(&self, ip: IpAddr) -> std::io::Result<MediaSockets> {
        let span = ((self.hi - self.lo) / 2).max(1) as usize;
        for _ in 0..span {
            let port = self.next_port();
            if let Ok(rtp) = UdpSocket::bind(SocketAddr::new(ip, port)).await {
                if let Ok(rtcp) = UdpSocket::bind(SocketAddr::new(ip, port + 1)).await {
                    return Ok(MediaSockets { rtp, rtcp: Some(rtcp) });
                }
            }
        }
        Err(std::io::Error::new(std::io::ErrorKind::AddrInUse, "no free RTP port in the configured range"))
    }
}

/// Where each side's media should go (from SDP; latching may override it), each side's
/// telephone-event payload type and G.711 payload type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Targets {
    pub a: Option<SocketAddr>,
    pub b: Option<SocketAddr>,
    pub a_dtmf: Option<u8>,
    pub b_dtmf: Option<u8>,
    /// The G.711 payload type of each side (PCMU when unknown).
    pub a_pt: Option<u8>,
    pub b_pt: Option<u8>,
    /// How many times the call was turned around (see [`Relay::turn_around`]).
    pub turns: u32,
}

impl Targets {
    /// The same with the sides traded.
    fn turned(self) -> Targets {
        Targets {
            a: self.b,
            b: self.a,
            a_dtmf: self.b_dtmf,
            b_dtmf: self.a_dtmf,
            a_pt: self.b_pt,
            b_pt: self.a_pt,
            turns: self.turns,
        }
    }
}

/// Which side of a call: `A` faces the caller, `B` the callee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaSide {
    A,
    B,
}

impl MediaSide {
    /// The side facing the other party.
    pub fn other(self) -> MediaSide {
        match self {
            MediaSide::A => MediaSide::B,
            MediaSide::B => MediaSide::A,
        }
    }

    fn index(self) -> usize {
        match self {
            MediaSide::A => 0,
            MediaSide::B => 1,
        }
    }
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

/// Test builds only: raised by `crash_all`; every relay panics at its next report tick.
#[cfg(feature = "fault-injection")]
static CRASH_GENERATION: AtomicU64 = AtomicU64::new(0);

/// Test builds only: makes every relay running now panic within a second (see `Relay::died`).
#[cfg(feature = "fault-injection")]
pub fn crash_all() {
    CRASH_GENERATION.fetch_add(1, Ordering::SeqCst);
}

/// Packet counts, for tests and metrics.
#[derive(Debug, Default)]
pub struct RelayStats {
    /// Packets sent to B that came from A (passed through or bridged as frames).
    pub a_to_b: AtomicU64,
    pub b_to_a: AtomicU64,
    /// RTCP reports we sent.
    pub rtcp_sent: AtomicU64,
}

/// A running relay; dropping it stops the relay and frees its ports.
pub struct Relay {
    targets: watch::Sender<Targets>,
    commands: mpsc::UnboundedSender<RelayCommand>,
    pub a_local: SocketAddr,
    pub b_local: SocketAddr,
    pub stats: Arc<RelayStats>,
    quality: Arc<Mutex<[LegQuality; 2]>>,
    task: tokio::task::JoinHandle<()>,
    died: watch::Receiver<bool>,
}

/// Aborts the task when dropped (the relay's task when the relay is dropped).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What the application asks of a relay (public so that a detached relay's owner can read
/// what was asked: see `Relay::detached`).
pub enum RelayCommand {
    /// Send this audio to `side` instead of what the other side says, until it ends.
    Play { side: MediaSide, source: Box<dyn Source + Send>, done: oneshot::Sender<()> },
    /// Stop playing to `side` (what the other side says flows again).
    Stop { side: MediaSide },
    /// Decoded 20 ms frames of what `side` says.
    Tap { side: MediaSide, frames: mpsc::UnboundedSender<Vec<i16>> },
    /// Send DTMF digits to `side`.
    Digits { side: MediaSide, digits: String },
    /// `side` listens in: it hears the other side and what is played to it, and is not heard.
    Monitor { side: MediaSide, on: bool },
    /// Send the next 20 ms now, and count the packet clock from now.
    SendNow,
    /// Put `side` in a conference (`None`: take it out): it hears the bridge's mix for it, and
    /// what it says goes to the bridge instead of the other side.
    Join { side: MediaSide, port: Option<Port> },
    /// Record the call: every 20 ms, one stereo frame (interleaved) with what `customer` said
    /// on the left and what it heard on the right, until the receiver is dropped.
    Record { customer: MediaSide, frames: mpsc::UnboundedSender<Vec<i16>> },
    /// Mask `side` (see [`Relay::mask`]).
    Mask { side: MediaSide, on: bool },
    /// A browser is `side` from now on (`None`: no more); see [`attach`].
    Browser { side: MediaSide, link: Option<BrowserLink> },
}

impl Relay {
    /// Sets the G.711 payload type the call negotiated on both sides (0 PCMU, 8 PCMA).
    pub fn set_payload_type(&self, pt: u8) {
        self.set_payload_types(pt, pt);
    }

    /// Sets each side's G.711 payload type; when they differ the relay transcodes.
    pub fn set_payload_types(&self, a: u8, b: u8) {
        self.targets.send_modify(|t| {
            t.a_pt = Some(a);
            t.b_pt = Some(b);
        });
    }

    /// Starts relaying; DTMF digits heard on either side go to `digits`.
    pub fn start(
        a: MediaSockets,
        b: MediaSockets,
        digits: Option<mpsc::UnboundedSender<Digit>>,
    ) -> std::io::Result<Relay> {
        let (tx, rx) = watch::channel(Targets::default());
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (a_local, b_local) = (a.rtp.local_addr()?, b.rtp.local_addr()?);
        let stats = Arc::new(RelayStats::default());
        let quality = Arc::new(Mutex::new([LegQuality::default(); 2]));
        let (died_tx, died) = watch::channel(false);
        browser::register(a_local.port(), MediaSide::A, commands.clone());
        browser::register(b_local.port(), MediaSide::B, commands.clone());
        let (st, q) = (stats.clone(), quality.clone());
        let relaying = match threads::next() {
            // On a media thread: the sockets move to its poller.
            Some(thread) => {
                let (a, b) = (a.into_std()?, b.into_std()?);
                thread.spawn(async move {
                    match (MediaSockets::from_std(a), MediaSockets::from_std(b)) {
                        (Ok(a), Ok(b)) => run([a, b], rx, command_rx, st, q, digits).await,
                        (Err(e), _) | (_, Err(e)) => tracing::error!(error = %e, "a relay's sockets could not move to its media thread"),
                    }
                })
            }
            None => tokio::spawn(run([a, b], rx, command_rx, st, q, digits)),
        };
        // A panic in the relay costs its call only: it is logged and reported on `died`, so
        // that the application ends the call rather than leave it silent.
        let task = tokio::spawn(async move {
            let mut relaying = AbortOnDrop(relaying);
            if let Err(e) = (&mut relaying.0).await {
                if e.is_panic() {
                    let message = crate::driver::panic_message(e.into_panic().as_ref());
                    tracing::error!(panic = %message, %a_local, %b_local, "a media relay panicked; its call ends");
                    let _ = died_tx.send(true);
                }
            }
        });
        Ok(Relay { targets: tx, commands, a_local, b_local, stats, quality, task, died })
    }

    /// A relay without sockets or a task: whatever the application asks of it arrives on the
    /// returned channel, for a test to play the media side (call handlers on a virtual clock).
    pub fn detached(
        a_local: SocketAddr,
        b_local: SocketAddr,
    ) -> (Relay, mpsc::UnboundedReceiver<RelayCommand>) {
        let (targets, _) = watch::channel(Targets::default());
        let (commands, asked) = mpsc::unbounded_channel();
        let (died_tx, died) = watch::channel(false);
        // Holds the `died` sender until the relay is dropped, as a running relay's task does.
        let task = tokio::spawn(async move {
            let _alive = died_tx;
            std::future::pending::<()>().await
        });
        let stats = Arc::new(RelayStats::default());
        let quality = Arc::new(Mutex::new([LegQuality::default(); 2]));
        (Relay { targets, commands, a_local, b_local, stats, quality, task, died }, asked)
    }

    /// Becomes `true` if the relay fails (its task panicked); closed when the relay is dropped.
    pub fn died(&self) -> watch::Receiver<bool> {
        self.died.clone()
    }

    /// Plays `source` to one side; the receiver completes when it has played out (or was
    /// stopped or replaced).
    pub fn play(&self, side: MediaSide, source: Box<dyn Source + Send>) -> oneshot::Receiver<()> {
        let (done, finished) = oneshot::channel();
        let _ = self.commands.send(RelayCommand::Play { side, source, done });
        finished
    }

    pub fn stop_playing(&self, side: MediaSide) {
        let _ = self.commands.send(RelayCommand::Stop { side });
    }

    /// Listen-in: `side` hears both the other side and whatever is played to the other side
    /// (an AI agent's voice), and nothing it says reaches the other side.
    pub fn monitor(&self, side: MediaSide, on: bool) {
        let _ = self.commands.send(RelayCommand::Monitor { side, on });
    }

    /// Masks what `side` says (`on`), for taking a card number by keypad: from the next packet
    /// its audio is replaced by silence before the other side, a listener, a conference, the
    /// recording or a tap hears it, and its RFC 4733 events are not passed on; its digits are
    /// still reported (on the relay's digit channel, to whoever captures them). Until `off`.
    pub fn mask(&self, side: MediaSide, on: bool) {
        let _ = self.commands.send(RelayCommand::Mask { side, on });
    }

    /// Puts `side` in a conference (see `conference::Bridge::join`), or takes it out (`None`):
    /// it then hears the conference instead of the other side, and the other side, unless
    /// joined too, stops hearing it (a side whose person left a joined call hears nothing).
    pub fn join(&self, side: MediaSide, port: Option<Port>) {
        let _ = self.commands.send(RelayCommand::Join { side, port });
    }

    /// Decoded audio from one side, 20 ms at a time (for recording and speech recognition), in
    /// sequence and as soon as it arrives: no playout delay (a lost packet is waited for 40 ms,
    /// then concealed).
    pub fn tap(&self, side: MediaSide) -> mpsc::UnboundedReceiver<Vec<i16>> {
        let (frames, rx) = mpsc::unbounded_channel();
        let _ = self.commands.send(RelayCommand::Tap { side, frames });
        rx
    }

    /// Records the call from now until the receiver is dropped: 8 kHz stereo frames of 20 ms,
    /// interleaved, what `customer` says on the left and everything it hears on the right (the
    /// other side, prompts, hold music). One frame per 20 ms of the call, silence where nobody
    /// spoke or packets were lost, so that a recording's times are the call's.
    pub fn record(&self, customer: MediaSide) -> mpsc::UnboundedReceiver<Vec<i16>> {
        let (frames, rx) = mpsc::unbounded_channel();
        let _ = self.commands.send(RelayCommand::Record { customer, frames });
        rx
    }

    /// Sends the next 20 ms to both sides now instead of at the next tick of the packet clock,
    /// which counts from now on: a player whose audio just began after silence (an answer) is
    /// heard up to 20 ms sooner.
    pub fn send_now(&self) {
        let _ = self.commands.send(RelayCommand::SendNow);
    }

    /// Sends DTMF digits to one side: RFC 4733 events where that side negotiated them, tones
    /// otherwise. Characters that are not digits are skipped.
    pub fn send_digits(&self, side: MediaSide, digits: &str) {
        let _ = self.commands.send(RelayCommand::Digits { side, digits: digits.to_string() });
    }

    /// Media quality of one side so far (updated as packets and reports arrive).
    pub fn quality(&self, side: MediaSide) -> LegQuality {
        self.quality.lock().unwrap_or_else(|e| e.into_inner())[side.index()]
    }

    /// The call was turned around (the B2BUA's `turn_around`: the person called is the caller
    /// now): the sides trade sockets and everything attached (a recording keeps its customer,
    /// a player its listener), so side `A` is the person who was `B`. Side `B` (the one who
    /// left) loses its address and browser until signalled again. `a_local`/`b_local` keep the
    /// ports as first bound: side `A` is reached on `b_local` from now on.
    pub fn turn_around(&self) {
        // The one who left is sent nothing more; whoever is connected next is signalled.
        self.targets
            .send_modify(|t| *t = Targets { turns: t.turns + 1, b: None, b_dtmf: None, ..t.turned() });
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

impl Drop for Relay {
    fn drop(&mut self) {
        browser::unregister(self.a_local.port(), &self.commands);
        browser::unregister(self.b_local.port(), &self.commands);
        self.task.abort();
    }
}

fn now_ntp() -> u64 {
    let unix_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    rtcp::ntp_from_unix_ms(unix_ms)
}

async fn recv_opt(socket: &Option<UdpSocket>, buf: &mut [u8]) -> std::io::Result<(usize, SocketAddr)> {
    match socket {
        Some(s) => s.recv_from(buf).await,
        None => std::future::pending().await,
    }
}

/// Adds two streams of 20 ms frames sample by sample (a missing frame is silence).
fn mix(a: &[Vec<i16>], b: &[Vec<i16>]) -> Vec<Vec<i16>> {
    (0..a.len().max(b.len()))
        .map(|i| {
            let (x, y) = (a.get(i), b.get(i));
            let n = x.map_or(0, Vec::len).max(y.map_or(0, Vec::len));
            (0..n)
                .map(|k| {
                    let p = x.and_then(|f| f.get(k)).copied().unwrap_or(0);
                    let q = y.and_then(|f| f.get(k)).copied().unwrap_or(0);
                    p.saturating_add(q)
                })
                .collect()
        })
        .collect()
}

/// What one 20 ms tick of a bridged call sends to a side; `sent` gets the audio frames.
async fn send_tick(
    legs: &mut [Leg; 2],
    sockets: &[MediaSockets; 2],
    browsers: &mut [Option<Browser>; 2],
    to: usize,
    heard: &[Vec<i16>],
    sent: &mut Vec<Vec<i16>>,
) -> u64 {
    let leg = &mut legs[to];
    let (own, silenced) = leg.own_audio();
    let mut packets = Vec::new();
    if let Some((sender, key)) = &mut leg.event_out {
        match sender.next_packet() {
            Some(p) => {
                let pt = leg.dtmf.unwrap_or(101);
                packets.push(leg.endpoint.send_event(pt, *key, p.marker, &p.payload));
                leg.endpoint.skip_frame(160);
            }
            None => leg.event_out = None,
        }
    }
    if !silenced {
        match own {
            Some(frame) => {
                packets.push(leg.endpoint.send_frame(&frame));
                sent.push(frame);
            }
            None => {
                packets.extend(heard.iter().map(|f| leg.endpoint.send_frame(f)));
                sent.extend(heard.iter().cloned());
            }
        }
    }
    let Some(addr) = leg.to() else { return 0 };
    let mut sent = 0;
    for p in packets {
        if send(&sockets[to], &mut browsers[to], &p, addr).await {
            sent += 1;
        }
    }
    sent
}

/// Sends an RTP packet to a side: to its browser, or from its socket to `to`.
async fn send(socket: &MediaSockets, browser: &mut Option<Browser>, packet: &[u8], to: SocketAddr) -> bool {
    match browser {
        Some(b) => b.send(packet).await,
        None => socket.rtp.send_to(packet, to).await.is_ok(),
    }
}

async fn run(
    mut sockets: [MediaSockets; 2],
    mut targets: watch::Receiver<Targets>,
    mut commands: mpsc::UnboundedReceiver<RelayCommand>,
    stats: Arc<RelayStats>,
    quality: Arc<Mutex<[LegQuality; 2]>>,
    digits: Option<mpsc::UnboundedSender<Digit>>,
) {
    let mut buf = [vec![0u8; 2048], vec![0u8; 2048]];
    let mut rtcp_buf = [vec![0u8; 1500], vec![0u8; 1500]];
    let mut browser_buf = [vec![0u8; 2048], vec![0u8; 2048]];
    let mut browsers: [Option<Browser>; 2] = [None, None];
    let seed = sockets[0].rtp.local_addr().map(|x| x.port() as u32).unwrap_or(1);
    let mut legs = [Leg::new(MediaSide::A, seed), Leg::new(MediaSide::B, seed)];
    let mut current = *targets.borrow_and_update();
    apply_targets(&mut legs, &Targets::default(), &current);
    let started = tokio::time::Instant::now();
    let now_ms = || started.elapsed().as_millis() as u64;
    let mut ticker = tokio::time::interval(std::time::Duration::from_millis(20));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut reports = tokio::time::interval(std::time::Duration::from_millis(1000));
    reports.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut bridging = false;
    let mut recording: Option<Recording> = None;
    #[cfg(feature = "fault-injection")]
    let generation = CRASH_GENERATION.load(Ordering::SeqCst);
    let counters = [&stats.b_to_a, &stats.a_to_b]; // packets sent to A came from B, and so on
    let publish = |legs: &[Leg; 2]| {
        let mut q = quality.lock().unwrap_or_else(|e| e.into_inner());
        q[0] = legs[0].endpoint.quality();
        q[1] = legs[1].endpoint.quality();
    };
    loop {
        let want_bridge = legs[0].attached()
            || legs[1].attached()
            || recording.is_some()
            || legs[0].endpoint.codec() != legs[1].endpoint.codec();
        if want_bridge && !bridging {
            // Playout restarts from what arrives next.
            legs[0].endpoint.reset_playout();
            legs[1].endpoint.reset_playout();
        }
        // Once a side hears our own stream (SSRC, sequence, timestamps), it keeps hearing it:
        // going back to copying the other side's packets would change all three mid-call,
        // which phones' jitter buffers take for a broken stream.
        bridging = bridging || want_bridge;
        // What a browser said is handled as if it had arrived on its side's socket.
        let heard = browsers.iter_mut().enumerate().find_map(|(i, b)| {
            let b = b.as_mut()?;
            Some((i, b.next_heard()?, b.from))
        });
        let [buf_a, buf_b] = &mut buf;
        let [rtcp_a, rtcp_b] = &mut rtcp_buf;
        let [browser_a, browser_b] = &mut browsers;
        let (socket_a, wake_a) = browser_a.as_mut().map(Browser::parts).unzip();
        let (socket_b, wake_b) = browser_b.as_mut().map(Browser::parts).unzip();
        let [bbuf_a, bbuf_b] = &mut browser_buf;
        let (side, n, from, is_rtcp) = if let Some((i, packet, from)) = heard {
            let target = if i == 0 { buf_a } else { buf_b };
            let n = packet.len().min(target.len());
            target[..n].copy_from_slice(&packet[..n]);
            (i, n, from, false)
        } else {
            tokio::select! {
                r = browser::recv(socket_a, bbuf_a) => {
                    if let (Ok((n, from)), Some(b)) = (r, browsers[0].as_mut()) {
                        b.on_datagram(from, &browser_buf[0][..n]).await;
                    }
                    continue;
                }
                r = browser::recv(socket_b, bbuf_b) => {
                    if let (Ok((n, from)), Some(b)) = (r, browsers[1].as_mut()) {
                        b.on_datagram(from, &browser_buf[1][..n]).await;
                    }
                    continue;
                }
                _ = browser::timer(wake_a) => {
                    if let Some(b) = browsers[0].as_mut() {
                        b.on_timeout().await;
                    }
                    continue;
                }
                _ = browser::timer(wake_b) => {
                    if let Some(b) = browsers[1].as_mut() {
                        b.on_timeout().await;
                    }
                    continue;
                }
                r = sockets[0].rtp.recv_from(buf_a) => match r { Ok((n, from)) => (0, n, from, false), Err(_) => continue },
                r = sockets[1].rtp.recv_from(buf_b) => match r { Ok((n, from)) => (1, n, from, false), Err(_) => continue },
                r = recv_opt(&sockets[0].rtcp, rtcp_a) => match r { Ok((n, from)) => (0, n, from, true), Err(_) => continue },
                r = recv_opt(&sockets[1].rtcp, rtcp_b) => match r { Ok((n, from)) => (1, n, from, true), Err(_) => continue },
                _ = ticker.tick(), if bridging => {
                    let now = now_ms();
                    let mut heard: [Vec<Vec<i16>>; 2] = [Vec::new(), Vec::new()];
                    for (i, leg) in legs.iter_mut().enumerate() {
                        // Up to a few frames if the clock slipped; the jitter buffer paces them.
                        while heard[i].len() < 4 {
                            let Some(frame) = leg.endpoint.poll_frame(now) else { break };
                            heard[i].push(frame);
                        }
                        // A reordered packet's gap may have timed out.
                        leg.feed_tap(now);
                    }
                    // A side that listens in goes second: it hears what the other side was sent.
                    let order = if legs[0].monitor { [1, 0] } else { [0, 1] };
                    let mut sent_audio: [Vec<Vec<i16>>; 2] = [Vec::new(), Vec::new()];
                    // What a side in a conference says goes to the bridge.
                    for (i, leg) in legs.iter().enumerate() {
                        if let (Some(port), false) = (&leg.port, leg.monitor) {
                            heard[i].iter().for_each(|f| port.say(f.clone()));
                        }
                    }
                    for to in order {
                        let other = 1 - to;
                        let hears = if let Some(port) = legs[to].port.as_mut() {
                            // The bridge's mix for this side, or silence while it has none yet.
                            vec![port.next(2).unwrap_or_else(|| vec![0; 160])]
                        } else if legs[other].port.is_some() || legs[other].monitor {
                            // The other side talks to the conference, or listens in: not heard here.
                            Vec::new()
                        } else if legs[to].monitor {
                            mix(&heard[other], &sent_audio[other])
                        } else {
                            heard[other].clone()
                        };
                        let mut out = Vec::new();
                        let sent = send_tick(&mut legs, &sockets, &mut browsers, to, &hears, &mut out).await;
                        sent_audio[to] = out;
                        counters[to].fetch_add(sent, Ordering::Relaxed);
                        PACKETS_FORWARDED.fetch_add(sent, Ordering::Relaxed);
                    }
                    if let Some(r) = &mut recording {
                        let c = r.customer;
                        // What a listening side says is heard by nobody, so it is not recorded.
                        let said = if legs[c].monitor { &[][..] } else { &heard[c][..] };
                        if !r.feed(now, said, &sent_audio[c]) {
                            recording = None;
                        }
                    }
                    continue;
                }
                _ = reports.tick() => {
                    #[cfg(feature = "fault-injection")]
                    if CRASH_GENERATION.load(Ordering::SeqCst) != generation {
                        panic!("injected fault: a media relay crashes");
                    }
                    let (now, ntp) = (now_ms(), now_ntp());
                    for (i, leg) in legs.iter_mut().enumerate() {
                        if browsers[i].is_some() {
                            continue; // a browser's RTCP is its WebRTC leg's
                        }
                        let Some(to) = leg.rtcp_to() else { continue };
                        let Some(report) = leg.endpoint.poll_rtcp(now, ntp) else { continue };
                        let socket = if leg.mux { Some(&sockets[i].rtp) } else { sockets[i].rtcp.as_ref() };
                        if let Some(socket) = socket {
                            if socket.send_to(&report, to).await.is_ok() {
                                stats.rtcp_sent.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                    publish(&legs);
                    continue;
                }
                command = commands.recv() => {
                    match command {
                        Some(RelayCommand::Play { side, source, done }) => {
                            legs[side.index()].player = Some(Playing { source, done: Some(done) });
                        }
                        Some(RelayCommand::Stop { side }) => legs[side.index()].player = None,
                        Some(RelayCommand::Tap { side, frames }) => {
                            let leg = &mut legs[side.index()];
                            leg.tap = Some(frames);
                            leg.endpoint.hear_eagerly();
                        }
                        Some(RelayCommand::Monitor { side, on }) => legs[side.index()].monitor = on,
                        Some(RelayCommand::Join { side, port }) => legs[side.index()].port = port,
                        Some(RelayCommand::Mask { side, on }) => legs[side.index()].masked = on,
                        Some(RelayCommand::SendNow) => ticker.reset_immediately(),
                        Some(RelayCommand::Record { customer, frames }) => {
                            recording =
                                Some(Recording::new(customer.index(), frames, now_ms()));
                        }
                        Some(RelayCommand::Browser { side, link }) => {
                            browsers[side.index()] = link.and_then(Browser::new);
                        }
                        Some(RelayCommand::Digits { side, digits }) => legs[side.index()]
                            .digits_out
                            .extend(digits.chars().filter(|c| super::dtmf::digit_event(*c).is_some())),
                        None => {}
                    }
                    continue;
                }
                changed = targets.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    let next = *targets.borrow_and_update();
                    if next.turns != current.turns {
                        sockets.swap(0, 1);
                        browsers.swap(0, 1);
                        browsers[1] = None;
                        leg::turn_legs(&mut legs);
                        if let Some(r) = recording.as_mut() {
                            r.customer = 1 - r.customer;
                        }
                        current = current.turned();
                    }
                    apply_targets(&mut legs, &current, &next);
                    current = next;
                    continue;
                }
            }
        };
        let now = now_ms();
        let (i, j) = (side, 1 - side);
        if !legs[i].departed.is_empty() && legs[i].departed.contains(&from) {
            continue; // someone who left this side (see `turn_legs`)
        }
        let packet = if is_rtcp { &rtcp_buf[i][..n] } else { &buf[i][..n] };
        if is_rtcp || RtpHeader::is_rtcp(packet) {
            if !is_rtcp {
                legs[i].mux = true;
            } else {
                legs[i].rtcp_latched = Some(from);
            }
            legs[i].endpoint.handle_rtcp(now, now_ntp(), packet);
            publish(&legs);
            continue;
        }
        PACKETS_RECEIVED.fetch_add(1, Ordering::Relaxed);
        let Some(h) = RtpHeader::parse(packet) else { continue };
        legs[i].latched = Some(from);
        let (own_dtmf, other_dtmf) = (legs[i].dtmf, legs[j].dtmf);
        let buf_event: Vec<u8>;
        let packet = &mut buf[i][..n];
        // A browser's keys come by SIP INFO: its audio is not searched for tones.
        let digit = match browsers[i] {
            Some(_) => None,
            None => legs[i].digits.inspect(packet, own_dtmf, if bridging { own_dtmf } else { other_dtmf }),
        };
        if let (Some(d), Some(tx)) = (digit, &digits) {
            let _ = tx.send(d);
        }
        let out = if legs[i].masked && Some(h.payload_type) == own_dtmf {
            None // a masked side's keys are reported only
        } else if !bridging {
            legs[i].endpoint.observe_rtp(now, &h);
            legs[j].endpoint.forward(now, packet);
            Some(&packet[..])
        } else if Some(h.payload_type) == own_dtmf && (legs[i].port.is_some() || legs[j].port.is_some()) {
            None // a conference party's keys are heard (reported), not passed to one other party
        } else if Some(h.payload_type) == own_dtmf {
            // A telephone-event crosses into the other side's stream with its payload type.
            let payload = h.payload(packet).to_vec();
            let event = other_dtmf.map(|pt| legs[j].endpoint.send_event(pt, h.timestamp, h.marker, &payload));
            buf_event = event.unwrap_or_default();
            (!buf_event.is_empty()).then_some(&buf_event[..])
        } else {
            if legs[i].masked {
                leg::silence_payload(packet, legs[i].endpoint.codec());
            }
            legs[i].endpoint.handle_rtp(now, packet);
            legs[i].feed_tap(now);
            None
        };
        if let (Some(out), Some(to)) = (out, legs[j].to()) {
            if send(&sockets[j], &mut browsers[j], out, to).await {
                counters[j].fetch_add(1, Ordering::Relaxed);
                PACKETS_FORWARDED.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests;
