//! Speech recognition behind one contract. The local engine is Whisper (whisper.cpp) with the
//! weights shared by every call; requests from concurrent calls go through a fair queue (one
//! call's queue is served a request at a time, in turn with the others), so a long utterance
//! from one caller does not hold up everybody else's short turns.

use crate::frame::{AudioFrame, Continuation, Transcript};
use crate::{Error, Result};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};

/// A speech recogniser: 16 kHz audio in, text out.
pub trait SpeechToText: Send + Sync {
    /// The engine, for logs and `models list`.
    fn name(&self) -> String;
    /// Recognises one utterance (`short`) or a whole recording.
    fn transcribe(&self, audio: &AudioFrame, short: bool) -> Result<Transcript>;

    /// The same, given up as soon as `cancel` is used (engines that cannot stop part-way
    /// finish, and the result is then thrown away).
    fn transcribe_unless(&self, audio: &AudioFrame, short: bool, cancel: &Cancel) -> Result<Transcript> {
        if cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        self.transcribe(audio, short)
    }

    /// The same on `threads` threads, for a recognition that has the machine to itself
    /// (engines without threads of their own recognise as usual).
    fn transcribe_wide(
        &self,
        audio: &AudioFrame,
        short: bool,
        threads: usize,
        cancel: &Cancel,
    ) -> Result<Transcript> {
        let _ = threads;
        self.transcribe_unless(audio, short, cancel)
    }

    /// The same, going on from `earlier`: the engine's record of an earlier transcript of the
    /// start of this audio (a turn's partial transcript). An engine that can (Moonshine) checks
    /// the audio starts with what `earlier` covered and decodes only what follows; the others
    /// recognise the whole audio.
    fn transcribe_after(
        &self,
        audio: &AudioFrame,
        short: bool,
        earlier: &Continuation,
        cancel: &Cancel,
    ) -> Result<Transcript> {
        let _ = earlier;
        self.transcribe_unless(audio, short, cancel)
    }
}

/// A fingerprint of audio samples (FNV-1a over their bytes): a longer recording that starts
/// with the same samples has the same fingerprint over that start.
pub fn fingerprint(samples: &[i16]) -> u64 {
    samples
        .iter()
        .flat_map(|s| s.to_le_bytes())
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3))
}

/// Gives up a recognition nobody needs any more (the caller went on speaking after the pause
/// it was for): a queued request is skipped, a running one stops and frees its core.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Local Whisper (tiny.en unless loaded with another size).
pub struct LocalWhisper {
    whisper: switchboard_models::whisper::Whisper,
}

impl LocalWhisper {
    /// Whisper tiny.en.
    pub fn load(models_dir: &std::path::Path, threads: usize) -> Result<Self> {
        Self::load_size(models_dir, threads, switchboard_models::whisper::Size::TinyEn)
    }

    pub fn load_size(
        models_dir: &std::path::Path,
        threads: usize,
        size: switchboard_models::whisper::Size,
    ) -> Result<Self> {
        let converted = models_dir.join("converted");
        let whisper = switchboard_models::whisper::Whisper::load_size(models_dir, &converted, threads, size)
            .map_err(|e| Error::Engine(e.to_string()))?;
        Ok(LocalWhisper { whisper })
    }
}

impl SpeechToText for LocalWhisper {
    fn name(&self) -> String {
        // The converted file's name says which Whisper (and its weights), not where it is.
        let file =
            self.whisper.path().file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        format!("whisper.cpp ({file})")
    }

    fn transcribe(&self, audio: &AudioFrame, short: bool) -> Result<Transcript> {
        self.transcribe_unless(audio, short, &Cancel::default())
    }

    fn transcribe_unless(&self, audio: &AudioFrame, short: bool, cancel: &Cancel) -> Result<Transcript> {
        self.recognise(audio, short, None, cancel)
    }

    fn transcribe_wide(
        &self,
        audio: &AudioFrame,
        short: bool,
        threads: usize,
        cancel: &Cancel,
    ) -> Result<Transcript> {
        self.recognise(audio, short, Some(threads), cancel)
    }
}

impl LocalWhisper {
    /// On the threads it was loaded with, or on `threads`.
    fn recognise(
        &self,
        audio: &AudioFrame,
        short: bool,
        threads: Option<usize>,
        cancel: &Cancel,
    ) -> Result<Transcript> {
        if audio.rate != 16_000 {
            return Err(Error::Rate(audio.rate));
        }
        let samples: Vec<f32> = audio.samples.iter().map(|&s| s as f32 / 32768.0).collect();
        let done = match threads {
            Some(n) => self.whisper.transcribe_on(&samples, short, n, &cancel.0),
            None => self.whisper.transcribe_unless(&samples, short, &cancel.0),
        };
        let segments = match done {
            Ok(s) => s,
            Err(switchboard_models::Error::Cancelled) => return Err(Error::Cancelled),
            Err(e) => return Err(Error::Engine(e.to_string())),
        };
        let text = segments.iter().map(|s| s.text.as_str()).collect::<Vec<_>>().join(" ");
        // Weighted by text length, so a long confident segment outweighs a short unsure one.
        let weight: usize = segments.iter().map(|s| s.text.len()).sum();
        let confidence = (weight > 0).then(|| {
            segments.iter().map(|s| s.confidence * s.text.len() as f32).sum::<f32>() / weight as f32
        });
        Ok(Transcript {
            text,
            confidence,
            start_ms: audio.at_ms,
            end_ms: audio.at_ms + audio.duration_ms(),
            segments: segments
                .into_iter()
                .map(|s| (audio.at_ms + s.start_ms, audio.at_ms + s.end_ms, s.text))
                .collect(),
            continuation: None,
        })
    }
}

/// Local Moonshine base-en: cost grows with the utterance (no 30 s window), so short callers'
/// turns are cheap; `sessions` recognitions run at once.
pub struct LocalMoonshine {
    moonshine: switchboard_models::moonshine::Moonshine,
}

impl LocalMoonshine {
    pub fn load(models_dir: &std::path::Path, threads: usize, sessions: usize) -> Result<Self> {
        let moonshine = switchboard_models::moonshine::Moonshine::load(
            models_dir,
            &models_dir.join("converted"),
            threads,
            sessions,
        )
        .map_err(|e| Error::Engine(e.to_string()))?;
        Ok(LocalMoonshine { moonshine })
    }
}

impl SpeechToText for LocalMoonshine {
    fn name(&self) -> String {
        "moonshine-base-en (ONNX Runtime)".into()
    }

    fn transcribe(&self, audio: &AudioFrame, short: bool) -> Result<Transcript> {
        self.transcribe_unless(audio, short, &Cancel::default())
    }

    fn transcribe_unless(&self, audio: &AudioFrame, _short: bool, cancel: &Cancel) -> Result<Transcript> {
        if audio.rate != 16_000 {
            return Err(Error::Rate(audio.rate));
        }
        if cut_point(&audio.samples, 0) == audio.samples.len() {
            return self.recognise(audio, (&[], &[]), cancel);
        }
        // Moonshine reads up to about 30 s at once: a recording is read in pieces cut at the
        // quietest moment between 12 and 20 s into each.
        let (mut segments, mut sure, mut weight) = (Vec::new(), 0.0f32, 0usize);
        let mut start = 0;
        while start < audio.samples.len() {
            let end = cut_point(&audio.samples, start);
            let samples: Vec<f32> = audio.samples[start..end].iter().map(|&s| s as f32 / 32768.0).collect();
            let heard = match self.moonshine.transcribe(&samples, &cancel.0) {
                Ok(r) => r,
                Err(switchboard_models::Error::Cancelled) => return Err(Error::Cancelled),
                Err(e) => return Err(Error::Engine(e.to_string())),
            };
            if !heard.text.is_empty() {
                let ms = |i: usize| audio.at_ms + i as u64 * 1000 / 16_000;
                sure += heard.confidence * heard.text.len() as f32;
                weight += heard.text.len();
                segments.push((ms(start), ms(end), heard.text));
            }
            start = end;
        }
        Ok(Transcript {
            text: segments.iter().map(|s| s.2.as_str()).collect::<Vec<_>>().join(" "),
            confidence: (weight > 0).then(|| sure / weight as f32),
            start_ms: audio.at_ms,
            end_ms: audio.at_ms + audio.duration_ms(),
            segments,
            continuation: None,
        })
    }

    fn transcribe_after(
        &self,
        audio: &AudioFrame,
        short: bool,
        earlier: &Continuation,
        cancel: &Cancel,
    ) -> Result<Transcript> {
        let keep = earlier.tokens.len().saturating_sub(GIVEN_BACK_TOKENS);
        let usable = audio.rate == 16_000
            && keep > 0
            && earlier.probs.len() == earlier.tokens.len()
            && cut_point(&audio.samples, 0) == audio.samples.len()
            && audio
                .samples
                .get(..earlier.samples)
                .is_some_and(|start| fingerprint(start) == earlier.fingerprint);
        if !usable {
            return self.transcribe_unless(audio, short, cancel);
        }
        match self.recognise(audio, (&earlier.tokens[..keep], &earlier.probs[..keep]), cancel) {
            // Tokens the model refuses (not its own): the whole audio, as if nothing came before.
            Err(Error::Engine(e)) => {
                tracing::debug!(error = %e, "moonshine could not go on from an earlier transcript");
                self.transcribe_unless(audio, short, cancel)
            }
            done => done,
        }
    }
}

/// Tokens of an earlier transcript decoded again: the last word of a partial may have been cut
/// by the end of its audio, and its full stop may be where the caller went on.
const GIVEN_BACK_TOKENS: usize = 3;

impl LocalMoonshine {
    /// One piece of up to 20 s, its text begun with `prefix` (tokens and their probabilities).
    fn recognise(&self, audio: &AudioFrame, prefix: (&[i64], &[f32]), cancel: &Cancel) -> Result<Transcript> {
        let samples: Vec<f32> = audio.samples.iter().map(|&s| s as f32 / 32768.0).collect();
        let heard = match self.moonshine.transcribe_after(&samples, prefix.0, prefix.1, &cancel.0) {
            Ok(r) => r,
            Err(switchboard_models::Error::Cancelled) => return Err(Error::Cancelled),
            Err(e) => return Err(Error::Engine(e.to_string())),
        };
        let (start_ms, end_ms) = (audio.at_ms, audio.at_ms + audio.duration_ms());
        let said = !heard.text.is_empty();
        Ok(Transcript {
            segments: if said { vec![(start_ms, end_ms, heard.text.clone())] } else { Vec::new() },
            confidence: said.then_some(heard.confidence),
            text: heard.text,
            start_ms,
            end_ms,
            continuation: Some(Continuation {
                samples: audio.samples.len(),
                fingerprint: fingerprint(&audio.samples),
                tokens: heard.tokens,
                probs: heard.probs,
            }),
        })
    }
}

/// Where the piece of `samples` that starts at `start` ends: the end if it is within 20 s,
/// else the quietest 100 ms between 12 and 20 s from `start`.
fn cut_point(samples: &[i16], start: usize) -> usize {
    const RATE: usize = 16_000;
    let (min, max, window) = (start + 12 * RATE, start + 20 * RATE, RATE / 10);
    if samples.len() <= max {
        return samples.len();
    }
    let energy = |at: usize| samples[at..at + window].iter().map(|&s| (s as i64).pow(2)).sum::<i64>();
    (min..max - window).step_by(window / 2).min_by_key(|&at| energy(at)).map_or(max, |at| at + window / 2)
}

/// A queued recognition: the audio, short or a recording, the switch that gives it up, where
/// its result goes, and an earlier transcript of the start of the audio to go on from.
struct Job {
    audio: AudioFrame,
    short: bool,
    cancel: Cancel,
    reply: mpsc::Sender<Result<Transcript>>,
    earlier: Option<Continuation>,
}

#[derive(Default)]
struct Queues {
    /// Waiting requests per caller, and the callers in service order.
    waiting: HashMap<u64, VecDeque<Job>>,
    order: VecDeque<u64>,
    /// Partial transcripts: served only when no other request waits (they are a nicety; a
    /// caller's final transcript is what the caller is waiting for).
    partials: VecDeque<Job>,
    closed: bool,
    /// Requests being recognised, and whether one of them has every worker's core.
    running: usize,
    wide: bool,
}

/// A pool of recognition workers serving callers in turn.
pub struct FairRecognizer {
    shared: Arc<(Mutex<Queues>, Condvar)>,
    workers: Vec<std::thread::JoinHandle<()>>,
    engine_name: String,
}

impl FairRecognizer {
    /// `workers` threads share `engine` (and its weights), one core each. A caller's request
    /// that finds the recogniser idle (nothing running or waiting) runs on every worker's core,
    /// and the other workers wait until it is done: a lone turn is recognised sooner, and when
    /// several callers talk, each recognition has one core (more threads than cores would slow
    /// every one of them down).
    pub fn new(engine: Arc<dyn SpeechToText>, workers: usize) -> Self {
        let shared = Arc::new((Mutex::new(Queues::default()), Condvar::new()));
        let engine_name = engine.name();
        let cores = workers.max(1);
        let workers = (0..cores)
            .map(|_| {
                let (shared, engine) = (shared.clone(), engine.clone());
                std::thread::spawn(move || {
                    let (lock, ready) = &*shared;
                    while let Some((job, wide)) = next_job(lock, ready, cores) {
                        let Job { audio, short, cancel, reply, earlier } = job;
                        // A panic in the engine costs this request only: the worker answers
                        // it with an error and serves the next one.
                        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            match (&earlier, wide) {
                                (Some(earlier), _) => engine.transcribe_after(&audio, short, earlier, &cancel),
                                (None, true) => engine.transcribe_wide(&audio, short, cores, &cancel),
                                (None, false) => engine.transcribe_unless(&audio, short, &cancel),
                            }
                        }))
                        .unwrap_or_else(|payload| {
                            let message = payload
                                .downcast_ref::<&str>()
                                .map(|s| s.to_string())
                                .or_else(|| payload.downcast_ref::<String>().cloned())
                                .unwrap_or_default();
                            tracing::error!(panic = %message, samples = audio.samples.len(), rate = audio.rate, "speech recognition panicked; the request fails, the worker goes on");
                            Err(Error::Engine(format!("the recogniser failed: {message}")))
                        });
                        let _ = reply.send(result);
                        let mut q = lock.lock().unwrap_or_else(|e| e.into_inner());
                        q.running -= 1;
                        if wide {
                            q.wide = false;
                            ready.notify_all();
                        }
                    }
                })
            })
            .collect();
        FairRecognizer { shared, workers, engine_name }
    }

    pub fn engine_name(&self) -> &str {
        &self.engine_name
    }

    /// Requests waiting for a worker (not counting those being recognised).
    pub fn waiting(&self) -> usize {
        let (lock, _) = &*self.shared;
        lock.lock().unwrap_or_else(|e| e.into_inner()).waiting.values().map(|w| w.len()).sum()
    }

    /// Queues a partial-transcript request (short mode): it waits while any other request
    /// waits.
    pub fn submit_partial(&self, audio: AudioFrame) -> Pending {
        self.submit_partial_after(audio, None)
    }

    /// The same, going on from an earlier transcript of the start of `audio` (the turn's last
    /// partial) where the engine can.
    pub fn submit_partial_after(&self, audio: AudioFrame, earlier: Option<Continuation>) -> Pending {
        let (reply, result) = mpsc::channel();
        let cancel = Cancel::default();
        let (lock, ready) = &*self.shared;
        let job = Job { audio, short: true, cancel: cancel.clone(), reply, earlier };
        lock.lock().unwrap_or_else(|e| e.into_inner()).partials.push_back(job);
        ready.notify_one();
        Pending { result, cancel }
    }

    /// Queues `audio` for `caller`; the pending request's receiver gets the result.
    pub fn submit(&self, caller: u64, audio: AudioFrame, short: bool) -> Pending {
        self.submit_after(caller, audio, short, None)
    }

    /// The same, going on from an earlier transcript of the start of `audio` where the engine
    /// can.
    pub fn submit_after(
        &self,
        caller: u64,
        audio: AudioFrame,
        short: bool,
        earlier: Option<Continuation>,
    ) -> Pending {
        let (tx, rx) = mpsc::channel();
        let cancel = Cancel::default();
        let (lock, ready) = &*self.shared;
        let mut q = lock.lock().unwrap_or_else(|e| e.into_inner());
        let waiting = q.waiting.entry(caller).or_default();
        waiting.push_back(Job { audio, short, cancel: cancel.clone(), reply: tx, earlier });
        if waiting.len() == 1 {
            q.order.push_back(caller);
        }
        ready.notify_one();
        Pending { result: rx, cancel }
    }
}

/// Waits for the next request (callers in turn, then partials) and whether it runs on every
/// core; `None` once the recogniser is closed.
fn next_job(lock: &Mutex<Queues>, ready: &Condvar, cores: usize) -> Option<(Job, bool)> {
    let mut q = lock.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if q.wide {
            // A recognition has every core: wait for it.
            q = ready.wait(q).unwrap_or_else(|e| e.into_inner());
            continue;
        }
        let mut job = None;
        while job.is_none() {
            let Some(caller) = q.order.pop_front() else { break };
            job = q.waiting.get_mut(&caller).and_then(|w| w.pop_front());
            if q.waiting.get(&caller).is_some_and(|w| !w.is_empty()) {
                q.order.push_back(caller); // its next request waits its turn
            } else {
                q.waiting.remove(&caller);
            }
        }
        let partial = job.is_none();
        let Some(job) = job.or_else(|| q.partials.pop_front()) else {
            if q.closed {
                return None;
            }
            q = ready.wait(q).unwrap_or_else(|e| e.into_inner());
            continue;
        };
        let alone = q.running == 0 && q.order.is_empty() && q.partials.is_empty();
        let wide = cores > 1 && alone && !partial && !job.cancel.is_cancelled();
        q.running += 1;
        q.wide = wide;
        return Some((job, wide));
    }
}

/// A queued recognition: where its result comes, and the switch that gives it up.
pub struct Pending {
    pub result: mpsc::Receiver<Result<Transcript>>,
    pub cancel: Cancel,
}

impl Drop for FairRecognizer {
    fn drop(&mut self) {
        let (lock, ready) = &*self.shared;
        lock.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
        ready.notify_all();
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_audio_is_cut_at_its_quietest_moment_between_12_and_20_seconds() {
        let loud = |n: usize| vec![8_000i16; n];
        assert_eq!(cut_point(&loud(16_000 * 19), 0), 16_000 * 19, "short enough: whole");
        let mut audio = loud(16_000 * 15);
        audio.extend(vec![0i16; 16_000 / 2]);
        audio.extend(loud(16_000 * 20));
        let cut = cut_point(&audio, 0);
        assert!((16_000 * 15..16_000 * 15 + 8_000).contains(&cut), "{cut}");
        let next = cut_point(&audio, cut);
        assert!(next > cut + 16_000 * 12 && next <= cut + 16_000 * 20, "{next}");
    }
    use std::time::Duration;

    /// Takes 1 ms per 100 samples and records the order it served callers in.
    struct Slow(Mutex<Vec<u64>>);

    impl SpeechToText for Slow {
        fn name(&self) -> String {
            "slow".into()
        }
        fn transcribe(&self, audio: &AudioFrame, _: bool) -> Result<Transcript> {
            std::thread::sleep(Duration::from_millis(audio.samples.len() as u64 / 100));
            self.0.lock().unwrap().push(audio.at_ms);
            Ok(Transcript { text: format!("caller {}", audio.at_ms), ..Default::default() })
        }
    }

    #[test]
    fn callers_are_served_in_turn() {
        let engine = Arc::new(Slow(Mutex::new(Vec::new())));
        let r = FairRecognizer::new(engine.clone(), 1);
        let audio = |caller: u64, n: usize| AudioFrame { rate: 16_000, samples: vec![0; n], at_ms: caller };
        // Caller 1 queues five long requests, then callers 2 and 3 one short one each.
        let long: Vec<_> = (0..5).map(|_| r.submit(1, audio(1, 2_000), false)).collect();
        let two = r.submit(2, audio(2, 100), true);
        let three = r.submit(3, audio(3, 100), true);
        assert_eq!(three.result.recv().unwrap().unwrap().text, "caller 3");
        assert_eq!(two.result.recv().unwrap().unwrap().text, "caller 2");
        for l in long {
            l.result.recv().unwrap().unwrap();
        }
        let order = engine.0.lock().unwrap().clone();
        // Callers 2 and 3 did not wait behind all of caller 1's requests.
        let pos = |c| order.iter().position(|&x| x == c).unwrap();
        assert!(pos(2) <= 2 && pos(3) <= 3, "{order:?}");
    }

    /// Panics on audio tagged 0 (a fault in the engine).
    struct Faulty;

    impl SpeechToText for Faulty {
        fn name(&self) -> String {
            "faulty".into()
        }
        fn transcribe(&self, audio: &AudioFrame, _: bool) -> Result<Transcript> {
            assert!(audio.at_ms != 0, "the engine fails on this audio");
            Ok(Transcript { text: format!("caller {}", audio.at_ms), ..Default::default() })
        }
    }

    #[test]
    fn a_panicking_recognition_fails_its_request_and_the_workers_go_on() {
        let r = FairRecognizer::new(Arc::new(Faulty), 2);
        let audio = |tag: u64| AudioFrame { rate: 16_000, samples: vec![0; 160], at_ms: tag };
        for _ in 0..3 {
            let failed = r.submit(1, audio(0), true).result.recv().unwrap();
            assert!(matches!(failed, Err(Error::Engine(m)) if m.contains("fails on this audio")));
        }
        // Every worker is still there (three panics with two workers).
        let ok: Vec<_> = (1..=4).map(|c| r.submit(c, audio(c), true)).collect();
        for (i, p) in ok.into_iter().enumerate() {
            assert_eq!(p.result.recv().unwrap().unwrap().text, format!("caller {}", i + 1));
        }
    }

    /// Records, per request, its tag, the threads it ran on, and when it started and ended.
    #[derive(Default)]
    struct Spans(Mutex<Vec<(u64, usize, std::time::Instant, std::time::Instant)>>);

    impl Spans {
        fn run(&self, audio: &AudioFrame, threads: usize) -> Result<Transcript> {
            let start = std::time::Instant::now();
            std::thread::sleep(Duration::from_millis(audio.samples.len() as u64 / 100));
            self.0.lock().unwrap().push((audio.at_ms, threads, start, std::time::Instant::now()));
            Ok(Transcript::default())
        }
    }

    impl SpeechToText for Spans {
        fn name(&self) -> String {
            "spans".into()
        }
        fn transcribe(&self, audio: &AudioFrame, _: bool) -> Result<Transcript> {
            self.run(audio, 1)
        }
        fn transcribe_wide(
            &self,
            audio: &AudioFrame,
            _: bool,
            threads: usize,
            _: &Cancel,
        ) -> Result<Transcript> {
            self.run(audio, threads)
        }
    }

    #[test]
    fn a_lone_turn_has_every_core_and_the_others_wait_for_it() {
        let engine = Arc::new(Spans::default());
        let r = FairRecognizer::new(engine.clone(), 2);
        let audio = |tag: u64, n: usize| AudioFrame { rate: 16_000, samples: vec![0; n], at_ms: tag };
        // Alone: on both cores. Meanwhile another caller's turn and a partial wait for it.
        let lone = r.submit(1, audio(1, 5_000), true);
        std::thread::sleep(Duration::from_millis(10));
        let partial = r.submit_partial(audio(10, 100));
        let other = r.submit(2, audio(2, 3_000), true);
        lone.result.recv().unwrap().unwrap();
        other.result.recv().unwrap().unwrap();
        partial.result.recv().unwrap().unwrap();
        let spans = engine.0.lock().unwrap().clone();
        let span = |tag| *spans.iter().find(|s| s.0 == tag).unwrap();
        assert_eq!(span(1).1, 2, "the lone turn ran on both cores");
        assert!(span(2).2 >= span(1).3 && span(10).2 >= span(1).3, "the others waited for it");
        // Two at once (the other caller's turn found the partial running): one core each.
        assert_eq!((span(2).1, span(10).1), (1, 1), "{spans:?}");
    }

    #[test]
    fn partials_wait_for_every_other_request() {
        let engine = Arc::new(Slow(Mutex::new(Vec::new())));
        let r = FairRecognizer::new(engine.clone(), 1);
        let audio = |tag: u64, n: usize| AudioFrame { rate: 16_000, samples: vec![0; n], at_ms: tag };
        // The worker is busy; then a partial, then two callers' finals arrive.
        let busy = r.submit(1, audio(1, 3_000), true);
        std::thread::sleep(std::time::Duration::from_millis(5));
        let partial = r.submit_partial(audio(10, 100));
        let finals = [r.submit(2, audio(2, 100), true), r.submit(3, audio(3, 100), true)];
        assert_eq!(r.waiting(), 2, "partials are not counted as waiting finals");
        partial.result.recv().unwrap().unwrap();
        busy.result.recv().unwrap().unwrap();
        for f in finals {
            f.result.recv().unwrap().unwrap();
        }
        assert_eq!(*engine.0.lock().unwrap(), vec![1, 2, 3, 10], "the partial went last");
    }

    /// Says whether it was given an earlier transcript to go on from, and its tokens.
    struct Continues;

    impl SpeechToText for Continues {
        fn name(&self) -> String {
            "continues".into()
        }
        fn transcribe(&self, _: &AudioFrame, _: bool) -> Result<Transcript> {
            Ok(Transcript { text: "whole".into(), ..Default::default() })
        }
        fn transcribe_after(
            &self,
            _: &AudioFrame,
            _: bool,
            e: &Continuation,
            _: &Cancel,
        ) -> Result<Transcript> {
            Ok(Transcript { text: format!("after {:?}", e.tokens), ..Default::default() })
        }
    }

    #[test]
    fn an_earlier_transcript_that_can_be_continued_goes_to_the_engine() {
        let r = FairRecognizer::new(Arc::new(Continues), 2);
        let audio = AudioFrame { rate: 16_000, samples: vec![0; 160], at_ms: 0 };
        let earlier = Continuation { tokens: vec![7, 8], probs: vec![0.9, 0.8], ..Default::default() };
        let heard = |p: Pending| p.result.recv().unwrap().unwrap().text;
        assert_eq!(heard(r.submit_after(1, audio.clone(), true, Some(earlier.clone()))), "after [7, 8]");
        assert_eq!(heard(r.submit_partial_after(audio.clone(), Some(earlier))), "after [7, 8]");
        assert_eq!(heard(r.submit_after(1, audio.clone(), true, None)), "whole");
        assert_eq!(heard(r.submit(1, audio, true)), "whole");
        // An engine that cannot go on recognises the whole audio.
        let plain = Slow(Mutex::new(Vec::new()));
        let cont = Continuation::default();
        let audio = AudioFrame { rate: 16_000, samples: vec![0; 100], at_ms: 5 };
        assert_eq!(plain.transcribe_after(&audio, true, &cont, &Cancel::default()).unwrap().text, "caller 5");
    }

    #[test]
    fn fingerprints_tell_audio_apart() {
        let a: Vec<i16> = (0..1_000).map(|i| (i * 37 % 2_000) as i16).collect();
        let mut b = a.clone();
        b[500] += 1;
        assert_eq!(fingerprint(&a), fingerprint(&a.clone()));
        assert_ne!(fingerprint(&a), fingerprint(&b));
        assert_eq!(fingerprint(&a[..500]), fingerprint(&b[..500]), "the same start");
        assert_ne!(fingerprint(&a[..500]), fingerprint(&a[..501]));
        assert_ne!(fingerprint(&[]), fingerprint(&[0]), "a silent sample counts");
    }

    #[test]
    fn a_cancelled_request_is_skipped_and_says_so() {
        let engine = Arc::new(Slow(Mutex::new(Vec::new())));
        let r = FairRecognizer::new(engine.clone(), 1);
        let audio = |tag: u64, n: usize| AudioFrame { rate: 16_000, samples: vec![0; n], at_ms: tag };
        let busy = r.submit(1, audio(1, 3_000), true);
        std::thread::sleep(std::time::Duration::from_millis(5));
        let stale = r.submit(1, audio(2, 3_000), true);
        let next = r.submit(1, audio(3, 100), true);
        stale.cancel.cancel();
        assert!(matches!(stale.result.recv().unwrap(), Err(Error::Cancelled)));
        busy.result.recv().unwrap().unwrap();
        next.result.recv().unwrap().unwrap();
        assert_eq!(*engine.0.lock().unwrap(), vec![1, 3], "the cancelled request never ran");
    }
}
