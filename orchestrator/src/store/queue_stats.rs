//! A queue's day in figures, from the calls' timelines: offered (callers who joined), answered,
//! abandoned, sent to overflow, missed offers (a member rang and did not take it), the average
//! wait of answered callers, the average handle time (from the member's answer to the call's
//! end) and the service level (the share answered within the queue's threshold).

use crate::db::Db;
use crate::error::Result;
use schemars::JsonSchema;
use serde::Serialize;
use sqlx::Row;
use std::collections::HashMap;

/// One queue's figures since a time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, JsonSchema)]
pub struct QueueDay {
    pub offered: u32,
    pub answered: u32,
    pub abandoned: u32,
    pub overflowed: u32,
    pub missed_offers: u32,
    /// Average wait of answered callers, seconds.
    pub average_wait_s: Option<f64>,
    /// Average handle time of answered calls that have ended, seconds.
    pub average_handle_s: Option<f64>,
    /// Answered within the threshold, of those answered or abandoned (0 to 1).
    pub service_level: Option<f64>,
    #[serde(skip)]
    waits: Vec<u64>,
    #[serde(skip)]
    handles: Vec<i64>,
}

fn average<T: Copy + Into<f64>>(xs: &[T]) -> Option<f64> {
    (!xs.is_empty()).then(|| xs.iter().map(|x| (*x).into()).sum::<f64>() / xs.len() as f64)
}

/// Each queue's figures since `since` (unix ms), with each queue's service-level threshold.
pub async fn since(
    db: &Db,
    account: i64,
    since: i64,
    thresholds: &HashMap<String, u32>,
) -> Result<HashMap<String, QueueDay>> {
    let rows = sqlx::query(
        "SELECT e.kind, e.data, e.at, r.ended_at FROM call_events e JOIN call_records r ON r.id = e.call_id \
         WHERE r.account_id = $1 AND e.at >= $2 AND e.kind IN \
         ('queue_joined', 'queue_answered', 'queue_abandoned', 'queue_overflow', 'queue_offer')",
    )
    .bind(account)
    .bind(since)
    .fetch_all(db.pool())
    .await?;
    let mut out: HashMap<String, QueueDay> = HashMap::new();
    for row in rows {
        let kind: String = row.try_get("kind")?;
        let data: String = row.try_get("data")?;
        let at: i64 = row.try_get("at")?;
        let ended: Option<i64> = row.try_get("ended_at")?;
        let data: serde_json::Value = serde_json::from_str(&data).unwrap_or_default();
        let Some(queue) = data["queue"].as_str() else { continue };
        let day = out.entry(queue.to_string()).or_default();
        let waited = data["waited_ms"].as_u64().unwrap_or(0);
        match kind.as_str() {
            "queue_joined" => day.offered += 1,
            "queue_answered" => {
                day.answered += 1;
                day.waits.push(waited);
                if let Some(ended) = ended {
                    day.handles.push((ended - at).max(0));
                }
            }
            "queue_abandoned" => {
                day.abandoned += 1;
                day.waits.push(u64::MAX); // never within the threshold
            }
            "queue_overflow" => day.overflowed += 1,
            // Busy or not answering; a member whose phone is not registered was never offered.
            "queue_offer" if data["status"].as_u64() != Some(480) => day.missed_offers += 1,
            _ => {}
        }
    }
    for (queue, day) in &mut out {
        let answered: Vec<f64> =
            day.waits.iter().filter(|w| **w != u64::MAX).map(|w| *w as f64 / 1000.0).collect();
        day.average_wait_s = average(&answered);
        let handles: Vec<f64> = day.handles.iter().map(|h| *h as f64 / 1000.0).collect();
        day.average_handle_s = average(&handles);
        let threshold = thresholds.get(queue).copied().unwrap_or(20) as u64 * 1000;
        let within = day.waits.iter().filter(|w| **w <= threshold).count();
        day.service_level = (!day.waits.is_empty()).then(|| within as f64 / day.waits.len() as f64);
    }
    Ok(out)
}
