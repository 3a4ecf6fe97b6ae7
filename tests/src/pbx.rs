//! The demo PBX most end-to-end tests start with: `serve --demo` on a free SIP port, and an
//! admin signed in.

use crate::{get_json, http, login, Server};
use std::path::Path;

pub struct DemoPbx {
    pub server: Server,
    pub client: reqwest::Client,
    /// The admin's session cookie.
    pub admin: String,
    /// The SIP address phones register at and carriers call.
    pub sip: String,
}

/// Starts the demo account's PBX with its data under `dir` (and `extra` arguments).
pub async fn demo_pbx(dir: &Path, extra: &[&str]) -> DemoPbx {
    let sip = format!("127.0.0.1:{}", crate::free_udp_port());
    let mut args = vec!["--demo", "--sip", &sip];
    args.extend_from_slice(extra);
    let server = Server::start(&dir.join("data"), &args, &[]).unwrap();
    let client = http();
    let admin = login(&client, &server, "admin@demo.example", "switchboard-demo").await.unwrap();
    DemoPbx { server, client, admin, sip }
}

/// Points the demo trunk at a carrier: outbound calls go to `port` on 127.0.0.1, and SIP from
/// 127.0.0.1:`trusted_port` is trusted as the carrier.
pub async fn set_demo_trunk(
    client: &reqwest::Client,
    server: &Server,
    admin: &str,
    port: Option<u16>,
    trusted_port: Option<u16>,
) {
    let trunks = get_json(client, server, admin, "/api/trunks").await;
    let mut trunk = trunks[0].clone();
    let id = trunk["id"].clone();
    for k in ["id", "created_at", "updated_at"] {
        trunk.as_object_mut().unwrap().remove(k);
    }
    if let Some(p) = port {
        trunk["port"] = serde_json::json!(p);
    }
    if let Some(p) = trusted_port {
        trunk["inbound_ips"] = serde_json::json!([format!("127.0.0.1:{p}")]);
    }
    let r = client
        .put(server.url(&format!("/api/trunks/{id}")))
        .header("cookie", admin)
        .json(&trunk)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
}

/// Adds a phone number routed to `target`.
pub async fn add_number(
    client: &reqwest::Client,
    server: &Server,
    admin: &str,
    number: &str,
    target: serde_json::Value,
) {
    let r = client
        .post(server.url("/api/phone_numbers"))
        .header("cookie", admin)
        .json(&serde_json::json!({"number": number, "target": target}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
}
