//! Speech from the command line: `transcribe` a WAV file, `say` text into one, and
//! `models list` what is installed and which engine each job will use.

use anyhow::{bail, Context};
use clap::Args;
use std::path::PathBuf;
use switchboard_models::catalog;
use switchboard_speech::frame::AudioFrame;
use switchboard_speech::resample::resample;
use switchboard_speech::stt::SpeechToText;
use switchboard_speech::tts::{Espeak, TextToSpeech};
use switchboard_telephony::media::wav;

pub use super::options::ModelOptions;

fn clock(ms: u64) -> String {
    format!("{:02}:{:02}.{}", ms / 60_000, ms / 1000 % 60, ms % 1000 / 100)
}

/// Prints the transcript of a WAV file (any rate; stereo = one speaker per channel).
pub fn transcribe(file: &PathBuf, opts: &ModelOptions) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let (info, samples) =
        wav::decode(&bytes).with_context(|| format!("{} is not usable audio", file.display()))?;
    if !(1..=2).contains(&info.channels) {
        bail!(
            "{}: {} channels; mono or stereo (one speaker per channel) please",
            file.display(),
            info.channels
        );
    }
    if samples.iter().all(|&s| s == 0) {
        bail!("{}: the audio is silent", file.display());
    }
    let clipped = samples.iter().filter(|&&s| s >= 32_700 || s <= -32_700).count();
    if clipped * 5 > samples.len() {
        bail!(
            "{}: the audio is clipped ({}% of samples at full scale); record it again at a lower level",
            file.display(),
            clipped * 100 / samples.len()
        );
    }
    let stt: std::sync::Arc<dyn SpeechToText> = match &opts.stt_url {
        Some(url) => std::sync::Arc::new(crate::speechcloud::OpenAiStt(crate::speechcloud::Endpoint::new(
            url,
            opts.stt_key.clone(),
            &opts.stt_model,
            std::time::Duration::from_secs(120),
        )?)),
        None => crate::agent::voice::local_recogniser(opts.recogniser, &opts.dir(), opts.threads, 1)?,
    };
    let channels = info.channels as usize;
    let mut lines: Vec<(u64, u64, usize, String)> = Vec::new();
    for ch in 0..channels {
        let mono: Vec<i16> = samples.iter().skip(ch).step_by(channels).copied().collect();
        let audio = resample(&mono, info.sample_rate, 16_000)?;
        let frame = AudioFrame { rate: 16_000, samples: audio, at_ms: 0 };
        let end = frame.duration_ms();
        let t = stt.transcribe(&frame, false)?;
        if t.segments.is_empty() && !t.text.is_empty() {
            lines.push((0, end, ch, t.text)); // a service that gives no segment timings
        }
        for (start, end, text) in t.segments {
            lines.push((start, end, ch, text));
        }
    }
    lines.sort_by_key(|l| (l.0, l.2));
    for (start, end, ch, text) in lines {
        if channels == 2 {
            println!("[{} - {}] Speaker {}: {text}", clock(start), clock(end), ch + 1);
        } else {
            println!("[{} - {}] {text}", clock(start), clock(end));
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Args)]
pub struct SayOptions {
    pub text: String,
    /// Output WAV file.
    #[arg(short = 'o', long)]
    pub out: PathBuf,
    /// The voice: `piper` (natural; needs its model package) or `espeak` (always available).
    /// Default: piper when installed. With --tts-url, the service's voice name (e.g. alloy).
    #[arg(long)]
    pub voice: Option<String>,
    /// An OpenAI-compatible text-to-speech service to use instead of the local voices.
    #[arg(long, env = "SWITCHBOARD_TTS_URL")]
    pub tts_url: Option<String>,
    #[arg(long, env = "SWITCHBOARD_TTS_KEY", hide_env_values = true)]
    pub tts_key: Option<String>,
    #[arg(long, env = "SWITCHBOARD_TTS_MODEL", default_value = "tts-1")]
    pub tts_model: String,
    #[command(flatten)]
    pub models: ModelOptions,
    /// Output sample rate (8000 for a phone line).
    #[arg(long)]
    pub rate: Option<u32>,
    /// Piper without its random variation: the same text always gives the same audio.
    #[arg(long)]
    pub steady: bool,
}

/// Synthesises text (normalised for the phone) into a WAV file.
pub fn say(opts: &SayOptions) -> anyhow::Result<()> {
    let tts: std::sync::Arc<dyn TextToSpeech> = match opts.voice.as_deref() {
        _ if opts.tts_url.is_some() => std::sync::Arc::new(crate::speechcloud::OpenAiTts {
            endpoint: crate::speechcloud::Endpoint::new(
                opts.tts_url.as_deref().unwrap_or_default(),
                opts.tts_key.clone(),
                &opts.tts_model,
                std::time::Duration::from_secs(60),
            )?,
            voice: opts.voice.clone().unwrap_or_else(|| "alloy".into()),
        }),
        None => switchboard_speech::tts::default_voice(&opts.models.dir()),
        Some("espeak") => std::sync::Arc::new(Espeak::default()),
        Some("piper") => {
            let piper = switchboard_speech::tts::Piper::load(&opts.models.dir(), opts.models.threads)?;
            std::sync::Arc::new(if opts.steady { piper.steady() } else { piper })
        }
        Some(other) => bail!("unknown voice {other:?}; available: piper, espeak"),
    };
    let text = switchboard_speech::text::for_phone(&opts.text);
    if text.trim().is_empty() {
        bail!("nothing to say");
    }
    let audio = tts.synthesize(&text)?;
    let rate = opts.rate.unwrap_or(audio.rate);
    let samples = resample(&audio.samples, audio.rate, rate)?;
    std::fs::write(&opts.out, wav::encode_pcm16(&samples, rate, 1))
        .with_context(|| format!("cannot write {}", opts.out.display()))?;
    println!(
        "{} ({} ms at {rate} Hz, {})",
        opts.out.display(),
        samples.len() as u64 * 1000 / rate as u64,
        tts.name()
    );
    Ok(())
}

/// What is installed, and which engine each speech job uses.
pub fn list(opts: &ModelOptions, verify: bool) -> anyhow::Result<()> {
    let dir = opts.dir();
    println!("models directory: {}", dir.display());
    for spec in catalog::ALL {
        let status = if verify {
            match catalog::verify(&dir, spec) {
                catalog::Status::Installed => "installed, verified".to_string(),
                catalog::Status::Missing { file } => format!("MISSING {file}"),
                catalog::Status::Damaged { file, why } => format!("DAMAGED {file}: {why}"),
            }
        } else {
            match catalog::locate(&dir, spec) {
                Ok(_) => "installed".to_string(),
                Err(e) => format!("NOT USABLE: {e}"),
            }
        };
        println!("  {:<18} {:<34} {:<28} {status}", spec.name, spec.purpose, spec.package);
    }
    let converted = switchboard_models::whisper::converted_path(&dir.join("converted"));
    println!("engines:");
    println!(
        "  speech recognition  whisper.cpp with whisper-tiny.en ({}); per AI agent or `serve \
         --recogniser`: whisper-base (whisper.cpp), moonshine-base-en (ONNX Runtime)",
        if converted.exists() {
            format!("converted: {}", converted.display())
        } else {
            "converted on first use".into()
        }
    );
    let espeak =
        std::process::Command::new("espeak-ng").arg("--version").output().is_ok_and(|o| o.status.success());
    let piper = catalog::locate(&dir, &catalog::PIPER_JOE).is_ok() && catalog::onnx_runtime(&dir).is_ok();
    println!(
        "  text to speech      {} (fallback espeak-ng: {})",
        if piper {
            "piper-joe on ONNX Runtime"
        } else {
            "espeak-ng (piper-joe or onnxruntime not installed)"
        },
        if espeak { "installed" } else { "NOT INSTALLED: apt install espeak-ng" }
    );
    match catalog::onnx_runtime(&dir) {
        Ok(p) => println!("  ONNX Runtime        {}", p.display()),
        Err(e) => println!("  ONNX Runtime        NOT USABLE: {e}"),
    }
    Ok(())
}
