//! What the agent says, queued for the relay (which pulls 20 ms at a time), and the hearing
//! that feeds the caller's audio to the ears and applies barge-in to that queue.

use super::*;

/// A queued sentence: its text, how many of its samples are still to play, of how many.
pub(super) struct Segment {
    pub(super) text: String,
    pub(super) left: usize,
    pub(super) total: usize,
    pub(super) interruptible: bool,
}

/// What the agent says, queued for the relay, which pulls 20 ms at a time.
#[derive(Default)]
pub(super) struct Playback {
    pub(super) samples: VecDeque<i16>,
    /// Sentences queued, in order.
    pub(super) segments: VecDeque<Segment>,
    /// What has been played of this turn's answer.
    pub(super) heard: Vec<String>,
    pub(super) paused: bool,
    /// When the first frame of this turn's answer went out (latency waterfall).
    pub(super) first_frame_at: Option<Instant>,
    /// Sentences queued before this turn's answer that still play first.
    pub(super) before_answer: usize,
    /// Audio of anything queued before (tones) when nothing else plays.
    pub(super) filler: Option<Box<dyn Source + Send>>,
}

impl Playback {
    pub(super) fn playing(&self) -> bool {
        !self.samples.is_empty()
    }

    pub(super) fn interruptible(&self) -> bool {
        self.segments.front().is_none_or(|s| s.interruptible)
    }

    pub(super) fn push(&mut self, text: &str, samples: Vec<i16>, interruptible: bool) {
        let total = samples.len();
        self.segments.push_back(Segment { text: text.to_string(), left: total, total, interruptible });
        self.samples.extend(samples);
        self.filler = None;
    }

    /// Whether an answer plays, and it is not a question: an acknowledgement then is not a
    /// reply.
    pub(super) fn plays_on_statement(&self) -> bool {
        self.playing() && !self.segments.iter().any(|s| s.text.trim_end().ends_with('?'))
    }

    /// The caller's next turn is to be answered: what plays is stopped (returns what was heard
    /// of it), unless it may not be interrupted: then it plays to its end, and the answer
    /// follows it.
    pub(super) fn new_turn(&mut self) -> String {
        self.first_frame_at = None;
        if self.interruptible() {
            self.stop()
        } else {
            self.before_answer = self.segments.len();
            self.heard.clear();
            String::new()
        }
    }

    /// Drops what is queued; returns what the caller heard of this turn's answer.
    pub(super) fn stop(&mut self) -> String {
        self.before_answer = 0;
        if let Some(seg) = self.segments.front() {
            // The sentence being played: the share of its words already played.
            let words: Vec<&str> = seg.text.split_whitespace().collect();
            let played = words.len() * (seg.total - seg.left) / seg.total.max(1);
            if played > 0 {
                self.heard.push(format!("{}...", words[..played].join(" ")));
            }
        }
        self.samples.clear();
        self.segments.clear();
        self.paused = false;
        std::mem::take(&mut self.heard).join(" ")
    }
}

/// The playback queue, even if a panicking holder poisoned the lock (its state stays usable).
pub(super) fn lock(playback: &Mutex<Playback>) -> std::sync::MutexGuard<'_, Playback> {
    playback.lock().unwrap_or_else(|e| e.into_inner())
}

/// Feeds the caller's audio to the ears and keeps them told whether the agent is speaking;
/// applies barge-in's pause and resume to playback. Returns the other frames.
pub(super) struct Hearing {
    pub(super) ears: Ears,
    pub(super) playback: Arc<Mutex<Playback>>,
    pub(super) audio_ms: u64,
    pub(super) was_playing: bool,
    /// The supervisors' view of the call: what the AI does, whether the caller speaks.
    pub(super) live: Arc<LiveCall>,
    /// An answer is being worked out.
    pub(super) thinking: bool,
    pub(super) shown: Option<AiState>,
    /// When the newest frame (ending at `audio_ms`) was heard.
    pub(super) heard_at: Instant,
    /// When the voice activity detector last said the caller's speech stopped (cleared when
    /// it starts again): the waterfall's "VAD end" stage.
    pub(super) stopped_at: Option<Instant>,
}

impl Hearing {
    pub(super) fn hear(&mut self, samples: Vec<i16>) -> Vec<Frame> {
        let frames = self.ears.handle_audio(&AudioFrame { rate: RATE, samples, at_ms: self.audio_ms });
        self.audio_ms += 20;
        self.heard_at = Instant::now();
        let (playing, interruptible) = {
            let p = lock(&self.playback);
            (p.playing(), p.interruptible())
        };
        if playing != self.was_playing {
            if playing {
                self.ears.playback_started(interruptible)
            } else {
                self.ears.playback_ended()
            }
            self.was_playing = playing;
        }
        self.show();
        for f in &frames {
            match f {
                Frame::SpeechStarted { .. } => {
                    self.stopped_at = None;
                    self.live.caller_speaking(true)
                }
                Frame::SpeechStopped { .. } => {
                    self.stopped_at = Some(self.heard_at);
                    self.live.caller_speaking(false)
                }
                _ => {}
            }
        }
        frames
            .into_iter()
            .filter(|f| match f {
                Frame::PausePlayback { .. } => {
                    lock(&self.playback).paused = true;
                    false
                }
                Frame::ResumePlayback { .. } => {
                    lock(&self.playback).paused = false;
                    false
                }
                _ => true,
            })
            .collect()
    }

    /// Speaking while audio plays, thinking while an answer is worked out, else listening.
    pub(super) fn show(&mut self) {
        let state = if self.was_playing {
            AiState::Speaking
        } else if self.thinking {
            AiState::Thinking
        } else {
            AiState::Listening
        };
        if self.shown != Some(state) {
            self.shown = Some(state);
            self.live.state(state);
        }
    }

    /// When the caller's audio at `audio_ms` (audio time) was heard: audio comes in real time.
    pub(super) fn instant_of(&self, audio_ms: u64) -> Instant {
        let ago = Duration::from_millis(self.audio_ms.saturating_sub(audio_ms));
        self.heard_at.checked_sub(ago).unwrap_or(self.heard_at)
    }

    /// When the caller stopped speaking in a turn that ends now (`audio` is the turn's).
    pub(super) fn turn_times(&self, audio: &AudioFrame) -> TurnTimes {
        let speech_end_ms = (audio.at_ms + audio.duration_ms()).saturating_sub(self.ears.post_roll_ms());
        TurnTimes {
            speech_end: self.instant_of(speech_end_ms),
            speech_stopped: self.stopped_at,
            turn_end: Instant::now(),
        }
    }

    pub(super) fn set_thinking(&mut self, thinking: bool) {
        self.thinking = thinking;
        self.show();
    }
}

/// A clip of 8 kHz audio as a playable source.
pub(super) struct Clip(pub(super) VecDeque<i16>);

impl Source for Clip {
    fn next_frame(&mut self) -> Option<Vec<i16>> {
        if self.0.is_empty() {
            return None;
        }
        let n = FRAME.min(self.0.len());
        let mut frame: Vec<i16> = self.0.drain(..n).collect();
        frame.resize(FRAME, 0);
        Some(frame)
    }
}

pub(super) struct Player(pub(super) Arc<Mutex<Playback>>);

impl Source for Player {
    fn next_frame(&mut self) -> Option<Vec<i16>> {
        let mut p = lock(&self.0);
        if p.paused || p.samples.is_empty() {
            if let Some(filler) = p.filler.as_mut() {
                if let Some(f) = filler.next_frame() {
                    return Some(f);
                }
                p.filler = None;
            }
            return Some(vec![0; FRAME]);
        }
        if p.first_frame_at.is_none() && p.before_answer == 0 {
            p.first_frame_at = Some(Instant::now());
        }
        let n = FRAME.min(p.samples.len());
        let mut frame: Vec<i16> = p.samples.drain(..n).collect();
        frame.resize(FRAME, 0);
        let mut n = n;
        while n > 0 {
            let Some(seg) = p.segments.front_mut() else { break };
            let take = n.min(seg.left);
            seg.left -= take;
            n -= take;
            if seg.left == 0 {
                let done = p.segments.pop_front().expect("checked");
                p.heard.push(done.text);
                p.before_answer = p.before_answer.saturating_sub(1);
            }
        }
        Some(frame)
    }
}

/// Speaks an answer as it is written: each sentence sent on the channel is synthesised and
/// queued for playback. The task ends when the sender is dropped, with when the first audio was
/// queued.
pub(super) fn speak_answer(
    engines: &Arc<Engines>,
    playback: &Arc<Mutex<Playback>>,
    relay: &Arc<Relay>,
    meter: &Arc<crate::agent::speech_usage::SpeechMeter>,
) -> (mpsc::UnboundedSender<String>, tokio::task::JoinHandle<Option<Instant>>) {
    let (say_tx, mut say_rx) = mpsc::unbounded_channel::<String>();
    let (engines, playback, relay, meter) = (engines.clone(), playback.clone(), relay.clone(), meter.clone());
    let speaker = tokio::spawn(async move {
        let mut first_audio: Option<Instant> = None;
        while let Some(sentence) = say_rx.recv().await {
            let (e, m) = (engines.clone(), meter.clone());
            let s = sentence.clone();
            let Ok(Some(audio)) = tokio::task::spawn_blocking(move || e.speak(&s, &m)).await else {
                continue;
            };
            let silent = {
                let mut p = lock(&playback);
                let silent = !p.playing();
                p.push(&sentence, audio, true);
                silent
            };
            if first_audio.is_none() {
                first_audio = Some(Instant::now());
                if silent {
                    // The answer starts now, not at the packet clock's next tick.
                    relay.send_now();
                }
            }
        }
        first_audio
    });
    (say_tx, speaker)
}

/// When the first frame of the answer went out. The answer's last sentence is queued before
/// the media clock pulls its first frame (a one-sentence answer is done as soon as it is
/// synthesised): that frame is waited for, a few frame times at most.
pub(super) async fn first_frame_played(
    playback: &Arc<Mutex<Playback>>,
    synthesised: bool,
) -> Option<Instant> {
    let deadline = Instant::now() + Duration::from_millis(100);
    loop {
        let (at, playing) = {
            let p = lock(playback);
            (p.first_frame_at, p.playing())
        };
        if at.is_some() || !synthesised || !playing || Instant::now() >= deadline {
            return at;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer_queued() -> Arc<Mutex<Playback>> {
        let playback = Arc::new(Mutex::new(Playback::default()));
        lock(&playback).push("Your order has shipped.", vec![100; FRAME * 10], true);
        playback
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_frame_of_a_queued_answer_is_waited_for() {
        // A one-sentence answer: queued (the speaker's task is over), its first frame is
        // pulled by the media clock a frame time later.
        let playback = answer_queued();
        let mut player = Player(playback.clone());
        let clock = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            player.next_frame();
        });
        let queued = Instant::now();
        let at = first_frame_played(&playback, true).await.expect("the first frame was waited for");
        assert!(at.duration_since(queued) >= Duration::from_millis(20), "{:?}", at.duration_since(queued));
        clock.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_frame_that_never_plays_is_not_waited_for_long() {
        let playback = answer_queued();
        lock(&playback).paused = true;
        let started = Instant::now();
        assert_eq!(first_frame_played(&playback, true).await, None);
        assert!(started.elapsed() <= Duration::from_millis(105));
        // Nothing synthesised (or nothing queued): nothing to wait for.
        let started = Instant::now();
        assert_eq!(first_frame_played(&answer_queued(), false).await, None);
        assert_eq!(first_frame_played(&Arc::new(Mutex::new(Playback::default())), true).await, None);
        assert_eq!(started.elapsed(), Duration::ZERO);
    }
}
