//! Turn models: how likely it is that a caller who has paused has finished, from the sound of
//! the turn so far (the detector in [`crate::turn`] weighs the score with the silence and the
//! words). The local one is Smart Turn v3.2, a few milliseconds per pause.

use crate::frame::AudioFrame;
use crate::{Error, Result};

/// Scores a pause: the probability (0..1) that the turn is over.
pub trait TurnScorer: Send + Sync {
    fn name(&self) -> String;
    /// `audio`: the turn up to the pause, 16 kHz.
    fn score(&self, audio: &AudioFrame) -> Result<f32>;
}

/// Smart Turn v3.2 on ONNX Runtime (from the `pipecat-ai` package).
pub struct LocalSmartTurn {
    model: switchboard_models::smart_turn::SmartTurn,
}

impl LocalSmartTurn {
    /// Loads the model: `sessions` pauses scored at once, one thread each.
    pub fn load(models_dir: &std::path::Path, sessions: usize) -> Result<Self> {
        let model = switchboard_models::smart_turn::SmartTurn::load(models_dir, 1, sessions)
            .map_err(|e| Error::Engine(e.to_string()))?;
        Ok(LocalSmartTurn { model })
    }
}

impl TurnScorer for LocalSmartTurn {
    fn name(&self) -> String {
        "smart-turn-v3.2".into()
    }

    fn score(&self, audio: &AudioFrame) -> Result<f32> {
        if audio.rate != switchboard_models::smart_turn::SAMPLE_RATE as u32 {
            return Err(Error::Rate(audio.rate));
        }
        let samples: Vec<f32> = audio.samples.iter().map(|&s| s as f32 / 32768.0).collect();
        self.model.probability(&samples).map_err(|e| Error::Engine(e.to_string()))
    }
}
