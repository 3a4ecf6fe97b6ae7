//! Registrations shared between the nodes of a cluster.
//!
//! Each node publishes the devices registered with it into `sip_bindings` (a change is written
//! within half a second; a refresh when it extends the expiry) and hands its SIP core the
//! devices it can reach that other nodes registered, so a call on any node rings every phone of
//! an extension. A phone registered through the SIP entry (Kamailio adds `Path`) is reached
//! through the entry from any node, also after the node that took its REGISTER died. On
//! PostgreSQL a node announces its changes with `NOTIFY switchboard_bindings` and the others,
//! listening, read them at once; otherwise (and as a safety net) they read every two seconds.

use crate::db::Db;
use crate::store::bindings::{self, SharedBinding};
use std::collections::HashMap;
use std::time::Duration;
use switchboard_telephony::driver::{Registration, SipHandle};
use switchboard_telephony::sip::registrar::Binding;

/// The channel nodes announce binding changes on.
const CHANNEL: &str = "switchboard_bindings";

type Key = (i64, String);

/// What this node last wrote for an extension.
type Published = HashMap<Key, Vec<SharedBinding>>;

/// The node's registrations by extension, as rows to share.
fn local_rows(node: i64, regs: &[Registration], now: i64) -> Published {
    let mut out: Published = HashMap::new();
    for r in regs.iter().filter(|r| !r.remote) {
        out.entry((r.account, r.extension.clone())).or_default().push(SharedBinding {
            node_id: node,
            account_id: r.account,
            extension: r.extension.clone(),
            contact: r.contact.clone(),
            path: r.path.clone(),
            source: r.source.to_string(),
            transport: r.transport.clone(),
            user_agent: r.user_agent.clone(),
            expires_at: now + r.expires_in_s as i64 * 1000,
        });
    }
    for list in out.values_mut() {
        list.sort_by(|a, b| a.contact.cmp(&b.contact));
    }
    out
}

/// Whether `new` must be written over `old`: devices came or went, or moved, or a refresh
/// pushed the expiry on (by more than the clock's rounding).
fn changed(old: Option<&Vec<SharedBinding>>, new: Option<&Vec<SharedBinding>>) -> bool {
    let (Some(old), Some(new)) = (old, new) else { return old.is_some() != new.is_some() };
    old.len() != new.len()
        || old.iter().zip(new).any(|(o, n)| {
            o.contact != n.contact
                || o.path != n.path
                || o.source != n.source
                || o.transport != n.transport
                || n.expires_at > o.expires_at + 5_000
        })
}

/// The devices to hand the SIP core, with milliseconds left.
fn to_remote(rows: Vec<SharedBinding>, now: i64) -> Vec<(i64, String, Binding, u64)> {
    rows.into_iter()
        .filter_map(|r| {
            let source = r.source.parse().ok()?;
            let left = u64::try_from(r.expires_at - now).ok()?;
            let binding = Binding {
                contact: r.contact,
                source,
                transport: r.transport,
                expires_at_ms: 0,
                call_id: String::new(),
                cseq: 0,
                user_agent: r.user_agent,
                path: r.path,
                username: String::new(),
            };
            Some((r.account_id, r.extension, binding, left))
        })
        .collect()
}

/// Shares this node's registrations and takes the others' until the process ends.
pub fn share(db: Db, node: i64, sip: SipHandle, database_url: String) {
    let mut pulse = super::Pulse::start(&db, database_url, CHANNEL, Duration::from_millis(500));
    tokio::spawn(async move {
        let mut published: Published = HashMap::new();
        let mut handed: Option<Vec<SharedBinding>> = None;
        loop {
            let announced = pulse.next().await;
            let now = crate::clock::now_ms();
            // Publish what changed here.
            let current = local_rows(node, &sip.registrations().await, now);
            let mut wrote = false;
            let keys: Vec<Key> = published.keys().chain(current.keys()).cloned().collect();
            for key in keys {
                let (old, new) = (published.get(&key), current.get(&key));
                if !changed(old, new) {
                    continue;
                }
                let rows = new.cloned().unwrap_or_default();
                match bindings::replace(&db, node, key.0, &key.1, &rows).await {
                    Ok(()) => {
                        wrote = true;
                        match new {
                            Some(_) => published.insert(key, rows),
                            None => published.remove(&key),
                        };
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot share a registration; trying again"),
                }
            }
            if wrote {
                if let Err(e) = db.notify(CHANNEL).await {
                    tracing::debug!(error = %e, "cannot announce a registration change");
                }
            }
            // Take the others' (every two seconds, or at once when announced).
            if announced || pulse.every(4) {
                if pulse.every(240) {
                    let _ = bindings::purge_expired(&db, now).await;
                }
                match bindings::reachable(&db, node, now).await {
                    Ok(rows) if handed.as_ref() != Some(&rows) => {
                        tracing::debug!(node, devices = rows.len(), "devices registered through other nodes");
                        sip.set_remote_bindings(to_remote(rows.clone(), now)).await;
                        handed = Some(rows);
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "cannot read the cluster's registrations"),
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(contact: &str, expires_at: i64) -> SharedBinding {
        SharedBinding {
            node_id: 1,
            account_id: 1,
            extension: "101".into(),
            contact: contact.into(),
            path: vec!["sip:10.0.0.1;lr".into()],
            source: "10.0.0.1:5060".into(),
            transport: "UDP".into(),
            user_agent: None,
            expires_at,
        }
    }

    #[test]
    fn a_registration_is_rewritten_when_it_changes_or_is_refreshed_only() {
        let old = vec![row("sip:a", 100_000)];
        assert!(!changed(Some(&old), Some(&vec![row("sip:a", 101_000)])), "clock rounding");
        assert!(changed(Some(&old), Some(&vec![row("sip:a", 160_000)])), "a refresh");
        assert!(changed(Some(&old), Some(&vec![row("sip:b", 100_000)])), "another device");
        assert!(changed(Some(&old), None), "unregistered");
        assert!(changed(None, Some(&old)), "registered");
        assert!(!changed(None, None));
    }

    #[test]
    fn expired_or_unreadable_rows_are_not_handed_to_the_sip_core() {
        let mut bad = row("sip:c", 50_000);
        bad.source = "not an address".into();
        let out = to_remote(vec![row("sip:a", 40_000), row("sip:b", 5_000), bad], 10_000);
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].2.contact.as_str(), out[0].3), ("sip:a", 30_000));
        assert_eq!(out[0].2.path, ["sip:10.0.0.1;lr"]);
    }
}
