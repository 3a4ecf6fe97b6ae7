//! Media threads: relays can run on a few threads of their own, each a single-threaded tokio
//! runtime with its own socket poller and timers, instead of on the application's runtime. A
//! relay's packets then wake only its own thread: on the shared work-stealing runtime a packet
//! that makes a relay ready also wakes an idle worker to look for work, and those cross-thread
//! wake-ups cost more than relaying the packet (`bench webrtc`). Opt-in (`serve` and the
//! benchmarks turn it on): without it relays run where they are started, as tests on a
//! virtual clock need.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use tokio::runtime::Handle;

static THREADS: OnceLock<Vec<Handle>> = OnceLock::new();
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// Starts `n` media threads (once per process; later calls change nothing).
pub fn use_media_threads(n: usize) -> std::io::Result<()> {
    if THREADS.get().is_some() {
        return Ok(());
    }
    let mut handles = Vec::new();
    for i in 0..n.max(1) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        handles.push(rt.handle().clone());
        std::thread::Builder::new()
            .name(format!("media-{i}"))
            .spawn(move || rt.block_on(std::future::pending::<()>()))?;
    }
    let _ = THREADS.set(handles);
    Ok(())
}

/// The media thread for the next relay (round robin), if media threads are in use.
pub(super) fn next() -> Option<&'static Handle> {
    let threads = THREADS.get()?;
    threads.get(NEXT.fetch_add(1, Ordering::Relaxed) % threads.len())
}
