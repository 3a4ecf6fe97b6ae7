//! OpenAI-compatible speech services, against a scripted server that speaks the protocol (real
//! HTTP, multipart uploads, JSON, WAV answers): the key is sent, answers are used, failures are
//! clear errors that never show the key.

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use switchboard_telephony::media::wav;
use switchboard_tests::run;

async fn transcriptions(headers: HeaderMap, body: axum::body::Bytes) -> axum::response::Response {
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer test-key") {
        let e = serde_json::json!({"error": {"message": "Incorrect API key provided"}});
        return (StatusCode::UNAUTHORIZED, axum::Json(e)).into_response();
    }
    let body = String::from_utf8_lossy(&body);
    // A multipart upload with the model and a WAV file.
    if !(body.contains("name=\"model\"") && body.contains("whisper-1") && body.contains("RIFF")) {
        return (StatusCode::BAD_REQUEST, "expected a multipart upload with model and file").into_response();
    }
    axum::Json(serde_json::json!({
        "text": "Where is my order 1042?",
        "segments": [{"start": 0.0, "end": 1.5, "text": " Where is my order 1042?"}]
    }))
    .into_response()
}

async fn speech(
    headers: HeaderMap,
    axum::Json(req): axum::Json<serde_json::Value>,
) -> axum::response::Response {
    if headers.get("authorization").is_none() {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if req["model"] != "tts-1"
        || req["voice"] != "nova"
        || !req["input"].as_str().unwrap_or("").contains("1 0 4 2")
    {
        return (StatusCode::BAD_REQUEST, format!("unexpected request {req}")).into_response();
    }
    // Half a second of 440 Hz at 24 kHz.
    let tone: Vec<i16> = (0..12_000).map(|i| ((i as f32 * 0.115).sin() * 8000.0) as i16).collect();
    ([("content-type", "audio/wav")], wav::encode_pcm16(&tone, 24_000, 1)).into_response()
}

async fn scripted_server() -> String {
    let app = axum::Router::new()
        .route("/v1/audio/transcriptions", post(transcriptions))
        .route("/v1/audio/speech", post(speech));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/v1")
}

/// Runs the binary off the runtime (the scripted server runs on it).
async fn switchboard(args: &[&str]) -> std::process::Output {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || run(&args.iter().map(String::as_str).collect::<Vec<_>>(), &[]))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn transcription_and_speech_through_an_openai_compatible_service() {
    let url = scripted_server().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("q.wav");
    let audio: Vec<i16> = (0..16_000).map(|i| ((i as f32 * 0.2).sin() * 5000.0) as i16).collect();
    std::fs::write(&file, wav::encode_pcm16(&audio, 16_000, 1)).unwrap();
    let f = file.to_str().unwrap().to_string();
    let o = switchboard(&["transcribe", &f, "--stt-url", &url, "--stt-key", "test-key"]).await;
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "[00:00.0 - 00:01.5] Where is my order 1042?");

    // A wrong key: the service's message, the status, and never the key.
    let o = switchboard(&["transcribe", &f, "--stt-url", &url, "--stt-key", "wrong-secret"]).await;
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("401") && err.contains("Incorrect API key"), "{err}");
    assert!(!err.contains("wrong-secret"), "the key leaked: {err}");
    // Nobody listening: a clear error, not a hang.
    let o = switchboard(&["transcribe", &f, "--stt-url", "http://127.0.0.1:9/v1"]).await;
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("transcription at"));

    // Speech: the text is normalised for the phone before it is sent; the WAV answer is resampled.
    let out = dir.path().join("said.wav");
    let o = switchboard(&[
        "say",
        "Your order #1042 shipped.",
        "-o",
        out.to_str().unwrap(),
        "--tts-url",
        &url,
        "--tts-key",
        "k",
        "--voice",
        "nova",
        "--rate",
        "8000",
    ])
    .await;
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (info, samples) = wav::decode(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(info.sample_rate, 8000);
    assert!((3_900..=4_100).contains(&samples.len()), "{} samples", samples.len());
}
