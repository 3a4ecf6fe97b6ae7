//! API behaviour beyond access control: login and tokens, validation errors with field paths,
//! conflicts, secrets, agent scoping, health, metrics and the OpenAPI document.

use crate::common::{call, on_each_db};
use crate::role_matrix::fixture;
use axum::http::{header, Method, StatusCode};
use serde_json::json;
use switchboard::db::Db;
use switchboard::model::{Agent, Role};
use switchboard::store::{calls, config as cfg};

async fn login_and_tokens(db: Db) {
    let f = fixture(&db, "acme", "+1555").await;
    let app = crate::common::app(&db);
    let bad = call(
        &app,
        Method::POST,
        "/api/auth/login",
        None,
        Some(&json!({"email": f.emails[&Role::Admin], "password": "wrong-password"})),
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    let unknown = call(
        &app,
        Method::POST,
        "/api/auth/login",
        None,
        Some(&json!({"email": "nobody@x.example", "password": "whatever-123"})),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    let ok = call(
        &app,
        Method::POST,
        "/api/auth/login",
        None,
        Some(&json!({"email": f.emails[&Role::Admin].to_uppercase(), "password": "correct-horse-battery"})),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    let set_cookie = ok.headers[header::SET_COOKIE].to_str().unwrap().to_string();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"), "{set_cookie}");
    let cookie = set_cookie.split(';').next().unwrap().to_string();
    let me = call(&app, Method::GET, "/api/me", Some(&cookie), None).await;
    assert_eq!(me.json["role"], "admin");
    assert_eq!(me.json["account_id"], json!(f.account_id));
    let out = call(&app, Method::POST, "/api/auth/logout", None, None).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let out = call(&app, Method::POST, "/api/auth/logout", Some(&cookie), None).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_eq!(
        call(&app, Method::GET, "/api/me", Some(&cookie), None).await.status,
        StatusCode::UNAUTHORIZED
    );

    // Password guessing is throttled per e-mail, even for the right password afterwards.
    let victim = &f.emails[&Role::Supervisor];
    for _ in 0..5 {
        let r = call(
            &app,
            Method::POST,
            "/api/auth/login",
            None,
            Some(&json!({"email": victim, "password": "guess-guess"})),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = call(
        &app,
        Method::POST,
        "/api/auth/login",
        None,
        Some(&json!({"email": victim, "password": "correct-horse-battery"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert!(r.headers.contains_key(header::RETRY_AFTER));

    // API tokens: created by the owner, shown once, usable as Bearer, revocable.
    let owner = &f.cookies[&Role::Owner];
    let t = call(
        &app,
        Method::POST,
        "/api/tokens",
        Some(owner),
        Some(&json!({"name": "deploy", "role": "admin"})),
    )
    .await;
    assert_eq!(t.status, StatusCode::CREATED);
    let bearer = format!("Bearer {}", t.json["token"].as_str().unwrap());
    let list = call(&app, Method::GET, "/api/tokens", Some(owner), None).await;
    assert!(!list.text.contains(t.json["token"].as_str().unwrap()), "secret shown again");
    assert_eq!(call(&app, Method::GET, "/api/queues", Some(&bearer), None).await.status, StatusCode::OK);
    assert_eq!(
        call(&app, Method::GET, "/api/users", Some(&bearer), None).await.status,
        StatusCode::FORBIDDEN
    );
    let id = t.json["id"].as_i64().unwrap();
    assert_eq!(
        call(&app, Method::DELETE, &format!("/api/tokens/{id}"), Some(owner), None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(&app, Method::GET, "/api/queues", Some(&bearer), None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(&app, Method::GET, "/api/queues", Some("Bearer sbt_forged"), None).await.status,
        StatusCode::UNAUTHORIZED
    );

    // A new password ends the user's sessions; a disabled user cannot log in.
    let users = call(&app, Method::GET, "/api/users", Some(owner), None).await;
    let admin = users.json.as_array().unwrap().iter().find(|u| u["role"] == "admin").unwrap().clone();
    let admin_cookie = &f.cookies[&Role::Admin];
    assert_eq!(call(&app, Method::GET, "/api/me", Some(admin_cookie), None).await.status, StatusCode::OK);
    let upd = json!({"email": admin["email"], "name": "Admin", "role": "admin", "password": "a-brand-new-password", "disabled": true});
    let r = call(&app, Method::PUT, &format!("/api/users/{}", admin["id"]), Some(owner), Some(&upd)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        call(&app, Method::GET, "/api/me", Some(admin_cookie), None).await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = call(
        &app,
        Method::POST,
        "/api/auth/login",
        None,
        Some(&json!({"email": admin["email"], "password": "a-brand-new-password"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "disabled users cannot log in");

    // The last owner cannot be removed or demoted.
    let me_owner = call(&app, Method::GET, "/api/me", Some(owner), None).await;
    let owner_id = me_owner.json["user_id"].as_i64().unwrap();
    let r = call(&app, Method::DELETE, &format!("/api/users/{owner_id}"), Some(owner), None).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    let demote = json!({"email": f.emails[&Role::Owner], "name": "Owner", "role": "admin"});
    let r = call(&app, Method::PUT, &format!("/api/users/{owner_id}"), Some(owner), Some(&demote)).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    // Duplicate e-mail.
    let dup = json!({"email": f.emails[&Role::Agent], "name": "Dup", "role": "agent", "password": "long-enough-pw"});
    assert_eq!(
        call(&app, Method::POST, "/api/users", Some(owner), Some(&dup)).await.status,
        StatusCode::CONFLICT
    );
}

#[tokio::test]
async fn login_sessions_and_api_tokens() {
    on_each_db(login_and_tokens).await;
}

async fn validation(db: Db) {
    let f = fixture(&db, "acme", "+1555").await;
    let g = fixture(&db, "globex", "+1666").await;
    let app = crate::common::app(&db);
    let admin = &f.cookies[&Role::Admin];
    let post = |body: serde_json::Value| {
        let app = app.clone();
        async move { call(&app, Method::POST, "/api/queues", Some(admin), Some(&body)).await }
    };
    let r = post(json!({"name": "returns", "wrap_up_seconds": 5000})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json["problems"][0]["path"], "wrap_up_seconds");
    assert_eq!(r.json["problems"][0]["message"], "must be 0..=3600");
    let r = post(json!({"name": "returns", "strategy": "loudest"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json["problems"][0]["path"], "strategy", "{}", r.text);
    let r = post(json!({"name": "returns", "colour": "red"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.json["error"].as_str().unwrap().contains("colour"), "{}", r.text);
    let r = post(json!({"name": "Returns Dept"})).await;
    assert_eq!(r.json["problems"][0]["path"], "name");
    let r = post(json!({"name": "returns", "overflow_target": {"type": "queue", "name": "nowhere"}})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json["problems"][0]["path"], "overflow_target");
    assert!(r.json["problems"][0]["message"].as_str().unwrap().contains("does not exist"));
    let raw = crate::common::raw(
        &app,
        axum::http::Request::builder()
            .method(Method::POST)
            .uri("/api/queues")
            .header(header::COOKIE, admin)
            .header(header::CONTENT_TYPE, "application/json")
            .body(axum::body::Body::from("{not json"))
            .unwrap(),
    )
    .await;
    assert_eq!(raw.status, StatusCode::BAD_REQUEST);
    assert!(raw.json["error"].is_string());
    // Duplicates are conflicts.
    let r = post(json!({"name": "sales"})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert!(r.json["error"].as_str().unwrap().contains("sales"));
    // A DID belongs to one account only.
    let r = call(
        &app,
        Method::POST,
        "/api/phone_numbers",
        Some(&g.cookies[&Role::Admin]),
        Some(&json!({"number": "+15555550100", "target": {"type": "hangup"}})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    // In-use entities cannot be deleted or renamed.
    let sales = f.ids["/api/queues"];
    let r = call(&app, Method::DELETE, &format!("/api/queues/{sales}"), Some(admin), None).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.json["error"].as_str().unwrap().contains("IVR menu 'main'"), "{}", r.text);
    let mut renamed = f.bodies["/api/queues"].clone();
    renamed["name"] = json!("sales-2");
    let r = call(&app, Method::PUT, &format!("/api/queues/{sales}"), Some(admin), Some(&renamed)).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    // Query and path mistakes are clear 4xx answers.
    let r = call(&app, Method::GET, "/api/customers?limit=lots", Some(admin), None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json["error"].as_str().unwrap().contains("limit"), "{}", r.text);
    assert_eq!(
        call(&app, Method::GET, "/api/queues/abc", Some(admin), None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(&app, Method::GET, "/api/queues/99999999", Some(admin), None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(&app, Method::GET, "/api/nothing-here", Some(admin), None).await.status,
        StatusCode::NOT_FOUND
    );
    // Orders: totals computed, bad items named.
    let r = call(
        &app,
        Method::POST,
        "/api/orders",
        Some(admin),
        Some(&json!({
        "customer_id": f.customer_id, "number": "7001", "status": "paid", "shipping_cents": 500,
        "items": [{"sku": "A", "name": "A", "quantity": 2, "unit_price_cents": 1000}]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json["total_cents"], 2500);
    let r = call(
        &app,
        Method::POST,
        "/api/orders",
        Some(admin),
        Some(&json!({
        "customer_id": f.customer_id, "number": "7002", "status": "paid",
        "items": [{"sku": "A", "name": "A", "quantity": 0, "unit_price_cents": 1000}]})),
    )
    .await;
    assert_eq!(r.json["problems"][0]["path"], "items[0].quantity", "{}", r.text);
    let r = call(
        &app,
        Method::POST,
        "/api/orders",
        Some(admin),
        Some(&json!({
        "customer_id": g.customer_id, "number": "7003", "status": "paid",
        "items": [{"sku": "A", "name": "A", "quantity": 1, "unit_price_cents": 1000}]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "another account's customer: {}", r.text);
    assert_eq!(r.json["problems"][0]["path"], "customer_id");
    // Customers are found by phone number (how calls are matched).
    let r = call(&app, Method::GET, "/api/customers?phone=%2B12025550999", Some(admin), None).await;
    assert_eq!(r.json.as_array().unwrap().len(), 1, "{}", r.text);
    assert_eq!(r.json[0]["name"], "Pat Doe");
}

#[tokio::test]
async fn validation_names_fields_and_conflicts_are_409() {
    on_each_db(validation).await;
}

async fn secrets_and_scope(db: Db) {
    let f = fixture(&db, "acme", "+1555").await;
    let app = crate::common::app(&db);
    let admin = &f.cookies[&Role::Admin];
    let agents = call(&app, Method::GET, "/api/agents", Some(admin), None).await;
    assert!(!agents.text.contains("alice-sip-101"), "SIP password shown");
    assert!(agents.json[0]["sip_password"].is_null());
    let tools = call(&app, Method::GET, "/api/tools", Some(admin), None).await;
    assert!(!tools.text.contains("top-secret"), "secret header shown");
    // Updating without the secret keeps it.
    let id = f.ids["/api/agents"];
    let mut body = f.bodies["/api/agents"].clone();
    body["display_name"] = json!("Alice N.");
    let r = call(&app, Method::PUT, &format!("/api/agents/{id}"), Some(admin), Some(&body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let stored = cfg::get::<Agent>(&db, f.account_id, id).await.unwrap();
    assert_eq!(stored.spec.display_name, "Alice N.");
    assert_eq!(stored.spec.sip_password.as_deref(), Some("alice-sip-101"));

    // Agents see their own calls only.
    let other = calls::create(
        &db,
        f.account_id,
        &calls::NewCall {
            direction: "inbound".into(),
            from_number: "+12025550111".into(),
            to_number: "+15555550100".into(),
            customer_id: None,
            agent_extension: Some("102".into()),
            ai_agent: None,
        },
    )
    .await
    .unwrap();
    let agent = &f.cookies[&Role::Agent];
    let mine = call(&app, Method::GET, "/api/calls", Some(agent), None).await;
    let ids: Vec<i64> = mine.json.as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, vec![f.ids["/api/calls"]]);
    assert_eq!(
        call(&app, Method::GET, &format!("/api/calls/{other}"), Some(agent), None).await.status,
        StatusCode::NOT_FOUND
    );
    let detail =
        call(&app, Method::GET, &format!("/api/calls/{}", f.ids["/api/calls"]), Some(agent), None).await;
    assert_eq!(detail.json["timeline"][0]["kind"], "answered");
    let all = call(&app, Method::GET, "/api/calls", Some(&f.cookies[&Role::Supervisor]), None).await;
    assert_eq!(all.json.as_array().unwrap().len(), 2);
    // Presence.
    let r =
        call(&app, Method::PUT, "/api/me/status", Some(agent), Some(&json!({"status": "on_break"}))).await;
    assert_eq!(r.json["extension"], "101");
    let p = call(&app, Method::GET, "/api/presence", Some(&f.cookies[&Role::Supervisor]), None).await;
    assert_eq!(p.json[0]["status"], "on_break");
}

#[tokio::test]
async fn secrets_are_write_only_and_agents_see_their_own_calls() {
    on_each_db(secrets_and_scope).await;
}

#[tokio::test]
async fn health_metrics_and_openapi() {
    on_each_db(|db: Db| async move {
        let app = crate::common::app(&db);
        let h = call(&app, Method::GET, "/healthz", None, None).await;
        assert_eq!(h.status, StatusCode::OK);
        let _ = call(&app, Method::GET, "/api/queues", None, None).await;
        let m = call(&app, Method::GET, "/metrics", None, None).await;
        assert!(
            m.text.contains(
                "switchboard_http_requests_total{method=\"GET\",route=\"/api/queues\",status=\"401\"} 1"
            ),
            "{}",
            m.text
        );
        let doc = call(&app, Method::GET, "/api/openapi.json", None, None).await;
        assert_eq!(doc.json["openapi"], "3.0.3");
        for e in switchboard::api::endpoints() {
            let op = &doc.json["paths"][&e.path][e.method.as_str().to_lowercase()];
            assert!(op.is_object(), "{} {} missing from OpenAPI", e.method, e.path);
        }
        let schemas = doc.json["components"]["schemas"].as_object().unwrap();
        assert!(schemas.contains_key("Queue") && schemas.contains_key("ErrorBody"));
        // Every $ref resolves.
        let text = doc.json.to_string();
        for part in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = &part[..part.find('"').unwrap()];
            assert!(schemas.contains_key(name), "dangling $ref {name}");
        }
        let ui = call(&app, Method::GET, "/", None, None).await;
        assert!(ui.text.contains("<title>Switchboard</title>"));
    })
    .await;
}

#[tokio::test]
async fn audio_files_are_checked_stored_and_served() {
    on_each_db(|db: Db| async move {
        let f = fixture(&db, "acme", "+1555").await;
        let app = crate::common::app(&db);
        let admin = &f.cookies[&Role::Admin];
        let path = format!("/api/audio/{}/file", f.ids["/api/audio"]);
        // Nothing uploaded yet: the entry's text, spoken as callers hear it.
        let r = call(&app, Method::GET, &path, Some(admin), None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.headers["content-type"], "audio/wav");
        let r = crate::common::call_bytes(
            &app,
            Method::PUT,
            &path,
            Some(admin),
            "audio/wav",
            b"MP3 pretending".to_vec(),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.json["problems"][0]["path"], "file");
        assert!(r.json["error"].as_str().unwrap().contains("RIFF"), "{}", r.text);
        let wav = crate::common::tone_wav(1500);
        let r = crate::common::call_bytes(
            &app,
            Method::PUT,
            &path,
            Some(admin),
            "audio/wav",
            wav[..wav.len() - 1000].to_vec(),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "a truncated data chunk is still usable: {}", r.text);
        let r =
            crate::common::call_bytes(&app, Method::PUT, &path, Some(admin), "audio/wav", wav.clone()).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.json["duration_ms"], 1500);
        assert_eq!(r.json["sample_rate"], 8000);
        let back = call(&app, Method::GET, &path, Some(&f.cookies[&Role::Supervisor]), None).await;
        assert_eq!(back.status, StatusCode::OK);
        assert_eq!(back.headers[header::CONTENT_TYPE], "audio/wav");
        assert_eq!(back.text.len(), String::from_utf8_lossy(&wav).len());
        let entry =
            call(&app, Method::GET, &format!("/api/audio/{}", f.ids["/api/audio"]), Some(admin), None).await;
        assert_eq!(entry.json["file"], "closed.wav");
    })
    .await;
}

/// The call-record writer creates records (customer matched by caller number), applies events,
/// answers and ends in order, in batches, on both databases.
async fn record_writer(db: Db) {
    let f = fixture(&db, "rw", "+1555").await;
    let writer = calls::RecordWriter::start(db.clone());
    let new = |from: &str| calls::NewCall {
        direction: "inbound".into(),
        from_number: from.into(),
        to_number: "+15555550100".into(),
        customer_id: None,
        agent_extension: Some("101".into()),
        ai_agent: None,
    };
    // A burst: two calls created, updated and ended in one go (likely one batch)...
    let known = writer.create(f.account_id, new("+12025550999"), Some("+12025550999".into()));
    let stranger = writer.create(f.account_id, new("+12025550000"), Some("+12025550000".into()));
    // Two agents rung for it: the first does not answer, the second does and takes the call.
    let first = writer.leg(known, "agent", "101");
    writer.event(known, "ringing", json!({}));
    writer.leg_ended(first, "no_answer");
    let second = writer.leg(known, "agent", "102");
    writer.answered(known);
    writer.leg_answered(second);
    writer.answered_by(known, "102");
    writer.event(known, "answered", json!({"contact": "x"}));
    writer.event(stranger, "refused", json!({"status": 404}));
    writer.finish(
        stranger,
        calls::Ending { disposition: calls::Disposition::Failed, hung_up_by: None, carrier: None },
    );
    // ...and one updated later, after its record is in the database.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    for i in 0..250 {
        writer.event(known, "dtmf", json!({ "digit": (i % 10).to_string() }));
    }
    writer.finish(
        known,
        calls::Ending {
            disposition: calls::Disposition::Answered,
            hung_up_by: Some(calls::HungUpBy::Caller),
            carrier: None,
        },
    );
    // Once flushed, everything queued before is in the database (shutdown relies on this).
    tokio::time::timeout(std::time::Duration::from_secs(10), writer.flush()).await.unwrap();
    let list: Vec<calls::CallRecord> = calls::list(&db, f.account_id, &calls::CallQuery::default(), None)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.record)
        .collect();
    let find = |from: &str| list.iter().find(|c| c.from_number == from && c.ended_at.is_some()).cloned();
    let (Some(a), Some(b)) = (find("+12025550999"), find("+12025550000")) else {
        panic!("records not written by the flush: {list:?}")
    };
    assert_eq!(a.customer_id, Some(f.customer_id), "matched by caller number");
    assert_eq!(b.customer_id, None);
    assert!(a.answered_at.is_some() && b.answered_at.is_none());
    assert_eq!(a.disposition, Some(calls::Disposition::Answered));
    assert_eq!(a.hung_up_by, Some(calls::HungUpBy::Caller));
    assert_eq!(b.disposition, Some(calls::Disposition::Failed));
    assert_eq!(a.agent_extension.as_deref(), Some("102"), "the agent who answered has the call");
    let detail = calls::get(&db, f.account_id, a.id, None).await.unwrap();
    let legs: Vec<(&str, &str, bool, bool, Option<&str>)> = detail
        .legs
        .iter()
        .map(|l| {
            (
                l.kind.as_str(),
                l.endpoint.as_str(),
                l.answered_at.is_some(),
                l.ended_at.is_some(),
                l.outcome.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        legs,
        [
            ("caller", "+12025550999", true, true, Some("answered")),
            ("agent", "101", false, true, Some("no_answer")),
            ("agent", "102", true, true, Some("answered")),
        ],
        "every party of the call, with what became of them"
    );
    let stranger = calls::get(&db, f.account_id, b.id, None).await.unwrap();
    assert_eq!(stranger.legs.len(), 1);
    assert_eq!(stranger.legs[0].outcome.as_deref(), Some("failed"));
    let kinds: Vec<&str> = detail.timeline.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds.len(), 252, "{kinds:?}");
    assert_eq!(&kinds[..2], ["ringing", "answered"]);
    let digits: String = detail.timeline[2..].iter().map(|e| e.data["digit"].as_str().unwrap()).collect();
    assert_eq!(&digits[..12], "012345678901", "events keep their order");
}

#[tokio::test]
async fn call_records_are_written_in_batches_off_the_routing_path() {
    on_each_db(record_writer).await;
}

/// The built-in commerce tools read the real store, one account at a time.
async fn commerce_tools(db: Db) {
    use std::sync::Arc;
    use switchboard_tools::{call, CallContext};
    let a = fixture(&db, "toolsa", "+1555").await;
    let b = fixture(&db, "toolsb", "+1556").await;
    let tools = switchboard_tools::commerce::tools(Arc::new(switchboard::agenttools::DbStore(db.clone())));
    let tool = |name: &str| tools.iter().find(|t| t.spec().name == name).unwrap().clone();
    let caller = CallContext {
        account: a.account_id,
        caller_number: Some("+12025550999".into()),
        customer_id: Some(a.customer_id),
    };
    let recent = call(tool("lookup_order").as_ref(), json!({}), &caller).await.outcome.unwrap();
    assert_eq!(recent["orders"][0]["number"], "9001", "{recent}");
    let order =
        call(tool("lookup_order").as_ref(), json!({"order_number": "9001"}), &caller).await.outcome.unwrap();
    assert_eq!(
        (order["order"]["status"].as_str(), order["order"]["carrier"].as_str()),
        (Some("shipped"), Some("UPS"))
    );
    let tickets = call(tool("open_tickets").as_ref(), json!({}), &caller).await.outcome.unwrap();
    assert_eq!(tickets["tickets"][0]["subject"], "Broken zip");
    let balance = call(tool("account_balance").as_ref(), json!({}), &caller).await.outcome.unwrap();
    assert!(balance["balance_cents"].is_i64(), "{balance}");
    // The same phone number exists in both accounts: each account sees only its own customer.
    let found = call(tool("lookup_customer").as_ref(), json!({"phone": "+12025550999"}), &caller)
        .await
        .outcome
        .unwrap();
    assert_eq!(found["customers"].as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found["customers"][0]["id"], a.customer_id);
    assert_ne!(a.customer_id, b.customer_id);
    // What an LLM agent is told about this caller before the first turn.
    let store = switchboard::agenttools::DbStore(db.clone());
    let facts = switchboard::prompt::caller_facts(
        &store,
        a.account_id,
        caller.caller_number.clone(),
        caller.customer_id,
    )
    .await;
    assert_eq!(facts.customer.as_ref().unwrap()["name"], "Pat Doe");
    assert_eq!(facts.recent_orders[0]["number"], "9001");
    assert_eq!(facts.open_tickets.len(), 1);
    // A customer id from another account is not found.
    let other = CallContext { customer_id: Some(b.customer_id), ..caller.clone() };
    let r = call(tool("account_balance").as_ref(), json!({}), &other).await;
    assert_eq!(r.for_model()["error"], "failed", "{:?}", r.outcome);
}

#[tokio::test]
async fn built_in_commerce_tools_read_the_account_s_store() {
    on_each_db(commerce_tools).await;
}
