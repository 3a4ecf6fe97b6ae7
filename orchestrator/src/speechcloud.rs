//! OpenAI-compatible speech endpoints (OpenAI, or a self-hosted server that speaks the same
//! protocol): `POST {base}/audio/transcriptions` for recognition and `POST {base}/audio/speech`
//! for synthesis, configured by URL, key and model. They implement the speech crate's contracts,
//! so a deployment can swap the local engines for them.

use std::time::Duration;
use switchboard_speech::frame::{AudioFrame, Transcript};
use switchboard_speech::stt::SpeechToText;
use switchboard_speech::tts::TextToSpeech;
use switchboard_speech::Error;

/// Where an OpenAI-compatible service is and how to call it (one HTTP client, reused).
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Base URL including the version, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    pub api_key: Option<String>,
    pub model: String,
    http: reqwest::blocking::Client,
}

impl Endpoint {
    /// Builds the client; call it off the async runtime (it is a blocking client).
    pub fn new(
        base_url: &str,
        api_key: Option<String>,
        model: &str,
        timeout: Duration,
    ) -> Result<Self, Error> {
        crate::tls::install_crypto();
        let http = reqwest::blocking::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| Error::Engine(format!("HTTP client: {e}")))?;
        Ok(Endpoint { base_url: base_url.to_string(), api_key, model: model.to_string(), http })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.base_url.trim_end_matches('/'))
    }

    fn authorised(&self, r: reqwest::blocking::RequestBuilder) -> reqwest::blocking::RequestBuilder {
        match &self.api_key {
            Some(k) => r.bearer_auth(k),
            None => r,
        }
    }
}

/// Turns an HTTP failure into a clear error (status and the service's message, never the key).
fn failure(what: &str, url: &str, r: reqwest::blocking::Response) -> Error {
    let status = r.status();
    let body = r.text().unwrap_or_default();
    let message = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| body.chars().take(200).collect());
    Error::Engine(format!("{what} at {url} failed: HTTP {status}: {message}"))
}

pub struct OpenAiStt(pub Endpoint);

impl SpeechToText for OpenAiStt {
    fn name(&self) -> String {
        format!("{} at {}", self.0.model, self.0.base_url)
    }

    fn transcribe(&self, audio: &AudioFrame, _short: bool) -> Result<Transcript, Error> {
        let wav = switchboard_telephony::media::wav::encode_pcm16(&audio.samples, audio.rate, 1);
        let part = reqwest::blocking::multipart::Part::bytes(wav)
            .file_name("audio.wav")
            .mime_str("audio/wav")
            .map_err(|e| Error::Engine(e.to_string()))?;
        let form = reqwest::blocking::multipart::Form::new()
            .part("file", part)
            .text("model", self.0.model.clone())
            .text("response_format", "verbose_json")
            .text("language", "en");
        let url = self.0.url("audio/transcriptions");
        let r = self
            .0
            .authorised(self.0.http.post(&url).multipart(form))
            .send()
            .map_err(|e| Error::Engine(format!("transcription at {url}: {e}")))?;
        if !r.status().is_success() {
            return Err(failure("transcription", &url, r));
        }
        let v: serde_json::Value =
            r.json().map_err(|e| Error::Engine(format!("transcription at {url}: unreadable answer: {e}")))?;
        let text = v["text"]
            .as_str()
            .ok_or_else(|| Error::Engine(format!("transcription at {url}: no text in the answer")))?
            .trim()
            .to_string();
        let ms = |x: &serde_json::Value| audio.at_ms + (x.as_f64().unwrap_or(0.0).max(0.0) * 1000.0) as u64;
        let segments = v["segments"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| {
                (ms(&s["start"]), ms(&s["end"]), s["text"].as_str().unwrap_or_default().trim().to_string())
            })
            .collect();
        Ok(Transcript {
            text,
            start_ms: audio.at_ms,
            end_ms: audio.at_ms + audio.duration_ms(),
            segments,
            confidence: None,
            continuation: None,
        })
    }
}

pub struct OpenAiTts {
    pub endpoint: Endpoint,
    pub voice: String,
}

impl TextToSpeech for OpenAiTts {
    fn name(&self) -> String {
        format!("{} ({}) at {}", self.endpoint.model, self.voice, self.endpoint.base_url)
    }

    fn synthesize(&self, text: &str) -> Result<AudioFrame, Error> {
        let url = self.endpoint.url("audio/speech");
        let body = serde_json::json!({
            "model": self.endpoint.model, "input": text, "voice": self.voice, "response_format": "wav",
        });
        let r = self
            .endpoint
            .authorised(self.endpoint.http.post(&url).json(&body))
            .send()
            .map_err(|e| Error::Engine(format!("speech at {url}: {e}")))?;
        if !r.status().is_success() {
            return Err(failure("speech", &url, r));
        }
        let bytes = r.bytes().map_err(|e| Error::Engine(format!("speech at {url}: {e}")))?;
        // Streamed WAVs may carry unknown sizes; fix the header sizes before parsing.
        let mut wav = bytes.to_vec();
        if wav.len() > 44 && &wav[..4] == b"RIFF" {
            let data = wav.windows(4).position(|w| w == b"data").unwrap_or(36);
            let (len, riff) = ((wav.len() - data - 8) as u32, wav.len() as u32 - 8);
            wav[4..8].copy_from_slice(&riff.to_le_bytes());
            wav[data + 4..data + 8].copy_from_slice(&len.to_le_bytes());
        }
        let (info, samples) = switchboard_telephony::media::wav::decode(&wav)
            .map_err(|e| Error::Engine(format!("speech at {url}: not WAV audio: {e}")))?;
        let mono = if info.channels == 2 {
            samples.chunks_exact(2).map(|c| ((c[0] as i32 + c[1] as i32) / 2) as i16).collect()
        } else {
            samples
        };
        Ok(AudioFrame { rate: info.sample_rate, samples: mono, at_ms: 0 })
    }
}

/// Cloud speech for calls (`serve --stt-url/--tts-url`): used by AI calls and live coaching in
/// place of the local engines, and priced per call (`speech_usage` in the call's record).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CloudSpeechOptions {
    /// An OpenAI-compatible speech-to-text service for calls instead of the local Whisper (base
    /// URL with the version, e.g. https://api.openai.com/v1).
    #[arg(long = "stt-url", env = "SWITCHBOARD_STT_URL")]
    pub stt_url: Option<String>,
    #[arg(long = "stt-key", env = "SWITCHBOARD_STT_KEY", hide_env_values = true)]
    pub stt_key: Option<String>,
    #[arg(long = "stt-model", env = "SWITCHBOARD_STT_MODEL", default_value = "whisper-1")]
    pub stt_model: String,
    /// What the recognition service charges per minute of audio, in USD (whisper-1: 0.006).
    #[arg(long = "stt-usd-per-minute", env = "SWITCHBOARD_STT_USD_PER_MINUTE", default_value_t = 0.006)]
    pub stt_usd_per_minute: f64,
    /// An OpenAI-compatible text-to-speech service for AI agents' voices.
    #[arg(long = "tts-url", env = "SWITCHBOARD_TTS_URL")]
    pub tts_url: Option<String>,
    #[arg(long = "tts-key", env = "SWITCHBOARD_TTS_KEY", hide_env_values = true)]
    pub tts_key: Option<String>,
    #[arg(long = "tts-model", env = "SWITCHBOARD_TTS_MODEL", default_value = "tts-1")]
    pub tts_model: String,
    #[arg(long = "tts-voice", env = "SWITCHBOARD_TTS_VOICE", default_value = "alloy")]
    pub tts_voice: String,
    /// What the synthesis service charges per million characters, in USD (tts-1: 15).
    #[arg(
        long = "tts-usd-per-million-chars",
        env = "SWITCHBOARD_TTS_USD_PER_MILLION_CHARS",
        default_value_t = 15.0
    )]
    pub tts_usd_per_million_chars: f64,
    /// The local recogniser for calls that no cloud service hears and whose AI agent names
    /// none: `moonshine` (base-en: hears people best), `whisper` (tiny.en: hears robotic
    /// voices best) or `whisper-base`; `bench speech` compares them.
    #[arg(long, env = "SWITCHBOARD_RECOGNISER", value_parser = parse_recogniser, default_value = "moonshine")]
    pub recogniser: crate::model::Recogniser,
}

/// `whisper`, `whisper-base` or `moonshine`, as the command line names them.
pub fn parse_recogniser(s: &str) -> Result<crate::model::Recogniser, String> {
    match s {
        "whisper" => Ok(crate::model::Recogniser::Whisper),
        "whisper-base" => Ok(crate::model::Recogniser::WhisperBase),
        "moonshine" => Ok(crate::model::Recogniser::Moonshine),
        _ => Err(format!("{s:?}: the recognisers are whisper, whisper-base and moonshine")),
    }
}

/// The local recogniser for calls (see `--recogniser`, Moonshine unless told): never `Default`.
/// A process that installed no options (in-process tests, library use) gets Whisper tiny.en.
pub fn local_recogniser() -> crate::model::Recogniser {
    match CLOUD.get().map(|o| o.recogniser) {
        None | Some(crate::model::Recogniser::Default) => crate::model::Recogniser::Whisper,
        Some(r) => r,
    }
}

/// The cloud engines in use for calls, with their prices (micro-dollars).
pub struct CloudSpeech {
    pub stt: Option<(OpenAiStt, i64)>,
    pub tts: Option<(OpenAiTts, i64)>,
}

static CLOUD: std::sync::OnceLock<CloudSpeechOptions> = std::sync::OnceLock::new();

impl CloudSpeechOptions {
    /// Problems with the settings, for a clear start-up error.
    pub fn check(&self) -> Result<(), String> {
        for (name, url) in [("--stt-url", &self.stt_url), ("--tts-url", &self.tts_url)] {
            if let Some(u) = url {
                if !(u.starts_with("http://") || u.starts_with("https://")) {
                    return Err(format!("{name} must be an http:// or https:// URL, not {u:?}"));
                }
            }
        }
        for (name, price) in [
            ("--stt-usd-per-minute", self.stt_usd_per_minute),
            ("--tts-usd-per-million-chars", self.tts_usd_per_million_chars),
        ] {
            if !(0.0..=10_000.0).contains(&price) {
                return Err(format!("{name} must be between 0 and 10000"));
            }
        }
        Ok(())
    }

    /// Makes these the process's settings for calls (once, before the engines load).
    pub fn install(self) {
        let _ = CLOUD.set(self);
    }
}

/// The cloud engines configured for calls (built off the async runtime: blocking clients).
pub fn for_calls() -> Result<CloudSpeech, Error> {
    let Some(o) = CLOUD.get() else { return Ok(CloudSpeech { stt: None, tts: None }) };
    let stt = match &o.stt_url {
        Some(url) => {
            let endpoint = Endpoint::new(url, o.stt_key.clone(), &o.stt_model, Duration::from_secs(15))?;
            Some((OpenAiStt(endpoint), (o.stt_usd_per_minute * 1e6).round() as i64))
        }
        None => None,
    };
    let tts = match &o.tts_url {
        Some(url) => {
            let endpoint = Endpoint::new(url, o.tts_key.clone(), &o.tts_model, Duration::from_secs(15))?;
            let voice = OpenAiTts { endpoint, voice: o.tts_voice.clone() };
            Some((voice, (o.tts_usd_per_million_chars * 1e6).round() as i64))
        }
        None => None,
    };
    Ok(CloudSpeech { stt, tts })
}
