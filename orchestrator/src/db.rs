//! The database: SQLite (embedded default) or PostgreSQL, behind one sqlx `Any` pool.
//!
//! Queries use `$1`-style placeholders, which both backends accept; times are unix
//! milliseconds and flags are 0/1 integers so the same SQL runs on both.

use crate::error::{Error, Result};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor, Row};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database's schema against the migrations this build carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schema {
    /// The SQLite file does not exist yet (`serve` creates it).
    Missing,
    /// Every migration applied.
    Current { applied: usize },
    /// Migrations `serve` will apply at start (version and description).
    Behind { pending: Vec<(i64, String)> },
    /// Migrated by a newer build: versions this build does not know.
    Ahead { unknown: Vec<i64> },
}

impl Schema {
    /// `known`: this build's migrations; `applied`: the versions the database has.
    pub fn compare(known: &[(i64, String)], applied: &[i64]) -> Schema {
        let unknown: Vec<i64> =
            applied.iter().copied().filter(|v| !known.iter().any(|(k, _)| k == v)).collect();
        if !unknown.is_empty() {
            return Schema::Ahead { unknown };
        }
        let pending: Vec<(i64, String)> =
            known.iter().filter(|(v, _)| !applied.contains(v)).cloned().collect();
        if pending.is_empty() {
            Schema::Current { applied: applied.len() }
        } else {
            Schema::Behind { pending }
        }
    }
}

#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    /// Seals configuration secrets at rest; without it they are written as given.
    secrets: Option<std::sync::Arc<crate::secrets::SecretKey>>,
    /// This process's node of a cluster sharing the database (`serve --node-id`): the calls it
    /// records are its own. `None` for a single node.
    node: Option<i64>,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Db {
    /// The default database URL for a data directory.
    pub fn sqlite_url(data_dir: &Path) -> String {
        format!("sqlite://{}?mode=rwc", data_dir.join("switchboard.db").display())
    }

    /// Connects and brings the schema up to date.
    pub async fn open(url: &str) -> Result<Db> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(Error::invalid("database_url", "must start with sqlite: or postgres:"));
        };
        let options =
            AnyConnectOptions::from_str(url).map_err(|e| Error::invalid("database_url", e.to_string()))?;
        let mut pool_options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(10));
        if backend == Backend::Sqlite {
            pool_options = pool_options.max_connections(4).after_connect(|conn, _meta| {
                Box::pin(async move {
                    // WAL keeps readers off writers' backs; FULL sync makes every acknowledged
                    // write durable; foreign keys are off by default in SQLite.
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
                    )
                    .await?;
                    Ok(())
                })
            });
        } else {
            pool_options = pool_options.max_connections(10);
        }
        let pool = pool_options.connect_with(options).await?;
        let db = Db { pool, backend, secrets: None, node: None };
        db.migrate().await?;
        Ok(db)
    }

    /// What a database's schema is, read without changing anything (`switchboard doctor`): a
    /// SQLite file that does not exist is not created.
    pub async fn inspect(url: &str) -> Result<Schema> {
        sqlx::any::install_default_drivers();
        let migrator = if url.starts_with("sqlite:") {
            let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
            let path = path.split('?').next().unwrap_or_default();
            if !path.is_empty() && path != ":memory:" && !Path::new(path).exists() {
                return Ok(Schema::Missing);
            }
            &SQLITE_MIGRATIONS
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            &POSTGRES_MIGRATIONS
        } else {
            return Err(Error::invalid("database_url", "must start with sqlite: or postgres:"));
        };
        let options =
            AnyConnectOptions::from_str(url).map_err(|e| Error::invalid("database_url", e.to_string()))?;
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        let applied: Vec<i64> = match sqlx::query("SELECT version FROM _sqlx_migrations WHERE success = TRUE")
            .fetch_all(&pool)
            .await
        {
            Ok(rows) => rows.iter().filter_map(|r| r.try_get::<i64, _>("version").ok()).collect(),
            Err(_) => Vec::new(),
        };
        pool.close().await;
        let known: Vec<(i64, String)> =
            migrator.iter().map(|m| (m.version, m.description.to_string())).collect();
        Ok(Schema::compare(&known, &applied))
    }

    async fn migrate(&self) -> Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.pool).await?;
        Ok(())
    }

    /// Seals configuration secrets with `key` from now on (and opens sealed ones).
    /// The same database as node `node` of a cluster.
    pub fn with_node(mut self, node: i64) -> Db {
        self.node = Some(node);
        self
    }

    /// This process's node of a cluster, if it is one.
    pub fn node(&self) -> Option<i64> {
        self.node
    }

    pub fn with_secrets(mut self, key: crate::secrets::SecretKey) -> Db {
        self.secrets = Some(std::sync::Arc::new(key));
        self
    }

    /// The secret that signs SIP digest nonces, derived from the sealing key that every node
    /// of a cluster shares: a phone's answer to one node's challenge is good on another.
    pub fn sip_nonce_secret(&self) -> Option<String> {
        self.secrets.as_ref().map(|k| k.derive("sip digest nonces"))
    }

    /// A secret as stored: sealed when the database has a key.
    pub fn seal(&self, plain: &str) -> String {
        match &self.secrets {
            Some(key) => key.seal(plain),
            None => plain.to_string(),
        }
    }

    /// A stored secret opened (plain ones come back as they are).
    pub fn unseal(&self, stored: &str) -> Result<String> {
        match &self.secrets {
            Some(key) => key.open(stored),
            None if crate::secrets::is_sealed(stored) => {
                Err(crate::error::Error::Internal("a sealed secret needs the secret key".into()))
            }
            None => Ok(stored.to_string()),
        }
    }

    /// A configuration entity as stored: JSON with its secrets sealed.
    pub fn seal_spec<K: crate::model::ConfigKind>(&self, spec: &K) -> Result<String> {
        let mut spec = spec.clone();
        if let Some(key) = &self.secrets {
            for secret in spec.secrets_mut() {
                *secret = key.seal(secret);
            }
        }
        serde_json::to_string(&spec).map_err(|e| Error::Internal(e.to_string()))
    }

    /// Opens the sealed secrets of a stored entity.
    pub fn open_spec<K: crate::model::ConfigKind>(&self, mut spec: K) -> Result<K> {
        for secret in spec.secrets_mut() {
            if crate::secrets::is_sealed(secret) {
                let key = self.secrets.as_ref().ok_or_else(|| {
                    Error::Internal(
                        "a sealed secret needs the secret key (SWITCHBOARD_SECRET_KEY or secret.key)".into(),
                    )
                })?;
                *secret = key.open(secret)?;
            }
        }
        Ok(spec)
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Tells the other nodes of a cluster listening on `channel` that something changed
    /// (PostgreSQL `NOTIFY`; nothing on SQLite, where nobody listens).
    pub async fn notify(&self, channel: &str) -> Result<()> {
        if self.backend == Backend::Postgres {
            sqlx::query(&format!("NOTIFY {channel}")).execute(&self.pool).await?;
        }
        Ok(())
    }

    /// A cheap query that proves the database answers.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn postgres_schema_matches_sqlite_schema() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
        for entry in std::fs::read_dir(format!("{dir}/sqlite")).unwrap() {
            let entry = entry.unwrap();
            let sqlite = std::fs::read_to_string(entry.path()).unwrap();
            let pg_path = format!("{dir}/postgres/{}", entry.file_name().to_string_lossy());
            let pg = std::fs::read_to_string(&pg_path).expect("every SQLite migration has a PostgreSQL twin");
            // A pair that says so on its first line uses each database's own features (full-text
            // search); both must say it.
            let marker = "-- Backend-specific:";
            if sqlite.starts_with(marker) || pg.starts_with(marker) {
                assert!(
                    sqlite.starts_with(marker) && pg.starts_with(marker),
                    "{pg_path}: mark both or neither"
                );
                continue;
            }
            let expected = sqlite.replace(
                "INTEGER PRIMARY KEY AUTOINCREMENT",
                "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
            );
            assert_eq!(pg, expected, "{pg_path} drifted from its SQLite twin");
        }
    }
}
