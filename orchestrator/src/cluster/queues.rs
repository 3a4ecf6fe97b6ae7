//! Queue state shared between the nodes of a cluster: each node's waiting callers (so that a
//! caller's place counts the callers on every node who came first, and only the first in line
//! anywhere is offered to the members) and the agents on a call or wrapping one up on it (so
//! that no node offers them another queue call). A node writes its own rows when they change
//! (checked every 250 ms) and announces it with `NOTIFY switchboard_queues`; every node reads
//! the others' at once when announced, and every second anyway.

use crate::calls::activity::Busy;
use crate::calls::waiting::{self, RemoteWaiter};
use crate::db::Db;
use crate::live::Live;
use crate::store::shared_queues;
use std::time::Duration;

const CHANNEL: &str = "switchboard_queues";

/// A node's waiting callers and busy agents.
type Shared = (Vec<RemoteWaiter>, Vec<Busy>);

/// Shares this node's queues and takes the others' until the process ends.
pub fn share(db: Db, node: i64, live: Live, database_url: String) {
    let mut pulse = super::Pulse::start(&db, database_url, CHANNEL, Duration::from_millis(250));
    tokio::spawn(async move {
        let mut published: Option<Shared> = None;
        let mut taken: Option<Shared> = None;
        loop {
            let announced = pulse.next().await;
            let mine = (waiting::local(), live.agents().busy_here());
            if published.as_ref() != Some(&mine) {
                match shared_queues::publish(&db, node, &mine.0, &mine.1).await {
                    Ok(()) => {
                        published = Some(mine);
                        let _ = db.notify(CHANNEL).await;
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot share this node's queues; trying again"),
                }
            }
            if announced || pulse.every(4) {
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
