//! What a call cost, as it ends: carrier time priced at the account trunk's rates (billed by the
//! second from answer: an inbound call's caller from the moment we answered, each outside leg
//! from the moment its callee answered), written as a `carrier_usage` event and added to the
//! call's cost beside the AI's tokens (`ai_usage`) and cloud speech (`speech_usage`).

use super::calls::CarrierRates;
use crate::error::Result;
use sqlx::Row;

/// Prices the carrier time of call `id` that ended at `ended_at` (inside the record writer's
/// transaction); nothing when no carrier leg was connected.
pub(super) async fn price_carrier_time(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: i64,
    ended_at: i64,
    rates: CarrierRates,
) -> Result<()> {
    let row = sqlx::query("SELECT direction, answered_at FROM call_records WHERE id = $1")
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
    let direction: String = row.try_get("direction")?;
    let answered: Option<i64> = row.try_get("answered_at")?;
    let inbound_ms = match (direction.as_str(), answered) {
        ("inbound", Some(at)) => (ended_at - at).max(0),
        _ => 0,
    };
    let legs = sqlx::query(
        "SELECT answered_at, ended_at FROM call_legs WHERE call_id = $1 AND kind = 'external' \
         AND answered_at IS NOT NULL",
    )
    .bind(id)
    .fetch_all(&mut **tx)
    .await?;
    let mut outbound_ms = 0i64;
    for leg in legs {
        let (from, to): (i64, Option<i64>) = (leg.try_get("answered_at")?, leg.try_get("ended_at")?);
        outbound_ms += (to.unwrap_or(ended_at) - from).max(0);
    }
    if inbound_ms == 0 && outbound_ms == 0 {
        return Ok(());
    }
    let price = |ms: i64, per_minute: i64| (ms as i128 * per_minute as i128 / 60_000) as i64;
    let cost = price(inbound_ms, rates.inbound_micros_per_minute)
        + price(outbound_ms, rates.outbound_micros_per_minute);
    let data = serde_json::json!({
        "inbound_seconds": inbound_ms as f64 / 1000.0,
        "outbound_seconds": outbound_ms as f64 / 1000.0,
        "inbound_micros_per_minute": rates.inbound_micros_per_minute,
        "outbound_micros_per_minute": rates.outbound_micros_per_minute,
        "cost_micros": cost,
    });
    sqlx::query("INSERT INTO call_events (call_id, at, kind, data) VALUES ($1, $2, 'carrier_usage', $3)")
        .bind(id)
        .bind(ended_at)
        .bind(data.to_string())
        .execute(&mut **tx)
        .await?;
    sqlx::query("UPDATE call_records SET cost_micros = cost_micros + $1 WHERE id = $2")
        .bind(cost)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Adds cloud speech used after a call (its recording's transcription) to call `id`: a
/// `speech_usage` event with `data`, and `cost` (micro-dollars) to the call's cost.
pub async fn add_speech_usage(
    db: &crate::db::Db,
    id: i64,
    data: &serde_json::Value,
    cost: i64,
) -> Result<()> {
    let mut tx = db.pool().begin().await?;
    sqlx::query("INSERT INTO call_events (call_id, at, kind, data) VALUES ($1, $2, 'speech_usage', $3)")
        .bind(id)
        .bind(crate::clock::now_ms())
        .bind(data.to_string())
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE call_records SET cost_micros = cost_micros + $1 WHERE id = $2")
        .bind(cost)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}
