//! Media: codecs and audio files. (RTP, jitter buffer, DTMF and mixing join here.)

pub mod g711;
pub mod relay;
pub mod wav;
