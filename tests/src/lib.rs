//! Helpers for end-to-end tests: run the real `switchboard` binary, talk to it over HTTP,
//! and get a fresh PostgreSQL database when one is configured.

pub mod cluster;
pub mod linphone;
pub mod payments;
pub mod pbx;
pub use pbx::{add_number, set_demo_trunk};
pub mod queues;
pub mod tones;
pub mod workspace;

use anyhow::{anyhow, bail, Context, Result};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Environment variable naming a PostgreSQL URL whose user may create databases.
pub const PG_ENV: &str = "SWITCHBOARD_TEST_POSTGRES";

/// The `switchboard` binary of this build (built on demand).
pub fn bin() -> PathBuf {
    if let Ok(p) = std::env::var("SWITCHBOARD_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>/switchboard
    let path = exe.parent().and_then(Path::parent).expect("target dir").join("switchboard");
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "switchboard-orchestrator", "--bin", "switchboard"])
            .status()
            .expect("run cargo build");
        assert!(status.success(), "building the switchboard binary failed");
    }
    path
}

/// Runs a switchboard command to completion.
pub fn run(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(bin());
    cmd.args(args).env_remove("DATABASE_URL").env("RUST_BACKTRACE", "0");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run switchboard")
}

/// Whether a missing dependency should fail (CI) rather than skip (a laptop).
pub fn in_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// A fresh PostgreSQL database URL, or None when none is configured (a failure under CI).
pub async fn fresh_postgres() -> Option<String> {
    let admin = match std::env::var(PG_ENV) {
        Ok(u) if !u.is_empty() => u,
        _ if in_ci() => panic!("CI=true but {PG_ENV} is not set"),
        _ => {
            eprintln!("note: {PG_ENV} unset, PostgreSQL half skipped");
            return None;
        }
    };
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&admin).await.expect("reach test PostgreSQL");
    // The process id and a counter make the name unique among this binary's parallel tests (two
    // of them once read the same clock value and collided); the clock keeps reruns apart.
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let name = format!("sbe2e_{}_{n}_{}", std::process::id(), nanos % 1_000_000_000);
    sqlx::query(&format!("CREATE DATABASE \"{name}\"")).execute(&pool).await.unwrap();
    pool.close().await;
    let (base, _) = admin.rsplit_once('/').unwrap();
    Some(format!("{base}/{name}"))
}

/// A running `switchboard serve`.
pub struct Server {
    child: Option<Child>,
    pub http: String,
    /// Everything printed on stdout (the start-up banner).
    pub stdout: String,
    log_rx: mpsc::Receiver<String>,
    pub logs: Vec<String>,
}

impl Server {
    /// Starts `serve` on a free port with JSON logs and waits until it listens; it hears callers
    /// with Whisper tiny.en (most test callers are espeak-ng voices) unless `extra` says.
    pub fn start(data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Result<Server> {
        let mut cmd = Command::new(bin());
        cmd.arg("--log-format").arg("json").arg("serve").arg("--http").arg("127.0.0.1:0");
        cmd.arg("--data-dir").arg(data_dir).args(extra);
        if !extra.iter().any(|a| *a == "--https" || *a == "--no-https") {
            cmd.arg("--https").arg("127.0.0.1:0");
        }
        if !extra.contains(&"--sip") {
            cmd.arg("--sip").arg(format!("127.0.0.1:{}", free_udp_port()));
        }
        cmd.env_remove("DATABASE_URL").env("RUST_LOG", "info");
        cmd.env("SWITCHBOARD_RECOGNISER", "whisper"); // hears the espeak-ng callers best
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child =
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().context("spawn switchboard")?;
        let (out_tx, out_rx) = mpsc::channel::<String>();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
                let _ = out_tx.send(line);
            }
        });
        let (log_tx, log_rx) = mpsc::channel::<String>();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(|l| l.ok()) {
                let _ = log_tx.send(line);
            }
        });
        let mut server = Server {
            child: Some(child),
            http: String::new(),
            stdout: String::new(),
            log_rx,
            logs: Vec::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while server.http.is_empty() {
            if Instant::now() > deadline {
                bail!("server did not start listening: {:?}", server.logs);
            }
            if let Some(status) = server.child.as_mut().unwrap().try_wait()? {
                server.drain();
                bail!("server exited with {status}: {}", server.logs.join("\n"));
            }
            if let Ok(line) = server.log_rx.recv_timeout(Duration::from_millis(100)) {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                    if let Some(addr) = v["http_addr"].as_str() {
                        server.http = format!("http://{addr}");
                    }
                }
                server.logs.push(line);
            }
        }
        // The banner is printed before the listener starts.
        while let Ok(line) = out_rx.recv_timeout(Duration::from_millis(200)) {
            server.stdout.push_str(&line);
            server.stdout.push('\n');
        }
        Ok(server)
    }

    fn drain(&mut self) {
        while let Ok(line) = self.log_rx.try_recv() {
            self.logs.push(line);
        }
    }

    /// Waits until a log line contains `needle` (the server's log is JSON, one event a line).
    pub fn wait_for_log(&mut self, needle: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            self.drain();
            if self.logs.iter().any(|l| l.contains(needle)) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the server did not log {needle:?} within {timeout:?}:\n{}", self.logs.join("\n"));
            }
            if let Ok(line) = self.log_rx.recv_timeout(Duration::from_millis(100)) {
                self.logs.push(line);
            }
        }
    }

    /// Everything the server logged so far (for failure messages).
    pub fn log_text(&mut self) -> String {
        self.drain();
        self.logs.join("\n")
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().map(|c| c.id() as i32).unwrap_or(0)
    }

    /// Sends a signal and waits for the exit status.
    pub fn signal_and_wait(&mut self, signal: i32, timeout: Duration) -> Result<std::process::ExitStatus> {
        let mut child = self.child.take().ok_or_else(|| anyhow!("already stopped"))?;
        // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
        unsafe {
            libc::kill(child.id() as i32, signal);
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait()? {
                // Give the log reader a moment to catch the last lines.
                std::thread::sleep(Duration::from_millis(100));
                self.drain();
                return Ok(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                std::thread::sleep(Duration::from_millis(100));
                self.drain();
                let n = self.logs.len();
                let tail = self.logs[n.saturating_sub(40)..].join("\n");
                bail!("server did not exit within {timeout:?}; the end of its log:\n{tail}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.http, path)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Logs in and returns the session cookie (`name=value`).
/// An HTTP client for the tests, with the TLS crypto provider installed (the HTTP client has
/// none of its own).
pub fn http() -> reqwest::Client {
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

pub async fn login(client: &reqwest::Client, server: &Server, email: &str, password: &str) -> Result<String> {
    let resp = client
        .post(server.url("/api/auth/login"))
        .json(&serde_json::json!({"email": email, "password": password}))
        .send()
        .await?;
    if !resp.status().is_success() {
        bail!("login failed: {}", resp.status());
    }
    let cookie = resp
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .ok_or_else(|| anyhow!("no cookie"))?;
    Ok(cookie.to_string())
}

/// A free UDP port on 127.0.0.1 (bound and released; good enough for tests).
/// A port for a baresip phone: free for UDP and TCP, with the port above free for TCP too
/// (baresip puts its SIP/TLS transport there and refuses to start if it is taken).
pub fn free_phone_port() -> u16 {
    for _ in 0..50 {
        let port = free_udp_port();
        if port < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
    panic!("no port pair free for a phone")
}

/// A port free for both UDP and TCP right now (SIP listens on both; a port only checked for UDP
/// can be taken by some TCP connection and make a server fail to start).
pub fn free_udp_port() -> u16 {
    for _ in 0..50 {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind a UDP socket");
        let port = udp.local_addr().expect("local address").port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no port free for both UDP and TCP")
}

/// A media port for sipp (`-mp`): sipp binds it and the three above it (RTP and RTCP for audio
/// and video) and quits at once, placing no call, when one is taken. Chosen with all four free
/// and below baresip's RTP range (50000-59998), where a phone could take one meanwhile.
pub fn free_media_port() -> u16 {
    for _ in 0..200 {
        let port = free_udp_port() & !1;
        if (50_000..60_000).contains(&port) || port > u16::MAX - 4 {
            continue;
        }
        let all_free = (port..port + 4).all(|p| std::net::UdpSocket::bind(("127.0.0.1", p)).is_ok());
        if all_free {
            return port;
        }
    }
    panic!("no four free UDP ports for sipp's media")
}

/// A free TCP port on 127.0.0.1.
pub fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("free TCP port")
}

/// Whether a program is installed; under CI=true a missing one fails the test.
pub fn require_program(name: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        if in_ci() {
            panic!("CI=true but {name} is not installed (scripts/setup test installs it)");
        }
        eprintln!("note: {name} not installed, test skipped");
    }
    found
}

/// A headless baresip phone with one account, its log collected.
pub struct Baresip {
    child: Child,
    log: std::sync::Arc<std::sync::Mutex<String>>,
    _dir: tempfile::TempDir,
    pub sip_port: u16,
    ctrl_port: u16,
}

/// What a baresip phone plays, records and does at start.
#[derive(Debug, Clone, Default)]
pub struct PhoneOptions {
    /// WAV file used as the microphone (8 kHz mono); a minute of silence when unset.
    pub microphone: Option<PathBuf>,
    /// Directory where each call's audio is recorded (`*-dec.wav` is what the phone heard).
    pub record_dir: Option<PathBuf>,
    /// Commands run at start-up, e.g. `/dial sip:102@127.0.0.1:5060`.
    pub commands: Vec<String>,
}

impl Baresip {
    /// `account` is a baresip account line, e.g. `<sip:101@127.0.0.1:5060>;auth_pass=x`.
    pub fn start(account: &str) -> Result<Baresip> {
        Self::start_with(account, PhoneOptions::default())
    }

    pub fn start_with(account: &str, options: PhoneOptions) -> Result<Baresip> {
        let dir = tempfile::tempdir()?;
        let sip_port = free_phone_port();
        let ctrl_port = free_tcp_port();
        // Without a microphone file the phone sends silence (baresip cannot read /dev/null as
        // audio, and a call it answers or places would close at once).
        let mic = match &options.microphone {
            Some(p) => p.display().to_string(),
            None => {
                let silence = dir.path().join("silence.wav");
                std::fs::write(
                    &silence,
                    switchboard_telephony::media::wav::encode_pcm16(&vec![0; 8000 * 60], 8000, 1),
                )?;
                silence.display().to_string()
            }
        };
        let mut config = format!(
            "poll_method epoll\nsip_listen 127.0.0.1:{sip_port}\nnet_interface 127.0.0.1\ndns_server 127.0.0.1:53\n\
             module_path /usr/lib/baresip/modules\nmodule g711.so\nmodule aufile.so\nmodule_app account.so\n\
             module_app menu.so\nmodule_app ctrl_tcp.so\nctrl_tcp_listen 127.0.0.1:{ctrl_port}\n\
             audio_source aufile,{mic}\naudio_player aufile,/dev/null\nausrc_srate 8000\n\
             rtp_ports 50000-59998\n"
        );
        if let Some(rec) = &options.record_dir {
            config.push_str(&format!("module sndfile.so\nsnd_path {}\n", rec.display()));
        }
        std::fs::write(dir.path().join("config"), config)?;
        std::fs::write(dir.path().join("accounts"), format!("{account}\n"))?;
        let mut cmd = Command::new("baresip");
        cmd.arg("-f").arg(dir.path());
        for c in &options.commands {
            cmd.arg("-e").arg(c);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("start baresip")?;
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        for stream in [
            child.stdout.take().map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child.stderr.take().map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(|l| l.ok()) {
                    let mut l = log.lock().unwrap_or_else(|e| e.into_inner());
                    l.push_str(&line);
                    l.push('\n');
                }
            });
        }
        Ok(Baresip { child, log, _dir: dir, sip_port, ctrl_port })
    }

    /// Sends a command over baresip's control port (netstring-framed JSON), e.g.
    /// `("sndcode", "2")` to press a key during a call.
    pub fn command(&self, command: &str, params: &str) -> Result<()> {
        use std::io::Write;
        let body = serde_json::json!({"command": command, "params": params, "token": "t"}).to_string();
        // The control port may not be listening yet on a busy machine: retry for a while.
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut stream = loop {
            match std::net::TcpStream::connect(("127.0.0.1", self.ctrl_port)) {
                Ok(s) => break s,
                Err(e) if Instant::now() > deadline => return Err(e.into()),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        };
        stream.write_all(format!("{}:{},", body.len(), body).as_bytes())?;
        Ok(())
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits until the log contains `needle`.
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.log().contains(needle) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("baresip never printed {needle:?}; log:\n{}", self.log())
    }

    /// Stops baresip politely (it un-registers) and waits for it.
    pub fn stop(mut self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes an 8 kHz mono sine tone as a WAV file.
pub fn write_tone(path: &Path, hz: f32, seconds: f32) -> Result<()> {
    let n = (8000.0 * seconds) as usize;
    let samples: Vec<i16> =
        (0..n).map(|i| ((i as f32 * hz * std::f32::consts::TAU / 8000.0).sin() * 12000.0) as i16).collect();
    std::fs::write(path, switchboard_telephony::media::wav::encode_pcm16(&samples, 8000, 1))?;
    Ok(())
}

/// Loudness and dominant frequency (by zero crossings) of a WAV file's audible part.
pub fn tone_of(path: &Path) -> Result<(f64, f64)> {
    let bytes = std::fs::read(path)?;
    let (info, samples) = switchboard_telephony::media::wav::decode(&bytes).map_err(|e| anyhow!("{e}"))?;
    let mono: Vec<f64> =
        samples.iter().step_by(info.channels as usize).map(|&s| s as f64 / 32768.0).collect();
    // The audible part: 20 ms frames louder than -40 dBFS (line silence is not exactly zero).
    let frame = (info.sample_rate / 50).max(1) as usize;
    let loud: Vec<f64> = mono
        .chunks(frame)
        .filter(|f| (f.iter().map(|s| s * s).sum::<f64>() / f.len() as f64).sqrt() > 0.01)
        .flatten()
        .copied()
        .collect();
    if loud.len() < 800 {
        bail!("{} holds almost no audio", path.display());
    }
    let rms = (loud.iter().map(|s| s * s).sum::<f64>() / loud.len() as f64).sqrt();
    let crossings = loud.windows(2).filter(|w| (w[0] < 0.0) != (w[1] < 0.0)).count();
    let hz = crossings as f64 / 2.0 / (loud.len() as f64 / info.sample_rate as f64);
    Ok((rms, hz))
}

/// How many seconds of `hz` a baresip phone heard (all of its `*-dec.wav` files in `dir`): 20 ms
/// frames where the tone stands out, by the Goertzel filter.
pub fn seconds_heard(dir: &std::path::Path, hz: f64) -> f64 {
    let mut samples = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().filter_map(|e| e.ok()) {
        if entry.path().to_string_lossy().ends_with("-dec.wav") {
            if let Ok((_, s)) =
                switchboard_telephony::media::wav::decode(&std::fs::read(entry.path()).unwrap())
            {
                samples.extend(s);
            }
        }
    }
    tone_seconds(&samples, hz)
}

/// Seconds of 8 kHz audio in which `hz` stands out: 20 ms frames by the Goertzel filter, so that
/// loud and quiet stretches of a long file count alike.
pub fn tone_seconds(samples: &[i16], hz: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * hz / 8000.0;
    let frames = samples.chunks_exact(160).map(|f| {
        let (mut s1, mut s2) = (0.0, 0.0);
        for &v in f {
            let s0 = v as f64 / 32768.0 + 2.0 * w.cos() * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        (s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2) / (160.0 * 160.0)
    });
    frames.filter(|p| *p > 1e-3).count() as f64 * 0.02
}

/// Nothing went wrong in the page but the expected 401 of `/api/me` before signing in.
pub async fn assert_no_page_errors(b: &mut Browser) {
    let errors = b.run(serde_json::json!({"do": "errors"})).await;
    let unexpected: Vec<&str> = errors["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e.as_str())
        .filter(|e| *e != "HTTP 401 /api/me" && !e.contains("status of 401"))
        .collect();
    assert!(unexpected.is_empty(), "{unexpected:?}");
}

/// The file in `dir` whose name ends with `suffix`.
pub fn find_file(dir: &Path, suffix: &str) -> Result<PathBuf> {
    std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.to_string_lossy().ends_with(suffix))
        .ok_or_else(|| anyhow!("no *{suffix} in {}", dir.display()))
}

/// GET a JSON document with a session cookie.
pub async fn get_json(
    client: &reqwest::Client,
    server: &Server,
    cookie: &str,
    path: &str,
) -> serde_json::Value {
    client.get(server.url(path)).header("cookie", cookie).send().await.unwrap().json().await.unwrap()
}

/// The newest call record of the account once it has ended (with legs and timeline).
pub async fn last_call(client: &reqwest::Client, server: &Server, cookie: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let calls = get_json(client, server, cookie, "/api/calls").await;
        if let Some(c) = calls.as_array().and_then(|c| c.first()) {
            if !c["ended_at"].is_null() {
                return get_json(client, server, cookie, &format!("/api/calls/{}", c["id"])).await;
            }
        }
        assert!(Instant::now() < deadline, "no ended call: {calls}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until every one of `extensions` has a registered phone.
pub async fn wait_registered(client: &reqwest::Client, server: &Server, cookie: &str, extensions: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let regs = get_json(client, server, cookie, "/api/registrations").await;
        let have: Vec<&str> =
            regs.as_array().unwrap().iter().filter_map(|r| r["extension"].as_str()).collect();
        if extensions.iter().all(|e| have.contains(e)) {
            return;
        }
        assert!(Instant::now() < deadline, "not registered: {regs}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Adds agent 103, Carol Diaz, as `admin`; the baresip account line of her auto-answering phone
/// registering at `sip`.
pub async fn add_carol(client: &reqwest::Client, server: &Server, admin: &str, sip: &str) -> String {
    let r = client
        .post(server.url("/api/agents"))
        .header("cookie", admin)
        .json(&serde_json::json!({"extension": "103", "display_name": "Carol Diaz", "sip_password": "carol-sip-103-secret"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
    format!("<sip:103@{sip}>;auth_pass=carol-sip-103-secret;regint=600;audio_codecs=PCMU;answermode=auto")
}

/// The baresip account line of a demo agent (101 Alice, 102 Bob) registering at `sip`, with
/// extra parameters such as `;answermode=auto` or `;transport=tcp` (in the URI when it starts with
/// `;transport`).
pub fn demo_account(sip: &str, extension: &str, extra: &str) -> String {
    let password = match extension {
        "101" => "alice-sip-101",
        "102" => "bob-sip-102",
        other => panic!("no demo agent {other}"),
    };
    let (uri_params, params) = match extra.strip_prefix(";transport=tcp") {
        Some(rest) => (";transport=tcp", rest),
        None => ("", extra),
    };
    format!("<sip:{extension}@{sip}{uri_params}>;auth_pass={password};regint=600;audio_codecs=PCMU{params}")
}

/// A tone file to use as a phone's microphone and a folder for its recordings, under `dir`.
pub fn mic_and_recorder(dir: &Path, name: &str, hz: f32, seconds: f32) -> (PathBuf, PathBuf) {
    let mic = dir.join(format!("{name}.wav"));
    write_tone(&mic, hz, seconds).expect("write the tone");
    let rec = dir.join(format!("rec-{name}"));
    std::fs::create_dir_all(&rec).expect("create the recording folder");
    (mic, rec)
}

/// Runs sipp as a carrier calling `service` at the PBX's `sip` address from `carrier_port`,
/// with the given scenario file (under `tests/scenarios`) and extra arguments.
pub async fn run_carrier(
    scenario: &str,
    sip: &str,
    carrier_port: u16,
    service: &str,
    extra: &[&str],
) -> std::process::Output {
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(scenario);
    tokio::process::Command::new("sipp")
        .arg("-sf")
        .arg(scenario)
        .args([sip, "-i", "127.0.0.1", "-p", &carrier_port.to_string(), "-mi", "127.0.0.1"])
        .args(["-mp", &free_media_port().to_string(), "-s", service, "-nostdin"])
        .args(extra)
        .output()
        .await
        .expect("run sipp")
}

/// (successful, failed) calls from sipp's final statistics screen.
pub fn sipp_counts(stdout: &str) -> (u32, u32) {
    let last = |label: &str| {
        stdout
            .lines()
            .filter(|l| l.trim_start().starts_with(label))
            .filter_map(|l| l.split('|').nth(2).and_then(|v| v.trim().parse::<u32>().ok()))
            .next_back()
            .unwrap_or(0)
    };
    (last("Successful call"), last("Failed call"))
}

/// Headless Chromium driven by Playwright (`tests/ui/driver.mjs`): one JSON command per line in,
/// one JSON reply per line out. `None` when Node.js, Chromium or the npm packages are missing
/// (which fails under CI: run `scripts/setup test`).
pub struct Browser {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    stdout: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
}

impl Browser {
    pub async fn start(base_url: &str) -> Option<Browser> {
        Self::start_with(base_url, None).await
    }

    /// A browser whose microphone plays `microphone` (a WAV file), for WebRTC calls.
    pub async fn start_with(base_url: &str, microphone: Option<&Path>) -> Option<Browser> {
        let ui = Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let missing = if !require_program("node") {
            Some("node")
        } else if !Path::new(&chromium).exists() {
            Some("chromium")
        } else if !ui.join("node_modules/playwright-core").exists() {
            Some("tests/ui/node_modules (npm ci)")
        } else {
            None
        };
        if let Some(what) = missing {
            assert!(!in_ci(), "CI=true but {what} is missing (run scripts/setup test)");
            eprintln!("skipping: {what} is missing");
            return None;
        }
        let mut child = tokio::process::Command::new("node")
            .arg(ui.join("driver.mjs"))
            .current_dir(&ui)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node starts");
        let stdin = child.stdin.take().expect("piped");
        let stdout =
            tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(child.stdout.take().expect("piped")));
        let mut b = Browser { child, stdin, stdout };
        let microphone = microphone.map(|m| m.display().to_string());
        b.run(serde_json::json!({"do": "launch", "url": base_url, "microphone": microphone})).await;
        Some(b)
    }

    /// Runs a command; its reply (`ok` true or false).
    pub async fn try_run(&mut self, command: serde_json::Value) -> serde_json::Value {
        use tokio::io::AsyncWriteExt;
        let line = format!("{command}\n");
        self.stdin.write_all(line.as_bytes()).await.expect("the browser driver reads commands");
        // The driver answers a command that waits (`timeout` in ms) when it gives up: give it
        // that long and a margin, so that its own error (what it waited for) is what fails.
        let waits = command["timeout"].as_u64().unwrap_or(0) / 1000;
        let limit = Duration::from_secs(60.max(waits + 20));
        let reply = tokio::time::timeout(limit, self.stdout.next_line())
            .await
            .expect("the browser driver answers in time")
            .expect("the browser driver's output is readable")
            .expect("the browser driver is running");
        serde_json::from_str(&reply).expect("the browser driver answers JSON")
    }

    /// Runs a command that must succeed.
    pub async fn run(&mut self, command: serde_json::Value) -> serde_json::Value {
        let reply = self.try_run(command.clone()).await;
        assert_eq!(reply["ok"], true, "browser: {command} failed: {}", reply["error"]);
        reply
    }

    pub async fn close(mut self) {
        let _ = self.try_run(serde_json::json!({"do": "close"})).await;
        let _ = self.child.kill().await;
    }
}

/// Where end-to-end tests leave screenshots for people to look at.
pub fn screenshot_dir() -> PathBuf {
    let dir = std::env::var("SWITCHBOARD_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("screenshots"));
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// A 48 kHz mono tone for the browser's fake microphone.
pub fn browser_tone(path: &Path, hz: f32, seconds: f32) {
    let n = (48_000.0 * seconds) as usize;
    let samples: Vec<i16> =
        (0..n).map(|i| ((i as f32 * hz * std::f32::consts::TAU / 48_000.0).sin() * 12000.0) as i16).collect();
    std::fs::write(path, switchboard_telephony::media::wav::encode_pcm16(&samples, 48_000, 1)).unwrap();
}

/// Waits until the browser's active line hears `hz` as its loudest frequency.
pub async fn browser_hears(b: &mut Browser, hz: f64) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = b
            .run(serde_json::json!({"do": "evaluate", "expression": format!("window.switchboardPhone.listen({hz})")}))
            .await;
        let v = r["value"].clone();
        let peak = v["peak_hz"].as_f64().unwrap_or(0.0);
        if v["peak_level"].as_f64().unwrap_or(0.0) > 100.0 && (peak - hz).abs() < hz * 0.06 {
            return v;
        }
        assert!(Instant::now() < deadline, "the browser never heard {hz} Hz: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
