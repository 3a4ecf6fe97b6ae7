//! A cluster on this machine for end-to-end tests: Kamailio as the SIP entry, configured by the
//! repository's own `deploy/kamailio/kamailio.cfg`, and `switchboard serve --node-id N` nodes
//! on one PostgreSQL database.

use crate::Server;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kamailio in the foreground, in a process group of its own (it forks its workers), stopped
/// with all of them when dropped.
pub struct Entry(Child);

impl Drop for Entry {
    fn drop(&mut self) {
        let group = -(self.0.id() as i32);
        // SAFETY: kill(2) on our own child's process group has no memory-safety preconditions.
        unsafe {
            libc::kill(group, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline && matches!(self.0.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(50));
        }
        // SAFETY: as above.
        unsafe {
            libc::kill(group, libc::SIGKILL);
        }
        let _ = self.0.wait();
    }
}

/// The entry on UDP `port` in front of the nodes at these SIP ports (its log in
/// `dir/kamailio.log`), with `extra` settings (`-A NAME=VALUE` each).
pub fn start_entry(dir: &Path, port: u16, nodes: &[u16], extra: &[&str]) -> Entry {
    let list = dir.join("dispatcher.list");
    let lines: Vec<String> = nodes.iter().map(|p| format!("1 sip:127.0.0.1:{p}")).collect();
    std::fs::write(&list, lines.join("\n") + "\n").unwrap();
    let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/kamailio/kamailio.cfg");
    let log = std::fs::File::create(dir.join("kamailio.log")).unwrap();
    let mut cmd = Command::new("kamailio");
    cmd.args(["-DD", "-E", "-f"])
        .arg(&cfg)
        .arg("-A")
        .arg(format!("SIP_LISTEN=udp:127.0.0.1:{port}"))
        .arg("-A")
        .arg(format!("DISPATCHER_LIST=\"{}\"", list.display()))
        .args(["-A", "PROBE_SECONDS=1", "-Y", dir.to_str().unwrap()]);
    for setting in extra {
        cmd.args(["-A", setting]);
    }
    let child = cmd.process_group(0).stdout(Stdio::null()).stderr(log).spawn().expect("start kamailio");
    Entry(child)
}

/// Node `id` of a cluster on database `pg`, SIP on `sip` (the demo account loaded when
/// `demo`), with `extra` arguments.
pub fn node(dir: &Path, id: u16, sip: u16, pg: &str, demo: bool, extra: &[&str]) -> Server {
    let data = dir.join(format!("node{id}"));
    let (id, sip) = (id.to_string(), format!("127.0.0.1:{sip}"));
    let mut args = vec!["--node-id", &id, "--node-lease-seconds", "3", "--sip", &sip, "--no-https"];
    if demo {
        args.push("--demo");
    }
    args.extend_from_slice(extra);
    // The nodes share the key that seals configuration secrets (trunk passwords) at rest.
    let key = "5b".repeat(32);
    Server::start(&data, &args, &[("DATABASE_URL", pg), ("SWITCHBOARD_SECRET_KEY", &key)])
        .expect("start a node")
}
