//! The nodes of a cluster sharing this database, each with a lease it renews (see
//! `crate::cluster`).

use crate::db::Db;
use crate::error::Result;
use sqlx::Row;

/// A node as the database knows it.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct Node {
    pub id: i64,
    pub started_at: i64,
    /// Until when its lease runs (it renews it several times per lease).
    pub lease_until: i64,
    /// Taking no new calls; it stops when its calls have ended.
    pub draining: bool,
    /// The account's calls on it that are up.
    pub open_calls: i64,
}

/// Node `id` is up (again) until `lease_until`: its row is written afresh.
pub async fn join(
    db: &Db,
    id: i64,
    sip_addr: &str,
    http_addr: &str,
    now: i64,
    lease_until: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO cluster_nodes (id, sip_addr, http_addr, started_at, lease_until, draining) \
         VALUES ($1, $2, $3, $4, $5, 0) ON CONFLICT (id) DO UPDATE SET sip_addr = $2, \
         http_addr = $3, started_at = $4, lease_until = $5, draining = 0",
    )
    .bind(id)
    .bind(sip_addr)
    .bind(http_addr)
    .bind(now)
    .bind(lease_until)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Renews node `id`'s lease; false when its row is gone (another node took it for dead).
pub async fn renew(db: &Db, id: i64, lease_until: i64, draining: bool) -> Result<bool> {
    let done = sqlx::query("UPDATE cluster_nodes SET lease_until = $1, draining = $2 WHERE id = $3")
        .bind(lease_until)
        .bind(i64::from(draining))
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Node `id` stops cleanly: its row goes (its calls have ended).
pub async fn leave(db: &Db, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM cluster_nodes WHERE id = $1").bind(id).execute(db.pool()).await?;
    Ok(())
}

/// Every node, with `account`'s calls up on it.
pub async fn list(db: &Db, account: i64) -> Result<Vec<Node>> {
    let rows = sqlx::query(
        "SELECT n.id, n.started_at, n.lease_until, n.draining, \
         (SELECT COUNT(*) FROM call_records c WHERE c.node_id = n.id AND c.ended_at IS NULL \
          AND c.account_id = $1) AS open_calls \
         FROM cluster_nodes n ORDER BY n.id",
    )
    .bind(account)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Node {
                id: r.try_get("id")?,
                started_at: r.try_get("started_at")?,
                lease_until: r.try_get("lease_until")?,
                draining: super::flag(r, "draining")?,
                open_calls: r.try_get("open_calls")?,
            })
        })
        .collect()
}

/// Claims the nodes other than `me` whose lease lapsed before `now`: each is claimed by
/// exactly one caller (the one whose DELETE removed its row), who must close what it left.
pub async fn claim_dead(db: &Db, me: i64, now: i64) -> Result<Vec<i64>> {
    let lapsed: Vec<i64> = sqlx::query("SELECT id FROM cluster_nodes WHERE lease_until < $1 AND id <> $2")
        .bind(now)
        .bind(me)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|r| r.try_get("id"))
        .collect::<std::result::Result<_, _>>()?;
    let mut claimed = Vec::new();
    for id in lapsed {
        let done = sqlx::query("DELETE FROM cluster_nodes WHERE id = $1 AND lease_until < $2")
            .bind(id)
            .bind(now)
            .execute(db.pool())
            .await?;
        if done.rows_affected() == 1 {
            claimed.push(id);
        }
    }
    Ok(claimed)
}

/// Nodes that own open calls but have no row (they died and their row was claimed before
/// their calls were closed, or they died before joining): their calls are orphans.
pub async fn orphaned_nodes(db: &Db) -> Result<Vec<i64>> {
    let rows = sqlx::query(
        "SELECT DISTINCT node_id FROM call_records WHERE ended_at IS NULL AND node_id IS NOT NULL \
         AND node_id NOT IN (SELECT id FROM cluster_nodes)",
    )
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(|r| Ok(r.try_get("node_id")?)).collect()
}
