/// Everything that can go wrong in the telephony crate.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A WAV file that cannot be used, and why.
    #[error("not a usable WAV file: {0}")]
    Wav(String),
}
