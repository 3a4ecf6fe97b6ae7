//! Call control for the voice driver: speaking and waiting, carrying out what the conversation
//! decided (hand-offs, voicemail, hanging up), and the supervisors' listen-in and takeover.

use super::*;

/// Where a supervisor's listen-in stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ListenPhase {
    Ringing,
    Connected,
    Over,
}

/// A listen-in: its phase, and the task that follows its leg (it holds the leg events).
pub(super) struct Listening {
    pub(super) extension: String,
    pub(super) phase: tokio::sync::watch::Receiver<ListenPhase>,
    pub(super) task: tokio::task::JoinHandle<()>,
}

pub(super) fn lock_listening(l: &Mutex<Option<Listening>>) -> std::sync::MutexGuard<'_, Option<Listening>> {
    l.lock().unwrap_or_else(|e| e.into_inner())
}

/// Call control for the driver: speaking, connecting, hanging up.
pub(super) struct CallControl {
    pub(super) sip: SipHandle,
    pub(super) call: CallId,
    pub(super) relay: Arc<Relay>,
    pub(super) playback: Arc<Mutex<Playback>>,
    pub(super) account: i64,
    pub(super) legs: crate::calls::answered::Legs,
    pub(super) snapshot: tokio::sync::watch::Receiver<Arc<crate::calls::snapshot::Snapshot>>,
    pub(super) listening: Mutex<Option<Listening>>,
    /// The call's cloud speech (the session's meter).
    pub(super) meter: Arc<crate::agent::speech_usage::SpeechMeter>,
}

impl CallControl {
    pub(super) async fn queue(&self, engines: &Arc<Engines>, text: &str, interruptible: bool) {
        let (e, t, m) = (engines.clone(), text.to_string(), self.meter.clone());
        if let Ok(Some(audio)) = tokio::task::spawn_blocking(move || e.speak(&t, &m)).await {
            lock(&self.playback).push(text, audio, interruptible);
        }
    }

    /// Waits until everything queued has played (at most `limit`).
    pub(super) async fn drain(&self, limit: Duration) {
        let until = Instant::now() + limit;
        while Instant::now() < until && lock(&self.playback).playing() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Says `text` (not interruptible) and waits until it has played.
    pub(super) async fn say_and_wait(&self, engines: &Arc<Engines>, text: &str) {
        self.queue(engines, text, false).await;
        self.drain(Duration::from_secs(15)).await;
    }

    /// What the conversation decided, as where the caller goes next. What the agent is still
    /// saying then (an apology, "let me get you to a person") plays on: its end is the next
    /// service's lead-in.
    pub(super) async fn finish(
        &self,
        engines: &Arc<Engines>,
        session: &mut Session,
        next: Next,
        apology: Option<Vec<i16>>,
        lead_in: &mut Option<tokio::sync::oneshot::Receiver<()>>,
    ) -> Onward {
        session.finish();
        let onward = match next {
            Next::Listen => Onward::Done,
            Next::Hangup { .. } => {
                self.drain(Duration::from_secs(15)).await;
                Onward::To(Target::Hangup)
            }
            Next::Fallback { target, .. } => {
                // The apology (ready since the call started) plays while the fallback rings.
                lock(&self.playback).stop();
                match apology {
                    Some(a) => lock(&self.playback).push(APOLOGY, a, false),
                    None => self.queue(engines, APOLOGY, false).await,
                }
                Onward::To(target)
            }
            Next::Transfer { target, .. } => Onward::To(target),
            // The agent's box (or one it hands callers to); without one, a person.
            Next::TakeMessage { .. } => match message_box(&session.agent) {
                Some(box_name) => {
                    Onward::Message { box_name, greeting: "Press the pound key when you are done.".into() }
                }
                None => Onward::To(session.agent.escalation_target.clone()),
            },
        };
        *lead_in = Some(self.said());
        onward
    }

    /// Completes when everything queued has played (at most 15 s from now).
    fn said(&self) -> tokio::sync::oneshot::Receiver<()> {
        let (done, said) = tokio::sync::oneshot::channel();
        let playback = self.playback.clone();
        tokio::spawn(async move {
            let until = Instant::now() + Duration::from_secs(15);
            while Instant::now() < until && lock(&playback).playing() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let _ = done.send(());
        });
        said
    }

    /// A supervisor listens in from `extension`: it rings, and once answered hears the caller
    /// and the AI (the relay's listen-in) without being heard. Their hanging up leaves the
    /// caller with the AI. The conversation goes on meanwhile.
    pub(super) async fn listen(&self, extension: &str, by: &str, live: &Arc<LiveCall>) {
        let busy =
            lock_listening(&self.listening).as_ref().is_some_and(|l| *l.phase.borrow() != ListenPhase::Over);
        if busy {
            live.event(
                "listen_refused",
                json!({ "by": by, "extension": extension, "reason": "someone already listens" }),
            );
            return;
        }
        let ring_ms = self.ring_ms(extension).await;
        let mut legs = self.fresh_legs().await;
        self.sip.keep_caller(self.call, true).await;
        self.relay.monitor(MediaSide::B, true);
        self.ring(extension, SUPERVISOR_LINES, ring_ms).await;
        let (phase_tx, phase) = tokio::sync::watch::channel(ListenPhase::Ringing);
        let (sip, relay, call, live) = (self.sip.clone(), self.relay.clone(), self.call, live.clone());
        let (by, ext) = (by.to_string(), extension.to_string());
        let task = tokio::spawn(async move {
            let stop = |why: &str, data: serde_json::Value| {
                relay.monitor(MediaSide::B, false);
                live.event(why, data);
                let _ = phase_tx.send(ListenPhase::Over);
            };
            while let Some(event) = legs.recv().await {
                match event {
                    LegEvent::Answered if *phase_tx.borrow() == ListenPhase::Ringing => {
                        let _ = phase_tx.send(ListenPhase::Connected);
                        live.event("listen_connected", json!({ "by": by, "extension": ext }));
                    }
                    LegEvent::Answered | LegEvent::AnsweredBy(_) => {}
                    LegEvent::Unreached(status) => {
                        stop("listen_failed", json!({ "by": by, "extension": ext, "status": status }));
                        break;
                    }
                    LegEvent::Left => {
                        stop("listen_ended", json!({ "by": by, "extension": ext }));
                        break;
                    }
                }
            }
            sip.keep_caller(call, false).await;
        });
        *lock_listening(&self.listening) = Some(Listening { extension: extension.to_string(), phase, task });
    }

    /// A takeover by whoever listens in: they are connected at once (no ringing, no briefing:
    /// they heard the call). `None` when nobody listens.
    pub(super) async fn take_over_from_listening(
        &self,
        engines: &Arc<Engines>,
        by: &str,
        live: &LiveCall,
    ) -> Option<bool> {
        let listening = lock_listening(&self.listening).take()?;
        let mut phase = listening.phase.clone();
        let settled =
            tokio::time::timeout(Duration::from_secs(40), phase.wait_for(|p| *p != ListenPhase::Ringing))
                .await
                .map(|r| r.map(|p| *p));
        let connected = matches!(settled, Ok(Ok(ListenPhase::Connected)));
        if !connected {
            return None;
        }
        listening.task.abort();
        self.sip.keep_caller(self.call, false).await;
        lock(&self.playback).stop();
        self.say_and_wait(engines, HANDING_OVER).await;
        self.relay.monitor(MediaSide::B, false);
        self.relay.stop_playing(MediaSide::A);
        live.event(
            "takeover_connected",
            json!({ "by": by, "extension": listening.extension, "from_listening": true }),
        );
        live.state(AiState::TakenOver);
        Some(true)
    }

    /// Rings `extension` on the call's B leg (the caller's media stays with us until answered).
    pub(super) async fn ring(&self, extension: &str, max_lines: usize, ring_ms: u64) {
        let media = MediaPorts { a: self.relay.a_local, b: self.relay.b_local };
        let decision = RouteDecision::Ring {
            account: self.account,
            extension: extension.to_string(),
            max_lines,
            ring_timeout_ms: ring_ms,
            media,
        };
        self.sip.route(self.call, decision).await;
    }

    /// How long an extension rings (its no-answer time, at least 10 s).
    pub(super) async fn ring_ms(&self, extension: &str) -> u64 {
        let agent = self.snapshot.borrow().agent(self.account, extension).map(Agent::ringing);
        agent.unwrap_or(crate::model::UNKNOWN_AGENT_RINGING).1.max(10_000)
    }

    /// Forgets leg events from before a new ring (re-INVITEs of an earlier leg).
    pub(super) async fn fresh_legs(&self) -> tokio::sync::OwnedMutexGuard<mpsc::UnboundedReceiver<LegEvent>> {
        self.legs.fresh().await
    }

    /// A supervisor takes the call over on `extension`: the caller is told and hears the hold
    /// chime; when the supervisor answers they hear a one-line briefing (the caller still hears
    /// the chime), then the two are connected and the AI leaves (true). If the supervisor does
    /// not answer, the AI carries on (false).
    pub(super) async fn take_over(
        &self,
        engines: &Arc<Engines>,
        session: &Session,
        extension: &str,
        by: &str,
        live: &LiveCall,
        ended: &mut tokio::sync::oneshot::Receiver<()>,
    ) -> bool {
        live.state(AiState::Transferring);
        if let Some(taken) = self.take_over_from_listening(engines, by, live).await {
            return taken;
        }
        let briefing = {
            let (e, text) = (engines.clone(), format!("Taking over from the AI. {}", session.summary()));
            let m = self.meter.clone();
            tokio::task::spawn_blocking(move || e.speak(&text, &m))
        };
        lock(&self.playback).stop();
        self.queue(engines, TAKEOVER, false).await;
        let ring_ms = self.ring_ms(extension).await;
        lock(&self.playback).filler = Some(Box::new(Tone::hold(RATE).for_ms(ring_ms + 30_000)));
        let mut legs = self.fresh_legs().await;
        self.ring(extension, SUPERVISOR_LINES, ring_ms).await;
        let event = tokio::select! {
            e = legs.recv() => e,
            _ = &mut *ended => return true, // the caller left: nothing more to do
            _ = tokio::time::sleep(Duration::from_millis(ring_ms + 5_000)) => Some(LegEvent::Unreached(408)),
        };
        match event {
            Some(LegEvent::Answered) => {
                // The supervisor hears the briefing, the caller the chime, then they talk.
                if let Ok(Some(audio)) = briefing.await {
                    let done = self.relay.play(MediaSide::B, Box::new(Clip(audio.into())));
                    let _ = tokio::time::timeout(Duration::from_secs(15), done).await;
                }
                lock(&self.playback).filler = None;
                self.relay.stop_playing(MediaSide::A);
                live.event("takeover_connected", json!({ "by": by, "extension": extension }));
                live.state(AiState::TakenOver);
                true
            }
            other => {
                let status = match other {
                    Some(LegEvent::Unreached(s)) => s,
                    _ => 0,
                };
                lock(&self.playback).filler = None;
                live.event("takeover_failed", json!({ "by": by, "extension": extension, "status": status }));
                self.queue(engines, TAKEOVER_FAILED, true).await;
                false
            }
        }
    }
}
