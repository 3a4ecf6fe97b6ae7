//! The registrar (RFC 3261 §10.3), sans-IO: digest-authenticated REGISTER against a
//! [`Directory`] of SIP users, several contacts per user with expiry, the source address of
//! each registration kept (NAT), and throttling of repeated failures per source address.
//! Time is an input (`now_ms`); nothing here reads a clock or touches a socket.

use super::digest::{ha1, Credentials, NonceCheck, NonceSource};
use super::header::{self, NameAddr};
use super::message::{Request, Response};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

/// One SIP user the registrar may authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipUser {
    /// Opaque owner of the user (the orchestrator's account id).
    pub account: i64,
    /// The account's SIP domain, if it has one.
    pub domain: Option<String>,
    pub username: String,
    pub password: String,
    pub extension: String,
}

/// Who may register: a snapshot the application replaces when configuration changes.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    by_user: HashMap<String, Vec<SipUser>>,
    /// Carrier addresses trusted without digest auth (any port when the port is `None`), and the
    /// accounts that use them.
    trusted: HashMap<(IpAddr, Option<u16>), Vec<i64>>,
    /// Carrier trunks we register with.
    pub uplinks: Vec<super::uplink::UplinkConfig>,
}

impl Directory {
    pub fn new(users: impl IntoIterator<Item = SipUser>) -> Self {
        let mut by_user: HashMap<String, Vec<SipUser>> = HashMap::new();
        for u in users {
            by_user.entry(u.username.to_ascii_lowercase()).or_default().push(u);
        }
        Directory { by_user, trusted: HashMap::new(), uplinks: Vec::new() }
    }

    /// Adds a carrier source address (IP-authenticated trunk) for an account; with a port, only
    /// that port is trusted (useful when phones share the carrier's host).
    pub fn trust(&mut self, ip: IpAddr, port: Option<u16>, account: i64) {
        let list = self.trusted.entry((ip, port)).or_default();
        if !list.contains(&account) {
            list.push(account);
        }
    }

    /// The accounts whose trunks send from this address.
    pub fn trusted(&self, source: SocketAddr) -> Option<&[i64]> {
        self.trusted
            .get(&(source.ip(), Some(source.port())))
            .or_else(|| self.trusted.get(&(source.ip(), None)))
            .map(Vec::as_slice)
    }

    /// The user `username` at `host`: the account whose SIP domain is `host`, or else the only
    /// account that has this user name (a single-tenant install addressed by IP).
    pub fn lookup(&self, username: &str, host: &str) -> Option<&SipUser> {
        let candidates = self.by_user.get(&username.to_ascii_lowercase())?;
        candidates
            .iter()
            .find(|u| u.domain.as_deref().is_some_and(|d| d.eq_ignore_ascii_case(host)))
            .or_else(|| if candidates.len() == 1 { candidates.first() } else { None })
    }

    /// Whether `username` (any case) is still a user of this extension of this account.
    pub fn registers(&self, account: i64, extension: &str, username: &str) -> bool {
        self.by_user
            .get(&username.to_ascii_lowercase())
            .is_some_and(|us| us.iter().any(|u| u.account == account && u.extension == extension))
    }

    pub fn len(&self) -> usize {
        self.by_user.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.by_user.is_empty()
    }
}

/// The address a request came from before the trusted proxy at `source` relayed it: the
/// second `Via`, with the `received` and `rport` the proxy stamped on it (RFC 3581). Only a
/// trusted address (a cluster's SIP entry is configured as a trunk address) is believed about
/// its previous hop; any other sender is its own client.
pub fn client_address(req: &Request, source: SocketAddr, dir: &Directory) -> SocketAddr {
    if dir.trusted(source).is_none() {
        return source;
    }
    previous_hop(req).unwrap_or(source)
}

fn previous_hop(req: &Request) -> Option<SocketAddr> {
    let vias = req.headers.get_all("Via");
    let via = header::Via::parse(vias.get(1)?).ok()?;
    let host = via.param("received").flatten().unwrap_or(&via.host);
    let ip: IpAddr = host.trim_start_matches('[').trim_end_matches(']').parse().ok()?;
    let rport = via.param("rport").flatten().and_then(|p| p.parse::<u16>().ok());
    Some(SocketAddr::new(ip, rport.or(via.port).unwrap_or(5060)))
}

/// How a registered device is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub contact: String,
    /// Where the REGISTER came from: requests go here (symmetric signalling through NAT).
    pub source: SocketAddr,
    pub transport: String,
    pub expires_at_ms: u64,
    pub call_id: String,
    pub cseq: u32,
    pub user_agent: Option<String>,
    /// The proxies the REGISTER came through (RFC 3327 `Path`, first the one nearest us):
    /// requests to the device go through them, as a preloaded route set.
    pub path: Vec<String>,
    /// The user whose credentials registered it (empty for a device registered through
    /// another node of a cluster): a binding ends when its user leaves the extension.
    pub username: String,
}

impl Binding {
    /// Where a request to this device is sent: the first `Path` proxy, or else the address the
    /// REGISTER came from.
    pub fn next_hop(&self) -> SocketAddr {
        self.path
            .first()
            .and_then(|p| super::uri::SipUri::parse(p).ok())
            .and_then(|u| {
                let ip: IpAddr = u.host.trim_start_matches('[').trim_end_matches(']').parse().ok()?;
                Some(SocketAddr::new(ip, u.port.unwrap_or(5060)))
            })
            .unwrap_or(self.source)
    }

    /// Where the device registered from as the first `Path` proxy saw it (its `received`
    /// parameter, as Kamailio's `add_path_received` writes it), for a device behind a proxy.
    pub fn path_received(&self) -> Option<SocketAddr> {
        let received = super::uri::unescape(&header::param(self.path.first()?, "received")?);
        let uri = super::uri::SipUri::parse(&received).ok()?;
        let ip: IpAddr = uri.host.trim_start_matches('[').trim_end_matches(']').parse().ok()?;
        Some(SocketAddr::new(ip, uri.port.unwrap_or(5060)))
    }

    /// The transport to the next hop (the `Path` proxy's, UDP unless its URI says otherwise).
    pub fn next_hop_transport(&self) -> &str {
        match self.path.first() {
            Some(p) => match super::header::param(p, "transport") {
                Some(t) if t.eq_ignore_ascii_case("tcp") => "TCP",
                _ => "UDP",
            },
            None => &self.transport,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrarEvent {
    Registered {
        account: i64,
        extension: String,
        contact: String,
        source: SocketAddr,
    },
    Unregistered {
        account: i64,
        extension: String,
        contact: String,
    },
    Expired {
        account: i64,
        extension: String,
        contact: String,
    },
    AuthFailed {
        source: SocketAddr,
        username: String,
    },
    /// A source address was blocked after repeated failures.
    Blocked {
        source: IpAddr,
    },
}

#[derive(Debug, Clone)]
pub struct RegistrarConfig {
    pub realm: String,
    pub min_expires: u32,
    pub max_expires: u32,
    pub max_contacts: usize,
    /// Failed attempts from one address within `failure_window_ms` before it is blocked.
    pub max_failures: u32,
    pub failure_window_ms: u64,
    pub block_ms: u64,
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        RegistrarConfig {
            realm: "switchboard".into(),
            min_expires: 60,
            max_expires: 3600,
            max_contacts: 10,
            max_failures: 5,
            failure_window_ms: 60_000,
            block_ms: 300_000,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    since_ms: u64,
    blocked_until_ms: Option<u64>,
}

pub struct Registrar {
    config: RegistrarConfig,
    nonces: NonceSource,
    bindings: HashMap<(i64, String), Vec<Binding>>,
    /// Devices registered through other nodes of a cluster (reached through their `Path`),
    /// replaced as a whole by the application; they never expire here nor raise events.
    remote: HashMap<(i64, String), Vec<Binding>>,
    /// (proxy IP, the address it received the device at) of every device registered through a
    /// proxy, here or on another node (see `is_registered_behind`).
    behind: std::collections::HashSet<(IpAddr, SocketAddr)>,
    failures: HashMap<IpAddr, Failures>,
    events: Vec<RegistrarEvent>,
}

fn respond(req: &Request, status: u16, to_tag: &str) -> Response {
    Response::for_request(req, status, Some(to_tag))
}

impl Registrar {
    /// `secret` signs nonces; give each process a random one.
    pub fn new(config: RegistrarConfig, secret: impl Into<String>) -> Self {
        Registrar {
            config,
            nonces: NonceSource::new(secret),
            bindings: HashMap::new(),
            remote: HashMap::new(),
            behind: std::collections::HashSet::new(),
            failures: HashMap::new(),
            events: Vec::new(),
        }
    }

    /// Signs nonces with `secret` from now on (those issued before are no longer accepted),
    /// their time counted from the Unix epoch (`epoch_ms`: the Unix time of `now_ms` 0), so
    /// that every process with the secret accepts them (see `NonceSource::shared`).
    pub fn set_nonce_secret(&mut self, secret: impl Into<String>, epoch_ms: u64) {
        self.nonces = NonceSource::shared(secret, epoch_ms);
    }

    /// Current contacts of an extension, most recent registration first, then those registered
    /// through other nodes (a contact registered here too is taken from here).
    pub fn contacts(&self, account: i64, extension: &str) -> Vec<&Binding> {
        let key = (account, extension.to_string());
        let local = self.bindings.get(&key).map(Vec::as_slice).unwrap_or(&[]);
        let remote = self.remote.get(&key).map(Vec::as_slice).unwrap_or(&[]);
        let mut out: Vec<&Binding> = local.iter().collect();
        out.extend(remote.iter().filter(|r| !local.iter().any(|l| l.contact == r.contact)));
        out
    }

    /// Contacts of this node's registrations only, most recent first.
    pub fn local_contacts(&self, account: i64, extension: &str) -> &[Binding] {
        self.bindings.get(&(account, extension.to_string())).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Replaces the devices registered through other nodes: (account, extension, binding).
    pub fn set_remote(&mut self, bindings: impl IntoIterator<Item = (i64, String, Binding)>) {
        self.remote.clear();
        for (account, extension, b) in bindings {
            let list = self.remote.entry((account, extension)).or_default();
            if list.len() < self.config.max_contacts {
                list.push(b);
            }
        }
        self.reindex();
    }

    /// Every (account, extension, binding) registered through other nodes (less the devices
    /// registered here too).
    pub fn remote(&self) -> impl Iterator<Item = (i64, &str, &Binding)> {
        self.remote.iter().flat_map(move |(key, bs)| {
            let local = self.bindings.get(key).map(Vec::as_slice).unwrap_or(&[]);
            bs.iter()
                .filter(move |b| !local.iter().any(|l| l.contact == b.contact))
                .map(move |b| (key.0, key.1.as_str(), b))
        })
    }

    /// Whether a registered phone sends from exactly this address. A phone registered through
    /// a proxy (`Path`) does not count: the address is the proxy's, which carriers share.
    pub fn is_registered_source(&self, source: SocketAddr) -> bool {
        self.bindings.values().flatten().any(|b| b.source == source && b.path.is_empty())
    }

    /// Whether any registered phone sends from this IP address (any port), not counting phones
    /// registered through a proxy.
    pub fn is_registered_ip(&self, ip: std::net::IpAddr) -> bool {
        self.bindings.values().flatten().any(|b| b.source.ip() == ip && b.path.is_empty())
    }

    /// Whether a phone registered through the proxy at `proxy` (here or on another node) is
    /// the one at `client`, the address that proxy received a request from (see
    /// [`client_address`]): its own calls come from the proxy's address, like carriers' calls.
    pub fn is_registered_behind(&self, proxy: SocketAddr, client: SocketAddr) -> bool {
        self.behind.contains(&(proxy.ip(), client))
    }

    /// Rebuilds the index `is_registered_behind` reads (after the bindings changed). Only a
    /// path that came with the REGISTER from that very proxy counts: a `Path` is the sender's
    /// word, and a user registering straight to a node must not make a carrier's address
    /// look like their phone's.
    fn reindex(&mut self) {
        let local = self.bindings.values().flatten();
        let remote = self.remote.values().flatten();
        self.behind = local
            .chain(remote)
            .filter(|b| !b.path.is_empty() && b.next_hop().ip() == b.source.ip())
            .filter_map(|b| Some((b.source.ip(), b.path_received()?)))
            .collect();
    }

    /// Every (account, extension, binding) registered here.
    pub fn all(&self) -> impl Iterator<Item = (i64, &str, &Binding)> {
        self.bindings.iter().flat_map(|((a, e), bs)| bs.iter().map(move |b| (*a, e.as_str(), b)))
    }

    pub fn poll_event(&mut self) -> Option<RegistrarEvent> {
        if self.events.is_empty() {
            None
        } else {
            Some(self.events.remove(0))
        }
    }

    /// The next time something expires.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.bindings.values().flatten().map(|b| b.expires_at_ms).min()
    }

    /// Drops bindings that have expired by `now_ms`.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        let expired = |account, extension, contact| RegistrarEvent::Expired { account, extension, contact };
        self.drop_bindings(|_, _, b| b.expires_at_ms <= now_ms, expired);
        let window = self.config.failure_window_ms;
        self.failures.retain(|_, f| {
            f.blocked_until_ms.is_some_and(|t| t > now_ms) || now_ms - f.since_ms.min(now_ms) < window
        });
    }

    /// Ends the registrations of users no longer in the directory for the extension they
    /// registered (disabled, removed, moved to another extension): they are no longer rung,
    /// rather than until their registration expires. Devices registered through other nodes are
    /// left to those nodes.
    pub fn prune(&mut self, directory: &Directory) {
        let gone = |account, extension, contact| RegistrarEvent::Unregistered { account, extension, contact };
        self.drop_bindings(
            |account, ext, b| !b.username.is_empty() && !directory.registers(account, ext, &b.username),
            gone,
        );
    }

    /// Drops the local bindings `drop` picks, each with its event; rebuilds the index when any
    /// went.
    fn drop_bindings(
        &mut self,
        drop: impl Fn(i64, &str, &Binding) -> bool,
        event: impl Fn(i64, String, String) -> RegistrarEvent,
    ) {
        let events = &mut self.events;
        let mut dropped = false;
        self.bindings.retain(|(account, ext), list| {
            list.retain(|b| {
                let keep = !drop(*account, ext, b);
                if !keep {
                    dropped = true;
                    events.push(event(*account, ext.clone(), b.contact.clone()));
                }
                keep
            });
            !list.is_empty()
        });
        if dropped {
            self.reindex();
        }
    }

    fn blocked(&self, ip: IpAddr, now_ms: u64) -> bool {
        self.failures.get(&ip).and_then(|f| f.blocked_until_ms).is_some_and(|t| t > now_ms)
    }

    fn fail(&mut self, source: SocketAddr, username: &str, now_ms: u64) {
        self.events.push(RegistrarEvent::AuthFailed { source, username: username.to_string() });
        let f = self.failures.entry(source.ip()).or_insert(Failures {
            count: 0,
            since_ms: now_ms,
            blocked_until_ms: None,
        });
        if now_ms.saturating_sub(f.since_ms) > self.config.failure_window_ms {
            *f = Failures { count: 0, since_ms: now_ms, blocked_until_ms: None };
        }
        f.count += 1;
        if f.count >= self.config.max_failures {
            f.blocked_until_ms = Some(now_ms + self.config.block_ms);
            self.events.push(RegistrarEvent::Blocked { source: source.ip() });
        }
    }

    /// Authenticates a request by digest (`Authorization` for REGISTER, `Proxy-Authorization`
    /// otherwise). `Err` is the response to send: a challenge or a refusal.
    pub fn authenticate(
        &mut self,
        now_ms: u64,
        req: &Request,
        source: SocketAddr,
        dir: &Directory,
    ) -> Result<SipUser, Response> {
        let tag = format!("r{now_ms:x}");
        let register = req.method == super::message::Method::Register;
        // Through a proxy, failures count against the phone behind it, not the proxy that
        // every phone and carrier shares.
        let source = client_address(req, source, dir);
        if self.blocked(source.ip(), now_ms) {
            let mut r = respond(req, 403, &tag);
            r.reason = "Forbidden (too many failed attempts)".into();
            return Err(r);
        }
        let (status, challenge_header, creds_header) = if register {
            (401, "WWW-Authenticate", "Authorization")
        } else {
            (407, "Proxy-Authenticate", "Proxy-Authorization")
        };
        let challenge = |stale: bool, nonces: &NonceSource, realm: &str| {
            let mut r = respond(req, status, &tag);
            r.headers.push(challenge_header, nonces.challenge(realm, now_ms, stale));
            r
        };
        // Credentials in a scheme we do not speak are ignored (RFC 4475 §3.3.7): challenge.
        let Some(creds) = req.headers.lines(creds_header).find_map(Credentials::parse) else {
            return Err(challenge(false, &self.nonces, &self.config.realm));
        };
        match self.nonces.check(&creds.nonce, now_ms) {
            NonceCheck::Fresh => {}
            NonceCheck::Stale => return Err(challenge(true, &self.nonces, &self.config.realm)),
            NonceCheck::Forged => {
                self.fail(source, &creds.username, now_ms);
                return Err(challenge(false, &self.nonces, &self.config.realm));
            }
        }
        let host = req
            .headers
            .get(if register { "To" } else { "From" })
            .and_then(|v| NameAddr::parse(v).ok())
            .map(|n| n.uri.host)
            .unwrap_or_default();
        let user = dir.lookup(&creds.username, &host).cloned();
        let verified = user.as_ref().is_some_and(|u| {
            creds.realm == self.config.realm
                && creds.verify(req.method.as_str(), &ha1(&creds.username, &creds.realm, &u.password))
        });
        match user.filter(|_| verified) {
            Some(u) => {
                self.failures.remove(&source.ip());
                Ok(u)
            }
            None => {
                self.fail(source, &creds.username, now_ms);
                Err(respond(req, 403, &tag))
            }
        }
    }

    /// Answers a REGISTER that arrived from `source` over `transport`.
    pub fn handle_register(
        &mut self,
        now_ms: u64,
        req: &Request,
        source: SocketAddr,
        transport: &str,
        dir: &Directory,
    ) -> Response {
        let tag = format!("r{:x}", now_ms);
        let Some(to) = req.headers.get("To").and_then(|v| NameAddr::parse(v).ok()) else {
            return respond(req, 400, &tag);
        };
        let Some(aor_user) = to.uri.user_unescaped() else {
            return respond(req, 400, &tag);
        };
        let user = match self.authenticate(now_ms, req, source, dir) {
            Ok(u) => u,
            Err(r) => return r,
        };
        if !user.username.eq_ignore_ascii_case(&aor_user) && aor_user != user.extension {
            // Credentials of one user may not register another's address.
            return respond(req, 403, &tag);
        }
        let answer = self.update_bindings(now_ms, req, source, transport, &user, &tag);
        self.reindex();
        answer
    }

    fn update_bindings(
        &mut self,
        now_ms: u64,
        req: &Request,
        source: SocketAddr,
        transport: &str,
        user: &SipUser,
        tag: &str,
    ) -> Response {
        let key = (user.account, user.extension.clone());
        let call_id = req.headers.get("Call-ID").unwrap_or_default().to_string();
        let cseq = req.headers.get("CSeq").and_then(|v| header::cseq(v).ok()).map(|c| c.0).unwrap_or(0);
        let default_expires =
            req.headers.get("Expires").and_then(|v| v.trim().parse::<u32>().ok()).unwrap_or(3600);
        let contacts = req.headers.get_all("Contact");
        if contacts.iter().any(|c| c.trim() == "*") {
            if contacts.len() != 1 || default_expires != 0 {
                return respond(req, 400, tag);
            }
            for b in self.bindings.remove(&key).unwrap_or_default() {
                self.events.push(RegistrarEvent::Unregistered {
                    account: user.account,
                    extension: user.extension.clone(),
                    contact: b.contact,
                });
            }
            return respond(req, 200, tag);
        }
        // RFC 3327: the proxies on the way, nearest first; requests to the device retrace them.
        let mut path = Vec::new();
        for p in req.headers.get_all("Path") {
            let Ok(na) = NameAddr::parse(p) else { return respond(req, 400, tag) };
            path.push(na.uri_text);
        }
        let mut parsed = Vec::new();
        for c in &contacts {
            let Ok(na) = NameAddr::parse(c) else { return respond(req, 400, tag) };
            let expires =
                na.param("expires").flatten().and_then(|e| e.parse::<u32>().ok()).unwrap_or(default_expires);
            if expires != 0 && expires < self.config.min_expires {
                let mut r = respond(req, 423, tag);
                r.headers.push("Min-Expires", self.config.min_expires.to_string());
                return r;
            }
            parsed.push((na.uri_text, expires.min(self.config.max_expires)));
        }
        let list = self.bindings.entry(key.clone()).or_default();
        for (contact, expires) in parsed {
            if let Some(i) = list.iter().position(|b| b.contact == contact) {
                if list[i].call_id == call_id && cseq <= list[i].cseq {
                    continue; // an old, reordered REGISTER
                }
                list.remove(i);
                if expires == 0 {
                    self.events.push(RegistrarEvent::Unregistered {
                        account: key.0,
                        extension: key.1.clone(),
                        contact,
                    });
                    continue;
                }
            } else if expires == 0 {
                continue;
            }
            self.events.push(RegistrarEvent::Registered {
                account: key.0,
                extension: key.1.clone(),
                contact: contact.clone(),
                source,
            });
            list.insert(
                0,
                Binding {
                    contact,
                    source,
                    transport: transport.to_string(),
                    expires_at_ms: now_ms + expires as u64 * 1000,
                    call_id: call_id.clone(),
                    cseq,
                    user_agent: req.headers.get("User-Agent").map(str::to_string),
                    path: path.clone(),
                    username: user.username.clone(),
                },
            );
        }
        list.truncate(self.config.max_contacts);
        let mut r = respond(req, 200, tag);
        for b in list.iter() {
            let left = b.expires_at_ms.saturating_sub(now_ms) / 1000;
            r.headers.push("Contact", format!("<{}>;expires={left}", b.contact));
        }
        // The path we stored, given back to a device that supports it (RFC 3327 §5.3).
        let supports_path =
            req.headers.get_all("Supported").iter().any(|o| o.trim().eq_ignore_ascii_case("path"));
        if supports_path {
            for p in &path {
                r.headers.push("Path", format!("<{p}>"));
            }
        }
        if list.is_empty() {
            self.bindings.remove(&key);
        }
        r
    }
}

#[cfg(test)]
mod tests;
