//! Merchant webhook tools against a real local HTTP endpoint: checked arguments, secret
//! headers, the answer's pointed-at part, retries, timeouts, and no loopback unless allowed.

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use switchboard::model::{HttpMethod, ToolDefinition, ToolImplementation};
use switchboard_tools::{call, CallContext};

async fn endpoint() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let (h1, h2) = (hits.clone(), hits.clone());
    let app = axum::Router::new()
        .route(
            "/status",
            post(move |headers: HeaderMap, axum::Json(body): axum::Json<serde_json::Value>| {
                let hits = h1.clone();
                async move {
                    hits.fetch_add(1, Ordering::SeqCst);
                    if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some("s3cret") {
                        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "bad key"})));
                    }
                    let status = if body["order_number"] == "1042" { "shipped" } else { "unknown" };
                    (
                        StatusCode::OK,
                        axum::Json(json!({"data": {"status": status, "eta": "Friday"}, "debug": "x"})),
                    )
                }
            }),
        )
        .route(
            "/flaky",
            post(move || {
                let hits = h2.clone();
                async move {
                    if hits.fetch_add(1, Ordering::SeqCst) % 2 == 0 {
                        (StatusCode::SERVICE_UNAVAILABLE, axum::Json(json!({})))
                    } else {
                        (StatusCode::OK, axum::Json(json!({"ok": true})))
                    }
                }
            }),
        )
        .route(
            "/slow",
            post(|| async {
                tokio::time::sleep(std::time::Duration::from_secs(3)).await;
                axum::Json(json!({}))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), hits)
}

fn def(url: String, secret: &str, timeout_ms: u32, retries: u32) -> ToolDefinition {
    ToolDefinition {
        name: "order_status".into(),
        description: "The order's status from the merchant's system".into(),
        parameters: json!({"type": "object", "required": ["order_number"], "additionalProperties": false,
            "properties": {"order_number": {"type": "string", "minLength": 3}}}),
        implementation: ToolImplementation::Webhook {
            url,
            method: HttpMethod::Post,
            headers: BTreeMap::from([("accept".to_string(), "application/json".to_string())]),
            secret_headers: BTreeMap::from([("x-api-key".to_string(), Some(secret.to_string()))]),
            timeout_ms,
            retries,
            result_pointer: Some("/data".into()),
        },
        requires_approval: false,
        cancel_on_interruption: true,
    }
}

#[tokio::test]
async fn webhook_tools_call_the_merchant_safely() {
    let (base, hits) = endpoint().await;
    let ctx = CallContext { account: 1, ..Default::default() };
    let tool = switchboard::agenttools::webhook_tool(&def(format!("{base}/status"), "s3cret", 2000, 0), true)
        .unwrap();
    let r = call(&tool, json!({"order_number": "1042"}), &ctx).await;
    assert_eq!(r.outcome, Ok(json!({"status": "shipped", "eta": "Friday"})), "the secret header went along");
    // Bad arguments never reach the merchant.
    let r = call(&tool, json!({"order_number": 1042}), &ctx).await;
    assert_eq!(r.for_model()["error"], "invalid_arguments");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    // A refusal (wrong secret) is not retried and says why.
    let wrong =
        switchboard::agenttools::webhook_tool(&def(format!("{base}/status"), "nope", 2000, 3), true).unwrap();
    let r = call(&wrong, json!({"order_number": "1042"}), &ctx).await;
    assert!(r.for_model()["message"].as_str().unwrap().contains("HTTP 401"), "{:?}", r.outcome);
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    // Loopback is refused unless the account allows it (no request forgery).
    let guarded =
        switchboard::agenttools::webhook_tool(&def(format!("{base}/status"), "s3cret", 2000, 0), false)
            .unwrap();
    let r = call(&guarded, json!({"order_number": "1042"}), &ctx).await;
    assert!(r.for_model()["message"].as_str().unwrap().contains("not public"), "{:?}", r.outcome);
    assert_eq!(hits.load(Ordering::SeqCst), 2, "the merchant was never called");
    // A 503 is retried; a slow endpoint times out.
    let flaky = switchboard::agenttools::webhook_tool(&def(format!("{base}/flaky"), "s3cret", 3000, 1), true)
        .unwrap();
    let r = call(&flaky, json!({"order_number": "1042"}), &ctx).await;
    assert!(r.outcome.is_ok(), "{:?}", r.outcome);
    let slow =
        switchboard::agenttools::webhook_tool(&def(format!("{base}/slow"), "s3cret", 300, 0), true).unwrap();
    let r = call(&slow, json!({"order_number": "1042"}), &ctx).await;
    assert_eq!(r.for_model()["error"], "timeout");
}
