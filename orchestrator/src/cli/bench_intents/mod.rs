//! `switchboard bench intents`: how well an AI agent understands callers who do not use its
//! example phrases, and how long it takes to decide. The held-out phrasings ([`phrases`]) are
//! each said as the first turn of a fresh conversation with the demo's order assistant as Maria
//! (the same sessions as `agent chat`), several conversations at once; what the agent did
//! (a tool, a transfer, a message, a goodbye, or nothing) is scored against the intent.
//!
//! Measured for the offline guided agent always, and with `--llm-url` for an OpenAI-compatible
//! LLM (a llama.cpp or Ollama server on this machine, say) deciding instead: the issue's
//! question of whether a small local model routes callers better than the guided agent. A
//! benchmark prints numbers; it never fails a build (the guided agent's floor is a test).

pub mod phrases;
pub mod phrases_dev;
pub mod phrases_fresh;

/// A set of phrasings: (intent, phrasings) for the ten intents.
pub type Phrasings = [(&'static str, &'static [&'static str]); 10];

/// A module's phrasings by the outcome they should have. "yes" and "no" answer the agent's
/// offer of a person (said after a question it cannot help with); "unknown" must not trigger
/// a tool.
macro_rules! by_outcome {
    ($set:ident) => {
        [
            ("order", $set::ORDER),
            ("balance", $set::BALANCE),
            ("tickets", $set::TICKETS),
            ("person", $set::PERSON),
            ("message", $set::MESSAGE),
            ("greet", $set::GREET),
            ("goodbye", $set::GOODBYE),
            ("yes", $set::YES),
            ("no", $set::NO),
            ("unknown", $set::OUT_OF_SCOPE),
        ]
    };
}

/// Set A: looked at while the guided agent was tuned (a development set now).
pub const SET_A: Phrasings = by_outcome!(phrases);
/// Set B: written afterwards by someone else; never tuned on.
pub const SET_B: Phrasings = by_outcome!(phrases_fresh);
/// Set C: written later still by someone else, to tune on (what was close to set B left out).
pub const SET_C: Phrasings = by_outcome!(phrases_dev);

/// Sets D to G: written later still by someone else, apart from the examples and the sets
/// before them (what was close to any of them left out), and tuned on: development sets, in the
/// file format `--phrasings` reads. D was written first, E after D was tuned on, F after E, G
/// after F, H after G (H not tuned on yet: a second honest figure beside set B).
pub fn file_set(id: char) -> anyhow::Result<&'static Phrasings> {
    type Sets = std::sync::Mutex<Vec<(char, &'static Phrasings)>>;
    static READ: std::sync::OnceLock<Sets> = std::sync::OnceLock::new();
    let mut read = READ.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, set)) = read.iter().find(|(i, _)| *i == id) {
        return Ok(set);
    }
    let text = match id {
        'D' => include_str!("set_d.tsv"),
        'E' => include_str!("set_e.tsv"),
        'F' => include_str!("set_f.tsv"),
        'G' => include_str!("set_g.tsv"),
        'H' => include_str!("set_h.tsv"),
        'I' => include_str!("set_i.tsv"),
        'J' => include_str!("set_j.tsv"),
        'K' => include_str!("set_k.tsv"),
        'L' => include_str!("set_l.tsv"),
        other => anyhow::bail!("no set {other} in a file"),
    };
    let set = read_phrasings(text)?;
    read.push((id, set));
    Ok(set)
}

/// How a file set is named in the report.
fn file_set_name(id: char, n: usize) -> String {
    match id {
        'H' => format!("set H, {n} phrasings written apart from the examples and sets A to G (not tuned on)"),
        'D' => format!("set D, {n} phrasings written apart from the examples and sets A to C (a development set)"),
        _ => format!("set {id}, {n} phrasings written apart from the examples and the sets before it (a development set)"),
    }
}

/// The sets measured: the first was seen while the guided agent was tuned (a development set
/// now), the second was written afterwards by someone else and is never tuned on.
/// Set B's misses are not printed: whoever reads them would be tuning on it.
pub const SETS: [(char, &str, &Phrasings, bool); 3] = [
    ('A', "set A, 200 phrasings (seen while the guided agent was tuned)", &SET_A, true),
    ('C', "set C, 265 phrasings written to tune on (a development set)", &SET_C, true),
    ('B', "set B, 294 phrasings written by someone else and never tuned on", &SET_B, false),
];

use crate::agent::{Next, Session, SessionSetup};
use crate::db::Db;
use crate::store::{accounts, calls, config};
use anyhow::Context;
use clap::Args;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Clone, Args)]
pub struct BenchIntentsOptions {
    /// An OpenAI-compatible LLM to measure as the agent's brain beside the guided agent, e.g.
    /// a llama.cpp server's `http://127.0.0.1:8080/v1`.
    #[arg(long)]
    pub llm_url: Option<String>,
    /// The model name sent to that server.
    #[arg(long, default_value = "local")]
    pub llm_model: String,
    /// Conversations at once (ten is what one two-core node holds in AI calls).
    #[arg(long, default_value_t = 10)]
    pub parallel: usize,
    /// The LLM's first-token limit in ms (the agents' default is 1200); a turn past it falls
    /// back to a person and counts as a miss.
    #[arg(long, default_value_t = 1200)]
    pub first_token_timeout_ms: u32,
    /// Only the first N phrasings of each intent (a slow LLM: a sample instead of the whole
    /// sets).
    #[arg(long)]
    pub per_intent: Option<usize>,
    /// Which sets to measure (A to J; default all ten, or none when `--phrasings` is given).
    /// Tuning runs leave out B and H, so that not even their scores steer a change.
    #[arg(long, value_delimiter = ',', value_parser = set_name)]
    pub sets: Option<Vec<char>>,
    /// Phrasings of your own to measure: a file of `INTENT<TAB>PHRASING` lines, the intent
    /// one of lookup_order, account_balance, open_tickets, ask_for_person, take_message,
    /// greet, goodbye, yes, no, out_of_scope (which must not trigger a tool). Misses are shown.
    #[arg(long)]
    pub phrasings: Option<std::path::PathBuf>,
}

/// The outcome a phrasings file's intent name is scored by.
fn outcome_of(intent: &str) -> Option<&'static str> {
    Some(match intent {
        "lookup_order" | "order" => "order",
        "account_balance" | "balance" => "balance",
        "open_tickets" | "tickets" => "tickets",
        "ask_for_person" | "person" => "person",
        "take_message" | "message" => "message",
        "greet" => "greet",
        "goodbye" => "goodbye",
        "yes" => "yes",
        "no" => "no",
        "out_of_scope" | "unknown" => "unknown",
        _ => return None,
    })
}

/// Reads a phrasings file (`INTENT<TAB>PHRASING` per line; blank lines and `#` comments
/// skipped). The text lives for the rest of the process (a benchmark's lifetime).
pub fn read_phrasings(text: &str) -> anyhow::Result<&'static Phrasings> {
    let mut by: Vec<(&'static str, Vec<&'static str>)> =
        SET_A.iter().map(|(want, _)| (*want, Vec::new())).collect();
    let text: &'static str = Box::leak(text.to_string().into_boxed_str());
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (intent, said) =
            line.split_once('\t').with_context(|| format!("line {}: expected INTENT<TAB>PHRASING", n + 1))?;
        let want = outcome_of(intent.trim())
            .with_context(|| format!("line {}: no intent {:?}", n + 1, intent.trim()))?;
        anyhow::ensure!(!said.trim().is_empty(), "line {}: no phrasing", n + 1);
        if let Some((_, list)) = by.iter_mut().find(|(w, _)| *w == want) {
            list.push(said.trim());
        }
    }
    anyhow::ensure!(by.iter().any(|(_, l)| !l.is_empty()), "no phrasings in the file");
    let mut set: Phrasings = SET_A;
    for (slot, (want, list)) in set.iter_mut().zip(by) {
        *slot = (want, Box::leak(list.into_boxed_slice()));
    }
    Ok(Box::leak(Box::new(set)))
}

/// A set's name as given on the command line (`a` or `A`).
fn set_name(s: &str) -> Result<char, String> {
    match s.trim().to_ascii_uppercase().as_str() {
        one @ ("A" | "B" | "C" | "D" | "E" | "F" | "G" | "H" | "I" | "J" | "K" | "L") => {
            Ok(one.chars().next().unwrap_or('A'))
        }
        other => Err(format!("no set {other:?}: the sets are A to L")),
    }
}

/// A phrasing the agent got wrong.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Miss {
    pub said: &'static str,
    pub want: &'static str,
    pub got: String,
}

/// What one measurement found.
#[derive(Debug, Default)]
pub struct Score {
    /// (intent, right, phrasings).
    pub per_intent: Vec<(&'static str, usize, usize)>,
    pub misses: Vec<Miss>,
    /// How long each scored turn took to answer in full, ms.
    pub turn_ms: Vec<f64>,
    /// Turns the agent gave up on (the LLM did not answer in time, or failed).
    pub fallbacks: usize,
}

impl Score {
    pub fn right(&self) -> usize {
        self.per_intent.iter().map(|(_, r, _)| r).sum()
    }

    pub fn all(&self) -> usize {
        self.per_intent.iter().map(|(_, _, n)| n).sum()
    }

    pub fn accuracy(&self) -> f64 {
        self.right() as f64 / self.all().max(1) as f64
    }

    /// Out-of-scope questions the agent answered with an action.
    pub fn out_of_scope_acted_on(&self) -> usize {
        self.misses.iter().filter(|m| m.want == "unknown").count()
    }
}

/// What the agent did with a turn: an intent's name, or `none: <what it said>`.
fn label(next: &Next, tools: &[String], said: &str) -> String {
    let by_tool = tools.iter().rev().find_map(|t| match t.as_str() {
        "lookup_order" => Some("order"),
        "account_balance" => Some("balance"),
        "open_tickets" => Some("tickets"),
        _ => None,
    });
    match (next, by_tool) {
        (Next::Fallback { .. }, _) => "fallback".into(),
        (Next::Transfer { .. }, _) => "person".into(),
        (Next::TakeMessage { .. }, _) => "message".into(),
        (Next::Hangup { .. }, _) => "goodbye".into(),
        (_, Some(intent)) => intent.into(),
        // The guided agent's own answers to a greeting and to a refused offer.
        _ if said.starts_with("Okay. What else") => "no".into(),
        _ if said.starts_with("Hello!") => "greet".into(),
        _ => format!("none: {said}"),
    }
}

/// Whether `got` is right for a phrasing of `want`. An LLM answers greetings and refusals in
/// words of its own (`llm`): any turn without an action is right for them; the guided agent
/// must give its own answers.
fn is_right(want: &str, got: &str, llm: bool) -> bool {
    match want {
        "yes" => got == "person",
        "unknown" => got.starts_with("none"),
        "greet" | "no" if llm => got == want || got.starts_with("none"),
        w => got == w,
    }
}

/// Says `turns` to a fresh session of `agent` as Maria: what it did with the last one, and
/// how long that turn took (ms).
async fn outcome(
    db: &Db,
    records: &calls::RecordWriter,
    account: i64,
    agent: &str,
    turns: &[&str],
) -> anyhow::Result<(String, f64)> {
    let setup = SessionSetup {
        db: db.clone(),
        records: records.clone(),
        account,
        agent: agent.into(),
        caller_number: Some(crate::demo::customer_phone(0)),
        record: None,
    };
    let mut s = Session::start(setup).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut events = s.observe();
    s.greeting();
    let mut last = (String::new(), Next::Listen, 0.0);
    for text in turns {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let started = Instant::now();
        let next = s.respond(text, &tx).await;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        drop(tx);
        let mut said = Vec::new();
        while let Some(x) = rx.recv().await {
            said.push(x);
        }
        last = (said.join(" "), next, ms);
    }
    let mut tools = Vec::new();
    while let Ok((kind, data)) = events.try_recv() {
        if kind == "tool_call" {
            tools.push(data["tool"].as_str().unwrap_or_default().to_string());
        }
    }
    let (said, next, ms) = last;
    Ok((label(&next, &tools, &said), ms))
}

/// Every phrasing of `set` said to `agent` of the demo account, `parallel` conversations at
/// once. The demo account must exist in `db`.
pub async fn measure(
    db: &Db,
    agent: &str,
    parallel: usize,
    set: &'static Phrasings,
) -> anyhow::Result<Score> {
    measure_sample(db, agent, parallel, set, usize::MAX).await
}

/// The same with the first `per_intent` phrasings of each intent.
async fn measure_sample(
    db: &Db,
    agent: &str,
    parallel: usize,
    set: &'static Phrasings,
    per_intent: usize,
) -> anyhow::Result<Score> {
    let account = accounts::by_slug(db, crate::demo::ACCOUNT).await?.context("the demo account")?.id;
    let llm = config::get_by_key::<crate::model::AiAgent>(db, account, agent)
        .await?
        .with_context(|| format!("no AI agent {agent}"))?
        .spec
        .llm
        .is_some();
    let records = calls::RecordWriter::start(db.clone());
    let jobs: Vec<(&'static str, &'static str)> =
        set.iter().flat_map(|(want, set)| set.iter().take(per_intent).map(move |p| (*want, *p))).collect();
    let jobs = Arc::new(jobs);
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..parallel.max(1) {
        let (db, records, jobs, next, agent) =
            (db.clone(), records.clone(), jobs.clone(), next.clone(), agent.to_string());
        workers.push(tokio::spawn(async move {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(want, phrase)) = jobs.get(i) else { break };
                // Yes and no answer the agent's offer of a person, made after a question it
                // cannot help with.
                let turns: Vec<&str> = if want == "yes" || want == "no" {
                    vec!["what's the meaning of life", phrase]
                } else {
                    vec![phrase]
                };
                let got = outcome(&db, &records, account, &agent, &turns).await?;
                done.push((i, got));
            }
            anyhow::Ok(done)
        }));
    }
    let mut results = vec![None; jobs.len()];
    for w in workers {
        for (i, got) in w.await?? {
            results[i] = Some(got);
        }
    }
    let mut score = Score::default();
    for (want, phrasings) in set {
        score.per_intent.push((want, 0, phrasings.len().min(per_intent)));
    }
    for (&(want, said), got) in jobs.iter().zip(results) {
        let (got, ms) = got.context("a phrasing was not measured")?;
        score.turn_ms.push(ms);
        score.fallbacks += usize::from(got == "fallback");
        let entry = score.per_intent.iter_mut().find(|(w, _, _)| *w == want).context("intent")?;
        if is_right(want, &got, llm) {
            entry.1 += 1;
        } else {
            score.misses.push(Miss { said, want, got });
        }
    }
    Ok(score)
}

fn percentile(v: &[f64], p: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n => v[((n as f64 * p).ceil() as usize).clamp(1, n) - 1],
    }
}

fn print(title: &str, score: &Score, misses: bool) {
    println!("{title}");
    let per: Vec<String> = score.per_intent.iter().map(|(w, r, n)| format!("{w} {r}/{n}")).collect();
    println!("  {}", per.join(", "));
    println!(
        "  accuracy {:.1} % ({}/{}); out-of-scope questions acted on: {}; turns given up (fallback): {}",
        score.accuracy() * 100.0,
        score.right(),
        score.all(),
        score.out_of_scope_acted_on(),
        score.fallbacks
    );
    println!(
        "  time to decide and answer a turn: p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms",
        percentile(&score.turn_ms, 0.5),
        percentile(&score.turn_ms, 0.95),
        score.turn_ms.iter().cloned().fold(0.0, f64::max)
    );
    if !misses {
        println!("  (which phrasings were missed is not shown: this set is never tuned on)");
        return;
    }
    for m in &score.misses {
        println!("  missed: {:?} wanted {}, got {}", m.said, m.want, m.got);
    }
}

pub async fn intents(opts: BenchIntentsOptions) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = Db::open(&Db::sqlite_url(dir.path())).await?;
    crate::demo::ensure(&db).await?;
    println!(
        "Switchboard intents benchmark: callers' phrasings not among the agent's examples (10 intents, \
         out-of-scope questions included), each the first turn of a new conversation; {} conversations \
         at once; {} CPU cores",
        opts.parallel,
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    );
    println!();
    let chosen = opts.sets.clone().unwrap_or_else(|| match opts.phrasings {
        Some(_) => Vec::new(),
        None => vec!['A', 'C', 'D', 'E', 'F', 'G', 'I', 'J', 'K', 'L', 'H', 'B'],
    });
    // The development sets first, then the sets not tuned on (H, B), whose misses are not
    // printed (whoever reads them would be tuning on them).
    let mut measured: Vec<(String, &'static Phrasings, bool)> = Vec::new();
    for id in ['A', 'C', 'D', 'E', 'F', 'G', 'I', 'J', 'K', 'L', 'H', 'B']
        .into_iter()
        .filter(|id| chosen.contains(id))
    {
        match SETS.iter().find(|(i, ..)| *i == id) {
            Some(&(_, name, set, misses)) => measured.push((name.to_string(), set, misses)),
            None => {
                let set = file_set(id)?;
                let n: usize = set.iter().map(|(_, l)| l.len()).sum();
                measured.push((file_set_name(id, n), set, id != 'H'));
            }
        }
    }
    if let Some(path) = &opts.phrasings {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let set = read_phrasings(&text).with_context(|| path.display().to_string())?;
        let n: usize = set.iter().map(|(_, l)| l.len()).sum();
        measured.push((format!("{} ({n} phrasings)", path.display()), set, true));
    }
    for (name, set, misses) in &measured {
        let guided = measure(&db, "order-assistant", opts.parallel, set).await?;
        print(
            &format!("1. the offline guided agent (sentence embeddings and rules), {name}"),
            &guided,
            *misses,
        );
    }
    let Some(url) = opts.llm_url else {
        println!();
        println!("(give --llm-url and --llm-model to measure an LLM deciding instead)");
        return Ok(());
    };
    let account = accounts::by_slug(&db, crate::demo::ACCOUNT).await?.context("the demo account")?.id;
    let mut agent = config::get_by_key::<crate::model::AiAgent>(&db, account, "order-assistant")
        .await?
        .context("the demo's order assistant")?
        .spec;
    agent.name = "order-assistant-llm".into();
    agent.llm = Some(serde_json::from_value(serde_json::json!({
        "base_url": url, "model": opts.llm_model,
        "first_token_timeout_ms": opts.first_token_timeout_ms,
        "stall_timeout_ms": opts.first_token_timeout_ms.max(2000)
    }))?);
    let request = crate::agent::warm_up::request(&db, account, &agent).await?.context("an LLM agent")?;
    config::create(&db, account, agent).await?;
    let client = crate::llm::OpenAiCompatible::new(&url, None);
    println!();
    match crate::agent::warm_up::send(&client, request).await {
        Ok(took) => println!("LLM warm-up (system prompt and tools read once): {} ms", took.as_millis()),
        Err(why) => println!("LLM warm-up failed: {why}"),
    }
    let sample = opts.per_intent.unwrap_or(usize::MAX);
    for (name, set, misses) in &measured {
        let llm = measure_sample(&db, "order-assistant-llm", opts.parallel, set, sample).await?;
        print(
            &format!(
                "2. the same agent deciding with the LLM {} at {url} (first-token limit {} ms), {name}",
                opts.llm_model, opts.first_token_timeout_ms
            ),
            &llm,
            *misses,
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turns_are_scored_by_what_the_agent_did() {
        let listen = Next::Listen;
        assert_eq!(label(&listen, &["lookup_customer".into(), "lookup_order".into()], "x"), "order");
        assert_eq!(label(&listen, &["lookup_customer".into()], "Hi"), "none: Hi");
        assert_eq!(label(&Next::Hangup { reason: "bye".into() }, &[], ""), "goodbye");
        let fallback = Next::Fallback { target: crate::model::Target::Hangup, reason: "llm".into() };
        assert_eq!(label(&fallback, &["lookup_order".into()], ""), "fallback");
        assert!(is_right("yes", "person", false) && !is_right("yes", "none: ok", true));
        assert!(is_right("greet", "none: Hello there", true) && is_right("greet", "greet", false));
        assert!(!is_right("greet", "none: Hello there", false), "the guided agent answers greetings itself");
        assert!(
            is_right("unknown", "none: We ship to the US only.", true) && !is_right("unknown", "order", true)
        );
        assert!(!is_right("order", "fallback", true));
    }

    #[test]
    fn a_phrasings_file_is_read_by_intent_and_bad_lines_are_named() {
        let set =
            read_phrasings("# mine\nlookup_order\twhere's my parcel\n\nout_of_scope\tdo you sell socks\n")
                .expect("a good file");
        assert_eq!(
            set.iter().find(|(w, _)| *w == "order").map(|(_, l)| l.to_vec()),
            Some(vec!["where's my parcel"])
        );
        assert_eq!(set.iter().find(|(w, _)| *w == "unknown").map(|(_, l)| l.len()), Some(1));
        let bad = read_phrasings("lookup_order\tok\nrefund\tmy refund\n").expect_err("no such intent");
        assert!(format!("{bad}").contains("line 2"), "{bad}");
        assert!(read_phrasings("no tab here\n").is_err());
        assert!(read_phrasings("# nothing\n").is_err());
        let size = |id| file_set(id).expect("the set reads").iter().map(|(_, l)| l.len()).sum::<usize>();
        assert_eq!(
            (
                size('D'),
                size('E'),
                size('F'),
                size('G'),
                size('H'),
                size('I'),
                size('J'),
                size('K'),
                size('L')
            ),
            (243, 255, 292, 244, 220, 213, 236, 214, 195)
        );
        assert!(file_set('M').is_err());
    }
}
