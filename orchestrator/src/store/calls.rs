//! Call records: one per call, with its legs and timeline. The telephony layer writes them as
//! calls happen; the API reads them.

use crate::clock::now_ms;
use crate::db::Db;
use crate::error::{Error, Result};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// How a call ended, for reports and call history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// Someone took the call (a person, an IVR, an AI agent) and it ended normally.
    Answered,
    /// Nobody answered in time (or the person called could not be reached).
    NoAnswer,
    Busy,
    /// The caller left a voicemail message.
    Voicemail,
    /// The caller hung up before anyone took the call (ringing, or waiting in a queue).
    Abandoned,
    /// Refused or failed: unknown number, not allowed, no route, media failure.
    Failed,
}

impl Disposition {
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Answered => "answered",
            Disposition::NoAnswer => "no_answer",
            Disposition::Busy => "busy",
            Disposition::Voicemail => "voicemail",
            Disposition::Abandoned => "abandoned",
            Disposition::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Option<Disposition> {
        [
            Disposition::Answered,
            Disposition::NoAnswer,
            Disposition::Busy,
            Disposition::Voicemail,
            Disposition::Abandoned,
            Disposition::Failed,
        ]
        .into_iter()
        .find(|d| d.as_str() == s)
    }
}

/// Who ended a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HungUpBy {
    Caller,
    /// The person (agent, outside number) the caller was connected to.
    Callee,
    /// Switchboard (an IVR, queue, voicemail or AI agent ended it).
    System,
}

impl HungUpBy {
    pub fn as_str(self) -> &'static str {
        match self {
            HungUpBy::Caller => "caller",
            HungUpBy::Callee => "callee",
            HungUpBy::System => "system",
        }
    }

    fn parse(s: &str) -> Option<HungUpBy> {
        [HungUpBy::Caller, HungUpBy::Callee, HungUpBy::System].into_iter().find(|h| h.as_str() == s)
    }
}

/// How a call ended: its disposition and who hung up, and what its carrier charges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ending {
    pub disposition: Disposition,
    pub hung_up_by: Option<HungUpBy>,
    /// The account trunk's rates, when it has any: carrier time is priced as the call ends.
    pub carrier: Option<CarrierRates>,
}

/// A trunk's rates in micro-dollars per minute (inbound, outbound).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CarrierRates {
    pub inbound_micros_per_minute: i64,
    pub outbound_micros_per_minute: i64,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CallRecord {
    pub id: i64,
    pub direction: String,
    pub from_number: String,
    pub to_number: String,
    pub customer_id: Option<i64>,
    pub agent_extension: Option<String>,
    pub ai_agent: Option<String>,
    pub started_at: i64,
    pub answered_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub disposition: Option<Disposition>,
    pub hung_up_by: Option<HungUpBy>,
    /// Cost in millionths of the account currency.
    pub cost_micros: i64,
    pub summary: Option<String>,
    /// The node of a cluster that carried the call (`serve --node-id`); none on a single node.
    pub node_id: Option<i64>,
}

/// One party of a call: the caller, or someone rung for them.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CallLeg {
    pub id: i64,
    /// caller, agent, supervisor or external.
    pub kind: String,
    /// The caller's number, the agent's extension or the outside number.
    pub endpoint: String,
    pub started_at: i64,
    pub answered_at: Option<i64>,
    pub ended_at: Option<i64>,
    /// answered (ended with the call), no_answer, busy, cancelled, answered_elsewhere (a
    /// ring-all member when another took it), failed (status), or the call's disposition for
    /// the caller's leg.
    pub outcome: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CallEvent {
    pub at: i64,
    pub kind: String,
    pub data: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CallDetail {
    #[serde(flatten)]
    pub record: CallRecord,
    pub legs: Vec<CallLeg>,
    pub timeline: Vec<CallEvent>,
    /// What was said, by whom (caller, ai, agent), in order.
    pub transcript: Vec<TranscriptLine>,
}

/// What is known when a call starts.
#[derive(Debug, Clone, Deserialize)]
pub struct NewCall {
    pub direction: String,
    pub from_number: String,
    pub to_number: String,
    pub customer_id: Option<i64>,
    pub agent_extension: Option<String>,
    pub ai_agent: Option<String>,
}

pub(super) const CALL_COLS: &str =
    "id, direction, from_number, to_number, customer_id, agent_extension, ai_agent, \
                         started_at, answered_at, ended_at, disposition, hung_up_by, cost_micros, summary, node_id";

pub(super) fn record_from_row(row: &sqlx::any::AnyRow) -> Result<CallRecord> {
    Ok(CallRecord {
        id: row.try_get("id")?,
        direction: row.try_get("direction")?,
        from_number: row.try_get("from_number")?,
        to_number: row.try_get("to_number")?,
        customer_id: row.try_get("customer_id")?,
        agent_extension: row.try_get("agent_extension")?,
        ai_agent: row.try_get("ai_agent")?,
        started_at: row.try_get("started_at")?,
        answered_at: row.try_get("answered_at")?,
        ended_at: row.try_get("ended_at")?,
        disposition: row.try_get::<Option<String>, _>("disposition")?.as_deref().and_then(Disposition::parse),
        hung_up_by: row.try_get::<Option<String>, _>("hung_up_by")?.as_deref().and_then(HungUpBy::parse),
        cost_micros: row.try_get("cost_micros")?,
        summary: row.try_get("summary")?,
        node_id: row.try_get("node_id")?,
    })
}

pub async fn create(db: &Db, account_id: i64, call: &NewCall) -> Result<i64> {
    insert_record(db.pool(), account_id, call, None, now_ms(), db.node()).await
}

/// Inserts a call record; `match_phone` (E.164) links it to the account's customer with that
/// number unless `call.customer_id` is given.
async fn insert_record<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    ex: E,
    account_id: i64,
    call: &NewCall,
    match_phone: Option<&str>,
    at: i64,
    node: Option<i64>,
) -> Result<i64> {
    let row = sqlx::query(
        "INSERT INTO call_records (account_id, direction, from_number, to_number, customer_id, \
         agent_extension, ai_agent, started_at, node_id) VALUES ($1, $2, $3, $4, \
         COALESCE($5, (SELECT MIN(customer_id) FROM customer_phones WHERE account_id = $1 AND number = $9)), \
         $6, $7, $8, $10) RETURNING id",
    )
    .bind(account_id)
    .bind(&call.direction)
    .bind(&call.from_number)
    .bind(&call.to_number)
    .bind(call.customer_id)
    .bind(&call.agent_extension)
    .bind(&call.ai_agent)
    .bind(at)
    .bind(match_phone)
    .bind(node)
    .fetch_one(ex)
    .await?;
    Ok(row.try_get("id")?)
}

/// The agent's latest call to `to` that was refused (within the last hour), if any.
pub async fn latest_refused(db: &Db, account_id: i64, extension: &str, to: &str) -> Result<Option<i64>> {
    let row = sqlx::query(
        "SELECT id FROM call_records WHERE account_id = $1 AND agent_extension = $2 AND to_number = $3 \
         AND disposition = 'failed' AND started_at > $4 ORDER BY id DESC LIMIT 1",
    )
    .bind(account_id)
    .bind(extension)
    .bind(to)
    .bind(now_ms() - 3_600_000)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.map(|r| r.try_get("id")).transpose()?)
}

pub async fn add_event(db: &Db, call_id: i64, kind: &str, data: &serde_json::Value) -> Result<()> {
    sqlx::query("INSERT INTO call_events (call_id, at, kind, data) VALUES ($1, $2, $3, $4)")
        .bind(call_id)
        .bind(now_ms())
        .bind(kind)
        .bind(data.to_string())
        .execute(db.pool())
        .await?;
    Ok(())
}

pub async fn get(db: &Db, account_id: i64, id: i64, only_agent: Option<&str>) -> Result<CallDetail> {
    let row = sqlx::query(&format!("SELECT {CALL_COLS} FROM call_records WHERE account_id = $1 AND id = $2"))
        .bind(account_id)
        .bind(id)
        .fetch_optional(db.pool())
        .await?
        .ok_or(Error::NotFound)?;
    let record = record_from_row(&row)?;
    if only_agent.is_some() {
        visible(db, account_id, id, only_agent).await?;
    }
    let legs = sqlx::query(
        "SELECT id, kind, endpoint, started_at, answered_at, ended_at, outcome FROM call_legs WHERE call_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(|r| {
        Ok(CallLeg {
            id: r.try_get("id")?,
            kind: r.try_get("kind")?,
            endpoint: r.try_get("endpoint")?,
            started_at: r.try_get("started_at")?,
            answered_at: r.try_get("answered_at")?,
            ended_at: r.try_get("ended_at")?,
            outcome: r.try_get("outcome")?,
        })
    })
    .collect::<Result<Vec<_>>>()?;
    let timeline = sqlx::query("SELECT at, kind, data FROM call_events WHERE call_id = $1 ORDER BY at, id")
        .bind(id)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|r| {
            let data: String = r.try_get("data")?;
            Ok(CallEvent {
                at: r.try_get("at")?,
                kind: r.try_get("kind")?,
                data: serde_json::from_str(&data).unwrap_or(serde_json::Value::String(data)),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let transcript = sqlx::query(
        "SELECT speaker, name, start_ms, end_ms, text FROM transcripts WHERE call_id = $1 ORDER BY start_ms, id",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(|r| {
        Ok(TranscriptLine {
            speaker: r.try_get("speaker")?,
            name: r.try_get("name")?,
            start_ms: r.try_get("start_ms")?,
            end_ms: r.try_get("end_ms")?,
            text: r.try_get("text")?,
        })
    })
    .collect::<Result<Vec<_>>>()?;
    Ok(CallDetail { record, legs, timeline, transcript })
}

pub use super::call_history::{close_abandoned, list, list_for_customer, visible, CallListItem, CallQuery};

/// A call record the writer creates: a handle, resolved to the row id inside the writer, so
/// that routing never waits for the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecordKey(u64);

/// A leg of a call record, resolved to its row inside the writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LegKey(u64);

/// One line of a call's transcript: who spoke, when (ms from the start of the call), what.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct TranscriptLine {
    /// caller, agent or ai.
    pub speaker: String,
    /// The speaker's name, where known (an agent's, in transcripts of recordings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Milliseconds since the call started.
    pub start_ms: i64,
    pub end_ms: i64,
    pub text: String,
}

/// Later facts about a call; unset fields are left as they are, `cost_micros` is added.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Details {
    pub ai_agent: Option<String>,
    pub summary: Option<String>,
    pub customer_id: Option<i64>,
    pub cost_micros: i64,
}

/// A change to a call record, stamped when it happened.
#[derive(Debug)]
pub(crate) enum RecordOp {
    Create {
        key: RecordKey,
        account: i64,
        call: NewCall,
        match_phone: Option<String>,
        at: i64,
    },
    Event {
        call: RecordKey,
        at: i64,
        kind: String,
        data: serde_json::Value,
    },
    Answered {
        call: RecordKey,
        at: i64,
    },
    Finish {
        call: RecordKey,
        at: i64,
        ending: Ending,
    },
    /// Someone is rung for the call.
    Leg {
        key: LegKey,
        call: RecordKey,
        kind: &'static str,
        endpoint: String,
        at: i64,
    },
    LegAnswered {
        key: LegKey,
        at: i64,
    },
    LegEnded {
        key: LegKey,
        at: i64,
        outcome: String,
    },
    /// The agent who took the call (however it reached them).
    AnsweredBy {
        call: RecordKey,
        extension: String,
    },
    /// One line of the call's transcript.
    Transcript {
        call: RecordKey,
        line: TranscriptLine,
    },
    /// The AI agent that took the call, the hand-off summary, cost (added), matched customer.
    Details {
        call: RecordKey,
        details: Details,
    },
    /// Answered once everything queued before it is written.
    Flush(tokio::sync::oneshot::Sender<()>),
    /// The row id of a record, once everything queued before it is written.
    Resolve(RecordKey, tokio::sync::oneshot::Sender<Option<i64>>),
    /// Test builds only: the writer panics.
    #[cfg(feature = "fault-injection")]
    Crash,
}

/// Writes call records in order and off the call-routing path: a new call's record (with its
/// customer matched by caller number) and every later update are queued; each burst of them is
/// one transaction (one fsync), so a busy PBX does not wait on the disk per call or per event.
#[derive(Clone)]
pub struct RecordWriter {
    tx: tokio::sync::mpsc::UnboundedSender<RecordOp>,
    next: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// How long the writer waits for more updates before writing a batch, and the most per batch.
const LINGER: std::time::Duration = std::time::Duration::from_millis(50);
const MAX_BATCH: usize = 2000;

/// How many finished calls keep their id for late updates (a digit after the hang-up).
const KEEP_FINISHED: usize = 10_000;

/// Row ids of the records the writer created.
#[derive(Default)]
struct Ids {
    ids: std::collections::HashMap<RecordKey, i64>,
    legs: std::collections::HashMap<LegKey, (RecordKey, i64)>,
    finished: std::collections::VecDeque<RecordKey>,
}

/// The writer's task: its queue and the ids of the records it created, kept across a restart.
struct WriterTask {
    db: Db,
    rx: tokio::sync::mpsc::UnboundedReceiver<RecordOp>,
    ids: Ids,
    /// A summary of the batch being written, for the log if it panics.
    current: String,
}

impl crate::supervise::Supervised for WriterTask {
    async fn run(&mut self) {
        while let Some(first) = self.rx.recv().await {
            // Gather what arrives within a short linger: one transaction (and one fsync)
            // then carries many calls' updates instead of one update each.
            let mut batch = vec![first];
            let linger = tokio::time::sleep(LINGER);
            tokio::pin!(linger);
            while batch.len() < MAX_BATCH
                && !matches!(batch.last(), Some(RecordOp::Flush(_) | RecordOp::Resolve(..)))
            {
                tokio::select! {
                    op = self.rx.recv() => match op {
                        Some(op) => batch.push(op),
                        None => break,
                    },
                    _ = &mut linger => break,
                }
            }
            self.current = format!("a batch of {} updates", batch.len());
            #[cfg(feature = "fault-injection")]
            if batch.iter().any(|op| matches!(op, RecordOp::Crash)) {
                panic!("injected fault: the call-record writer crashes");
            }
            match write_batch(&self.db, &batch, &self.ids).await {
                Ok((created, legs)) => {
                    self.ids.ids.extend(created);
                    self.ids.legs.extend(legs);
                }
                Err(e) => {
                    tracing::error!(error = %e, updates = batch.len(), "call records could not be written")
                }
            }
            let ids = &mut self.ids;
            for op in batch {
                if let RecordOp::Flush(done) = op {
                    let _ = done.send(());
                    continue;
                }
                if let RecordOp::Resolve(key, reply) = op {
                    let _ = reply.send(ids.ids.get(&key).copied());
                    continue;
                }
                if let RecordOp::Finish { call, .. } = op {
                    ids.finished.push_back(call);
                    if ids.finished.len() > KEEP_FINISHED {
                        if let Some(old) = ids.finished.pop_front() {
                            ids.ids.remove(&old);
                            ids.legs.retain(|_, (call, _)| *call != old);
                        }
                    }
                }
            }
        }
    }

    fn last_input(&self) -> String {
        self.current.clone()
    }
}

impl RecordWriter {
    /// Starts the writer under a supervisor of its own.
    pub fn start(db: Db) -> Self {
        Self::start_supervised(db, &crate::supervise::Health::default())
    }

    /// Starts the writer as the part `records` of `health`: a panic loses at most the batch
    /// being written; the queue and the ids survive the restart.
    pub fn start_supervised(db: Db, health: &crate::supervise::Health) -> Self {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<RecordOp>();
        health.supervise("records", WriterTask { db, rx, ids: Ids::default(), current: String::new() });
        RecordWriter { tx, next: Default::default() }
    }

    /// A writer with no task: the updates arrive on the returned channel (unit tests of call
    /// handlers read a call's timeline from it).
    #[cfg(test)]
    pub(crate) fn detached() -> (Self, tokio::sync::mpsc::UnboundedReceiver<RecordOp>) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<RecordOp>();
        (RecordWriter { tx, next: Default::default() }, rx)
    }

    /// Test builds only: makes the writer's task panic (its supervisor restarts it).
    #[cfg(feature = "fault-injection")]
    pub fn crash(&self) {
        let _ = self.tx.send(RecordOp::Crash);
    }

    /// Queues a new call's record; `match_phone` (E.164) links it to the account's customer
    /// with that number, if any.
    pub fn create(&self, account: i64, call: NewCall, match_phone: Option<String>) -> RecordKey {
        let key = RecordKey(self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        let _ = self.tx.send(RecordOp::Create { key, account, call, match_phone, at: now_ms() });
        key
    }

    pub fn event(&self, call: RecordKey, kind: &str, data: serde_json::Value) {
        let _ = self.tx.send(RecordOp::Event { call, at: now_ms(), kind: kind.to_string(), data });
    }

    pub fn transcript(&self, call: RecordKey, line: TranscriptLine) {
        let _ = self.tx.send(RecordOp::Transcript { call, line });
    }

    pub fn details(&self, call: RecordKey, details: Details) {
        let _ = self.tx.send(RecordOp::Details { call, details });
    }

    pub fn answered(&self, call: RecordKey) {
        let _ = self.tx.send(RecordOp::Answered { call, at: now_ms() });
    }

    pub fn finish(&self, call: RecordKey, ending: Ending) {
        let _ = self.tx.send(RecordOp::Finish { call, at: now_ms(), ending });
    }

    /// Someone is rung for the call (kind: agent, supervisor, external).
    pub fn leg(&self, call: RecordKey, kind: &'static str, endpoint: &str) -> LegKey {
        let key = LegKey(self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        let _ = self.tx.send(RecordOp::Leg { key, call, kind, endpoint: endpoint.to_string(), at: now_ms() });
        key
    }

    pub fn leg_answered(&self, leg: LegKey) {
        let _ = self.tx.send(RecordOp::LegAnswered { key: leg, at: now_ms() });
    }

    /// A leg that ended before the call did (not answered: no_answer, busy, ...).
    pub fn leg_ended(&self, leg: LegKey, outcome: &str) {
        let _ = self.tx.send(RecordOp::LegEnded { key: leg, at: now_ms(), outcome: outcome.to_string() });
    }

    /// The agent who took the call: the record is theirs (their call history lists it).
    pub fn answered_by(&self, call: RecordKey, extension: &str) {
        let _ = self.tx.send(RecordOp::AnsweredBy { call, extension: extension.to_string() });
    }

    /// The row id of a record (once it is written).
    pub async fn id_of(&self, call: RecordKey) -> Option<i64> {
        let (reply, id) = tokio::sync::oneshot::channel();
        self.tx.send(RecordOp::Resolve(call, reply)).ok()?;
        id.await.ok().flatten()
    }

    /// Returns once everything queued so far is written (or failed and was logged).
    pub async fn flush(&self) {
        let (done, written) = tokio::sync::oneshot::channel();
        if self.tx.send(RecordOp::Flush(done)).is_ok() {
            let _ = written.await;
        }
    }
}

/// Events per multi-row INSERT (four parameters each; SQLite looks parameters up by name, so
/// very long statements cost more than they save).
const EVENTS_PER_INSERT: usize = 25;

/// Writes one batch in one transaction, in few statements (each statement is a round trip to
/// the database): one INSERT per new record with its customer matched inside it, the batch's
/// events in multi-row INSERTs, and one UPDATE per call for its answer and end. Returns the ids
/// of the records it created.
type Written = (Vec<(RecordKey, i64)>, Vec<(LegKey, (RecordKey, i64))>);

async fn write_batch(db: &Db, batch: &[RecordOp], known: &Ids) -> Result<Written> {
    let mut tx = db.pool().begin().await?;
    let mut created: Vec<(RecordKey, i64)> = Vec::new();
    // Creates first: every later op in the batch may refer to them. Each record starts with
    // its caller's leg.
    for op in batch {
        let RecordOp::Create { key, account, call, match_phone, at } = op else { continue };
        let id = insert_record(&mut *tx, *account, call, match_phone.as_deref(), *at, db.node()).await?;
        sqlx::query(
            "INSERT INTO call_legs (call_id, kind, endpoint, started_at) VALUES ($1, 'caller', $2, $3)",
        )
        .bind(id)
        .bind(&call.from_number)
        .bind(*at)
        .execute(&mut *tx)
        .await?;
        created.push((*key, id));
    }
    let id_of = |key: &RecordKey| {
        known.ids.get(key).copied().or_else(|| created.iter().find(|(k, _)| k == key).map(|(_, id)| *id))
    };
    // Then legs, in order (each op about a leg comes after the leg).
    let mut legs: Vec<(LegKey, (RecordKey, i64))> = Vec::new();
    for op in batch {
        match op {
            RecordOp::Leg { key, call, kind, endpoint, at } => {
                let Some(id) = id_of(call) else { continue };
                let row = sqlx::query(
                    "INSERT INTO call_legs (call_id, kind, endpoint, started_at) VALUES ($1, $2, $3, $4) RETURNING id",
                )
                .bind(id)
                .bind(*kind)
                .bind(endpoint)
                .bind(*at)
                .fetch_one(&mut *tx)
                .await?;
                legs.push((*key, (*call, row.try_get("id")?)));
            }
            RecordOp::LegAnswered { key, at } | RecordOp::LegEnded { key, at, .. } => {
                let Some(leg) =
                    known.legs.get(key).or_else(|| legs.iter().find(|(k, _)| k == key).map(|(_, l)| l))
                else {
                    continue;
                };
                let (sql, outcome) = match op {
                    RecordOp::LegEnded { outcome, .. } => (
                        "UPDATE call_legs SET ended_at = $1, outcome = $2 WHERE id = $3 AND ended_at IS NULL",
                        Some(outcome.as_str()),
                    ),
                    _ => (
                        "UPDATE call_legs SET answered_at = $1, outcome = $2 WHERE id = $3",
                        Some("answered"),
                    ),
                };
                sqlx::query(sql).bind(*at).bind(outcome).bind(leg.1).execute(&mut *tx).await?;
            }
            RecordOp::AnsweredBy { call, extension } => {
                let Some(id) = id_of(call) else { continue };
                sqlx::query("UPDATE call_records SET agent_extension = $1 WHERE id = $2")
                    .bind(extension)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            _ => {}
        }
    }
    let events: Vec<(i64, i64, &str, String)> = batch
        .iter()
        .filter_map(|op| match op {
            RecordOp::Event { call, at, kind, data } => {
                Some((id_of(call)?, *at, kind.as_str(), data.to_string()))
            }
            _ => None,
        })
        .collect();
    for chunk in events.chunks(EVENTS_PER_INSERT) {
        // Numbered placeholders, which both databases read.
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| format!("(${}, ${}, ${}, ${})", 4 * i + 1, 4 * i + 2, 4 * i + 3, 4 * i + 4))
            .collect();
        let sql = format!("INSERT INTO call_events (call_id, at, kind, data) VALUES {}", rows.join(", "));
        let mut q = sqlx::query(&sql);
        for (id, at, kind, data) in chunk {
            q = q.bind(*id).bind(*at).bind(*kind).bind(data.as_str());
        }
        q.execute(&mut *tx).await?;
    }
    // Answer and end per call (in batch order, so a later op wins).
    /// A call's row id, when it was answered, and when and how it ended.
    type Update = (i64, Option<i64>, Option<(i64, Ending)>);
    let mut updates: Vec<Update> = Vec::new();
    for op in batch {
        let (call, answered, ended) = match op {
            RecordOp::Answered { call, at } => (call, Some(*at), None),
            RecordOp::Finish { call, at, ending } => (call, None, Some((*at, *ending))),
            _ => continue,
        };
        let Some(id) = id_of(call) else { continue };
        match updates.iter_mut().find(|u| u.0 == id) {
            Some(u) => {
                u.1 = answered.or(u.1);
                u.2 = ended.or(u.2);
            }
            None => updates.push((id, answered, ended)),
        }
    }
    for (id, answered, ended) in updates {
        sqlx::query(
            "UPDATE call_records SET answered_at = COALESCE($1, answered_at), ended_at = COALESCE($2, ended_at), \
             disposition = COALESCE($3, disposition), hung_up_by = COALESCE($4, hung_up_by) WHERE id = $5",
        )
        .bind(answered)
        .bind(ended.map(|e| e.0))
        .bind(ended.map(|e| e.1.disposition.as_str()))
        .bind(ended.and_then(|e| e.1.hung_up_by.map(HungUpBy::as_str)))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        // The caller's leg follows the call; every leg still open ends with it.
        if let Some(at) = answered {
            sqlx::query(
                "UPDATE call_legs SET answered_at = $1 WHERE call_id = $2 AND kind = 'caller' AND answered_at IS NULL",
            )
            .bind(at)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        if let Some((at, ending)) = ended {
            sqlx::query(
                "UPDATE call_legs SET ended_at = $1, outcome = CASE WHEN kind = 'caller' THEN $2 \
                 ELSE COALESCE(outcome, 'cancelled') END WHERE call_id = $3 AND ended_at IS NULL",
            )
            .bind(at)
            .bind(ending.disposition.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await?;
            if let Some(rates) = ending.carrier {
                super::call_cost::price_carrier_time(&mut tx, id, at, rates).await?;
            }
        }
    }
    for op in batch {
        match op {
            RecordOp::Transcript { call, line } => {
                let Some(id) = id_of(call) else { continue };
                sqlx::query(
                    "INSERT INTO transcripts (call_id, speaker, name, start_ms, end_ms, text) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(id)
                .bind(&line.speaker)
                .bind(&line.name)
                .bind(line.start_ms)
                .bind(line.end_ms)
                .bind(&line.text)
                .execute(&mut *tx)
                .await?;
            }
            RecordOp::Details { call, details } => {
                let Some(id) = id_of(call) else { continue };
                sqlx::query(
                    "UPDATE call_records SET ai_agent = COALESCE($1, ai_agent), summary = COALESCE($2, summary), \
                     customer_id = COALESCE($3, customer_id), cost_micros = cost_micros + $4 WHERE id = $5",
                )
                .bind(&details.ai_agent)
                .bind(&details.summary)
                .bind(details.customer_id)
                .bind(details.cost_micros)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
            _ => {}
        }
    }
    tx.commit().await?;
    Ok((created, legs))
}
