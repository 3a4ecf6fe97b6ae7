//! Queue state shared between the nodes of a cluster: each node's waiting callers (so that a
//! caller's place counts the callers on every node who came first, and only the first in line
//! anywhere is offered to the members) and the agents on a call or wrapping one up on it (so
//! that no node offers them another queue call). A node writes its own rows when they change
//! (checked every 250 ms) and announces it with `NOTIFY switchboard_queues`; every node reads
//! the others' at once when announced, and every second anyway.

use crate::calls::waiting::{self, RemoteWaiter};
use crate::db::{Backend, Db};
use crate::live::Live;
use crate::store::shared_queues;
use std::time::Duration;

const CHANNEL: &str = "switchboard_queues";

/// A node's waiting callers and busy agents.
type Shared = (Vec<RemoteWaiter>, Vec<(i64, String)>);

/// Shares this node's queues and takes the others' until the process ends.
pub fn share(db: Db, node: i64, live: Live, database_url: String) {
    let (wake_tx, mut wake) = tokio::sync::mpsc::channel::<()>(1);
    if db.backend() == Backend::Postgres {
        tokio::spawn(super::listen(database_url, CHANNEL, wake_tx));
    }
    tokio::spawn(async move {
        let mut published: Option<Shared> = None;
        let mut taken: Option<Shared> = None;
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut ticks = 0u64;
        loop {
            let announced = tokio::select! {
                _ = tick.tick() => {
                    ticks += 1;
                    false
                }
                Some(()) = wake.recv() => true,
            };
            let mine = (waiting::local(), live.agents().busy_here());
            if published.as_ref() != Some(&mine) {
                match shared_queues::publish(&db, node, &mine.0, &mine.1).await {
                    Ok(()) => {
                        published = Some(mine);
                        if db.backend() == Backend::Postgres {
                            let _ = sqlx::query(&format!("NOTIFY {CHANNEL}")).execute(db.pool()).await;
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot share this node's queues; trying again"),
                }
            }
            if announced || ticks % 4 == 1 {
                match shared_queues::others(&db, node).await {
                    Ok(theirs) if taken.as_ref() != Some(&theirs) => {
                        waiting::set_remote(theirs.0.clone());
                        live.agents().set_busy_elsewhere(theirs.1.iter().cloned());
                        taken = Some(theirs);
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "cannot read the other nodes' queues"),
                }
            }
        }
    });
}
