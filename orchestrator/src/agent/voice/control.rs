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
pub(super) struct Ctl {
    pub(super) sip: SipHandle,
    pub(super) call: CallId,
    pub(super) relay: Arc<Relay>,
    pub(super) playback: Arc<Mutex<Playback>>,
    pub(super) db: crate::db::Db,
    pub(super) account: i64,
    pub(super) data_dir: std::path::PathBuf,
    pub(super) legs: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<LegEvent>>>,
    pub(super) live: crate::live::Live,
    pub(super) listening: Mutex<Option<Listening>>,
}

impl Ctl {
    /// The caller's line, for the handler the conversation hands the caller to.
    pub(super) fn line(
        &self,
        session: &Session,
        digits: mpsc::UnboundedReceiver<char>,
        ended: tokio::sync::oneshot::Receiver<()>,
    ) -> crate::line::CallerLine {
        crate::line::CallerLine {
            db: self.db.clone(),
            sip: self.sip.clone(),
            call: self.call,
            account: self.account,
            relay: self.relay.clone(),
            data_dir: self.data_dir.clone(),
            records: session.records.clone(),
            record: session.record,
            digits,
            caller: session.ctx.caller_number.clone(),
            ended,
        }
    }

    pub(super) async fn queue(&self, engines: &Arc<Engines>, text: &str, interruptible: bool) {
        let (e, t) = (engines.clone(), text.to_string());
        if let Ok(Some(audio)) = tokio::task::spawn_blocking(move || e.speak(&t)).await {
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

    /// Carries out what the conversation decided, then leaves the call.
    pub(super) async fn finish(
        &self,
        engines: &Arc<Engines>,
        session: &mut Session,
        next: Next,
        apology: Option<Vec<i16>>,
        digits: mpsc::UnboundedReceiver<char>,
        ended: tokio::sync::oneshot::Receiver<()>,
    ) {
        session.finish();
        match next {
            Next::Listen => {}
            Next::Hangup { .. } => {
                self.drain(Duration::from_secs(15)).await;
                self.sip.hangup(self.call).await;
            }
            Next::Fallback { target, .. } => {
                // The apology (ready since the call started) plays while the fallback rings.
                lock(&self.playback).stop();
                match apology {
                    Some(a) => lock(&self.playback).push(APOLOGY, a, false),
                    None => self.queue(engines, APOLOGY, false).await,
                }
                self.connect(engines, session, &target, digits, ended).await;
            }
            Next::Transfer { target, .. } => {
                self.drain(Duration::from_secs(10)).await;
                self.connect(engines, session, &target, digits, ended).await;
            }
            Next::TakeMessage { .. } => {
                // The agent's box (or one it hands callers to); without one, a person.
                let target = match message_box(&session.agent) {
                    Some(name) => Target::VoicemailBox { name },
                    None => session.agent.escalation_target.clone(),
                };
                self.drain(Duration::from_secs(10)).await;
                self.connect(engines, session, &target, digits, ended).await;
            }
        }
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
                    LegEvent::Answered => {}
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
        Agent::ringing_of(&self.db, self.account, extension).await.1.max(10_000)
    }

    /// Forgets leg events from before a new ring (re-INVITEs of an earlier leg).
    pub(super) async fn fresh_legs(&self) -> tokio::sync::OwnedMutexGuard<mpsc::UnboundedReceiver<LegEvent>> {
        let mut legs = self.legs.clone().lock_owned().await;
        while legs.try_recv().is_ok() {}
        legs
    }

    /// When the person answers, the sentence playing (an apology) ends first; then the caller
    /// hears the person. If nobody answers, the caller is told and the call ends.
    pub(super) fn connect_on_answer(
        &self,
        engines: &Arc<Engines>,
        mut legs: tokio::sync::OwnedMutexGuard<mpsc::UnboundedReceiver<LegEvent>>,
        mut ended: tokio::sync::oneshot::Receiver<()>,
    ) {
        let (relay, playback, sip, call) =
            (self.relay.clone(), self.playback.clone(), self.sip.clone(), self.call);
        let engines = engines.clone();
        tokio::spawn(async move {
            let event = tokio::select! {
                e = legs.recv() => match e {
                    Some(e) => e,
                    None => return,
                },
                _ = &mut ended => return,
            };
            match event {
                LegEvent::Answered => {
                    let until = Instant::now() + Duration::from_secs(5);
                    while Instant::now() < until && lock(&playback).playing() {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    relay.stop_playing(MediaSide::A);
                }
                LegEvent::Left => {}
                LegEvent::Unreached(_) => {
                    let audio =
                        tokio::task::spawn_blocking(move || engines.speak(NOBODY)).await.ok().flatten();
                    {
                        let mut p = lock(&playback);
                        p.filler = None;
                        p.stop();
                        if let Some(a) = audio {
                            p.push(NOBODY, a, false);
                        }
                    }
                    let until = Instant::now() + Duration::from_secs(15);
                    while Instant::now() < until && lock(&playback).playing() {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    sip.hangup(call).await;
                }
            }
        });
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
            tokio::task::spawn_blocking(move || e.speak(&text))
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

    /// A call to an outside number through the account's trunk, presenting the caller.
    pub(super) async fn through_trunk(&self, number: &str, session: &Session) -> Option<RouteDecision> {
        let trunks = crate::store::config::list::<crate::model::Trunk>(&self.db, self.account).await.ok()?;
        let trunk = trunks.into_iter().next()?.spec;
        let peer = tokio::net::lookup_host((trunk.host.as_str(), trunk.port)).await.ok()?.next()?;
        let caller_id = session
            .ctx
            .caller_number
            .clone()
            .or(trunk.caller_id.clone())
            .unwrap_or_else(|| "anonymous".into());
        Some(RouteDecision::Dial {
            uri: format!("sip:{number}@{}:{}", trunk.host, trunk.port),
            peer,
            caller_id,
            credentials: trunk.username.clone().zip(trunk.password.clone()),
            ring_timeout_ms: 60_000,
            media: MediaPorts { a: self.relay.a_local, b: self.relay.b_local },
        })
    }

    /// Sends the caller to `target` (the agent's part of the call ends here).
    pub(super) async fn connect(
        &self,
        engines: &Arc<Engines>,
        session: &Session,
        target: &Target,
        digits: mpsc::UnboundedReceiver<char>,
        ended: tokio::sync::oneshot::Receiver<()>,
    ) {
        match target {
            Target::Agent { extension } => {
                let (lines, ring_ms) = Agent::ringing_of(&self.db, self.account, extension).await;
                // Ringback once the agent's words have played; the relay stops it when answered.
                lock(&self.playback).filler = Some(Box::new(Tone::ringback(RATE).for_ms(ring_ms + 1000)));
                let legs = self.fresh_legs().await;
                self.ring(extension, lines, ring_ms).await;
                self.connect_on_answer(engines, legs, ended);
            }
            Target::External { number } => match self.through_trunk(number, session).await {
                Some(decision) => {
                    lock(&self.playback).filler = Some(Box::new(Tone::ringback(RATE).for_ms(61_000)));
                    let legs = self.fresh_legs().await;
                    self.sip.route(self.call, decision).await;
                    self.connect_on_answer(engines, legs, ended);
                }
                None => {
                    session.event("handoff_failed", json!({ "target": target, "reason": "no usable trunk" }));
                    self.drain(Duration::from_secs(10)).await;
                    self.say_and_wait(engines, NOBODY).await;
                    self.sip.hangup(self.call).await;
                }
            },
            Target::IvrMenu { name } => {
                self.drain(Duration::from_secs(10)).await;
                self.relay.stop_playing(MediaSide::A);
                let ivr = crate::ivr::IvrCall {
                    line: self.line(session, digits, ended),
                    // The menu may lead to another AI agent, which then gets the hand-off events.
                    legs: Some(std::mem::replace(&mut *self.legs.lock().await, mpsc::unbounded_channel().1)),
                    live: self.live.clone(),
                };
                tokio::spawn(ivr.run(name.clone()));
            }
            Target::Hangup => {
                self.drain(Duration::from_secs(10)).await;
                self.sip.hangup(self.call).await;
            }
            Target::Queue { name } => {
                self.drain(Duration::from_secs(10)).await;
                let waiting = crate::queue::QueueCall {
                    line: self.line(session, digits, ended),
                    // The queue gets the hand-off events from now on.
                    legs: std::mem::replace(&mut *self.legs.lock().await, mpsc::unbounded_channel().1),
                    queue: name.clone(),
                };
                tokio::spawn(waiting.run());
            }
            Target::VoicemailBox { name } => {
                self.drain(Duration::from_secs(10)).await;
                self.relay.stop_playing(MediaSide::A);
                let line = self.line(session, digits, ended);
                let deposit = crate::voicemail::Deposit {
                    from: line.caller_or_anonymous(),
                    line,
                    box_name: name.clone(),
                    // The agent has just asked for the message: a short hint, then the beep.
                    greeting: Some("Press the pound key when you are done.".into()),
                };
                tokio::spawn(deposit.run());
            }
            other => {
                // Queues, voicemail, schedules, other AI agents and outside numbers as a
                // hand-off come with their features; until then the caller is told and let go.
                tracing::warn!(call = %self.call, target = ?other, "hand-off target not available yet");
                session.event(
                    "handoff_failed",
                    json!({ "target": other, "reason": "target type not available yet" }),
                );
                self.drain(Duration::from_secs(10)).await;
                self.say_and_wait(engines, NOBODY).await;
                self.sip.hangup(self.call).await;
            }
        }
    }
}
