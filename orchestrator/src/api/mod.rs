//! The HTTP API (axum): admin REST endpoints, login, OpenAPI, health and metrics.
//!
//! Every endpoint is declared once in an [`Api`] builder with its access rule and schemas.
//! The same declarations drive the router, the access check (one middleware, so no handler can
//! forget it), the OpenAPI document and the role-matrix test.

mod account;
mod agent_chats;
mod audio;
mod auth;
mod calls;
mod cluster;
mod coaching;
mod commerce;
mod config;
pub mod error;
mod extract;
pub mod metrics;
mod openapi;
mod overrides;
mod payments;
mod people;
pub mod provision;
mod queues_live;
mod recordings;
mod registrations;
mod replay;
mod schedules;
mod sipws;
pub use sipws::Secure;
mod conference;
mod conversations;
mod live;
mod supervision;
mod throttle;
mod transfers;
mod ui;
mod voicemail;
mod workspace;
pub(crate) use {
    auth::{bearer_token, cookie_token, LoginRequest},
    extract::{parse_json, parse_query},
    live::{parse_command, NoteRequest},
    recordings::byte_range,
};

pub use auth::{Principal, SESSION_COOKIE};

use crate::db::Db;
use crate::model::Role;
use axum::extract::{MatchedPath, Request, State};
use axum::handler::Handler;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter};
use axum::Router;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::JsonSchema;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

/// Who may call an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Public,
    /// Any authenticated principal whose role is at least this.
    AtLeast(Role),
}

/// One declared endpoint.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub method: Method,
    pub path: String,
    pub access: Access,
    pub tag: &'static str,
    pub summary: String,
    pub request: Option<serde_json::Value>,
    pub response: Option<serde_json::Value>,
    /// Names of query parameters.
    pub query: Vec<&'static str>,
    /// Media type of a non-JSON body (uploads and downloads of files); JSON when empty.
    pub media_type: &'static str,
}

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub metrics: Arc<metrics::Metrics>,
    access: Arc<HashMap<(Method, String), Access>>,
    openapi: Arc<serde_json::Value>,
    /// Mark the session cookie `Secure` (set when served over TLS).
    pub secure_cookies: bool,
    /// Where files (audio library, recordings, voicemail) live.
    pub data_dir: PathBuf,
    /// The SIP engine, when running.
    pub sip: Option<switchboard_telephony::driver::SipHandle>,
    /// Signalled after configuration writes (the SIP directory reloads).
    pub config_changed: crate::calls::snapshot::ConfigVersion,
    /// RTP relays open right now.
    pub media_relays: Arc<std::sync::atomic::AtomicUsize>,
    /// Live AI engagements (the supervisor grid).
    pub live: crate::live::Live,
    /// The supervised parts of the process (for `/healthz`).
    pub health: crate::supervise::Health,
    /// The call-record writer, when SIP runs (`/healthz` checks it drains).
    pub records: Option<crate::store::calls::RecordWriter>,
    /// Admins' "try it" chats with AI agents.
    chats: Arc<agent_chats::Chats>,
    /// Where browsers' softphones connect (a cluster's SIP entry), when not here.
    pub sip_websocket_url: Option<String>,
}

/// How the HTTP application is set up.
#[derive(Clone, Default)]
pub struct AppOptions {
    pub data_dir: PathBuf,
    /// Mark the session cookie `Secure` (when served over TLS).
    pub secure_cookies: bool,
    pub sip: Option<switchboard_telephony::driver::SipHandle>,
    pub config_changed: crate::calls::snapshot::ConfigVersion,
    pub media_relays: Arc<std::sync::atomic::AtomicUsize>,
    pub live: crate::live::Live,
    pub health: crate::supervise::Health,
    pub records: Option<crate::store::calls::RecordWriter>,
    /// Where browsers' softphones connect their SIP WebSocket, when not this server's `/sip`.
    pub sip_websocket_url: Option<String>,
}

/// Collects endpoints while building the router.
pub struct Api {
    router: Router<AppState>,
    endpoints: Vec<Endpoint>,
    schemas: SchemaGenerator,
}

impl Api {
    fn new() -> Self {
        Api {
            router: Router::new(),
            endpoints: Vec::new(),
            schemas: SchemaSettings::openapi3().into_generator(),
        }
    }

    /// The OpenAPI reference for `T`, registering its definition.
    pub fn schema<T: JsonSchema>(&mut self) -> Option<serde_json::Value> {
        Some(self.schemas.subschema_for::<T>().to_value())
    }

    #[allow(clippy::too_many_arguments)]
    pub fn add<H, T>(
        &mut self,
        method: Method,
        path: &str,
        access: Access,
        tag: &'static str,
        summary: impl Into<String>,
        request: Option<serde_json::Value>,
        response: Option<serde_json::Value>,
        handler: H,
    ) -> &mut Endpoint
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).expect("standard HTTP method");
        let router = std::mem::take(&mut self.router);
        self.router = router.route(path, on(filter, handler));
        self.endpoints.push(Endpoint {
            method,
            path: path.to_string(),
            access,
            tag,
            summary: summary.into(),
            request,
            response,
            query: Vec::new(),
            media_type: "",
        });
        self.endpoints.last_mut().expect("just pushed")
    }
}

fn declare(api: &mut Api) {
    auth::routes(api);
    account::routes(api);
    people::routes(api);
    config::routes(api);
    schedules::routes(api);
    audio::routes(api);
    commerce::routes(api);
    workspace::routes(api);
    calls::routes(api);
    recordings::routes(api);
    payments::routes(api);
    coaching::routes(api);
    overrides::routes(api);
    queues_live::routes(api);
    transfers::routes(api);
    conference::routes(api);
    supervision::routes(api);
    conversations::routes(api);
    agent_chats::routes(api);
    replay::routes(api);
    registrations::routes(api);
    cluster::routes(api);
    live::routes(api);
    voicemail::routes(api);
}

/// Every endpoint the API serves (for documentation and tests).
pub fn endpoints() -> Vec<Endpoint> {
    let mut api = Api::new();
    declare(&mut api);
    api.endpoints
}

/// The whole HTTP application.
pub fn app(db: Db, options: AppOptions) -> Router {
    let mut api = Api::new();
    declare(&mut api);
    let openapi = openapi::document(&api.endpoints, api.schemas.take_definitions(true));
    let access = api.endpoints.iter().map(|e| ((e.method.clone(), e.path.clone()), e.access)).collect();
    let state = AppState {
        db,
        metrics: Arc::new(metrics::Metrics::with_health(&options.health)),
        access: Arc::new(access),
        openapi: Arc::new(openapi),
        secure_cookies: options.secure_cookies,
        data_dir: options.data_dir,
        sip: options.sip,
        config_changed: options.config_changed,
        media_relays: options.media_relays,
        live: options.live,
        health: options.health,
        records: options.records,
        chats: Arc::default(),
        sip_websocket_url: options.sip_websocket_url,
    };
    let router = api
        .router
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), authorize))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track))
        .route("/api/openapi.json", axum::routing::get(openapi::serve))
        .route("/healthz", axum::routing::get(healthz))
        .route("/metrics", axum::routing::get(metrics::serve))
        .route("/sip", axum::routing::get(sipws::upgrade))
        .route("/provision/{file}", axum::routing::get(provision::serve));
    #[cfg(feature = "fault-injection")]
    let router = router.route("/debug/fault/{part}", axum::routing::post(inject_fault));
    router.merge(ui::routes()).fallback(not_found).with_state(state)
}

/// Enforces the declared access rule of the matched endpoint and hands the principal on.
async fn authorize(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string());
    let access = path.and_then(|p| state.access.get(&(req.method().clone(), p)).copied());
    match access {
        Some(Access::Public) => next.run(req).await,
        Some(Access::AtLeast(min)) => match auth::authenticate(&state, req.headers()).await {
            Ok(principal) if principal.role >= min => {
                req.extensions_mut().insert(principal);
                next.run(req).await
            }
            Ok(principal) => error::ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "this needs the {} role or higher; you are {}",
                    min.as_str(),
                    principal.role.as_str()
                ),
            )
            .into_response(),
            Err(e) => error::ApiError::from(e).into_response(),
        },
        // Unreachable while every route is declared through `Api::add`; fail closed.
        None => error::ApiError::new(StatusCode::FORBIDDEN, "forbidden").into_response(),
    }
}

/// Each part of the process and whether it serves: the database answers, the SIP driver is
/// up and answers an OPTIONS of its own, the call-record writer drains its queue, the speech
/// engines loaded, and no supervised task is restarting. 503 names the parts that are down;
/// parts still starting (speech engines loading) do not fail the check.
async fn healthz(State(state): State<AppState>) -> Response {
    use crate::supervise::PartState;
    const WAIT: std::time::Duration = std::time::Duration::from_secs(2);
    let mut parts: Vec<(String, PartState)> = Vec::new();
    let supervised = state.health.report();
    let down = |name: &str| supervised.iter().any(|(n, s, ..)| *n == name && matches!(s, PartState::Down(_)));
    parts.push((
        "database".into(),
        match tokio::time::timeout(WAIT, state.db.ping()).await {
            Ok(Ok(())) => PartState::Up,
            Ok(Err(e)) => PartState::Down(format!("not answering: {e}")),
            Err(_) => PartState::Down("not answering within 2 s".into()),
        },
    ));
    if let Some(sip) = &state.sip {
        if !down("sip") {
            let probe = match sip.probe(WAIT).await {
                Some(200) => PartState::Up,
                Some(status) => PartState::Down(format!("answered its own OPTIONS with {status}")),
                None => PartState::Down("the SIP driver does not answer".into()),
            };
            parts.push(("sip".into(), probe));
        }
    }
    if let Some(records) = &state.records {
        if !down("records") && tokio::time::timeout(WAIT, records.flush()).await.is_err() {
            parts.push(("records".into(), PartState::Down("call records are not being written".into())));
        }
    }
    parts.push(("speech".into(), crate::agent::voice::Engines::health()));
    for (name, s, ..) in supervised {
        if let Some(existing) = parts.iter_mut().find(|(n, _)| n == name) {
            if matches!(s, PartState::Down(_)) {
                existing.1 = s;
            }
        } else {
            parts.push((name.to_string(), s));
        }
    }
    let status = |s: &PartState| match s {
        PartState::Up => "ok",
        PartState::Starting => "starting",
        PartState::Down(_) => "down",
    };
    let failing: Vec<String> = parts
        .iter()
        .filter_map(|(n, s)| match s {
            PartState::Down(why) => Some(format!("{n}: {why}")),
            _ => None,
        })
        .collect();
    let overall = if !failing.is_empty() {
        "down"
    } else if parts.iter().any(|(_, s)| *s == PartState::Starting) {
        "starting"
    } else {
        "ok"
    };
    let body = serde_json::json!({
        "status": overall,
        "failing": failing,
        "parts": parts.iter().map(|(n, s)| (n.clone(), serde_json::json!({
            "status": status(s),
            "reason": match s { PartState::Down(why) => Some(why.as_str()), _ => None },
        }))).collect::<serde_json::Map<String, serde_json::Value>>(),
    });
    if failing.is_empty() {
        (StatusCode::OK, axum::Json(body)).into_response()
    } else {
        tracing::warn!(failing = ?failing, "health check failing");
        (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
    }
}

/// Test builds only (feature `fault-injection`, and `SWITCHBOARD_FAULT_INJECTION=1` in the
/// environment), from this machine only: makes a supervised part panic, so that tests prove it
/// is survived. `sip` crashes the SIP driver task, `records` the call-record writer, `relays`
/// every media relay running now.
#[cfg(feature = "fault-injection")]
async fn inject_fault(
    State(state): State<AppState>,
    axum::extract::Path(part): axum::extract::Path<String>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
) -> Response {
    if std::env::var("SWITCHBOARD_FAULT_INJECTION").as_deref() != Ok("1") || !peer.ip().is_loopback() {
        return not_found().await.into_response();
    }
    tracing::warn!(%part, "injecting a fault");
    let before = state.health.restarts(&part);
    match (part.as_str(), &state.sip, &state.records) {
        ("sip", Some(sip), _) => sip.crash().await,
        ("records", _, Some(records)) => records.crash(),
        ("relays", ..) => switchboard_telephony::media::relay::crash_all(),
        _ => return not_found().await.into_response(),
    }
    // A supervised part: answered once it has failed (so that a test's next look at /healthz
    // sees it down).
    if part != "relays" {
        for _ in 0..100 {
            if state.health.restarts(&part) > before {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
    StatusCode::ACCEPTED.into_response()
}

async fn not_found() -> error::ApiError {
    error::ApiError::new(StatusCode::NOT_FOUND, "no such endpoint")
}
