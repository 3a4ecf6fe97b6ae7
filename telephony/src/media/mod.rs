//! Media: codecs and audio files. (RTP, jitter buffer, DTMF and mixing join here.)

pub mod dtmf;
pub mod g711;
pub mod relay;
pub mod rtp;
pub mod wav;
