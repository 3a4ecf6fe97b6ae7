//! Card payments taken on calls, as the processor returned them: its token, the card's brand,
//! last four and expiry, the charge's status. Never the number or the security code.

use crate::clock::now_ms;
use crate::db::Db;
use crate::error::Result;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// A card tokenised (and charged, when an amount was asked) during a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct PaymentToken {
    pub id: i64,
    pub customer_id: Option<i64>,
    pub call_id: Option<i64>,
    /// The payment gateway's name.
    pub processor: String,
    /// The processor's token for the card (use it to charge again through the processor).
    pub token: String,
    pub brand: String,
    pub last4: String,
    pub exp_month: i64,
    pub exp_year: i64,
    /// In the currency's smallest unit (cents); unset when the card was only tokenised.
    pub amount_minor: Option<i64>,
    pub currency: Option<String>,
    pub charge_id: Option<String>,
    /// `tokenized`, or the charge's status (`succeeded`, `pending`, `failed`).
    pub status: String,
    /// Who took it (the agent's name).
    pub taken_by: Option<String>,
    pub created_at: i64,
}

/// Which payments to list.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentQuery {
    pub customer_id: Option<i64>,
    pub call_id: Option<i64>,
    pub limit: Option<i64>,
}

const COLS: &str = "id, customer_id, call_id, processor, token, brand, last4, exp_month, exp_year, \
     amount_minor, currency, charge_id, status, taken_by, created_at";

fn from_row(row: &sqlx::any::AnyRow) -> Result<PaymentToken> {
    Ok(PaymentToken {
        id: row.try_get("id")?,
        customer_id: row.try_get("customer_id")?,
        call_id: row.try_get("call_id")?,
        processor: row.try_get("processor")?,
        token: row.try_get("token")?,
        brand: row.try_get("brand")?,
        last4: row.try_get("last4")?,
        exp_month: row.try_get("exp_month")?,
        exp_year: row.try_get("exp_year")?,
        amount_minor: row.try_get("amount_minor")?,
        currency: row.try_get("currency")?,
        charge_id: row.try_get("charge_id")?,
        status: row.try_get("status")?,
        taken_by: row.try_get("taken_by")?,
        created_at: row.try_get("created_at")?,
    })
}

/// What to store of a payment.
pub struct NewPayment<'a> {
    pub call_id: Option<i64>,
    pub processor: &'a str,
    pub token: &'a str,
    pub brand: &'a str,
    pub last4: &'a str,
    pub exp_month: i64,
    pub exp_year: i64,
    pub amount_minor: Option<i64>,
    pub currency: Option<&'a str>,
    pub charge_id: Option<&'a str>,
    pub status: &'a str,
    pub taken_by: &'a str,
}

/// Stores a payment; its customer is the call's.
pub async fn insert(db: &Db, account_id: i64, p: &NewPayment<'_>) -> Result<i64> {
    let customer: Option<i64> = match p.call_id {
        Some(call) => sqlx::query("SELECT customer_id FROM call_records WHERE id = $1 AND account_id = $2")
            .bind(call)
            .bind(account_id)
            .fetch_optional(db.pool())
            .await?
            .map(|r| r.try_get::<Option<i64>, _>("customer_id"))
            .transpose()?
            .flatten(),
        None => None,
    };
    let row = sqlx::query(
        "INSERT INTO payment_tokens (account_id, customer_id, call_id, processor, token, brand, last4, \
         exp_month, exp_year, amount_minor, currency, charge_id, status, taken_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id",
    )
    .bind(account_id)
    .bind(customer)
    .bind(p.call_id)
    .bind(p.processor)
    .bind(p.token)
    .bind(p.brand)
    .bind(p.last4)
    .bind(p.exp_month)
    .bind(p.exp_year)
    .bind(p.amount_minor)
    .bind(p.currency)
    .bind(p.charge_id)
    .bind(p.status)
    .bind(p.taken_by)
    .bind(now_ms())
    .fetch_one(db.pool())
    .await?;
    Ok(row.try_get("id")?)
}

/// The account's payments, newest first.
pub async fn list(db: &Db, account_id: i64, q: &PaymentQuery) -> Result<Vec<PaymentToken>> {
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let rows = sqlx::query(&format!(
        "SELECT {COLS} FROM payment_tokens WHERE account_id = $1 \
         AND ($2 IS NULL OR customer_id = $2) AND ($3 IS NULL OR call_id = $3) \
         ORDER BY id DESC LIMIT $4"
    ))
    .bind(account_id)
    .bind(q.customer_id)
    .bind(q.call_id)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(from_row).collect()
}
