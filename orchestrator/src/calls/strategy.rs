//! The order in which a queue offers a waiting caller to its members, by the queue's strategy:
//! linear (by priority, then extension: the order members are configured in), longest idle
//! (free the longest first; never free since start counts as longest), fewest calls (answered
//! today), round robin with memory (starting after the member who answered the queue's last
//! call) and random. Ring-all rings every free member at once (`queue::ring_all`); the order
//! here is only used when a single member is free.

use crate::calls::activity::{Activity, Tally};
use crate::model::{Agent, QueueStrategy};
use rand::seq::SliceRandom;
use std::collections::HashMap;
use std::sync::Mutex;

/// The member who answered each queue's last call, by account and queue.
static LAST: Mutex<Option<HashMap<(i64, String), String>>> = Mutex::new(None);

/// Remembers who answered a call of `queue` (round robin starts after them next time).
pub fn answered(account: i64, queue: &str, extension: &str) {
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    last.get_or_insert_with(HashMap::new).insert((account, queue.to_string()), extension.to_string());
}

/// `members` (in priority order) in the order to offer them.
pub fn order(
    strategy: QueueStrategy,
    account: i64,
    queue: &str,
    members: Vec<Agent>,
    activity: &Activity,
) -> Vec<Agent> {
    let last = {
        let last = LAST.lock().unwrap_or_else(|e| e.into_inner());
        last.as_ref().and_then(|l| l.get(&(account, queue.to_string())).cloned())
    };
    arrange(strategy, members, |e| activity.tally(account, e), last.as_deref())
}

/// The order itself, from each member's figures and who answered last (sorts are stable, so
/// equals keep their priority order).
pub fn arrange(
    strategy: QueueStrategy,
    mut members: Vec<Agent>,
    tally: impl Fn(&str) -> Tally,
    last: Option<&str>,
) -> Vec<Agent> {
    match strategy {
        QueueStrategy::RingAll | QueueStrategy::Linear => {}
        QueueStrategy::LongestIdle => {
            members.sort_by_key(|a| tally(&a.extension).free_since.unwrap_or(i64::MIN));
        }
        QueueStrategy::FewestCalls => members.sort_by_key(|a| tally(&a.extension).calls),
        QueueStrategy::RoundRobin => {
            if let Some(i) = last.and_then(|l| members.iter().position(|a| a.extension == l)) {
                members.rotate_left(i + 1);
            }
        }
        QueueStrategy::Random => members.shuffle(&mut rand::thread_rng()),
    }
    members
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members() -> Vec<Agent> {
        ["101", "102", "103", "104"]
            .iter()
            .map(|e| serde_json::from_value(serde_json::json!({"extension": e, "display_name": e})).unwrap())
            .collect()
    }

    fn names(v: &[Agent]) -> Vec<&str> {
        v.iter().map(|a| a.extension.as_str()).collect()
    }

    fn tally(free_since: Option<i64>, calls: u32) -> Tally {
        Tally { free_since, calls, day: 0 }
    }

    #[test]
    fn each_strategy_orders_the_members() {
        let figures = |e: &str| match e {
            "101" => tally(Some(5_000), 7),
            "102" => tally(Some(1_000), 2),
            "103" => tally(None, 0),
            _ => tally(Some(3_000), 2),
        };
        let order = |s| arrange(s, members(), figures, Some("102"));
        assert_eq!(names(&order(QueueStrategy::Linear)), ["101", "102", "103", "104"]);
        assert_eq!(names(&order(QueueStrategy::RingAll)), ["101", "102", "103", "104"]);
        // Never free since start first, then the one free the longest.
        assert_eq!(names(&order(QueueStrategy::LongestIdle)), ["103", "102", "104", "101"]);
        // Fewest calls today; equals keep their priority order.
        assert_eq!(names(&order(QueueStrategy::FewestCalls)), ["103", "102", "104", "101"]);
        // After the one who answered last, wrapping round.
        assert_eq!(names(&order(QueueStrategy::RoundRobin)), ["103", "104", "101", "102"]);
        assert_eq!(
            names(&arrange(QueueStrategy::RoundRobin, members(), figures, None)),
            ["101", "102", "103", "104"]
        );
        assert_eq!(
            names(&arrange(QueueStrategy::RoundRobin, members(), figures, Some("gone"))),
            ["101", "102", "103", "104"]
        );
        // Random: every member once, and not always the same order.
        let mut seen = std::collections::HashSet::new();
        for _ in 0..50 {
            let o = order(QueueStrategy::Random);
            let mut sorted = names(&o).iter().map(|s| s.to_string()).collect::<Vec<_>>();
            seen.insert(sorted.join(","));
            sorted.sort();
            assert_eq!(sorted, ["101", "102", "103", "104"]);
        }
        assert!(seen.len() > 5, "random gave {} orders in 50 tries", seen.len());
    }
}
