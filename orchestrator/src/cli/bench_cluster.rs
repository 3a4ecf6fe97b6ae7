//! `switchboard bench cluster`: call set-up rate and concurrent relayed calls through Kamailio
//! (the repository's `deploy/kamailio/kamailio.cfg`) with one node and with several, printed
//! side by side. The nodes are `switchboard serve --node-id N` processes of this binary on one
//! PostgreSQL database; the carrier and the far end are sipp, as in `bench sip`. On a small
//! machine the cluster cannot be faster (every process shares the same cores): the figures
//! show what the extra hop and the coordination cost per call. The shared PostgreSQL's work is
//! measured too (transactions and rows per call set-up from its statistics, its CPU when it
//! runs on this machine, and its idle load from the nodes' leases and sharing loops), which is
//! where the capacity model's database limit comes from. A benchmark prints numbers; it never
//! fails a build.

use super::options::cpu_seconds_of;
use super::options::{free_udp_port, sipp_counts, CALL};
use crate::db::Db;
use crate::model::{PhoneNumber, Target, Trunk};
use crate::store::{accounts, config};
use anyhow::{bail, Context};
use clap::Args;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const KAMAILIO_CFG: &str = include_str!("../../../deploy/kamailio/kamailio.cfg");
const NUMBER: &str = "+15555550199";

#[derive(Debug, Clone, Args)]
pub struct BenchClusterOptions {
    /// An empty PostgreSQL database for the nodes to share (the demo account is loaded into it).
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,
    /// Nodes in the second run (the first has one).
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// Highest set-up rate tried (calls per second, doubling from 25).
    #[arg(long, default_value_t = 800)]
    pub max_rate: u32,
    /// Seconds per rate step.
    #[arg(long, default_value_t = 5)]
    pub step_seconds: u32,
    /// Calls held at once, with G.711 audio both ways.
    #[arg(long, default_value_t = 300)]
    pub concurrent: u32,
    /// How long each of them is held, in seconds.
    #[arg(long, default_value_t = 20)]
    pub hold_seconds: u32,
}

/// A child process in a process group of its own, stopped with its children when dropped.
struct Proc(Child);

impl Proc {
    fn pid(&self) -> u32 {
        self.0.id()
    }

    /// CPU seconds used by it and by the processes it forked (Kamailio's workers).
    fn cpu(&self) -> f64 {
        let me = self.pid();
        let mut total = cpu_seconds_of(me);
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            let parent =
                stat.rsplit_once(')').and_then(|(_, r)| r.split_whitespace().nth(1)?.parse::<u32>().ok());
            if parent == Some(me) {
                total += cpu_seconds_of(pid);
            }
        }
        total
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let group = -(self.0.id() as i32);
        // SAFETY: kill(2) on our own child's process group has no memory-safety preconditions.
        unsafe {
            libc::kill(group, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && matches!(self.0.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(50));
        }
        // SAFETY: as above.
        unsafe {
            libc::kill(group, libc::SIGKILL);
        }
        let _ = self.0.wait();
    }
}

fn spawn(cmd: &mut Command, log: &Path) -> anyhow::Result<Proc> {
    let log = std::fs::File::create(log)?;
    let child = cmd.process_group(0).stdout(Stdio::null()).stderr(log).spawn()?;
    Ok(Proc(child))
}

/// Starts node `id` and waits until it takes calls.
async fn node(
    opts: &BenchClusterOptions,
    dir: &Path,
    id: usize,
    sip: u16,
    key: &str,
) -> anyhow::Result<Proc> {
    let data = dir.join(format!("node{id}"));
    std::fs::create_dir_all(&data)?;
    let log = dir.join(format!("node{id}.log"));
    // Each node its own share of the RTP range.
    let lo = 20_000 + 6_000 * (id as u32 - 1);
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args(["--log-format", "json", "serve", "--node-id", &id.to_string()])
        .args(["--sip", &format!("127.0.0.1:{sip}"), "--http", "127.0.0.1:0", "--no-https"])
        .args(["--rtp-ports", &format!("{lo}-{}", lo + 5_998)])
        .arg("--data-dir")
        .arg(&data)
        .env("DATABASE_URL", &opts.database_url)
        .env("SWITCHBOARD_SECRET_KEY", key)
        .env("RUST_LOG", "info");
    let proc = spawn(&mut cmd, &log).with_context(|| format!("start node {id}"))?;
    // Ready once it listens and has loaded its speech engines (their loading would be counted).
    let deadline = Instant::now() + Duration::from_secs(180);
    let ready =
        |log: &str| log.contains("HTTP API and web UI listening") && log.contains("speech engines ready");
    while !ready(&std::fs::read_to_string(&log).unwrap_or_default()) {
        if Instant::now() > deadline {
            bail!("node {id} did not start: see {}", log.display());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(proc)
}

fn entry(dir: &Path, port: u16, nodes: &[u16]) -> anyhow::Result<Proc> {
    let cfg = dir.join("kamailio.cfg");
    std::fs::write(&cfg, KAMAILIO_CFG)?;
    let list = dir.join("dispatcher.list");
    let lines: Vec<String> = nodes.iter().map(|p| format!("1 sip:127.0.0.1:{p}\n")).collect();
    std::fs::write(&list, lines.concat())?;
    let mut cmd = Command::new("kamailio");
    cmd.args(["-DD", "-E", "-f"])
        .arg(&cfg)
        .arg("-A")
        .arg(format!("SIP_LISTEN=udp:127.0.0.1:{port}"))
        .arg("-A")
        .arg(format!("DISPATCHER_LIST=\"{}\"", list.display()))
        // The bench's carrier is a trunk, exempt from the entry's flood limit.
        .args(["-A", "TRUSTED_NETS=\"127.0.0.1/32\"", "-A", "PROBE_SECONDS=1", "-Y"])
        .arg(dir);
    spawn(&mut cmd, &dir.join("kamailio.log")).context("start kamailio (Debian package kamailio)")
}

/// The carrier's calls through the entry: (completed, failed, seconds).
async fn carrier(
    dir: &Path,
    scenario: &Path,
    entry: u16,
    rate: u32,
    calls: u32,
    limit: u32,
    timeout_s: u32,
) -> anyhow::Result<(u64, u64, f64)> {
    let start = Instant::now();
    let out = tokio::process::Command::new("sipp")
        .current_dir(dir)
        .arg("-sf")
        .arg(scenario)
        .arg(format!("127.0.0.1:{entry}"))
        .args(["-i", "127.0.0.1", "-p", &free_udp_port()?.to_string()])
        .args([
            "-mi",
            "127.0.0.1",
            "-mp",
            &free_udp_port()?.to_string(),
            "-s",
            NUMBER.trim_start_matches('+'),
        ])
        .args(["-r", &rate.to_string(), "-m", &calls.to_string(), "-l", &limit.to_string()])
        .args(["-nostdin", "-max_socket", "65000", "-trace_err"])
        // Kamailio's workers may pass a node's 180 on after its 200 (UDP, two processes): a
        // caller ignores it, and so does this one.
        .args(["-default_behaviors", "all,-abortunexp"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .output();
    // A call refused by an overloaded entry (500) waits for a 200 that never comes (sipp's own
    // -timeout does not end it): the step gives up soon after its calls should have ended,
    // and counts as failed.
    let (ok, failed) = match tokio::time::timeout(Duration::from_secs(timeout_s.into()), out).await {
        Ok(out) => sipp_counts(&String::from_utf8_lossy(&out?.stdout)),
        Err(_) => {
            println!(
                "           (sipp still waiting for calls after {timeout_s} s: given up, counted as failed)"
            );
            (0, u64::from(calls))
        }
    };
    // Why calls failed, as sipp saw it (its error log, in the run's directory).
    for e in std::fs::read_dir(dir)?.flatten() {
        let path = e.path();
        if path.to_string_lossy().ends_with("_errors.log") {
            if failed > 0 {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                for line in text
                    .lines()
                    .filter(|l| l.contains("Aborting") || l.contains("Unexpected") || l.contains("timeout"))
                    .take(3)
                {
                    println!("           sipp: {}", line.trim());
                }
            }
            let _ = std::fs::remove_file(&path);
        }
    }
    Ok((ok, failed, start.elapsed().as_secs_f64()))
}

/// CPU seconds of every PostgreSQL server process on this machine (0 when it runs elsewhere).
fn postgres_cpu() -> f64 {
    let mut total = 0.0;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        if std::fs::read_to_string(entry.path().join("comm")).is_ok_and(|c| c.trim() == "postgres") {
            total += cpu_seconds_of(pid);
        }
    }
    total
}

/// The shared database's load so far: (transactions, rows written, its CPU seconds), from its
/// statistics (which a server publishes within about a second) and its processes here.
async fn database_load(pool: &sqlx::PgPool) -> (f64, f64, f64) {
    let row: Result<(i64, i64), _> = sqlx::query_as(
        "SELECT (xact_commit + xact_rollback)::bigint, (tup_inserted + tup_updated + tup_deleted)::bigint \
         FROM pg_stat_database WHERE datname = current_database()",
    )
    .fetch_one(pool)
    .await;
    let (t, w) = row.map_or((0.0, 0.0), |(t, w)| (t as f64, w as f64));
    (t, w, postgres_cpu())
}

/// What one run measured.
#[derive(Default)]
struct Figures {
    rate: f64,
    rate_nodes_cpu: f64,
    rate_entry_cpu: f64,
    /// With no calls: the database's transactions per second (the nodes' leases and sync
    /// loops) and its CPU (% of a core).
    idle_db_tps: f64,
    idle_db_cpu: f64,
    /// Per completed call set-up over the rate steps, less the idle load: transactions, rows
    /// written, and the database's CPU milliseconds.
    db_tx_per_call: f64,
    db_writes_per_call: f64,
    db_cpu_ms_per_call: f64,
    held_ok: u64,
    held_failed: u64,
    held_nodes_cpu_per_call: f64,
    held_entry_cpu: f64,
}

async fn measure(
    opts: &BenchClusterOptions,
    dir: &Path,
    entry_port: u16,
    nodes: &[Proc],
    kam: &Proc,
) -> anyhow::Result<Figures> {
    let cpu = |nodes: &[Proc]| nodes.iter().map(Proc::cpu).sum::<f64>();
    let short = dir.join("short.xml");
    std::fs::write(&short, scenario("<pause milliseconds=\"100\"/>"))?;
    let mut f = Figures::default();
    let pool = sqlx::PgPool::connect(&opts.database_url).await?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let idle = Duration::from_secs(5);
    let (t0, _, c0) = database_load(&pool).await;
    tokio::time::sleep(idle).await;
    let (t1, _, c1) = database_load(&pool).await;
    (f.idle_db_tps, f.idle_db_cpu) = ((t1 - t0) / idle.as_secs_f64(), (c1 - c0) / idle.as_secs_f64() * 100.0);
    println!(
        "idle: the database commits {:.1} transactions a second for {} node(s) (leases, sharing), {:.1} % of a core",
        f.idle_db_tps,
        nodes.len(),
        f.idle_db_cpu
    );
    let (mut steps_calls, mut steps_wall, mut db_delta) = (0u64, 0.0, (0.0, 0.0, 0.0));
    println!(
        "{:>10} {:>10} {:>8} {:>12} {:>11} {:>13}",
        "offered/s", "completed", "failed", "completed/s", "nodes' CPU", "Kamailio CPU"
    );
    let mut rate = 25;
    while rate <= opts.max_rate {
        let calls = rate * opts.step_seconds;
        let (n0, k0) = (cpu(nodes), kam.cpu());
        let before = database_load(&pool).await;
        let timeout = opts.step_seconds * 2 + 20;
        let (ok, failed, wall) =
            carrier(dir, &short, entry_port, rate, calls, rate.max(10) * 2, timeout).await?;
        let (ncpu, kcpu) = ((cpu(nodes) - n0) / wall * 100.0, (kam.cpu() - k0) / wall * 100.0);
        // (The last records are written, and the statistics published, within a second.)
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let after = database_load(&pool).await;
        let per_s = ok as f64 / wall;
        println!("{rate:>10} {ok:>10} {failed:>8} {per_s:>12.1} {ncpu:>10.0}% {kcpu:>12.0}%");
        if failed > 0 || ok < calls as u64 || per_s < rate as f64 * 0.8 {
            break;
        }
        (f.rate, f.rate_nodes_cpu, f.rate_entry_cpu) = (per_s, ncpu, kcpu);
        steps_calls += ok;
        steps_wall += wall + 1.5;
        db_delta.0 += after.0 - before.0;
        db_delta.1 += after.1 - before.1;
        db_delta.2 += after.2 - before.2;
        rate *= 2;
    }
    if steps_calls > 0 {
        let calls = steps_calls as f64;
        f.db_tx_per_call = (db_delta.0 - f.idle_db_tps * steps_wall).max(0.0) / calls;
        f.db_writes_per_call = db_delta.1 / calls;
        f.db_cpu_ms_per_call = (db_delta.2 - f.idle_db_cpu / 100.0 * steps_wall).max(0.0) / calls * 1000.0;
        println!(
            "the database per call set-up: {:.1} transactions, {:.1} rows written, {:.2} ms of its CPU",
            f.db_tx_per_call, f.db_writes_per_call, f.db_cpu_ms_per_call
        );
    }
    if opts.concurrent > 0 {
        let tone: Vec<u8> = vec![0xFF; 8000 * (opts.hold_seconds.saturating_sub(1).max(1) as usize)];
        std::fs::write(dir.join("hold.ul"), tone)?;
        let held = dir.join("hold.xml");
        let hold = format!(
            "<nop><action><exec rtp_stream=\"hold.ul,1,0\"/></action></nop>\n  <pause milliseconds=\"{}\"/>",
            opts.hold_seconds * 1000
        );
        std::fs::write(&held, scenario(&hold))?;
        let ramp = (opts.concurrent / 10).max(opts.concurrent * 3 / opts.hold_seconds.max(1)).max(1);
        let (n0, k0) = (cpu(nodes), kam.cpu());
        let (ok, failed, wall) = carrier(
            dir,
            &held,
            entry_port,
            ramp,
            opts.concurrent,
            opts.concurrent,
            opts.hold_seconds * 3 + 60,
        )
        .await?;
        let call_seconds = ok as f64 * opts.hold_seconds as f64;
        f.held_ok = ok;
        f.held_failed = failed;
        if call_seconds > 0.0 {
            f.held_nodes_cpu_per_call = (cpu(nodes) - n0) / call_seconds * 100.0;
        }
        f.held_entry_cpu = (kam.cpu() - k0) / wall * 100.0;
        println!(
            "{} calls held {} s with audio: {ok} completed, {failed} failed; nodes' CPU {:.3} % of a core per call",
            opts.concurrent, opts.hold_seconds, f.held_nodes_cpu_per_call
        );
    }
    Ok(f)
}

/// The carrier's call for the cluster: its ACK and BYE name the answering node's Contact.
fn scenario(hold: &str) -> String {
    CALL.replacen("<recv response=\"200\"/>", "<recv response=\"200\" rrs=\"true\"/>", 1)
        .replace("ACK sip:[service]@[remote_ip]:[remote_port]", "ACK [next_url]")
        .replace("BYE sip:[service]@[remote_ip]:[remote_port]", "BYE [next_url]")
        .replace("HOLD", hold)
}

/// Loads the demo account and points its trunk at the far end and its inbound side at the entry.
async fn prepare(opts: &BenchClusterOptions, entry_port: u16, uas_port: u16) -> anyhow::Result<()> {
    if !opts.database_url.starts_with("postgres") {
        bail!("--database-url must be a PostgreSQL database (the nodes share it)");
    }
    let db = Db::open(&opts.database_url).await?;
    crate::demo::ensure(&db).await?;
    let all = accounts::list(&db).await?;
    if all.len() != 1 {
        bail!("the database holds other accounts: give the benchmark an empty database");
    }
    let account = all[0].id;
    let trunk = config::list::<Trunk>(&db, account).await?.into_iter().next().context("the demo trunk")?;
    let mut spec = trunk.spec.clone();
    spec.port = uas_port;
    spec.inbound_ips = vec![format!("127.0.0.1:{entry_port}")];
    config::update(&db, account, trunk.id, spec).await?;
    if config::get_by_key::<PhoneNumber>(&db, account, NUMBER).await?.is_none() {
        let number = PhoneNumber {
            number: NUMBER.into(),
            description: "benchmark".into(),
            target: Target::External { number: "+12025550199".into() },
            trunk: None,
            recording: Default::default(),
        };
        config::create(&db, account, number).await?;
    }
    db.close().await;
    Ok(())
}

pub async fn cluster(opts: BenchClusterOptions) -> anyhow::Result<()> {
    for program in ["sipp", "kamailio"] {
        if Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {program}"))
            .output()
            .map_or(true, |o| !o.status.success())
        {
            bail!("{program} is not installed (Debian packages sip-tester and kamailio)");
        }
    }
    let dir = tempfile::tempdir()?;
    let dir: PathBuf = dir.path().to_path_buf();
    let (entry_port, uas_port, uas_media) = (free_udp_port()?, free_udp_port()?, free_udp_port()?);
    prepare(&opts, entry_port, uas_port).await?;
    let key: String = (0..32).map(|_| format!("{:02x}", rand::random::<u8>())).collect();
    let _uas = spawn(
        Command::new("sipp")
            .current_dir(&dir)
            .args(["-sn", "uas", "-i", "127.0.0.1", "-p", &uas_port.to_string(), "-mi", "127.0.0.1"])
            .args(["-mp", &uas_media.to_string(), "-rtp_echo", "-nostdin", "-max_socket", "65000"]),
        &dir.join("uas.log"),
    )?;
    println!("Switchboard cluster benchmark: sipp carrier -> Kamailio (dispatcher) -> node(s) -> trunk -> sipp; one PostgreSQL");
    println!(
        "host: {} CPU cores shared by every process (sipp, Kamailio, the nodes, PostgreSQL if local)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let ports: Vec<u16> = (0..opts.nodes.max(1)).map(|_| free_udp_port()).collect::<Result<_, _>>()?;
    let mut nodes = vec![node(&opts, &dir, 1, ports[0], &key).await?];
    let mut runs = Vec::new();
    for count in [1, opts.nodes.max(1)] {
        while nodes.len() < count {
            let id = nodes.len() + 1;
            nodes.push(node(&opts, &dir, id, ports[id - 1], &key).await?);
        }
        let kam = entry(&dir, entry_port, &ports[..count])?;
        tokio::time::sleep(Duration::from_millis(2500)).await; // the first probes
        println!("\n{count} node(s) behind Kamailio:");
        runs.push((count, measure(&opts, &dir, entry_port, &nodes, &kam).await?));
        drop(kam);
        tokio::time::sleep(Duration::from_millis(500)).await;
        if count == opts.nodes.max(1) {
            break;
        }
    }
    println!("\nside by side:");
    let cols: Vec<String> = runs.iter().map(|(n, _)| format!("{n} node(s)")).collect();
    println!("{:<52} {:>12} {:>12}", "", cols[0], cols.get(1).cloned().unwrap_or_default());
    let row = |label: &str, v: &dyn Fn(&Figures) -> String| {
        let vals: Vec<String> = runs.iter().map(|(_, f)| v(f)).collect();
        println!("{label:<52} {:>12} {:>12}", vals[0], vals.get(1).cloned().unwrap_or_default());
    };
    row("call set-ups per second with no failure", &|f| format!("{:.0}", f.rate));
    row("  nodes' CPU at that rate (% of a core)", &|f| format!("{:.0}", f.rate_nodes_cpu));
    row("  Kamailio's CPU at that rate (% of a core)", &|f| format!("{:.0}", f.rate_entry_cpu));
    row(&format!("held calls completed of {}", opts.concurrent), &|f| {
        format!("{}/{}", f.held_ok, f.held_failed)
    });
    row("  nodes' CPU per held call (% of a core)", &|f| format!("{:.3}", f.held_nodes_cpu_per_call));
    row("  Kamailio's CPU while they were held (% of a core)", &|f| format!("{:.1}", f.held_entry_cpu));
    row("database transactions per second, idle", &|f| format!("{:.1}", f.idle_db_tps));
    row("  its CPU, idle (% of a core)", &|f| format!("{:.1}", f.idle_db_cpu));
    row("database transactions per call set-up", &|f| format!("{:.1}", f.db_tx_per_call));
    row("  rows written per call set-up", &|f| format!("{:.1}", f.db_writes_per_call));
    row("  its CPU per call set-up (ms)", &|f| format!("{:.2}", f.db_cpu_ms_per_call));
    // Where one PostgreSQL server becomes the limit, if its CPU per call stays what it was here.
    row("  set-ups per second one database core would carry", &|f| {
        if f.db_cpu_ms_per_call > 0.0 {
            format!("{:.0}", 1000.0 / f.db_cpu_ms_per_call)
        } else {
            "n/a".into()
        }
    });
    Ok(())
}
