//! `switchboard bench sip`: drives the PBX with sipp on loopback and prints figures: call
//! set-ups per second with no failure, and concurrent relayed G.711 calls held with their packet
//! loss and CPU per call. A benchmark prints numbers; it never fails a build.
//!
//! Set-up: an in-process PBX (SQLite in a temporary directory, the demo account). A sipp UAC plays
//! the carrier calling a DID; the DID forwards to an outside number through the trunk, where a
//! sipp UAS answers (and echoes RTP). Every call so crosses the B2BUA twice over (inbound and
//! outbound leg) with media relayed both ways.

use super::options::{cpu_seconds, free_udp_port, sipp_counts, CALL};
use crate::db::Db;
use crate::model::{PhoneNumber, Target, Trunk};
use crate::store::{accounts, config};
use anyhow::{bail, Context};
use clap::Args;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard_telephony::media::relay::{PACKETS_FORWARDED, PACKETS_RECEIVED};

#[derive(Debug, Clone, Args)]
pub struct BenchSipOptions {
    /// Highest call rate tried (calls per second); rates double from 25 up to it.
    #[arg(long, default_value_t = 3200)]
    pub max_rate: u32,
    /// Seconds of calls at each rate.
    #[arg(long, default_value_t = 5)]
    pub step_seconds: u32,
    /// Concurrent calls for the hold test (0 skips it).
    #[arg(long, default_value_t = 1500)]
    pub concurrent: u32,
    /// How long the concurrent calls are held, with audio flowing.
    #[arg(long, default_value_t = 60)]
    pub hold_seconds: u32,
    /// RTP ports for the PBX.
    #[arg(long, default_value = "20000-60000", value_parser = super::options::parse_port_range)]
    pub rtp_ports: (u16, u16),
    /// Messages per second of the flood test (one address sends REGISTERs with a wrong
    /// password and junk INVITEs while the carrier places calls); 0 skips it.
    #[arg(long, default_value_t = 6000)]
    pub flood_rate: u32,
}

/// The attacker of the flood test (the end-to-end test's scenario).
const FLOOD: &str = include_str!("../../../tests/scenarios/flood.xml");

/// Resident memory of this process, in bytes.
fn resident_bytes() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb * 1024.0)
}

struct Rig {
    dir: tempfile::TempDir,
    sip: String,
    uac_port: u16,
    relays: Arc<AtomicUsize>,
    uas: tokio::process::Child,
    started: crate::calls::router::Started,
}

async fn rig(opts: &BenchSipOptions) -> anyhow::Result<Rig> {
    let dir = tempfile::tempdir()?;
    let db = Db::open(&Db::sqlite_url(dir.path())).await?;
    crate::demo::ensure(&db).await?;
    let account = accounts::by_slug(&db, crate::demo::ACCOUNT).await?.context("demo account")?;
    let (sip_port, uac_port, uas_port, uas_media) =
        (free_udp_port()?, free_udp_port()?, free_udp_port()?, free_udp_port()?);
    let trunk = config::list::<Trunk>(&db, account.id).await?.into_iter().next().context("demo trunk")?;
    let mut spec = trunk.spec.clone();
    spec.port = uas_port;
    spec.inbound_ips = vec![format!("127.0.0.1:{uac_port}")];
    config::update(&db, account.id, trunk.id, spec).await?;
    config::create(
        &db,
        account.id,
        PhoneNumber {
            number: "+15555550199".into(),
            description: "benchmark".into(),
            target: Target::External { number: "+12025550199".into() },
            trunk: None,
            recording: Default::default(),
        },
    )
    .await?;
    let relays = Arc::new(AtomicUsize::new(0));
    let sip = format!("127.0.0.1:{sip_port}");
    let changed = crate::calls::snapshot::ConfigVersion::default();
    let options = crate::calls::router::SipOptions {
        bind: sip.parse()?,
        rtp_ports: opts.rtp_ports,
        public_ip: None,
        browser_codecs: Default::default(),
        data_dir: dir.path().to_path_buf(),
        flood: Default::default(),
    };
    let health = crate::supervise::Health::default();
    let started =
        crate::calls::router::start(db, options, changed, relays.clone(), crate::live::Live::new(), &health)
            .await?;
    let uas = tokio::process::Command::new("sipp")
        .current_dir(dir.path())
        .args(["-sn", "uas", "-i", "127.0.0.1", "-p", &uas_port.to_string(), "-mi", "127.0.0.1"])
        .args(["-mp", &uas_media.to_string(), "-rtp_echo", "-nostdin", "-max_socket", "65000"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("start sipp (Debian package sip-tester)")?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    Ok(Rig { dir, sip, uac_port, relays, uas, started })
}

async fn run_uac(
    rig: &Rig,
    scenario: &Path,
    rate: u32,
    calls: u32,
    limit: u32,
    timeout_s: u32,
) -> anyhow::Result<(u64, u64, f64)> {
    let start = Instant::now();
    let out = tokio::process::Command::new("sipp")
        .current_dir(rig.dir.path())
        .args([
            "-sf",
            &scenario.display().to_string(),
            &rig.sip,
            "-i",
            "127.0.0.1",
            "-p",
            &rig.uac_port.to_string(),
        ])
        .args(["-mi", "127.0.0.1", "-mp", &free_udp_port()?.to_string(), "-s", "15555550199"])
        .args(["-r", &rate.to_string(), "-m", &calls.to_string(), "-l", &limit.to_string()])
        .args(["-nostdin", "-max_socket", "65000", "-timeout", &format!("{timeout_s}s")])
        .output()
        .await?;
    let (ok, failed) = sipp_counts(&String::from_utf8_lossy(&out.stdout));
    Ok((ok, failed, start.elapsed().as_secs_f64()))
}

pub async fn sip(opts: BenchSipOptions) -> anyhow::Result<()> {
    if std::process::Command::new("sipp").arg("-v").output().is_err() {
        bail!("sipp is not installed (Debian package sip-tester)");
    }
    super::options::media_threads()?;
    let mut rig = rig(&opts).await?;
    println!("Switchboard SIP benchmark: sipp carrier -> DID -> B2BUA -> trunk -> sipp (two legs per call)");
    println!(
        "host: {} CPU cores; sipp runs on the same cores",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );

    let short = rig.dir.path().join("short.xml");
    std::fs::write(&short, CALL.replace("HOLD", "<pause milliseconds=\"100\"/>"))?;
    println!("\n1. call set-up rate (each call: INVITE, 200, ACK, 100 ms, BYE, 200)");
    println!(
        "{:>10} {:>10} {:>8} {:>12} {:>10} {:>14}",
        "offered/s", "completed", "failed", "completed/s", "PBX CPU", "per PBX core/s"
    );
    let (mut best, mut best_per_core) = (0.0f64, 0.0f64);
    let mut rate = 25;
    while rate <= opts.max_rate {
        let calls = rate * opts.step_seconds;
        let cpu0 = cpu_seconds();
        let (ok, failed, wall) =
            run_uac(&rig, &short, rate, calls, rate.max(10) * 2, opts.step_seconds * 4 + 30).await?;
        let cpu = (cpu_seconds() - cpu0) / wall * 100.0;
        let per_s = ok as f64 / wall;
        // What one core of the PBX sustains at this rate: set-ups per CPU-second it spent.
        let per_core = if cpu > 0.0 { per_s / (cpu / 100.0) } else { 0.0 };
        println!("{rate:>10} {ok:>10} {failed:>8} {per_s:>12.1} {cpu:>9.0}% {per_core:>14.0}");
        if failed > 0 || ok < calls as u64 || per_s < rate as f64 * 0.8 {
            break;
        }
        (best, best_per_core) = (per_s, per_core);
        rate *= 2;
    }
    println!(
        "=> {best:.0} call set-ups per second completed with no failure, \
         {best_per_core:.0} per second per PBX core at that rate"
    );

    if opts.concurrent > 0 {
        // The audio ends a second before the caller hangs up, so no packet is in flight at BYE.
        let tone: Vec<u8> = vec![0xFF; 8000 * (opts.hold_seconds.saturating_sub(1).max(1) as usize)];
        std::fs::write(rig.dir.path().join("hold.ul"), tone)?;
        let hold = rig.dir.path().join("hold.xml");
        std::fs::write(
            &hold,
            CALL.replace(
                "HOLD",
                &format!(
                    "<nop><action><exec rtp_stream=\"hold.ul,1,0\"/></action></nop>\n  <pause milliseconds=\"{}\"/>",
                    opts.hold_seconds * 1000
                ),
            ),
        )?;
        // Ramp up within a third of the hold time, so every call overlaps the others.
        let ramp = (opts.concurrent / 10).max(opts.concurrent * 3 / opts.hold_seconds.max(1)).max(1);
        println!(
            "\n2. {} concurrent calls, G.711 audio both ways, held {} s (ramp {ramp}/s)",
            opts.concurrent, opts.hold_seconds
        );
        let (rx0, fw0, cpu0) = (
            PACKETS_RECEIVED.load(Ordering::Relaxed),
            PACKETS_FORWARDED.load(Ordering::Relaxed),
            cpu_seconds(),
        );
        let relays = rig.relays.clone();
        let peak = Arc::new(AtomicUsize::new(0));
        let watch_peak = peak.clone();
        let watcher = tokio::spawn(async move {
            loop {
                watch_peak.fetch_max(relays.load(Ordering::Relaxed), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        let timeout = opts.hold_seconds + opts.concurrent / ramp + 60;
        let (ok, failed, wall) =
            run_uac(&rig, &hold, ramp, opts.concurrent, opts.concurrent, timeout).await?;
        watcher.abort();
        let (rx, fw, cpu) = (
            PACKETS_RECEIVED.load(Ordering::Relaxed) - rx0,
            PACKETS_FORWARDED.load(Ordering::Relaxed) - fw0,
            cpu_seconds() - cpu0,
        );
        let loss = if rx == 0 { 100.0 } else { (rx - fw.min(rx)) as f64 / rx as f64 * 100.0 };
        let call_seconds = ok as f64 * opts.hold_seconds as f64;
        let per_call = if call_seconds > 0.0 { cpu / call_seconds * 100.0 } else { 0.0 };
        println!(
            "calls completed {ok}, failed {failed}, peak simultaneous relays {}",
            peak.load(Ordering::Relaxed)
        );
        println!("RTP packets received {rx}, forwarded {fw}, lost in the PBX {loss:.3}%");
        println!("PBX CPU {cpu:.1} s over {wall:.0} s => {per_call:.3}% of a core per relayed call");
    }
    if opts.flood_rate > 0 {
        flood(&rig, &short, &opts).await?;
    }
    let _ = rig.uas.kill().await;
    Ok(())
}

/// Section 3: one address floods the PBX while the carrier places calls at 25 a second.
async fn flood(rig: &Rig, short: &Path, opts: &BenchSipOptions) -> anyhow::Result<()> {
    use std::sync::atomic::Ordering::Relaxed;
    let scenario = rig.dir.path().join("flood.xml");
    std::fs::write(&scenario, FLOOD)?;
    let seconds = opts.step_seconds.max(5) * 2;
    // Two messages per sipp "call".
    let (rate, messages) = ((opts.flood_rate / 2).max(1), (opts.flood_rate / 2).max(1) * seconds);
    println!(
        "\n3. flood: 127.0.0.3 sends {} messages/s (REGISTER with a wrong password, junk INVITE) for {seconds} s; \
         meanwhile the carrier places 25 calls/s",
        rate * 2
    );
    let counters = rig.started.sip.counters();
    let (dropped0, rss0, cpu0) = (counters.flood_dropped.load(Relaxed), resident_bytes(), cpu_seconds());
    let start = Instant::now();
    let attacker = tokio::process::Command::new("sipp")
        .current_dir(rig.dir.path())
        .args(["-sf", &scenario.display().to_string(), &rig.sip, "-i", "127.0.0.3", "-p"])
        .args([free_udp_port()?.to_string(), "-nostdin".into(), "-r".into(), rate.to_string()])
        .args(["-rp", "1000", "-m", &messages.to_string(), "-timeout", &format!("{}s", seconds * 3)])
        .output();
    let calls = async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        run_uac(rig, short, 25, 25 * (seconds - 2), 50, seconds * 3 + 30).await
    };
    let (attacker, calls) = tokio::join!(attacker, calls);
    let wall = start.elapsed().as_secs_f64();
    let (sent, _) = sipp_counts(&String::from_utf8_lossy(&attacker?.stdout));
    let (ok, failed, _) = calls?;
    let dropped = counters.flood_dropped.load(Relaxed) - dropped0;
    let cpu = (cpu_seconds() - cpu0) / wall * 100.0;
    println!(
        "flood messages sent {} ({:.0}/s), dropped by the PBX {dropped}, sources blocked {}",
        sent * 2,
        (sent * 2) as f64 / wall,
        counters.flood_blocks.load(Relaxed)
    );
    println!("carrier calls completed {ok}, failed {failed}; PBX CPU {cpu:.0}%");
    println!("PBX memory {:.1} MB before, {:.1} MB after", rss0 / 1e6, resident_bytes() / 1e6);
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_sipps_final_screen() {
        let screen = "  Successful call        |        0                  |       20                 \n  Failed call            |        0                  |        3                 \n";
        assert_eq!(super::sipp_counts(screen), (20, 3));
        assert!(super::cpu_seconds() >= 0.0);
    }
}
