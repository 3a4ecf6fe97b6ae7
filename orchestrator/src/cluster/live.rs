//! The supervisor grid across the nodes of a cluster: each node shares its live AI engagements
//! (`live_engagements`: tile and the last lines of transcript and events, rewritten when they
//! change, checked every 500 ms, announced with `NOTIFY switchboard_live`) and shows the other
//! living nodes' beside its own (`crate::live::remote`). A supervisor's note, listen-in or
//! takeover asked on another node arrives as a `live_commands` row and is carried out here.

use crate::db::Db;
use crate::live::{Live, RemoteEngagement};
use crate::store::shared_live;
use std::collections::HashMap;
use std::time::Duration;

const CHANNEL: &str = "switchboard_live";

/// Shares this node's engagements and takes the others' until the process ends.
pub fn share(db: Db, node: i64, live: Live, database_url: String) {
    let mut pulse = super::Pulse::start(&db, database_url, CHANNEL, Duration::from_millis(500));
    tokio::spawn(async move {
        let mut published: HashMap<u64, (i64, serde_json::Value)> = HashMap::new();
        let mut taken: Option<Vec<RemoteEngagement>> = None;
        loop {
            let announced = pulse.next().await;
            let mine: HashMap<u64, (i64, serde_json::Value)> =
                live.shared(node).into_iter().map(|(account, id, detail)| (id, (account, detail))).collect();
            if mine != published {
                let changed: Vec<(u64, i64, &serde_json::Value)> = mine
                    .iter()
                    .filter(|(id, e)| published.get(id) != Some(e))
                    .map(|(id, (account, detail))| (*id, *account, detail))
                    .collect();
                let gone: Vec<u64> = published.keys().filter(|id| !mine.contains_key(id)).copied().collect();
                match shared_live::publish(&db, node, &changed, &gone).await {
                    Ok(()) => {
                        published = mine;
                        let _ = db.notify(CHANNEL).await;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot share this node's live AI calls; trying again")
                    }
                }
            }
            match shared_live::take_forwarded(&db, node).await {
                Ok(actions) => {
                    for f in actions {
                        act(&live, &f);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot read supervisors' actions from other nodes"),
            }
            if announced || pulse.every(2) {
                match shared_live::others(&db, node).await {
                    Ok(theirs) if taken.as_ref() != Some(&theirs) => {
                        live.set_remote(theirs.clone());
                        taken = Some(theirs);
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "cannot read the other nodes' live AI calls"),
                }
            }
        }
    });
}

/// Carries out a supervisor's action asked on another node.
fn act(live: &Live, f: &shared_live::Forwarded) {
    use crate::live::NoteKind;
    let done = match f.kind.as_str() {
        "advice" => live.note(f.account, f.engagement, &f.by, NoteKind::Advice, &f.body).map(|_| ()),
        "approve" => live.note(f.account, f.engagement, &f.by, NoteKind::Approve, &f.body).map(|_| ()),
        "deny" => live.note(f.account, f.engagement, &f.by, NoteKind::Deny, &f.body).map(|_| ()),
        "takeover" => live.take_over(f.account, f.engagement, &f.by, &f.body),
        "listen" => live.listen(f.account, f.engagement, &f.by, &f.body),
        // A queue dashboard's pick of a caller waiting here (`engagement` is their place).
        "pick" => crate::calls::waiting::pick(f.account, f.engagement, &f.body).then_some(()),
        _ => None,
    };
    if done.is_none() {
        tracing::info!(engagement = f.engagement, kind = %f.kind, "a supervisor's action from another node found no live call");
    }
}
