//! Configuration changes across the nodes of a cluster: a change made through one node is
//! announced (`NOTIFY switchboard_config`) and every node reloads its snapshot and SIP directory
//! at once, instead of at its next periodic reload (every 10 s). A browser's softphone
//! credentials, issued by the node that served its page, are so good on the node its
//! registration reaches a moment later.

use crate::calls::snapshot::ConfigVersion;
use crate::db::Db;
use std::time::Duration;

const CHANNEL: &str = "switchboard_config";

/// Announces this node's changes and takes the others' until the process ends.
pub fn share(db: Db, changed: ConfigVersion, database_url: String) {
    let mut mine = changed.announcements();
    // Only the announcements matter here (the reloader has its own period).
    let mut pulse = super::Pulse::start(&db, database_url, CHANNEL, Duration::from_secs(3600));
    tokio::spawn(async move {
        loop {
            tokio::select! {
                Some(()) = mine.recv() => {
                    if let Err(e) = db.notify(CHANNEL).await {
                        tracing::warn!(error = %e, "cannot announce a configuration change to the other nodes");
                    }
                }
                announced = pulse.next() => {
                    if announced {
                        changed.reload();
                    }
                }
            }
        }
    });
}
