//! A node of a cluster: several `switchboard serve --node-id N` processes sharing one
//! PostgreSQL database behind a SIP dispatcher (Kamailio, `deploy/kamailio/`).
//!
//! Each node owns the calls it answered (their records carry its id; their media stays on it)
//! and holds a lease in `cluster_nodes` that it renews several times per lease period. A node
//! whose lease lapsed is dead: the first other node to claim it (by deleting its row, which
//! only one can do) closes its open call records and recordings as failed, so that nothing it
//! held stays "live" forever. Its calls themselves are lost (their media was on it). A node
//! that restarts closes what its previous run left open and rejoins by itself.
//!
//! Draining (SIGTERM on a node): the SIP layer answers OPTIONS and new INVITEs 503, so the
//! dispatcher's probes take the node out and new calls go to the others; calls that are up
//! go on until they end; then the node stops and leaves the cluster.

mod config;
mod live;
mod queues;
mod registrations;

use crate::db::Db;
use crate::store::{call_history, cluster, recordings};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use switchboard_telephony::driver::SipHandle;

/// This process as a node of a cluster.
#[derive(Clone)]
pub struct Node {
    pub id: i64,
    db: Db,
    lease: Duration,
    draining: Arc<AtomicBool>,
    /// Left the cluster: the lease is no longer renewed.
    left: Arc<AtomicBool>,
}

fn lease_until(lease: Duration) -> i64 {
    crate::clock::now_ms() + lease.as_millis() as i64
}

impl Node {
    /// Joins the cluster (renewing its lease from then on) and closes what a previous run of
    /// this node left open.
    pub async fn join(
        db: &Db,
        id: i64,
        lease: Duration,
        sip: &str,
        http: &str,
    ) -> crate::error::Result<Node> {
        let db = db.clone().with_node(id);
        // Queue places carry the node (unique across the cluster) from the first caller on.
        crate::calls::waiting::set_node(id);
        cluster::join(&db, id, sip, http, crate::clock::now_ms(), lease_until(lease)).await?;
        // What an earlier run of this node shared about its queues and AI calls is gone with it.
        crate::store::shared_queues::forget(&db, id).await?;
        crate::store::shared_live::forget(&db, id).await?;
        let node = Node { id, db, lease, draining: Arc::default(), left: Arc::default() };
        let keeper = node.clone();
        let (sip, http) = (sip.to_string(), http.to_string());
        tokio::spawn(async move { keeper.keep(&sip, &http).await });
        Ok(node)
    }

    /// The database as this node sees it (its calls are its own).
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Renews the lease and closes what dead nodes left, a few times per lease period.
    async fn keep(&self, sip: &str, http: &str) {
        let mut tick = tokio::time::interval(self.lease / 3);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if self.left.load(Ordering::Relaxed) {
                return;
            }
            let draining = self.draining.load(Ordering::Relaxed);
            match cluster::renew(&self.db, self.id, lease_until(self.lease), draining).await {
                Ok(true) => {}
                Ok(false) => {
                    // Another node took this one for dead (the database or this process was
                    // stalled for a whole lease): the calls it closed are closed; join again.
                    tracing::warn!(
                        node = self.id,
                        "this node's lease had lapsed and was claimed; joining again"
                    );
                    let now = crate::clock::now_ms();
                    if let Err(e) =
                        cluster::join(&self.db, self.id, sip, http, now, lease_until(self.lease)).await
                    {
                        tracing::warn!(error = %e, "cannot rejoin the cluster; trying again");
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot renew this node's lease; trying again");
                    continue;
                }
            }
            if let Err(e) = self.close_dead().await {
                tracing::warn!(error = %e, "cannot close what dead nodes left; trying again");
            }
        }
    }

    /// Claims the nodes whose lease lapsed, and nodes with open calls and no row, and closes
    /// their calls.
    async fn close_dead(&self) -> crate::error::Result<()> {
        let mut dead = cluster::claim_dead(&self.db, self.id, crate::clock::now_ms()).await?;
        for orphan in cluster::orphaned_nodes(&self.db).await? {
            if orphan != self.id && !dead.contains(&orphan) {
                dead.push(orphan);
            }
        }
        for node in dead {
            let reason =
                format!("Switchboard node {node} stopped answering during the call (its lease lapsed)");
            let calls = call_history::close_open(&self.db, Some(node), &reason).await?;
            let recorded = recordings::close_open(&self.db, Some(node)).await?;
            crate::store::shared_queues::forget(&self.db, node).await?;
            crate::store::shared_live::forget(&self.db, node).await?;
            tracing::warn!(
                dead_node = node,
                calls,
                recordings = recorded,
                "a node died: its calls were lost and their records closed as failed"
            );
        }
        Ok(())
    }

    /// Stops taking new calls and waits until the calls up have ended (at most `limit`).
    /// True when they all ended.
    pub async fn drain(&self, sip: &SipHandle, limit: Duration) -> bool {
        self.draining.store(true, Ordering::Relaxed);
        sip.set_draining(true).await;
        let _ = cluster::renew(&self.db, self.id, lease_until(self.lease), true).await;
        let deadline = tokio::time::Instant::now() + limit;
        let mut last = usize::MAX;
        loop {
            let calls = sip.stats().await.calls;
            if calls == 0 {
                tracing::info!(node = self.id, "drained: no call is up");
                return true;
            }
            if calls != last {
                tracing::info!(node = self.id, calls, "draining: waiting for the calls up to end");
                last = calls;
            }
            if tokio::time::Instant::now() > deadline {
                tracing::warn!(node = self.id, calls, "drain time is up; stopping with calls up");
                return false;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Shares the devices registered with this node with the others, and lets calls here ring
    /// theirs (see `registrations`).
    pub fn share_registrations(&self, sip: SipHandle, database_url: String) {
        registrations::share(self.db.clone(), self.id, sip, database_url);
    }

    /// Announces configuration changes made through this node to the others, and reloads at
    /// once when they announce theirs (see `config`).
    pub fn share_config(&self, changed: crate::calls::snapshot::ConfigVersion, database_url: String) {
        config::share(self.db.clone(), changed, database_url);
    }

    /// Shares this node's waiting queue callers and busy agents with the others, and takes
    /// theirs (see `queues`).
    pub fn share_queues(&self, live: crate::live::Live, database_url: String) {
        queues::share(self.db.clone(), self.id, live, database_url);
    }

    /// Shares this node's live AI calls with the other nodes' supervisor grids, and shows
    /// theirs in this node's (see `live`).
    pub fn share_live(&self, live: crate::live::Live, database_url: String) {
        live.set_node(self.id);
        live::share(self.db.clone(), self.id, live, database_url);
    }

    /// Leaves the cluster (a clean stop).
    pub async fn leave(&self) {
        self.left.store(true, Ordering::Relaxed);
        if let Err(e) = cluster::leave(&self.db, self.id).await {
            tracing::warn!(error = %e, "cannot leave the cluster cleanly (its lease will lapse)");
        }
    }
}

/// A sharing loop's beat: a tick every `every`, or at once when another node announces a
/// change on the loop's channel (PostgreSQL `LISTEN`, listening again after a lost connection).
struct Pulse {
    tick: tokio::time::Interval,
    wake: tokio::sync::mpsc::Receiver<()>,
    /// Ticks so far (the first comes at once).
    ticks: u64,
}

impl Pulse {
    fn start(db: &Db, database_url: String, channel: &'static str, every: Duration) -> Pulse {
        let (wake_tx, wake) = tokio::sync::mpsc::channel::<()>(1);
        if db.backend() == crate::db::Backend::Postgres {
            tokio::spawn(listen(database_url, channel, wake_tx));
        }
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Pulse { tick, wake, ticks: 0 }
    }

    /// Waits for the next beat: true when it is another node's announcement.
    async fn next(&mut self) -> bool {
        tokio::select! {
            _ = self.tick.tick() => {
                self.ticks += 1;
                false
            }
            Some(()) = self.wake.recv() => true,
        }
    }

    /// Whether this beat is the first of each `n` ticks (for work done less often).
    fn every(&self, n: u64) -> bool {
        self.ticks % n == 1
    }
}

async fn listen(url: String, channel: &'static str, wake: tokio::sync::mpsc::Sender<()>) {
    loop {
        let listener = async {
            let mut l = sqlx::postgres::PgListener::connect(&url).await?;
            l.listen(channel).await?;
            loop {
                l.recv().await?;
                let _ = wake.try_send(());
            }
            #[allow(unreachable_code)]
            Ok::<(), sqlx::Error>(())
        };
        if let Err(e) = listener.await {
            tracing::warn!(error = %e, channel, "lost the cluster's change announcements; listening again");
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}
