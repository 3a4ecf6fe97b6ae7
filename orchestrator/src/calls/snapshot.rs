//! An in-memory copy of the configuration that call routing reads, so setting up a call does not
//! query the database for it. Rebuilt when the configuration changes (and every few seconds, for
//! changes made by another process).

use crate::db::Db;
use crate::error::Result;
use crate::model::{AccountSettings, Agent, ClassOfService, ConfigKind, PhoneNumber, Schedule, Trunk};
use crate::store::{accounts, config};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// Configuration versions between the API and the telephony side: a change bumps the requested
/// version and wakes the reloader; the API waits (briefly) until the reloaded snapshot covers its
/// change, so that once a PUT has answered, the next call is routed by it.
#[derive(Clone)]
pub struct ConfigVersion {
    requested: Arc<AtomicU64>,
    wake: Arc<Notify>,
    applied: watch::Sender<u64>,
    /// A reloader is running (without one, nobody would ever apply a version).
    live: Arc<AtomicBool>,
}

impl Default for ConfigVersion {
    fn default() -> Self {
        ConfigVersion {
            requested: Default::default(),
            wake: Default::default(),
            applied: watch::channel(0).0,
            live: Default::default(),
        }
    }
}

/// The longest the API waits for a change to reach call routing.
const APPLY_WAIT: Duration = Duration::from_secs(3);

impl ConfigVersion {
    /// Records a change and waits until the telephony side has applied it (or a few seconds
    /// passed, which is logged).
    pub async fn changed(&self) {
        let version = self.requested.fetch_add(1, Ordering::SeqCst) + 1;
        self.wake.notify_one();
        if !self.live.load(Ordering::SeqCst) {
            return;
        }
        let mut applied = self.applied.subscribe();
        if tokio::time::timeout(APPLY_WAIT, applied.wait_for(|a| *a >= version)).await.is_err() {
            tracing::warn!(version, "configuration change not yet applied to call routing");
        }
    }

    /// For the reloader: waits for a change or `period`, then returns the version to load.
    pub async fn next(&self, period: Duration) -> u64 {
        self.live.store(true, Ordering::SeqCst);
        tokio::select! {
            _ = self.wake.notified() => {}
            _ = tokio::time::sleep(period) => {}
        }
        self.requested.load(Ordering::SeqCst)
    }

    /// For the reloader: everything up to `version` is now in effect.
    pub fn applied(&self, version: u64) {
        self.applied.send_modify(|a| *a = (*a).max(version));
    }
}

#[derive(Debug, Default)]
pub struct AccountConfig {
    pub settings: Option<AccountSettings>,
    agents: HashMap<String, Agent>,
    numbers: HashMap<String, PhoneNumber>,
    schedules: HashMap<String, Schedule>,
    classes: HashMap<String, ClassOfService>,
    /// Trunks in name order.
    pub trunks: Vec<Trunk>,
}

#[derive(Debug, Default)]
pub struct Snapshot {
    accounts: HashMap<i64, AccountConfig>,
    /// Which account owns each DID.
    numbers: HashMap<String, i64>,
}

fn by_key<K: ConfigKind>(items: Vec<config::Stored<K>>) -> HashMap<String, K> {
    items.into_iter().map(|s| (s.spec.key().to_string(), s.spec)).collect()
}

impl Snapshot {
    pub async fn load(db: &Db) -> Result<Snapshot> {
        let mut snap = Snapshot::default();
        for account in accounts::list(db).await? {
            let numbers = by_key(config::list::<PhoneNumber>(db, account.id).await?);
            for n in numbers.keys() {
                snap.numbers.insert(n.clone(), account.id);
            }
            let cfg = AccountConfig {
                settings: Some(account.settings.clone()),
                agents: by_key(config::list::<Agent>(db, account.id).await?),
                numbers,
                schedules: by_key(config::list::<Schedule>(db, account.id).await?),
                classes: by_key(config::list::<ClassOfService>(db, account.id).await?),
                trunks: config::list::<Trunk>(db, account.id).await?.into_iter().map(|t| t.spec).collect(),
            };
            snap.accounts.insert(account.id, cfg);
        }
        Ok(snap)
    }

    pub fn account(&self, id: i64) -> Option<&AccountConfig> {
        self.accounts.get(&id)
    }

    pub fn owner_of_number(&self, number: &str) -> Option<i64> {
        self.numbers.get(number).copied()
    }

    pub fn agent(&self, account: i64, extension: &str) -> Option<&Agent> {
        self.account(account)?.agents.get(extension)
    }

    pub fn number(&self, account: i64, number: &str) -> Option<&PhoneNumber> {
        self.account(account)?.numbers.get(number)
    }

    pub fn schedule(&self, account: i64, name: &str) -> Option<&Schedule> {
        self.account(account)?.schedules.get(name)
    }

    pub fn class_of_service(&self, account: i64, name: &str) -> Option<&ClassOfService> {
        self.account(account)?.classes.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_change_returns_once_the_reloader_applied_it() {
        let v = ConfigVersion::default();
        // Nobody reloads yet: a change does not wait.
        tokio::time::timeout(Duration::from_millis(1), v.changed()).await.unwrap();
        let reloader = v.clone();
        let loads = Arc::new(AtomicU64::new(0));
        let counted = loads.clone();
        tokio::spawn(async move {
            loop {
                let version = reloader.next(Duration::from_secs(10)).await;
                tokio::time::sleep(Duration::from_millis(200)).await; // loading takes a while
                counted.fetch_add(1, Ordering::SeqCst);
                reloader.applied(version);
            }
        });
        tokio::task::yield_now().await;
        let started = tokio::time::Instant::now();
        v.changed().await;
        assert!(started.elapsed() >= Duration::from_millis(200), "returned before the reload finished");
        assert!(loads.load(Ordering::SeqCst) >= 1);
        // Two quick changes are both covered when the second returns.
        let (a, b) = (v.clone(), v.clone());
        tokio::join!(a.changed(), b.changed());
        assert!(*v.applied.borrow() >= 3);
    }
}
