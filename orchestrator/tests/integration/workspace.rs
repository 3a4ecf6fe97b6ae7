//! The agent workspace's customer view: an agent reads the customer of a call they are on (or
//! wrapping up), matches an unknown caller to a customer, and sees nothing of anyone else's.

use crate::common::{app_with_live, call, on_each_db};
use crate::role_matrix::fixture;
use axum::http::{Method, StatusCode};
use serde_json::json;
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
        live.agents().answered(f.account_id, "101", CallId(1), 30, Some(number.clone()));
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
        live.agents().answered(f.account_id, "101", CallId(2), 0, Some("+19995550123".into()));
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
