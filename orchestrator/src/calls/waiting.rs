//! Who waits in which queue, process-wide: each caller's place in line (arrival order), who
//! they are and since when (for the live queue dashboard), a supervisor's pick (answer this
//! caller, or send them to an agent, ahead of the line), and each queue's recent hold time
//! (an average of the waits of answered callers, as Asterisk's `holdtime`) for the estimated
//! wait callers hear.
//!
//! In a cluster, each node's waiting callers are shared (see `crate::cluster`) and handed back
//! to the others as remote waiters: a caller's place counts the callers on every node who came
//! before them, so only the first in line anywhere is offered to the members.

use crate::store::calls::RecordKey;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::mpsc;

/// A caller waiting, as the dashboard shows them.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Waiter {
    /// Their place's id (to pick them).
    pub id: u64,
    pub position: usize,
    pub caller: Option<String>,
    /// When they joined (unix ms).
    pub since: i64,
    #[serde(skip)]
    pub record: Option<RecordKey>,
    /// Waiting on another node of the cluster (it cannot be picked from this one).
    pub remote: bool,
}

pub use crate::store::shared_queues::RemoteWaiter;

struct Entry {
    id: u64,
    caller: Option<String>,
    since: i64,
    record: Option<RecordKey>,
    pick: mpsc::UnboundedSender<String>,
}

#[derive(Default)]
struct Lines {
    /// Per (account, queue), in arrival order.
    lines: HashMap<(i64, String), Vec<Entry>>,
    /// Per (account, queue): the average wait of answered callers (ms).
    holdtime: HashMap<(i64, String), u64>,
    /// Per (account, extension): queue calls offered in a row that rang out unanswered.
    missed: HashMap<(i64, String), u32>,
    /// Per (account, extension): why a queue set the agent unavailable.
    set_away: HashMap<(i64, String), String>,
    next: u64,
    /// This process's node of a cluster (0 for a single node): the high bits of place ids, so
    /// that places are unique across nodes, and the tie-break between equal arrival times.
    node: i64,
    /// Per (account, queue): callers waiting on other nodes, by arrival.
    remote: HashMap<(i64, String), Vec<RemoteWaiter>>,
}

/// Bits of a place id below the node's.
const NODE_SHIFT: u32 = 40;

/// Makes this process node `node` of a cluster (place ids carry it).
pub fn set_node(node: i64) {
    lines().node = node;
}

/// Replaces the callers waiting on other nodes.
pub fn set_remote(waiters: Vec<RemoteWaiter>) {
    let mut l = lines();
    l.remote.clear();
    for w in waiters {
        l.remote.entry((w.account, w.queue.clone())).or_default().push(w);
    }
}

/// This node's waiting callers, to share: (account, queue, place id, caller, since).
pub fn local() -> Vec<RemoteWaiter> {
    let l = lines();
    let node = l.node;
    let mut out: Vec<RemoteWaiter> = l
        .lines
        .iter()
        .flat_map(|((account, queue), entries)| {
            entries.iter().map(move |e| RemoteWaiter {
                node,
                account: *account,
                queue: queue.clone(),
                id: e.id,
                caller: e.caller.clone(),
                since: e.since,
            })
        })
        .collect();
    out.sort_by_key(|w| w.id);
    out
}

impl Lines {
    /// Callers on other nodes who came before a caller here that arrived at `since`.
    fn remote_ahead(&self, key: &(i64, String), since: i64) -> usize {
        let node = self.node;
        let ahead = |w: &&RemoteWaiter| w.since < since || (w.since == since && w.node < node);
        self.remote.get(key).map_or(0, |r| r.iter().filter(ahead).count())
    }
}

fn lines() -> std::sync::MutexGuard<'static, Lines> {
    static LINES: std::sync::OnceLock<Mutex<Lines>> = std::sync::OnceLock::new();
    LINES.get_or_init(Mutex::default).lock().unwrap_or_else(|e| e.into_inner())
}

/// A caller's place in line; leaving (drop) frees it.
pub struct Place {
    key: (i64, String),
    id: u64,
    /// Where a supervisor's pick arrives: the extension to ring for this caller now.
    pub picked: mpsc::UnboundedReceiver<String>,
}

impl Place {
    pub fn join(account: i64, queue: &str, caller: Option<String>, record: Option<RecordKey>) -> Place {
        let mut l = lines();
        l.next += 1;
        let id = ((l.node.max(0) as u64) << NODE_SHIFT) | l.next;
        let key = (account, queue.to_string());
        let (pick, picked) = mpsc::unbounded_channel();
        let entry = Entry { id, caller, since: crate::clock::now_ms(), record, pick };
        l.lines.entry(key.clone()).or_default().push(entry);
        Place { key, id, picked }
    }

    /// 1 for the first caller in line (on any node of a cluster).
    pub fn position(&self) -> usize {
        let l = lines();
        let Some(q) = l.lines.get(&self.key) else { return 1 };
        let Some(here) = q.iter().position(|e| e.id == self.id) else { return 1 };
        here + 1 + l.remote_ahead(&self.key, q[here].since)
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut l = lines();
        if let Some(q) = l.lines.get_mut(&self.key) {
            q.retain(|e| e.id != self.id);
            if q.is_empty() {
                l.lines.remove(&self.key);
            }
        }
    }
}

/// The callers waiting in each of the account's queues (on every node), in order.
pub fn waiting(account: i64) -> HashMap<String, Vec<Waiter>> {
    let l = lines();
    let mut out: HashMap<String, Vec<(i64, Waiter)>> = HashMap::new();
    for ((_, q), entries) in l.lines.iter().filter(|((a, _), _)| *a == account) {
        let list = out.entry(q.clone()).or_default();
        list.extend(entries.iter().map(|e| {
            let w = Waiter {
                id: e.id,
                position: 0,
                caller: e.caller.clone(),
                since: e.since,
                record: e.record,
                remote: false,
            };
            (l.node, w)
        }));
    }
    for ((_, q), entries) in l.remote.iter().filter(|((a, _), _)| *a == account) {
        let list = out.entry(q.clone()).or_default();
        list.extend(entries.iter().map(|e| {
            let w = Waiter {
                id: e.id,
                position: 0,
                caller: e.caller.clone(),
                since: e.since,
                record: None,
                remote: true,
            };
            (e.node, w)
        }));
    }
    out.into_iter()
        .map(|(q, mut list)| {
            // Arrival order; on one node, the order they joined in.
            list.sort_by_key(|(node, w)| (w.since, *node, w.id));
            let waiters =
                list.into_iter().enumerate().map(|(i, (_, w))| Waiter { position: i + 1, ..w }).collect();
            (q, waiters)
        })
        .collect()
}

/// A supervisor picks a waiting caller for `extension` (their own line, or an agent's): the
/// caller's queue rings that extension next. False when the caller is no longer waiting.
pub fn pick(account: i64, id: u64, extension: &str) -> bool {
    let l = lines();
    let entry =
        l.lines.iter().filter(|((a, _), _)| *a == account).flat_map(|(_, q)| q.iter()).find(|e| e.id == id);
    entry.is_some_and(|e| e.pick.send(extension.to_string()).is_ok())
}

/// The node of a cluster where the account's caller `id` waits, when it is another node
/// (a pick for them goes there).
pub fn remote_node(account: i64, id: u64) -> Option<i64> {
    let l = lines();
    let mut remote = l.remote.iter().filter(|((a, _), _)| *a == account).flat_map(|(_, q)| q.iter());
    remote.find(|w| w.id == id).map(|w| w.node)
}

/// A caller was answered after waiting `waited_ms`: the queue's hold time moves toward it.
pub fn answered_after(account: i64, queue: &str, waited_ms: u64) {
    let mut l = lines();
    let h = l.holdtime.entry((account, queue.to_string())).or_insert(waited_ms);
    *h = (*h * 3 + waited_ms) / 4;
}

/// The queue's recent hold time (ms), once a caller has been answered.
pub fn holdtime(account: i64, queue: &str) -> Option<u64> {
    lines().holdtime.get(&(account, queue.to_string())).copied()
}

/// What a caller who has waited `waited_ms` is told to expect, in whole minutes (at least
/// one), from the queue's hold time; none before anyone was answered.
pub fn estimated_minutes(account: i64, queue: &str, waited_ms: u64) -> Option<u64> {
    let left = holdtime(account, queue)?.saturating_sub(waited_ms);
    Some(left.div_ceil(60_000).max(1))
}

/// A queue call offered to `extension` rang out unanswered; `limit` in a row (0: no limit)
/// makes them unavailable: true when this miss reaches it (the reason is kept for them).
pub fn offer_missed(account: i64, extension: &str, limit: u32) -> bool {
    let mut l = lines();
    let key = (account, extension.to_string());
    let n = l.missed.entry(key.clone()).or_default();
    *n += 1;
    let reached = limit > 0 && *n >= limit;
    if reached {
        let why = format!("set unavailable after {n} queue calls rang unanswered in a row");
        l.set_away.insert(key, why);
    }
    reached
}

/// The agent answered a queue call: their misses start again from none.
pub fn offer_answered(account: i64, extension: &str) {
    lines().missed.remove(&(account, extension.to_string()));
}

/// The agent (or a supervisor) chose their status: misses and the reason are forgotten.
pub fn status_chosen(account: i64, extension: &str) {
    let mut l = lines();
    let key = (account, extension.to_string());
    l.missed.remove(&key);
    l.set_away.remove(&key);
}

/// Why a queue made the agent unavailable, until they choose a status again.
pub fn set_away_because(account: i64, extension: &str) -> Option<String> {
    lines().set_away.get(&(account, extension.to_string())).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callers_wait_in_arrival_order_and_leaving_moves_the_line_up() {
        let first = Place::join(9_001, "line", Some("+12025550100".into()), None);
        let second = Place::join(9_001, "line", None, None);
        let elsewhere = Place::join(9_001, "other", None, None);
        let third = Place::join(9_001, "line", None, None);
        assert_eq!((first.position(), second.position(), third.position()), (1, 2, 3));
        assert_eq!(elsewhere.position(), 1, "each queue has its own line");
        let shown = waiting(9_001);
        let line = &shown["line"];
        assert_eq!(line.iter().map(|w| w.position).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(line[0].caller.as_deref(), Some("+12025550100"));
        assert!(waiting(9_002).is_empty(), "another account's lines are not shown");
        drop(first);
        assert_eq!((second.position(), third.position()), (1, 2));
        drop(second);
        assert_eq!(third.position(), 1);
    }

    #[test]
    fn a_pick_reaches_the_callers_place_and_hold_time_follows_answers() {
        let mut place = Place::join(9_003, "line", None, None);
        let id = waiting(9_003)["line"][0].id;
        assert!(!pick(9_004, id, "102"), "another account cannot pick");
        assert!(pick(9_003, id, "102"));
        assert_eq!(place.picked.try_recv().ok().as_deref(), Some("102"));
        drop(place);
        assert!(!pick(9_003, id, "102"), "gone");
        assert_eq!(estimated_minutes(9_003, "line", 0), None);
        answered_after(9_003, "line", 240_000);
        answered_after(9_003, "line", 120_000);
        assert_eq!(holdtime(9_003, "line"), Some(210_000));
        assert_eq!(estimated_minutes(9_003, "line", 30_000), Some(3));
        assert_eq!(estimated_minutes(9_003, "line", 600_000), Some(1), "at least a minute");
    }

    #[test]
    fn misses_in_a_row_make_an_agent_unavailable_until_they_choose_a_status() {
        assert!(!offer_missed(9_005, "101", 3));
        offer_answered(9_005, "101");
        assert!(!offer_missed(9_005, "101", 3) && !offer_missed(9_005, "101", 3), "an answer starts again");
        assert_eq!(set_away_because(9_005, "101"), None);
        assert!(offer_missed(9_005, "101", 3));
        assert!(set_away_because(9_005, "101").unwrap().contains("3 queue calls"));
        assert!(!offer_missed(9_006, "101", 0), "no limit");
        status_chosen(9_005, "101");
        assert_eq!(set_away_because(9_005, "101"), None);
        assert!(!offer_missed(9_005, "101", 3));
    }

    #[test]
    fn callers_on_other_nodes_who_came_first_are_ahead_in_line() {
        let mine = Place::join(9_007, "line", None, None);
        let since = waiting(9_007)["line"][0].since;
        let remote = |node, id, since| RemoteWaiter {
            node,
            account: 9_007,
            queue: "line".into(),
            id,
            caller: Some(format!("+1202555{id:04}")),
            since,
        };
        set_remote(vec![remote(7, 1, since - 5_000), remote(7, 2, since + 5_000), remote(8, 3, since - 1)]);
        assert_eq!(mine.position(), 3, "two came before on other nodes");
        let shown = &waiting(9_007)["line"];
        assert_eq!(shown.iter().map(|w| w.remote).collect::<Vec<_>>(), [true, true, false, true]);
        assert_eq!(shown.iter().map(|w| w.position).collect::<Vec<_>>(), [1, 2, 3, 4]);
        assert!(!pick(9_007, 3, "102"), "a caller on another node is not picked here");
        assert!(local().iter().any(|w| w.account == 9_007 && w.queue == "line"));
        set_remote(Vec::new());
        assert_eq!(mine.position(), 1);
    }
}
