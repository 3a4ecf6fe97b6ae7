//! A structure-aware, deterministic mutator. It starts from real messages and changes them the
//! way hostile or broken peers do: multi-byte UTF-8 characters anywhere (the class of bug that
//! `line[..4]` had), SIP-significant tokens, whole lines and headers duplicated, dropped or
//! swapped, numbers made huge, negative or overflowing, binary fields set to edge values,
//! truncation and flipped bits. Random bytes alone would rarely produce valid UTF-8, which the
//! parsers reject before any slicing, so they would never have found that bug.

use switchboard_telephony::fuzzing::XorShift;

/// Characters of 2, 3 and 4 bytes (and two that are whitespace to `char::is_whitespace`).
pub const MULTIBYTE: [&str; 5] = ["é", "€", "𝄞", "\u{a0}", "\u{2028}"];

/// Tokens that mean something to a SIP or SDP parser.
const TOKENS: [&str; 28] = [
    ":",
    ";",
    ",",
    "<",
    ">",
    "\"",
    "\\",
    "=",
    "SIP/",
    "sip:",
    "\r\n",
    " ",
    "\t",
    "%",
    "[",
    "]",
    "@",
    "\r\n\r\n",
    "\r",
    "\n",
    "\0",
    "SIP/2.0",
    "\r\n ",
    "/",
    "?",
    "sips:",
    "Content-Length: 0",
    "%00",
];

/// Numbers at and past the edges of every integer type a parser might use.
const NUMBERS: [&str; 20] = [
    "0",
    "-1",
    "1",
    "127",
    "128",
    "255",
    "256",
    "65535",
    "65536",
    "2147483647",
    "2147483648",
    "4294967295",
    "4294967296",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775809",
    "99999999999999999999999",
    "+1",
    "0x10",
    "000000000000000000001",
];

/// Values binary fields are set to.
const EDGES: [u32; 12] =
    [0, 1, 2, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, u32::MAX];

pub struct Mutator {
    pub rng: XorShift,
}

impl Mutator {
    pub fn new(seed: u64) -> Self {
        Mutator { rng: XorShift::new(seed) }
    }

    fn below(&mut self, n: usize) -> usize {
        self.rng.below(n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// One to four text mutations (SIP messages, SDP bodies, INFO bodies).
    pub fn text(&mut self, seed: &[u8]) -> Vec<u8> {
        let mut m = seed.to_vec();
        for _ in 0..1 + self.below(4) {
            self.text_once(&mut m);
        }
        m
    }

    fn text_once(&mut self, m: &mut Vec<u8>) {
        let at = self.below(m.len() + 1);
        match self.below(14) {
            0 | 1 => insert(m, at, self.pick(&MULTIBYTE).as_bytes()),
            2 => {
                let c = self.pick(&MULTIBYTE).as_bytes();
                replace(m, at, 1, c);
            }
            3 | 4 => {
                let t = self.pick(&TOKENS).as_bytes();
                insert(m, at, t);
            }
            5 => {
                let t = self.pick(&TOKENS).as_bytes();
                replace(m, at, 1 + self.below(3), t);
            }
            6 | 7 => self.number(m),
            8 => self.lines(m),
            9 => {
                // Move a header value to another header (a value where a different view reads it).
                let lines = split_lines(m);
                if lines.len() > 2 {
                    let (a, b) = (1 + self.below(lines.len() - 1), 1 + self.below(lines.len() - 1));
                    if let (Some(name), Some(value)) = (header_name(&lines[a]), header_value(&lines[b])) {
                        let mut line = name.to_vec();
                        line.extend_from_slice(b": ");
                        line.extend_from_slice(value);
                        let mut lines = lines;
                        lines[a] = line;
                        *m = join_lines(&lines);
                    }
                }
            }
            10 => m.truncate(at),
            11 => {
                if let Some(b) = m.get_mut(at) {
                    *b ^= 1 << self.below(8);
                }
            }
            12 => {
                // Case changes: methods, header names and schemes are compared in different ways.
                let end = (at + 1 + self.below(8)).min(m.len());
                for b in m.get_mut(at..end).unwrap_or_default() {
                    if b.is_ascii_alphabetic() {
                        *b ^= 0x20;
                    }
                }
            }
            _ => {
                if let Some(b) = m.get_mut(at) {
                    *b = self.rng.next_u64() as u8;
                }
            }
        }
    }

    /// Replaces a run of digits (a Content-Length, CSeq, Expires, port, payload type, rtpmap
    /// number...) with an edge number.
    fn number(&mut self, m: &mut Vec<u8>) {
        let runs: Vec<(usize, usize)> = digit_runs(m);
        let value = self.pick(&NUMBERS).as_bytes();
        if runs.is_empty() {
            let at = self.below(m.len() + 1);
            insert(m, at, value);
            return;
        }
        let (start, end) = *self.pick(&runs);
        replace(m, start, end - start, value);
    }

    /// Duplicates, deletes or swaps lines (headers, SDP lines), or folds one.
    fn lines(&mut self, m: &mut Vec<u8>) {
        let mut lines = split_lines(m);
        if lines.is_empty() {
            return;
        }
        let a = self.below(lines.len());
        let b = self.below(lines.len());
        match self.below(5) {
            0 => {
                let copy = lines[a].clone();
                for _ in 0..1 + self.below(3) {
                    lines.insert(b, copy.clone());
                }
            }
            1 => {
                lines.remove(a);
            }
            2 => lines.swap(a, b),
            3 => {
                // Fold the line: its second half becomes a continuation line.
                let cut = self.below(lines[a].len() + 1);
                let mut tail = vec![b' '];
                tail.extend_from_slice(&lines[a][cut..]);
                lines[a].truncate(cut);
                lines.insert(a + 1, tail);
            }
            _ => {
                // Multi-byte characters into a header name or value, at a sampled position.
                let c = self.pick(&MULTIBYTE).as_bytes();
                let at = self.below(lines[a].len() + 1);
                insert(&mut lines[a], at, c);
            }
        }
        *m = join_lines(&lines);
    }

    /// One to four binary mutations (RTP, RTCP, RFC 4733 payloads, WAV files): fields set to
    /// edge values at word-aligned and unaligned offsets, bits flipped, bytes removed or
    /// inserted, regions duplicated, truncation.
    pub fn binary(&mut self, seed: &[u8]) -> Vec<u8> {
        let mut m = seed.to_vec();
        for _ in 0..1 + self.below(4) {
            let at = self.below(m.len() + 1);
            match self.below(9) {
                0 | 1 => {
                    let v = *self.pick(&EDGES);
                    let at = if self.below(2) == 0 { at & !3 } else { at };
                    let width = [1, 2, 4][self.below(3)];
                    let big = v.to_be_bytes();
                    let little = v.to_le_bytes();
                    let bytes = if self.below(2) == 0 { &big[4 - width..] } else { &little[..width] };
                    for (i, b) in bytes.iter().enumerate() {
                        if let Some(x) = m.get_mut(at + i) {
                            *x = *b;
                        }
                    }
                }
                2 => {
                    // The first byte of RTP/RTCP: version, padding, extension, counts.
                    if let Some(x) = m.first_mut() {
                        *x = (2 << 6) | (self.rng.next_u64() as u8 & 0x3F);
                    }
                }
                3 => {
                    if let Some(x) = m.get_mut(at) {
                        *x ^= 1 << self.below(8);
                    }
                }
                4 => m.truncate(at),
                5 => {
                    let end = (at + 1 + self.below(32)).min(m.len());
                    let copy = m[at.min(end)..end].to_vec();
                    insert(&mut m, end, &copy);
                }
                6 => {
                    let end = (at + 1 + self.below(8)).min(m.len());
                    m.drain(at.min(end)..end);
                }
                7 => {
                    let bytes: Vec<u8> = (0..1 + self.below(8)).map(|_| self.rng.next_u64() as u8).collect();
                    insert(&mut m, at, &bytes);
                }
                _ => {
                    if let Some(x) = m.get_mut(at) {
                        *x = self.rng.next_u64() as u8;
                    }
                }
            }
        }
        m
    }
}

fn insert(m: &mut Vec<u8>, at: usize, bytes: &[u8]) {
    let at = at.min(m.len());
    m.splice(at..at, bytes.iter().copied());
}

fn replace(m: &mut Vec<u8>, at: usize, len: usize, bytes: &[u8]) {
    let at = at.min(m.len());
    let end = (at + len).min(m.len());
    m.splice(at..end, bytes.iter().copied());
}

fn digit_runs(m: &[u8]) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < m.len() {
        if m[i].is_ascii_digit() {
            let start = i;
            while i < m.len() && m[i].is_ascii_digit() {
                i += 1;
            }
            runs.push((start, i));
        } else {
            i += 1;
        }
    }
    runs
}

/// Lines without their CRLF (the empty line before a body is a line too).
pub fn split_lines(m: &[u8]) -> Vec<Vec<u8>> {
    m.split(|b| *b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l).to_vec()).collect()
}

fn join_lines(lines: &[Vec<u8>]) -> Vec<u8> {
    lines.join(&b"\r\n"[..])
}

fn header_name(line: &[u8]) -> Option<&[u8]> {
    let colon = line.iter().position(|b| *b == b':')?;
    Some(&line[..colon])
}

fn header_value(line: &[u8]) -> Option<&[u8]> {
    let colon = line.iter().position(|b| *b == b':')?;
    Some(&line[colon + 1..])
}

/// Every way of putting each multi-byte character into the first line: inserted before each
/// byte, and replacing each byte. Exhaustive, because a start-line parser that slices at a
/// fixed byte position panics at one position only.
pub fn first_line_variants(seed: &[u8]) -> Vec<Vec<u8>> {
    let end = seed.iter().position(|b| *b == b'\r' || *b == b'\n').unwrap_or(seed.len());
    let mut out = Vec::new();
    for c in MULTIBYTE.iter().take(3) {
        for at in 0..=end {
            let mut m = seed.to_vec();
            insert(&mut m, at, c.as_bytes());
            out.push(m);
            if at < end {
                let mut m = seed.to_vec();
                replace(&mut m, at, 1, c.as_bytes());
                out.push(m);
            }
        }
    }
    out
}
