use crate::sip::{header::HeaderError, parse::ParseError, uri::UriError};

/// Everything that can go wrong in the telephony crate; module errors fold into it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A WAV file that cannot be used, and why.
    #[error("not a usable WAV file: {0}")]
    Wav(String),
    /// An MP3 file that cannot be used, and why.
    #[error("not a usable MP3 file: {0}")]
    Mp3(String),
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error(transparent)]
    Uri(#[from] UriError),
    #[error(transparent)]
    Header(#[from] HeaderError),
}
