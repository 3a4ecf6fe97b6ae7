//! The customer's conversations on other channels (web chat, SMS, e-mail, social), as the
//! merchant's systems post them (see `api::conversations`), and the customer's whole timeline:
//! those beside their calls, newest first. Each account has a secret its systems sign posts
//! with (sealed at rest).

use super::calls::{record_from_row, CallRecord, CALL_COLS};
use crate::clock::now_ms;
use crate::db::Db;
use crate::error::{Error, Result};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// Someone in a conversation: a name and where they were reached.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Participant {
    #[serde(default)]
    pub name: String,
    /// A phone number (E.164) or an e-mail address.
    #[serde(default)]
    pub address: String,
}

/// A conversation as posted (already checked).
#[derive(Debug, Clone)]
pub struct NewConversation {
    pub source_id: String,
    pub channel: String,
    pub direction: String,
    pub at: i64,
    pub participants: Vec<Participant>,
    pub subject: Option<String>,
    pub text: String,
    pub link: Option<String>,
    pub customer_id: Option<i64>,
}

#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Eq)]
pub struct Conversation {
    pub id: i64,
    pub customer_id: Option<i64>,
    /// The source system's message id (posting it again changes nothing).
    pub source_id: String,
    pub channel: String,
    pub direction: String,
    pub at: i64,
    pub participants: Vec<Participant>,
    pub subject: Option<String>,
    pub text: String,
    pub link: Option<String>,
}

fn from_row(r: &sqlx::any::AnyRow) -> Result<Conversation> {
    let participants: String = r.try_get("participants")?;
    Ok(Conversation {
        id: r.try_get("id")?,
        customer_id: r.try_get("customer_id")?,
        source_id: r.try_get("source_id")?,
        channel: r.try_get("channel")?,
        direction: r.try_get("direction")?,
        at: r.try_get("at")?,
        participants: serde_json::from_str(&participants).unwrap_or_default(),
        subject: r.try_get("subject")?,
        text: r.try_get("text")?,
        link: r.try_get("link")?,
    })
}

const COLS: &str = "id, customer_id, source_id, channel, direction, at, participants, subject, text, link";

/// The customer a conversation is about: the one named (it must be the account's), or the
/// first whose phone number or e-mail address is a participant's.
async fn customer_of(db: &Db, account_id: i64, c: &NewConversation) -> Result<Option<i64>> {
    if let Some(id) = c.customer_id {
        super::commerce::get_customer(db, account_id, id)
            .await
            .map_err(|_| Error::invalid("/customer_id", "no such customer"))?;
        return Ok(Some(id));
    }
    for p in &c.participants {
        let address = p.address.trim();
        let query = if address.contains('@') {
            super::commerce::CustomerQuery {
                email: Some(address.to_string()),
                limit: Some(1),
                ..Default::default()
            }
        } else {
            let digits: String = address.chars().filter(|c| c.is_ascii_digit() || *c == '+').collect();
            super::commerce::CustomerQuery { phone: Some(digits), limit: Some(1), ..Default::default() }
        };
        if let Some(found) = super::commerce::list_customers(db, account_id, &query).await?.first() {
            return Ok(Some(found.id));
        }
    }
    Ok(None)
}

/// Keeps a conversation; one posted before with the same source id is returned as it is (and
/// `false`: nothing new).
pub async fn post(db: &Db, account_id: i64, c: &NewConversation) -> Result<(Conversation, bool)> {
    let existing = |db: &Db| {
        let db = db.clone();
        let source = c.source_id.clone();
        async move {
            let row = sqlx::query(&format!(
                "SELECT {COLS} FROM conversations WHERE account_id = $1 AND source_id = $2"
            ))
            .bind(account_id)
            .bind(source)
            .fetch_optional(db.pool())
            .await?;
            row.as_ref().map(from_row).transpose()
        }
    };
    if let Some(found) = existing(db).await? {
        return Ok((found, false));
    }
    let customer = customer_of(db, account_id, c).await?;
    let participants = serde_json::to_string(&c.participants).unwrap_or_else(|_| "[]".into());
    // Two posts of one message at once: the second finds the first (the unique key holds).
    let inserted = sqlx::query(
        "INSERT INTO conversations (account_id, customer_id, source_id, channel, direction, at, participants, \
         subject, text, link, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (account_id, source_id) DO NOTHING",
    )
    .bind(account_id)
    .bind(customer)
    .bind(&c.source_id)
    .bind(&c.channel)
    .bind(&c.direction)
    .bind(c.at)
    .bind(participants)
    .bind(&c.subject)
    .bind(&c.text)
    .bind(&c.link)
    .bind(now_ms())
    .execute(db.pool())
    .await?;
    let found =
        existing(db).await?.ok_or_else(|| Error::Internal("a conversation just kept is missing".into()))?;
    Ok((found, inserted.rows_affected() == 1))
}

/// One entry of a customer's timeline.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TimelineEntry {
    Call(CallRecord),
    Conversation(Conversation),
}

impl TimelineEntry {
    fn at(&self) -> i64 {
        match self {
            TimelineEntry::Call(c) => c.started_at,
            TimelineEntry::Conversation(c) => c.at,
        }
    }
}

/// The customer's calls and conversations, newest first (at most `limit` of them).
pub async fn timeline(db: &Db, account_id: i64, customer_id: i64, limit: i64) -> Result<Vec<TimelineEntry>> {
    let limit = limit.clamp(1, 500);
    let calls = sqlx::query(&format!(
        "SELECT {CALL_COLS} FROM call_records WHERE account_id = $1 AND customer_id = $2 \
         ORDER BY started_at DESC, id DESC LIMIT $3"
    ))
    .bind(account_id)
    .bind(customer_id)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    let conversations = sqlx::query(&format!(
        "SELECT {COLS} FROM conversations WHERE account_id = $1 AND customer_id = $2 \
         ORDER BY at DESC, id DESC LIMIT $3"
    ))
    .bind(account_id)
    .bind(customer_id)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    let mut all: Vec<TimelineEntry> = calls
        .iter()
        .map(|r| record_from_row(r).map(TimelineEntry::Call))
        .chain(conversations.iter().map(|r| from_row(r).map(TimelineEntry::Conversation)))
        .collect::<Result<_>>()?;
    all.sort_by_key(|e| std::cmp::Reverse(e.at()));
    all.truncate(limit as usize);
    Ok(all)
}

/// The account's inbound webhook secret, made on first use.
pub async fn webhook_secret(db: &Db, account_id: i64) -> Result<String> {
    let row = sqlx::query("SELECT secret FROM inbound_webhook_secrets WHERE account_id = $1")
        .bind(account_id)
        .fetch_optional(db.pool())
        .await?;
    match row {
        Some(r) => db.unseal(&r.try_get::<String, _>("secret")?),
        None => rotate_webhook_secret(db, account_id).await,
    }
}

/// A new secret for the account's inbound webhook (the old one stops working at once).
pub async fn rotate_webhook_secret(db: &Db, account_id: i64) -> Result<String> {
    let mut bytes = [0u8; 24];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| Error::Internal("the system random number generator failed".into()))?;
    let secret = format!("whsec_{}", hex::encode(bytes));
    let sealed = db.seal(&secret);
    let mut tx = db.pool().begin().await?;
    sqlx::query("DELETE FROM inbound_webhook_secrets WHERE account_id = $1")
        .bind(account_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO inbound_webhook_secrets (account_id, secret, created_at) VALUES ($1, $2, $3)")
        .bind(account_id)
        .bind(sealed)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(secret)
}
