//! Connects the telephony engine to the application: who may register (from the agents'
//! configuration, kept current), and what the engine reports (logged).

use crate::db::Db;
use crate::error::Result;
use crate::model::Agent;
use crate::store::{accounts, config};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use switchboard_telephony::driver::{self, SipConfig, SipHandle};
use switchboard_telephony::sip::registrar::{Directory, RegistrarConfig, RegistrarEvent, SipUser};
use switchboard_telephony::sip::server::ServerEvent;
use tokio::sync::{mpsc, Notify};

/// How often the directory is reloaded even without a change notice (covers changes made by
/// another process, such as `switchboard import`).
pub const REFRESH: Duration = Duration::from_secs(10);

/// Every agent of every account with SIP credentials.
pub async fn load_directory(db: &Db) -> Result<Directory> {
    let mut users = Vec::new();
    for account in accounts::list(db).await? {
        for agent in config::list::<Agent>(db, account.id).await? {
            let Some(password) = agent.spec.sip_password.clone() else { continue };
            users.push(SipUser {
                account: account.id,
                domain: None,
                username: agent.spec.sip_username().to_string(),
                password,
                extension: agent.spec.extension.clone(),
            });
        }
    }
    Ok(Directory::new(users))
}

fn random_secret() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// Starts SIP on `bind`, loads the directory and keeps it current.
pub async fn start(
    db: Db,
    bind: SocketAddr,
    changed: Arc<Notify>,
) -> anyhow::Result<(SipHandle, tokio::task::JoinHandle<()>)> {
    let (events_tx, mut events) = mpsc::channel(1024);
    let config = SipConfig {
        bind,
        registrar: RegistrarConfig::default(),
        secret: random_secret(),
        server_name: format!("Switchboard/{}", env!("CARGO_PKG_VERSION")),
    };
    let (handle, task) = driver::start(config, events_tx).await?;
    handle.set_directory(load_directory(&db).await?).await;
    let refresher = handle.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = changed.notified() => {}
                _ = tokio::time::sleep(REFRESH) => {}
            }
            match load_directory(&db).await {
                Ok(d) => refresher.set_directory(d).await,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot reload the SIP directory; keeping the previous one")
                }
            }
        }
    });
    tokio::spawn(async move {
        while let Some(e) = events.recv().await {
            match e {
                ServerEvent::Registrar(RegistrarEvent::Registered {
                    account,
                    extension,
                    contact,
                    source,
                }) => {
                    tracing::info!(account, %extension, %contact, %source, "SIP registered")
                }
                ServerEvent::Registrar(RegistrarEvent::Unregistered { account, extension, contact })
                | ServerEvent::Registrar(RegistrarEvent::Expired { account, extension, contact }) => {
                    tracing::info!(account, %extension, %contact, "SIP registration ended")
                }
                ServerEvent::Registrar(RegistrarEvent::AuthFailed { source, username }) => {
                    tracing::warn!(%source, %username, "SIP authentication failed")
                }
                ServerEvent::Registrar(RegistrarEvent::Blocked { source }) => {
                    tracing::warn!(%source, "SIP source blocked after repeated authentication failures")
                }
                ServerEvent::Malformed { source, reason } => {
                    tracing::debug!(%source, %reason, "malformed SIP")
                }
            }
        }
    });
    Ok((handle, task))
}
