//! The `switchboard` command line: every command, each in its own module (`serve`, `bench`,
//! `bench_agent`, `chat`, `speech`); the account, user and config commands are here. What the
//! commands share (where the data lives, port ranges) is the leaf module `options`, so that no
//! command imports another.

pub mod bench;
pub mod bench_agent;
pub mod bench_cluster;
pub mod bench_coach;
pub mod bench_intents;
pub mod bench_mixer;
pub mod bench_speech;
pub mod bench_webrtc;
pub mod chat;
pub mod doctor;
pub mod options;
pub mod replay;
pub mod serve;
pub mod speech;

pub use options::{parse_port_range, redact_url, DataOptions};

use crate::configfile::{self, ConfigFile};
use crate::model::{AccountSettings, Role};
use crate::store::{accounts, users};
use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use serve::ServeOptions;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about = "An AI-native phone system for online merchants")]
pub struct Cli {
    /// Log format: readable text or one JSON object per line.
    #[arg(long, global = true, value_enum, default_value = "text", env = "SWITCHBOARD_LOG_FORMAT")]
    pub log_format: LogFormat,
    /// Append logs to this file instead of writing them to standard error.
    #[arg(long, global = true, env = "SWITCHBOARD_LOG_FILE")]
    pub log_file: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start everything: HTTP API and web UI, SIP and RTP.
    Serve(Box<ServeOptions>),
    /// Print an account's configuration as YAML.
    Export {
        #[arg(long)]
        account: String,
        /// Include SIP passwords, PINs, API keys and secret headers.
        #[arg(long)]
        include_secrets: bool,
        #[command(flatten)]
        data: DataOptions,
    },
    /// Make an account's configuration match a YAML file (validated first; all or nothing).
    Import {
        file: PathBuf,
        /// Only validate and report problems.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        data: DataOptions,
    },
    /// Manage accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Benchmarks that print figures.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Print the transcript of a WAV file (any rate; stereo: one speaker per channel).
    Transcribe {
        file: PathBuf,
        #[command(flatten)]
        models: speech::ModelOptions,
    },
    /// Speak text into a WAV file.
    Say(speech::SayOptions),
    /// Speech and language models.
    #[command(subcommand)]
    Models(ModelsCommand),
    /// AI agents.
    #[command(subcommand)]
    Agent(AgentCommand),
    /// Check what can be checked from this machine (ports, RTP range, database, models, TLS
    /// certificate, trunks, a SIP OPTIONS round trip), each result with its fix.
    Doctor(doctor::DoctorOptions),
}

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Talk to an AI agent in the terminal (text, no audio): the same brain, tools, caller
    /// matching and call record as a phone call. Reads lines from standard input until it ends.
    Chat(chat::ChatOptions),
    /// Say the caller turns of recorded AI calls again to an agent as it is configured now and
    /// show, turn by turn, what it would say and do differently (no call record is written;
    /// merchant webhooks are not called: their recorded answers are reused).
    Replay(replay::ReplayOptions),
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// What is installed and what each engine will use.
    List {
        /// Also check every file's SHA-256 (reads them all).
        #[arg(long)]
        verify: bool,
        #[command(flatten)]
        models: speech::ModelOptions,
    },
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// SIP call set-up rate and concurrent relayed calls, driven by sipp on loopback.
    Sip(bench::BenchSipOptions),
    /// Speech recognition and synthesis speed, VAD cost.
    Speech(bench_speech::BenchSpeechOptions),
    /// End of turn: hesitations taken for the end against the wait after a real end.
    Turns(bench_speech::turns::BenchTurnsOptions),
    /// AI calls: voice-to-voice latency and how many calls this machine holds.
    Agent(bench_agent::BenchAgentOptions),
    /// Browser calls (WebRTC, Opus) bridged to G.711 carrier legs: CPU per call and loss.
    Webrtc(bench_webrtc::BenchWebrtcOptions),
    /// Conference mixing: CPU per party, for the mixer alone and the bridge as calls use it.
    Mixer(bench_mixer::BenchMixerOptions),
    /// Live coaching: time from the caller's words to the agent's card.
    Coach(bench_coach::BenchCoachOptions),
    /// Several nodes behind Kamailio on one PostgreSQL: set-up rate and held calls with one
    /// node and with several, side by side (needs sipp and kamailio).
    Cluster(bench_cluster::BenchClusterOptions),
    /// Understanding callers: the guided agent (and an LLM, with --llm-url) on held-out
    /// phrasings, several conversations at once: accuracy and time per turn.
    Intents(bench_intents::BenchIntentsOptions),
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Create an account with its first owner.
    Create {
        /// Short name: lowercase letters, digits, '-' and '_'.
        slug: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        owner_email: String,
        /// The owner's password (or SWITCHBOARD_OWNER_PASSWORD).
        #[arg(long, env = "SWITCHBOARD_OWNER_PASSWORD", hide_env_values = true)]
        owner_password: String,
        #[command(flatten)]
        data: DataOptions,
    },
    /// List accounts.
    List {
        #[command(flatten)]
        data: DataOptions,
    },
}

/// Logs go to standard error, or to `file`. `info` keeps at most one line per call (its end)
/// and a periodic summary; per-call detail is `debug` (`RUST_LOG=debug`). A benchmark prints
/// only its figures: without a log file, it logs errors only.
fn init_logging(format: LogFormat, file: Option<&std::path::Path>, bench: bool) -> anyhow::Result<()> {
    let default = if bench && file.is_none() { "error" } else { "info,sqlx=warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let writer = match file {
        Some(path) => {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open the log file {}", path.display()))?;
            tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::sync::Mutex::new(f))
        }
        None => tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::io::stderr),
    };
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer).with_ansi(file.is_none());
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
    Ok(())
}

/// Prints validation problems one per line.
fn report(e: crate::Error) -> anyhow::Error {
    match e {
        crate::Error::Invalid(problems) => {
            let lines: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
            anyhow::anyhow!("{} problem(s) found, nothing was changed:\n{}", problems.len(), lines.join("\n"))
        }
        other => other.into(),
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    init_logging(cli.log_format, cli.log_file.as_deref(), matches!(cli.command, Command::Bench(_)))?;
    match cli.command {
        Command::Serve(opts) => serve::run(*opts).await,
        Command::Doctor(opts) => {
            if !doctor::doctor(opts).await? {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Bench(BenchCommand::Sip(opts)) => bench::sip(opts).await,
        Command::Bench(BenchCommand::Agent(opts)) => bench_agent::agent(opts).await,
        Command::Bench(BenchCommand::Webrtc(opts)) => bench_webrtc::webrtc(opts).await,
        Command::Bench(BenchCommand::Mixer(opts)) => bench_mixer::mixer(opts).await,
        Command::Bench(BenchCommand::Coach(opts)) => bench_coach::coach(opts).await,
        Command::Bench(BenchCommand::Intents(opts)) => bench_intents::intents(opts).await,
        Command::Bench(BenchCommand::Cluster(opts)) => bench_cluster::cluster(opts).await,
        Command::Bench(BenchCommand::Speech(opts)) => {
            tokio::task::spawn_blocking(move || bench_speech::speech(opts)).await?
        }
        Command::Bench(BenchCommand::Turns(opts)) => {
            tokio::task::spawn_blocking(move || bench_speech::turns::turns(opts)).await?
        }
        Command::Transcribe { file, models } => {
            tokio::task::spawn_blocking(move || speech::transcribe(&file, &models)).await?
        }
        Command::Say(opts) => tokio::task::spawn_blocking(move || speech::say(&opts)).await?,
        Command::Models(ModelsCommand::List { verify, models }) => speech::list(&models, verify),
        Command::Agent(AgentCommand::Chat(opts)) => chat::chat(opts).await,
        Command::Agent(AgentCommand::Replay(opts)) => replay::replay(opts).await,
        Command::Export { account, include_secrets, data } => {
            let db = data.open().await?;
            let file = configfile::export(&db, &account, include_secrets).await.map_err(report)?;
            print!("# Switchboard configuration for account '{account}'\n{}", file.to_yaml()?);
            db.close().await;
            Ok(())
        }
        Command::Import { file, dry_run, data } => {
            let text =
                std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let config = ConfigFile::from_yaml(&text).map_err(report)?;
            let db = data.open().await?;
            let result = configfile::import(&db, config, dry_run).await;
            db.close().await;
            let summary = result.map_err(report)?;
            if dry_run {
                println!("{}: no problems found (dry run, nothing changed)", file.display());
            } else {
                let s = summary.to_string();
                println!(
                    "{}: imported{}",
                    file.display(),
                    if s.is_empty() { " (no changes)".to_string() } else { format!("\n{}", s.trim_end()) }
                );
            }
            Ok(())
        }
        Command::Account(AccountCommand::Create { slug, name, owner_email, owner_password, data }) => {
            let db = data.open().await?;
            let account = accounts::create(&db, &slug, &AccountSettings::new(name)).await.map_err(report)?;
            let owner = users::UserInput {
                email: owner_email,
                name: "Owner".into(),
                role: Role::Owner,
                password: Some(owner_password),
                agent_extension: None,
                disabled: false,
            };
            if let Err(e) = users::create(&db, account.id, &owner).await {
                // Keep the two steps together: no account without an owner.
                sqlx::query("DELETE FROM accounts WHERE id = $1").bind(account.id).execute(db.pool()).await?;
                return Err(report(e));
            }
            println!("account '{slug}' created with owner {}", owner.email);
            db.close().await;
            Ok(())
        }
        Command::Account(AccountCommand::List { data }) => {
            let db = data.open().await?;
            for a in accounts::list(&db).await? {
                println!("{}\t{}", a.slug, a.settings.name);
            }
            db.close().await;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_parses() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    /// Callers are people: the server hears them with Moonshine unless told otherwise (`bench
    /// speech`: 3.8 % word errors on a person's phone speech, Whisper tiny.en 9.9 %), and the
    /// agent benchmark measures that default.
    #[test]
    fn calls_are_heard_with_moonshine_by_default() {
        if std::env::var_os("SWITCHBOARD_RECOGNISER").is_some() {
            return; // the environment chose
        }
        let Ok(Cli { command: Command::Serve(serve), .. }) = Cli::try_parse_from(["switchboard", "serve"])
        else {
            panic!("serve parses");
        };
        assert_eq!(serve.speech.recogniser, crate::model::Recogniser::Moonshine);
        let cli = Cli::try_parse_from(["switchboard", "bench", "agent"]).expect("bench agent parses");
        let Command::Bench(BenchCommand::Agent(agent)) = cli.command else { panic!("bench agent") };
        assert_eq!(agent.recogniser, crate::model::Recogniser::Moonshine);
    }
}
