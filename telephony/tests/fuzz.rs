//! Hostile input never takes Switchboard down: a bounded, seeded, deterministic fuzz run of
//! every parser of input someone else controls, inside the normal `cargo test`.
//!
//! Each target in `switchboard_telephony::fuzzing` is fed real messages (`seeds`) and a fixed
//! number of structure-aware mutations of them (`mutate`), the same every run. A failure
//! prints the input; add it under `tests/fuzz/regressions/<target>/` (or as a case below) and
//! fix the parser. Long, coverage-guided runs use the same entry points through cargo-fuzz in
//! `fuzz/` (see ARCHITECTURE.md, Testing).

#[path = "fuzz/mutate.rs"]
mod mutate;
#[path = "fuzz/seeds.rs"]
mod seeds;

use mutate::{first_line_variants, Mutator};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use switchboard_telephony::fuzzing;
use switchboard_telephony::sip::message::Message;
use switchboard_telephony::sip::parse::{parse_datagram, parse_stream, ParseError};
use switchboard_telephony::sip::registrar::{Directory, RegistrarConfig};
use switchboard_telephony::sip::server::{ServerEvent, SipServer};

type Seeds = Vec<(String, Vec<u8>)>;

/// A target's name (as in `fuzz/fuzz_targets/` and `fuzz/corpus/`), entry point and seeds.
type Target = (&'static str, fn(&[u8]), Seeds);

fn targets() -> Vec<Target> {
    vec![
        ("sip_datagram", fuzzing::sip_datagram as fn(&[u8]), seeds::sip()),
        ("sip_stream", fuzzing::sip_stream, streams()),
        ("sip_headers", fuzzing::sip_headers, seeds::sip()),
        ("sip_server", fuzzing::sip_server, seeds::phones()),
        ("sdp", fuzzing::sdp, seeds::sdp()),
        ("rtp", fuzzing::rtp, seeds::rtp()),
        ("rtcp", fuzzing::rtcp, seeds::rtcp()),
        ("dtmf", fuzzing::dtmf, seeds::dtmf()),
        ("wav", fuzzing::wav, seeds::wav()),
        ("mp3", fuzzing::mp3, seeds::mp3()),
        ("webrtc_offer", fuzzing::webrtc_offer, seeds::sdp()),
        ("webrtc_packets", fuzzing::webrtc_packets, seeds::webrtc_packets()),
    ]
}

/// Streams of several messages with keep-alives between them, as a TCP connection carries.
fn streams() -> Seeds {
    let sip = seeds::sip();
    let mut out = sip.clone();
    for (i, (name, first)) in sip.iter().enumerate().step_by(3) {
        let (next_name, next) = &sip[(i * 7 + 5) % sip.len()];
        let mut s = first.clone();
        s.extend_from_slice(b"\r\n\r\n");
        s.extend_from_slice(next);
        s.extend_from_slice(b"\r\n");
        s.extend_from_slice(first);
        out.push((format!("{name}+{next_name}"), s));
    }
    out
}

fn seeds_of(name: &str) -> Seeds {
    targets().into_iter().find(|t| t.0 == name).map(|t| t.2).expect("a known target")
}

/// Runs one input; a panic is reported with the input, ready to paste as a regression case.
fn check(target: &str, run: fn(&[u8]), input: &[u8], what: &str) {
    if catch_unwind(AssertUnwindSafe(|| run(input))).is_err() {
        panic!(
            "fuzz target {target} panicked on {what} ({} bytes):\n{}\n",
            input.len(),
            input.escape_ascii()
        );
    }
}

/// The seeds, then `iterations` mutations of them (text or binary), from a fixed seed.
fn run(target: &str, run: fn(&[u8]), seeds: &Seeds, iterations: usize, text: bool, seed: u64) {
    let mut mutator = Mutator::new(seed);
    for (name, bytes) in seeds {
        check(target, run, bytes, name);
    }
    for i in 0..iterations {
        let (name, bytes) = &seeds[i % seeds.len()];
        let mut input = if text { mutator.text(bytes) } else { mutator.binary(bytes) };
        // Now and then, mutate a mutation: some bugs need two changes.
        if i % 4 == 3 {
            input = if text { mutator.text(&input) } else { mutator.binary(&input) };
        }
        check(target, run, &input, &format!("mutation {i} of {name} (seed {seed})"));
    }
}

/// Every multi-byte character at every position of every seed's first line.
fn first_lines(target: &str, run: fn(&[u8]), seeds: &Seeds) {
    for (name, bytes) in seeds {
        for (i, input) in first_line_variants(bytes).into_iter().enumerate() {
            check(target, run, &input, &format!("first-line variant {i} of {name}"));
        }
    }
}

#[test]
fn sip_datagram() {
    let seeds = seeds_of("sip_datagram");
    first_lines("sip_datagram", fuzzing::sip_datagram, &seeds);
    run("sip_datagram", fuzzing::sip_datagram, &seeds, 12_000, true, 1);
}

#[test]
fn sip_stream() {
    let seeds = seeds_of("sip_stream");
    first_lines("sip_stream", fuzzing::sip_stream, &seeds::phones());
    run("sip_stream", fuzzing::sip_stream, &seeds, 12_000, true, 2);
}

#[test]
fn sip_headers() {
    run("sip_headers", fuzzing::sip_headers, &seeds_of("sip_headers"), 25_000, true, 3);
}

#[test]
fn sip_server() {
    let seeds = seeds_of("sip_server");
    first_lines("sip_server", fuzzing::sip_server, &seeds[..4].to_vec());
    run("sip_server", fuzzing::sip_server, &seeds, 6_000, true, 4);
}

#[test]
fn sdp() {
    run("sdp", fuzzing::sdp, &seeds_of("sdp"), 60_000, true, 5);
}

#[test]
fn rtp() {
    run("rtp", fuzzing::rtp, &seeds_of("rtp"), 25_000, false, 6);
}

#[test]
fn rtcp() {
    run("rtcp", fuzzing::rtcp, &seeds_of("rtcp"), 60_000, false, 7);
}

#[test]
fn dtmf() {
    let seeds = seeds_of("dtmf");
    run("dtmf", fuzzing::dtmf, &seeds, 40_000, false, 8);
    run("dtmf", fuzzing::dtmf, &seeds, 20_000, true, 9);
}

#[test]
fn wav() {
    run("wav", fuzzing::wav, &seeds_of("wav"), 25_000, false, 10);
}

// Each input is a whole decoder set-up and run: fewer iterations.
#[test]
fn mp3() {
    run("mp3", fuzzing::mp3, &seeds_of("mp3"), 3_000, false, 13);
}

// Each input builds a WebRTC leg (a DTLS certificate, an Opus codec): fewer iterations.
#[test]
fn webrtc_offer() {
    run("webrtc_offer", fuzzing::webrtc_offer, &seeds_of("webrtc_offer"), 1_500, true, 11);
}

#[test]
fn webrtc_packets() {
    run("webrtc_packets", fuzzing::webrtc_packets, &seeds_of("webrtc_packets"), 1_500, false, 12);
}

/// What the original parser panicked on: a multi-byte character across byte 4 of the request
/// line, and across byte 4 of the version.
const SLICE_PANICS: [&[u8]; 2] =
    [b"ab\xe2\x82\xac sip:x SIP/2.0\r\n\r\n", b"OPTIONS sip:x SI\xe2\x82\xacx\r\n\r\n"];

#[test]
fn messages_that_once_panicked_are_refused() {
    let headers = "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\n\
        Call-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    for bytes in SLICE_PANICS {
        assert!(matches!(parse_datagram(bytes), Err(ParseError::StartLine(_))), "{}", bytes.escape_ascii());
        assert!(
            matches!(parse_stream(bytes), Err((ParseError::StartLine(_), 0))),
            "{}",
            bytes.escape_ascii()
        );
        // With the headers a 400 needs, one is answered; without them, nothing is.
        let mut full = bytes.strip_suffix(b"\r\n").expect("ends with an empty line").to_vec();
        full.extend_from_slice(headers.as_bytes());
        assert!(matches!(parse_datagram(&full), Err(ParseError::StartLine(_))));
        for (input, answer) in [(bytes.to_vec(), None), (full, Some(400))] {
            let (statuses, malformed) = serve(&input);
            assert!(malformed, "no Malformed event for {}", input.escape_ascii());
            let expected = if input.starts_with(b"OPTIONS") { answer } else { None };
            assert_eq!(statuses, expected.into_iter().collect::<Vec<_>>(), "{}", input.escape_ascii());
        }
        for (name, target, _) in targets() {
            check(name, target, bytes, "a message that once panicked");
        }
    }
}

/// What a fresh server answers (status codes), and whether it reported the input malformed.
fn serve(bytes: &[u8]) -> (Vec<u16>, bool) {
    let mut s = SipServer::new("127.0.0.1:5060".parse().unwrap(), RegistrarConfig::default(), "k", "test");
    s.set_directory(0, Directory::default());
    s.handle_datagram(0, "192.0.2.1:5060".parse().unwrap(), "UDP", bytes);
    let mut statuses = Vec::new();
    while let Some(t) = s.poll_transmit() {
        match parse_datagram(&t.bytes) {
            Ok(Message::Response(r)) => statuses.push(r.status),
            other => panic!("sent something other than a response: {other:?}"),
        }
    }
    let mut malformed = false;
    while let Some(e) = s.poll_event() {
        malformed |= matches!(e, ServerEvent::Malformed { .. });
    }
    (statuses, malformed)
}

/// Every RFC 4475 torture message through every SIP target, and every input once found by
/// fuzzing through its target.
#[test]
fn torture_messages_and_found_inputs() {
    for (name, bytes) in seeds::rfc4475() {
        for (target, run) in [
            ("sip_datagram", fuzzing::sip_datagram as fn(&[u8])),
            ("sip_stream", fuzzing::sip_stream),
            ("sip_headers", fuzzing::sip_headers),
            ("sip_server", fuzzing::sip_server),
        ] {
            check(target, run, &bytes, &name);
        }
    }
    let found = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/regressions");
    let mut count = 0;
    for (target, run, _) in targets() {
        let Ok(entries) = std::fs::read_dir(found.join(target)) else { continue };
        for entry in entries {
            let path = entry.unwrap().path();
            check(target, run, &std::fs::read(&path).unwrap(), &path.display().to_string());
            count += 1;
        }
    }
    eprintln!("{count} inputs found by fuzzing replayed");
}

/// The mutator finds the bug class: the exhaustive first-line pass alone produces inputs that
/// put a multi-byte character across byte 4 of a request line and of a version.
#[test]
fn the_mutator_reaches_byte_four() {
    let variants = first_line_variants(b"OPTIONS sip:x SIP/2.0\r\n\r\n");
    let splits_at_4 = |line: &[u8]| !line.is_ascii() && line.len() > 4 && (line[4] & 0xC0) == 0x80;
    assert!(variants.iter().any(|v| splits_at_4(v)), "no start line split at byte 4");
    assert!(variants.iter().any(|v| v.windows(4).any(|w| w == b"SI\xe2\x82")), "no version split at byte 4");
}

/// Regenerates the cargo-fuzz seed corpus, `fuzz/corpus/<target>/`, from the seeds here:
/// `cargo test -p switchboard-telephony --test fuzz -- --ignored write_corpus`.
#[test]
#[ignore = "writes fuzz/corpus; run by hand after changing the seeds"]
fn write_corpus() {
    let root: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    for (target, _, seeds) in targets() {
        let dir = root.join(target);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in seeds {
            let file: String =
                name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
            std::fs::write(dir.join(file), bytes).unwrap();
        }
    }
}
