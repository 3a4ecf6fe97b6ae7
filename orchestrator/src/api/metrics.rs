//! Prometheus metrics at `/metrics`.

use super::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::time::Instant;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CauseLabels {
    cause: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, Histogram>,
    pub login_failures: Counter,
    calls_active: Gauge,
    registrations: Gauge,
    trunks_registered: Gauge,
    media_relays: Gauge,
    open_fds: Gauge,
    tasks_alive: Gauge,
    resident_bytes: Gauge,
    sip_dropped: Family<CauseLabels, Counter>,
    sip_blocked_sources: Gauge,
    sip_flood_blocks: Counter,
}

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

impl Metrics {
    pub fn new() -> Self {
        Self::with_health(&crate::supervise::Health::default())
    }

    /// The metrics, with the supervised tasks' restarts of `health`.
    pub fn with_health(health: &crate::supervise::Health) -> Self {
        let mut registry = Registry::with_prefix("switchboard");
        health.register(&mut registry);
        let sip_dropped = Family::<CauseLabels, Counter>::default();
        registry.register(
            "sip_messages_dropped",
            "SIP messages received and not used, by cause (malformed, flood, panic, send_overflow, connection_refused)",
            sip_dropped.clone(),
        );
        let sip_blocked_sources = Gauge::default();
        registry.register(
            "sip_flood_blocked_sources",
            "Source addresses blocked right now for sending too many SIP requests",
            sip_blocked_sources.clone(),
        );
        let sip_flood_blocks = Counter::default();
        registry.register(
            "sip_flood_blocks",
            "Times a source address was blocked for flooding",
            sip_flood_blocks.clone(),
        );
        let requests = Family::<RequestLabels, Counter>::default();
        let durations =
            Family::<RouteLabels, Histogram>::new_with_constructor(latency_histogram as fn() -> Histogram);
        let login_failures = Counter::default();
        registry.register("http_requests", "HTTP requests by route and status", requests.clone());
        registry.register("http_request_duration_seconds", "HTTP request latency", durations.clone());
        registry.register("login_failures", "Failed password logins", login_failures.clone());
        let (calls_active, registrations, media_relays, open_fds, tasks_alive) =
            (Gauge::default(), Gauge::default(), Gauge::default(), Gauge::default(), Gauge::default());
        registry.register(
            "calls_active",
            "Calls the SIP engine holds (ringing, talking or ending)",
            calls_active.clone(),
        );
        registry.register("sip_registrations", "Registered phone contacts", registrations.clone());
        let trunks_registered = Gauge::default();
        registry.register(
            "trunks_registered",
            "Carrier trunks Switchboard is registered with",
            trunks_registered.clone(),
        );
        registry.register("media_relays", "RTP relays open (two ports each)", media_relays.clone());
        registry.register("process_open_fds", "Open file descriptors of the process", open_fds.clone());
        registry.register("runtime_tasks_alive", "Async tasks alive in the runtime", tasks_alive.clone());
        let resident_bytes = Gauge::default();
        registry.register("process_resident_bytes", "Resident memory of the process", resident_bytes.clone());
        registry.register(
            "ai_turn_latency_seconds",
            "AI agent turns: time from the end of the caller's speech to each stage \
             (speech_stopped, end_of_turn, final_transcript, first_token, first_sentence, \
             first_audio, first_packet)",
            crate::agent::voice::turn_latency().clone(),
        );
        Metrics {
            registry,
            requests,
            durations,
            login_failures,
            calls_active,
            registrations,
            trunks_registered,
            media_relays,
            open_fds,
            tasks_alive,
            resident_bytes,
            sip_dropped,
            sip_blocked_sources,
            sip_flood_blocks,
        }
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Counts and times every request to a declared route.
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let start = Instant::now();
    let resp = next.run(req).await;
    let labels = RouteLabels { method: method.clone(), route: route.clone() };
    state.metrics.durations.get_or_create(&labels).observe(start.elapsed().as_secs_f64());
    state
        .metrics
        .requests
        .get_or_create(&RequestLabels { method, route, status: resp.status().as_u16() })
        .inc();
    resp
}

fn resident_bytes() -> i64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
        .map_or(-1, |kb| kb * 1024)
}

fn open_fds() -> i64 {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count() as i64).unwrap_or(-1)
}

pub async fn serve(State(state): State<AppState>) -> Response {
    let m = &state.metrics;
    if let Some(sip) = &state.sip {
        let stats = sip.stats().await;
        m.calls_active.set(stats.calls as i64);
        m.registrations.set(stats.registrations as i64);
        m.trunks_registered.set(stats.trunks_registered as i64);
        let c = sip.counters();
        let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
        // The driver's counters are the truth; the exported counters catch up to them.
        let catch_up = |counter: &Counter, now: u64| {
            let seen = counter.get();
            if now > seen {
                counter.inc_by(now - seen);
            }
        };
        for (cause, now) in [
            ("malformed", load(&c.malformed)),
            ("flood", load(&c.flood_dropped)),
            ("panic", load(&c.panics)),
            ("send_overflow", load(&c.send_overflow)),
            ("connection_refused", load(&c.connections_refused)),
        ] {
            catch_up(&m.sip_dropped.get_or_create(&CauseLabels { cause }), now);
        }
        catch_up(&m.sip_flood_blocks, load(&c.flood_blocks));
        m.sip_blocked_sources.set(load(&c.flood_blocked_now) as i64);
    }
    m.media_relays.set(state.media_relays.load(std::sync::atomic::Ordering::Relaxed) as i64);
    m.open_fds.set(open_fds());
    m.resident_bytes.set(resident_bytes());
    m.tasks_alive.set(tokio::runtime::Handle::current().metrics().num_alive_tasks() as i64);
    (
        [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
        state.metrics.encode(),
    )
        .into_response()
}
