//! Call recording: which setting decides, a live call recorded through the API (start, pause,
//! resume, stop) into a valid stereo WAV with the paused interval silent, the audio served with
//! byte ranges, recordings past retention deleted, and what a dead process left open closed.

use crate::common::{call, on_each_db, raw};
use crate::role_matrix::fixture;
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::json;
use std::sync::Arc;
use switchboard::calls::activity::Line;
use switchboard::calls::recording::{policy, Env};
use switchboard::calls::snapshot::{AccountConfig, Snapshot};
use switchboard::live::Live;
use switchboard::model::{RecordingPreference as P, Role};
use switchboard::store::calls::{NewCall, RecordWriter};
use switchboard_telephony::media::relay::{MediaSide, Relay, RelayCommand};
use switchboard_telephony::sip::b2bua::CallId;

#[test]
fn the_agents_setting_wins_over_the_queues_and_the_queues_over_the_numbers() {
    let mut file = switchboard::demo::config();
    let number = file.phone_numbers[0].number.clone();
    let (alice, bob) = (file.agents[0].extension.clone(), file.agents[1].extension.clone());
    let queue = file.queues[0].name.clone();
    file.agents[0].recording = P::Never;
    file.agents[1].recording = P::Inherit;
    file.queues[0].recording = P::Always;
    file.phone_numbers[0].recording = P::OnDemand;
    let mut snap = Snapshot::default();
    snap.insert(1, AccountConfig::from_file(&file, []));
    let decide = |number: Option<&str>, queue: Option<&str>, agent: Option<&str>| {
        policy(&snap, 1, number, queue, agent).0
    };
    assert_eq!(decide(Some(&number), Some(&queue), Some(&alice)), P::Never, "the agent's own choice");
    assert_eq!(decide(Some(&number), Some(&queue), Some(&bob)), P::Always, "the queue's, the agent inherits");
    assert_eq!(decide(Some(&number), None, Some(&bob)), P::OnDemand, "the number's");
    assert_eq!(decide(None, None, Some(&bob)), P::Inherit, "nothing says");
    assert_eq!(decide(None, None, Some("999")), P::Inherit, "an unknown extension");
    let (_, why) = policy(&snap, 1, Some(&number), Some(&queue), Some(&alice));
    assert!(why.contains(&alice), "{why}");
}

fn temp_dir() -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("switchboard-recordings-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Sends `n` stereo frames (20 ms each) of constant levels into a recording.
fn frames(tx: &tokio::sync::mpsc::UnboundedSender<Vec<i16>>, n: usize, left: i16, right: i16) {
    for _ in 0..n {
        let f: Vec<i16> = (0..320).map(|i| if i % 2 == 0 { left } else { right }).collect();
        tx.send(f).unwrap();
    }
}

#[tokio::test]
async fn a_live_call_is_recorded_paused_and_resumed_into_a_valid_stereo_file() {
    on_each_db(|db| async move {
        let f = fixture(&db, "acme", "+1555").await;
        let data_dir = temp_dir();
        let records = RecordWriter::start(db.clone());
        let new_call = NewCall {
            direction: "inbound".into(),
            from_number: "+12025550142".into(),
            to_number: "+15555550100".into(),
            customer_id: None,
            agent_extension: Some("101".into()),
            ai_agent: None,
        };
        let key = records.create(f.account_id, new_call, None);
        let call_id = records.id_of(key).await.unwrap();
        let live = Live::new();
        let (_, snapshot) = tokio::sync::watch::channel(Arc::new(Snapshot::load(&db).await.unwrap()));
        live.recordings().attach(Env {
            db: db.clone(),
            records: records.clone(),
            data_dir: data_dir.clone(),
            snapshot,
        });
        let addr = "127.0.0.1:9".parse().unwrap();
        let (relay, mut asked) = Relay::detached(addr, addr);
        let relay = Arc::new(relay);
        live.recordings().register(key, f.account_id, &relay, MediaSide::A, None);
        live.agents().answered(
            f.account_id,
            "101",
            Line::new(CallId(7), Some("+12025550142".into()), Some(key)),
            30,
        );
        let app = switchboard::api::app(
            db.clone(),
            switchboard::api::AppOptions {
                data_dir: data_dir.clone(),
                live: live.clone(),
                records: Some(records.clone()),
                ..Default::default()
            },
        );
        let (agent, supervisor) =
            (Some(f.cookies[&Role::Agent].as_str()), Some(f.cookies[&Role::Supervisor].as_str()));
        let path = format!("/api/calls/{call_id}/recording");

        // Not recorded yet; pausing nothing is refused with a reason.
        let r = call(&app, Method::GET, &path, agent, None).await;
        assert_eq!(
            r.json["live"],
            json!({"recording": false, "paused": false, "refused": null}),
            "{}",
            r.text
        );
        let r = call(&app, Method::POST, &path, agent, Some(&json!({"action": "pause"}))).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
        assert!(r.text.contains("not being recorded"), "{}", r.text);
        let r = call(&app, Method::POST, &path, agent, Some(&json!({"action": "rewind"}))).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);

        // The agent starts it: the relay is asked for the customer's side.
        let r = call(&app, Method::POST, &path, agent, Some(&json!({"action": "start"}))).await;
        assert_eq!((r.status, r.json["recording"].clone()), (StatusCode::OK, json!(true)), "{}", r.text);
        let tx = match tokio::time::timeout(std::time::Duration::from_secs(5), asked.recv()).await {
            Ok(Some(RelayCommand::Record { customer: MediaSide::A, frames })) => frames,
            _ => panic!("the relay was not asked to record the caller's side"),
        };
        // A second of talk, half a second paused (by the supervisor), half a second more.
        frames(&tx, 50, 1000, -2000);
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let r = call(&app, Method::POST, &path, supervisor, Some(&json!({"action": "pause"}))).await;
        assert_eq!(r.json, json!({"recording": true, "paused": true, "refused": null}), "{}", r.text);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        frames(&tx, 25, 1000, -2000);
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let r = call(&app, Method::POST, &path, agent, Some(&json!({"action": "resume"}))).await;
        assert_eq!(r.json["paused"], false, "{}", r.text);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        frames(&tx, 25, 1000, -2000);
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        // The call ends: the recording is closed.
        live.recordings().call_ended(key);
        drop(relay);
        drop(tx);
        let mut rec = json!(null);
        for _ in 0..50 {
            let r = call(&app, Method::GET, &path, agent, None).await;
            rec = r.json["recordings"][0].clone();
            if !rec["ended_at"].is_null() {
                assert!(r.json["live"].is_null(), "{}", r.text);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(!rec["ended_at"].is_null(), "the recording was closed: {rec}");
        assert_eq!(rec["duration_ms"], 2000, "{rec}");
        assert_eq!(rec["paused"], json!([[1000, 1500]]), "{rec}");
        assert_eq!(rec["started_by"], "acme agent", "{rec}");

        // The audio: a valid stereo WAV, the paused half second silent.
        let url = rec["audio_url"].as_str().unwrap().to_string();
        let r = crate::common::call_bytes(&app, Method::GET, &url, agent, "audio/wav", Vec::new()).await;
        assert_eq!(r.status, StatusCode::OK);
        let bytes = r.bytes.clone();
        let (info, samples) = switchboard_telephony::media::wav::decode(&bytes).unwrap();
        assert_eq!((info.channels, info.sample_rate, info.frames), (2, 8000, 16000));
        let at = |ms: usize| (samples[ms * 16], samples[ms * 16 + 1]);
        assert_eq!(at(500), (1000, -2000), "left the caller, right what they heard");
        assert_eq!(at(1250), (0, 0), "silence while paused");
        assert_eq!(at(1750), (1000, -2000));

        // Byte ranges for a player that seeks; a range outside the file is refused.
        let ranged = |range: &str| {
            Request::builder()
                .method(Method::GET)
                .uri(&url)
                .header(header::COOKIE, agent.unwrap())
                .header(header::RANGE, range)
                .body(Body::empty())
                .unwrap()
        };
        let r = raw(&app, ranged("bytes=44-143")).await;
        assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
        assert_eq!(r.bytes, bytes[44..144]);
        assert_eq!(r.headers[header::CONTENT_RANGE], format!("bytes 44-143/{}", bytes.len()));
        let r = raw(&app, ranged("bytes=-10")).await;
        assert_eq!(r.bytes, bytes[bytes.len() - 10..]);
        let r = raw(&app, ranged("bytes=99999999-")).await;
        assert_eq!(r.status, StatusCode::RANGE_NOT_SATISFIABLE, "{}", r.text);
        let r = raw(&app, ranged("bytes=oops")).await;
        assert_eq!(r.status, StatusCode::OK, "an unreadable range gets the whole file");

        // The timeline says who did what.
        records.flush().await;
        let r = call(&app, Method::GET, &format!("/api/calls/{call_id}"), supervisor, None).await;
        let kinds: Vec<&str> =
            r.json["timeline"].as_array().unwrap().iter().filter_map(|e| e["kind"].as_str()).collect();
        for k in ["recording_started", "recording_paused", "recording_resumed"] {
            assert!(kinds.contains(&k), "{k} in {kinds:?}");
        }
        assert_eq!(r.json["recordings"][0]["id"], rec["id"], "{}", r.text);

        // The call is over: nothing more to record.
        let r = call(&app, Method::POST, &path, agent, Some(&json!({"action": "start"}))).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
        let _ = std::fs::remove_dir_all(&data_dir);
    })
    .await;
}

#[tokio::test]
async fn old_recordings_are_deleted_and_what_a_dead_process_left_open_is_closed() {
    on_each_db(|db| async move {
        let f = fixture(&db, "acme", "+1555").await;
        let data_dir = temp_dir();
        let call_id = f.ids["/api/calls"];
        let file = |n: u32| {
            let rel = format!("recordings/{}/{call_id}-{n}.wav", f.account_id);
            std::fs::create_dir_all(data_dir.join(format!("recordings/{}", f.account_id))).unwrap();
            std::fs::write(data_dir.join(&rel), crate::common::tone_wav(100)).unwrap();
            rel
        };
        let (old, new) = (file(1), file(2));
        let old_id = switchboard::store::recordings::create(&db, f.account_id, call_id, &old, "automatic")
            .await
            .unwrap();
        let new_id = switchboard::store::recordings::create(&db, f.account_id, call_id, &new, "automatic")
            .await
            .unwrap();
        for id in [old_id, new_id] {
            switchboard::store::recordings::update(&db, id, 100, &[], true).await.unwrap();
        }
        // The first was made 91 days ago (the default retention is 90 days).
        let now = switchboard::clock::now_ms();
        sqlx::query("UPDATE call_recordings SET started_at = $1 WHERE id = $2")
            .bind(now - 91 * 86_400_000)
            .bind(old_id)
            .execute(db.pool())
            .await
            .unwrap();
        let deleted = switchboard::calls::recording::clean_up(&db, &data_dir, now).await.unwrap();
        assert_eq!(deleted, 1);
        assert!(!data_dir.join(&old).exists() && data_dir.join(&new).exists());
        let left = switchboard::store::recordings::of_call(&db, call_id).await.unwrap();
        assert_eq!(left.iter().map(|r| r.id).collect::<Vec<_>>(), vec![new_id]);
        // Retention 0 keeps everything.
        let mut account = switchboard::store::accounts::get(&db, f.account_id).await.unwrap();
        account.settings.recording_retention_days = 0;
        switchboard::store::accounts::update_settings(&db, f.account_id, &account.settings).await.unwrap();
        assert_eq!(
            switchboard::calls::recording::clean_up(&db, &data_dir, now + 10 * 365 * 86_400_000)
                .await
                .unwrap(),
            0
        );

        // A process that died mid-call left a recording and the call open: closed at start-up,
        // the call failed with an `interrupted` event.
        let open = switchboard::store::recordings::create(&db, f.account_id, call_id, &new, "automatic")
            .await
            .unwrap();
        switchboard::store::recordings::update(&db, open, 4000, &[], false).await.unwrap();
        assert!(switchboard::store::calls::close_abandoned(&db).await.unwrap() >= 1);
        assert_eq!(switchboard::store::recordings::close_abandoned(&db).await.unwrap(), 1);
        let rec = switchboard::store::recordings::of_call(&db, call_id).await.unwrap();
        let rec = rec.iter().find(|r| r.id == open).unwrap();
        assert_eq!(rec.ended_at, Some(rec.started_at + 4000));
        let detail = switchboard::store::calls::get(&db, f.account_id, call_id, None).await.unwrap();
        assert_eq!(detail.record.disposition, Some(switchboard::store::calls::Disposition::Failed));
        assert!(detail.record.ended_at.is_some());
        assert!(detail.timeline.iter().any(|e| e.kind == "interrupted"), "{:?}", detail.timeline);
        // Closing again finds nothing.
        assert_eq!(switchboard::store::calls::close_abandoned(&db).await.unwrap(), 0);
        let _ = std::fs::remove_dir_all(&data_dir);
    })
    .await;
}

#[tokio::test]
async fn the_call_list_filters_by_every_field_and_pages() {
    on_each_db(|db| async move {
        let f = fixture(&db, "acme", "+1555").await;
        let app = crate::common::app(&db);
        let (agent, supervisor) =
            (Some(f.cookies[&Role::Agent].as_str()), Some(f.cookies[&Role::Supervisor].as_str()));
        let new = |direction: &str, from: &str, agent: Option<&str>, ai: Option<&str>| NewCall {
            direction: direction.into(),
            from_number: from.into(),
            to_number: "+15555550100".into(),
            customer_id: None,
            agent_extension: agent.map(str::to_string),
            ai_agent: ai.map(str::to_string),
        };
        let store = |c: NewCall| {
            let db = db.clone();
            async move { switchboard::store::calls::create(&db, f.account_id, &c).await.unwrap() }
        };
        let queued = store(new("inbound", "+12025550171", Some("101"), None)).await;
        let out = store(new("outbound", "+15555550100", Some("102"), None)).await;
        let ai = store(new("inbound", "+442079460958", None, Some("order-assistant"))).await;
        switchboard::store::calls::add_event(&db, queued, "queue_joined", &json!({"queue": "returns_50%", "position": 1}))
            .await
            .unwrap();
        switchboard::store::calls::add_event(&db, out, "queue_joined", &json!({"queue": "returns", "position": 1}))
            .await
            .unwrap();
        sqlx::query("INSERT INTO transcripts (call_id, speaker, start_ms, end_ms, text) VALUES ($1, 'caller', 0, 900, $2)")
            .bind(ai)
            .bind("Where is my Blue Kettle?")
            .execute(db.pool())
            .await
            .unwrap();
        switchboard::store::recordings::create(&db, f.account_id, out, "recordings/x.wav", "automatic")
            .await
            .unwrap();
        let ids = |path: &str, who: Option<&str>| {
            let app = app.clone();
            let path = path.to_string();
            let who = who.map(str::to_string);
            async move {
                let r = call(&app, Method::GET, &path, who.as_deref(), None).await;
                assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
                r.json.as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect::<Vec<_>>()
            }
        };
        let only = |list: Vec<i64>, want: &[i64]| {
            let mine: Vec<i64> = list.into_iter().filter(|i| [queued, out, ai].contains(i)).collect();
            assert_eq!(mine, want);
        };
        only(ids("/api/calls?direction=outbound", supervisor).await, &[out]);
        only(ids("/api/calls?number=202-555-0171", supervisor).await, &[queued]);
        only(ids("/api/calls?number=%2B44%2020%207946", supervisor).await, &[ai]);
        only(ids("/api/calls?ai_agent=order-assistant", supervisor).await, &[ai]);
        // The queue's name is matched exactly (a `%` in it is not a wildcard).
        only(ids("/api/calls?queue=returns_50%25", supervisor).await, &[queued]);
        only(ids("/api/calls?queue=returns", supervisor).await, &[out]);
        only(ids("/api/calls?has_recording=true", supervisor).await, &[out]);
        only(ids("/api/calls?q=blue%20kettle", supervisor).await, &[ai]);
        only(ids("/api/calls?q=0171", supervisor).await, &[queued]);
        // Full-text search: words in any order, each also as the start of a longer word, and
        // whatever else was typed only separates words (never search syntax).
        only(ids("/api/calls?q=kettle%20BLUE", supervisor).await, &[ai]);
        only(ids("/api/calls?q=kett", supervisor).await, &[ai]);
        only(ids("/api/calls?q=%22kettle%22%20OR%20*%20(NEAR", supervisor).await, &[]);
        only(ids("/api/calls?q=blue%20teapot", supervisor).await, &[]);
        sqlx::query("UPDATE call_records SET summary = $1 WHERE id = $2")
            .bind("Refund approved for a damaged tent")
            .bind(out)
            .execute(db.pool())
            .await
            .unwrap();
        only(ids("/api/calls?q=damaged%20tent", supervisor).await, &[out]);
        // The index follows edits: the old words no longer find the call.
        sqlx::query("UPDATE transcripts SET text = $1 WHERE call_id = $2")
            .bind("Where is my red teapot?")
            .bind(ai)
            .execute(db.pool())
            .await
            .unwrap();
        only(ids("/api/calls?q=blue%20kettle", supervisor).await, &[]);
        only(ids("/api/calls?q=red%20teapot", supervisor).await, &[ai]);
        only(ids("/api/calls?disposition=answered", supervisor).await, &[]);
        // Agents see their own calls whatever they ask for.
        only(ids("/api/calls?agent_extension=102", agent).await, &[queued]);
        // Paging: newest first, one at a time.
        let first = ids("/api/calls?limit=1", supervisor).await;
        let second = ids("/api/calls?limit=1&offset=1", supervisor).await;
        assert_eq!((first.len(), second.len()), (1, 1));
        assert_ne!(first, second);
        // Time bounds.
        let now = switchboard::clock::now_ms();
        only(ids(&format!("/api/calls?from={}", now + 60_000), supervisor).await, &[]);
        only(ids(&format!("/api/calls?from={}&to={}", now - 60_000, now + 60_000), supervisor).await, &[ai, out, queued]);
        // Bad filters get a clear error.
        let r = call(&app, Method::GET, "/api/calls?disposition=maybe", supervisor, None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
        assert!(r.text.contains("disposition") && r.text.contains("voicemail"), "{}", r.text);
        let r = call(&app, Method::GET, "/api/calls?colour=blue", supervisor, None).await;
        assert!(r.status.is_client_error(), "{}", r.text);
        // The list says who the customer is and whether it was recorded.
        let r = call(&app, Method::GET, "/api/calls?has_recording=true", supervisor, None).await;
        assert_eq!(r.json[0]["recordings"], 1, "{}", r.text);
    })
    .await;
}
