//! SIP registrations shared between the nodes of a cluster (`sip_bindings`): each node writes
//! the phones registered with it; every node reads the others' to ring them too.

use crate::db::Db;
use crate::error::Result;
use sqlx::Row;

/// One registered device as the cluster shares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedBinding {
    pub node_id: i64,
    pub account_id: i64,
    pub extension: String,
    pub contact: String,
    /// The proxies the REGISTER came through (`Path`), nearest first.
    pub path: Vec<String>,
    /// Where the REGISTER came from (`ip:port`).
    pub source: String,
    pub transport: String,
    pub user_agent: Option<String>,
    /// When it expires (Unix ms).
    pub expires_at: i64,
}

/// Replaces node `node`'s bindings of `(account, extension)` with `bindings` (none: the
/// extension has no device registered with the node any more).
pub async fn replace(
    db: &Db,
    node: i64,
    account: i64,
    extension: &str,
    bindings: &[SharedBinding],
) -> Result<()> {
    let mut tx = db.pool().begin().await?;
    sqlx::query("DELETE FROM sip_bindings WHERE node_id = $1 AND account_id = $2 AND extension = $3")
        .bind(node)
        .bind(account)
        .bind(extension)
        .execute(&mut *tx)
        .await?;
    for b in bindings {
        sqlx::query(
            "INSERT INTO sip_bindings (node_id, account_id, extension, contact, path, source, transport, \
             user_agent, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(node)
        .bind(account)
        .bind(extension)
        .bind(&b.contact)
        .bind(b.path.join("\n"))
        .bind(&b.source)
        .bind(&b.transport)
        .bind(&b.user_agent)
        .bind(b.expires_at)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The devices node `me` can ring that other nodes registered (or that an earlier run of `me`
/// registered through a proxy): unexpired, and reachable from here: through their path (from
/// any node, living or not) or, without one, directly over UDP from a living node. A device
/// on a TCP or WebSocket connection of another node is not: only that node can reach it.
pub async fn reachable(db: &Db, me: i64, now: i64) -> Result<Vec<SharedBinding>> {
    let rows = sqlx::query(
        "SELECT node_id, account_id, extension, contact, path, source, transport, user_agent, expires_at \
         FROM sip_bindings WHERE expires_at > $1 AND (path <> '' OR (node_id <> $2 AND \
         UPPER(transport) = 'UDP' AND node_id IN (SELECT id FROM cluster_nodes))) \
         ORDER BY account_id, extension, expires_at DESC",
    )
    .bind(now)
    .bind(me)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let path: String = r.try_get("path")?;
            Ok(SharedBinding {
                node_id: r.try_get("node_id")?,
                account_id: r.try_get("account_id")?,
                extension: r.try_get("extension")?,
                contact: r.try_get("contact")?,
                path: path.lines().map(str::to_string).filter(|p| !p.is_empty()).collect(),
                source: r.try_get("source")?,
                transport: r.try_get("transport")?,
                user_agent: r.try_get("user_agent")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .collect()
}

/// Drops bindings that expired before `now`.
pub async fn purge_expired(db: &Db, now: i64) -> Result<u64> {
    let done =
        sqlx::query("DELETE FROM sip_bindings WHERE expires_at <= $1").bind(now).execute(db.pool()).await?;
    Ok(done.rows_affected())
}
