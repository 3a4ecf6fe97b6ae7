//! An in-memory copy of the configuration that call routing reads, so setting up a call does not
//! query the database for it. Rebuilt when the configuration changes (and every few seconds, for
//! changes made by another process).

use crate::db::Db;
use crate::error::Result;
use crate::model::{AccountSettings, Agent, ClassOfService, ConfigKind, PhoneNumber, Schedule, Trunk};
use crate::store::{accounts, config};
use std::collections::HashMap;

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
