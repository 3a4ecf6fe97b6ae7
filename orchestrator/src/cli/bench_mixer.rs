//! `switchboard bench mixer`: what a conference costs per party. First the mixer alone (mix-minus
//! of 20 ms frames, the sans-IO core), then the bridge as calls use it (its own 20 ms clock, one
//! port per party fed like a relay feeds it), measured as process CPU while it runs. The codec
//! work of each party's call (G.711 or Opus) is its relay's and is measured by `bench sip` and
//! `bench webrtc`.

use super::options::cpu_seconds;
use clap::Args;
use std::time::{Duration, Instant};
use switchboard_telephony::media::conference::Bridge;
use switchboard_telephony::media::mixer::Mixer;

#[derive(Debug, Clone, Args)]
pub struct BenchMixerOptions {
    /// Conference sizes to measure.
    #[arg(long, value_delimiter = ',', default_values_t = vec![3, 6, 12, 24])]
    pub parties: Vec<usize>,
    /// Seconds each bridge runs.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
}

fn frame(k: usize) -> Vec<i16> {
    (0..160).map(|i| (((i + k * 37) % 200) as i16 - 100) * 50).collect()
}

pub async fn mixer(opts: BenchMixerOptions) -> anyhow::Result<()> {
    println!("mixer alone (mix-minus of 20 ms frames at 8 kHz):");
    for &n in &opts.parties {
        let mut m = Mixer::new(160);
        for id in 0..n as u32 {
            m.add(id);
        }
        let frames: Vec<Vec<i16>> = (0..n).map(frame).collect();
        let ticks = 20_000usize;
        let start = Instant::now();
        let mut checksum = 0i64;
        for _ in 0..ticks {
            for (id, f) in frames.iter().enumerate() {
                m.handle_frame(id as u32, f);
            }
            checksum += m.poll_mix().iter().map(|(_, f)| f[0] as i64).sum::<i64>();
        }
        let per_tick = start.elapsed().as_secs_f64() / ticks as f64;
        let per_party = per_tick / n as f64;
        println!(
            "  {n:>3} parties: {:.1} µs per 20 ms tick, {:.2} µs per party => {:.4}% of a core per party (checksum {})",
            per_tick * 1e6,
            per_party * 1e6,
            per_party / 0.020 * 100.0,
            checksum % 7
        );
    }
    println!("bridge with its clock and ports, {} s each (process CPU):", opts.seconds);
    for &n in &opts.parties {
        let bridge = Bridge::start();
        let mut ports = Vec::new();
        for _ in 0..n {
            ports.push(bridge.join().1);
        }
        let frames: Vec<Vec<i16>> = (0..n).map(frame).collect();
        let (cpu0, wall0) = (cpu_seconds(), Instant::now());
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        let mut heard = 0u64;
        while wall0.elapsed() < Duration::from_secs(opts.seconds) {
            tick.tick().await;
            for (port, f) in ports.iter_mut().zip(&frames) {
                port.say(f.clone());
                heard += port.next(2).is_some() as u64;
            }
        }
        let (cpu, wall) = (cpu_seconds() - cpu0, wall0.elapsed().as_secs_f64());
        let per_party = cpu / wall / n as f64 * 100.0;
        let ticks = bridge.stats.ticks.load(std::sync::atomic::Ordering::Relaxed);
        println!(
            "  {n:>3} parties: {:.2}% of a core in all => {per_party:.3}% of a core per party ({ticks} ticks, {heard} frames heard)",
            cpu / wall * 100.0
        );
    }
    Ok(())
}
