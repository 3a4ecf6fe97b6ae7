//! Real inputs the mutator starts from: RFC 4475's torture messages, what phones, softphones,
//! browsers and carriers send (`tests/fuzz/seeds/`), RTP, RTCP and telephone-events built by
//! our own code, and WAV files in each format we accept.

use std::path::{Path, PathBuf};
use switchboard_telephony::fuzzing::SERVER_CALL;
use switchboard_telephony::media::dtmf::EventSender;
use switchboard_telephony::media::endpoint::{RtpEndpoint, G711};
use switchboard_telephony::media::{rtcp, rtp, wav};

fn dir(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join(sub)
}

/// (name, bytes) of every file with this extension in a folder, by name.
fn files(folder: &Path, ext: &str) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(folder)
        .unwrap_or_else(|e| panic!("{}: {e}", folder.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .map(|p| {
            let name = p.file_stem().expect("a file name").to_string_lossy().into_owned();
            (name, std::fs::read(&p).expect("readable seed"))
        })
        .collect();
    out.sort();
    out
}

pub fn rfc4475() -> Vec<(String, Vec<u8>)> {
    files(&dir("rfc4475"), "sip").into_iter().map(|(n, b)| (format!("rfc4475-{n}"), b)).collect()
}

/// Messages as real endpoints send them.
pub fn phones() -> Vec<(String, Vec<u8>)> {
    let mut out = files(&dir("fuzz/seeds/sip"), "sip");
    out.push(("server-call".into(), SERVER_CALL.as_bytes().to_vec()));
    out
}

pub fn sip() -> Vec<(String, Vec<u8>)> {
    let mut out = phones();
    out.extend(rfc4475());
    out
}

pub fn sdp() -> Vec<(String, Vec<u8>)> {
    files(&dir("fuzz/seeds/sdp"), "sdp")
}

fn tone() -> Vec<i16> {
    (0..160).map(|i| ((i as f32 * 0.35).sin() * 8000.0) as i16).collect()
}

pub fn rtp() -> Vec<(String, Vec<u8>)> {
    let mut leg = RtpEndpoint::new(G711::Ulaw, 0x1234_5678, 65_534, 0xFFFF_FF00, 0);
    let pcmu = leg.send_frame(&tone());
    let mut alaw = RtpEndpoint::new(G711::Alaw, 9, 1, 160, 0);
    let pcma = alaw.send_frame(&tone());
    // With two CSRCs, a header extension and padding.
    let mut full = vec![0x80 | 0x20 | 0x10 | 2, 0x80, 0, 7, 0, 0, 0, 160, 0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0, 2];
    full.extend_from_slice(&[0xBE, 0xDE, 0, 1, 0x10, 0xAA, 0, 0]);
    full.extend_from_slice(&[0xFF; 20]);
    full.extend_from_slice(&[0, 0, 0, 4]);
    vec![("pcmu".into(), pcmu), ("pcma".into(), pcma), ("csrc-ext-padding".into(), full)]
}

pub fn rtcp() -> Vec<(String, Vec<u8>)> {
    let mut alice = RtpEndpoint::new(G711::Ulaw, 11, 1, 0, 0);
    let mut bob = RtpEndpoint::new(G711::Ulaw, 22, 1, 0, 0);
    for i in 0..50u64 {
        let p = alice.send_frame(&tone());
        if i % 7 != 3 {
            bob.handle_rtp(i * 20 + 30, &p);
        }
    }
    let ntp = |ms: u64| rtcp::ntp_from_unix_ms(1_700_000_000_000 + ms);
    let sr = alice.poll_rtcp(5_000, ntp(5_000)).expect("sender report");
    bob.handle_rtcp(5_030, ntp(5_030), &sr);
    let rr = bob.poll_rtcp(5_100, ntp(5_100)).expect("receiver report");
    let mut compound = sr.clone();
    compound.extend_from_slice(&rr);
    let block = rtcp::ReportBlock {
        ssrc: 11,
        fraction_lost: 255,
        cumulative_lost: 0x7F_FFFF,
        highest_seq: u32::MAX,
        jitter: u32::MAX,
        last_sr: u32::MAX,
        delay_since_last_sr: u32::MAX,
    };
    let many = rtcp::report(33, None, &[block; 31]);
    vec![("sr".into(), sr), ("rr".into(), rr), ("compound".into(), compound), ("rr-31-blocks".into(), many)]
}

pub fn dtmf() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (digit, ms) in [('5', 100), ('#', 40), ('D', 2_000)] {
        let mut sender = EventSender::new(digit, ms).expect("a digit");
        let mut seq = 0u16;
        while let Some(p) = sender.next_packet() {
            seq += 1;
            if seq == 1 || sender.clone().next_packet().is_none() {
                let packet = rtp::write(p.marker, 101, seq, 4_000, 7, &p.payload);
                out.push((format!("event-{digit}-{seq}"), packet));
            }
        }
    }
    out.push(("info-relay".into(), b"Signal=5\r\nDuration=160\r\n".to_vec()));
    out.push(("info-plain".into(), b"11".to_vec()));
    out
}

/// MP3 files as merchants upload them: a spoken sentence (8 kHz, 8 kbit/s), the same cut
/// short, and with an ID3 tag in front.
pub fn mp3() -> Vec<(String, Vec<u8>)> {
    let tiny = include_bytes!("seeds/mp3/spoken.mp3").to_vec();
    let mut tagged = b"ID3\x03\0\0\0\0\0\x0cTIT2\0\0\0\x02\0\0\0x".to_vec();
    tagged.extend_from_slice(&tiny);
    vec![("tiny".into(), tiny.clone()), ("cut-short".into(), tiny[..1_200].to_vec()), ("id3".into(), tagged)]
}

pub fn wav() -> Vec<(String, Vec<u8>)> {
    let samples: Vec<i16> = tone().into_iter().cycle().take(400).collect();
    let pcm16 = wav::encode_pcm16(&samples, 8000, 1);
    let stereo = wav::encode_pcm16(&samples, 48_000, 2);
    // The same header with other sample formats: (tag, bits, bytes per sample).
    let with_format = |tag: u16, bits: u16, extensible: bool| {
        let bytes_per = (bits / 8) as usize;
        let data: Vec<u8> = (0..200 * bytes_per).map(|i| (i * 37) as u8).collect();
        let mut out = b"RIFF\0\0\0\0WAVEfmt ".to_vec();
        let fmt_len: u32 = if extensible { 40 } else { 16 };
        out.extend_from_slice(&fmt_len.to_le_bytes());
        out.extend_from_slice(&(if extensible { 0xFFFE } else { tag }).to_le_bytes());
        out.extend_from_slice(&1u16.to_le_bytes());
        out.extend_from_slice(&16_000u32.to_le_bytes());
        out.extend_from_slice(&(16_000 * bytes_per as u32).to_le_bytes());
        out.extend_from_slice(&(bytes_per as u16).to_le_bytes());
        out.extend_from_slice(&bits.to_le_bytes());
        if extensible {
            out.extend_from_slice(&22u16.to_le_bytes());
            out.extend_from_slice(&bits.to_le_bytes());
            out.extend_from_slice(&4u32.to_le_bytes());
            out.extend_from_slice(&tag.to_le_bytes());
            out.extend_from_slice(&[0; 14]);
        }
        out.extend_from_slice(b"LIST\x04\0\0\0abcd");
        out.extend_from_slice(b"data");
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&data);
        let riff = (out.len() - 8) as u32;
        out[4..8].copy_from_slice(&riff.to_le_bytes());
        out
    };
    vec![
        ("pcm16".into(), pcm16),
        ("pcm16-stereo-48k".into(), stereo),
        ("pcm8".into(), with_format(1, 8, false)),
        ("pcm24-extensible".into(), with_format(1, 24, true)),
        ("pcm32".into(), with_format(1, 32, false)),
        ("float32".into(), with_format(3, 32, false)),
        ("mulaw".into(), with_format(7, 8, false)),
        ("alaw-extensible".into(), with_format(6, 8, true)),
    ]
}

/// A STUN attribute: type, length, value padded to four bytes.
fn stun_attr(out: &mut Vec<u8>, kind: u16, value: &[u8]) {
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&(value.len() as u16).to_be_bytes());
    out.extend_from_slice(value);
    out.resize(out.len().next_multiple_of(4), 0);
}

/// Datagrams a browser leg may get: a STUN binding request addressed to it (USERNAME of its
/// fixed fuzzing credentials, a wrong MESSAGE-INTEGRITY), a DTLS ClientHello record, an RTP
/// packet (SRTP-shaped, not decryptable), and all three back to back.
pub fn webrtc_packets() -> Vec<(String, Vec<u8>)> {
    let mut attrs = Vec::new();
    stun_attr(&mut attrs, 0x0006, b"fuzz:95HS");
    stun_attr(&mut attrs, 0x0024, &0x6E00_1EFFu32.to_be_bytes());
    stun_attr(&mut attrs, 0x802A, &[1, 2, 3, 4, 5, 6, 7, 8]);
    stun_attr(&mut attrs, 0x0025, &[]);
    stun_attr(&mut attrs, 0x0008, &[0xAB; 20]);
    stun_attr(&mut attrs, 0x8028, &[0xDE, 0xAD, 0xBE, 0xEF]);
    let mut stun = vec![0x00, 0x01];
    stun.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    stun.extend_from_slice(&0x2112_A442u32.to_be_bytes());
    stun.extend_from_slice(b"transaction1");
    stun.extend_from_slice(&attrs);
    // A DTLS 1.2 handshake record holding the start of a ClientHello.
    let mut dtls =
        vec![22, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 60, 1, 0, 0, 48, 0, 0, 0, 0, 0, 0, 0, 48, 0xFE, 0xFD];
    dtls.extend_from_slice(&[7; 32]);
    dtls.extend_from_slice(&[0, 0, 2, 0xC0, 0x2B, 1, 0]);
    let mut rtp = vec![0x80, 111, 0, 1, 0, 0, 3, 0xC0, 0x12, 0x34, 0x56, 0x78];
    rtp.extend_from_slice(&[0x5A; 60]);
    let mut all = stun.clone();
    all.extend_from_slice(&dtls);
    all.extend_from_slice(&rtp);
    vec![("stun".into(), stun), ("dtls".into(), dtls), ("srtp".into(), rtp), ("all".into(), all)]
}
