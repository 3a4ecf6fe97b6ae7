//! Media: RTP and RTCP, the jitter buffer, a leg as PCM frames (`endpoint`), players, codecs,
//! DTMF, WAV files, the conference mixer (all sans-IO), the RTP relay driver and the conference
//! bridge that drives the mixer.

pub mod conference;
pub mod dtmf;
pub mod endpoint;
pub mod g711;
pub mod gateway;
pub mod jitter;
pub mod mixer;
pub mod mp3;
pub mod player;
pub mod relay;
pub mod rtcp;
pub mod rtp;
pub mod wav;
pub mod webrtc;
pub mod webrtc_peer;
