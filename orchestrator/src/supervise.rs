//! Long-lived tasks under supervision, and the health of each part of the process.
//!
//! A supervised task keeps its state in a [`Supervised`] value that outlives the task: when the
//! task panics, the panic and what the task was handling are logged, the part is marked down
//! (`/healthz` answers 503 naming it), the restart is counted, and after a back-off the task is
//! run again with the same state. A part that keeps failing (more than `MAX_RESTARTS` within
//! `RESTART_WINDOW`) cannot be trusted to recover: the process exits non-zero so that its
//! service manager restarts it.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A task's state, kept across restarts.
pub trait Supervised: Send + 'static {
    /// Serves until done. Called again after a panic, with the state as the panic left it.
    fn run(&mut self) -> impl Future<Output = ()> + Send + '_;
    /// What the task was handling last (for the log when it panics).
    fn last_input(&self) -> String {
        String::new()
    }
}

/// First back-off before a restart; doubled for each restart within the window.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// More restarts than this within the window and the process exits.
pub const MAX_RESTARTS: usize = 5;
const RESTART_WINDOW: Duration = Duration::from_secs(60);
/// The exit status of a process that gave up on a part (EX_SOFTWARE).
pub const EXIT_GAVE_UP: i32 = 70;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartState {
    Starting,
    Up,
    /// Down, with why (a panic being recovered from, a failed load).
    Down(String),
}

#[derive(Debug, Clone)]
struct Part {
    state: PartState,
    restarts: u64,
    last_fault: Option<String>,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TaskLabel {
    task: String,
}

/// The parts of the process and their state; cheap to clone.
#[derive(Clone)]
pub struct Health {
    parts: Arc<Mutex<BTreeMap<&'static str, Part>>>,
    restarts: Family<TaskLabel, Counter>,
    first_backoff: Duration,
}

impl Default for Health {
    fn default() -> Self {
        Health::new(FIRST_BACKOFF)
    }
}

impl Health {
    pub fn new(first_backoff: Duration) -> Self {
        Health { parts: Arc::default(), restarts: Family::default(), first_backoff }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<&'static str, Part>> {
        self.parts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets a part's state (creating the part).
    pub fn set(&self, part: &'static str, state: PartState) {
        let mut parts = self.lock();
        let p =
            parts.entry(part).or_insert(Part { state: PartState::Starting, restarts: 0, last_fault: None });
        p.state = state;
    }

    pub fn state(&self, part: &str) -> Option<PartState> {
        self.lock().get(part).map(|p| p.state.clone())
    }

    /// Each part: state, restarts so far, the last fault.
    pub fn report(&self) -> Vec<(&'static str, PartState, u64, Option<String>)> {
        self.lock().iter().map(|(n, p)| (*n, p.state.clone(), p.restarts, p.last_fault.clone())).collect()
    }

    /// Restarts of `part` so far.
    pub fn restarts(&self, part: &str) -> u64 {
        self.lock().get(part).map_or(0, |p| p.restarts)
    }

    /// Adds the restart counter to a metrics registry.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "task_restarts",
            "Restarts of supervised tasks after a panic, by task",
            self.restarts.clone(),
        );
    }

    fn fault(&self, part: &'static str, reason: String) -> u64 {
        let mut parts = self.lock();
        let p =
            parts.entry(part).or_insert(Part { state: PartState::Starting, restarts: 0, last_fault: None });
        p.restarts += 1;
        p.state = PartState::Down(reason.clone());
        p.last_fault = Some(reason);
        self.restarts.get_or_create(&TaskLabel { task: part.to_string() }).inc();
        p.restarts
    }

    /// Runs `state` under supervision as the part `part`; the returned task ends when `run`
    /// returns normally (or the runtime shuts down).
    pub fn supervise<S: Supervised>(&self, part: &'static str, state: S) -> tokio::task::JoinHandle<()> {
        self.supervise_with(part, state, || std::process::exit(EXIT_GAVE_UP))
    }

    /// As `supervise`, with what to do instead of exiting when the part keeps failing.
    pub fn supervise_with<S: Supervised>(
        &self,
        part: &'static str,
        state: S,
        give_up: impl FnOnce() + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        let health = self.clone();
        let state = Arc::new(tokio::sync::Mutex::new(state));
        health.set(part, PartState::Up);
        tokio::spawn(async move {
            let mut recent: Vec<Instant> = Vec::new();
            loop {
                let held = state.clone();
                let task = tokio::spawn(async move {
                    let mut s = held.lock_owned().await;
                    s.run().await;
                });
                let payload = match task.await {
                    Ok(()) => return,
                    Err(e) if e.is_panic() => e.into_panic(),
                    // Cancelled: the runtime is shutting down.
                    Err(_) => return,
                };
                let message = switchboard_telephony::driver::panic_message(payload.as_ref());
                let input = state.lock().await.last_input();
                let restarts = health.fault(part, format!("restarting after a panic: {message}"));
                tracing::error!(task = part, panic = %message, input = %input, restarts, "a supervised task panicked; restarting it with its state");
                let now = Instant::now();
                recent.retain(|t| now.duration_since(*t) < RESTART_WINDOW);
                recent.push(now);
                if recent.len() > MAX_RESTARTS {
                    tracing::error!(task = part, "a supervised task keeps failing; exiting so that the service manager restarts the process");
                    give_up();
                    return;
                }
                let backoff =
                    health.first_backoff.saturating_mul(1 << (recent.len() - 1).min(5)).min(MAX_BACKOFF);
                tokio::time::sleep(backoff).await;
                health.set(part, PartState::Up);
                tracing::info!(task = part, "a supervised task was restarted");
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Counts what it handled; panics on the inputs it is told to.
    struct Counter {
        inputs: tokio::sync::mpsc::UnboundedReceiver<u32>,
        handled: Arc<Mutex<Vec<u32>>>,
        last: u32,
    }

    impl Supervised for Counter {
        async fn run(&mut self) {
            while let Some(i) = self.inputs.recv().await {
                self.last = i;
                if i == 0 {
                    panic!("zero");
                }
                self.handled.lock().unwrap().push(i);
            }
        }

        fn last_input(&self) -> String {
            self.last.to_string()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_panicking_task_is_restarted_with_its_state_and_counted() {
        let health = Health::default();
        let (tx, inputs) = tokio::sync::mpsc::unbounded_channel();
        let handled = Arc::new(Mutex::new(Vec::new()));
        let task = health.supervise("counter", Counter { inputs, handled: handled.clone(), last: 0 });
        for i in [1, 2, 0, 3] {
            tx.send(i).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        // Down during the back-off; the inputs after the panic wait in the kept channel.
        assert!(matches!(health.state("counter"), Some(PartState::Down(m)) if m.contains("zero")));
        assert_eq!(*handled.lock().unwrap(), [1, 2]);
        tokio::time::sleep(FIRST_BACKOFF).await;
        assert_eq!(health.state("counter"), Some(PartState::Up));
        assert_eq!(*handled.lock().unwrap(), [1, 2, 3]);
        assert_eq!(health.restarts("counter"), 1);
        let mut registry = Registry::default();
        health.register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(text.contains("task_restarts_total{task=\"counter\"} 1"), "{text}");
        // A normal end ends the supervisor.
        drop(tx);
        task.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_part_that_keeps_failing_gives_up() {
        let health = Health::default();
        let (tx, inputs) = tokio::sync::mpsc::unbounded_channel();
        let gave_up = Arc::new(AtomicBool::new(false));
        let flag = gave_up.clone();
        let task =
            health.supervise_with("flaky", Counter { inputs, handled: Arc::default(), last: 0 }, move || {
                flag.store(true, Ordering::SeqCst)
            });
        for _ in 0..=MAX_RESTARTS {
            tx.send(0).unwrap();
        }
        task.await.unwrap();
        assert!(gave_up.load(Ordering::SeqCst));
        assert_eq!(health.restarts("flaky"), MAX_RESTARTS as u64 + 1);
    }
}
