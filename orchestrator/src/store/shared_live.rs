//! Live AI engagements shared between the nodes of a cluster (see `crate::cluster`).

use crate::db::Db;
use crate::error::Result;
use crate::live::RemoteEngagement;
use sqlx::Row;

/// Writes node `node`'s changed engagements (id, account, detail) and drops its ended ones.
pub async fn publish(
    db: &Db,
    node: i64,
    changed: &[(u64, i64, &serde_json::Value)],
    gone: &[u64],
) -> Result<()> {
    let mut tx = db.pool().begin().await?;
    for id in gone.iter().chain(changed.iter().map(|(id, ..)| id)) {
        sqlx::query("DELETE FROM live_engagements WHERE node_id = $1 AND id = $2")
            .bind(node)
            .bind(*id as i64)
            .execute(&mut *tx)
            .await?;
    }
    for (id, account, detail) in changed {
        sqlx::query("INSERT INTO live_engagements (node_id, id, account_id, detail) VALUES ($1, $2, $3, $4)")
            .bind(node)
            .bind(*id as i64)
            .bind(account)
            .bind(detail.to_string())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The other living nodes' engagements.
pub async fn others(db: &Db, me: i64) -> Result<Vec<RemoteEngagement>> {
    let rows = sqlx::query(
        "SELECT node_id, id, account_id, detail FROM live_engagements WHERE node_id <> $1 \
         AND node_id IN (SELECT id FROM cluster_nodes) ORDER BY id",
    )
    .bind(me)
    .fetch_all(db.pool())
    .await?;
    let mut out = Vec::new();
    for r in &rows {
        let detail: String = r.try_get("detail")?;
        // A row this build cannot read is skipped (another version's node).
        let Ok(detail) = serde_json::from_str(&detail) else { continue };
        out.push(RemoteEngagement {
            node: r.try_get("node_id")?,
            account: r.try_get("account_id")?,
            id: r.try_get::<i64, _>("id")? as u64,
            detail,
        });
    }
    Ok(out)
}

/// All of node `node`'s rows go (at its start, and when it died).
pub async fn forget(db: &Db, node: i64) -> Result<()> {
    sqlx::query("DELETE FROM live_engagements WHERE node_id = $1").bind(node).execute(db.pool()).await?;
    sqlx::query("DELETE FROM live_commands WHERE node_id = $1").bind(node).execute(db.pool()).await?;
    Ok(())
}

/// A supervisor's action on an AI call (or on a waiting caller), asked on one node for the
/// node that carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarded {
    pub account: i64,
    pub engagement: u64,
    /// advice, approve, deny (notes), takeover or listen; or pick (a queue dashboard's pick of
    /// a caller waiting on that node: `engagement` is their place's id).
    pub kind: String,
    pub by: String,
    /// A note's text, or the extension to ring.
    pub body: String,
}

/// Asks node `node` to act on its engagement (announced at once on PostgreSQL).
pub async fn forward(db: &Db, node: i64, f: &Forwarded) -> Result<()> {
    sqlx::query(
        "INSERT INTO live_commands (node_id, account_id, engagement_id, kind, by_name, body, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(node)
    .bind(f.account)
    .bind(f.engagement as i64)
    .bind(&f.kind)
    .bind(&f.by)
    .bind(&f.body)
    .bind(crate::clock::now_ms())
    .execute(db.pool())
    .await?;
    db.notify("switchboard_live").await
}

/// Takes the actions asked of node `me`, oldest first (each is taken once).
pub async fn take_forwarded(db: &Db, me: i64) -> Result<Vec<Forwarded>> {
    let rows = sqlx::query(
        "SELECT id, account_id, engagement_id, kind, by_name, body FROM live_commands WHERE node_id = $1 \
         ORDER BY id",
    )
    .bind(me)
    .fetch_all(db.pool())
    .await?;
    let mut out = Vec::new();
    for r in &rows {
        let id: i64 = r.try_get("id")?;
        let taken =
            sqlx::query("DELETE FROM live_commands WHERE id = $1").bind(id).execute(db.pool()).await?;
        if taken.rows_affected() != 1 {
            continue;
        }
        out.push(Forwarded {
            account: r.try_get("account_id")?,
            engagement: r.try_get::<i64, _>("engagement_id")? as u64,
            kind: r.try_get("kind")?,
            by: r.try_get("by_name")?,
            body: r.try_get("body")?,
        });
    }
    Ok(out)
}
