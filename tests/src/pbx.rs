//! The demo PBX most end-to-end tests start with: `serve --demo` on a free SIP port, and an
//! admin signed in.

use crate::{http, login, Server};
use std::path::Path;

pub struct DemoPbx {
    pub server: Server,
    pub client: reqwest::Client,
    /// The admin's session cookie.
    pub admin: String,
    /// The SIP address phones register at and carriers call.
    pub sip: String,
}

/// Starts the demo account's PBX with its data under `dir` (and `extra` arguments).
pub async fn demo_pbx(dir: &Path, extra: &[&str]) -> DemoPbx {
    let sip = format!("127.0.0.1:{}", crate::free_udp_port());
    let mut args = vec!["--demo", "--sip", &sip];
    args.extend_from_slice(extra);
    let server = Server::start(&dir.join("data"), &args, &[]).unwrap();
    let client = http();
    let admin = login(&client, &server, "admin@demo.example", "switchboard-demo").await.unwrap();
    DemoPbx { server, client, admin, sip }
}
