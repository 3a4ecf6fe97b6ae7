//! A real SIP phone (baresip) registers with digest authentication; a wrong password is refused.

use std::time::{Duration, Instant};
use switchboard_tests::{free_udp_port, login, require_program, Baresip, Server};

async fn registrations(client: &reqwest::Client, server: &Server, cookie: &str) -> serde_json::Value {
    client
        .get(server.url("/api/registrations"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn baresip_registers_with_digest_auth_and_a_wrong_password_is_refused() {
    if !require_program("baresip") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sip_port = free_udp_port();
    let sip = format!("127.0.0.1:{sip_port}");
    let mut server = Server::start(dir.path(), &["--demo", "--sip", &sip], &[]).unwrap();
    let client = switchboard_tests::http();
    let cookie = login(&client, &server, "supervisor@demo.example", "switchboard-demo").await.unwrap();
    assert_eq!(registrations(&client, &server, &cookie).await, serde_json::json!([]));

    let alice =
        Baresip::start(&format!("<sip:101@{sip}>;auth_pass=alice-sip-101;regint=600;audio_codecs=PCMU"))
            .unwrap();
    alice.wait_for("200 OK", Duration::from_secs(10)).unwrap();
    let regs = registrations(&client, &server, &cookie).await;
    assert_eq!(regs.as_array().unwrap().len(), 1, "{regs}");
    assert_eq!(regs[0]["extension"], "101");
    assert_eq!(regs[0]["source"], format!("127.0.0.1:{}", alice.sip_port), "the REGISTER's source is kept");
    assert!(regs[0]["user_agent"].as_str().unwrap_or_default().contains("baresip"), "{regs}");

    let mallory =
        Baresip::start(&format!("<sip:102@{sip}>;auth_pass=not-bobs-password;regint=600;audio_codecs=PCMU"))
            .unwrap();
    mallory.wait_for("403 Forbidden", Duration::from_secs(20)).unwrap();
    let regs = registrations(&client, &server, &cookie).await;
    assert!(
        regs.as_array().unwrap().iter().all(|r| r["extension"] != "102"),
        "wrong password registered: {regs}"
    );
    mallory.stop();

    // Another account's supervisor would see nothing; the agent role may not look.
    let agent = login(&client, &server, "bob@demo.example", "switchboard-demo").await.unwrap();
    let r = client.get(server.url("/api/registrations")).header("cookie", &agent).send().await.unwrap();
    assert_eq!(r.status(), 403);

    // Quitting un-registers.
    alice.stop();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if registrations(&client, &server, &cookie).await == serde_json::json!([]) {
            break;
        }
        assert!(Instant::now() < deadline, "registration still listed after baresip quit");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.signal_and_wait(libc::SIGTERM, Duration::from_secs(10)).unwrap();
    assert!(server.logs.iter().any(|l| l.contains("SIP authentication failed")), "{:?}", server.logs);
}
