//! The agent workspace's customer view: an agent reads the customer of a call they are on (or
//! wrapping up), matches an unknown caller to a customer, and sees nothing of anyone else's.

use crate::common::{app_with_live, call, on_each_db};
use crate::role_matrix::fixture;
use axum::http::{Method, StatusCode};
use serde_json::json;
use switchboard::calls::activity::Line;
use switchboard::live::Live;
use switchboard::model::Role;
use switchboard_telephony::sip::b2bua::CallId;

#[tokio::test]
async fn agents_read_and_link_the_customer_of_their_own_call_only() {
    on_each_db(|db| async move {
        let f = fixture(&db, "acme", "+1555").await;
        let live = Live::new();
        let app = app_with_live(&db, live.clone());
        let (agent, supervisor) =
            (Some(f.cookies[&Role::Agent].as_str()), Some(f.cookies[&Role::Supervisor].as_str()));
        let customer =
            call(&app, Method::GET, &format!("/api/customers/{}", f.customer_id), supervisor, None).await;
        let number = customer.json["phones"][0]["number"].as_str().unwrap().to_string();

        // On no call: nothing to see, nobody to search for or link.
        let r = call(&app, Method::GET, "/api/me/customers", agent, None).await;
        assert_eq!((r.status, r.json.clone()), (StatusCode::OK, json!([])));
        let r = call(&app, Method::GET, "/api/me/customers/search?q=acme", agent, None).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
        // Agents read no customer directly.
        let r = call(&app, Method::GET, &format!("/api/customers/{}", f.customer_id), agent, None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);

        // The agent (101) answers the customer's call: the snapshot has orders and tickets.
        live.agents().answered(f.account_id, "101", Line::new(CallId(1), Some(number.clone()), None), 30);
        let r = call(&app, Method::GET, "/api/me/customers", agent, None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let snap = &r.json[0]["snapshot"];
        assert_eq!(r.json[0]["number"], number.as_str());
        assert_eq!(snap["customer"]["id"], f.customer_id, "{}", r.text);
        assert_eq!(snap["orders"][0]["number"], "9001");
        assert_eq!(snap["orders"][0]["items"][0]["name"], "Thing");
        assert_eq!(snap["open_tickets"][0]["subject"], "Broken zip");
        // Another user (102) is not on that call.
        let r = call(&app, Method::GET, "/api/me/customers", supervisor, None).await;
        assert_eq!(r.json, json!([]));

        // A second call from an unknown number: not matched; found by name and linked.
        let line = Line::new(CallId(2), Some("+19995550123".into()), None);
        live.agents().answered(f.account_id, "101", line, 0);
        let r = call(&app, Method::GET, "/api/me/customers", agent, None).await;
        assert!(r.json[1]["snapshot"].is_null(), "{}", r.text);
        let name = customer.json["name"].as_str().unwrap();
        let q: String = name.chars().take(3).collect();
        let r = call(&app, Method::GET, &format!("/api/me/customers/search?q={q}"), agent, None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert!(r.json.as_array().unwrap().iter().any(|c| c["id"] == f.customer_id), "{}", r.text);
        let r = call(&app, Method::GET, "/api/me/customers/search?q=a", agent, None).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        let link = json!({"number": "+19995550123", "customer_id": f.customer_id});
        let r = call(&app, Method::POST, "/api/me/customers/link", agent, Some(&link)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let r = call(&app, Method::GET, "/api/me/customers", agent, None).await;
        assert_eq!(r.json[1]["snapshot"]["customer"]["id"], f.customer_id, "{}", r.text);
        // Only the numbers of the agent's own calls can be linked.
        let other = json!({"number": "+19995550999", "customer_id": f.customer_id});
        let r = call(&app, Method::POST, "/api/me/customers/link", agent, Some(&other)).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);

        // Wrapping up the queue call: the last caller is still shown; once ready, nobody.
        live.agents().call_ended(CallId(2));
        live.agents().call_ended(CallId(1));
        let r = call(&app, Method::GET, "/api/me/customers", agent, None).await;
        assert_eq!(r.json.as_array().map(Vec::len), Some(1), "{}", r.text);
        let r = call(&app, Method::POST, "/api/me/ready", agent, None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let r = call(&app, Method::GET, "/api/me/customers", agent, None).await;
        assert_eq!(r.json, json!([]));
    })
    .await;
}

#[tokio::test]
async fn notes_and_an_outcome_are_saved_on_the_call_record() {
    on_each_db(|db| async move {
        let f = fixture(&db, "acme", "+1555").await;
        let app = app_with_live(&db, Live::new());
        let (agent, supervisor) =
            (Some(f.cookies[&Role::Agent].as_str()), Some(f.cookies[&Role::Supervisor].as_str()));
        let mine = f.ids["/api/calls"];
        let path = format!("/api/calls/{mine}/wrap-up");

        // The form: the account's codes (the defaults), nothing saved yet.
        let r = call(&app, Method::GET, &path, agent, None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.json["codes"][0], "Resolved", "{}", r.text);
        assert!(r.json["mine"].is_null());

        // The agent who took the call saves an outcome and notes; saving again replaces them.
        let body = json!({"outcome": "Follow-up needed", "notes": "Replacement zip to ship"});
        let r = call(&app, Method::PUT, &path, agent, Some(&body)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let body = json!({"outcome": "Resolved", "notes": "  Replacement zip shipped  "});
        let r = call(&app, Method::PUT, &path, agent, Some(&body)).await;
        assert_eq!(
            (r.json["outcome"].clone(), r.json["notes"].clone()),
            (json!("Resolved"), json!("Replacement zip shipped"))
        );
        let r = call(&app, Method::GET, &path, agent, None).await;
        assert_eq!(r.json["mine"]["notes"], "Replacement zip shipped", "{}", r.text);

        // Bad input is refused at the field it concerns.
        let r = call(&app, Method::PUT, &path, agent, Some(&json!({"outcome": "Sold a yacht"}))).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert!(r.text.contains("outcome") && r.text.contains("Resolved"), "{}", r.text);
        let r = call(&app, Method::PUT, &path, agent, Some(&json!({"notes": "   "}))).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        let long = json!({"notes": "x".repeat(5001)});
        let r = call(&app, Method::PUT, &path, agent, Some(&long)).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);

        // Another agent's call: invisible to this agent; a supervisor may add their own notes.
        let theirs = switchboard::store::calls::create(
            &db,
            f.account_id,
            &switchboard::store::calls::NewCall {
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
        let other = format!("/api/calls/{theirs}/wrap-up");
        let r = call(&app, Method::PUT, &other, agent, Some(&json!({"notes": "peek"}))).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
        let r =
            call(&app, Method::PUT, &path, supervisor, Some(&json!({"notes": "Coached on refunds"}))).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);

        // The record shows both, and its timeline each save with who saved it.
        let r = call(&app, Method::GET, &format!("/api/calls/{mine}"), agent, None).await;
        let wraps = r.json["wrap_ups"].as_array().unwrap();
        assert_eq!(wraps.len(), 2, "{}", r.text);
        assert_eq!(wraps[0]["outcome"], "Resolved");
        assert_eq!(wraps[0]["extension"], "101");
        assert_eq!(wraps[1]["notes"], "Coached on refunds");
        let saves = r.json["timeline"].as_array().unwrap().iter().filter(|e| e["kind"] == "wrap_up").count();
        assert_eq!(saves, 3, "{}", r.text);

        // An account whose codes were changed offers those.
        let mut settings = serde_json::to_value(switchboard::demo::config().settings).unwrap();
        settings["wrap_up_codes"] = json!(["Sale", "No sale"]);
        let owner = Some(f.cookies[&Role::Owner].as_str());
        let r = call(&app, Method::PUT, "/api/account", owner, Some(&settings)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let r = call(&app, Method::GET, &path, agent, None).await;
        assert_eq!(r.json["codes"], json!(["Sale", "No sale"]));
        settings["wrap_up_codes"] = json!(["Sale", "Sale", " x"]);
        let r = call(&app, Method::PUT, "/api/account", owner, Some(&settings)).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert!(r.text.contains("wrap_up_codes/1") && r.text.contains("wrap_up_codes/2"), "{}", r.text);
    })
    .await;
}

#[tokio::test]
async fn a_supervisor_without_an_extension_gets_a_personal_browser_line() {
    on_each_db(|db| async move {
        use switchboard::store::{softphone, users};
        let f = fixture(&db, "acme", "+1555").await;
        let app = app_with_live(&db, Live::new());
        let mut input = users::UserInput {
            email: "sam@acme.example".into(),
            name: "Sam".into(),
            role: Role::Supervisor,
            password: Some("a long enough password".into()),
            agent_extension: None,
            disabled: false,
        };
        let sam = users::create(&db, f.account_id, &input).await.unwrap();
        let cookie = format!("sb_session={}", users::create_session(&db, sam.id).await.unwrap());
        let r = call(&app, Method::POST, "/api/me/softphone", Some(&cookie), None).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let line = format!("user-{}", sam.id);
        assert_eq!(r.json["extension"], line.as_str());
        let registers = |creds: &[softphone::Credential]| creds.iter().any(|c| c.extension == line);
        assert!(registers(&softphone::valid(&db, 0).await.unwrap()));

        // Listening in needs that browser registered (nothing runs SIP here): a clear refusal.
        let r = call(&app, Method::POST, "/api/live/calls/1/listen", Some(&cookie), Some(&json!({}))).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert!(r.text.contains("browser phone is not connected"), "{}", r.text);

        // Made an agent (still without an extension): the line stops registering, none is issued.
        input.role = Role::Agent;
        users::update(&db, f.account_id, sam.id, &input).await.unwrap();
        assert!(!registers(&softphone::valid(&db, 0).await.unwrap()));
        // (Changing a user's role ends their sessions: they sign in again.)
        let cookie = format!("sb_session={}", users::create_session(&db, sam.id).await.unwrap());
        let r = call(&app, Method::POST, "/api/me/softphone", Some(&cookie), None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    })
    .await;
}
