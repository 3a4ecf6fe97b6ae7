//! Who may register and which trunks are trusted, from the accounts' configuration: the SIP
//! engine's directory, reloaded by the router on change.

use crate::db::Db;
use crate::error::Result;
use crate::model::{Agent, Trunk};
use crate::store::{accounts, config};
use std::net::{IpAddr, SocketAddr};
use switchboard_telephony::sip::registrar::{Directory, SipUser};
use switchboard_telephony::sip::uplink::UplinkConfig;

/// Every agent of every account with SIP credentials, and every IP-authenticated trunk.
pub async fn load_directory(db: &Db) -> Result<Directory> {
    let mut users = Vec::new();
    let mut trusted = Vec::new();
    let mut uplinks = Vec::new();
    for account in accounts::list(db).await? {
        for trunk in config::list::<Trunk>(db, account.id).await? {
            let t = &trunk.spec;
            if let (true, Some(username), Some(password)) =
                (t.register, t.username.clone(), t.password.clone())
            {
                match tokio::net::lookup_host((t.host.as_str(), t.port)).await.ok().and_then(|mut a| a.next())
                {
                    Some(peer) => uplinks.push(UplinkConfig {
                        name: format!("{}/{}", account.slug, t.name),
                        peer,
                        domain: t.host.clone(),
                        username,
                        password,
                        expires: 300,
                    }),
                    None => {
                        tracing::warn!(trunk = %t.name, host = %t.host, "cannot resolve the trunk's host; not registering")
                    }
                }
            }
            for entry in &trunk.spec.inbound_ips {
                if let Ok(addr) = entry.parse::<SocketAddr>() {
                    trusted.push((addr.ip(), Some(addr.port()), account.id));
                } else if let Ok(ip) = entry.parse::<IpAddr>() {
                    trusted.push((ip, None, account.id));
                }
            }
        }
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
    // Browser softphones register with short-lived credentials issued to signed-in agents.
    for c in crate::store::softphone::valid(db, crate::clock::now_ms()).await? {
        users.push(SipUser {
            account: c.account_id,
            domain: None,
            username: c.username,
            password: c.password,
            extension: c.extension,
        });
    }
    let mut dir = Directory::new(users);
    for (ip, port, account) in trusted {
        dir.trust(ip, port, account);
    }
    dir.uplinks = uplinks;
    Ok(dir)
}
