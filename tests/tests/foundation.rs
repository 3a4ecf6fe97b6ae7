//! End-to-end tests of the foundation: the real binary, its start-up, shutdown, crash safety
//! and command line, on SQLite and (when configured) PostgreSQL.

use std::time::Duration;
use switchboard_tests::{fresh_postgres, login, run, Server};

/// (label, extra environment) for each database backend available.
async fn backends() -> Vec<(&'static str, Vec<(String, String)>)> {
    let mut out = vec![("sqlite", vec![])];
    if let Some(url) = fresh_postgres().await {
        out.push(("postgres", vec![("DATABASE_URL".to_string(), url)]));
    }
    out
}

fn env_ref(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

#[tokio::test]
async fn serve_demo_prints_logins_answers_and_stops_cleanly() {
    for (label, env) in backends().await {
        let dir = tempfile::tempdir().unwrap();
        let env = env_ref(&env);
        let mut server = Server::start(dir.path(), &["--demo"], &env).unwrap();
        assert!(server.stdout.contains("(just created)"), "{label}: {}", server.stdout);
        for needle in [
            "supervisor@demo.example",
            "admin@demo.example",
            "SIP extension 101",
            "alice-sip-101",
            "+15555550100",
        ] {
            assert!(server.stdout.contains(needle), "{label}: banner lacks {needle}: {}", server.stdout);
        }
        // Logs are JSON objects, one per line.
        assert!(
            server.logs.iter().all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
            "{:?}",
            server.logs
        );

        let client = switchboard_tests::http();
        let health = client.get(server.url("/healthz")).send().await.unwrap();
        assert_eq!(health.status(), 200);
        let cookie = login(&client, &server, "supervisor@demo.example", "switchboard-demo").await.unwrap();
        let orders: serde_json::Value = client
            .get(server.url("/api/orders?number=1042"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(orders[0]["number"], "1042", "{label}: {orders}");
        let customers: serde_json::Value = client
            .get(server.url("/api/customers?limit=1000"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(customers.as_array().unwrap().len() >= 24, "a few dozen customers");
        let denied = client.get(server.url("/api/users")).header("cookie", &cookie).send().await.unwrap();
        assert_eq!(denied.status(), 403);

        let status = server.signal_and_wait(libc::SIGTERM, Duration::from_secs(15)).unwrap();
        assert!(status.success(), "{label}: SIGTERM exit {status}");
        assert!(server.logs.iter().any(|l| l.contains("SIGTERM received")), "{label}: {:?}", server.logs);
        assert!(server.logs.iter().any(|l| l.contains("\"stopped\"")), "{label}: {:?}", server.logs);

        // A restart keeps the data and does not load the demo twice; Ctrl-C also stops it, at
        // once, even while the speech models are still loading in the background (they take
        // seconds; a stop used to wait for them).
        let mut again = Server::start(dir.path(), &["--demo"], &env).unwrap();
        assert!(again.stdout.contains("(already loaded)"), "{}", again.stdout);
        assert!(again.stdout.contains(&format!("Web UI:        {}/", again.http)), "{}", again.stdout);
        let status = again.signal_and_wait(libc::SIGINT, Duration::from_secs(3)).unwrap();
        assert!(status.success(), "{label}: SIGINT exit {status}");
    }
}

/// Creates customers as fast as it can; returns the ids the server acknowledged.
async fn writer(url: String, cookie: String, tag: usize) -> Vec<(i64, String)> {
    let client = switchboard_tests::http();
    let mut acked = Vec::new();
    for n in 0.. {
        let name = format!("Writer {tag} customer {n}");
        let body = serde_json::json!({"name": name, "phones": [{"number": format!("+1303555{:04}", (tag * 2000 + n) % 10000)}], "emails": [format!("w{tag}n{n}@x.example")]});
        match client.post(&url).header("cookie", &cookie).json(&body).send().await {
            Ok(r) if r.status() == 201 => {
                let v: serde_json::Value = match r.json().await {
                    Ok(v) => v,
                    Err(_) => break,
                };
                acked.push((v["id"].as_i64().unwrap(), name));
            }
            _ => break,
        }
    }
    acked
}

#[tokio::test]
async fn kill_9_mid_write_loses_nothing_acknowledged() {
    for (label, env) in backends().await {
        let dir = tempfile::tempdir().unwrap();
        let env = env_ref(&env);
        let mut server = Server::start(dir.path(), &["--demo"], &env).unwrap();
        let client = switchboard_tests::http();
        let cookie = login(&client, &server, "admin@demo.example", "switchboard-demo").await.unwrap();
        let url = server.url("/api/customers");
        let writers: Vec<_> = (0..4).map(|t| tokio::spawn(writer(url.clone(), cookie.clone(), t))).collect();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        server.signal_and_wait(libc::SIGKILL, Duration::from_secs(10)).unwrap();
        let mut acked = Vec::new();
        for w in writers {
            acked.extend(w.await.unwrap());
        }
        assert!(acked.len() > 10, "{label}: only {} writes before the kill", acked.len());

        let server = Server::start(dir.path(), &["--demo"], &env).unwrap();
        assert!(server.stdout.contains("(already loaded)"));
        let cookie = login(&client, &server, "admin@demo.example", "switchboard-demo").await.unwrap();
        for (id, name) in &acked {
            let r = client
                .get(server.url(&format!("/api/customers/{id}")))
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{label}: acknowledged customer {id} lost");
            let v: serde_json::Value = r.json().await.unwrap();
            assert_eq!(v["name"], name.as_str());
            assert_eq!(v["phones"].as_array().unwrap().len(), 1, "{label}: customer {id} half-written");
        }
        // Every customer row is whole: no customer without its phone (writes are transactions).
        let all: serde_json::Value = client
            .get(server.url("/api/customers?limit=1000&q=writer"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for c in all.as_array().unwrap() {
            assert_eq!(c["phones"].as_array().unwrap().len(), 1, "{label}: torn write {c}");
        }
        if label == "sqlite" {
            let db = dir.path().join("switchboard.db");
            sqlx::any::install_default_drivers();
            let pool = sqlx::AnyPool::connect(&format!("sqlite://{}", db.display())).await.unwrap();
            use sqlx::Row;
            let row = sqlx::query("PRAGMA integrity_check").fetch_one(&pool).await.unwrap();
            assert_eq!(row.get::<String, _>(0), "ok");
            pool.close().await;
        }
    }
}

#[test]
fn cli_import_export_round_trip_and_problems_with_paths() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let good = dir.path().join("shop.yaml");
    std::fs::write(
        &good,
        r#"account: shop
settings:
  name: Corner Shop
  time_zone: Europe/London
voicemail_boxes:
  - name: general
queues:
  - name: sales
    wrap_up_seconds: 30
    overflow_target: { type: voicemail_box, name: general }
phone_numbers:
  - number: "+442079460000"
    target: { type: queue, name: sales }
"#,
    )
    .unwrap();
    let out = run(&["import", good.to_str().unwrap(), "--data-dir", data], &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("account created"));

    let exported = run(&["export", "--account", "shop", "--data-dir", data], &[]);
    assert!(exported.status.success());
    let yaml = String::from_utf8(exported.stdout).unwrap();
    assert!(yaml.contains("wrap_up_seconds: 30") && yaml.contains("+442079460000"), "{yaml}");
    let again = dir.path().join("again.yaml");
    std::fs::write(&again, &yaml).unwrap();
    let out = run(&["import", again.to_str().unwrap(), "--data-dir", data], &[]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("(no changes)"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        yaml.replace("wrap_up_seconds: 30", "wrap_up_seconds: 5000")
            .replace("- name: general", "- name: General")
            .replace("Europe/London", "Mars/Olympus"),
    )
    .unwrap();
    let out = run(&["import", bad.to_str().unwrap(), "--data-dir", data], &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "queues[0].wrap_up_seconds: must be 0..=3600",
        "voicemail_boxes[0].name: may contain only lowercase letters",
        "settings.time_zone: must be an IANA time zone",
        "queues[0].overflow_target: refers to voicemail box 'general', which does not exist",
        "nothing was changed",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
    let after = run(&["export", "--account", "shop", "--data-dir", data], &[]);
    assert_eq!(String::from_utf8(after.stdout).unwrap(), yaml, "a rejected import changed the account");

    let out = run(&["import", "/nonexistent.yaml", "--data-dir", data], &[]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read /nonexistent.yaml"));
    let broken = dir.path().join("broken.yaml");
    std::fs::write(
        &broken,
        "account: shop\nsettings: { name: X }\nqueues:\n  - name: a\n    strategy: loudest\n",
    )
    .unwrap();
    let out = run(&["import", broken.to_str().unwrap(), "--data-dir", data], &[]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("queues[0].strategy: unknown variant"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bad_serve_configuration_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let out = run(&["serve", "--data-dir", d, "--rtp-ports", "20000-10000"], &[]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--rtp-ports"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["serve", "--data-dir", d, "--database-url", "mysql://x/y"], &[]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("must start with sqlite: or postgres:"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["serve", "--data-dir", d, "--http", "not-an-address"], &[]);
    assert!(!out.status.success());
    let out = run(&["serve", "--data-dir", d], &[("SWITCHBOARD_HTTP", "256.0.0.1:80")]);
    assert!(!out.status.success(), "environment variables are validated too");
    // TLS: a certificate needs its key; a file that is not PEM is named in the error.
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let junk = junk.to_str().unwrap();
    let out = run(&["serve", "--data-dir", d, "--tls-cert", junk], &[]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--tls-key"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["serve", "--data-dir", d, "--tls-cert", junk, "--tls-key", junk], &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("junk.pem") && err.contains("PEM"), "{err}");
}
