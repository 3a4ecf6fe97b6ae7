//! Queue state shared between the nodes of a cluster: the callers waiting on each node and the
//! agents busy on each (see `crate::cluster`).

use crate::calls::activity::Busy;
use crate::db::Db;
use crate::error::Result;
use sqlx::Row;

/// A caller waiting in a queue on a node of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteWaiter {
    pub node: i64,
    pub account: i64,
    pub queue: String,
    /// Their place's id (unique across nodes).
    pub id: u64,
    pub caller: Option<String>,
    /// When they joined (unix ms).
    pub since: i64,
}

/// Replaces node `node`'s waiting callers and busy agents.
pub async fn publish(db: &Db, node: i64, waiting: &[RemoteWaiter], busy: &[Busy]) -> Result<()> {
    let mut tx = db.pool().begin().await?;
    sqlx::query("DELETE FROM queue_waiting WHERE node_id = $1").bind(node).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM agents_busy WHERE node_id = $1").bind(node).execute(&mut *tx).await?;
    for w in waiting {
        sqlx::query(
            "INSERT INTO queue_waiting (node_id, place_id, account_id, queue, caller, since) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(node)
        .bind(w.id as i64)
        .bind(w.account)
        .bind(&w.queue)
        .bind(&w.caller)
        .bind(w.since)
        .execute(&mut *tx)
        .await?;
    }
    for b in busy {
        sqlx::query(
            "INSERT INTO agents_busy (node_id, account_id, extension, activity, since, peer) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(node)
        .bind(b.account)
        .bind(&b.extension)
        .bind(&b.activity)
        .bind(b.since)
        .bind(&b.peer)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The other living nodes' waiting callers and busy agents.
pub async fn others(db: &Db, me: i64) -> Result<(Vec<RemoteWaiter>, Vec<Busy>)> {
    let living = "node_id <> $1 AND node_id IN (SELECT id FROM cluster_nodes)";
    let rows = sqlx::query(&format!(
        "SELECT node_id, place_id, account_id, queue, caller, since FROM queue_waiting WHERE {living} \
         ORDER BY since, node_id, place_id"
    ))
    .bind(me)
    .fetch_all(db.pool())
    .await?;
    let waiting = rows
        .iter()
        .map(|r| {
            Ok(RemoteWaiter {
                node: r.try_get("node_id")?,
                id: r.try_get::<i64, _>("place_id")? as u64,
                account: r.try_get("account_id")?,
                queue: r.try_get("queue")?,
                caller: r.try_get("caller")?,
                since: r.try_get("since")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    // (An agent busy on two nodes at once: the latest.)
    let rows = sqlx::query(&format!(
        "SELECT node_id, account_id, extension, activity, since, peer FROM agents_busy WHERE {living} \
         ORDER BY account_id, extension, since, node_id"
    ))
    .bind(me)
    .fetch_all(db.pool())
    .await?;
    let mut busy: Vec<Busy> = Vec::new();
    for r in &rows {
        let b = Busy {
            account: r.try_get("account_id")?,
            extension: r.try_get("extension")?,
            activity: r.try_get("activity")?,
            since: r.try_get("since")?,
            peer: r.try_get("peer")?,
            node: r.try_get("node_id")?,
        };
        match busy.last_mut() {
            Some(last) if (last.account, &last.extension) == (b.account, &b.extension) => *last = b,
            _ => busy.push(b),
        }
    }
    Ok((waiting, busy))
}

/// A dead node's rows go (its callers were lost with it).
pub async fn forget(db: &Db, node: i64) -> Result<()> {
    sqlx::query("DELETE FROM queue_waiting WHERE node_id = $1").bind(node).execute(db.pool()).await?;
    sqlx::query("DELETE FROM agents_busy WHERE node_id = $1").bind(node).execute(db.pool()).await?;
    Ok(())
}

/// Claims `extension` for node `node` until `until` to offer them a caller: true when this
/// node holds the claim now (no other node's claim runs past `now`). Exactly one node wins a
/// race (the row's primary key and the conditional update decide).
pub async fn claim_agent(
    db: &Db,
    node: i64,
    account: i64,
    extension: &str,
    now: i64,
    until: i64,
) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO agent_claims (account_id, extension, node_id, until) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (account_id, extension) DO UPDATE SET node_id = $3, until = $4 \
         WHERE agent_claims.until < $5 OR agent_claims.node_id = $3",
    )
    .bind(account)
    .bind(extension)
    .bind(node)
    .bind(until)
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Node `node` lets `extension` go (the offer ended unanswered).
pub async fn release_agent(db: &Db, node: i64, account: i64, extension: &str) -> Result<()> {
    sqlx::query("DELETE FROM agent_claims WHERE account_id = $1 AND extension = $2 AND node_id = $3")
        .bind(account)
        .bind(extension)
        .bind(node)
        .execute(db.pool())
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_node_at_a_time_claims_an_agent_until_released_or_expired() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&Db::sqlite_url(dir.path())).await.unwrap();
        assert!(claim_agent(&db, 1, 7, "101", 1_000, 30_000).await.unwrap());
        assert!(!claim_agent(&db, 2, 7, "101", 2_000, 32_000).await.unwrap(), "node 1 holds it");
        assert!(claim_agent(&db, 2, 7, "102", 2_000, 32_000).await.unwrap(), "another agent");
        assert!(claim_agent(&db, 2, 8, "101", 2_000, 32_000).await.unwrap(), "another account");
        assert!(claim_agent(&db, 1, 7, "101", 3_000, 33_000).await.unwrap(), "its holder renews it");
        release_agent(&db, 2, 7, "101").await.unwrap();
        assert!(!claim_agent(&db, 2, 7, "101", 4_000, 34_000).await.unwrap(), "only the holder releases");
        release_agent(&db, 1, 7, "101").await.unwrap();
        assert!(claim_agent(&db, 2, 7, "101", 5_000, 35_000).await.unwrap(), "released");
        assert!(claim_agent(&db, 1, 7, "101", 35_001, 65_000).await.unwrap(), "expired");
    }
}
