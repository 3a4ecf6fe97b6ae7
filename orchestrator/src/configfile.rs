//! Config as code: a whole account's configuration as one YAML document.
//!
//! `export` writes it; `import` validates every entity and every reference first, reporting
//! each problem with its path (`queues[2].wrap_up_seconds: must be 0..=3600`), and only then
//! makes the account match the file in one transaction: entities in the file are created or
//! updated, entities missing from it are deleted. Secrets (SIP passwords, PINs, API keys,
//! secret headers) are left out of exports unless asked for; an import that leaves a secret
//! out keeps the stored one.

use crate::clock::now_ms;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::model::*;
use crate::store::{accounts, config as cfg};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::collections::{BTreeMap, HashMap};

/// The document. Section names are the kinds' API names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The account's short name (its slug).
    pub account: String,
    pub settings: AccountSettings,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes_of_service: Vec<ClassOfService>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub voicemail_boxes: Vec<VoicemailBox>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audio: Vec<AudioEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trunks: Vec<Trunk>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schedules: Vec<Schedule>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queues: Vec<Queue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ivr_menus: Vec<IvrMenu>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agents: Vec<Agent>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolDefinition>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ai_agents: Vec<AiAgent>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phone_numbers: Vec<PhoneNumber>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub payment_gateways: Vec<PaymentGateway>,
}

/// Gives generic code the section of a kind.
pub trait Section<K> {
    fn section(&self) -> &Vec<K>;
    fn section_mut(&mut self) -> &mut Vec<K>;
}

macro_rules! sections {
    ($($field:ident: $t:ty),*) => {
        $(impl Section<$t> for ConfigFile {
            fn section(&self) -> &Vec<$t> { &self.$field }
            fn section_mut(&mut self) -> &mut Vec<$t> { &mut self.$field }
        })*
    };
}

sections!(
    classes_of_service: ClassOfService, voicemail_boxes: VoicemailBox, audio: AudioEntry,
    trunks: Trunk, schedules: Schedule, queues: Queue, ivr_menus: IvrMenu, agents: Agent,
    tools: ToolDefinition, ai_agents: AiAgent, phone_numbers: PhoneNumber,
    payment_gateways: PaymentGateway
);

impl ConfigFile {
    pub fn empty(account: &str, settings: AccountSettings) -> Self {
        ConfigFile {
            account: account.to_string(),
            settings,
            classes_of_service: vec![],
            voicemail_boxes: vec![],
            audio: vec![],
            trunks: vec![],
            schedules: vec![],
            queues: vec![],
            ivr_menus: vec![],
            agents: vec![],
            tools: vec![],
            ai_agents: vec![],
            phone_numbers: vec![],
            payment_gateways: vec![],
        }
    }

    /// Each section sorted by key (how exports are written: stable, diff-friendly).
    pub fn normalized(mut self) -> Self {
        macro_rules! m {
            ($t:ty) => {
                Section::<$t>::section_mut(&mut self).sort_by(|a, b| a.key().cmp(b.key()));
            };
        }
        crate::for_each_config_kind!(m);
        self
    }

    /// Parses YAML; the first structural error comes back with its path.
    pub fn from_yaml(text: &str) -> Result<Self> {
        let de = serde_yaml::Deserializer::from_str(text);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            Error::Invalid(vec![Problem {
                path: if path == "." { String::new() } else { path },
                message: e.inner().to_string(),
            }])
        })
    }

    pub fn to_yaml(&self) -> Result<String> {
        serde_yaml::to_string(self).map_err(|e| Error::Internal(e.to_string()))
    }

    fn catalog(&self) -> Catalog {
        let mut c = Catalog::default();
        macro_rules! m {
            ($t:ty) => {
                for e in Section::<$t>::section(self) {
                    c.insert(<$t>::KIND, e.key().to_string());
                }
            };
        }
        crate::for_each_config_kind!(m);
        c
    }

    /// Every problem in the document that can be found without a database.
    pub fn problems(&self) -> Vec<Problem> {
        let mut all = Vec::new();
        if let Err(why) = validate::check_name(&self.account) {
            all.push(Problem { path: "account".into(), message: why.into() });
        }
        let mut p = Problems::with_prefix("settings");
        self.settings.validate(&mut p);
        all.extend(p.into_vec());
        let catalog = self.catalog();
        macro_rules! m {
            ($t:ty) => {
                all.extend(section_problems::<$t>(Section::<$t>::section(self), &catalog));
            };
        }
        crate::for_each_config_kind!(m);
        all
    }
}

fn section_problems<K: ConfigKind>(items: &[K], catalog: &Catalog) -> Vec<Problem> {
    let mut p = Problems::new();
    let mut first: HashMap<&str, usize> = HashMap::new();
    for (i, e) in items.iter().enumerate() {
        let prefix = format!("{}[{i}]", K::KIND);
        let mut local = Problems::with_prefix(prefix.clone());
        e.validate(&mut local);
        p.extend(local.into_vec());
        if let Some(j) = first.get(e.key()) {
            p.extend(vec![Problem {
                path: format!("{prefix}.{}", K::KEY_FIELD),
                message: format!("'{}' is already used by {}[{j}]", e.key(), K::KIND),
            }]);
        } else {
            first.insert(e.key(), i);
        }
        catalog.check(e, &prefix, &mut p);
    }
    p.into_vec()
}

/// Writes an account's configuration.
pub async fn export(db: &Db, account_slug: &str, include_secrets: bool) -> Result<ConfigFile> {
    let account = accounts::by_slug(db, account_slug)
        .await?
        .ok_or_else(|| Error::invalid("account", format!("no account '{account_slug}'")))?;
    let mut file = ConfigFile::empty(&account.slug, account.settings);
    macro_rules! m {
        ($t:ty) => {
            let items = cfg::list::<$t>(db, account.id).await?;
            *Section::<$t>::section_mut(&mut file) = items
                .into_iter()
                .map(|s| {
                    let mut spec = s.spec;
                    if !include_secrets {
                        spec.redact();
                    }
                    spec
                })
                .collect();
        };
    }
    crate::for_each_config_kind!(m);
    Ok(file.normalized())
}

/// What an import changed, per kind.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    pub account_created: bool,
    pub created: BTreeMap<&'static str, usize>,
    pub updated: BTreeMap<&'static str, usize>,
    pub deleted: BTreeMap<&'static str, usize>,
}

impl std::fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.account_created {
            writeln!(f, "account created")?;
        }
        for (label, map) in
            [("created", &self.created), ("updated", &self.updated), ("deleted", &self.deleted)]
        {
            let parts: Vec<String> =
                map.iter().filter(|(_, n)| **n > 0).map(|(k, n)| format!("{n} {k}")).collect();
            if !parts.is_empty() {
                writeln!(f, "{label}: {}", parts.join(", "))?;
            }
        }
        Ok(())
    }
}

/// Fills secrets the file leaves out from what is stored, by key.
async fn keep_stored_secrets<K: ConfigKind>(db: &Db, account_id: i64, items: &mut [K]) -> Result<()> {
    let stored: HashMap<String, K> = cfg::list::<K>(db, account_id)
        .await?
        .into_iter()
        .map(|s| (s.spec.key().to_string(), s.spec))
        .collect();
    for e in items.iter_mut() {
        if let Some(old) = stored.get(e.key()) {
            e.keep_secrets_from(old);
        }
    }
    Ok(())
}

/// Validates the whole file against itself and the database; changes nothing.
pub async fn check(db: &Db, file: &mut ConfigFile) -> Result<Option<accounts::Account>> {
    let account = accounts::by_slug(db, &file.account).await?;
    if let Some(a) = &account {
        macro_rules! m {
            ($t:ty) => {
                keep_stored_secrets::<$t>(db, a.id, Section::<$t>::section_mut(file)).await?;
            };
        }
        crate::for_each_config_kind!(m);
    }
    let mut problems = file.problems();
    // A DID routes to one account only.
    for (i, n) in file.phone_numbers.iter().enumerate() {
        if let Some(owner) = cfg::account_of_number(db, &n.number).await? {
            if account.as_ref().map(|a| a.id) != Some(owner) {
                problems.push(Problem {
                    path: format!("phone_numbers[{i}].number"),
                    message: format!("{} belongs to another account", n.number),
                });
            }
        }
    }
    if problems.is_empty() {
        Ok(account)
    } else {
        Err(Error::Invalid(problems))
    }
}

async fn apply_kind<K: ConfigKind>(
    db: &Db,
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    account_id: i64,
    items: &[K],
    summary: &mut ImportSummary,
) -> Result<()> {
    let now = now_ms();
    let rows = sqlx::query("SELECT key, spec FROM config_entities WHERE account_id = $1 AND kind = $2")
        .bind(account_id)
        .bind(K::KIND)
        .fetch_all(&mut **tx)
        .await?;
    let mut existing: HashMap<String, String> = HashMap::new();
    for r in rows {
        existing.insert(r.try_get("key")?, r.try_get("spec")?);
    }
    for e in items {
        // Sealed secrets differ each time they are sealed: compare the opened entities.
        let json = db.seal_spec(e)?;
        let unchanged = |old: &str| {
            serde_json::from_str::<K>(old)
                .ok()
                .and_then(|k| db.open_spec(k).ok())
                .is_some_and(|k| serde_json::to_value(k).ok() == serde_json::to_value(e).ok())
        };
        match existing.remove(e.key()) {
            Some(old) if unchanged(&old) => {}
            Some(_) => {
                sqlx::query("UPDATE config_entities SET spec = $1, updated_at = $2 WHERE account_id = $3 AND kind = $4 AND key = $5")
                    .bind(&json)
                    .bind(now)
                    .bind(account_id)
                    .bind(K::KIND)
                    .bind(e.key())
                    .execute(&mut **tx)
                    .await?;
                *summary.updated.entry(K::KIND).or_default() += 1;
            }
            None => {
                sqlx::query(
                    "INSERT INTO config_entities (account_id, kind, key, spec, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
                )
                .bind(account_id)
                .bind(K::KIND)
                .bind(e.key())
                .bind(&json)
                .bind(now)
                .execute(&mut **tx)
                .await
                .map_err(|err| Error::from_db(err, &format!("{} '{}'", K::SINGULAR, e.key())))?;
                *summary.created.entry(K::KIND).or_default() += 1;
            }
        }
    }
    for key in existing.keys() {
        sqlx::query("DELETE FROM config_entities WHERE account_id = $1 AND kind = $2 AND key = $3")
            .bind(account_id)
            .bind(K::KIND)
            .bind(key)
            .execute(&mut **tx)
            .await?;
        *summary.deleted.entry(K::KIND).or_default() += 1;
    }
    Ok(())
}

/// Validates, then makes the account match the file (creating the account if needed).
pub async fn import(db: &Db, mut file: ConfigFile, dry_run: bool) -> Result<ImportSummary> {
    let account = check(db, &mut file).await?;
    let mut summary = ImportSummary::default();
    if dry_run {
        return Ok(summary);
    }
    let settings = serde_json::to_string(&file.settings).map_err(|e| Error::Internal(e.to_string()))?;
    let mut tx = db.pool().begin().await?;
    let account_id = match account {
        Some(a) => {
            sqlx::query("UPDATE accounts SET name = $1, settings = $2 WHERE id = $3")
                .bind(&file.settings.name)
                .bind(&settings)
                .bind(a.id)
                .execute(&mut *tx)
                .await?;
            a.id
        }
        None => {
            summary.account_created = true;
            let row = sqlx::query("INSERT INTO accounts (slug, name, settings, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
                .bind(&file.account)
                .bind(&file.settings.name)
                .bind(&settings)
                .bind(now_ms())
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| Error::from_db(e, &format!("account '{}'", file.account)))?;
            row.try_get("id")?
        }
    };
    macro_rules! m {
        ($t:ty) => {
            apply_kind::<$t>(db, &mut tx, account_id, Section::<$t>::section(&file), &mut summary).await?;
        };
    }
    crate::for_each_config_kind!(m);
    tx.commit().await?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_names_are_the_kind_names() {
        // Problem paths and API URLs use the same names.
        let schema = serde_json::to_value(schemars::schema_for!(ConfigFile)).unwrap();
        macro_rules! m {
            ($t:ty) => {
                assert!(schema["properties"].get(<$t>::KIND).is_some(), "no section named {}", <$t>::KIND);
            };
        }
        crate::for_each_config_kind!(m);
    }

    #[test]
    fn problems_carry_paths() {
        let yaml = r#"
account: shop
settings: { name: Shop }
queues:
  - name: sales
  - name: support
  - name: returns
    wrap_up_seconds: 5000
    overflow_target: { type: voicemail_box, name: nowhere }
  - name: sales
"#;
        let file = ConfigFile::from_yaml(yaml).unwrap();
        let problems: Vec<String> = file.problems().iter().map(|p| p.to_string()).collect();
        assert!(
            problems.contains(&"queues[2].wrap_up_seconds: must be 0..=3600".to_string()),
            "{problems:?}"
        );
        assert!(
            problems.contains(
                &"queues[2].overflow_target: refers to voicemail box 'nowhere', which does not exist"
                    .to_string()
            ),
            "{problems:?}"
        );
        assert!(
            problems.contains(&"queues[3].name: 'sales' is already used by queues[0]".to_string()),
            "{problems:?}"
        );
    }

    #[test]
    fn structural_errors_name_the_field() {
        let yaml = "account: shop\nsettings: { name: Shop }\nqueues:\n  - name: a\n  - name: b\n    strategy: loudest\n";
        let err = ConfigFile::from_yaml(yaml).unwrap_err();
        let Error::Invalid(p) = err else { panic!("expected Invalid") };
        assert_eq!(p[0].path, "queues[1].strategy");
        assert!(p[0].message.contains("unknown variant"), "{}", p[0].message);
    }
}
