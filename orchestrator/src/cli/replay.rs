//! `switchboard agent replay`: recorded AI calls said again to an agent as it is configured
//! now, turn by turn, with what it would say and do differently (see `agent::replay`).

use super::options::DataOptions;
use crate::agent::replay::{self, Did};
use crate::store::{accounts, calls};
use anyhow::Context;
use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct ReplayOptions {
    /// The account's short name.
    #[arg(long)]
    pub account: String,
    /// The call to replay (its id in the call history); repeat for several.
    #[arg(long = "call")]
    pub calls: Vec<i64>,
    /// Replay the account's last N calls taken by the agent instead (or by any AI agent).
    #[arg(long)]
    pub last: Option<usize>,
    /// The agent to replay them with (default: the one that took each call).
    #[arg(long)]
    pub agent: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub data: DataOptions,
}

fn did(d: &Did) -> String {
    let mut parts = Vec::new();
    for t in &d.tools {
        parts.push(format!("[{} {}]", t.tool, t.arguments));
    }
    if !d.said.is_empty() {
        parts.push(format!("\"{}\"", d.said));
    }
    if let Some(o) = &d.outcome {
        parts.push(format!("-> {o}"));
    }
    if parts.is_empty() {
        "(nothing)".into()
    } else {
        parts.join(" ")
    }
}

pub async fn replay(opts: ReplayOptions) -> anyhow::Result<()> {
    let db = opts.data.open().await?;
    let account = accounts::by_slug(&db, &opts.account)
        .await?
        .with_context(|| format!("no account '{}'", opts.account))?;
    let mut ids = opts.calls.clone();
    if let Some(n) = opts.last {
        let query = calls::CallQuery { limit: Some(200), ..Default::default() };
        let list = calls::list(&db, account.id, &query, None).await?;
        let taken = list.into_iter().filter(|c| {
            c.record.ai_agent.is_some()
                && opts.agent.as_ref().is_none_or(|a| c.record.ai_agent.as_ref() == Some(a))
                && c.record.to_number != "chat"
        });
        ids.extend(taken.take(n).map(|c| c.record.id));
    }
    if ids.is_empty() {
        anyhow::bail!("name calls with --call ID (see the call history) or --last N");
    }
    let mut all = Vec::new();
    for id in ids {
        let r = replay::replay(&db, account.id, id, opts.agent.as_deref())
            .await
            .with_context(|| format!("call {id}"))?;
        if !opts.json {
            println!("call {} with agent {}: {}", r.call_id, r.agent, r.summary);
            if r.greeting_now != r.greeting_then {
                println!("  greeting then: {}\n  greeting now:  {}", r.greeting_then, r.greeting_now);
            }
            for (i, t) in r.turns.iter().enumerate() {
                let mark = if t.acts_differently {
                    "DIFFERENT"
                } else if t.says_differently {
                    "reworded"
                } else {
                    "same"
                };
                println!("  {}. caller: {}   [{mark}]", i + 1, t.caller);
                println!("     then: {}", did(&t.then));
                match &t.now {
                    Some(now) => println!("     now:  {}", did(now)),
                    None => println!("     now:  (the call would have ended before this turn)"),
                }
            }
            println!();
        }
        all.push(r);
    }
    if opts.json {
        println!("{}", serde_json::to_string_pretty(&all)?);
    }
    db.close().await;
    Ok(())
}
