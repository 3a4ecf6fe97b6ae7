//! `switchboard agent chat`: a text conversation with an AI agent in the terminal. The same
//! session as a phone call (brain, tools, caller matching, call record), with lines instead of
//! audio; standard input may be a script.

use super::options::DataOptions;
use crate::agent::{Next, Session, SessionSetup};
use crate::store::{accounts, calls};
use anyhow::Context;
use clap::Args;
use serde_json::Value;
use std::io::Write;
use tokio::io::AsyncBufReadExt;

#[derive(Debug, Clone, Args)]
pub struct ChatOptions {
    /// The account's short name.
    #[arg(long)]
    pub account: String,
    /// The AI agent's name.
    #[arg(long)]
    pub agent: String,
    /// Pretend to call from this number (E.164): the caller is matched to a customer by it.
    #[arg(long)]
    pub caller: Option<String>,
    /// Also print tool calls and other timeline events.
    #[arg(long, short)]
    pub verbose: bool,
    #[command(flatten)]
    pub data: DataOptions,
}

fn show_event(kind: &str, data: &Value) -> Option<String> {
    match kind {
        "transcript" | "ai_turn" => None,
        "tool_call" => Some(format!(
            "[tool {} {} -> {} ({} ms)]",
            data["tool"].as_str().unwrap_or("?"),
            data["arguments"],
            if data["error"].is_null() {
                data["result"].to_string()
            } else {
                format!("error: {}", data["error"])
            },
            data["duration_ms"]
        )),
        other => Some(format!("[{other} {data}]")),
    }
}

pub async fn chat(opts: ChatOptions) -> anyhow::Result<()> {
    let db = opts.data.open().await?;
    let account = accounts::by_slug(&db, &opts.account)
        .await?
        .with_context(|| format!("no account '{}'", opts.account))?;
    let caller = opts.caller.as_deref().and_then(crate::calls::planner::as_e164);
    if opts.caller.is_some() && caller.is_none() {
        anyhow::bail!("--caller must be a phone number such as +15551234567");
    }
    let records = calls::RecordWriter::start(db.clone());
    let record = records.create(
        account.id,
        calls::NewCall {
            direction: "inbound".into(),
            from_number: caller.clone().unwrap_or_else(|| "anonymous".into()),
            to_number: "chat".into(),
            customer_id: None,
            agent_extension: None,
            ai_agent: Some(opts.agent.clone()),
        },
        caller.clone(),
    );
    records.answered(record);
    let setup = SessionSetup {
        db: db.clone(),
        records: records.clone(),
        account: account.id,
        agent: opts.agent.clone(),
        caller_number: caller,
        record: Some(record),
    };
    let mut session = Session::start(setup).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut events = session.observe();
    let verbose = opts.verbose;
    let printer = tokio::spawn(async move {
        while let Some((kind, data)) = events.recv().await {
            if let Some(line) = show_event(&kind, &data).filter(|_| verbose) {
                eprintln!("{line}");
            }
        }
    });
    if let Some(name) = session.customer().and_then(|c| c["name"].as_str()) {
        eprintln!("[caller matched to customer {name}]");
    }
    eprintln!("[{} agent; type what the caller says, end with Ctrl-D]", session.brain_name());
    println!("agent: {}", session.greeting());
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    // Typing Ctrl-D is the caller hanging up.
    let mut ended_by: (crate::store::calls::HungUpBy, Option<String>) =
        (crate::store::calls::HungUpBy::Caller, None);
    while let Some(line) = lines.next_line().await? {
        let line = line.trim().to_string();
        if line.is_empty() {
            continue;
        }
        println!("caller: {line}");
        let (say_tx, mut say_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        let speak = async {
            let mut first = true;
            while let Some(sentence) = say_rx.recv().await {
                if first {
                    print!("agent:");
                    first = false;
                }
                print!(" {sentence}");
                let _ = std::io::stdout().flush();
            }
            if !first {
                println!();
            }
        };
        let respond = async {
            let next = session.respond(&line, &say_tx).await;
            drop(say_tx);
            next
        };
        let (next, ()) = tokio::join!(respond, speak);
        let end = match &next {
            Next::Listen => None,
            Next::Transfer { target, summary, .. } => {
                Some(format!("transferred to {} ({summary})", serde_json::to_string(target)?))
            }
            Next::TakeMessage { summary } => Some(format!("sent to leave a message ({summary})")),
            Next::Hangup { reason } => Some(format!("call ended by the agent ({reason})")),
            Next::Fallback { target, reason } => {
                println!(
                    "agent: I'm sorry, I'm having trouble right now. Let me get you to someone who can help."
                );
                Some(format!("fallback to {} ({reason})", serde_json::to_string(target)?))
            }
        };
        if let Some(end) = end {
            println!("[{end}]");
            ended_by = (crate::store::calls::HungUpBy::System, Some(end));
            break;
        }
    }
    session.finish();
    let ending = crate::store::calls::Ending {
        disposition: crate::store::calls::Disposition::Answered,
        hung_up_by: Some(ended_by.0),
        carrier: None,
    };
    records.event(
        record,
        "ended",
        serde_json::json!({ "disposition": ending.disposition, "hung_up_by": ending.hung_up_by, "outcome": ended_by.1 }),
    );
    records.finish(record, ending);
    records.flush().await;
    drop(session);
    let _ = printer.await;
    db.close().await;
    Ok(())
}
