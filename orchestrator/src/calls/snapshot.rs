//! An in-memory copy of the configuration that call handling reads (numbers, agents and who of
//! them is away, menus, queues, boxes, the audio library, schedules, trunks), so setting up or
//! serving a call does not query the database for it. Rebuilt when the configuration changes (and every few seconds, for
//! changes made by another process).

use crate::configfile::ConfigFile;
use crate::db::Db;
use crate::error::Result;
use crate::model::{
    AccountSettings, Agent, AudioEntry, ClassOfService, ConfigKind, IvrMenu, PhoneNumber, Queue, Schedule,
    Trunk, VoicemailBox,
};
use crate::store::{accounts, config, presence};
use std::collections::{HashMap, HashSet};
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
    /// Told of each change made here (a cluster's nodes announce it to the others).
    announce: Arc<std::sync::Mutex<Option<tokio::sync::mpsc::UnboundedSender<()>>>>,
}

impl Default for ConfigVersion {
    fn default() -> Self {
        ConfigVersion {
            requested: Default::default(),
            wake: Default::default(),
            applied: watch::channel(0).0,
            live: Default::default(),
            announce: Default::default(),
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
        if let Some(announce) = self.announce.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            let _ = announce.send(());
        }
        if !self.live.load(Ordering::SeqCst) {
            return;
        }
        let mut applied = self.applied.subscribe();
        if tokio::time::timeout(APPLY_WAIT, applied.wait_for(|a| *a >= version)).await.is_err() {
            tracing::warn!(version, "configuration change not yet applied to call routing");
        }
    }

    /// Another node changed the configuration: reload now (without announcing it again).
    pub fn reload(&self) {
        self.requested.fetch_add(1, Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// Each change made here from now on (for announcing it to a cluster's other nodes).
    pub fn announcements(&self) -> tokio::sync::mpsc::UnboundedReceiver<()> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        *self.announce.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
        rx
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

    /// The version in effect, changing after each change is applied.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.applied.subscribe()
    }

    /// For the reloader: everything up to `version` is now in effect.
    pub fn applied(&self, version: u64) {
        self.applied.send_modify(|a| *a = (*a).max(version));
    }
}

/// One account's configuration, as call handling reads it.
#[derive(Debug, Default)]
pub struct AccountConfig {
    pub settings: Option<AccountSettings>,
    agents: HashMap<String, Agent>,
    numbers: HashMap<String, PhoneNumber>,
    schedules: HashMap<String, Schedule>,
    classes: HashMap<String, ClassOfService>,
    menus: HashMap<String, IvrMenu>,
    queues: HashMap<String, Queue>,
    boxes: HashMap<String, VoicemailBox>,
    audio: HashMap<String, AudioEntry>,
    /// Extensions of agents who set a status other than available (not offered queue calls).
    away: HashSet<String>,
    /// Trunks in name order.
    pub trunks: Vec<Trunk>,
}

fn keyed<K: ConfigKind>(items: impl IntoIterator<Item = K>) -> HashMap<String, K> {
    items.into_iter().map(|k| (k.key().to_string(), k)).collect()
}

async fn stored<K: ConfigKind>(db: &Db, account: i64) -> Result<Vec<K>> {
    Ok(config::list::<K>(db, account).await?.into_iter().map(|s| s.spec).collect())
}

impl AccountConfig {
    /// An account as a config file describes it, with the agents in `away` not available.
    pub fn from_file(file: &ConfigFile, away: impl IntoIterator<Item = String>) -> AccountConfig {
        let mut trunks = file.trunks.clone();
        trunks.sort_by(|a, b| a.name.cmp(&b.name));
        AccountConfig {
            settings: Some(file.settings.clone()),
            agents: keyed(file.agents.clone()),
            numbers: keyed(file.phone_numbers.clone()),
            schedules: keyed(file.schedules.clone()),
            classes: keyed(file.classes_of_service.clone()),
            menus: keyed(file.ivr_menus.clone()),
            queues: keyed(file.queues.clone()),
            boxes: keyed(file.voicemail_boxes.clone()),
            audio: keyed(file.audio.clone()),
            away: away.into_iter().collect(),
            trunks,
        }
    }

    async fn load(db: &Db, account: &accounts::Account) -> Result<AccountConfig> {
        let id = account.id;
        Ok(AccountConfig {
            settings: Some(account.settings.clone()),
            agents: keyed(stored::<Agent>(db, id).await?),
            numbers: keyed(stored::<PhoneNumber>(db, id).await?),
            schedules: keyed(stored::<Schedule>(db, id).await?),
            classes: keyed(stored::<ClassOfService>(db, id).await?),
            menus: keyed(stored::<IvrMenu>(db, id).await?),
            queues: keyed(stored::<Queue>(db, id).await?),
            boxes: keyed(stored::<VoicemailBox>(db, id).await?),
            audio: keyed(stored::<AudioEntry>(db, id).await?),
            away: presence::not_available(db, id).await?.into_iter().collect(),
            trunks: stored::<Trunk>(db, id).await?,
        })
    }
}

/// Every account's configuration, and which account owns each number.
#[derive(Debug, Default)]
pub struct Snapshot {
    accounts: HashMap<i64, AccountConfig>,
    /// Which account owns each DID.
    numbers: HashMap<String, i64>,
}

impl Snapshot {
    pub async fn load(db: &Db) -> Result<Snapshot> {
        let mut snap = Snapshot::default();
        for account in accounts::list(db).await? {
            snap.insert(account.id, AccountConfig::load(db, &account).await?);
        }
        Ok(snap)
    }

    /// Adds (or replaces) an account.
    pub fn insert(&mut self, id: i64, config: AccountConfig) {
        self.numbers.retain(|_, owner| *owner != id);
        for n in config.numbers.keys() {
            self.numbers.insert(n.clone(), id);
        }
        self.accounts.insert(id, config);
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

    pub fn ivr_menu(&self, account: i64, name: &str) -> Option<&IvrMenu> {
        self.account(account)?.menus.get(name)
    }

    pub fn queue(&self, account: i64, name: &str) -> Option<&Queue> {
        self.account(account)?.queues.get(name)
    }

    pub fn voicemail_box(&self, account: i64, name: &str) -> Option<&VoicemailBox> {
        self.account(account)?.boxes.get(name)
    }

    pub fn audio(&self, account: i64, name: &str) -> Option<&AudioEntry> {
        self.account(account)?.audio.get(name)
    }

    /// The members of a queue who may be offered a call now (not away), best first: by
    /// membership priority, then extension.
    pub fn queue_members(&self, account: i64, queue: &str) -> Vec<Agent> {
        let Some(config) = self.account(account) else { return Vec::new() };
        let mut members: Vec<(u8, &Agent)> = config
            .agents
            .values()
            .filter(|a| !config.away.contains(&a.extension))
            .filter_map(|a| Some((a.queues.iter().find(|m| m.queue == queue)?.priority, a)))
            .collect();
        members.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.extension.cmp(&b.1.extension)));
        members.into_iter().map(|(_, a)| a.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn changes_made_here_are_announced_and_reloads_for_others_are_not() {
        let version = ConfigVersion::default();
        let mut announced = version.announcements();
        version.changed().await;
        assert!(announced.try_recv().is_ok(), "a change made here is announced");
        version.reload();
        assert!(announced.try_recv().is_err(), "another node's change is not announced again");
        assert_eq!(version.next(Duration::from_secs(10)).await, 2, "both are reloaded");
    }

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
