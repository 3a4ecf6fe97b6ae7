//! `switchboard serve`: one process with the HTTP API and web UI, and (as telephony lands)
//! SIP and RTP.

use super::options::{parse_port_range, parse_websocket_url, redact_url, DataOptions};
use crate::{api, demo};
use anyhow::Context;
use clap::Args;
use std::net::SocketAddr;
use switchboard_telephony::sip::flood::FloodConfig;

#[derive(Debug, Clone, Args)]
pub struct ServeOptions {
    #[command(flatten)]
    pub data: DataOptions,
    /// Address for the HTTP API and web UI.
    #[arg(long, env = "SWITCHBOARD_HTTP", default_value = "127.0.0.1:8080")]
    pub http: SocketAddr,
    /// Address for SIP (UDP and TCP).
    #[arg(long, env = "SWITCHBOARD_SIP", default_value = "127.0.0.1:5060")]
    pub sip: SocketAddr,
    /// UDP port range for RTP media, LO-HI.
    #[arg(long, env = "SWITCHBOARD_RTP_PORTS", default_value = "10000-20000", value_parser = parse_port_range)]
    pub rtp_ports: (u16, u16),
    /// The address browsers (WebRTC softphones) send media to, when it is not the SIP address
    /// (a public address in front of NAT).
    #[arg(long, env = "SWITCHBOARD_PUBLIC_IP")]
    pub public_ip: Option<std::net::IpAddr>,
    /// Codecs for browsers' media: `opus` (Opus, G.711 for a browser without it) or `g711`
    /// (PCMU/PCMA only: nothing to transcode toward G.711 carriers, about half the CPU per
    /// browser call, at 64 kbit/s and without Opus's loss concealment; for good networks).
    #[arg(long, env = "SWITCHBOARD_BROWSER_CODECS", default_value = "opus", value_parser = super::options::parse_browser_codecs)]
    pub browser_codecs: switchboard_telephony::media::webrtc::BrowserCodecs,
    /// Load the demo account (idempotent) and print its logins.
    #[arg(long, env = "SWITCHBOARD_DEMO")]
    pub demo: bool,
    /// This process's node of a cluster sharing one PostgreSQL database behind a SIP
    /// dispatcher (see deploy/kamailio): its calls are its own, a dead node's calls are closed
    /// by the others, and SIGTERM drains it (no new calls; it stops when its calls have ended).
    #[arg(long, env = "SWITCHBOARD_NODE_ID", value_parser = clap::value_parser!(i64).range(1..=1_000_000))]
    pub node_id: Option<i64>,
    /// Where browsers' softphones connect their SIP WebSocket instead of this server's `/sip`
    /// (a cluster's SIP entry, e.g. `wss://sip.example.com:8089`): registered through the
    /// entry, a browser is reachable from every node.
    #[arg(long, env = "SWITCHBOARD_SIP_WEBSOCKET_URL", value_parser = parse_websocket_url)]
    pub sip_websocket_url: Option<String>,
    /// A node's lease in seconds: a node that has not renewed it for this long is dead.
    #[arg(long, env = "SWITCHBOARD_NODE_LEASE_SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(2..=600))]
    pub node_lease_seconds: u64,
    /// How long a draining node waits for its calls to end before it stops anyway.
    #[arg(long, env = "SWITCHBOARD_DRAIN_SECONDS", default_value_t = 3600)]
    pub drain_seconds: u64,
    /// Address for HTTPS (API, web UI and SIP over secure WebSocket at `/sip`), with the given
    /// certificate, or a self-signed one made in the data directory when none is given.
    #[arg(long, env = "SWITCHBOARD_HTTPS", default_value = "127.0.0.1:8443")]
    pub https: SocketAddr,
    /// PEM certificate chain for HTTPS/WSS.
    #[arg(long, env = "SWITCHBOARD_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// PEM private key for HTTPS/WSS.
    #[arg(long, env = "SWITCHBOARD_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
    /// Serve plain HTTP only (no HTTPS listener).
    #[arg(long, env = "SWITCHBOARD_NO_HTTPS", conflicts_with_all = ["tls_cert", "tls_key"])]
    pub no_https: bool,
    /// Mark the session cookie Secure (when a TLS proxy fronts the server).
    #[arg(long, env = "SWITCHBOARD_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// SIP requests one source address may send per 2 s before it is blocked (flood
    /// protection); registered phones and carrier trunks have their own limits.
    #[arg(long, env = "SWITCHBOARD_SIP_LIMIT", default_value_t = FloodConfig::default().unknown)]
    pub sip_limit: u32,
    /// SIP requests per 2 s from an address a phone is registered from.
    #[arg(long, env = "SWITCHBOARD_SIP_LIMIT_PHONE", default_value_t = FloodConfig::default().phone)]
    pub sip_limit_phone: u32,
    /// SIP requests per 2 s from a carrier trunk's address (`inbound_ips`).
    #[arg(long, env = "SWITCHBOARD_SIP_LIMIT_TRUNK", default_value_t = FloodConfig::default().trunk)]
    pub sip_limit_trunk: u32,
    /// How long a source over its limit stays blocked, in seconds.
    #[arg(long, env = "SWITCHBOARD_SIP_BLOCK_SECONDS", default_value_t = FloodConfig::default().block_ms / 1000)]
    pub sip_block_seconds: u64,
    #[command(flatten)]
    pub speech: crate::speechcloud::CloudSpeechOptions,
}

impl ServeOptions {
    fn flood(&self) -> FloodConfig {
        FloodConfig {
            unknown: self.sip_limit,
            phone: self.sip_limit_phone.max(self.sip_limit),
            trunk: self.sip_limit_trunk.max(self.sip_limit),
            block_ms: self.sip_block_seconds.saturating_mul(1000),
            ..FloodConfig::default()
        }
    }
}

/// Listens for Ctrl-C and SIGTERM from the moment it is called (so a stop asked for during
/// start-up is a clean stop too); the returned future is ready when either arrives.
#[cfg(unix)]
async fn wait(signal: Option<&mut tokio::signal::unix::Signal>) {
    match signal {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}

fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let listen = |kind: SignalKind, name: &'static str| match signal(kind) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for {name}");
                None
            }
        };
        let (mut int, mut term) =
            (listen(SignalKind::interrupt(), "Ctrl-C"), listen(SignalKind::terminate(), "SIGTERM"));
        async move {
            tokio::select! {
                _ = wait(int.as_mut()) => tracing::info!("Ctrl-C received, shutting down"),
                _ = wait(term.as_mut()) => tracing::info!("SIGTERM received, shutting down"),
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
        tracing::info!("Ctrl-C received, shutting down");
    }
}

pub async fn run(opts: ServeOptions) -> anyhow::Result<()> {
    let shutdown = shutdown_signal();
    super::options::media_threads()?;
    std::fs::create_dir_all(&opts.data.data_dir)
        .with_context(|| format!("cannot create data directory {}", opts.data.data_dir.display()))?;
    // A bad certificate is a start-up error, before anything else is opened.
    let tls = match (&opts.tls_cert, &opts.tls_key) {
        (Some(cert), Some(key)) => Some(crate::tls::load(cert, key)?),
        _ if opts.no_https => None,
        // Browsers use a microphone only on secure pages (or localhost): a remote agent needs
        // HTTPS, and gets a self-signed certificate until one is configured.
        _ => {
            let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
            for ip in [Some(opts.https.ip()), opts.public_ip].into_iter().flatten() {
                if !ip.is_unspecified() && !names.contains(&ip.to_string()) {
                    names.push(ip.to_string());
                }
            }
            let (cert, key) = crate::tls::self_signed(&opts.data.data_dir.join("tls"), &names)?;
            Some(crate::tls::load(&cert, &key)?)
        }
    };
    opts.speech.check().map_err(|e| anyhow::anyhow!(e))?;
    opts.speech.clone().install();
    let url = opts.data.url()?;
    let db = opts.data.open().await?;
    tracing::info!(database = %redact_url(&url), "database ready");
    // A node of a cluster joins before it takes a call (its calls carry its id).
    let node = match opts.node_id {
        Some(id) => {
            let lease = std::time::Duration::from_secs(opts.node_lease_seconds);
            let node =
                crate::cluster::Node::join(&db, id, lease, &opts.sip.to_string(), &opts.http.to_string())
                    .await
                    .context("cannot join the cluster")?;
            tracing::info!(node = id, lease_seconds = opts.node_lease_seconds, "joined the cluster");
            Some(node)
        }
        None => None,
    };
    let db = node.as_ref().map_or(db, |n| n.db().clone());
    let demo_logins = match opts.demo {
        true => Some(demo::ensure(&db).await.context("cannot load the demo account")?),
        false => None,
    };
    // Speech engines and the intent model load in the background now, so the first AI call
    // does not wait for them.
    let warm_db = db.clone();
    tokio::spawn(async move {
        let started = std::time::Instant::now();
        let engines = crate::agent::voice::Engines::shared().await;
        let engines_ms = started.elapsed().as_millis();
        let dir = switchboard_models::catalog::default_dir();
        let embeddings =
            tokio::task::spawn_blocking(move || crate::agent::guided::warm(&dir)).await.unwrap_or(false);
        let intents_ms = started.elapsed().as_millis() - engines_ms;
        // The audio library's spoken entries are synthesised now too, so that the first callers
        // to a greeting or hold announcement do not wait for (or all run) its synthesis.
        let prompts = crate::calls::prompts::warm(&warm_db).await;
        tracing::info!(
            recognition = engines.recognizer.is_ok(),
            voice = %engines.voice.name(),
            intent_model = embeddings,
            prompts,
            engines_ms,
            intents_ms,
            total_ms = started.elapsed().as_millis(),
            "speech engines ready"
        );
    });
    let config_changed = crate::calls::snapshot::ConfigVersion::default();
    // LLM agents' instructions and tools are read by their model servers before the first call.
    crate::agent::warm_up::spawn(db.clone(), config_changed.subscribe());
    let media_relays = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let live = crate::live::Live::new();
    if let Some(node) = &node {
        // Before any call: engagement ids carry the node; the grid shows every node's calls.
        node.share_live(live.clone(), url.clone());
    }
    let health = crate::supervise::Health::default();
    let sip_options = crate::calls::router::SipOptions {
        bind: opts.sip,
        rtp_ports: opts.rtp_ports,
        public_ip: opts.public_ip,
        browser_codecs: opts.browser_codecs,
        data_dir: opts.data.data_dir.clone(),
        flood: opts.flood(),
    };
    // Calls a previous run left up (it died): their records and recordings are closed, and
    // recordings past their account's retention go, now and daily.
    let closed = crate::store::calls::close_abandoned(&db).await?;
    let recordings = crate::calls::recording::close_abandoned(&db, &opts.data.data_dir).await?;
    if closed + recordings > 0 {
        tracing::warn!(
            calls = closed,
            recordings,
            "closed what a previous run left open (it stopped mid-call)"
        );
    }
    crate::calls::recording::spawn_daily_clean_up(db.clone(), opts.data.data_dir.clone());
    // Recordings are transcribed after their calls (and what an earlier run left, now).
    crate::calls::transcribe::spawn(db.clone(), opts.data.data_dir.clone(), live.clone());
    let started = crate::calls::router::start(
        db.clone(),
        sip_options,
        config_changed.clone(),
        media_relays.clone(),
        live.clone(),
        &health,
    )
    .await
    .with_context(|| format!("cannot listen for SIP on {}", opts.sip))?;
    let (sip, sip_task) = (started.sip, started.task);
    if let Some(node) = &node {
        node.share_registrations(sip.clone(), url.clone());
        node.share_config(config_changed.clone(), url.clone());
        node.share_queues(live.clone(), url.clone());
    }
    tokio::spawn(summarise_sip(sip.clone()));
    tracing::info!(sip_addr = %sip.local_addr(), "SIP listening (UDP and TCP; WebSocket at /sip on the HTTP port)");
    let listener = tokio::net::TcpListener::bind(opts.http)
        .await
        .with_context(|| format!("cannot listen for HTTP on {}", opts.http))?;
    let http_addr = listener.local_addr()?;
    let https_listener = match tls {
        Some(config) => {
            let tcp = tokio::net::TcpListener::bind(opts.https)
                .await
                .with_context(|| format!("cannot listen for HTTPS on {}", opts.https))?;
            Some(crate::tls::TlsListener::new(tcp, config)?)
        }
        None => None,
    };
    if let Some((created, logins)) = &demo_logins {
        let https = https_listener.as_ref().map(listener_addr);
        print_banner(&opts, http_addr, https, sip.local_addr(), *created, logins);
    }
    tracing::info!(%http_addr, "HTTP API and web UI listening");
    tracing::info!(rtp_ports = %format!("{}-{}", opts.rtp_ports.0, opts.rtp_ports.1), "RTP media relay ready");
    let app = api::app(
        db.clone(),
        api::AppOptions {
            data_dir: opts.data.data_dir.clone(),
            secure_cookies: opts.secure_cookies,
            sip: Some(sip.clone()),
            config_changed,
            media_relays,
            live,
            health,
            records: Some(started.records),
            sip_websocket_url: opts.sip_websocket_url.clone(),
        },
    );
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let https = match https_listener {
        Some(listener) => {
            tracing::info!(https_addr = %listener_addr(&listener), "HTTPS (and WSS at /sip) listening");
            let app = app.clone().layer(axum::Extension(api::Secure));
            // Each connection's router carries the peer address, as `ConnectInfo` does on HTTP.
            let make =
                tower::service_fn(move |conn: axum::serve::IncomingStream<'_, crate::tls::TlsListener>| {
                    let peer = *conn.remote_addr();
                    let app = app.clone().layer(axum::Extension(axum::extract::ConnectInfo(peer)));
                    async move { Ok::<_, std::convert::Infallible>(app) }
                });
            let serve = axum::serve(listener, make).with_graceful_shutdown(stopped(stop.clone()));
            Some(tokio::spawn(async move { serve.await }))
        }
        None => None,
    };
    let (drain_sip, drain_node) = (sip.clone(), node.clone());
    let drain_limit = std::time::Duration::from_secs(opts.drain_seconds);
    tokio::spawn(async move {
        shutdown.await;
        // A node of a cluster drains first: no new calls, the calls up finish.
        if let Some(node) = drain_node {
            node.drain(&drain_sip, drain_limit).await;
        }
        let _ = stop_tx.send(true);
    });
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(stopped(stop))
        .await
        .context("HTTP server failed")?;
    if let Some(https) = https {
        https.await.context("HTTPS server task")?.context("HTTPS server failed")?;
    }
    tracing::info!("HTTP stopped; stopping SIP");
    sip.shutdown().await;
    let _ = sip_task.await;
    tracing::info!("SIP stopped and call records written; closing the database");
    if let Some(node) = &node {
        node.leave().await;
    }
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Once a minute, when anything was dropped: one line with what SIP dropped, by cause (the
/// individual messages are logged at `debug` only).
async fn summarise_sip(sip: switchboard_telephony::driver::SipHandle) {
    use std::sync::atomic::Ordering::Relaxed;
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    let mut last = [0u64; 4];
    loop {
        tick.tick().await;
        let c = sip.counters();
        let now = [
            c.malformed.load(Relaxed),
            c.flood_dropped.load(Relaxed),
            c.panics.load(Relaxed),
            c.send_overflow.load(Relaxed),
        ];
        if now != last {
            tracing::info!(
                malformed = now[0] - last[0],
                flood = now[1] - last[1],
                panics = now[2] - last[2],
                send_overflow = now[3] - last[3],
                blocked_sources = c.flood_blocked_now.load(Relaxed),
                "SIP messages dropped in the last minute"
            );
            last = now;
        }
    }
}

fn listener_addr(l: &crate::tls::TlsListener) -> String {
    axum::serve::Listener::local_addr(l).map(|a| a.to_string()).unwrap_or_default()
}

fn print_banner(
    opts: &ServeOptions,
    http: SocketAddr,
    https: Option<String>,
    sip: SocketAddr,
    created: bool,
    logins: &[demo::Login],
) {
    let mut out = String::new();
    out.push_str("\n=== Switchboard demo account ");
    out.push_str(if created { "(just created) ===\n" } else { "(already loaded) ===\n" });
    out.push_str(&format!("Web UI:        http://{http}/\n"));
    if let Some(https) = https {
        let kind = if opts.tls_cert.is_some() { "" } else { ", self-signed certificate" };
        out.push_str(&format!("               https://{https}/ (SIP over WSS at /sip{kind})\n"));
    }
    out.push_str(&format!(
        "Main number:   {} (business hours -> IVR; after hours -> voicemail)\n",
        demo::MAIN_NUMBER
    ));
    out.push_str(&format!("AI hotline:    {} (AI order assistant)\n", demo::AI_NUMBER));
    for l in logins {
        out.push_str(&format!("{:<40} {:<28} password: {}\n", l.what, l.user, l.secret));
    }
    out.push_str(&format!(
        "SIP registrar: {sip} (UDP; register extensions 101/102 with the passwords above)\n"
    ));
    println!("{out}");
}
