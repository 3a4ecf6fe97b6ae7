//! An AI call on cloud speech (`serve --stt-url/--tts-url`): a scripted OpenAI-compatible speech
//! service (the stand-in for a paid API, speaking its real protocol) recognises the caller and
//! voices the agent; the call's record prices the minutes and characters it used.

mod ai_support;

use ai_support::*;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::post;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchboard_telephony::media::wav;

#[derive(Default)]
struct Service {
    /// Uploads recognised (bytes of WAV) and texts voiced.
    heard: Mutex<Vec<usize>>,
    voiced: Mutex<Vec<String>>,
}

async fn service() -> (String, Arc<Service>) {
    let seen = Arc::new(Service::default());
    let (s1, s2) = (seen.clone(), seen.clone());
    let app = axum::Router::new()
        .route(
            "/v1/audio/transcriptions",
            post(move |headers: HeaderMap, body: axum::body::Bytes| {
                let seen = s1.clone();
                async move {
                    let authorised =
                        headers.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer stt-key");
                    if !authorised || !body.windows(4).any(|w| w == b"RIFF") {
                        return axum::http::StatusCode::BAD_REQUEST.into_response();
                    }
                    seen.heard.lock().unwrap().push(body.len());
                    axum::Json(serde_json::json!({"text": "Where is my order one zero zero two?"}))
                        .into_response()
                }
            }),
        )
        .route(
            "/v1/audio/speech",
            post(move |axum::Json(req): axum::Json<serde_json::Value>| {
                let seen = s2.clone();
                async move {
                    if req["voice"] != "nova" || req["model"] != "tts-1" {
                        return (axum::http::StatusCode::BAD_REQUEST, format!("unexpected {req}"))
                            .into_response();
                    }
                    let text = req["input"].as_str().unwrap_or_default().to_string();
                    // 40 ms of a 500 Hz tone per character, at 24 kHz as the real service sends.
                    let n = 24 * 40 * text.chars().count().clamp(5, 100);
                    let tone: Vec<i16> = (0..n)
                        .map(|i| {
                            ((i as f32 * 2.0 * std::f32::consts::PI * 500.0 / 24_000.0).sin() * 9000.0) as i16
                        })
                        .collect();
                    seen.voiced.lock().unwrap().push(text);
                    ([("content-type", "audio/wav")], wav::encode_pcm16(&tone, 24_000, 1)).into_response()
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/v1"), seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ai_call_on_cloud_speech_is_priced_by_what_it_used() {
    let _serial = SERIAL.lock().await;
    if !ready() {
        return;
    }
    let (url, seen) = service().await;
    let dir = tempfile::tempdir().unwrap();
    let question = speech(dir.path(), "Where is my order number one zero zero two?");
    let args = [
        "--stt-url",
        &url,
        "--stt-key",
        "stt-key",
        "--tts-url",
        &url,
        "--tts-key",
        "tts-key",
        "--tts-voice",
        "nova",
        "--stt-usd-per-minute",
        "0.006",
        "--tts-usd-per-million-chars",
        "15",
    ];
    let rig = rig_with(dir, &args).await;
    let phone = RtpPhone::start().await;
    let sipp = rig.call("+15555550177", &phone, 14_000);
    // The greeting in the cloud voice (the service's tone), then the caller's question.
    phone.wait_for_speech_then_quiet(0, 800, Duration::from_secs(15)).await;
    phone.say(&question).await;
    let asked = phone.heard_len();
    phone.wait_for_speech_then_quiet(asked, 1200, Duration::from_secs(15)).await;
    sipp_ok(sipp.await.unwrap());

    let voiced = seen.voiced.lock().unwrap().clone();
    assert!(voiced.iter().any(|t| t.contains("Hello, this is Acme")), "the greeting was voiced: {voiced:?}");
    assert!(voiced.iter().any(|t| t.contains("shipped")), "the answer was voiced: {voiced:?}");
    assert!(!seen.heard.lock().unwrap().is_empty(), "the caller's turn was sent for recognition");

    // The record: the agent acted on the service's words, and the speech is priced.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let call = loop {
        let call = rig.last_call().await;
        let has = call["timeline"].as_array().is_some_and(|t| t.iter().any(|e| e["kind"] == "speech_usage"));
        if has || std::time::Instant::now() > deadline {
            break call;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let transcript = call["transcript"].to_string().to_lowercase();
    assert!(transcript.contains("1002") || transcript.contains("one zero zero two"), "{transcript}");
    let timeline = call["timeline"].as_array().unwrap();
    let usage = timeline.iter().find(|e| e["kind"] == "speech_usage").unwrap_or_else(|| panic!("{call}"));
    let d = &usage["data"];
    assert_eq!(d["for"], "ai_agent", "{usage}");
    let (stt_ms, chars) =
        ((d["stt_seconds"].as_f64().unwrap() * 1000.0).round() as i64, d["tts_characters"].as_i64().unwrap());
    assert!(stt_ms >= 1_000, "the question's audio was counted: {usage}");
    let voiced_chars: usize = voiced.iter().map(|t| t.chars().count()).sum();
    assert_eq!(chars as usize, voiced_chars, "every character sent was counted: {usage} {voiced:?}");
    // $0.006 a minute (6,000 µ$) and $15 a million characters (15 µ$ each).
    assert_eq!(d["cost_micros"].as_i64().unwrap(), stt_ms * 6_000 / 60_000 + chars * 15, "{usage}");
    assert!(call["cost_micros"].as_i64().unwrap() >= d["cost_micros"].as_i64().unwrap(), "{call}");
}
