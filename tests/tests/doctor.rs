//! `switchboard doctor` against a running Switchboard (ports held by it, the SIP OPTIONS round
//! trip, the migrated database, the demo trunk's host) with its HTTPS port taken by another
//! program, which it names as the failure with the fix; then on a machine where nothing runs
//! yet (ports free, no database yet).

use switchboard_tests::{free_udp_port, in_ci, run, Server};

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

#[tokio::test]
async fn doctor_finds_a_running_switchboard_healthy_and_names_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let sip = format!("127.0.0.1:{}", free_udp_port());
    let server = Server::start(&data, &["--demo", "--sip", &sip], &[]).unwrap();
    let http = server.url("").trim_start_matches("http://").trim_end_matches('/').to_string();
    // Something that is not Switchboard holds the HTTPS port.
    let squatter = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let https = squatter.local_addr().unwrap().to_string();
    let data_arg = data.to_str().unwrap();
    let args =
        ["doctor", "--data-dir", data_arg, "--http", &http, "--https", &https, "--sip", &sip, "--quick"];
    let o = run(&args, &[]);
    let out = stdout(&o);
    for line in [
        format!("[ok]   HTTP port: {http} is held by a running Switchboard (health: "),
        format!("[FAIL] HTTPS port: {https} is in use by another program"),
        "fix: stop it (`ss -tlpn` names it), or start Switchboard with --https on another address"
            .to_string(),
        "[ok]   SIP OPTIONS: answered 200 in".to_string(),
        "migrations applied".to_string(),
        "[ok]   trunk demo/carrier: 127.0.0.1 resolves to 127.0.0.1".to_string(),
        "[ok]   RTP ports: 10000-20000".to_string(),
    ] {
        assert!(out.contains(&line), "{line:?} missing from:\n{out}");
    }
    assert_eq!(o.status.code(), Some(1), "a failure exits 1:\n{out}");
    drop(server);

    // Nothing runs here yet, and there is no database.
    let fresh = dir.path().join("fresh");
    let (free_http, free_sip) =
        (format!("127.0.0.1:{}", free_udp_port()), format!("127.0.0.1:{}", free_udp_port()));
    let args = [
        "doctor",
        "--data-dir",
        fresh.to_str().unwrap(),
        "--http",
        &free_http,
        "--https",
        &https,
        "--sip",
        &free_sip,
        "--quick",
    ];
    drop(squatter);
    let o = run(&args, &[]);
    let out = stdout(&o);
    assert!(out.contains(&format!("[ok]   HTTP port: {free_http} is free")), "{out}");
    assert!(out.contains("[info] SIP OPTIONS: nothing listens"), "{out}");
    assert!(out.contains("does not exist yet: `serve` creates it"), "{out}");
    assert!(!fresh.join("switchboard.db").exists(), "the doctor created the database");
    let failures: Vec<&str> = out.lines().filter(|l| l.starts_with("[FAIL]")).collect();
    assert!(failures.iter().all(|l| l.contains("model")), "{failures:?}");
    if in_ci() {
        assert!(o.status.success(), "nothing wrong on a CI machine:\n{out}");
    }
}
