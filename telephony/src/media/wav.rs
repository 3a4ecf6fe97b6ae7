//! WAV files for the audio library and players: header validation and decoding to 16-bit PCM;
//! and recordings written as a call goes ([`WavWriter`]).
//!
//! Accepts RIFF/WAVE with PCM (8, 16, 24 or 32 bit integer), IEEE float (32 bit), μ-law or
//! A-law samples, 1 or 2 channels, 8 to 48 kHz. Anything else is refused with a reason.

use crate::media::g711;
use crate::Error;

/// How the samples of a WAV file are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleFormat {
    Pcm { bits: u16 },
    Float32,
    MuLaw,
    ALaw,
}

/// What a WAV header says, after validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavInfo {
    pub format: SampleFormat,
    pub channels: u16,
    pub sample_rate: u32,
    /// Frames (one sample per channel).
    pub frames: u64,
    data_offset: usize,
    data_len: usize,
}

impl WavInfo {
    pub fn duration_ms(&self) -> u64 {
        self.frames.saturating_mul(1000) / (self.sample_rate as u64).max(1)
    }
}

fn bad(msg: impl Into<String>) -> Error {
    Error::Wav(msg.into())
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

/// Reads and checks the header of a WAV file held in memory.
pub fn parse(bytes: &[u8]) -> Result<WavInfo, Error> {
    if bytes.is_empty() {
        return Err(bad("the file is empty"));
    }
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(bad("no RIFF/WAVE header"));
    }
    let mut pos = 12;
    let mut fmt: Option<(u16, u16, u32, u16)> = None;
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let size = u32_at(bytes, pos + 4) as usize;
        let body = pos + 8;
        if id == b"fmt " {
            if size < 16 || body + 16 > bytes.len() {
                return Err(bad("truncated fmt chunk"));
            }
            let mut tag = u16_at(bytes, body);
            let channels = u16_at(bytes, body + 2);
            let rate = u32_at(bytes, body + 4);
            let bits = u16_at(bytes, body + 14);
            if tag == 0xFFFE {
                // WAVE_FORMAT_EXTENSIBLE: the real tag is the first two bytes of the sub-format GUID.
                if size < 40 || body + 26 > bytes.len() {
                    return Err(bad("truncated extensible fmt chunk"));
                }
                tag = u16_at(bytes, body + 24);
            }
            fmt = Some((tag, channels, rate, bits));
        } else if id == b"data" {
            let Some((tag, channels, sample_rate, bits)) = fmt else {
                return Err(bad("data chunk before fmt chunk"));
            };
            let format = match (tag, bits) {
                (1, 8 | 16 | 24 | 32) => SampleFormat::Pcm { bits },
                (3, 32) => SampleFormat::Float32,
                (7, 8) => SampleFormat::MuLaw,
                (6, 8) => SampleFormat::ALaw,
                _ => return Err(bad(format!("unsupported sample format (tag {tag}, {bits} bits)"))),
            };
            if !(1..=2).contains(&channels) {
                return Err(bad(format!("{channels} channels; only mono and stereo are supported")));
            }
            if !(8000..=48000).contains(&sample_rate) {
                return Err(bad(format!("sample rate {sample_rate} Hz; 8000 to 48000 Hz are supported")));
            }
            let available = bytes.len().saturating_sub(body);
            // Streaming writers leave the size at 0 or 0xFFFFFFFF; take what is there.
            let len =
                if size == 0 || size == u32::MAX as usize || size > available { available } else { size };
            let frame_bytes = channels as usize * (bits as usize / 8);
            let frames = len / frame_bytes;
            if frames == 0 {
                return Err(bad("no audio in the data chunk"));
            }
            // Whole frames only: a cut-off last frame is left out.
            let data_len = frames * frame_bytes;
            return Ok(WavInfo {
                format,
                channels,
                sample_rate,
                frames: frames as u64,
                data_offset: body,
                data_len,
            });
        }
        // A chunk size near 4 GiB must not wrap the position (32-bit targets): stop there.
        let Some(next) = body.checked_add(size).and_then(|end| end.checked_add(size & 1)) else { break };
        pos = next;
    }
    Err(bad(if fmt.is_none() { "no fmt chunk" } else { "no data chunk" }))
}

/// Decodes a WAV file to interleaved 16-bit samples.
pub fn decode(bytes: &[u8]) -> Result<(WavInfo, Vec<i16>), Error> {
    let info = parse(bytes)?;
    let data = bytes.get(info.data_offset..info.data_offset + info.data_len).unwrap_or_default();
    let samples: Vec<i16> = match info.format {
        SampleFormat::Pcm { bits: 8 } => data.iter().map(|&b| ((b as i16) - 128) << 8).collect(),
        SampleFormat::Pcm { bits: 16 } => {
            data.chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])).collect()
        }
        SampleFormat::Pcm { bits: 24 } => {
            data.chunks_exact(3).map(|c| i16::from_le_bytes([c[1], c[2]])).collect()
        }
        SampleFormat::Pcm { .. } => data.chunks_exact(4).map(|c| i16::from_le_bytes([c[2], c[3]])).collect(),
        SampleFormat::Float32 => data
            .chunks_exact(4)
            .map(|c| {
                let f = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                (f.clamp(-1.0, 1.0) * 32767.0) as i16
            })
            .collect(),
        SampleFormat::MuLaw => data.iter().map(|&b| g711::ulaw_to_linear(b)).collect(),
        SampleFormat::ALaw => data.iter().map(|&b| g711::alaw_to_linear(b)).collect(),
    };
    Ok((info, samples))
}

/// Writes 16-bit PCM samples as a WAV file.
pub fn encode_pcm16(samples: &[i16], sample_rate: u32, channels: u16) -> Vec<u8> {
    let data_len = (samples.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&sample_rate.to_le_bytes());
    out.extend_from_slice(&(sample_rate * channels as u32 * 2).to_le_bytes());
    out.extend_from_slice(&(channels * 2).to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

/// A 16-bit PCM WAV file written as audio arrives (a call's recording). The header's sizes are
/// brought up to date by [`WavWriter::commit`], which the owner calls every second or so: if
/// the process dies, the file is still a valid WAV holding everything up to the last commit
/// (readers ignore the bytes after the data size the header gives).
pub struct WavWriter<W: std::io::Write + std::io::Seek> {
    out: W,
    channels: u16,
    /// Sample frames written (one sample per channel each).
    frames: u64,
    committed: u64,
}

/// The most audio one file holds: the RIFF sizes are 32-bit.
const WAV_MAX_DATA: u64 = u32::MAX as u64 - 36;

impl<W: std::io::Write + std::io::Seek> WavWriter<W> {
    /// Writes the header (no audio yet) at the start of `out`.
    pub fn new(mut out: W, sample_rate: u32, channels: u16) -> std::io::Result<Self> {
        out.write_all(&encode_pcm16(&[], sample_rate, channels))?;
        Ok(WavWriter { out, channels: channels.max(1), frames: 0, committed: 0 })
    }

    /// Appends interleaved samples (whole frames; a partial last frame is padded with
    /// silence). Audio beyond the format's 4 GiB limit is dropped.
    pub fn write(&mut self, interleaved: &[i16]) -> std::io::Result<()> {
        let ch = self.channels as usize;
        let frames = interleaved.len().div_ceil(ch) as u64;
        if (self.frames + frames) * ch as u64 * 2 > WAV_MAX_DATA {
            return Ok(());
        }
        let mut bytes = Vec::with_capacity(frames as usize * ch * 2);
        for s in interleaved {
            bytes.extend_from_slice(&s.to_le_bytes());
        }
        bytes.resize(frames as usize * ch * 2, 0);
        self.out.write_all(&bytes)?;
        self.frames += frames;
        Ok(())
    }

    /// Appends `frames` frames of silence.
    pub fn silence(&mut self, frames: u64) -> std::io::Result<()> {
        let zeros = vec![0i16; 160 * self.channels as usize];
        let mut left = frames;
        while left > 0 {
            let n = left.min(160);
            self.write(&zeros[..n as usize * self.channels as usize])?;
            left -= n;
        }
        Ok(())
    }

    /// Sample frames written so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Puts the current sizes into the header and flushes: what was written is now a valid
    /// file whatever happens next.
    pub fn commit(&mut self) -> std::io::Result<()> {
        use std::io::SeekFrom;
        if self.committed == self.frames {
            return self.out.flush();
        }
        let data = (self.frames * self.channels as u64 * 2) as u32;
        self.out.seek(SeekFrom::Start(4))?;
        self.out.write_all(&(36 + data).to_le_bytes())?;
        self.out.seek(SeekFrom::Start(40))?;
        self.out.write_all(&data.to_le_bytes())?;
        self.out.seek(SeekFrom::End(0))?;
        self.out.flush()?;
        self.committed = self.frames;
        Ok(())
    }

    /// Commits and hands back the writer.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.commit()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(rate: u32, ms: u32) -> Vec<i16> {
        (0..rate * ms / 1000).map(|i| ((i as f32 * 0.05).sin() * 8000.0) as i16).collect()
    }

    #[test]
    fn round_trip_pcm16() {
        let samples = tone(16000, 250);
        let bytes = encode_pcm16(&samples, 16000, 1);
        let (info, decoded) = decode(&bytes).unwrap();
        assert_eq!(info.sample_rate, 16000);
        assert_eq!(info.duration_ms(), 250);
        assert_eq!(decoded, samples);
    }

    #[test]
    fn bad_files_say_why() {
        assert_eq!(parse(&[]), Err(Error::Wav("the file is empty".into())));
        assert!(matches!(parse(b"hello world, not audio"), Err(Error::Wav(m)) if m.contains("RIFF")));
        let good = encode_pcm16(&tone(8000, 100), 8000, 1);
        // Truncated inside the fmt chunk.
        assert!(matches!(parse(&good[..30]), Err(Error::Wav(m)) if m.contains("fmt")));
        // Header only: no samples.
        assert!(matches!(parse(&good[..44]), Err(Error::Wav(m)) if m.contains("no audio")));
        // A cut-off data chunk still decodes what is there, in whole frames.
        let (info, samples) = decode(&good[..144]).unwrap();
        assert_eq!((info.frames, samples.len()), (50, 50));
        let (info, samples) = decode(&good[..145]).unwrap();
        assert_eq!((info.frames, samples.len()), (50, 50));
        // Unsupported rate.
        let mut odd = good.clone();
        odd[24..28].copy_from_slice(&4000u32.to_le_bytes());
        assert!(matches!(parse(&odd), Err(Error::Wav(m)) if m.contains("4000")));
        // Every prefix of a valid file either parses or is refused; none panics.
        for n in 0..good.len() {
            let _ = decode(&good[..n]);
        }
    }

    #[test]
    fn mulaw_files_decode() {
        let samples = tone(8000, 100);
        let mut bytes = encode_pcm16(&[], 8000, 1);
        let ulaw: Vec<u8> = samples.iter().map(|&s| g711::linear_to_ulaw(s)).collect();
        bytes[20..22].copy_from_slice(&7u16.to_le_bytes());
        bytes[34..36].copy_from_slice(&8u16.to_le_bytes());
        bytes[40..44].copy_from_slice(&(ulaw.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&ulaw);
        let (info, decoded) = decode(&bytes).unwrap();
        assert_eq!(info.format, SampleFormat::MuLaw);
        let err: i32 =
            samples.iter().zip(&decoded).map(|(a, b)| (*a as i32 - *b as i32).abs()).max().unwrap();
        assert!(err < 300, "μ-law error {err}");
    }

    #[test]
    fn a_file_written_as_it_goes_is_valid_at_every_commit() {
        let mut w = WavWriter::new(std::io::Cursor::new(Vec::new()), 8000, 2).unwrap();
        let stereo: Vec<i16> = (0..320).map(|i| if i % 2 == 0 { 1000 } else { -1000 }).collect();
        w.write(&stereo).unwrap();
        w.commit().unwrap();
        // More audio after the commit: a reader that sees the file now (a crash) gets what
        // was committed, and the header stays valid.
        w.write(&stereo).unwrap();
        w.silence(80).unwrap();
        let snapshot = w.out.get_ref().clone();
        let (info, samples) = decode(&snapshot).unwrap();
        assert_eq!((info.channels, info.frames), (2, 160));
        assert_eq!(&samples[..4], &[1000, -1000, 1000, -1000]);
        let bytes = w.finish().unwrap().into_inner();
        let (info, samples) = decode(&bytes).unwrap();
        assert_eq!(info.frames, 400);
        assert_eq!(info.duration_ms(), 50);
        assert!(samples[640..].iter().all(|s| *s == 0), "silence at the end");
        // An odd sample count is padded to whole frames.
        let mut w = WavWriter::new(std::io::Cursor::new(Vec::new()), 8000, 2).unwrap();
        w.write(&[5, 6, 7]).unwrap();
        let (info, samples) = decode(&w.finish().unwrap().into_inner()).unwrap();
        assert_eq!((info.frames, samples), (2, vec![5, 6, 7, 0]));
    }
}
