//! `switchboard bench webrtc`: browser calls (Opus over DTLS-SRTP, through our WebRTC legs)
//! bridged to G.711 carrier legs through the media relay, many at once: Switchboard's CPU per
//! call and the packets lost; then as many plain G.711 calls through the same relays (a phone
//! on each side), the figure to set it beside. A benchmark prints numbers; it never fails a
//! build.
//!
//! The browsers (str0m peers with full ICE, sending one pre-encoded Opus packet of a tone every
//! 20 ms), the carriers and the phones (a PCMU tone every 20 ms) run in a child process of this
//! binary (`--peers`, talking JSON lines over its stdin and stdout), so the CPU measured here is
//! Switchboard's own: WebRTC legs (ICE, DTLS, SRTP, Opus decode and encode, PCMU), relays,
//! sockets.

use super::options::{cpu_seconds, parse_port_range};
use anyhow::{bail, Context};
use clap::Args;
use serde_json::json;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard_telephony::media::gateway::{Gateways, WebRtcConfig};
use switchboard_telephony::media::relay::{PortPool, Relay};
use switchboard_telephony::media::rtp;
use switchboard_telephony::media::webrtc::BrowserCodecs;
use switchboard_telephony::media::webrtc_peer::WebRtcPeer;
use switchboard_telephony::sip::b2bua::{CallId, Side, WebRtcMedia};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UdpSocket;

#[derive(Debug, Clone, Args)]
pub struct BenchWebrtcOptions {
    /// Browser calls at once.
    #[arg(long, default_value_t = 50)]
    pub calls: usize,
    /// How long they talk, in seconds (measured once all are connected).
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
    /// UDP ports for relays and WebRTC legs.
    #[arg(long, default_value = "30000-39998", value_parser = parse_port_range)]
    pub rtp_ports: (u16, u16),
    /// What the browsers' legs use: `opus` (transcoded to G.711) or `g711` (no transcoding).
    #[arg(long, default_value = "opus", value_parser = super::options::parse_browser_codecs)]
    pub browser_codecs: BrowserCodecs,
    /// (Internal) be the browsers and carriers of a parent benchmark.
    #[arg(long, hide = true)]
    pub peers: bool,
}

pub async fn webrtc(opts: BenchWebrtcOptions) -> anyhow::Result<()> {
    if opts.peers {
        return peers(opts).await;
    }
    super::options::media_threads()?;
    let ip: IpAddr = [127, 0, 0, 1].into();
    let pool = Arc::new(PortPool::new(opts.rtp_ports.0, opts.rtp_ports.1));
    let codecs = opts.browser_codecs;
    let mut gateways = Gateways::new(WebRtcConfig { pool: pool.clone(), bind: ip, advertise: None, codecs });
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .args(["bench", "webrtc", "--peers", "--calls", &opts.calls.to_string()])
        .args(["--seconds", &opts.seconds.to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("start the browsers' process")?;
    let mut to_child = child.stdin.take().context("stdin")?;
    let mut from_child = BufReader::new(child.stdout.take().context("stdout")?).lines();
    let coding = match codecs {
        BrowserCodecs::Opus => "Opus",
        BrowserCodecs::G711 => "PCMU, nothing transcoded",
    };
    println!(
        "WebRTC: {} browser calls ({coding}, DTLS-SRTP, ICE-lite) bridged to G.711 carrier legs for {} s",
        opts.calls, opts.seconds
    );
    let mut relays = Vec::new();
    let (mut cpu0, mut wall0) = (0.0, Instant::now());
    let loss = |sent: u64, got: u64| {
        if sent == 0 {
            100.0
        } else {
            sent.saturating_sub(got) as f64 / sent as f64 * 100.0
        }
    };
    while let Some(line) = from_child.next_line().await? {
        let msg: serde_json::Value = serde_json::from_str(&line).context("the browsers' process")?;
        if let (Some(i), Some(offer), Some(carrier)) =
            (msg["call"].as_u64(), msg["offer"].as_str(), msg["carrier"].as_str())
        {
            let relay = Relay::start(pool.bind(ip).await?, pool.bind(ip).await?, None)?;
            let side = gateways
                .answer(CallId(i), Side::Caller, relay.a_local, offer)
                .map_err(|e| anyhow::anyhow!("answering browser {i}: {e}"))?;
            relay.update(Some(side.relay_peer), Some(carrier.parse()?), None, None);
            relay.set_payload_type(0);
            let reply = json!({"call": i, "answer": side.sdp, "relay": relay.b_local.to_string()});
            to_child.write_all(format!("{reply}\n").as_bytes()).await?;
            relays.push(relay);
        } else if let (Some(i), Some(a), Some(b)) =
            (msg["plain"].as_u64(), msg["a"].as_str(), msg["b"].as_str())
        {
            let relay = Relay::start(pool.bind(ip).await?, pool.bind(ip).await?, None)?;
            relay.update(Some(a.parse()?), Some(b.parse()?), None, None);
            relay.set_payload_type(0);
            let reply = json!({"plain": i, "a": relay.a_local.to_string(), "b": relay.b_local.to_string()});
            to_child.write_all(format!("{reply}\n").as_bytes()).await?;
            relays.push(relay);
        } else if msg["plain_connected"].is_u64() {
            (cpu0, wall0) = (cpu_seconds(), Instant::now());
        } else if msg["a_sent"].is_u64() {
            let (cpu, wall) = (cpu_seconds() - cpu0, wall0.elapsed().as_secs_f64());
            let n = |k: &str| msg[k].as_u64().unwrap_or(0);
            let (a_sent, b_got, b_sent, a_got) = (n("a_sent"), n("b_received"), n("b_sent"), n("a_received"));
            println!(
                "plain G.711 (a phone on each side, {} calls): loss {:.3} % and {:.3} %; Switchboard CPU \
                 {cpu:.1} s over {wall:.1} s => {:.3} % of a core per call",
                relays.len(),
                loss(a_sent, b_got),
                loss(b_sent, a_got),
                cpu / wall / relays.len().max(1) as f64 * 100.0
            );
            break;
        } else if msg["browser_sent"].is_u64() {
            let (cpu, wall) = (cpu_seconds() - cpu0, wall0.elapsed().as_secs_f64());
            let n = |k: &str| msg[k].as_u64().unwrap_or(0);
            let (bs, br, cs, cr) =
                (n("browser_sent"), n("browser_received"), n("carrier_sent"), n("carrier_received"));
            println!("browser → carrier: {bs} packets sent, {cr} arrived (loss {:.3} %)", loss(bs, cr));
            println!("carrier → browser: {cs} packets sent, {br} arrived (loss {:.3} %)", loss(cs, br));
            let calls = n("connected").max(1) as f64;
            println!(
                "Switchboard CPU {cpu:.1} s over {wall:.1} s => {:.3} % of a core per browser call",
                cpu / wall / calls * 100.0
            );
            // The browsers' relays go; the plain calls come next.
            relays.clear();
        } else if let Some(connected) = msg["connected"].as_u64() {
            println!("connected {connected} of {} (ICE and DTLS up)", opts.calls);
            (cpu0, wall0) = (cpu_seconds(), Instant::now());
        }
    }
    let _ = child.wait().await;
    if relays.is_empty() {
        bail!("the browsers' process made no call");
    }
    Ok(())
}

/// The child: browsers and carriers.
async fn peers(opts: BenchWebrtcOptions) -> anyhow::Result<()> {
    let base = Instant::now();
    let counts = Arc::new(Counts::default());
    let mut stdout = tokio::io::stdout();
    let mut answers = Vec::new();
    let mut calls = Vec::new();
    let mut plain_replies = Vec::new();
    let mut plain_calls = Vec::new();
    for _ in 0..opts.calls {
        let (tx, rx) = tokio::sync::oneshot::channel::<(String, SocketAddr)>();
        answers.push(Some(tx));
        calls.push(rx);
        let (tx, rx) = tokio::sync::oneshot::channel::<(SocketAddr, SocketAddr)>();
        plain_replies.push(Some(tx));
        plain_calls.push(rx);
    }
    // Answers are read while offers are still being written (either pipe may fill up).
    let reader = tokio::spawn(async move {
        let mut stdin = BufReader::new(tokio::io::stdin()).lines();
        while let Ok(Some(line)) = stdin.next_line().await {
            let Ok(msg) = serde_json::from_str::<serde_json::Value>(&line) else { break };
            let addr = |k: &str| msg[k].as_str().and_then(|a| a.parse::<SocketAddr>().ok());
            if let (Some(i), Some(a), Some(b)) = (msg["plain"].as_u64(), addr("a"), addr("b")) {
                if let Some(tx) = plain_replies.get_mut(i as usize).and_then(Option::take) {
                    let _ = tx.send((a, b));
                }
                continue;
            }
            let (Some(i), Some(answer), Some(relay)) =
                (msg["call"].as_u64(), msg["answer"].as_str(), addr("relay"))
            else {
                break;
            };
            if let Some(tx) = answers.get_mut(i as usize).and_then(Option::take) {
                let _ = tx.send((answer.to_string(), relay));
            }
        }
    });
    let mut peers = Vec::new();
    for (i, answer) in calls.into_iter().enumerate() {
        let socket = UdpSocket::bind("127.0.0.1:0").await?;
        let carrier = UdpSocket::bind("127.0.0.1:0").await?;
        let (peer, offer) = WebRtcPeer::offer(base, 0, socket.local_addr()?)?;
        let line = json!({"call": i, "offer": offer, "carrier": carrier.local_addr()?.to_string()});
        stdout.write_all(format!("{line}\n").as_bytes()).await?;
        stdout.flush().await?;
        peers.push((peer, socket, carrier, answer));
    }
    let calls = peers;
    let (go_tx, go) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    for (n, (peer, socket, carrier, answer)) in calls.into_iter().enumerate() {
        let (counts, go) = (counts.clone(), go.clone());
        tasks.push(tokio::spawn(call(n as u32, base, peer, socket, carrier, answer, counts, go)));
    }
    // Everyone connected (or ten seconds passed): go, for the measured time.
    let deadline = Instant::now() + Duration::from_secs(10);
    while (counts.connected.load(Relaxed) as usize) < opts.calls && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let connected = counts.connected.load(Relaxed);
    stdout.write_all(format!("{}\n", json!({"connected": connected})).as_bytes()).await?;
    stdout.flush().await?;
    let _ = go_tx.send(true);
    tokio::time::sleep(Duration::from_secs(opts.seconds)).await;
    let _ = go_tx.send(false);
    // What is still in flight arrives.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let c = &counts;
    let result = json!({
        "connected": connected,
        "browser_sent": c.browser_sent.load(Relaxed), "browser_received": c.browser_received.load(Relaxed),
        "carrier_sent": c.carrier_sent.load(Relaxed), "carrier_received": c.carrier_received.load(Relaxed),
    });
    stdout.write_all(format!("{result}\n").as_bytes()).await?;
    stdout.flush().await?;
    for t in tasks {
        t.abort();
    }
    plain(opts, plain_calls, &mut stdout).await?;
    reader.abort();
    Ok(())
}

/// The plain calls: two phones per relay, each sending a PCMU tone every 20 ms.
async fn plain(
    opts: BenchWebrtcOptions,
    replies: Vec<tokio::sync::oneshot::Receiver<(SocketAddr, SocketAddr)>>,
    stdout: &mut tokio::io::Stdout,
) -> anyhow::Result<()> {
    let counts = Arc::new(Counts::default());
    let mut phones = Vec::new();
    for (i, reply) in replies.into_iter().enumerate() {
        let (a, b) = (UdpSocket::bind("127.0.0.1:0").await?, UdpSocket::bind("127.0.0.1:0").await?);
        let line = json!({"plain": i, "a": a.local_addr()?.to_string(), "b": b.local_addr()?.to_string()});
        stdout.write_all(format!("{line}\n").as_bytes()).await?;
        stdout.flush().await?;
        phones.push((a, b, reply));
    }
    let (go_tx, go) = tokio::sync::watch::channel(true);
    let mut tasks = Vec::new();
    for (n, (a, b, reply)) in phones.into_iter().enumerate() {
        let Ok((relay_a, relay_b)) = reply.await else { continue };
        let (counts, go) = (counts.clone(), go.clone());
        tasks.push(tokio::spawn(async move {
            let (mut buf_a, mut buf_b) = (vec![0u8; 2048], vec![0u8; 2048]);
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            let mut k = 0usize;
            let ssrc = 0x6000_0000 + n as u32;
            while *go.borrow() {
                tokio::select! {
                    r = a.recv_from(&mut buf_a) => if r.is_ok() { counts.browser_received.fetch_add(1, Relaxed); },
                    r = b.recv_from(&mut buf_b) => if r.is_ok() { counts.carrier_received.fetch_add(1, Relaxed); },
                    _ = tick.tick() => {
                        let (seq, ts) = (k as u16, (k * 160) as u32);
                        let payload = tone_frame(k);
                        if a.send_to(&rtp::write(false, 0, seq, ts, ssrc, &payload), relay_a).await.is_ok() {
                            counts.browser_sent.fetch_add(1, Relaxed);
                        }
                        if b.send_to(&rtp::write(false, 0, seq, ts, ssrc + 1, &payload), relay_b).await.is_ok() {
                            counts.carrier_sent.fetch_add(1, Relaxed);
                        }
                        k += 1;
                    }
                }
            }
        }));
    }
    // The relays start forwarding with the first packets: measure from a second later.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let c = &counts;
    let start =
        [&c.browser_sent, &c.browser_received, &c.carrier_sent, &c.carrier_received].map(|x| x.load(Relaxed));
    stdout.write_all(format!("{}\n", json!({"plain_connected": tasks.len()})).as_bytes()).await?;
    stdout.flush().await?;
    tokio::time::sleep(Duration::from_secs(opts.seconds)).await;
    let sent = [c.browser_sent.load(Relaxed), c.carrier_sent.load(Relaxed)];
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = go_tx.send(false);
    let result = json!({
        "a_sent": sent[0] - start[0], "b_received": c.carrier_received.load(Relaxed) - start[3],
        "b_sent": sent[1] - start[2], "a_received": c.browser_received.load(Relaxed) - start[1],
    });
    stdout.write_all(format!("{result}\n").as_bytes()).await?;
    stdout.flush().await?;
    for t in tasks {
        t.abort();
    }
    Ok(())
}

/// The `k`th 20 ms of a 440 Hz tone in μ-law (440 whole cycles a second, so 50 frames repeat).
fn tone_frame(k: usize) -> Vec<u8> {
    (0..160)
        .map(|i| {
            let t = ((k % 50) * 160 + i) as f64 / 8000.0;
            let s = (t * 440.0 * std::f64::consts::TAU).sin() * 8000.0;
            switchboard_telephony::media::g711::linear_to_ulaw(s as i16)
        })
        .collect()
}

#[derive(Default)]
struct Counts {
    connected: AtomicU64,
    browser_sent: AtomicU64,
    browser_received: AtomicU64,
    carrier_sent: AtomicU64,
    carrier_received: AtomicU64,
}

/// Where a call is in the measured window.
enum Phase {
    Waiting,
    Talking {
        sent0: u64,
        received0: u64,
    },
    /// The window closed; what is in flight is still counted until `until`.
    Draining {
        until: tokio::time::Instant,
        received0: u64,
    },
}

/// One browser and its carrier: connect, then while `go` says so, 20 ms of audio each way.
#[allow(clippy::too_many_arguments)]
async fn call(
    n: u32,
    base: Instant,
    mut peer: WebRtcPeer,
    socket: UdpSocket,
    carrier: UdpSocket,
    answer: tokio::sync::oneshot::Receiver<(String, SocketAddr)>,
    counts: Arc<Counts>,
    mut go: tokio::sync::watch::Receiver<bool>,
) {
    let Ok((answer, relay)) = answer.await else { return };
    if peer.accept_answer(&answer).is_err() {
        return;
    }
    let now_ms = || base.elapsed().as_millis() as u64;
    let (mut buf, mut cbuf) = (vec![0u8; 2048], vec![0u8; 2048]);
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let (mut seq, mut ts, ssrc) = (0u16, 0u32, 0x5000_0000 + n);
    let mut counted_connection = false;
    let mut phase = Phase::Waiting;
    // Speech-like work for the encoder toward the browser: a tone, not a constant.
    let tone: Vec<Vec<u8>> = (0..50).map(tone_frame).collect();
    loop {
        let wake = tokio::time::Instant::from_std(base + Duration::from_millis(peer.poll_timeout()));
        let drained = match phase {
            Phase::Draining { until, .. } => until,
            _ => tokio::time::Instant::now() + Duration::from_secs(3600),
        };
        tokio::select! {
            r = socket.recv_from(&mut buf) => {
                if let Ok((len, from)) = r {
                    peer.handle_datagram(now_ms(), from, buf.get(..len).unwrap_or_default());
                }
            }
            r = carrier.recv_from(&mut cbuf) => {
                if r.is_ok() && !matches!(phase, Phase::Waiting) {
                    counts.carrier_received.fetch_add(1, Relaxed);
                }
            }
            _ = tokio::time::sleep_until(wake) => peer.handle_timeout(now_ms()),
            _ = tick.tick() => {
                if matches!(phase, Phase::Talking { .. }) {
                    peer.send_frame(now_ms());
                    let packet = rtp::write(false, 0, seq, ts, ssrc, &tone[seq as usize % 50]);
                    (seq, ts) = (seq.wrapping_add(1), ts.wrapping_add(160));
                    if carrier.send_to(&packet, relay).await.is_ok() {
                        counts.carrier_sent.fetch_add(1, Relaxed);
                    }
                }
            }
            changed = go.changed(), if !matches!(phase, Phase::Draining { .. }) => {
                let talk = changed.is_ok() && *go.borrow();
                phase = match phase {
                    Phase::Waiting if talk => Phase::Talking { sent0: peer.sent, received0: peer.received },
                    Phase::Talking { sent0, received0 } if !talk => {
                        counts.browser_sent.fetch_add(peer.sent - sent0, Relaxed);
                        let until = tokio::time::Instant::now() + Duration::from_millis(200);
                        Phase::Draining { until, received0 }
                    }
                    other => other,
                };
            }
            _ = tokio::time::sleep_until(drained) => {
                if let Phase::Draining { received0, .. } = phase {
                    counts.browser_received.fetch_add(peer.received - received0, Relaxed);
                    return;
                }
            }
        }
        while let Some((to, bytes)) = peer.poll_transmit() {
            let _ = socket.send_to(&bytes, to).await;
        }
        if peer.is_connected() && !counted_connection {
            counted_connection = true;
            counts.connected.fetch_add(1, Relaxed);
        }
    }
}
