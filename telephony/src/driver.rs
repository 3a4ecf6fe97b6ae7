//! The thin I/O driver around the sans-IO SIP core: a UDP socket and a TCP listener on the SIP
//! address, the clock, and a command channel. It feeds messages and timeouts in, sends what
//! comes out (over the TCP connection a peer uses, else UDP), and forwards events.

use crate::sip::b2bua::{CallId, RouteDecision};
use crate::sip::parse::{parse_stream, ParseError, MAX_MESSAGE};
use crate::sip::registrar::{Directory, RegistrarConfig};
use crate::sip::server::{ServerEvent, SipServer};
use std::collections::HashMap;
use std::net::SocketAddr;
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
    /// Signs digest nonces; random per process.
    pub secret: String,
    /// The `Server` header value.
    pub server_name: String,
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

enum Command {
    Hangup(CallId),
    KeepCaller(CallId, bool),
    Stats(oneshot::Sender<SipStats>),
    SetDirectory(Directory),
    Route(CallId, RouteDecision),
    Registrations(oneshot::Sender<Vec<Registration>>),
    Shutdown,
}

/// Talks to a running SIP driver. Cheap to clone.
#[derive(Clone)]
pub struct SipHandle {
    commands: mpsc::Sender<Command>,
    streams: mpsc::Sender<StreamEvent>,
    local_addr: SocketAddr,
}

impl SipHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Replaces who may register.
    pub async fn set_directory(&self, directory: Directory) {
        let _ = self.commands.send(Command::SetDirectory(directory)).await;
    }

    /// Current registrations (empty if the driver has stopped).
    pub async fn registrations(&self) -> Vec<Registration> {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Registrations(tx)).await.is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }

    /// Calls and registrations held right now.
    pub async fn stats(&self) -> SipStats {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Stats(tx)).await.is_err() {
            return SipStats::default();
        }
        rx.await.unwrap_or_default()
    }

    /// Hangs a call up from our side.
    pub async fn hangup(&self, call: CallId) {
        let _ = self.commands.send(Command::Hangup(call)).await;
    }

    /// Whether a call we answered keeps its caller when the person connected to it hangs up
    /// (see `CallEvent::CalleeLeft`).
    pub async fn keep_caller(&self, call: CallId, keep: bool) {
        let _ = self.commands.send(Command::KeepCaller(call, keep)).await;
    }

    /// Where an incoming call goes (answer to `CallEvent::Incoming`).
    pub async fn route(&self, call: CallId, decision: RouteDecision) {
        let _ = self.commands.send(Command::Route(call, decision)).await;
    }

    /// Connects a message-oriented stream (e.g. SIP over WebSocket) from `peer`.
    pub async fn attach_stream(&self, peer: SocketAddr, transport: &'static str) -> Option<StreamLink> {
        let (out_tx, out_rx) = mpsc::channel(256);
        self.streams.send(StreamEvent::Opened(peer, out_tx)).await.ok()?;
        Some(StreamLink { peer, transport, to_driver: self.streams.clone(), from_driver: out_rx })
    }

    pub async fn shutdown(&self) {
        let _ = self.commands.send(Command::Shutdown).await;
    }
}

/// Binds the SIP socket and runs the driver until shut down or every handle is dropped.
pub async fn start(
    config: SipConfig,
    events: mpsc::Sender<ServerEvent>,
) -> std::io::Result<(SipHandle, tokio::task::JoinHandle<()>)> {
    let socket = UdpSocket::bind(config.bind).await?;
    let local_addr = socket.local_addr()?;
    // TCP on the same address and port as UDP.
    let listener = TcpListener::bind(local_addr).await?;
    let (tx, rx) = mpsc::channel(64);
    let (stream_tx, stream_rx) = mpsc::channel::<StreamEvent>(1024);
    let server = SipServer::new(local_addr, config.registrar, config.secret, config.server_name);
    let task = tokio::spawn(run(socket, listener, server, rx, events, stream_tx.clone(), stream_rx));
    Ok((SipHandle { commands: tx, streams: stream_tx, local_addr }, task))
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
                    match parse_stream(&buf) {
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

async fn run(
    socket: UdpSocket,
    listener: TcpListener,
    mut server: SipServer,
    mut commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<ServerEvent>,
    stream_tx: mpsc::Sender<StreamEvent>,
    mut stream_rx: mpsc::Receiver<StreamEvent>,
) {
    let start = Instant::now();
    let now_ms = || start.elapsed().as_millis() as u64;
    let mut buf = vec![0u8; 65_535];
    let mut connections: HashMap<SocketAddr, mpsc::Sender<Vec<u8>>> = HashMap::new();
    loop {
        let wake = server.poll_timeout().map(|t| start + Duration::from_millis(t));
        tokio::select! {
            received = socket.recv_from(&mut buf) => match received {
                Ok((n, from)) => {
                    let now = now_ms();
                    server.handle_datagram(now, from, "UDP", &buf[..n]);
                    // Take whatever else is already waiting before going round the loop (a
                    // busy PBX then sets its timer and wakes the router once per burst).
                    for _ in 0..UDP_BURST {
                        match socket.try_recv_from(&mut buf) {
                            Ok((n, from)) => server.handle_datagram(now, from, "UDP", &buf[..n]),
                            Err(_) => break,
                        }
                    }
                }
                // ICMP port unreachable and friends surface here on some systems; keep going.
                Err(e) => tracing::debug!(error = %e, "SIP receive error"),
            },
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) if connections.len() < MAX_CONNECTIONS => {
                    let (out_tx, out_rx) = mpsc::channel(256);
                    connections.insert(peer, out_tx);
                    tokio::spawn(connection(stream, peer, stream_tx.clone(), out_rx));
                }
                Ok((_, peer)) => tracing::warn!(%peer, "too many SIP/TCP connections; refusing one"),
                Err(e) => tracing::debug!(error = %e, "SIP/TCP accept error"),
            },
            Some(event) = stream_rx.recv() => match event {
                StreamEvent::Opened(peer, out) => {
                    if connections.len() < MAX_CONNECTIONS {
                        connections.insert(peer, out);
                    }
                }
                StreamEvent::Message(peer, transport, bytes) => server.handle_datagram(now_ms(), peer, transport, &bytes),
                StreamEvent::Closed(peer) => {
                    connections.remove(&peer);
                }
            },
            _ = sleep_until(wake) => server.handle_timeout(now_ms()),
            cmd = commands.recv() => match cmd {
                Some(Command::SetDirectory(d)) => server.set_directory(now_ms(), d),
                Some(Command::Stats(reply)) => {
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
                Some(Command::Route(call, decision)) => server.route(now_ms(), call, decision),
                Some(Command::Hangup(call)) => server.hangup(now_ms(), call),
                Some(Command::KeepCaller(call, keep)) => server.keep_caller(call, keep),
                Some(Command::Registrations(reply)) => {
                    let now = now_ms();
                    let list = server
                        .registrar()
                        .all()
                        .map(|(account, ext, b)| Registration {
                            account,
                            extension: ext.to_string(),
                            contact: b.contact.clone(),
                            source: b.source,
                            transport: b.transport.clone(),
                            expires_in_s: b.expires_at_ms.saturating_sub(now) / 1000,
                            user_agent: b.user_agent.clone(),
                        })
                        .collect();
                    let _ = reply.send(list);
                }
                Some(Command::Shutdown) | None => break,
            },
        }
        while let Some(t) = server.poll_transmit() {
            // A peer that talks to us over TCP is answered on its connection.
            if let Some(conn) = connections.get(&t.to) {
                if conn.try_send(t.bytes).is_err() {
                    tracing::debug!(to = %t.to, "SIP/TCP connection is not keeping up; message dropped");
                }
                continue;
            }
            if let Err(e) = socket.send_to(&t.bytes, t.to).await {
                tracing::debug!(error = %e, to = %t.to, "SIP send failed");
            }
        }
        while let Some(e) = server.poll_event() {
            // Never let a slow consumer stall signalling; call events matter, so wait briefly for them.
            match e {
                ServerEvent::Call(_) => {
                    if events.send(e).await.is_err() {
                        tracing::warn!("nobody is handling call events");
                    }
                }
                other => {
                    let _ = events.try_send(other);
                }
            }
        }
    }
    tracing::info!("SIP driver stopped");
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
