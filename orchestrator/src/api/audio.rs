//! Audio library files: upload a WAV or MP3 for an entry (an MP3 is kept as WAV), hear it back
//! (a text-only entry is spoken by its voice, as callers hear it); the voices there are.

use super::error::{ApiError, ApiResult};
use super::extract::Id;
use super::{Access, Api, AppState, Principal};
use crate::error::Error;
use crate::model::{AudioEntry, Role};
use crate::store::config;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Serialize;
use switchboard_telephony::media::wav;

/// Largest accepted upload (about 10 minutes of 44.1 kHz stereo).
pub const MAX_UPLOAD_BYTES: usize = 100 * 1024 * 1024;

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct AudioFileInfo {
    pub file: String,
    pub sample_rate: u32,
    pub channels: u16,
    pub duration_ms: u64,
}

fn account_dir(st: &AppState, account_id: i64) -> std::path::PathBuf {
    st.data_dir.join("audio").join(account_id.to_string())
}

async fn upload(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
    body: Body,
) -> ApiResult<Json<AudioFileInfo>> {
    let stored = config::get::<AudioEntry>(&st.db, p.account_id, id).await?;
    let bytes = axum::body::to_bytes(body, MAX_UPLOAD_BYTES).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("audio files are limited to {MAX_UPLOAD_BYTES} bytes"),
        )
    })?;
    // An MP3 is decoded once, here, and kept as a WAV file (what the players read).
    let bytes = if switchboard_telephony::media::mp3::looks_like_mp3(&bytes) {
        let decoded = tokio::task::spawn_blocking(move || switchboard_telephony::media::mp3::decode(&bytes))
            .await
            .map_err(|e| Error::Internal(format!("decoding task failed: {e}")))?;
        let (samples, rate) = decoded.map_err(|e| Error::invalid("file", e.to_string()))?;
        bytes::Bytes::from(wav::encode_pcm16(&samples, rate, 1))
    } else {
        bytes
    };
    let info = wav::parse(&bytes).map_err(|e| Error::invalid("file", e.to_string()))?;
    let dir = account_dir(&st, p.account_id);
    tokio::fs::create_dir_all(&dir).await.map_err(Error::from)?;
    let file = format!("{}.wav", stored.spec.name);
    // Write beside, then rename: a reader never sees half a file.
    let tmp = dir.join(format!(".{file}.{}.tmp", std::process::id()));
    tokio::fs::write(&tmp, &bytes).await.map_err(Error::from)?;
    tokio::fs::rename(&tmp, dir.join(&file)).await.map_err(Error::from)?;
    let mut spec = stored.spec;
    spec.file = Some(file.clone());
    config::update(&st.db, p.account_id, id, spec).await?;
    st.config_changed.changed().await;
    tracing::info!(audio = %file, bytes = bytes.len(), by = %p.name, "audio uploaded");
    Ok(Json(AudioFileInfo {
        file,
        sample_rate: info.sample_rate,
        channels: info.channels,
        duration_ms: info.duration_ms(),
    }))
}

async fn download(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
) -> ApiResult<Response> {
    let stored = config::get::<AudioEntry>(&st.db, p.account_id, id).await?;
    let Some(file) = stored.spec.file else {
        // A text-only entry: what callers hear, spoken by its voice (the same cached synthesis).
        let text = stored.spec.tts_text.as_deref().filter(|t| !t.trim().is_empty());
        let Some(text) = text else {
            return Err(ApiError::new(StatusCode::NOT_FOUND, "no file uploaded and no text to speak"));
        };
        let spoken =
            crate::calls::prompts::spoken(text, stored.spec.voice.as_deref()).await.ok_or_else(|| {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "no voice could speak this text")
            })?;
        return Ok(([(header::CONTENT_TYPE, "audio/wav")], spoken.as_ref().clone()).into_response());
    };
    let bytes = match tokio::fs::read(account_dir(&st, p.account_id).join(&file)).await {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!("{file} is missing from the audio folder"),
            ))
        }
        Err(e) => return Err(Error::from(e).into()),
    };
    Ok(([(header::CONTENT_TYPE, "audio/wav")], bytes).into_response())
}

/// A voice an audio entry (or an AI agent) may speak with.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Voice {
    /// What to put in `voice` (None: the default voice).
    pub name: Option<String>,
    pub label: String,
}

async fn voices() -> ApiResult<Json<Vec<Voice>>> {
    let dir = switchboard_models::catalog::default_dir();
    let default = tokio::task::spawn_blocking(move || switchboard_speech::tts::default_voice(&dir).name())
        .await
        .map_err(|e| Error::Internal(format!("voice task failed: {e}")))?;
    Ok(Json(vec![
        Voice { name: None, label: format!("Default ({default})") },
        Voice { name: Some("espeak-ng".into()), label: "espeak-ng (robotic, always installed)".into() },
    ]))
}

pub fn routes(api: &mut Api) {
    let voices_out = api.schema::<Vec<Voice>>();
    api.add(
        Method::GET,
        "/api/voices",
        Access::AtLeast(Role::Supervisor),
        "audio",
        "The voices audio entries can be spoken with",
        None,
        voices_out,
        voices,
    );
    let info = api.schema::<AudioFileInfo>();
    let path = "/api/audio/{id}/file";
    api.add(
        Method::PUT,
        path,
        Access::AtLeast(Role::Admin),
        "audio",
        "Upload the entry's recording (a WAV file: PCM, float, μ-law or A-law; mono or stereo; \
         8-48 kHz; or an MP3 file, kept as WAV)",
        Some(serde_json::json!({"type": "string", "format": "binary"})),
        info,
        upload,
    )
    .media_type = "audio/wav";
    api.add(
        Method::GET,
        path,
        Access::AtLeast(Role::Supervisor),
        "audio",
        "Download the entry's recording (a text-only entry: its text spoken by its voice)",
        None,
        None,
        download,
    )
    .media_type = "audio/wav";
}
