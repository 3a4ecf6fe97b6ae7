//! What the admin pages use beyond plain configuration, on both databases: a schedule's "what
//! happens now" preview (the routing rules' own answer, with the next change), MP3 uploads kept
//! as WAV, a text-only audio entry heard as callers hear it, and "try it" chats with an AI
//! agent (a scripted OpenAI-compatible model looks an order up; another account cannot reach
//! the chat; the chat ends when the agent hands the caller over).

use crate::common::{call, call_bytes, on_each_db};
use crate::role_matrix::fixture;
use axum::http::{Method, StatusCode};
use serde_json::json;
use switchboard::db::Db;
use switchboard::model::Role;

const TINY_MP3: &[u8] = include_bytes!("../../../telephony/tests/fuzz/seeds/mp3/spoken.mp3");

fn hours() -> serde_json::Value {
    json!({
        "name": "preview", "time_zone": "America/New_York",
        "weekly": [{"days": ["mon", "tue", "wed", "thu", "fri"], "open": "09:00", "close": "17:00"}],
        "holidays": [{"date": "2026-12-25", "name": "Christmas"}],
        "open_target": {"type": "queue", "name": "sales"},
        "closed_target": {"type": "voicemail_box", "name": "sales"}
    })
}

/// Unix milliseconds of an RFC 3339 time.
fn ms(t: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(t).unwrap().timestamp_millis()
}

async fn preview(db: Db) {
    let f = fixture(&db, "acme", "+1555").await;
    let app = crate::common::app(&db);
    let admin = &f.cookies[&Role::Admin];
    let ask = |at: &str| json!({"schedule": hours(), "at_ms": ms(at)});
    // Wednesday 10:00 in New York: open, to the queue, until 17:00.
    let r =
        call(&app, Method::POST, "/api/schedules/preview", Some(admin), Some(&ask("2026-11-25T15:00:00Z")))
            .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["now"]["hours"], "open");
    assert_eq!(r.json["now"]["local_time"], "Wed 25 Nov 10:00 EST");
    assert_eq!(r.json["now"]["target"], json!({"type": "queue", "name": "sales"}));
    assert_eq!(r.json["next_change"]["hours"], "closed");
    assert_eq!(r.json["next_change"]["at_ms"], ms("2026-11-25T22:00:00Z"));
    assert_eq!(r.json["next_change"]["target"]["type"], "voicemail_box");
    // Christmas Eve evening: the holiday is next, at local midnight.
    let r =
        call(&app, Method::POST, "/api/schedules/preview", Some(admin), Some(&ask("2026-12-24T23:30:00Z")))
            .await;
    assert_eq!(r.json["now"]["hours"], "closed", "{}", r.text);
    assert_eq!(r.json["next_change"]["hours"], "holiday");
    assert_eq!(r.json["next_change"]["local_time"], "Fri 25 Dec 00:00 EST");
    // A schedule that could not be saved is not previewed: the problems, at their fields.
    let mut bad = hours();
    bad["weekly"][0]["close"] = json!("08:00");
    bad["open_target"] = json!({"type": "queue", "name": "nobody"});
    let r = call(&app, Method::POST, "/api/schedules/preview", Some(admin), Some(&json!({"schedule": bad})))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let paths: Vec<&str> =
        r.json["problems"].as_array().unwrap().iter().filter_map(|p| p["path"].as_str()).collect();
    assert!(paths.contains(&"weekly[0].close") && paths.contains(&"open_target"), "{paths:?}");
    // Supervisors do not edit schedules.
    let r = call(
        &app,
        Method::POST,
        "/api/schedules/preview",
        Some(&f.cookies[&Role::Supervisor]),
        Some(&ask("2026-11-25T15:00:00Z")),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_schedule_preview_says_what_happens_now_and_next() {
    on_each_db(preview).await;
}

async fn audio(db: Db) {
    let f = fixture(&db, "acme", "+1555").await;
    let app = crate::common::app(&db);
    let admin = &f.cookies[&Role::Admin];
    // An MP3 upload is decoded and kept as WAV.
    let created = call(&app, Method::POST, "/api/audio", Some(admin), Some(&json!({"name": "thanks"}))).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let path = format!("/api/audio/{}/file", created.json["id"]);
    let r = call_bytes(&app, Method::PUT, &path, Some(admin), "audio/mpeg", TINY_MP3.to_vec()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["file"], "thanks.wav");
    assert_eq!(r.json["sample_rate"], 8000);
    let ms = r.json["duration_ms"].as_u64().unwrap();
    assert!((2_000..5_000).contains(&ms), "{ms} ms");
    let back = call(&app, Method::GET, &path, Some(admin), None).await;
    assert_eq!(back.status, StatusCode::OK);
    let (info, _) = switchboard_telephony::media::wav::decode(&back.bytes).unwrap();
    assert_eq!((info.sample_rate, info.channels), (8000, 1));
    // Something that is neither WAV nor MP3 is refused at the file, and nothing changes.
    let r = call_bytes(&app, Method::PUT, &path, Some(admin), "audio/mpeg", vec![0xFF, 0xFB, 1, 2, 3]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.json["problems"][0]["path"], "file");
    assert_eq!(call(&app, Method::GET, &path, Some(admin), None).await.bytes, back.bytes);
    // A text-only entry is heard as callers hear it: spoken by its voice.
    let spoken = call(
        &app,
        Method::POST,
        "/api/audio",
        Some(admin),
        Some(&json!({"name": "closed-now", "tts_text": "We are closed.", "voice": "espeak-ng"})),
    )
    .await;
    assert_eq!(spoken.status, StatusCode::CREATED, "{}", spoken.text);
    let path = format!("/api/audio/{}/file", spoken.json["id"]);
    let heard = call(&app, Method::GET, &path, Some(&f.cookies[&Role::Supervisor]), None).await;
    assert_eq!(heard.status, StatusCode::OK, "{}", heard.text);
    let (info, samples) = switchboard_telephony::media::wav::decode(&heard.bytes).unwrap();
    assert!(samples.len() as u32 > info.sample_rate / 2, "at least half a second of speech");
    // The voices there are to choose from.
    let voices = call(&app, Method::GET, "/api/voices", Some(admin), None).await;
    let names: Vec<&str> =
        voices.json.as_array().unwrap().iter().filter_map(|v| v["name"].as_str()).collect();
    assert!(names.contains(&"espeak-ng"), "{}", voices.text);
}

#[tokio::test]
async fn mp3_uploads_are_kept_as_wav_and_text_entries_can_be_heard() {
    on_each_db(audio).await;
}

#[tokio::test]
async fn an_admin_tries_an_agent_in_a_chat() {
    let url = crate::agent::scripted_llm().await;
    on_each_db(|db| {
        let url = url.clone();
        async move {
            switchboard::demo::ensure(&db).await.unwrap();
            let account = switchboard::store::accounts::by_slug(&db, "demo").await.unwrap().unwrap().id;
            crate::agent::llm_agent(&db, account, &url).await;
            let other = fixture(&db, "globex", "+1666").await;
            let app = crate::common::app(&db);
            let users = switchboard::store::users::list(&db, account).await.unwrap();
            let owner = users.into_iter().find(|u| u.role == Role::Owner).unwrap();
            let token = switchboard::store::users::create_session(&db, owner.id).await.unwrap();
            let admin = format!("sb_session={token}");
            let caller = switchboard::demo::customer_phone(0);
            let start = json!({"agent": "llm-assistant", "caller": caller});
            let r = call(&app, Method::POST, "/api/agent-chats", Some(&admin), Some(&start)).await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
            assert_eq!(r.json["greeting"], "Hi, Acme here.");
            assert_eq!(r.json["brain"], "llm");
            assert_eq!(r.json["customer"]["name"], "Maria Garcia", "matched by the number given");
            let chat = format!("/api/agent-chats/{}", r.json["id"]);
            // The order is looked up in the account's store; the answer comes from the tool.
            let said = json!({"text": "Where is my order 1002?"});
            let r = call(&app, Method::POST, &chat, Some(&admin), Some(&said)).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            let answer = r.json["said"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            assert!(answer.contains("Order 1002 is shipped"), "{}", r.text);
            let tool =
                r.json["events"].as_array().unwrap().iter().find(|e| e["kind"] == "tool_call").cloned();
            let tool = tool.unwrap_or_else(|| panic!("no tool call in {}", r.text));
            assert_eq!(tool["data"]["tool"], "lookup_order");
            assert!(r.json["ended"].is_null());
            // Another account's admin cannot reach it.
            let r = call(&app, Method::POST, &chat, Some(&other.cookies[&Role::Owner]), Some(&said)).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
            // A hand-off ends the chat, saying what the call would do.
            let r = call(
                &app,
                Method::POST,
                &chat,
                Some(&admin),
                Some(&json!({"text": "Can I talk to a person?"})),
            )
            .await;
            assert!(r.json["ended"].as_str().unwrap_or_default().starts_with("Transferred to"), "{}", r.text);
            let r = call(&app, Method::POST, &chat, Some(&admin), Some(&said)).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "an ended chat is gone");
            // Nothing of it is in the call history: a chat is not a call.
            let calls = call(&app, Method::GET, "/api/calls", Some(&admin), None).await;
            assert!(!calls.text.contains("llm-assistant"), "{}", calls.text);
            // An unknown agent or a bad number is refused at its field.
            let r =
                call(&app, Method::POST, "/api/agent-chats", Some(&admin), Some(&json!({"agent": "nobody"})))
                    .await;
            assert_eq!(
                (r.status, r.json["problems"][0]["path"].as_str()),
                (StatusCode::UNPROCESSABLE_ENTITY, Some("agent"))
            );
            let bad = json!({"agent": "llm-assistant", "caller": "my phone"});
            let r = call(&app, Method::POST, "/api/agent-chats", Some(&admin), Some(&bad)).await;
            assert_eq!(r.json["problems"][0]["path"], "caller", "{}", r.text);
            // Closing a chat ends it.
            let r = call(&app, Method::POST, "/api/agent-chats", Some(&admin), Some(&start)).await;
            let chat = format!("/api/agent-chats/{}", r.json["id"]);
            assert_eq!(
                call(&app, Method::DELETE, &chat, Some(&admin), None).await.status,
                StatusCode::NO_CONTENT
            );
            assert_eq!(
                call(&app, Method::DELETE, &chat, Some(&admin), None).await.status,
                StatusCode::NOT_FOUND
            );
        }
    })
    .await;
}
