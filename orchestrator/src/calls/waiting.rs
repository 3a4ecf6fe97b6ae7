//! Who waits in which queue, process-wide: each caller's place in line (arrival order), who
//! they are and since when (for the live queue dashboard), a supervisor's pick (answer this
//! caller, or send them to an agent, ahead of the line), and each queue's recent hold time
//! (an average of the waits of answered callers, as Asterisk's `holdtime`) for the estimated
//! wait callers hear.

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
}

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
        let id = l.next;
        let key = (account, queue.to_string());
        let (pick, picked) = mpsc::unbounded_channel();
        let entry = Entry { id, caller, since: crate::clock::now_ms(), record, pick };
        l.lines.entry(key.clone()).or_default().push(entry);
        Place { key, id, picked }
    }

    /// 1 for the first caller in line.
    pub fn position(&self) -> usize {
        lines().lines.get(&self.key).and_then(|q| q.iter().position(|e| e.id == self.id)).map_or(1, |p| p + 1)
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

/// The callers waiting in each of the account's queues, in order.
pub fn waiting(account: i64) -> HashMap<String, Vec<Waiter>> {
    let l = lines();
    l.lines
        .iter()
        .filter(|((a, _), _)| *a == account)
        .map(|((_, q), entries)| {
            let waiters = entries
                .iter()
                .enumerate()
                .map(|(i, e)| Waiter {
                    id: e.id,
                    position: i + 1,
                    caller: e.caller.clone(),
                    since: e.since,
                    record: e.record,
                })
                .collect();
            (q.clone(), waiters)
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
}
