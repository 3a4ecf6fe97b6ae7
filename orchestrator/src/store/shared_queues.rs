//! Queue state shared between the nodes of a cluster: the callers waiting on each node and the
//! agents busy on each (see `crate::cluster`).

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
pub async fn publish(db: &Db, node: i64, waiting: &[RemoteWaiter], busy: &[(i64, String)]) -> Result<()> {
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
    for (account, extension) in busy {
        sqlx::query("INSERT INTO agents_busy (node_id, account_id, extension) VALUES ($1, $2, $3)")
            .bind(node)
            .bind(account)
            .bind(extension)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The other living nodes' waiting callers and busy agents.
pub async fn others(db: &Db, me: i64) -> Result<(Vec<RemoteWaiter>, Vec<(i64, String)>)> {
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
    let rows = sqlx::query(&format!(
        "SELECT DISTINCT account_id, extension FROM agents_busy WHERE {living} ORDER BY account_id, extension"
    ))
    .bind(me)
    .fetch_all(db.pool())
    .await?;
    let busy = rows
        .iter()
        .map(|r| Ok((r.try_get("account_id")?, r.try_get("extension")?)))
        .collect::<Result<Vec<_>>>()?;
    Ok((waiting, busy))
}

/// A dead node's rows go (its callers were lost with it).
pub async fn forget(db: &Db, node: i64) -> Result<()> {
    sqlx::query("DELETE FROM queue_waiting WHERE node_id = $1").bind(node).execute(db.pool()).await?;
    sqlx::query("DELETE FROM agents_busy WHERE node_id = $1").bind(node).execute(db.pool()).await?;
    Ok(())
}
