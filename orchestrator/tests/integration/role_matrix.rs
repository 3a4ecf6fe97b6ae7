//! Every endpoint × every role × own/other account: allowed, denied (403), unauthenticated
//! (401), and another account's data never visible (404 / absent from lists).

use crate::common::{call, call_bytes, on_each_db, tone_wav};
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use switchboard::api::{endpoints, Access, Endpoint};
use switchboard::configfile::{self, ConfigFile};
use switchboard::db::Db;
use switchboard::model::*;
use switchboard::store::{calls, config as cfg, users};

const PASSWORD: &str = "correct-horse-battery";

pub struct Fixture {
    pub account_id: i64,
    pub cookies: HashMap<Role, String>,
    pub emails: HashMap<Role, String>,
    /// Collection path → id of an existing item.
    pub ids: HashMap<String, i64>,
    /// Collection path → a body that PUT accepts for that item.
    pub bodies: HashMap<String, Value>,
    pub customer_id: i64,
}

fn with_tool(mut f: ConfigFile) -> ConfigFile {
    f.tools.push(ToolDefinition {
        name: "loyalty_points".into(),
        description: "Look up loyalty points".into(),
        parameters: json!({"type": "object", "properties": {"email": {"type": "string"}}}),
        implementation: ToolImplementation::Webhook {
            url: "https://loyalty.example/points".into(),
            method: HttpMethod::Post,
            headers: Default::default(),
            secret_headers: [("Authorization".to_string(), Some("Bearer top-secret".to_string()))].into(),
            timeout_ms: 2000,
            retries: 1,
            result_pointer: None,
        },
        requires_approval: false,
        cancel_on_interruption: true,
    });
    // An AI agent with an LLM, for "try it" chats (a session starts without reaching the LLM).
    let mut helper = f.ai_agents[0].clone();
    helper.name = "llm-helper".into();
    helper.llm = Some(LlmConfig {
        base_url: "https://llm.example/v1".into(),
        model: "helper".into(),
        api_key: None,
        temperature: 0.2,
        input_usd_per_million_tokens: 0.0,
        output_usd_per_million_tokens: 0.0,
        first_token_timeout_ms: 1_200,
        stall_timeout_ms: 4_000,
    });
    f.ai_agents.push(helper);
    f.payment_gateways.push(PaymentGateway {
        name: "stripe".into(),
        api_url: "https://api.stripe.example".into(),
        secret_key: Some("sk_test_secret".into()),
        currency: "usd".into(),
        postal_code: false,
    });
    f
}

/// An account made from the demo configuration, with a user of every role and one record of
/// every kind. `prefix` keeps DIDs and e-mails distinct between accounts.
pub async fn fixture(db: &Db, slug: &str, did_prefix: &str) -> Fixture {
    let mut file = with_tool(switchboard::demo::config());
    file.account = slug.to_string();
    for n in &mut file.phone_numbers {
        n.number = format!("{did_prefix}{}", &n.number[did_prefix.len()..]);
    }
    configfile::import(db, file, false).await.unwrap();
    let account_id = switchboard::store::accounts::by_slug(db, slug).await.unwrap().unwrap().id;
    let mut cookies = HashMap::new();
    let mut emails = HashMap::new();
    for (role, ext) in
        [(Role::Agent, "101"), (Role::Supervisor, "102"), (Role::Admin, "101"), (Role::Owner, "102")]
    {
        let email = format!("{}@{slug}.example", role.as_str());
        let u = users::create(
            db,
            account_id,
            &users::UserInput {
                email: email.clone(),
                name: format!("{} {}", slug, role.as_str()),
                role,
                password: Some(PASSWORD.into()),
                agent_extension: Some(ext.into()),
                disabled: false,
            },
        )
        .await
        .unwrap();
        let token = users::create_session(db, u.id).await.unwrap();
        cookies.insert(role, format!("sb_session={token}"));
        emails.insert(role, email);
    }
    let mut ids = HashMap::new();
    let mut bodies = HashMap::new();
    macro_rules! m {
        ($t:ty) => {
            let first = cfg::list::<$t>(db, account_id).await.unwrap().remove(0);
            let mut spec = first.spec.clone();
            spec.redact();
            ids.insert(format!("/api/{}", <$t>::KIND), first.id);
            bodies.insert(format!("/api/{}", <$t>::KIND), serde_json::to_value(&spec).unwrap());
        };
    }
    switchboard::for_each_config_kind!(m);

    let target_user = json!({"email": format!("target@{slug}.example"), "name": "Target", "role": "agent"});
    let mut create = target_user.clone();
    create["password"] = json!(PASSWORD);
    let u = users::create(db, account_id, &serde_json::from_value(create).unwrap()).await.unwrap();
    ids.insert("/api/users".into(), u.id);
    bodies.insert("/api/users".into(), target_user);

    let t = users::create_token(
        db,
        account_id,
        &users::TokenInput { name: "ci".into(), role: Role::Agent },
        None,
    )
    .await
    .unwrap();
    ids.insert("/api/tokens".into(), t.info.id);

    use switchboard::store::commerce as c;
    let customer = json!({"name": "Pat Doe", "phones": [{"number": "+12025550999", "label": "home"}], "emails": ["pat@doe.example"]});
    let cu =
        c::create_customer(db, account_id, &serde_json::from_value(customer.clone()).unwrap()).await.unwrap();
    ids.insert("/api/customers".into(), cu.id);
    bodies.insert("/api/customers".into(), customer);
    let order = json!({"customer_id": cu.id, "number": "9001", "status": "shipped", "items": [{"sku": "A", "name": "Thing", "quantity": 2, "unit_price_cents": 500}], "carrier": "UPS", "tracking_number": "1Z1"});
    let o = c::create_order(db, account_id, &serde_json::from_value(order.clone()).unwrap()).await.unwrap();
    ids.insert("/api/orders".into(), o.id);
    bodies.insert("/api/orders".into(), order);
    let ticket = json!({"customer_id": cu.id, "subject": "Broken zip", "status": "open", "priority": "high"});
    let tk =
        c::create_ticket(db, account_id, &serde_json::from_value(ticket.clone()).unwrap()).await.unwrap();
    ids.insert("/api/tickets".into(), tk.id);
    bodies.insert("/api/tickets".into(), ticket);

    let call_id = calls::create(
        db,
        account_id,
        &calls::NewCall {
            direction: "inbound".into(),
            from_number: "+12025550999".into(),
            to_number: "+15555550100".into(),
            customer_id: Some(cu.id),
            agent_extension: Some("101".into()),
            ai_agent: None,
        },
    )
    .await
    .unwrap();
    calls::add_event(db, call_id, "answered", &json!({"by": "101"})).await.unwrap();
    ids.insert("/api/calls".into(), call_id);
    // Override requests live in memory: the fixture's is one that does not exist (404).
    ids.insert("/api/overrides".into(), 999_999);
    ids.insert("/api/agent-chats".into(), 999_999);

    Fixture { account_id, cookies, emails, ids, bodies, customer_id: cu.id }
}

static FRESH: AtomicU32 = AtomicU32::new(0);

/// A body that creates a new, unreferenced item in `collection`.
pub fn fresh_body(f: &Fixture, collection: &str) -> Value {
    let n = FRESH.fetch_add(1, Ordering::Relaxed);
    match collection {
        "/api/users" => {
            json!({"email": format!("fresh{n}@x.example"), "name": "Fresh", "role": "agent", "password": PASSWORD})
        }
        "/api/tokens" => json!({"name": format!("token {n}"), "role": "agent"}),
        "/api/agent-chats" => json!({"agent": "llm-helper", "caller": "+12025550100"}),
        "/api/customers" => {
            json!({"name": "Fresh Customer", "phones": [{"number": format!("+1999777{n:04}")}]})
        }
        "/api/orders" => json!({"customer_id": f.customer_id, "number": format!("F{n}"), "status": "paid",
                                "items": [{"sku": "X", "name": "X", "quantity": 1, "unit_price_cents": 100}]}),
        "/api/tickets" => {
            json!({"customer_id": f.customer_id, "subject": "Fresh", "status": "open", "priority": "low"})
        }
        _ => {
            let kind = collection.trim_start_matches("/api/");
            let mut spec = f.bodies[collection].clone();
            let (field, key) = match kind {
                "agents" => ("extension", format!("9{n:04}")),
                "phone_numbers" => ("number", format!("+1999555{n:04}")),
                _ => ("name", format!("fresh-{n}")),
            };
            spec[field] = json!(key);
            match kind {
                "agents" => spec["sip_password"] = json!("fresh-sip-password"),
                "tools" => spec["implementation"]["secret_headers"]["Authorization"] = json!("Bearer fresh"),
                _ => {}
            }
            spec
        }
    }
}

fn collection_of(path: &str) -> String {
    path.split("/{id}").next().unwrap_or(path).to_string()
}

const AUDIO_FILE: &str = "/api/audio/{id}/file";

/// Sends a request; the audio upload endpoint takes a WAV file instead of JSON.
async fn send(
    app: &axum::Router,
    method: Method,
    template: &str,
    path: &str,
    auth: Option<&str>,
    body: Option<&Value>,
) -> crate::common::Resp {
    if template == AUDIO_FILE && method == Method::PUT {
        return call_bytes(app, method, path, auth, "audio/wav", tone_wav(200)).await;
    }
    call(app, method, path, auth, body).await
}

/// The concrete path and body for calling `e` as the owner/role of `f`.
/// A voicemail message in `f`'s account, with its recording under `data_dir`.
async fn voicemail_message(db: &Db, f: &Fixture, data_dir: &std::path::Path) -> i64 {
    let n = FRESH.fetch_add(1, Ordering::Relaxed);
    let path = format!("voicemail/{}/support/{n}.wav", f.account_id);
    std::fs::create_dir_all(data_dir.join(format!("voicemail/{}/support", f.account_id))).unwrap();
    std::fs::write(data_dir.join(&path), tone_wav(300)).unwrap();
    switchboard::store::voicemail::insert(db, f.account_id, "support", None, "+12025550100", &path, 300)
        .await
        .unwrap()
}

/// A recording of the agent's call in `f`'s account, with its file under `data_dir`.
async fn call_recording(db: &Db, f: &Fixture, data_dir: &std::path::Path) -> i64 {
    let call = f.ids["/api/calls"];
    let path = format!("recordings/{}/{call}-1.wav", f.account_id);
    std::fs::create_dir_all(data_dir.join(format!("recordings/{}", f.account_id))).unwrap();
    std::fs::write(data_dir.join(&path), tone_wav(300)).unwrap();
    let id =
        switchboard::store::recordings::create(db, f.account_id, call, &path, "automatic").await.unwrap();
    switchboard::store::recordings::update(db, id, 300, &[], true).await.unwrap();
    id
}

async fn request_for(
    app: &axum::Router,
    db: &Db,
    data_dir: &std::path::Path,
    f: &Fixture,
    e: &Endpoint,
) -> (String, Option<Value>) {
    let collection = collection_of(&e.path);
    let body = match (e.method.clone(), e.path.as_str()) {
        (Method::POST, "/api/auth/login") => {
            Some(json!({"email": f.emails[&Role::Agent], "password": PASSWORD}))
        }
        (Method::POST, "/api/auth/logout" | "/api/me/ready" | "/api/me/softphone") => None,
        (Method::POST, "/api/me/customers/link") => Some(json!({"number": "+12025550100", "customer_id": 1})),
        (Method::PUT, "/api/me/status") => Some(json!({"status": "available"})),
        (Method::PUT, "/api/calls/{id}/wrap-up") => {
            Some(json!({"outcome": "Resolved", "notes": "Refund sent"}))
        }
        (Method::POST, "/api/calls/{id}/recording") => Some(json!({"action": "start"})),
        (Method::POST, "/api/calls/{id}/payment") => Some(json!({"amount_minor": 2500, "currency": "usd"})),
        (Method::POST, "/api/calls/{id}/payment/restart") => Some(json!({"step": "expiry"})),
        (Method::POST, "/api/overrides") => Some(json!({"destination": "+442079460000", "reason": "abroad"})),
        (Method::POST, "/api/overrides/{id}/decision") => Some(json!({"approve": true})),
        (Method::POST, "/api/queues-live/pick") => Some(json!({"caller": 1})),
        (Method::PUT, "/api/presence/{extension}") => Some(json!({"status": "available"})),
        (Method::POST, "/api/calls/{id}/transfer") => {
            Some(json!({"target": {"type": "queue", "name": "support"}}))
        }
        (Method::POST, "/api/calls/{id}/transfer/complete") => Some(json!({"consult": f.ids["/api/calls"]})),
        (Method::POST, "/api/calls/{id}/conference") => Some(json!({"add": f.ids["/api/calls"]})),
        (Method::PATCH, "/api/calls/{id}/conference/parties/{party}") => Some(json!({"muted": true})),
        (_, "/api/calls/{id}/supervise") => Some(json!({"mode": "whisper"})),
        (Method::POST, "/api/conversations" | "/api/hooks/conversations/{account}") => {
            Some(conversation_body())
        }
        (Method::POST, "/api/account/conversation-webhook/rotate") => None,
        (Method::POST, p) if p.starts_with("/api/live/") => Some(live_body(p)),
        (Method::PUT, "/api/voicemail/{id}") => Some(json!({"heard": true})),
        (Method::POST, "/api/schedules/preview") => Some(json!({"schedule": f.bodies["/api/schedules"]})),
        (Method::POST, "/api/agent-chats/{id}") => Some(json!({"text": "Where is my order?"})),
        (Method::POST, "/api/calls/{id}/replay") => Some(json!({})),
        (Method::PUT, "/api/account") => {
            Some(serde_json::to_value(switchboard::demo::config().settings).unwrap())
        }
        (Method::POST, _) => Some(fresh_body(f, &collection)),
        (Method::PUT, _) => Some(f.bodies[&collection].clone()),
        _ => None,
    };
    let path = if e.path == "/api/me/customers/search" {
        format!("{}?q=ma", e.path)
    } else if e.path.contains("{extension}") {
        e.path.replace("{extension}", "101")
    } else if !e.path.contains("{id}") {
        e.path.clone()
    } else if e.path.contains("{account}") {
        e.path.replace("{account}", "no-such-account")
    } else if e.path.contains("{party}") {
        // A conference party of the fixture's call (which has ended: the handler says so).
        e.path.replace("{id}", &f.ids["/api/calls"].to_string()).replace("{party}", "1")
    } else if e.method == Method::DELETE && e.path == "/api/calls/{id}/payment" {
        // Cancelling a payment: on the fixture's call (which has ended: the handler says so).
        e.path.replace("{id}", &f.ids["/api/calls"].to_string())
    } else if e.method == Method::DELETE && collection == "/api/voicemail" {
        e.path.replace("{id}", &voicemail_message(db, f, data_dir).await.to_string())
    } else if e.method == Method::DELETE {
        // Deleting needs an item of its own, created by the owner.
        let created = call(
            app,
            Method::POST,
            &collection,
            Some(&f.cookies[&Role::Owner]),
            Some(&fresh_body(f, &collection)),
        )
        .await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "creating a victim for DELETE {}: {}",
            e.path,
            created.text
        );
        e.path.replace("{id}", &created.json["id"].to_string())
    } else {
        e.path.replace("{id}", &f.ids[&collection].to_string())
    };
    (path, body)
}

fn tempfile_dir() -> std::path::PathBuf {
    let n = FRESH.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("switchboard-matrix-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A conversation from another channel, with a message id of its own.
pub fn conversation_body() -> Value {
    let n = FRESH.fetch_add(1, Ordering::Relaxed);
    json!({"message_id": format!("chat-{n}"), "channel": "chat", "direction": "inbound",
           "time": "2026-12-01T10:00:00Z", "text": "Hello", "participants": [{"address": "+12025550999"}]})
}

/// Bodies for the live view's actions.
pub fn live_body(path: &str) -> Value {
    if path.ends_with("/takeover") || path.ends_with("/listen") {
        json!({"extension": "101"})
    } else {
        json!({"kind": "advice", "text": "Offer express shipping"})
    }
}

fn success(e: &Endpoint) -> StatusCode {
    match (e.method.clone(), e.path.as_str()) {
        (Method::POST, p) if p.starts_with("/api/live/") => StatusCode::ACCEPTED,
        // Without a WebSocket handshake the upgrade is refused, after the access check passed.
        (Method::GET, "/api/live/feed") => StatusCode::BAD_REQUEST,
        (Method::POST, "/api/auth/login") => StatusCode::OK,
        (Method::POST, "/api/auth/logout") => StatusCode::NO_CONTENT,
        // Allowed, but the agent is not wrapping up a call.
        (Method::POST, "/api/me/ready") => StatusCode::CONFLICT,
        // Allowed, but the call has ended: nothing to record.
        (Method::POST, "/api/calls/{id}/recording") => StatusCode::CONFLICT,
        // Allowed, but the call has ended: nobody to transfer.
        (Method::POST, "/api/calls/{id}/transfer") => StatusCode::CONFLICT,
        // Public, but unsigned: refused (the signature is the credential).
        (Method::POST, "/api/hooks/conversations/{account}") => StatusCode::UNAUTHORIZED,
        (Method::POST, "/api/account/conversation-webhook/rotate") => StatusCode::OK,
        // Allowed, but the call has ended: nothing to join, confer, supervise or take a payment on.
        (_, p)
            if p == "/api/calls/{id}/transfer/complete"
                || p.starts_with("/api/calls/{id}/conference")
                || p == "/api/calls/{id}/supervise"
                || (p.starts_with("/api/calls/{id}/payment") && e.method != Method::GET) =>
        {
            StatusCode::CONFLICT
        }
        // Allowed, but no call of the fixture is coached (coaching lives with the call).
        (Method::GET, "/api/calls/{id}/coaching") => StatusCode::NO_CONTENT,
        // Allowed, but nobody is waiting in a queue.
        (Method::POST, "/api/queues-live/pick") => StatusCode::CONFLICT,
        // Allowed, but there is no such request (they live in memory; see the fixture).
        (Method::POST, "/api/overrides/{id}/decision") => StatusCode::NOT_FOUND,
        // Allowed, but no such chat (they live in memory; see the fixture).
        (Method::POST, "/api/agent-chats/{id}") => StatusCode::NOT_FOUND,
        // Allowed, but the fixture's call was not an AI agent's: nothing to replay.
        (Method::POST, "/api/calls/{id}/replay") => StatusCode::UNPROCESSABLE_ENTITY,
        // A preview is not a creation.
        (Method::POST, "/api/schedules/preview") => StatusCode::OK,
        // Allowed, but the user is on no call: no caller to look up or link.
        (_, "/api/me/customers/search" | "/api/me/customers/link") => StatusCode::CONFLICT,
        (Method::POST, _) => StatusCode::CREATED,
        (Method::DELETE, _) => StatusCode::NO_CONTENT,
        _ => StatusCode::OK,
    }
}

/// The role policy, written down independently of the API's declarations: the matrix then
/// proves the server enforces exactly this.
fn expected_access(method: &Method, path: &str) -> Access {
    use Role::*;
    let read = *method == Method::GET;
    Access::AtLeast(match path {
        "/api/auth/login" | "/api/auth/logout" => return Access::Public,
        "/api/me" | "/api/me/status" | "/api/me/ready" | "/api/me/softphone" | "/api/calls"
        | "/api/calls/{id}" => Agent,
        // Notes and outcome after a call (agents: on their own calls, checked by the handler).
        "/api/calls/{id}/wrap-up" => Agent,
        // Recording a call and its recordings (agents: calls they handle, checked by the handler).
        "/api/calls/{id}/recording" | "/api/recordings/{id}/audio" => Agent,
        // Card payments by keypad on a live call (agents: calls they are on, checked by the
        // handler); the payments taken, for order entry, are supervisors' (read by default).
        p if p.starts_with("/api/calls/{id}/payment") => Agent,
        // Live coaching: the agent on the call only (checked by the handler).
        "/api/calls/{id}/coaching" => Agent,
        // Transferring a live call (agents: calls they are on, checked by the handler).
        "/api/calls/{id}/transfer" | "/api/me/transfer-targets" => Agent,
        // Conversations from other channels: posted by the merchant's systems (a signed webhook,
        // or an admin's token); the customer's timeline for agents who handled their calls.
        "/api/hooks/conversations/{account}" => return Access::Public,
        "/api/customers/{id}/timeline" => Agent,
        p if p.starts_with("/api/account/conversation-webhook") => Admin,
        // Warm transfers and conferences (agents: their own two calls, checked by the handler).
        p if p == "/api/calls/{id}/transfer/complete" || p.starts_with("/api/calls/{id}/conference") => Agent,
        // The live queue dashboard and what supervisors do from it.
        p if p.starts_with("/api/queues-live") => Supervisor,
        "/api/presence/{extension}" => Supervisor,
        // Class-of-service overrides: agents ask (and see their own), supervisors decide.
        "/api/overrides" => Agent,
        "/api/overrides/{id}/decision" => Supervisor,
        // Listening to, whispering in or barging into a human call.
        "/api/calls/{id}/supervise" => Supervisor,
        // The customer of the agent's own call (checked by the handler: 409 when on none).
        p if p.starts_with("/api/me/customers") => Agent,
        "/api/account" if read => Agent,
        "/api/account" => Owner,
        p if p.starts_with("/api/users") || p.starts_with("/api/tokens") => Owner,
        "/api/presence" => Supervisor,
        // Voicemail: agents play, mark and delete their own box's and their queues' messages
        // (checked by the handlers; the fixture's message is in a queue's box of the agent's).
        p if p == "/api/voicemail" || p.starts_with("/api/voicemail/") => Agent,
        // Live AI calls: watching, guiding and taking over are supervisors' work.
        p if p.starts_with("/api/live/") => Supervisor,
        // Configuration and store data: supervisors read, admins change.
        _ if read => Supervisor,
        _ => Admin,
    })
}

#[test]
fn declared_access_matches_the_role_policy() {
    for e in endpoints() {
        assert_eq!(e.access, expected_access(&e.method, &e.path), "{} {}", e.method, e.path);
    }
}

async fn matrix(db: Db) {
    let mut a = fixture(&db, "acme", "+1555").await;
    let mut b = fixture(&db, "globex", "+1666").await;
    // A live AI call in each account, for the live view's endpoints.
    let live = switchboard::live::Live::new();
    let mut engagements = Vec::new();
    for f in [&mut a, &mut b] {
        let (call, inbox) = live.start(switchboard::live::Start {
            account: f.account_id,
            call_id: None,
            caller: None,
            customer: None,
            agent: "assistant".into(),
            brain: "llm".into(),
            record: None,
        });
        f.ids.insert("/api/live/calls".into(), call.id() as i64);
        engagements.push((call, inbox));
    }
    let data_dir = tempfile_dir();
    for f in [&mut a, &mut b] {
        let id = voicemail_message(&db, f, &data_dir).await;
        f.ids.insert("/api/voicemail".into(), id);
        let id = call_recording(&db, f, &data_dir).await;
        f.ids.insert("/api/recordings".into(), id);
    }
    let app = crate::common::app_in(&db, live, data_dir.clone());
    // Both accounts' first audio entries get a recording, so downloads have something to return.
    for f in [&a, &b] {
        let path = AUDIO_FILE.replace("{id}", &f.ids["/api/audio"].to_string());
        let r =
            call_bytes(&app, Method::PUT, &path, Some(&f.cookies[&Role::Admin]), "audio/wav", tone_wav(300))
                .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    let all = endpoints();
    assert!(all.len() > 70, "expected every kind to be routed, got {}", all.len());
    let mut checked = 0;
    for e in &all {
        for role in Role::ALL {
            let (path, body) = request_for(&app, &db, &data_dir, &a, e).await;
            // Logging out would end the fixture's session; it is public, so call it bare.
            let auth = (e.path != "/api/auth/logout").then(|| a.cookies[&role].as_str());
            let r = send(&app, e.method.clone(), &e.path, &path, auth, body.as_ref()).await;
            let allowed = match e.access {
                Access::Public => true,
                Access::AtLeast(min) => role >= min,
            };
            if allowed {
                assert_eq!(
                    r.status,
                    success(e),
                    "{} {} as {:?} should succeed: {}",
                    e.method,
                    path,
                    role,
                    r.text
                );
            } else {
                assert_eq!(
                    r.status,
                    StatusCode::FORBIDDEN,
                    "{} {} as {:?} should be denied: {}",
                    e.method,
                    path,
                    role,
                    r.text
                );
            }
            checked += 1;
        }
        if let Access::AtLeast(_) = e.access {
            let (path, body) = request_for(&app, &db, &data_dir, &a, e).await;
            let r = send(&app, e.method.clone(), &e.path, &path, None, body.as_ref()).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{} {} without credentials", e.method, path);
            let r =
                send(&app, e.method.clone(), &e.path, &path, Some("sb_session=forged"), body.as_ref()).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{} {} with a forged session", e.method, path);
        }
        // Another account's items: invisible even to the owner.
        let collection = collection_of(&e.path);
        if e.path.contains("{id}") {
            let other = b.ids[&collection];
            let body = match e.method {
                Method::PUT if collection == "/api/voicemail" => Some(json!({"heard": true})),
                Method::PUT if e.path.ends_with("/wrap-up") => Some(json!({"notes": "peek"})),
                Method::POST if e.path.ends_with("/recording") => Some(json!({"action": "start"})),
                Method::POST if e.path.ends_with("/transfer") => {
                    Some(json!({"target": {"type": "queue", "name": "support"}}))
                }
                Method::POST if e.path.ends_with("/transfer/complete") => Some(json!({"consult": other})),
                Method::POST if e.path.ends_with("/conference") => Some(json!({"add": other})),
                _ if e.path.ends_with("/supervise") => Some(json!({"mode": "listen"})),
                Method::POST if e.path.ends_with("/payment") => Some(json!({"amount_minor": 100})),
                Method::POST if e.path.ends_with("/decision") => Some(json!({"approve": false})),
                Method::POST if e.path.starts_with("/api/agent-chats/") => Some(json!({"text": "hi"})),
                Method::POST if e.path.ends_with("/replay") => Some(json!({})),
                Method::POST if e.path.ends_with("/payment/restart") => Some(json!({"step": "expiry"})),
                Method::PATCH => Some(json!({"held": true})),
                Method::PUT => Some(b.bodies[&collection].clone()),
                Method::POST if e.path.starts_with("/api/live/") => Some(live_body(&e.path)),
                _ => None,
            };
            let path = e.path.replace("{id}", &other.to_string()).replace("{party}", "1");
            let r = call(&app, e.method.clone(), &path, Some(&a.cookies[&Role::Owner]), body.as_ref()).await;
            assert_eq!(
                r.status,
                StatusCode::NOT_FOUND,
                "{} {path} reached another account: {}",
                e.method,
                r.text
            );
        } else if e.method == Method::GET && b.ids.contains_key(&collection) {
            let r = call(&app, Method::GET, &e.path, Some(&a.cookies[&Role::Owner]), None).await;
            let items =
                r.json.as_array().unwrap_or_else(|| panic!("GET {} is not a list: {}", e.path, r.text));
            assert!(!items.is_empty(), "GET {} lists nothing", e.path);
            let foreign: Vec<&Value> =
                items.iter().filter(|i| i["id"] == json!(b.ids[&collection])).collect();
            assert!(foreign.is_empty(), "GET {} shows another account's item", e.path);
        }
    }
    assert!(checked >= all.len() * 4);
    // B's data survived A's owner trying to change it.
    let r = call(
        &app,
        Method::GET,
        &format!("/api/orders/{}", b.ids["/api/orders"]),
        Some(&b.cookies[&Role::Agent]),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "agents do not read orders");
    let r = call(
        &app,
        Method::GET,
        &format!("/api/orders/{}", b.ids["/api/orders"]),
        Some(&b.cookies[&Role::Supervisor]),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json["number"], "9001");
}

#[tokio::test]
async fn every_endpoint_every_role_both_accounts() {
    on_each_db(matrix).await;
}
