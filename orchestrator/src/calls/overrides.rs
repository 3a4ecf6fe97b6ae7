//! Class-of-service overrides: an agent whose call was refused by their class of service asks
//! for that one call to be let through, with a reason; a supervisor of the account approves or
//! denies it from their browser; an approval lets the agent's next call to that destination
//! through once (the planner takes the grant). Requests live in memory (a restart forgets
//! them); each step is written to the refused call's record and the approved call's.

use serde::Serialize;
use std::sync::{Arc, Mutex};

/// How long a request waits for a supervisor, and an approval for the agent's call (ms).
pub const PENDING_MS: i64 = 15 * 60_000;
pub const GRANT_MS: i64 = 10 * 60_000;

/// A request as people see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct OverrideRequest {
    pub id: i64,
    /// The agent's extension and name.
    pub extension: String,
    pub requested_by: String,
    /// What they dialled (an E.164 number or an extension).
    pub destination: String,
    /// Why the call was refused (the rule).
    pub rule: String,
    /// Why the agent needs it.
    pub reason: String,
    pub requested_at: i64,
    /// `pending`, `approved`, `denied`, `used` or `expired`.
    pub state: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
    /// The refused call's record, when found.
    pub refused_call_id: Option<i64>,
}

struct Entry {
    account: i64,
    request: OverrideRequest,
}

/// The account's override requests (the live hub holds one for the process).
#[derive(Clone, Default)]
pub struct Overrides {
    inner: Arc<Mutex<(i64, Vec<Entry>)>>,
}

/// What a new request needs.
pub struct NewRequest {
    pub account: i64,
    pub extension: String,
    pub requested_by: String,
    pub destination: String,
    pub rule: String,
    pub reason: String,
    pub refused_call_id: Option<i64>,
}

impl Overrides {
    fn lock(&self) -> std::sync::MutexGuard<'_, (i64, Vec<Entry>)> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks what has waited too long as expired and forgets what is old.
    fn tidy(entries: &mut Vec<Entry>, now: i64) {
        for e in entries.iter_mut() {
            let r = &mut e.request;
            let expired = match r.state.as_str() {
                "pending" => now - r.requested_at > PENDING_MS,
                "approved" => r.decided_at.is_some_and(|at| now - at > GRANT_MS),
                _ => false,
            };
            if expired {
                r.state = "expired".into();
            }
        }
        entries.retain(|e| now - e.request.requested_at < 24 * 3_600_000);
    }

    /// A new request (an agent's earlier pending one for the same destination is replaced).
    pub fn request(&self, new: NewRequest, now: i64) -> OverrideRequest {
        let mut guard = self.lock();
        let (next, entries) = &mut *guard;
        Self::tidy(entries, now);
        for e in entries.iter_mut() {
            let r = &mut e.request;
            if e.account == new.account
                && r.extension == new.extension
                && r.destination == new.destination
                && r.state == "pending"
            {
                r.state = "expired".into();
            }
        }
        *next += 1;
        let request = OverrideRequest {
            id: *next,
            extension: new.extension,
            requested_by: new.requested_by,
            destination: new.destination,
            rule: new.rule,
            reason: new.reason,
            requested_at: now,
            state: "pending".into(),
            decided_by: None,
            decided_at: None,
            refused_call_id: new.refused_call_id,
        };
        entries.push(Entry { account: new.account, request: request.clone() });
        request
    }

    /// The account's requests, newest first: all of them, or one agent's.
    pub fn list(&self, account: i64, extension: Option<&str>, now: i64) -> Vec<OverrideRequest> {
        let mut guard = self.lock();
        Self::tidy(&mut guard.1, now);
        let mut out: Vec<OverrideRequest> = guard
            .1
            .iter()
            .filter(|e| e.account == account && extension.is_none_or(|x| e.request.extension == x))
            .map(|e| e.request.clone())
            .collect();
        out.reverse();
        out
    }

    /// A supervisor approves or denies a pending request.
    pub fn decide(
        &self,
        account: i64,
        id: i64,
        approve: bool,
        by: &str,
        now: i64,
    ) -> Result<OverrideRequest, Decided> {
        let mut guard = self.lock();
        Self::tidy(&mut guard.1, now);
        let entry = guard
            .1
            .iter_mut()
            .find(|e| e.account == account && e.request.id == id)
            .ok_or(Decided::NotFound)?;
        let r = &mut entry.request;
        if r.state != "pending" {
            return Err(Decided::Already(r.state.clone()));
        }
        r.state = if approve { "approved" } else { "denied" }.into();
        r.decided_by = Some(by.to_string());
        r.decided_at = Some(now);
        Ok(r.clone())
    }

    /// The approval for `extension` to call `destination`, taken (it lets one call through).
    pub fn take_grant(
        &self,
        account: i64,
        extension: &str,
        destination: &str,
        now: i64,
    ) -> Option<OverrideRequest> {
        let mut guard = self.lock();
        Self::tidy(&mut guard.1, now);
        let entry = guard.1.iter_mut().rev().find(|e| {
            e.account == account
                && e.request.extension == extension
                && e.request.destination == destination
                && e.request.state == "approved"
        })?;
        entry.request.state = "used".into();
        Some(entry.request.clone())
    }
}

/// Why a decision was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decided {
    NotFound,
    /// It was already decided (or expired): its state.
    Already(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(account: i64, extension: &str, destination: &str) -> NewRequest {
        NewRequest {
            account,
            extension: extension.into(),
            requested_by: "Alice".into(),
            destination: destination.into(),
            rule: "international calls are not allowed".into(),
            reason: "customer abroad".into(),
            refused_call_id: None,
        }
    }

    #[test]
    fn an_approval_lets_one_call_through_a_denial_none_and_requests_expire() {
        let o = Overrides::default();
        let r = o.request(new(1, "101", "+442079460000"), 0);
        assert!(o.take_grant(1, "101", "+442079460000", 1).is_none(), "pending is not approved");
        assert_eq!(o.decide(2, r.id, true, "Sam", 2), Err(Decided::NotFound), "another account's");
        let approved = o.decide(1, r.id, true, "Sam", 2).unwrap();
        assert_eq!((approved.state.as_str(), approved.decided_by.as_deref()), ("approved", Some("Sam")));
        assert_eq!(o.decide(1, r.id, false, "Sam", 3), Err(Decided::Already("approved".into())));
        assert!(o.take_grant(1, "102", "+442079460000", 4).is_none(), "another agent's");
        assert!(o.take_grant(1, "101", "+33140000000", 4).is_none(), "another destination");
        assert_eq!(o.take_grant(1, "101", "+442079460000", 4).unwrap().id, r.id);
        assert!(o.take_grant(1, "101", "+442079460000", 5).is_none(), "once");
        let d = o.request(new(1, "101", "+442079460000"), 10);
        o.decide(1, d.id, false, "Sam", 11).unwrap();
        assert!(o.take_grant(1, "101", "+442079460000", 12).is_none());
        let late = o.request(new(1, "101", "+442079460000"), 20);
        assert_eq!(
            o.decide(1, late.id, true, "Sam", 21 + PENDING_MS),
            Err(Decided::Already("expired".into()))
        );
        let stale = o.request(new(1, "101", "+442079460000"), 30);
        o.decide(1, stale.id, true, "Sam", 31).unwrap();
        assert!(
            o.take_grant(1, "101", "+442079460000", 32 + GRANT_MS).is_none(),
            "an approval not used in time"
        );
        let states: Vec<String> =
            o.list(1, Some("101"), 40 + GRANT_MS).into_iter().map(|r| r.state).collect();
        assert_eq!(states, ["expired", "expired", "denied", "used"]);
        assert!(o.list(2, None, 41).is_empty());
    }
}
