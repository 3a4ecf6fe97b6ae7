//! RFC 4475 SIP torture messages: every valid one parses; no invalid one gets a success
//! response; nothing panics.

use std::path::Path;
use switchboard_telephony::sip::message::Message;
use switchboard_telephony::sip::parse::parse_datagram;
use switchboard_telephony::sip::registrar::{Directory, RegistrarConfig};
use switchboard_telephony::sip::server::SipServer;

fn messages() -> Vec<(String, bool, String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rfc4475");
    let expected = std::fs::read_to_string(dir.join("EXPECTED.txt")).unwrap();
    expected
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut parts = l.splitn(3, ' ');
            let name = parts.next().unwrap().to_string();
            let valid = parts.next().unwrap() == "valid";
            let note = parts.next().unwrap_or_default().to_string();
            let bytes = std::fs::read(dir.join(format!("{name}.sip"))).unwrap();
            (name, valid, note, bytes)
        })
        .collect()
}

/// What the server answers to a message (status codes), from a fresh server.
fn answers(bytes: &[u8]) -> Vec<u16> {
    let mut s = SipServer::new("127.0.0.1:5060".parse().unwrap(), RegistrarConfig::default(), "k", "test");
    s.set_directory(0, Directory::default());
    s.handle_datagram(0, "192.0.2.1:5060".parse().unwrap(), "UDP", bytes);
    let mut out = Vec::new();
    while let Some(t) = s.poll_transmit() {
        if let Ok(Message::Response(r)) = parse_datagram(&t.bytes) {
            out.push(r.status);
        }
    }
    out
}

#[test]
fn torture_messages() {
    let all = messages();
    assert!(all.len() >= 45, "only {} messages", all.len());
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for (name, valid, note, bytes) in &all {
        let parsed = parse_datagram(bytes);
        let statuses = answers(bytes);
        report.push(format!("{name}: parsed={} answers={statuses:?}", parsed.is_ok()));
        if *valid && parsed.is_err() {
            failures.push(format!("{name} must parse ({note}): {parsed:?}"));
        }
        if !*valid && statuses.iter().any(|s| *s < 400) {
            failures.push(format!("{name} is malformed but got {statuses:?} ({note})"));
        }
        if statuses.contains(&500) {
            failures.push(format!("{name}: internal error"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Specific answers the RFC calls for.
    let expect = |name: &str, status: u16| {
        let (_, _, _, bytes) = all.iter().find(|m| m.0 == name).unwrap();
        let got = answers(bytes);
        assert!(got.contains(&status), "{name}: expected {status}, got {got:?}");
    };
    expect("badvers", 505);
    expect("mismatch01", 400);
    expect("unkscm", 416);
    expect("bext01", 420);
    expect("insuf", 400);
    expect("intmeth", 501);
    eprintln!("{}", report.join("\n"));
}
