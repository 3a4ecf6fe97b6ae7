//! `/healthz` tells the truth: each part is checked and a part that is down makes it 503 with
//! the part named; `/metrics` counts the supervised tasks' restarts.

use crate::common::{call, on_each_db};
use axum::http::{Method, StatusCode};
use switchboard::db::Db;
use switchboard::supervise::{Health, PartState, Supervised};

fn app_with(
    db: &Db,
    health: Health,
    records: Option<switchboard::store::calls::RecordWriter>,
) -> axum::Router {
    switchboard::api::app(
        db.clone(),
        switchboard::api::AppOptions {
            health,
            records,
            data_dir: std::env::temp_dir(),
            ..Default::default()
        },
    )
}

/// Panics at its first input, then serves.
struct PanicsOnce {
    inputs: tokio::sync::mpsc::UnboundedReceiver<()>,
    panicked: bool,
}

impl Supervised for PanicsOnce {
    async fn run(&mut self) {
        while self.inputs.recv().await.is_some() {
            if !self.panicked {
                self.panicked = true;
                panic!("first input");
            }
        }
    }
}

#[tokio::test]
async fn healthz_names_the_part_that_is_down() {
    on_each_db(|db: Db| async move {
        let health = Health::default();
        let records = switchboard::store::calls::RecordWriter::start_supervised(db.clone(), &health);
        let app = app_with(&db, health.clone(), Some(records));
        let ok = call(&app, Method::GET, "/healthz", None, None).await;
        assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
        assert_eq!(ok.json["parts"]["database"]["status"], "ok");
        assert_eq!(ok.json["parts"]["records"]["status"], "ok");
        // Speech engines were never asked for here: starting, which does not fail the check.
        assert_eq!(ok.json["parts"]["speech"]["status"], "starting");
        assert_eq!(ok.json["status"], "starting");

        // A supervised task panics: down during its back-off, named, and counted.
        let (tx, inputs) = tokio::sync::mpsc::unbounded_channel();
        health.supervise("worker", PanicsOnce { inputs, panicked: false });
        tx.send(()).unwrap();
        let mut down = None;
        for _ in 0..100 {
            let h = call(&app, Method::GET, "/healthz", None, None).await;
            if h.status == StatusCode::SERVICE_UNAVAILABLE {
                down = Some(h);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let down = down.expect("/healthz never answered 503 while the worker restarted");
        assert_eq!(down.json["status"], "down");
        assert_eq!(down.json["parts"]["worker"]["status"], "down");
        let failing = down.json["failing"].to_string();
        assert!(failing.contains("worker: restarting after a panic: first input"), "{failing}");
        tokio::time::sleep(switchboard::supervise::FIRST_BACKOFF * 2).await;
        let again = call(&app, Method::GET, "/healthz", None, None).await;
        assert_eq!(again.status, StatusCode::OK, "{}", again.text);
        assert_eq!(health.state("worker"), Some(PartState::Up));
        let m = call(&app, Method::GET, "/metrics", None, None).await;
        assert!(m.text.contains("switchboard_task_restarts_total{task=\"worker\"} 1"), "{}", m.text);

        // The database goes away.
        db.close().await;
        let h = call(&app, Method::GET, "/healthz", None, None).await;
        assert_eq!(h.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(h.json["parts"]["database"]["status"], "down");
        assert!(h.json["failing"][0].as_str().unwrap().starts_with("database: "), "{}", h.text);
    })
    .await;
}
