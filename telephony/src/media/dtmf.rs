//! DTMF digits: RFC 4733 telephone-events received over RTP, SIP INFO bodies, and in-band tones
//! (Goertzel) as the fallback. All sans-IO: packets or samples in, digits out.

use super::rtp::RtpHeader;

/// The digit of an RFC 4733 event code (0-9, *, #, A-D).
pub fn event_digit(code: u8) -> Option<char> {
    match code {
        0..=9 => Some((b'0' + code) as char),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some((b'A' + code - 12) as char),
        _ => None,
    }
}

/// Reports each telephone-event once, however many packets (and end retransmissions) carry it.
#[derive(Debug, Default)]
pub struct EventReceiver {
    last: Option<(u32, u32)>, // (ssrc, timestamp) of the last reported event
}

impl EventReceiver {
    /// Feeds one RTP packet whose payload type is the negotiated telephone-event type.
    pub fn handle(&mut self, header: &RtpHeader, payload: &[u8]) -> Option<char> {
        if payload.len() < 4 {
            return None;
        }
        let digit = event_digit(payload[0])?;
        let key = (header.ssrc, header.timestamp);
        if self.last == Some(key) {
            return None;
        }
        self.last = Some(key);
        Some(digit)
    }
}

/// The RFC 4733 event code of a digit.
pub fn digit_event(digit: char) -> Option<u8> {
    match digit.to_ascii_uppercase() {
        d @ '0'..='9' => Some(d as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        d @ 'A'..='D' => Some(d as u8 - b'A' + 12),
        _ => None,
    }
}

/// One telephone-event payload to send, and whether it starts the event (RTP marker bit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPacket {
    pub payload: [u8; 4],
    pub marker: bool,
}

/// Sends one digit as RFC 4733 telephone-events, one packet per 20 ms: the start (marker set),
/// updates with a growing duration, then the end packet three times. Every packet of the event
/// carries the same RTP timestamp, which the caller keeps.
#[derive(Debug, Clone)]
pub struct EventSender {
    code: u8,
    tone_ms: u32,
    sent: u32,
    ends_left: u8,
}

/// Volume of generated events (dBm0 below zero).
const EVENT_VOLUME: u8 = 10;

impl EventSender {
    /// `None` for a character that is not a DTMF digit.
    pub fn new(digit: char, tone_ms: u32) -> Option<Self> {
        Some(EventSender { code: digit_event(digit)?, tone_ms: tone_ms.max(40), sent: 0, ends_left: 3 })
    }

    /// The packet for the next 20 ms, or `None` when the event is over.
    pub fn next_packet(&mut self) -> Option<EventPacket> {
        let elapsed = (self.sent + 1) * 20;
        let end = elapsed >= self.tone_ms;
        if end && self.ends_left == 0 {
            return None;
        }
        let duration = (elapsed.min(self.tone_ms) * 8).min(0xFFFF) as u16;
        let marker = self.sent == 0;
        if end {
            self.ends_left -= 1;
        } else {
            self.sent += 1;
        }
        let flags = if end { 0x80 } else { 0 } | EVENT_VOLUME;
        let d = duration.to_be_bytes();
        Some(EventPacket { payload: [self.code, flags, d[0], d[1]], marker })
    }
}

/// The digit in a SIP INFO body: `application/dtmf-relay` (`Signal=5`) or `application/dtmf` (`5`).
pub fn info_digit(content_type: &str, body: &str) -> Option<char> {
    let ct = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let value = match ct.as_str() {
        "application/dtmf-relay" => body.lines().find_map(|l| {
            let (k, v) = l.split_once('=')?;
            k.trim().eq_ignore_ascii_case("signal").then(|| v.trim())
        })?,
        "application/dtmf" => body.trim(),
        _ => return None,
    };
    let mut chars = value.chars();
    let c = chars.next()?.to_ascii_uppercase();
    if chars.next().is_some() {
        return match value.parse::<u8>() {
            Ok(code) => event_digit(code),
            Err(_) => None,
        };
    }
    matches!(c, '0'..='9' | '*' | '#' | 'A'..='D').then_some(c)
}

const ROWS: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
const COLS: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
const KEYS: [[char; 4]; 4] =
    [['1', '2', '3', 'A'], ['4', '5', '6', 'B'], ['7', '8', '9', 'C'], ['*', '0', '#', 'D']];

#[cfg(test)]
pub(crate) fn goertzel(samples: &[i16], freq: f32, rate: f32) -> f32 {
    let k = 2.0 * (std::f32::consts::TAU * freq / rate).cos();
    let (mut s1, mut s2) = (0.0f32, 0.0f32);
    for &x in samples {
        let s = x as f32 / 32768.0 + k * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    s1 * s1 + s2 * s2 - k * s1 * s2
}

/// The Goertzel coefficients (2·cos(2πf/8000)) of the keypad's eight frequencies, rows then
/// columns: computed once, not for every block.
fn keypad_coefficients() -> &'static [f32; 8] {
    static K: std::sync::OnceLock<[f32; 8]> = std::sync::OnceLock::new();
    K.get_or_init(|| {
        let mut k = [0.0; 8];
        for (k, f) in k.iter_mut().zip(ROWS.iter().chain(COLS.iter())) {
            *k = 2.0 * (std::f32::consts::TAU * f / 8000.0).cos();
        }
        k
    })
}

/// The power of each keypad frequency in an 8 kHz block (as `goertzel` gives it), the eight
/// filters run side by side in one pass over the samples (every relay runs this on each packet
/// of a side without telephone events).
fn keypad_powers(block: &[i16]) -> [f32; 8] {
    let k = keypad_coefficients();
    let (mut s1, mut s2) = ([0.0f32; 8], [0.0f32; 8]);
    for &x in block {
        let x = x as f32 / 32768.0;
        for i in 0..8 {
            let s = x + k[i] * s1[i] - s2[i];
            s2[i] = s1[i];
            s1[i] = s;
        }
    }
    std::array::from_fn(|i| s1[i] * s1[i] + s2[i] * s2[i] - k[i] * s1[i] * s2[i])
}

/// In-band DTMF detection over 8 kHz audio, in blocks of 20 ms (160 samples). A digit is
/// reported when the same key is seen in two consecutive blocks, then not again until a
/// block without it.
#[derive(Debug, Default)]
pub struct ToneDetector {
    candidate: Option<char>,
    reported: Option<char>,
}

impl ToneDetector {
    /// Feeds one 20 ms block of 8 kHz samples.
    pub fn handle_block(&mut self, block: &[i16]) -> Option<char> {
        let energy: f32 = block.iter().map(|&s| (s as f32 / 32768.0).powi(2)).sum::<f32>();
        let key = if energy < 1e-3 * block.len() as f32 / 160.0 {
            None
        } else {
            let powers = keypad_powers(block);
            let (rows, cols) = (&powers[..4], &powers[4..]);
            let (ri, r) =
                rows.iter().enumerate().fold((0, 0.0f32), |a, (i, &v)| if v > a.1 { (i, v) } else { a });
            let (ci, c) =
                cols.iter().enumerate().fold((0, 0.0f32), |a, (i, &v)| if v > a.1 { (i, v) } else { a });
            let others_r =
                rows.iter().enumerate().filter(|(i, _)| *i != ri).map(|(_, v)| *v).fold(0.0, f32::max);
            let others_c =
                cols.iter().enumerate().filter(|(i, _)| *i != ci).map(|(_, v)| *v).fold(0.0, f32::max);
            // Both tones clearly above the other candidates, and together most of the energy.
            let strong =
                r > 6.0 * others_r && c > 6.0 * others_c && (r + c) > 0.2 * energy * block.len() as f32 / 2.0;
            // Twist: the two tones within 8 dB of each other.
            let twist_ok = r / c < 6.3 && c / r < 6.3;
            (strong && twist_ok).then(|| KEYS[ri][ci])
        };
        let report = match key {
            Some(k) if self.candidate == Some(k) && self.reported != Some(k) => {
                self.reported = Some(k);
                Some(k)
            }
            _ => None,
        };
        if key.is_none() {
            self.reported = None;
        }
        self.candidate = key;
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::rtp;

    fn tone(row: f32, col: f32, ms: usize) -> Vec<i16> {
        (0..8 * ms)
            .map(|i| {
                let t = i as f32 / 8000.0;
                (((std::f32::consts::TAU * row * t).sin() + (std::f32::consts::TAU * col * t).sin()) * 6000.0)
                    as i16
            })
            .collect()
    }

    #[test]
    fn sent_events_are_heard_once() {
        let mut sender = EventSender::new('#', 100).unwrap();
        let mut receiver = EventReceiver::default();
        let mut packets = Vec::new();
        while let Some(p) = sender.next_packet() {
            packets.push(p);
        }
        // 100 ms: four updates, then the end three times.
        assert_eq!(packets.len(), 7);
        assert!(packets[0].marker && packets[1..].iter().all(|p| !p.marker));
        assert!(packets[4..].iter().all(|p| p.payload[1] & 0x80 != 0 && p.payload[2..] == [3, 32]));
        let heard: Vec<char> = packets
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                let raw = crate::media::rtp::write(p.marker, 101, i as u16, 4000, 7, &p.payload);
                receiver.handle(&RtpHeader::parse(&raw).unwrap(), &p.payload)
            })
            .collect();
        assert_eq!(heard, vec!['#']);
        assert!(EventSender::new('x', 100).is_none());
        for d in "0123456789*#ABCD".chars() {
            assert_eq!(event_digit(digit_event(d).unwrap()), Some(d));
        }
    }

    #[test]
    fn events_are_reported_once() {
        let mut rx = EventReceiver::default();
        let mut got = Vec::new();
        for (ts, code) in [(1000u32, 4u8), (1000, 4), (1000, 4), (2000, 11), (2000, 11)] {
            for end in [false, true, true] {
                let payload = [code, if end { 0x80 } else { 0 } | 10, 0, 160];
                let p = rtp::write(false, 101, 1, ts, 7, &payload);
                let h = RtpHeader::parse(&p).unwrap();
                if let Some(d) = rx.handle(&h, h.payload(&p)) {
                    got.push(d);
                }
            }
        }
        assert_eq!(got, vec!['4', '#']);
    }

    #[test]
    fn info_bodies() {
        assert_eq!(info_digit("application/dtmf-relay", "Signal=5\r\nDuration=160\r\n"), Some('5'));
        assert_eq!(info_digit("application/dtmf-relay", "Signal= #\r\n"), Some('#'));
        assert_eq!(info_digit("application/dtmf", "11"), Some('#'));
        assert_eq!(info_digit("application/dtmf", "7"), Some('7'));
        assert_eq!(info_digit("text/plain", "Signal=5"), None);
        assert_eq!(info_digit("application/dtmf-relay", "Signal=X"), None);
    }

    #[test]
    fn the_eight_filters_in_one_pass_give_what_each_alone_gives() {
        let block = tone(770.0, 1336.0, 20);
        let powers = keypad_powers(&block);
        for (p, f) in powers.iter().zip(ROWS.iter().chain(COLS.iter())) {
            let alone = goertzel(&block, *f, 8000.0);
            assert!((p - alone).abs() <= 1e-3 * alone.max(1.0), "{f} Hz: {p} vs {alone}");
        }
    }

    #[test]
    fn goertzel_finds_tones_and_ignores_speechlike_noise() {
        let mut d = ToneDetector::default();
        let mut audio = tone(770.0, 1336.0, 100); // '5'
        audio.extend(vec![0i16; 800]);
        audio.extend(tone(941.0, 1477.0, 60)); // '#'
        let digits: Vec<char> = audio.chunks(160).filter_map(|b| d.handle_block(b)).collect();
        assert_eq!(digits, vec!['5', '#']);
        // A single 440 Hz tone, or white-ish noise, is not a digit.
        let mut d = ToneDetector::default();
        let a440: Vec<i16> = (0..8000).map(|i| ((i as f32 * 0.3456).sin() * 8000.0) as i16).collect();
        let mut x: u32 = 1;
        let noise: Vec<i16> = (0..8000)
            .map(|_| {
                x = x.wrapping_mul(1103515245).wrapping_add(12345);
                (x >> 16) as i16 / 4
            })
            .collect();
        assert!(a440.chunks(160).chain(noise.chunks(160)).all(|b| d.handle_block(b).is_none()));
    }

    #[test]
    fn generated_tones_are_detected() {
        use crate::media::player::{Source, Tone};
        let mut d = ToneDetector::default();
        let mut heard = Vec::new();
        for digit in "159#0*D".chars() {
            let mut t = Tone::dtmf(8000, digit, 100).unwrap();
            while let Some(frame) = t.next_frame() {
                heard.extend(d.handle_block(&frame));
            }
        }
        assert_eq!(heard.iter().collect::<String>(), "159#0*D");
        assert!(Tone::dtmf(8000, 'x', 100).is_none());
    }
}
