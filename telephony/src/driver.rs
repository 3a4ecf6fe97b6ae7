//! The thin I/O driver around the sans-IO SIP core: a UDP socket and a TCP listener on the SIP
//! address, the clock, and a command channel. It feeds messages and timeouts in, sends what
//! comes out (over the TCP connection a peer uses, else UDP), and forwards events.

use crate::sip::b2bua::{CallId, RouteDecision, Side};
use crate::sip::flood::FloodConfig;
use crate::sip::parse::{parse_stream, ParseError, MAX_MESSAGE};
use crate::sip::registrar::{Directory, RegistrarConfig};
use crate::sip::server::{ServerEvent, SipServer, Transmit};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, oneshot};

/// Most simultaneous TCP connections accepted.
const MAX_CONNECTIONS: usize = 10_000;

/// What a connection (TCP here, WebSocket from the HTTP server) reports to the driver.
enum StreamEvent {
    Opened(SocketAddr, mpsc::Sender<Vec<u8>>),
    Message(SocketAddr, &'static str, Vec<u8>),
    Closed(SocketAddr),
}

/// A message-oriented connection owned by someone else (a SIP-over-WebSocket session of the
/// HTTP server, RFC 7118): what arrives is handed in whole, what the PBX sends comes out.
pub struct StreamLink {
    peer: SocketAddr,
    transport: &'static str,
    to_driver: mpsc::Sender<StreamEvent>,
    /// Messages the PBX sends to this peer.
    pub from_driver: mpsc::Receiver<Vec<u8>>,
}

impl StreamLink {
    /// One whole SIP message from the peer; `false` once the driver has stopped.
    pub async fn deliver(&self, message: Vec<u8>) -> bool {
        self.to_driver.send(StreamEvent::Message(self.peer, self.transport, message)).await.is_ok()
    }

    pub async fn close(self) {
        let _ = self.to_driver.send(StreamEvent::Closed(self.peer)).await;
    }
}

#[derive(Debug, Clone)]
pub struct SipConfig {
    pub bind: SocketAddr,
    pub registrar: RegistrarConfig,
    /// Prefixes the identifiers this process makes (Call-IDs, tags, branches); random per
    /// process. It signs digest nonces too, unless `nonce_secret` is given.
    pub secret: String,
    /// Signs digest nonces when several nodes must accept each other's: behind one SIP entry a
    /// phone's answer to one node's challenge may reach another node.
    pub nonce_secret: Option<String>,
    /// The `Server` header value.
    pub server_name: String,
    /// Browsers' media (WebRTC legs); without it browsers' offers are refused.
    pub webrtc: Option<crate::media::gateway::WebRtcConfig>,
}

/// A live registration, for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub account: i64,
    pub extension: String,
    pub contact: String,
    pub source: SocketAddr,
    pub transport: String,
    pub expires_in_s: u64,
    pub user_agent: Option<String>,
    /// The proxies the REGISTER came through (`Path`), nearest first.
    pub path: Vec<String>,
    /// Registered through another node of a cluster (this node reaches it through its path).
    pub remote: bool,
}

/// Counts for monitoring.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SipStats {
    pub calls: usize,
    pub registrations: usize,
    /// Carrier trunks we are registered with, and those we try to register with.
    pub trunks_registered: usize,
    pub trunks_registering: usize,
}

/// What the application asks of the SIP driver (public so that a detached handle's owner can
/// read what was asked: see `SipHandle::detached`).
pub enum DriverCommand {
    Hangup(CallId),
    KeepCaller(CallId, bool),
    ReportUnreached(CallId, bool),
    StopRinging(CallId),
    ReleaseCallee(CallId, oneshot::Sender<bool>),
    KeepLegs(CallId, bool),
    Release(CallId, Side, oneshot::Sender<bool>),
    RefuseTransfer(CallId, u16),
    Stats(oneshot::Sender<SipStats>),
    SetDirectory(Directory),
    Route(CallId, RouteDecision),
    Originate(crate::sip::b2bua::Originate, oneshot::Sender<Option<CallId>>),
    TurnAround(CallId, oneshot::Sender<Result<(), crate::sip::b2bua::TurnRefused>>),
    Registrations(oneshot::Sender<Vec<Registration>>),
    /// Runs an OPTIONS request through the core and answers with its response status.
    Probe(oneshot::Sender<u16>),
    SetFloodLimits(FloodConfig),
    SetDraining(bool),
    /// Devices registered through other nodes of a cluster: (account, extension, binding,
    /// milliseconds until it expires; the binding's own `expires_at_ms` is ignored).
    SetRemoteBindings(Vec<(i64, String, crate::sip::registrar::Binding, u64)>),
    /// Test builds only: panics the driver task outside any message's handling.
    #[cfg(feature = "fault-injection")]
    Crash,
    Shutdown,
}

/// What the driver counts while it runs; readable at any time, also while it restarts.
#[derive(Debug, Default)]
pub struct SipCounters {
    /// Messages that did not parse.
    pub malformed: AtomicU64,
    /// Requests dropped from sources over their rate.
    pub flood_dropped: AtomicU64,
    /// Sources blocked for flooding right now, and blocks so far.
    pub flood_blocked_now: AtomicU64,
    pub flood_blocks: AtomicU64,
    /// Messages whose handling panicked (each dropped, the driver went on).
    pub panics: AtomicU64,
    /// Messages for a TCP or WebSocket peer that could not keep up.
    pub send_overflow: AtomicU64,
    /// TCP connections refused because too many were open.
    pub connections_refused: AtomicU64,
}

/// The address the server's own probe comes from: unspecified, so no packet from the network
/// can carry it.
const PROBE_SOURCE: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 0);

/// Hex of the first bytes of `bytes`, for logging what a fault was handling.
pub fn hex_preview(bytes: &[u8]) -> String {
    const MAX: usize = 256;
    let shown = bytes.get(..MAX).unwrap_or(bytes);
    let mut out: String = shown.iter().map(|b| format!("{b:02x}")).collect();
    if bytes.len() > MAX {
        out.push_str(&format!("... ({} bytes)", bytes.len()));
    }
    out
}

/// The message of a caught panic.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".into()
    }
}

/// Talks to a running SIP driver. Cheap to clone.
#[derive(Clone)]
pub struct SipHandle {
    commands: mpsc::Sender<DriverCommand>,
    streams: mpsc::Sender<StreamEvent>,
    local_addr: SocketAddr,
    counters: Arc<SipCounters>,
}

impl SipHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// What the driver has counted (dropped messages by cause, panics).
    pub fn counters(&self) -> &SipCounters {
        &self.counters
    }

    /// Asks the driver to answer an OPTIONS request of its own through the SIP core: the status
    /// (200) when the driver is alive and serving, `None` when it does not answer within
    /// `timeout`.
    pub async fn probe(&self, timeout: Duration) -> Option<u16> {
        let (tx, rx) = oneshot::channel();
        tokio::time::timeout(timeout, async {
            self.commands.send(DriverCommand::Probe(tx)).await.ok()?;
            rx.await.ok()
        })
        .await
        .ok()
        .flatten()
    }

    /// Replaces the per-source request limits.
    pub async fn set_flood_limits(&self, config: FloodConfig) {
        let _ = self.commands.send(DriverCommand::SetFloodLimits(config)).await;
    }

    /// Stops (or resumes) taking new calls: OPTIONS and new INVITEs are answered 503 with
    /// `Retry-After` (a dispatcher in front takes the node out), calls up go on, phones still
    /// register.
    pub async fn set_draining(&self, draining: bool) {
        let _ = self.commands.send(DriverCommand::SetDraining(draining)).await;
    }

    /// Replaces the devices registered through other nodes of a cluster, so that calls here
    /// ring them too (through their `Path`).
    /// Each comes with the milliseconds until it expires.
    pub async fn set_remote_bindings(
        &self,
        bindings: Vec<(i64, String, crate::sip::registrar::Binding, u64)>,
    ) {
        let _ = self.commands.send(DriverCommand::SetRemoteBindings(bindings)).await;
    }

    /// Test builds only: makes the driver task panic outside any message's handling (its
    /// supervisor restarts it).
    #[cfg(feature = "fault-injection")]
    pub async fn crash(&self) {
        let _ = self.commands.send(DriverCommand::Crash).await;
    }

    /// Replaces who may register.
    pub async fn set_directory(&self, directory: Directory) {
        let _ = self.commands.send(DriverCommand::SetDirectory(directory)).await;
    }

    /// Current registrations (empty if the driver has stopped).
    pub async fn registrations(&self) -> Vec<Registration> {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(DriverCommand::Registrations(tx)).await.is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }

    /// Calls and registrations held right now.
    pub async fn stats(&self) -> SipStats {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(DriverCommand::Stats(tx)).await.is_err() {
            return SipStats::default();
        }
        rx.await.unwrap_or_default()
    }

    /// Hangs a call up from our side.
    pub async fn hangup(&self, call: CallId) {
        let _ = self.commands.send(DriverCommand::Hangup(call)).await;
    }

    /// Whether a call we answered keeps its caller when the person connected to it hangs up
    /// (see `CallEvent::CalleeLeft`).
    pub async fn keep_caller(&self, call: CallId, keep: bool) {
        let _ = self.commands.send(DriverCommand::KeepCaller(call, keep)).await;
    }

    /// Whether nobody taking a call not yet answered is reported (`CallEvent::Unreached`) for
    /// the application to send it on, rather than refused at once; for the next ring.
    pub async fn report_unreached(&self, call: CallId, report: bool) {
        let _ = self.commands.send(DriverCommand::ReportUnreached(call, report)).await;
    }

    /// Stops ringing whoever is rung for a call we answered (see `B2bua::stop_ringing`).
    pub async fn stop_ringing(&self, call: CallId) {
        let _ = self.commands.send(DriverCommand::StopRinging(call)).await;
    }

    /// Lets either person of a call leave without ending it (see `B2bua::keep_legs`).
    pub async fn keep_legs(&self, call: CallId, keep: bool) {
        let _ = self.commands.send(DriverCommand::KeepLegs(call, keep)).await;
    }

    /// Sends one person of a connected call away while the other stays (see `B2bua::release`).
    pub async fn release(&self, call: CallId, side: Side) -> bool {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(DriverCommand::Release(call, side, tx)).await.is_err() {
            return false;
        }
        rx.await.unwrap_or(false)
    }

    /// Takes the caller back from the person connected to a call (see
    /// `B2bua::release_callee`); false when nobody is connected.
    pub async fn release_callee(&self, call: CallId) -> bool {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(DriverCommand::ReleaseCallee(call, tx)).await.is_err() {
            return false;
        }
        rx.await.unwrap_or(false)
    }

    /// Tells a phone whose REFER will not be carried out (see `B2bua::refuse_transfer`).
    pub async fn refuse_transfer(&self, call: CallId, status: u16) {
        let _ = self.commands.send(DriverCommand::RefuseTransfer(call, status)).await;
    }

    /// Places a call (see `B2bua::originate`): its id, before any of its events is reported;
    /// None when the decision rings nobody or the driver has stopped.
    pub async fn originate(&self, o: crate::sip::b2bua::Originate) -> Option<CallId> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(DriverCommand::Originate(o, tx)).await.ok()?;
        rx.await.ok().flatten()
    }

    /// Turns a call around (see `B2bua::turn_around`): the person who placed it leaves, the
    /// person called is its caller from now on.
    pub async fn turn_around(&self, call: CallId) -> Result<(), crate::sip::b2bua::TurnRefused> {
        let (tx, rx) = oneshot::channel();
        let refused = Err(crate::sip::b2bua::TurnRefused::NotConnected);
        if self.commands.send(DriverCommand::TurnAround(call, tx)).await.is_err() {
            return refused;
        }
        rx.await.unwrap_or(refused)
    }

    /// Where an incoming call goes (answer to `CallEvent::Incoming`).
    pub async fn route(&self, call: CallId, decision: RouteDecision) {
        let _ = self.commands.send(DriverCommand::Route(call, decision)).await;
    }

    /// Connects a message-oriented stream (e.g. SIP over WebSocket) from `peer`.
    pub async fn attach_stream(&self, peer: SocketAddr, transport: &'static str) -> Option<StreamLink> {
        let (out_tx, out_rx) = mpsc::channel(256);
        self.streams.send(StreamEvent::Opened(peer, out_tx)).await.ok()?;
        Some(StreamLink { peer, transport, to_driver: self.streams.clone(), from_driver: out_rx })
    }

    pub async fn shutdown(&self) {
        let _ = self.commands.send(DriverCommand::Shutdown).await;
    }

    /// A handle with no driver behind it: what the application asks arrives on the returned
    /// channel, for a test to play the SIP side (call handlers on a virtual clock).
    pub fn detached(local_addr: SocketAddr) -> (SipHandle, mpsc::Receiver<DriverCommand>) {
        let (commands, asked) = mpsc::channel(64);
        let (streams, _) = mpsc::channel(1);
        (SipHandle { commands, streams, local_addr, counters: Arc::default() }, asked)
    }
}

/// Binds the SIP socket and runs the driver until shut down or every handle is dropped.
pub async fn start(
    config: SipConfig,
    events: mpsc::Sender<ServerEvent>,
) -> std::io::Result<(SipHandle, tokio::task::JoinHandle<()>)> {
    let (handle, mut driver) = bind(config, events).await?;
    Ok((handle, tokio::spawn(async move { driver.run().await })))
}

/// Binds the SIP socket and TCP listener; the driver runs when `SipDriver::run` is polled, and
/// can be run again after a panic with everything it held (see `SipDriver`).
pub async fn bind(
    config: SipConfig,
    events: mpsc::Sender<ServerEvent>,
) -> std::io::Result<(SipHandle, SipDriver)> {
    let socket = UdpSocket::bind(config.bind).await?;
    let local_addr = socket.local_addr()?;
    // TCP on the same address and port as UDP.
    let listener = TcpListener::bind(local_addr).await?;
    let (tx, rx) = mpsc::channel(64);
    let (stream_tx, stream_rx) = mpsc::channel::<StreamEvent>(1024);
    let mut server = SipServer::new(local_addr, config.registrar, config.secret, config.server_name);
    let start = Instant::now();
    if let Some(nonces) = config.nonce_secret {
        // The server's time is counted from `start`; shared nonces carry Unix time.
        let unix_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        server.set_nonce_secret(nonces, unix_ms);
    }
    if let Some(webrtc) = config.webrtc {
        server.set_webrtc(Box::new(crate::media::gateway::Gateways::new(webrtc)));
    }
    let counters = Arc::new(SipCounters::default());
    let driver = SipDriver {
        socket,
        listener,
        server,
        commands: rx,
        events,
        stream_tx: stream_tx.clone(),
        stream_rx,
        connections: HashMap::new(),
        start,
        buf: vec![0u8; MAX_MESSAGE],
        counters: counters.clone(),
        last_input: Vec::new(),
        pending: Vec::new(),
        stopped: false,
    };
    Ok((SipHandle { commands: tx, streams: stream_tx, local_addr, counters }, driver))
}

/// Reads framed SIP messages from one TCP connection and writes what the driver sends it.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    to_driver: mpsc::Sender<StreamEvent>,
    mut outgoing: mpsc::Receiver<Vec<u8>>,
) {
    let (mut reader, mut writer) = stream.into_split();
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = vec![0u8; 16 * 1024];
    'conn: loop {
        tokio::select! {
            read = reader.read(&mut chunk) => {
                let n = match read {
                    Ok(0) | Err(_) => break 'conn,
                    Ok(n) => n,
                };
                buf.extend_from_slice(&chunk[..n]);
                loop {
                    // Framing a stream must not panic; if it ever does, this connection closes
                    // (and is forgotten by the driver), nothing else.
                    let framed = std::panic::catch_unwind(|| parse_stream(&buf)).unwrap_or_else(|payload| {
                        tracing::error!(%peer, panic = %panic_message(payload.as_ref()), input = %hex_preview(&buf), "SIP/TCP framing panicked; closing the connection");
                        Err((ParseError::TooLarge, 0))
                    });
                    match framed {
                        Ok((_, used)) => {
                            let message = buf.drain(..used).collect();
                            if to_driver.send(StreamEvent::Message(peer, "TCP", message)).await.is_err() {
                                break 'conn;
                            }
                        }
                        Err((ParseError::KeepAlive, used)) => {
                            // RFC 5626: a double-CRLF ping gets a CRLF pong.
                            let ping = buf[..used].windows(4).any(|w| w == b"\r\n\r\n");
                            if ping && writer.write_all(b"\r\n").await.is_err() {
                                break 'conn;
                            }
                            buf.drain(..used);
                        }
                        Err((ParseError::Incomplete, _)) if buf.len() <= MAX_MESSAGE => break,
                        // Framing is lost (or the peer floods us): close the connection.
                        Err((e, _)) => {
                            tracing::debug!(%peer, error = %e, "closing SIP/TCP connection");
                            break 'conn;
                        }
                    }
                }
            }
            out = outgoing.recv() => match out {
                Some(bytes) => {
                    if writer.write_all(&bytes).await.is_err() {
                        break 'conn;
                    }
                }
                None => break 'conn,
            },
        }
    }
    let _ = to_driver.send(StreamEvent::Closed(peer)).await;
}

/// Datagrams read in one go after a wake-up.
const UDP_BURST: usize = 32;

/// The SIP driver: the sans-IO core with its sockets, channels and connections. `run` serves
/// until shut down. A panic while one message (or timer, or command) is handled is caught
/// there: that message is dropped and counted, the panic and the message (hex) are logged, and
/// the driver goes on with its calls. A panic anywhere else ends `run`; everything stays in
/// `SipDriver`, so a supervisor can call `run` again and the calls, registrations and
/// connections carry on.
pub struct SipDriver {
    socket: UdpSocket,
    listener: TcpListener,
    server: SipServer,
    commands: mpsc::Receiver<DriverCommand>,
    events: mpsc::Sender<ServerEvent>,
    stream_tx: mpsc::Sender<StreamEvent>,
    stream_rx: mpsc::Receiver<StreamEvent>,
    connections: HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>,
    start: Instant,
    buf: Vec<u8>,
    counters: Arc<SipCounters>,
    /// What was handled last (the bytes of a message, or a description), for the log when a
    /// panic escapes.
    last_input: Vec<u8>,
    /// Transmissions taken out of the core ahead of their turn (around a probe).
    pending: Vec<Transmit>,
    stopped: bool,
}

/// Runs one step of the core, catching a panic: `false` when it panicked (logged, counted).
fn guarded(counters: &SipCounters, what: &str, input: &[u8], step: impl FnOnce()) -> bool {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(step)) {
        Ok(()) => true,
        Err(payload) => {
            counters.panics.fetch_add(1, Ordering::Relaxed);
            tracing::error!(
                panic = %panic_message(payload.as_ref()),
                what,
                input = %hex_preview(input),
                "SIP handling panicked; the message is dropped, the driver goes on"
            );
            false
        }
    }
}

/// Test builds only: a message carrying `X-Switchboard-Fault: panic` panics inside its
/// handling, one carrying `crash` panics the driver task.
#[cfg(feature = "fault-injection")]
fn injected_fault(bytes: &[u8]) -> Option<&'static str> {
    let text = String::from_utf8_lossy(bytes);
    let value = text.lines().find_map(|l| l.strip_prefix("X-Switchboard-Fault:"))?.trim().to_string();
    match value.as_str() {
        "panic" => Some("panic"),
        "crash" => Some("crash"),
        _ => None,
    }
}

impl SipDriver {
    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// The last input handled (hex, truncated), for a supervisor's log after a panic.
    pub fn last_input(&self) -> String {
        hex_preview(&self.last_input)
    }

    /// Whether `run` ended because the driver was shut down (rather than by a panic).
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    fn handle_message(&mut self, now: u64, from: SocketAddr, transport: &'static str, bytes: &[u8]) {
        self.last_input.clear();
        self.last_input.extend_from_slice(bytes.get(..1024).unwrap_or(bytes));
        #[cfg(feature = "fault-injection")]
        if injected_fault(bytes) == Some("crash") {
            panic!("injected fault: the SIP driver task crashes");
        }
        let server = &mut self.server;
        guarded(&self.counters, "message", bytes, || {
            #[cfg(feature = "fault-injection")]
            if injected_fault(bytes) == Some("panic") {
                panic!("injected fault: a SIP message's handling panics");
            }
            server.handle_datagram(now, from, transport, bytes)
        });
    }

    /// Serves until shut down (or every handle is dropped). May be called again after a panic.
    pub async fn run(&mut self) {
        while !self.stopped {
            self.step().await;
            self.flush().await;
        }
        tracing::info!("SIP driver stopped");
    }

    /// Waits for one thing to happen (datagrams, a connection, a stream message, a timer, a
    /// command) and hands it to the core.
    async fn step(&mut self) {
        let wake = self.server.poll_timeout().map(|t| self.start + Duration::from_millis(t));
        let mut buf = std::mem::take(&mut self.buf);
        if buf.len() < MAX_MESSAGE {
            // Left empty by a panic in the middle of a step.
            buf = vec![0u8; MAX_MESSAGE];
        }
        tokio::select! {
            received = self.socket.recv_from(&mut buf) => match received {
                Ok((n, from)) => {
                    let now = self.now_ms();
                    self.handle_message(now, from, "UDP", buf.get(..n).unwrap_or_default());
                    // Take whatever else is already waiting before going round the loop (a
                    // busy PBX then sets its timer and wakes the router once per burst).
                    for _ in 0..UDP_BURST {
                        match self.socket.try_recv_from(&mut buf) {
                            Ok((n, from)) => self.handle_message(now, from, "UDP", buf.get(..n).unwrap_or_default()),
                            Err(_) => break,
                        }
                    }
                }
                // ICMP port unreachable and friends surface here on some systems; keep going.
                Err(e) => tracing::debug!(error = %e, "SIP receive error"),
            },
            accepted = self.listener.accept() => match accepted {
                Ok((stream, peer)) if self.connections.len() < MAX_CONNECTIONS => {
                    let (out_tx, out_rx) = mpsc::channel(256);
                    self.connections.insert(peer, out_tx);
                    tokio::spawn(connection(stream, peer, self.stream_tx.clone(), out_rx));
                }
                Ok((_, peer)) => {
                    self.counters.connections_refused.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(%peer, "too many SIP/TCP connections; refusing one");
                }
                Err(e) => tracing::debug!(error = %e, "SIP/TCP accept error"),
            },
            Some(event) = self.stream_rx.recv() => match event {
                StreamEvent::Opened(peer, out) => {
                    if self.connections.len() < MAX_CONNECTIONS {
                        self.connections.insert(peer, out);
                    }
                }
                StreamEvent::Message(peer, transport, bytes) => {
                    let now = self.now_ms();
                    self.handle_message(now, peer, transport, &bytes);
                }
                StreamEvent::Closed(peer) => {
                    self.connections.remove(&peer);
                }
            },
            _ = sleep_until(wake) => {
                let (now, server) = (self.now_ms(), &mut self.server);
                guarded(&self.counters, "timers", b"", || server.handle_timeout(now));
            }
            cmd = self.commands.recv() => self.command(cmd),
        }
        self.buf = buf;
    }

    fn command(&mut self, cmd: Option<DriverCommand>) {
        let now = self.now_ms();
        let server = &mut self.server;
        match cmd {
            Some(DriverCommand::SetDirectory(d)) => {
                guarded(&self.counters, "directory", b"", || server.set_directory(now, d));
            }
            Some(DriverCommand::SetFloodLimits(config)) => server.set_flood_limits(config),
            Some(DriverCommand::SetDraining(on)) => server.set_draining(on),
            Some(DriverCommand::SetRemoteBindings(list)) => server.set_remote_bindings(
                list.into_iter()
                    .map(|(account, ext, b, left_ms)| {
                        (account, ext, crate::sip::registrar::Binding { expires_at_ms: now + left_ms, ..b })
                    })
                    .collect(),
            ),
            Some(DriverCommand::Stats(reply)) => {
                let uplinks = server.uplink_status();
                let registered = uplinks
                    .iter()
                    .filter(|(_, s)| matches!(s, crate::sip::uplink::UplinkState::Registered { .. }))
                    .count();
                let _ = reply.send(SipStats {
                    calls: server.b2bua().active_calls(),
                    registrations: server.registrar().all().count(),
                    trunks_registered: registered,
                    trunks_registering: uplinks.len(),
                });
            }
            Some(DriverCommand::Route(call, decision)) => {
                guarded(&self.counters, "route", b"", || server.route(now, call, decision));
            }
            Some(DriverCommand::Originate(o, reply)) => {
                let mut placed = None;
                guarded(&self.counters, "originate", b"", || placed = server.originate(now, o));
                let _ = reply.send(placed);
            }
            Some(DriverCommand::TurnAround(call, reply)) => {
                let mut turned = Err(crate::sip::b2bua::TurnRefused::NotConnected);
                guarded(&self.counters, "turn around", b"", || turned = server.turn_around(now, call));
                let _ = reply.send(turned);
            }
            Some(DriverCommand::Hangup(call)) => {
                guarded(&self.counters, "hangup", b"", || server.hangup(now, call));
            }
            Some(DriverCommand::StopRinging(call)) => {
                guarded(&self.counters, "stop ringing", b"", || server.stop_ringing(now, call));
            }
            Some(DriverCommand::ReleaseCallee(call, reply)) => {
                let mut released = false;
                guarded(&self.counters, "release callee", b"", || {
                    released = server.release_callee(now, call)
                });
                let _ = reply.send(released);
            }
            Some(DriverCommand::RefuseTransfer(call, status)) => {
                guarded(&self.counters, "refuse transfer", b"", || server.refuse_transfer(call, status));
            }
            Some(DriverCommand::KeepCaller(call, keep)) => server.keep_caller(call, keep),
            Some(DriverCommand::KeepLegs(call, keep)) => server.keep_legs(call, keep),
            Some(DriverCommand::Release(call, side, reply)) => {
                let mut released = false;
                guarded(&self.counters, "release a leg", b"", || released = server.release(now, call, side));
                let _ = reply.send(released);
            }
            Some(DriverCommand::ReportUnreached(call, report)) => server.report_unreached(call, report),
            Some(DriverCommand::Registrations(reply)) => {
                let registrar = server.registrar();
                let local = registrar.all().map(|r| (r, false));
                let list = local
                    .chain(registrar.remote().map(|r| (r, true)))
                    .map(|((account, ext, b), remote)| Registration {
                        account,
                        extension: ext.to_string(),
                        contact: b.contact.clone(),
                        source: b.source,
                        transport: b.transport.clone(),
                        expires_in_s: b.expires_at_ms.saturating_sub(now) / 1000,
                        user_agent: b.user_agent.clone(),
                        path: b.path.clone(),
                        remote,
                    })
                    .collect();
                let _ = reply.send(list);
            }
            Some(DriverCommand::Probe(reply)) => {
                let probe = format!(
                    "OPTIONS sip:{local} SIP/2.0\r\nVia: SIP/2.0/UDP {PROBE_SOURCE};branch=z9hG4bKprobe{now}\r\n\
                     Max-Forwards: 70\r\nFrom: <sip:probe@{local}>;tag=probe\r\nTo: <sip:{local}>\r\n\
                     Call-ID: probe-{now}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
                    local = self.socket.local_addr().map(|a| a.to_string()).unwrap_or_default(),
                );
                self.handle_message(now, PROBE_SOURCE, "UDP", probe.as_bytes());
                // Its answer is for us, not for the network.
                let mut status = 0;
                let mut others = Vec::new();
                while let Some(t) = self.server.poll_transmit() {
                    if t.to == PROBE_SOURCE {
                        if let Ok(crate::sip::Message::Response(r)) = crate::sip::parse_datagram(&t.bytes) {
                            status = r.status;
                        }
                    } else {
                        others.push(t);
                    }
                }
                self.pending.extend(others);
                let _ = reply.send(status);
            }
            #[cfg(feature = "fault-injection")]
            Some(DriverCommand::Crash) => panic!("injected fault: the SIP driver task crashes"),
            Some(DriverCommand::Shutdown) | None => self.stopped = true,
        }
    }

    /// Sends what the core wants sent and hands its events on.
    async fn flush(&mut self) {
        let now = self.now_ms();
        let dropped = self.server.dropped();
        let flood = self.server.flood_stats(now);
        let c = &self.counters;
        c.malformed.store(dropped.malformed, Ordering::Relaxed);
        c.flood_dropped.store(dropped.flood, Ordering::Relaxed);
        c.flood_blocked_now.store(flood.blocked_now as u64, Ordering::Relaxed);
        c.flood_blocks.store(flood.blocks, Ordering::Relaxed);
        let pending = std::mem::take(&mut self.pending);
        for t in pending.into_iter().chain(std::iter::from_fn(|| self.server.poll_transmit())) {
            // A peer that talks to us over TCP is answered on its connection.
            if let Some(conn) = self.connections.get(&t.to) {
                if conn.try_send(t.bytes).is_err() {
                    self.counters.send_overflow.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(to = %t.to, "SIP/TCP connection is not keeping up; message dropped");
                }
                continue;
            }
            if let Err(e) = self.socket.send_to(&t.bytes, t.to).await {
                tracing::debug!(error = %e, to = %t.to, "SIP send failed");
            }
        }
        while let Some(e) = self.server.poll_event() {
            // Never let a slow consumer stall signalling; call events matter, so wait briefly for them.
            match e {
                ServerEvent::Call(_) => {
                    if self.events.send(e).await.is_err() {
                        tracing::warn!("nobody is handling call events");
                    }
                }
                other => {
                    let _ = self.events.try_send(other);
                }
            }
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
