//! Model files and local inference: finding, verifying and converting the weights that
//! registry packages ship (Whisper, sentence embeddings, small LLMs), and running them.
//!
//! Status: the crate boundary exists; model loading lands with the speech issue.
