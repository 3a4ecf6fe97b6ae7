//! AI engagements on other nodes of a cluster, for a supervisor's grid on any node: each node
//! shares its engagements (tile, and the last lines of transcript and events) and shows the
//! others' beside its own (notes, listen-in and takeover asked here are forwarded to the node
//! that carries the call: `api::live`, `cluster::live`). See `crate::cluster`.

use super::*;

/// Transcript lines and events of an engagement shared with the other nodes.
const SHARED: usize = 100;

/// An engagement on another node, as that node shared it.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteEngagement {
    pub node: i64,
    pub account: i64,
    pub id: u64,
    /// Its `Detail`, serialised, with `node` set in its tile.
    pub detail: Value,
}

fn with_node(mut detail: Value, node: i64) -> Value {
    if let Some(tile) = detail.get_mut("tile").and_then(Value::as_object_mut) {
        tile.insert("node".into(), json!(node));
    }
    detail
}

impl Live {
    /// Makes this process node `node` of a cluster: its engagement ids carry the node, so that
    /// they are unique across the cluster.
    pub fn set_node(&self, node: i64) {
        if node > 0 {
            self.inner.next.store(((node as u64) << 40) + 1, Ordering::Relaxed);
        }
    }

    /// This node's engagements to share: (account, id, detail with the last lines only).
    pub fn shared(&self, node: i64) -> Vec<(i64, u64, Value)> {
        let entries = self.lock();
        let mut out: Vec<(i64, u64, Value)> = entries
            .iter()
            .map(|(id, e)| {
                let last = |n: usize| n.saturating_sub(SHARED);
                let detail = Detail {
                    tile: e.tile.clone(),
                    transcript: e.transcript[last(e.transcript.len())..].to_vec(),
                    events: e.events[last(e.events.len())..].to_vec(),
                };
                let value = serde_json::to_value(detail).unwrap_or(Value::Null);
                (e.account, *id, with_node(value, node))
            })
            .collect();
        out.sort_by_key(|(_, id, _)| *id);
        out
    }

    /// Replaces the engagements on other nodes; the feeds hear of new, changed and ended ones.
    pub fn set_remote(&self, engagements: Vec<RemoteEngagement>) {
        let mut remote = self.inner.remote.lock().unwrap_or_else(|e| e.into_inner());
        let mut sends = Vec::new();
        for e in &engagements {
            if remote.get(&e.id).map(|old| &old.detail) != Some(&e.detail) {
                sends.push((e.account, e.id, json!({ "type": "tile", "tile": e.detail["tile"] })));
            }
        }
        for (id, old) in remote.iter() {
            if !engagements.iter().any(|e| e.id == *id) {
                sends.push((old.account, *id, json!({ "type": "ended", "id": id })));
            }
        }
        *remote = engagements.into_iter().map(|e| (e.id, e)).collect();
        drop(remote);
        for (account, id, message) in sends {
            self.send(account, id, true, message);
        }
    }

    /// The account's live tiles on every node, most severe first (each with its `node` when on
    /// another node).
    pub fn all_tiles(&self, account: i64) -> Vec<Value> {
        let mut tiles: Vec<Value> =
            self.tiles(account).into_iter().filter_map(|t| serde_json::to_value(t).ok()).collect();
        let remote = self.inner.remote.lock().unwrap_or_else(|e| e.into_inner());
        tiles.extend(remote.values().filter(|e| e.account == account).map(|e| e.detail["tile"].clone()));
        let key = |t: &Value| (t["severity"].as_u64().unwrap_or(0), t["started_at"].as_i64().unwrap_or(0));
        tiles.sort_by(|a, b| key(b).0.cmp(&key(a).0).then(key(a).1.cmp(&key(b).1)));
        tiles
    }

    /// An engagement's detail, here or on another node.
    pub fn any_detail(&self, account: i64, id: u64) -> Option<Value> {
        if let Some(d) = self.detail(account, id) {
            return serde_json::to_value(d).ok();
        }
        let remote = self.inner.remote.lock().unwrap_or_else(|e| e.into_inner());
        remote.get(&id).filter(|e| e.account == account).map(|e| e.detail.clone())
    }

    /// The node that carries engagement `id` when it is another node's.
    pub fn remote_node(&self, account: i64, id: u64) -> Option<i64> {
        let remote = self.inner.remote.lock().unwrap_or_else(|e| e.into_inner());
        remote.get(&id).filter(|e| e.account == account).map(|e| e.node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn engagements_on_other_nodes_show_beside_this_nodes_and_end() {
        let live = Live::new();
        live.set_node(2);
        let start = |account| Start {
            account,
            call_id: None,
            caller: Some("+12025550100".into()),
            customer: None,
            agent: "order-assistant".into(),
            brain: "guided".into(),
            record: None,
        };
        let (here, _inbox) = live.start(start(1));
        assert_eq!(here.id() >> 40, 2, "ids carry the node");
        let shared = live.shared(2);
        assert_eq!(shared.len(), 1);
        assert_eq!(shared[0].2["tile"]["node"], 2);
        let mut feed = live.subscribe();
        let mut detail = shared[0].2.clone();
        detail["tile"]["node"] = json!(3);
        detail["tile"]["id"] = json!((3u64 << 40) + 1);
        detail["tile"]["severity"] = json!(5);
        let theirs = RemoteEngagement { node: 3, account: 1, id: (3 << 40) + 1, detail };
        live.set_remote(vec![theirs.clone(), RemoteEngagement { account: 2, id: 99, ..theirs.clone() }]);
        let tiles = live.all_tiles(1);
        assert_eq!(tiles.len(), 2, "{tiles:?}");
        assert_eq!(tiles[0]["node"], 3, "the most severe first");
        assert_eq!(live.remote_node(1, theirs.id), Some(3));
        assert_eq!(live.remote_node(2, theirs.id), None, "another account's");
        assert!(live.any_detail(1, theirs.id).is_some() && live.any_detail(1, here.id()).is_some());
        for account in [1, 2] {
            let update = feed.recv().await.unwrap();
            assert_eq!((update.account, update.message["type"].as_str()), (account, Some("tile")));
        }
        // Unchanged: nothing new for the feeds; gone: ended.
        live.set_remote(vec![theirs.clone()]);
        let ended = feed.recv().await.unwrap();
        assert_eq!((ended.account, ended.message["type"].as_str()), (2, Some("ended")));
        live.set_remote(Vec::new());
        assert_eq!(feed.recv().await.unwrap().message["type"], "ended");
        assert_eq!(live.all_tiles(1).len(), 1);
    }
}
