//! What several commands share: where the data lives, RTP port ranges, URLs fit for logs. A
//! leaf: it imports no command.

use crate::db::Db;
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;

/// Where the data lives (shared by every command that touches the database).
#[derive(Debug, Clone, Args)]
pub struct DataOptions {
    /// Directory for the SQLite database, recordings and voicemail.
    #[arg(long, env = "SWITCHBOARD_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Database URL (sqlite://FILE or postgres://USER:PASS@HOST/DB); default: SQLite in the data directory.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
}

impl DataOptions {
    pub fn url(&self) -> anyhow::Result<String> {
        match &self.database_url {
            Some(u) => Ok(u.clone()),
            None => {
                std::fs::create_dir_all(&self.data_dir)
                    .with_context(|| format!("cannot create data directory {}", self.data_dir.display()))?;
                Ok(Db::sqlite_url(&self.data_dir))
            }
        }
    }

    /// Opens the database with the secret key that seals configuration secrets at rest.
    pub async fn open(&self) -> anyhow::Result<Db> {
        let url = self.url()?;
        let key = crate::secrets::SecretKey::load_or_create(&self.data_dir)
            .map_err(|e| anyhow::anyhow!("secret key: {e}"))?;
        Ok(Db::open(&url)
            .await
            .with_context(|| format!("cannot open database {}", redact_url(&url)))?
            .with_secrets(key))
    }
}

/// Hides a password in a database URL for messages.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let Some((creds, host)) = rest.rsplit_once('@') else { return url.to_string() };
    match creds.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

/// A `ws://` or `wss://` URL (where browsers connect their SIP WebSocket).
pub fn parse_websocket_url(s: &str) -> Result<String, String> {
    let rest = s.strip_prefix("wss://").or_else(|| s.strip_prefix("ws://"));
    match rest {
        Some(r) if !r.is_empty() && !r.starts_with('/') && !r.contains(char::is_whitespace) => {
            Ok(s.to_string())
        }
        _ => Err("expected a ws:// or wss:// URL, e.g. wss://sip.example.com:8089".into()),
    }
}

/// What browsers' legs use: `opus` (Opus first, G.711 for a browser without it) or `g711`
/// (PCMU/PCMA only: no transcoding toward G.711 carriers).
pub fn parse_browser_codecs(s: &str) -> Result<switchboard_telephony::media::webrtc::BrowserCodecs, String> {
    use switchboard_telephony::media::webrtc::BrowserCodecs;
    match s.trim().to_ascii_lowercase().as_str() {
        "opus" => Ok(BrowserCodecs::Opus),
        "g711" | "g.711" | "pcmu" => Ok(BrowserCodecs::G711),
        other => Err(format!("'{other}' is not a browser codec choice: opus or g711")),
    }
}

/// Checks a `LO-HI` RTP port range.
pub fn parse_port_range(s: &str) -> Result<(u16, u16), String> {
    let (lo, hi) = s.split_once('-').ok_or("expected LO-HI, e.g. 10000-20000")?;
    let lo: u16 = lo.trim().parse().map_err(|_| format!("'{lo}' is not a port"))?;
    let hi: u16 = hi.trim().parse().map_err(|_| format!("'{hi}' is not a port"))?;
    if lo < 1024 || hi <= lo {
        return Err("the range must be LO-HI with 1024 <= LO < HI".into());
    }
    if hi - lo < 2 {
        return Err("the range must hold at least one RTP/RTCP port pair".into());
    }
    Ok((lo, hi))
}

/// CPU seconds this process has used (user + system), for benchmarks.
pub fn cpu_seconds() -> f64 {
    cpu_seconds_at("/proc/self/stat")
}

/// CPU time (user and system) process `pid` has used so far, in seconds (0 once it is gone).
pub fn cpu_seconds_of(pid: u32) -> f64 {
    cpu_seconds_at(&format!("/proc/{pid}/stat"))
}

fn cpu_seconds_at(path: &str) -> f64 {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// Relays run on media threads of their own, one per core (see
/// `switchboard_telephony::media::relay::use_media_threads`).
pub fn media_threads() -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    switchboard_telephony::media::relay::use_media_threads(cores)
        .map_err(|e| anyhow::anyhow!("cannot start the media threads: {e}"))
}

/// Where the speech models are and which recogniser a speech command uses.
#[derive(Debug, Clone, Args)]
pub struct ModelOptions {
    /// Where model packages are installed (scripts/setup puts them there).
    #[arg(long, env = "SWITCHBOARD_MODELS")]
    pub models: Option<PathBuf>,
    /// Threads for recognition.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// An OpenAI-compatible speech-to-text service to use instead of the local model
    /// (base URL with the version, e.g. https://api.openai.com/v1).
    #[arg(long, env = "SWITCHBOARD_STT_URL")]
    pub stt_url: Option<String>,
    #[arg(long, env = "SWITCHBOARD_STT_KEY", hide_env_values = true)]
    pub stt_key: Option<String>,
    #[arg(long, env = "SWITCHBOARD_STT_MODEL", default_value = "whisper-1")]
    pub stt_model: String,
    /// The local recogniser: whisper (tiny.en), whisper-base or moonshine (base-en).
    #[arg(long, default_value = "whisper", value_parser = crate::speechcloud::parse_recogniser)]
    pub recogniser: crate::model::Recogniser,
}

impl ModelOptions {
    pub fn dir(&self) -> PathBuf {
        self.models.clone().unwrap_or_else(switchboard_models::catalog::default_dir)
    }
}

pub(super) fn free_udp_port() -> anyhow::Result<u16> {
    Ok(std::net::UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// (successful, failed) from sipp's final statistics screen.
pub(super) fn sipp_counts(stdout: &str) -> (u64, u64) {
    let last_number = |label: &str| {
        stdout
            .lines()
            .filter(|l| l.trim_start().starts_with(label))
            .filter_map(|l| l.split('|').nth(2).and_then(|v| v.trim().parse::<u64>().ok()))
            .next_back()
            .unwrap_or(0)
    };
    (last_number("Successful call"), last_number("Failed call"))
}

pub(super) const CALL: &str = r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="bench call">
  <send retrans="500"><![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:+12025550104@[local_ip]:[local_port]>;tag=[pid]T[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:carrier@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=carrier 1 1 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[local_ip_type] [local_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000
]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200"/>
  <send><![CDATA[
ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:+12025550104@[local_ip]:[local_port]>;tag=[pid]T[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0
]]></send>
  HOLD
  <send retrans="500"><![CDATA[
BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:+12025550104@[local_ip]:[local_port]>;tag=[pid]T[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 2 BYE
Max-Forwards: 70
Content-Length: 0
]]></send>
  <recv response="200"/>
</scenario>
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_ranges() {
        assert_eq!(parse_port_range("10000-20000"), Ok((10000, 20000)));
        assert!(parse_port_range("20000-10000").is_err());
        assert!(parse_port_range("80-90").is_err());
        assert!(parse_port_range("10000").is_err());
        assert!(parse_port_range("10000-x").is_err());
        assert_eq!(
            parse_websocket_url("wss://sip.example.com:8089").as_deref(),
            Ok("wss://sip.example.com:8089")
        );
        assert!(parse_websocket_url("ws://127.0.0.1:8088/").is_ok());
        for bad in ["https://x", "wss://", "ws:///x", "wss://a b", "sip.example.com"] {
            assert!(parse_websocket_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn browser_codec_choices() {
        use switchboard_telephony::media::webrtc::BrowserCodecs;
        assert_eq!(parse_browser_codecs("opus"), Ok(BrowserCodecs::Opus));
        assert_eq!(parse_browser_codecs(" G711 "), Ok(BrowserCodecs::G711));
        let bad = parse_browser_codecs("speex").unwrap_err();
        assert!(bad.contains("opus or g711"), "{bad}");
    }

    #[test]
    fn database_passwords_are_hidden() {
        assert_eq!(redact_url("postgres://sb:secret@localhost/sb"), "postgres://sb:***@localhost/sb");
        assert_eq!(redact_url("sqlite://data/switchboard.db"), "sqlite://data/switchboard.db");
    }
}
