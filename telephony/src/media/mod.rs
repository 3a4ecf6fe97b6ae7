//! Media: RTP and RTCP, the jitter buffer, a leg as PCM frames (`endpoint`), players, codecs,
//! DTMF, WAV files (all sans-IO), and the RTP relay driver. (Mixing and recording join here.)

pub mod dtmf;
pub mod endpoint;
pub mod g711;
pub mod gateway;
pub mod jitter;
pub mod player;
pub mod relay;
pub mod rtcp;
pub mod rtp;
pub mod wav;
pub mod webrtc;
pub mod webrtc_peer;
