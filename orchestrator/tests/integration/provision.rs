//! Desk-phone provisioning: an admin gives an agent a desk phone by MAC; the phone's file
//! (Yealink `.cfg`, Grandstream `.xml`) carries the agent's SIP account and is served only
//! with the phone's own credentials, or only to its allowed addresses; an unknown MAC is 404;
//! the provisioning password is write-only like the SIP password. Both databases.

use crate::common::{app, call, on_each_db, raw};
use crate::role_matrix::fixture;
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use base64::Engine as _;
use serde_json::json;
use switchboard::model::Role;

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

async fn fetch(app: &axum::Router, path: &str, auth: Option<&str>) -> crate::common::Resp {
    let mut req = Request::builder().method(Method::GET).uri(path);
    if let Some(a) = auth {
        req = req.header(header::AUTHORIZATION, a);
    }
    raw(app, req.body(Body::empty()).unwrap()).await
}

#[tokio::test]
async fn a_desk_phone_gets_its_agents_account_with_its_own_credentials_only() {
    on_each_db(|db| async move {
        let f = fixture(&db, "acme", "+1555").await;
        let app = app(&db);
        let admin = Some(f.cookies[&Role::Admin].as_str());
        let agent = json!({
            "extension": "130", "display_name": "Desk Dana", "sip_password": "dana-sip-130",
            "desk_phones": [
                {"mac": "00:15:65:AA:BB:CC", "vendor": "yealink", "provisioning_password": "provision-dana"},
                {"mac": "000b82112233", "vendor": "grandstream", "allowed_addresses": ["192.0.2.0/24"]}
            ]
        });
        let r = call(&app, Method::POST, "/api/agents", admin, Some(&agent)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        // Write-only, as the SIP password.
        assert!(!r.text.contains("provision-dana") && !r.text.contains("dana-sip-130"), "{}", r.text);

        let path = "/provision/001565aabbcc.cfg";
        let r = fetch(&app, path, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        let r = fetch(&app, path, Some(&basic("001565aabbcc", "wrong-password"))).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        let r = fetch(&app, path, Some(&basic("001565AABBCC", "provision-dana"))).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        for line in [
            "account.1.user_name = 130",
            "account.1.password = dana-sip-130",
            "account.1.display_name = Desk Dana",
        ] {
            assert!(r.text.contains(line), "{line} missing:\n{}", r.text);
        }
        // Unknown phones, and a known MAC asked for in the other format.
        assert_eq!(fetch(&app, "/provision/001565aabbcd.cfg", None).await.status, StatusCode::NOT_FOUND);
        assert_eq!(fetch(&app, "/provision/cfg001565aabbcc.xml", None).await.status, StatusCode::NOT_FOUND);
        assert_eq!(fetch(&app, "/provision/y000000000028.cfg", None).await.status, StatusCode::NOT_FOUND);
        // The Grandstream phone may only fetch from its network (this request has no address).
        assert_eq!(fetch(&app, "/provision/cfg000b82112233.xml", None).await.status, StatusCode::FORBIDDEN);

        // An update that leaves the passwords out keeps them.
        let mut update = agent.clone();
        update["sip_password"] = json!(null);
        update["desk_phones"][0]["provisioning_password"] = json!(null);
        update["display_name"] = json!("Dana D.");
        let list = call(&app, Method::GET, "/api/agents", admin, None).await;
        let id =
            list.json.as_array().unwrap().iter().find(|a| a["extension"] == "130").unwrap()["id"].clone();
        let r = call(&app, Method::PUT, &format!("/api/agents/{id}"), admin, Some(&update)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let r = fetch(&app, path, Some(&basic("001565aabbcc", "provision-dana"))).await;
        assert!(
            r.text.contains("account.1.display_name = Dana D.") && r.text.contains("dana-sip-130"),
            "{}",
            r.text
        );

        // A phone needs a password or addresses; a MAC must be one.
        let bad = json!({"extension": "131", "display_name": "X", "sip_password": "xxxxxxxx",
            "desk_phones": [{"mac": "00:15:65", "vendor": "yealink"}]});
        let r = call(&app, Method::POST, "/api/agents", admin, Some(&bad)).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert!(
            r.text.contains("desk_phones[0].mac") && r.text.contains("desk_phones[0].provisioning_password"),
            "{}",
            r.text
        );
    })
    .await;
}
