//! Hostile input never takes the API down: bodies that are not JSON, nest too deep, carry
//! huge numbers, wrong types, unknown fields, NUL characters or invalid UTF-8, and headers
//! that are malformed, non-ASCII, huge or empty, all get a 4xx naming what is wrong, never a
//! 500, a panic or a hang, on SQLite and PostgreSQL.

use crate::common::{call, on_each_db, raw, Resp};
use crate::role_matrix::{fixture, fresh_body, live_body, Fixture};
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::{json, Value};
use switchboard::api::endpoints;
use switchboard::db::Db;
use switchboard::model::Role;

/// Every endpoint that takes a JSON body, with a path and a body it accepts.
fn json_endpoints(f: &Fixture) -> Vec<(Method, String, Value)> {
    let mut out = Vec::new();
    for e in endpoints() {
        // (Endpoints that read no body, such as logging out, have no request schema.)
        if !matches!(e.method, Method::POST | Method::PUT) || !e.media_type.is_empty() || e.request.is_none()
        {
            continue;
        }
        let collection = e.path.split("/{id}").next().unwrap_or(&e.path).to_string();
        let body = match (e.method.clone(), e.path.as_str()) {
            (Method::POST, "/api/auth/login") => json!({"email": f.emails[&Role::Agent], "password": "x"}),
            (Method::PUT, "/api/me/status") => json!({"status": "available"}),
            (Method::POST, p) if p.starts_with("/api/live/") => live_body(p),
            (Method::PUT, "/api/voicemail/{id}") => json!({"heard": true}),
            (Method::POST, "/api/me/customers/link") => json!({"number": "+12025550999", "customer_id": 1}),
            (Method::POST, "/api/calls/{id}/recording") => json!({"action": "pause"}),
            (Method::POST, "/api/calls/{id}/transfer") => {
                json!({"target": {"type": "agent", "extension": "102"}})
            }
            (Method::POST, "/api/calls/{id}/transfer/complete") => json!({"consult": 1}),
            (Method::POST, "/api/calls/{id}/conference") => json!({"add": 1}),
            (Method::POST, "/api/calls/{id}/supervise") => json!({"mode": "barge"}),
            (Method::POST, "/api/calls/{id}/payment") => json!({"amount_minor": 100}),
            (Method::POST, "/api/calls/{id}/payment/restart") => json!({"step": "card_number"}),
            (Method::POST, "/api/overrides") => json!({"destination": "+442079460000", "reason": "abroad"}),
            (Method::POST, "/api/overrides/{id}/decision") => json!({"approve": true}),
            (Method::POST, "/api/queues-live/pick") => json!({"caller": 1}),
            (Method::PUT, "/api/presence/{extension}") => json!({"status": "away"}),
            (Method::POST, "/api/conversations" | "/api/hooks/conversations/{account}") => {
                crate::role_matrix::conversation_body()
            }
            (Method::PUT, "/api/calls/{id}/wrap-up") => {
                json!({"outcome": "Resolved", "notes": "Refund sent"})
            }
            (Method::PUT, "/api/account") => {
                serde_json::to_value(switchboard::demo::config().settings).unwrap()
            }
            (Method::POST, "/api/schedules/preview") => {
                json!({"schedule": f.bodies["/api/schedules"], "at_ms": 1_764_950_400_000i64})
            }
            (Method::POST, "/api/agent-chats/{id}") => json!({"text": "Where is my order?"}),
            (Method::POST, "/api/calls/{id}/replay") => json!({}),
            (Method::POST, _) => fresh_body(f, &collection),
            (Method::PUT, _) => f.bodies.get(&collection).cloned().unwrap_or(json!({})),
            _ => continue,
        };
        let id = f.ids.get(&collection).copied().unwrap_or(1);
        out.push((e.method.clone(), e.path.replace("{id}", &id.to_string()), body));
    }
    out
}

async fn send_raw(app: &axum::Router, method: Method, path: &str, auth: &str, body: Vec<u8>) -> Resp {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::COOKIE, auth)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap();
    raw(app, req).await
}

/// Every leaf of `v` with its path (`items[0].name`).
fn leaves(v: &Value, path: String, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                leaves(x, if path.is_empty() { k.clone() } else { format!("{path}.{k}") }, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                leaves(x, format!("{path}[{i}]"), out);
            }
        }
        _ => out.push((path, v.clone())),
    }
}

fn set(v: &mut Value, path: &str, new: Value) {
    let mut cur = v;
    for part in path.split('.') {
        let (name, index) = match part.split_once('[') {
            Some((n, rest)) => (n, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        if !name.is_empty() {
            cur = &mut cur[name];
        }
        if let Some(i) = index {
            cur = &mut cur[i];
        }
    }
    *cur = new;
}

async fn bodies(db: Db) {
    let f = fixture(&db, "acme", "+1555").await;
    let app = crate::common::app(&db);
    let owner = f.cookies[&Role::Owner].clone();
    let mut failures = Vec::new();
    for (method, path, body) in json_endpoints(&f) {
        let text = body.to_string();
        let mut whole: Vec<(&str, Vec<u8>)> = vec![
            ("not JSON", b"{not json".to_vec()),
            ("empty", Vec::new()),
            ("invalid UTF-8", b"{\"a\": \"\xff\xfe\"}".to_vec()),
            ("deep arrays", format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes()),
            ("deep objects", "{\"a\":".repeat(50_000).into_bytes()),
            ("a number", b"1e999".to_vec()),
            ("a string", b"\"\\u0000\"".to_vec()),
            ("null", b"null".to_vec()),
            ("an array", format!("[{text}]").into_bytes()),
            ("trailing garbage", format!("{text} x").into_bytes()),
            ("unknown field", {
                let mut b = body.clone();
                if let Some(m) = b.as_object_mut() {
                    m.insert("colour".into(), json!("red"));
                }
                b.to_string().into_bytes()
            }),
        ];
        whole.push(("duplicate key", text.replacen('{', "{\"a\":1,\"a\":2,", 1).into_bytes()));
        let mut cases: Vec<(String, Vec<u8>)> = whole.into_iter().map(|(n, b)| (n.to_string(), b)).collect();
        let mut ls = Vec::new();
        leaves(&body, String::new(), &mut ls);
        for (leaf, value) in ls {
            let mut variants = vec![
                ("NUL", json!("a\u{0}b")),
                ("huge number", serde_json::from_str::<Value>("18446744073709551616").unwrap()),
                ("i64 min", json!(i64::MIN)),
                ("negative", json!(-1)),
                ("float", json!(0.5)),
                ("object", json!({"x": 1})),
                ("null", Value::Null),
                ("long text", json!("é".repeat(100_000))),
            ];
            if value.is_string() {
                variants.push(("multibyte", json!(format!("€{}𝄞", value.as_str().unwrap()))));
            }
            for (what, v) in variants {
                let mut b = body.clone();
                set(&mut b, &leaf, v);
                cases.push((format!("{leaf} = {what}"), b.to_string().into_bytes()));
            }
        }
        for (what, bytes) in cases {
            let r = send_raw(&app, method.clone(), &path, &owner, bytes).await;
            if r.status.is_server_error() {
                failures.push(format!("{method} {path} with {what}: {} {}", r.status, r.text));
            }
        }
    }
    assert!(failures.is_empty(), "{} server errors:\n{}", failures.len(), failures.join("\n"));
}

#[tokio::test]
async fn hostile_bodies_get_a_4xx() {
    on_each_db(bodies).await;
}

async fn queries_and_headers(db: Db) {
    let f = fixture(&db, "acme", "+1555").await;
    let app = crate::common::app(&db);
    let owner = f.cookies[&Role::Owner].clone();
    // A NUL in a query parameter reached PostgreSQL and failed there (500).
    for path in [
        "/api/customers?q=a%00b",
        "/api/customers?email=%00",
        "/api/orders?number=%00",
        "/api/calls?agent_extension=1%0001",
    ] {
        let r = call(&app, Method::GET, path, Some(&owner), None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}: {}", r.text);
        assert!(r.json["error"].as_str().unwrap().contains("NUL"), "{path}: {}", r.text);
    }
    for path in [
        "/api/customers?limit=-5&offset=-9223372036854775808",
        "/api/customers?limit=99999999999999999999",
        "/api/customers?q=%F0%9D%84%9E%C3%A9&phone=%E2%82%AC",
    ] {
        let r = call(&app, Method::GET, path, Some(&owner), None).await;
        assert!(!r.status.is_server_error(), "{path}: {} {}", r.status, r.text);
    }
    // Credentials that are malformed, non-ASCII, huge or empty are simply not credentials.
    let huge = "x".repeat(200_000);
    let bearer_huge = format!("Bearer {huge}");
    let cookie_huge = format!("sb_session={huge}");
    let authorizations: [&[u8]; 8] = [
        b"Bearer",
        b"Bearer ",
        b"bearer \xe2\x82\xac",
        b"Basic dXNlcjpwYXNz",
        b"",
        b"\xff\xfe",
        b"Bearer a\tb",
        bearer_huge.as_bytes(),
    ];
    for value in authorizations {
        let req = Request::builder()
            .uri("/api/me")
            .header(header::AUTHORIZATION, axum::http::HeaderValue::from_bytes(value).unwrap())
            .body(Body::empty())
            .unwrap();
        let r = raw(&app, req).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}: {}", value.escape_ascii(), r.text);
    }
    let cookies: [&[u8]; 7] = [
        b"sb_session=",
        b"sb_session",
        b";;;",
        b"sb_session=\xc3\xa9",
        b"\xff=\xfe",
        b"a=b; sb_session=%00",
        cookie_huge.as_bytes(),
    ];
    for value in cookies {
        let req = Request::builder()
            .uri("/api/me")
            .header(header::COOKIE, axum::http::HeaderValue::from_bytes(value).unwrap())
            .body(Body::empty())
            .unwrap();
        let r = raw(&app, req).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}: {}", value.escape_ascii(), r.text);
    }
    // The scheme is case-insensitive (RFC 9110), so a real token works either way.
    let token = call(
        &app,
        Method::POST,
        "/api/tokens",
        Some(&owner),
        Some(&json!({"name": "ci-x", "role": "agent"})),
    )
    .await;
    let token = token.json["token"].as_str().expect("a new token").to_string();
    for scheme in ["Bearer", "bearer"] {
        let req = Request::builder()
            .uri("/api/me")
            .header(header::AUTHORIZATION, format!("{scheme} {token}"))
            .body(Body::empty())
            .unwrap();
        let r = raw(&app, req).await;
        assert_eq!(r.status, StatusCode::OK, "{scheme}: {}", r.text);
    }
    // A body's NUL is named.
    let r = call(
        &app,
        Method::POST,
        "/api/tickets",
        Some(&owner),
        Some(
            &json!({"customer_id": f.customer_id, "subject": "a\u{0}b", "status": "open", "priority": "low"}),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.json["problems"][0]["path"], "subject", "{}", r.text);
}

#[tokio::test]
async fn hostile_queries_and_headers_get_a_4xx() {
    on_each_db(queries_and_headers).await;
}
