//! What agents are doing now, as their calls show it: **on a call** from answer to hang-up
//! (any call: rung directly, offered by a queue, or placed by the agent), then **in wrap-up**
//! after a queue call for the queue's `wrap_up_seconds`, until the time is up or the agent says
//! they are ready. Queues offer calls only to agents doing neither (and whose chosen status is
//! available). Each change is sent to whoever subscribed (the store writes the agents'
//! timelines).

use crate::clock::now_ms;
use crate::store::calls::RecordKey;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use switchboard_telephony::sip::b2bua::CallId;
use tokio::sync::mpsc;

/// One of an agent's calls: the other party's number when known, and the call's record (for
/// the notes the agent writes on it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub call: CallId,
    pub peer: Option<String>,
    pub record: Option<RecordKey>,
}

impl Line {
    pub fn new(call: CallId, peer: Option<String>, record: Option<RecordKey>) -> Line {
        Line { call, peer, record }
    }
}

/// What an agent is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Doing {
    /// On one or more calls since `since` (unix ms); the wrap-up owed when the last one ends.
    OnCall { calls: Vec<Line>, since: i64, wrap_up_ms: i64 },
    /// Wrapping up the last call until `until` (unix ms).
    WrapUp { since: i64, until: i64, last: Line },
}

impl Doing {
    pub fn name(&self) -> &'static str {
        match self {
            Doing::OnCall { .. } => "on_call",
            Doing::WrapUp { .. } => "wrap_up",
        }
    }
}

/// A change of what an agent is doing: `on_call`, `wrap_up`, or `ready` (doing nothing again,
/// by the end of a call or of wrap-up, or by the agent's word).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub account: i64,
    pub extension: String,
    pub status: &'static str,
    pub at: i64,
    pub call: Option<CallId>,
}

type Agent = (i64, String);

/// An agent on a call or wrapping one up, as shared with (or by) the other nodes of a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Busy {
    pub account: i64,
    pub extension: String,
    /// `on_call` or `wrap_up`.
    pub activity: String,
    /// Since when (unix ms).
    pub since: i64,
    /// Who they are talking with, when known.
    pub peer: Option<String>,
    /// The node they are busy on (another node's; 0 for this node's own, as shared).
    pub node: i64,
}

#[derive(Default)]
struct Inner {
    agents: HashMap<Agent, Doing>,
    subscribers: Vec<mpsc::UnboundedSender<Change>>,
    /// What queue strategies weigh: when each agent was last free again, calls answered today.
    tally: HashMap<Agent, Tally>,
    /// Agents on a call or wrapping one up on other nodes of a cluster.
    busy_elsewhere: HashMap<Agent, Busy>,
}

/// An agent's figures for queue strategies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// When they last became free (unix ms); `None` when not since this process started.
    pub free_since: Option<i64>,
    /// Calls answered on `day` (days since 1970, UTC).
    pub calls: u32,
    pub day: i64,
}

const DAY_MS: i64 = 86_400_000;

impl Inner {
    fn tell(&mut self, account: i64, extension: &str, status: &'static str, at: i64, call: Option<CallId>) {
        if status == "ready" {
            self.tally.entry((account, extension.to_string())).or_default().free_since = Some(at);
        }
        let change = Change { account, extension: extension.to_string(), status, at, call };
        self.subscribers.retain(|s| s.send(change.clone()).is_ok());
    }

    /// Forgets a wrap-up whose time is up (telling subscribers, once).
    fn expire(&mut self, agent: &Agent, now: i64) {
        if let Some(Doing::WrapUp { until, .. }) = self.agents.get(agent) {
            if *until <= now {
                let until = *until;
                self.agents.remove(agent);
                self.tell(agent.0, &agent.1, "ready", until, None);
            }
        }
    }
}

/// Shared by the router, the queues and the API.
#[derive(Clone, Default)]
pub struct Activity {
    inner: Arc<Mutex<Inner>>,
}

impl Activity {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every change from now on.
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<Change> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.lock().subscribers.push(tx);
        rx
    }

    /// Writes every change into the agents' timelines (`agent_status_events`) from now on.
    pub fn write_timelines(&self, db: crate::db::Db) {
        let mut changes = self.subscribe();
        tokio::spawn(async move {
            while let Some(c) = changes.recv().await {
                if let Err(e) =
                    crate::store::presence::record_change(&db, c.account, &c.extension, c.status, c.at).await
                {
                    tracing::warn!(error = %e, extension = %c.extension, "cannot record an agent's status change");
                }
            }
        });
    }

    /// `extension` answered the call of `line`; `wrap_up_seconds` are owed when it ends (queue
    /// calls).
    pub fn answered(&self, account: i64, extension: &str, line: Line, wrap_up_seconds: u32) {
        let call = line.call;
        let now = now_ms();
        let agent = (account, extension.to_string());
        let mut inner = self.lock();
        let wrap = wrap_up_seconds as i64 * 1000;
        let tally = inner.tally.entry(agent.clone()).or_default();
        if tally.day != now / DAY_MS {
            (tally.day, tally.calls) = (now / DAY_MS, 0);
        }
        tally.calls += 1;
        match inner.agents.get_mut(&agent) {
            Some(Doing::OnCall { calls, wrap_up_ms, .. }) => {
                if !calls.iter().any(|l| l.call == call) {
                    calls.push(line);
                }
                *wrap_up_ms = (*wrap_up_ms).max(wrap);
            }
            _ => {
                let calls = vec![line];
                inner.agents.insert(agent, Doing::OnCall { calls, since: now, wrap_up_ms: wrap });
                inner.tell(account, extension, "on_call", now, Some(call));
            }
        }
    }

    /// `call` ended: agents with no other call go to wrap-up (when owed) or are free again.
    /// A wrap-up ends by itself when its time is up (a timer tells subscribers).
    pub fn call_ended(&self, call: CallId) {
        self.leave(call, None);
    }

    /// One agent left `call` while it goes on (a transfer they completed, a conference they
    /// left); as `call_ended` for them.
    pub fn left(&self, call: CallId, account: i64, extension: &str) {
        self.leave(call, Some((account, extension.to_string())));
    }

    fn leave(&self, call: CallId, only: Option<Agent>) {
        let now = now_ms();
        let mut inner = self.lock();
        let mut done = Vec::new();
        for (agent, doing) in inner.agents.iter_mut() {
            if only.as_ref().is_some_and(|o| o != agent) {
                continue;
            }
            if let Doing::OnCall { calls, wrap_up_ms, .. } = doing {
                if let Some(i) = calls.iter().position(|l| l.call == call) {
                    let last = calls.remove(i);
                    if calls.is_empty() {
                        done.push((agent.clone(), *wrap_up_ms, last));
                    }
                }
            }
        }
        for (agent, wrap, last) in done {
            if wrap > 0 {
                let until = now + wrap;
                inner.agents.insert(agent.clone(), Doing::WrapUp { since: now, until, last });
                inner.tell(agent.0, &agent.1, "wrap_up", now, Some(call));
                let me = self.clone();
                if let Ok(rt) = tokio::runtime::Handle::try_current() {
                    rt.spawn(async move {
                        tokio::time::sleep(std::time::Duration::from_millis(wrap as u64)).await;
                        me.lock().expire(&agent, now_ms().max(until));
                    });
                }
            } else {
                inner.agents.remove(&agent);
                inner.tell(agent.0, &agent.1, "ready", now, Some(call));
            }
        }
    }

    /// An agent's figures for queue strategies (calls counted today only).
    pub fn tally(&self, account: i64, extension: &str) -> Tally {
        let inner = self.lock();
        let mut t = inner.tally.get(&(account, extension.to_string())).copied().unwrap_or_default();
        if t.day != now_ms() / DAY_MS {
            t.calls = 0;
        }
        t
    }

    /// The agents on `call` now.
    pub fn on(&self, call: CallId) -> Vec<(i64, String)> {
        let inner = self.lock();
        let on = |d: &Doing| matches!(d, Doing::OnCall { calls, .. } if calls.iter().any(|l| l.call == call));
        inner.agents.iter().filter(|(_, d)| on(d)).map(|(a, _)| a.clone()).collect()
    }

    /// The agent is ready before their wrap-up time is up; `false` if they were not wrapping up.
    pub fn ready(&self, account: i64, extension: &str) -> bool {
        let agent = (account, extension.to_string());
        let mut inner = self.lock();
        if matches!(inner.agents.get(&agent), Some(Doing::WrapUp { .. })) {
            inner.agents.remove(&agent);
            inner.tell(account, extension, "ready", now_ms(), None);
            return true;
        }
        false
    }

    /// What the agent is doing now, if anything.
    pub fn doing(&self, account: i64, extension: &str) -> Option<Doing> {
        let agent = (account, extension.to_string());
        let mut inner = self.lock();
        inner.expire(&agent, now_ms());
        inner.agents.get(&agent).cloned()
    }

    /// The agent's calls now (or the call they wrap up).
    pub fn lines(&self, account: i64, extension: &str) -> Vec<Line> {
        match self.doing(account, extension) {
            Some(Doing::OnCall { calls, .. }) => calls,
            Some(Doing::WrapUp { last, .. }) => vec![last],
            None => Vec::new(),
        }
    }

    /// The other parties' numbers of the agent's calls now (or of the call they wrap up).
    pub fn peers(&self, account: i64, extension: &str) -> Vec<String> {
        self.lines(account, extension).into_iter().filter_map(|l| l.peer).collect()
    }

    /// Whether the agent is on a call or wrapping up, here or on another node of a cluster
    /// (queues do not offer them calls).
    pub fn busy(&self, account: i64, extension: &str) -> bool {
        self.doing(account, extension).is_some()
            || self.lock().busy_elsewhere.contains_key(&(account, extension.to_string()))
    }

    /// What the agent is doing on another node of a cluster, if anything (and nothing here).
    pub fn elsewhere(&self, account: i64, extension: &str) -> Option<Busy> {
        self.lock().busy_elsewhere.get(&(account, extension.to_string())).cloned()
    }

    /// Agents on a call or wrapping one up here, to share with the other nodes.
    pub fn busy_here(&self) -> Vec<Busy> {
        let now = now_ms();
        let mut inner = self.lock();
        let keys: Vec<Agent> = inner.agents.keys().cloned().collect();
        for k in &keys {
            inner.expire(k, now);
        }
        let mut out: Vec<Busy> = inner
            .agents
            .iter()
            .map(|((account, extension), doing)| {
                let (since, peer) = match doing {
                    Doing::OnCall { calls, since, .. } => {
                        (*since, calls.first().and_then(|l| l.peer.clone()))
                    }
                    Doing::WrapUp { since, last, .. } => (*since, last.peer.clone()),
                };
                Busy {
                    account: *account,
                    extension: extension.clone(),
                    activity: doing.name().to_string(),
                    since,
                    peer,
                    node: 0,
                }
            })
            .collect();
        out.sort_by(|a, b| (a.account, &a.extension).cmp(&(b.account, &b.extension)));
        out
    }

    /// Replaces the agents busy on other nodes.
    pub fn set_busy_elsewhere(&self, agents: impl IntoIterator<Item = Busy>) {
        self.lock().busy_elsewhere =
            agents.into_iter().map(|b| ((b.account, b.extension.clone()), b)).collect();
    }

    /// Everyone in the account doing something, by extension.
    pub fn of_account(&self, account: i64) -> Vec<(String, Doing)> {
        let now = now_ms();
        let mut inner = self.lock();
        let keys: Vec<Agent> = inner.agents.keys().filter(|(a, _)| *a == account).cloned().collect();
        for k in &keys {
            inner.expire(k, now);
        }
        let mut out: Vec<(String, Doing)> = inner
            .agents
            .iter()
            .filter(|((a, _), _)| *a == account)
            .map(|((_, e), d)| (e.clone(), d.clone()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agents_busy_on_other_nodes_are_busy_here_too() {
        let activity = Activity::default();
        activity.answered(1, "101", Line::new(CallId(7), Some("+15550001".into()), None), 0);
        let bob = Busy {
            account: 1,
            extension: "102".into(),
            activity: "wrap_up".into(),
            since: 5,
            peer: Some("+15550002".into()),
            node: 3,
        };
        activity.set_busy_elsewhere([bob.clone()]);
        assert!(activity.busy(1, "101") && activity.busy(1, "102") && !activity.busy(1, "103"));
        let here = activity.busy_here();
        assert_eq!(here.len(), 1, "only this node's are shared: {here:?}");
        assert_eq!((here[0].extension.as_str(), here[0].activity.as_str()), ("101", "on_call"));
        assert_eq!(here[0].peer.as_deref(), Some("+15550001"));
        assert_eq!(activity.elsewhere(1, "102"), Some(bob), "what they do there, for dashboards");
        activity.set_busy_elsewhere([]);
        assert!(!activity.busy(1, "102") && activity.elsewhere(1, "102").is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_queue_call_is_on_call_then_wrap_up_then_ready() {
        let activity = Activity::default();
        let mut changes = activity.subscribe();
        activity.answered(1, "101", Line::new(CallId(7), Some("+12025550100".into()), None), 30);
        assert!(activity.busy(1, "101"));
        assert!(!activity.busy(1, "102") && !activity.busy(2, "101"));
        // A second call on the other line: still one stretch on calls.
        activity.answered(1, "101", Line::new(CallId(8), Some("102".into()), None), 0);
        assert_eq!(activity.peers(1, "101"), ["+12025550100", "102"]);
        activity.call_ended(CallId(7));
        assert_eq!(activity.doing(1, "101").map(|d| d.name()), Some("on_call"));
        activity.call_ended(CallId(8));
        assert_eq!(activity.doing(1, "101").map(|d| d.name()), Some("wrap_up"));
        // Wrapping up the last call: its caller is still the one the agent may look at.
        assert_eq!(activity.peers(1, "101"), ["102"]);
        let kinds: Vec<&str> = std::iter::from_fn(|| changes.try_recv().ok()).map(|c| c.status).collect();
        assert_eq!(kinds, ["on_call", "wrap_up"]);
        // Ready early.
        assert!(activity.ready(1, "101"));
        assert!(!activity.ready(1, "101"));
        assert_eq!(changes.try_recv().map(|c| c.status), Ok("ready"));
        assert!(activity.of_account(1).is_empty());
    }

    /// What queue strategies weigh: calls answered today, and since when an agent is free.
    #[tokio::test(start_paused = true)]
    async fn the_tally_counts_calls_and_when_an_agent_became_free() {
        let activity = Activity::default();
        assert_eq!(activity.tally(1, "101"), Tally::default());
        activity.answered(1, "101", Line::new(CallId(1), None, None), 0);
        activity.answered(1, "101", Line::new(CallId(2), None, None), 0);
        assert_eq!(activity.tally(1, "101").calls, 2);
        assert_eq!(activity.tally(1, "101").free_since, None, "on calls, not free yet");
        let before = now_ms();
        activity.call_ended(CallId(1));
        activity.call_ended(CallId(2));
        assert!(activity.tally(1, "101").free_since.is_some_and(|t| t >= before));
        assert_eq!(activity.tally(1, "102").calls, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_direct_call_owes_no_wrap_up() {
        let activity = Activity::default();
        let mut changes = activity.subscribe();
        activity.answered(1, "102", Line::new(CallId(1), None, None), 0);
        assert_eq!(activity.of_account(1).len(), 1);
        activity.call_ended(CallId(1));
        assert!(!activity.busy(1, "102"));
        let kinds: Vec<&str> = std::iter::from_fn(|| changes.try_recv().ok()).map(|c| c.status).collect();
        assert_eq!(kinds, ["on_call", "ready"]);
    }

    #[tokio::test(start_paused = true)]
    async fn wrap_up_ends_by_itself() {
        let activity = Activity::default();
        let mut changes = activity.subscribe();
        activity.answered(1, "101", Line::new(CallId(3), None, None), 20);
        activity.call_ended(CallId(3));
        tokio::time::sleep(std::time::Duration::from_secs(21)).await;
        tokio::task::yield_now().await;
        let kinds: Vec<&str> = std::iter::from_fn(|| changes.try_recv().ok()).map(|c| c.status).collect();
        assert_eq!(kinds, ["on_call", "wrap_up", "ready"]);
        assert!(!activity.busy(1, "101"));
    }
}
