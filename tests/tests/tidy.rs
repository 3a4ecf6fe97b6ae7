//! The codebase's structural rules, checked on the source (as rust-analyzer's tidy tests do):
//! a rule written only in ARCHITECTURE.md is a wish; here it fails the build.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Every `.rs` file under `dir` (relative to the workspace root).
fn rust_files(dir: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let path = e.path();
            let name = e.file_name().to_string_lossy().to_string();
            if path.is_dir() {
                if !matches!(name.as_str(), "target" | "node_modules" | ".git") {
                    walk(&path, out);
                }
            } else if name.ends_with(".rs") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&root().join(dir), &mut out);
    assert!(!out.is_empty(), "no Rust files under {dir}");
    out.sort();
    out
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root()).unwrap_or(path).to_string_lossy().to_string()
}

/// The code of a file without its `#[cfg(test)]` module (tests may use what the code may not).
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => text.get(..at).unwrap_or(&text).to_string(),
        None => text,
    }
}

/// The protocol and pipeline state machines: time is an input, they do no I/O of their own.
const SANS_IO: &[&str] = &[
    "telephony/src/sip/",
    "telephony/src/sdp.rs",
    "telephony/src/media/dtmf.rs",
    "telephony/src/media/g711.rs",
    "telephony/src/media/jitter.rs",
    "telephony/src/media/mixer.rs",
    "telephony/src/media/rtcp.rs",
    "telephony/src/media/rtp.rs",
    "telephony/src/media/wav.rs",
    "telephony/src/media/webrtc.rs",
    "speech/src/bargein.rs",
    "speech/src/ears.rs",
    "speech/src/frame.rs",
    "speech/src/resample.rs",
    "speech/src/turn.rs",
    "speech/src/vad.rs",
];

#[test]
fn sans_io_cores_read_no_clock_spawn_nothing_and_open_no_socket() {
    let forbidden = [
        "Instant::now",
        "SystemTime::now",
        "Utc::now",
        "tokio::spawn",
        "thread::spawn",
        "UdpSocket",
        "TcpStream",
        "TcpListener",
        "tokio::net",
        "tokio::time",
    ];
    let mut found = Vec::new();
    for file in rust_files("telephony/src").into_iter().chain(rust_files("speech/src")) {
        let rel = relative(&file);
        if !SANS_IO.iter().any(|p| rel.starts_with(p)) || rel.ends_with("/tests.rs") {
            continue;
        }
        let text = code(&file);
        for f in forbidden {
            if text.contains(f) {
                found.push(format!("{rel}: {f}"));
            }
        }
    }
    assert!(found.is_empty(), "sans-IO code doing I/O or reading the clock:\n{}", found.join("\n"));
}

#[test]
fn anyhow_stays_in_commands_binaries_and_tests() {
    // The command layer of the orchestrator (its binary's subcommands); every other module and
    // every library crate uses its crate's error enum.
    let commands = ["orchestrator/src/main.rs", "orchestrator/src/tls.rs"];
    let mut found = Vec::new();
    for dir in ["telephony/src", "speech/src", "models/src", "tools/src", "orchestrator/src"] {
        for file in rust_files(dir) {
            let rel = relative(&file);
            if commands.contains(&rel.as_str()) || rel.starts_with("orchestrator/src/cli/") {
                continue;
            }
            if code(&file).contains("anyhow") {
                found.push(rel);
            }
        }
    }
    assert!(found.is_empty(), "anyhow outside the command layer:\n{}", found.join("\n"));
}

#[test]
fn commands_share_only_the_options_module() {
    // Each command in `cli/` stands alone: what two share lives in the leaf `options`, and only
    // `cli/mod.rs` (the command line itself) names the commands.
    let commands = [
        "serve",
        "bench",
        "bench_agent",
        "bench_cluster",
        "bench_coach",
        "bench_intents",
        "bench_mixer",
        "bench_speech",
        "bench_webrtc",
        "chat",
        "doctor",
        "speech",
        "replay",
    ];
    let mut found = Vec::new();
    for file in rust_files("orchestrator/src/cli") {
        let rel = relative(&file);
        if rel.ends_with("/mod.rs") {
            continue;
        }
        let text = code(&file);
        for other in commands {
            for path in [format!("super::{other}::"), format!("crate::cli::{other}")] {
                if text.contains(&path) {
                    found.push(format!("{rel} uses {path}"));
                }
            }
        }
        if rel.ends_with("/options.rs") && (text.contains("super::") || text.contains("crate::cli")) {
            found.push(format!("{rel} is not a leaf"));
        }
    }
    assert!(found.is_empty(), "commands depending on each other:\n{}", found.join("\n"));
}

#[test]
fn the_configuration_model_depends_on_neither_storage_nor_the_agent() {
    let mut found = Vec::new();
    for file in rust_files("orchestrator/src/model") {
        let text = code(&file);
        for f in ["crate::store", "crate::agent", "crate::calls", "crate::db", "sqlx"] {
            if text.contains(f) {
                found.push(format!("{}: {f}", relative(&file)));
            }
        }
    }
    assert!(found.is_empty(), "the model reaches into other layers:\n{}", found.join("\n"));
}

#[test]
fn the_call_services_do_not_construct_each_other() {
    // IVR, queue, voicemail and the AI voice agent return where the caller goes next; only the
    // dispatcher starts a service.
    let services = [
        ("orchestrator/src/calls/ivr.rs", "ivr::run("),
        ("orchestrator/src/calls/queue.rs", "queue::run("),
        ("orchestrator/src/calls/voicemail.rs", "voicemail::deposit("),
        ("orchestrator/src/agent/voice/mod.rs", "VoiceCall::new("),
    ];
    let mut found = Vec::new();
    for (file, _) in services {
        let text = code(&root().join(file));
        for (other, entry) in services {
            if other != file && text.contains(entry) {
                found.push(format!("{file} starts {other}"));
            }
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn no_source_file_passes_eight_hundred_lines() {
    let mut found = Vec::new();
    for dir in [
        "telephony/src",
        "speech/src",
        "models/src",
        "tools/src",
        "orchestrator/src",
        "tests/src",
        "tests/tests",
    ] {
        for file in rust_files(dir) {
            let lines = std::fs::read_to_string(&file).unwrap().lines().count();
            if lines > 800 {
                found.push(format!("{}: {lines} lines", relative(&file)));
            }
        }
    }
    assert!(found.is_empty(), "split these by what they do:\n{}", found.join("\n"));
}
