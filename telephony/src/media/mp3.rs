//! MP3 files for the audio library: decoded once, on upload, to 16-bit mono PCM (then kept as
//! a WAV file, which the players read). MPEG-1, -2 and -2.5 layer III, any bit rate, mono or
//! stereo (mixed down), ID3 tags skipped. Bounded: a file that decodes to more than
//! [`MAX_SECONDS`] of audio is refused rather than filling memory.

use crate::Error;
use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::DecoderOptions;
use symphonia::core::errors::Error as Decode;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

/// The longest audio accepted (an hour of hold music).
pub const MAX_SECONDS: u64 = 3_600;

fn bad(msg: impl Into<String>) -> Error {
    Error::Mp3(msg.into())
}

/// Whether `bytes` look like an MP3 file (an ID3 tag or an MPEG audio frame header first).
pub fn looks_like_mp3(bytes: &[u8]) -> bool {
    bytes.starts_with(b"ID3") || (bytes.len() >= 2 && bytes[0] == 0xFF && bytes[1] & 0xE0 == 0xE0)
}

/// Decodes an MP3 file to mono samples and their rate.
pub fn decode(bytes: &[u8]) -> Result<(Vec<i16>, u32), Error> {
    if bytes.is_empty() {
        return Err(bad("the file is empty"));
    }
    let source = MediaSourceStream::new(Box::new(std::io::Cursor::new(bytes.to_vec())), Default::default());
    let mut hint = Hint::new();
    hint.with_extension("mp3");
    let probed = symphonia::default::get_probe()
        .format(&hint, source, &FormatOptions::default(), &MetadataOptions::default())
        .map_err(|_| bad("no MPEG audio frames found"))?;
    let mut format = probed.format;
    let track = format.default_track().ok_or_else(|| bad("the MP3 file has no audio"))?;
    let track_id = track.id;
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .map_err(|e| bad(format!("cannot decode this MP3 file: {e}")))?;
    let mut samples: Vec<i16> = Vec::new();
    let mut rate = 0u32;
    loop {
        let packet = match format.next_packet() {
            Ok(p) => p,
            // The end of the file (symphonia reports it as an I/O error).
            Err(Decode::IoError(_)) | Err(Decode::ResetRequired) => break,
            Err(e) => return Err(bad(format!("the MP3 file is damaged: {e}"))),
        };
        if packet.track_id() != track_id {
            continue;
        }
        let decoded = match decoder.decode(&packet) {
            Ok(d) => d,
            // A damaged frame is skipped, as players do.
            Err(Decode::DecodeError(_)) => continue,
            Err(e) => return Err(bad(format!("the MP3 file is damaged: {e}"))),
        };
        let spec = *decoded.spec();
        let channels = spec.channels.count().max(1);
        if rate == 0 {
            rate = spec.rate;
        } else if spec.rate != rate {
            return Err(bad("the MP3 file changes sample rate part way"));
        }
        let mut buffer = SampleBuffer::<i16>::new(decoded.capacity() as u64, spec);
        buffer.copy_interleaved_ref(decoded);
        samples.extend(
            buffer
                .samples()
                .chunks(channels)
                .map(|frame| (frame.iter().map(|&s| s as i32).sum::<i32>() / frame.len() as i32) as i16),
        );
        if samples.len() as u64 > MAX_SECONDS * rate as u64 {
            return Err(bad(format!("the MP3 file is longer than {} minutes", MAX_SECONDS / 60)));
        }
    }
    if samples.is_empty() || !(8_000..=48_000).contains(&rate) {
        return Err(bad("the MP3 file has no playable audio (8-48 kHz)"));
    }
    Ok((samples, rate))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TINY: &[u8] = include_bytes!("../../tests/fuzz/seeds/mp3/spoken.mp3");

    #[test]
    fn a_spoken_mp3_decodes_to_about_its_length() {
        assert!(looks_like_mp3(TINY));
        let (samples, rate) = decode(TINY).unwrap();
        assert_eq!(rate, 8_000);
        // espeak-ng said "Thank you for holding. Your call matters to us." in about 3 s.
        let seconds = samples.len() as f64 / rate as f64;
        assert!((2.0..5.0).contains(&seconds), "{seconds} s");
        let loud = samples.iter().filter(|s| s.unsigned_abs() > 2_000).count();
        assert!(loud > samples.len() / 20, "speech, not silence: {loud} loud samples");
    }

    #[test]
    fn other_bytes_are_refused_with_a_reason() {
        assert!(!looks_like_mp3(b"RIFF....WAVE"));
        assert!(decode(b"").unwrap_err().to_string().contains("empty"));
        assert!(decode(b"hello, this is not audio at all").is_err());
        // A cut-off file decodes what is there or is refused; either way no panic.
        let _ = decode(&TINY[..TINY.len() / 3]);
    }
}
