//! linphone's console phone (Debian `linphone-cli`) as a desk phone: the one SIP client here
//! that completes an attended transfer itself (REFER with Replaces). It runs as a daemon
//! (`linphonecsh init`) and is driven with `linphonecsh generic "…"`; the daemon listens on a
//! socket named after the user, so one runs at a time (a process-wide lock).

use anyhow::{bail, Context, Result};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

pub struct Linphone {
    dir: tempfile::TempDir,
    _turn: MutexGuard<'static, ()>,
}

impl Linphone {
    /// Starts a phone registering `extension` with `password` at the PBX's `sip` address and
    /// waits until it is registered.
    pub fn start(sip: &str, extension: &str, password: &str) -> Result<Linphone> {
        let turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir()?;
        // Its message store lives under $HOME; without the folder it logs an error each start.
        std::fs::create_dir_all(dir.path().join(".local/share/linphone"))?;
        let config = format!(
            "[sip]\nsip_port={port}\ndefault_proxy=0\n\
             [auth_info_0]\nusername={extension}\nuserid={extension}\npasswd={password}\nrealm=\n\
             [proxy_0]\nreg_proxy=<sip:{sip}>\nreg_identity=sip:{extension}@{sip}\nreg_expires=600\n\
             reg_sendregister=1\n\
             [sound]\nechocancellation=0\n\
             [rtp]\naudio_rtp_port={rtp}\n",
            port = crate::free_phone_port(),
            rtp = crate::free_udp_port(),
        );
        std::fs::write(dir.path().join("phone.rc"), config)?;
        let phone = Linphone { dir, _turn: turn };
        // A daemon left by an earlier run that crashed would hold the socket.
        let _ = phone.shell(&["exit"]);
        let config = phone.dir.path().join("phone.rc");
        let log = phone.dir.path().join("phone.log");
        let started = phone.shell(&[
            "init",
            "-c",
            &config.display().to_string(),
            "-d",
            "5",
            "-l",
            &log.display().to_string(),
        ])?;
        if !started.status.success() {
            bail!("linphonecsh init failed: {}", String::from_utf8_lossy(&started.stderr));
        }
        phone.wait_for("status register", "registered,", Duration::from_secs(15))?;
        Ok(phone)
    }

    fn shell(&self, args: &[&str]) -> Result<std::process::Output> {
        Command::new("linphonecsh")
            .args(args)
            .env("HOME", self.dir.path())
            .output()
            .context("run linphonecsh")
    }

    /// Runs one of linphonec's commands (`call sip:…`, `pause 1`, `transfer 1 --to-call 2`,
    /// `calls`) and returns what it printed.
    pub fn command(&self, command: &str) -> Result<String> {
        let out = self.shell(&["generic", command])?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Repeats `command` until its output contains `needle`.
    pub fn wait_for(&self, command: &str, needle: &str, timeout: Duration) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let out = self.command(command)?;
            if out.contains(needle) {
                return Ok(out);
            }
            if Instant::now() > deadline {
                bail!("linphone's {command:?} never said {needle:?}: {out}\nits log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The SIP messages and call states in its log (the last 200 lines).
    pub fn log(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("phone.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(200)..].join("\n")
    }
}

impl Drop for Linphone {
    fn drop(&mut self) {
        let _ = self.shell(&["exit"]);
    }
}
