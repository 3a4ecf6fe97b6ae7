//! Conversations from other channels: the signed inbound webhook (signature, freshness,
//! idempotency, field errors), the customer they are matched to, and the customer's timeline.

use crate::common::{call, on_each_db, raw};
use crate::role_matrix::fixture;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;
use switchboard::model::Role;

fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    format!("v1={}", hex::encode(ring::hmac::sign(&key, &signed).as_ref()))
}

fn now_s() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// A post to the hook with the given timestamp and signature headers (None: left out).
fn hook(
    account: &str,
    body: &serde_json::Value,
    timestamp: Option<String>,
    signature: Option<String>,
) -> Request<Body> {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/hooks/conversations/{account}"))
        .header("content-type", "application/json");
    if let Some(t) = timestamp {
        req = req.header("x-switchboard-timestamp", t);
    }
    if let Some(s) = signature {
        req = req.header("x-switchboard-signature", s);
    }
    req.body(Body::from(body.to_string())).unwrap()
}

#[tokio::test]
async fn signed_posts_land_once_beside_the_customers_calls_and_anything_else_is_refused() {
    on_each_db(|db| async move {
        let f = fixture(&db, "acme", "+1555").await;
        let app = crate::common::app(&db);
        let (agent, supervisor, admin) =
            (&f.cookies[&Role::Agent], &f.cookies[&Role::Supervisor], &f.cookies[&Role::Admin]);
        let settings = call(&app, Method::GET, "/api/account/conversation-webhook", Some(admin), None).await;
        assert_eq!(settings.status, StatusCode::OK, "{}", settings.text);
        assert_eq!(settings.json["path"], "/api/hooks/conversations/acme");
        let secret = settings.json["secret"].as_str().unwrap().to_string();
        let customer = f.customer_id;
        let chat = json!({
            "message_id": "zd-1001", "channel": "chat", "direction": "inbound", "time": "2026-12-01T10:00:00Z",
            "participants": [{"name": "Caller", "address": "+12025550999"}], "text": "Where is my tent?",
            "link": "https://help.example/tickets/1001", "customer_id": customer
        });
        let signed = |body: &serde_json::Value| {
            let t = now_s().to_string();
            let s = sign(&secret, &t, body.to_string().as_bytes());
            (Some(t), Some(s))
        };
        let (t, s) = signed(&chat);
        let first = raw(&app, hook("acme", &chat, t, s)).await;
        assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
        assert_eq!(first.json["customer_id"], customer);
        assert_eq!(first.json["duplicate"], false);
        // Posted again (a retry): the same conversation, nothing new.
        let (t, s) = signed(&chat);
        let again = raw(&app, hook("acme", &chat, t, s)).await;
        assert_eq!(again.status, StatusCode::OK, "{}", again.text);
        assert_eq!((again.json["id"].clone(), again.json["duplicate"].clone()), (first.json["id"].clone(), json!(true)));
        // Refused alike: no headers, a wrong signature, a stale timestamp, an unknown account,
        // a body changed after signing.
        let (t, s) = signed(&chat);
        let stale = (now_s() - 600).to_string();
        let stale_sig = sign(&secret, &stale, chat.to_string().as_bytes());
        let wrong = sign("whsec_not_it", &t.clone().unwrap(), chat.to_string().as_bytes());
        let mut changed = chat.clone();
        changed["text"] = json!("Refund me");
        for (account, body, t, s) in [
            ("acme", &chat, None, None),
            ("acme", &chat, t.clone(), Some(wrong)),
            ("acme", &chat, Some(stale), Some(stale_sig)),
            ("nobody", &chat, t.clone(), s.clone()),
            ("acme", &changed, t, s),
        ] {
            let r = raw(&app, hook(account, body, t, s)).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{account}: {}", r.text);
            assert!(!r.text.contains(&secret));
        }
        // Signed but wrong: the field is named.
        let bad = json!({"message_id": "x", "channel": "fax", "direction": "inbound", "time": "yesterday", "text": ""});
        let (t, s) = signed(&bad);
        let r = raw(&app, hook("acme", &bad, t, s)).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert!(r.text.contains("channel") && r.text.contains("time"), "{}", r.text);
        // An e-mail through the API (an admin's token or session), matched by the customer's
        // phone among its participants; one about nobody we know stays unmatched.
        let email = json!({"message_id": "mail-7", "channel": "email", "direction": "outbound", "time": 1764583200000_i64,
                           "subject": "Your refund", "text": "We sent your refund.",
                           "participants": [{"address": "support@acme.example"}, {"address": "+1 202 555 0999"}]});
        let r = call(&app, Method::POST, "/api/conversations", Some(admin), Some(&email)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert_eq!(r.json["customer_id"], customer, "matched by phone: {}", r.text);
        let stranger = json!({"message_id": "sms-1", "channel": "sms", "direction": "inbound", "time": 1764583200000_i64,
                              "text": "hi", "participants": [{"address": "+447700900000"}]});
        let r = call(&app, Method::POST, "/api/conversations", Some(admin), Some(&stranger)).await;
        assert_eq!((r.status, r.json["customer_id"].clone()), (StatusCode::CREATED, json!(null)), "{}", r.text);
        // The timeline: the call (today) first, then the chat (Dec 1, 10:00), then the e-mail
        // (Dec 1, 10:00 UTC too, posted as milliseconds: 1764583200000).
        let path = format!("/api/customers/{customer}/timeline");
        let t = call(&app, Method::GET, &path, Some(agent), None).await;
        assert_eq!(t.status, StatusCode::OK, "{}", t.text);
        let kinds: Vec<String> = t.json["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| format!("{}:{}", e["type"].as_str().unwrap(), e["channel"].as_str().unwrap_or("call")))
            .collect();
        assert_eq!(kinds[0], "call:call", "{kinds:?}");
        assert!(kinds.contains(&"conversation:chat".to_string()) && kinds.contains(&"conversation:email".to_string()));
        assert_eq!(kinds.len(), 3, "{kinds:?}");
        // A customer the agent never talked to is not theirs to read; supervisors read it.
        let other = call(&app, Method::POST, "/api/customers", Some(admin), Some(&json!({"name": "Other Person"}))).await;
        let path = format!("/api/customers/{}/timeline", other.json["id"]);
        assert_eq!(call(&app, Method::GET, &path, Some(agent), None).await.status, StatusCode::NOT_FOUND);
        assert_eq!(call(&app, Method::GET, &path, Some(supervisor), None).await.status, StatusCode::OK);
        // A rotated secret: the old one stops working at once.
        let rotated = call(&app, Method::POST, "/api/account/conversation-webhook/rotate", Some(admin), None).await;
        assert_ne!(rotated.json["secret"].as_str().unwrap(), secret);
        let next = json!({"message_id": "zd-1002", "channel": "chat", "direction": "inbound", "time": 1764583200000_i64, "text": "x"});
        let (t, s) = signed(&next);
        assert_eq!(raw(&app, hook("acme", &next, t, s)).await.status, StatusCode::UNAUTHORIZED);
    })
    .await;
}
