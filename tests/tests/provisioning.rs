//! Desk-phone provisioning end to end: an admin gives Bob a Yealink desk phone by MAC through
//! the API; the phone's request for its file (HTTP basic with its provisioning password) gets
//! Bob's SIP account, and a SIP phone (baresip) configured from that file alone registers; a
//! MAC nobody registered gets 404, a request without the credentials 401.

use serde_json::json;
use std::time::Duration;
use switchboard_tests::{free_udp_port, login, require_program, Baresip, PhoneOptions, Server};

/// `key = value` from a Yealink file.
fn value<'a>(cfg: &'a str, key: &str) -> &'a str {
    cfg.lines()
        .find_map(|l| l.split_once(" = ").filter(|(k, _)| *k == key).map(|(_, v)| v))
        .unwrap_or_else(|| panic!("{key} missing from:\n{cfg}"))
}

#[tokio::test]
async fn a_desk_phone_fetches_its_file_by_mac_and_registers_with_it() {
    if !require_program("baresip") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sip = format!("127.0.0.1:{}", free_udp_port());
    let server = Server::start(&dir.path().join("data"), &["--demo", "--sip", &sip], &[]).unwrap();
    let client = switchboard_tests::http();
    let admin = login(&client, &server, "admin@demo.example", "switchboard-demo").await.unwrap();
    let agents: serde_json::Value = client
        .get(server.url("/api/agents"))
        .header("cookie", &admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut bob = agents.as_array().unwrap().iter().find(|a| a["extension"] == "102").cloned().unwrap();
    bob["desk_phones"] =
        json!([{"mac": "80:5E:C0:12:34:56", "vendor": "yealink", "provisioning_password": "bob-desk-phone"}]);
    let id = bob["id"].clone();
    for field in ["id", "created_at", "updated_at"] {
        bob.as_object_mut().unwrap().remove(field);
    }
    let r = client
        .put(server.url(&format!("/api/agents/{id}")))
        .header("cookie", &admin)
        .json(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());

    let file = server.url("/provision/805ec0123456.cfg");
    let r = client.get(&file).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("www-authenticate").is_some_and(|v| v.to_str().unwrap().starts_with("Basic")));
    let r = client.get(server.url("/provision/805ec0999999.cfg")).send().await.unwrap();
    assert_eq!(r.status(), 404, "an unknown MAC");
    let r = client.get(&file).basic_auth("805ec0123456", Some("bob-desk-phone")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let cfg = r.text().await.unwrap();

    // A phone set up from the file alone registers.
    let (user, password) = (value(&cfg, "account.1.user_name"), value(&cfg, "account.1.password"));
    let (host, port) =
        (value(&cfg, "account.1.sip_server.1.address"), value(&cfg, "account.1.sip_server.1.port"));
    assert_eq!(format!("{host}:{port}"), sip, "the SIP server in the file");
    let account = format!("<sip:{user}@{host}:{port}>;auth_pass={password};regint=600;audio_codecs=PCMU");
    let phone = Baresip::start_with(&account, PhoneOptions::default()).unwrap();
    phone.wait_for("200 OK", Duration::from_secs(10)).expect("the provisioned phone registers");
    let regs: serde_json::Value = client
        .get(server.url("/api/registrations"))
        .header("cookie", &admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(regs.to_string().contains("102"), "{regs}");
}
