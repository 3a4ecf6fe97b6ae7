//! Test databases and HTTP helpers.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use http_body_util::BodyExt;
use switchboard::db::Db;
use tower::ServiceExt;

/// The PostgreSQL server tests use: a URL of a database we may create databases from.
pub const PG_ENV: &str = "SWITCHBOARD_TEST_POSTGRES";

pub struct TestDb {
    pub db: Db,
    cleanup: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn drop_db(self) {
        self.db.close().await;
        if let Some((admin_url, name)) = self.cleanup {
            if let Ok(pool) = sqlx::AnyPool::connect(&admin_url).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\"")).execute(&pool).await;
                pool.close().await;
            }
        }
    }
}

pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&Db::sqlite_url(dir.path())).await.unwrap();
    TestDb { db, cleanup: None, _dir: Some(dir) }
}

async fn postgres(admin_url: &str) -> TestDb {
    sqlx::any::install_default_drivers();
    let name = format!("sbtest_{}_{}", std::process::id(), rand_suffix());
    let pool = sqlx::AnyPool::connect(admin_url).await.expect("cannot reach the test PostgreSQL server");
    sqlx::query(&format!("CREATE DATABASE \"{name}\"")).execute(&pool).await.unwrap();
    pool.close().await;
    let (base, _) = admin_url.rsplit_once('/').expect("URL with a database name");
    let db = Db::open(&format!("{base}/{name}")).await.unwrap();
    TestDb { db, cleanup: Some((admin_url.to_string(), name)), _dir: None }
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{nanos}_{}", N.fetch_add(1, Ordering::Relaxed))
}

/// Runs `test` on SQLite and on PostgreSQL. PostgreSQL is skipped (with a note) when
/// SWITCHBOARD_TEST_POSTGRES is unset, except under CI=true where that is a failure.
pub async fn on_each_db<F, Fut>(test: F)
where
    F: Fn(Db) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let t = sqlite().await;
    test(t.db.clone()).await;
    t.drop_db().await;
    match std::env::var(PG_ENV) {
        Ok(url) if !url.is_empty() => {
            let t = postgres(&url).await;
            test(t.db.clone()).await;
            t.drop_db().await;
        }
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but {PG_ENV} is not set: the PostgreSQL half of the suite would be skipped")
        }
        _ => eprintln!("note: {PG_ENV} unset, PostgreSQL half skipped"),
    }
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub json: serde_json::Value,
    pub text: String,
    pub bytes: Vec<u8>,
}

/// Sends one request to the app. `auth` is a cookie header value or `Bearer …`.
pub async fn call(
    app: &axum::Router,
    method: Method,
    path: &str,
    auth: Option<&str>,
    body: Option<&serde_json::Value>,
) -> Resp {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(a) = auth {
        if a.starts_with("Bearer ") {
            req = req.header(header::AUTHORIZATION, a);
        } else {
            req = req.header(header::COOKIE, a);
        }
    }
    let req = match body {
        Some(b) => req.header(header::CONTENT_TYPE, "application/json").body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .unwrap();
    raw(app, req).await
}

/// Sends raw bytes with a content type.
pub async fn call_bytes(
    app: &axum::Router,
    method: Method,
    path: &str,
    auth: Option<&str>,
    content_type: &str,
    body: Vec<u8>,
) -> Resp {
    let mut req = Request::builder().method(method).uri(path).header(header::CONTENT_TYPE, content_type);
    if let Some(a) = auth {
        req = req.header(header::COOKIE, a);
    }
    raw(app, req.body(Body::from(body)).unwrap()).await
}

/// A short WAV file (a 440 Hz tone, 8 kHz mono).
pub fn tone_wav(ms: u32) -> Vec<u8> {
    let samples: Vec<i16> = (0..8 * ms).map(|i| ((i as f32 * 0.3454).sin() * 8000.0) as i16).collect();
    switchboard_telephony::media::wav::encode_pcm16(&samples, 8000, 1)
}

pub async fn raw(app: &axum::Router, req: Request<Body>) -> Resp {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).to_string();
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    Resp { status, headers, json, text, bytes: bytes.to_vec() }
}

/// The HTTP application over `db`, with files in a fresh temporary directory.
pub fn app(db: &Db) -> axum::Router {
    app_with_live(db, Default::default())
}

/// The same, showing the live AI calls of `live`.
pub fn app_with_live(db: &Db, live: switchboard::live::Live) -> axum::Router {
    let dir = std::env::temp_dir().join(format!("switchboard-test-{}-{}", std::process::id(), rand_suffix()));
    app_in(db, live, dir)
}

/// The same, with its files in `data_dir`.
pub fn app_in(db: &Db, live: switchboard::live::Live, data_dir: std::path::PathBuf) -> axum::Router {
    switchboard::api::app(db.clone(), switchboard::api::AppOptions { data_dir, live, ..Default::default() })
}
