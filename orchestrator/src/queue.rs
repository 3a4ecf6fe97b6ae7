//! Call queues: a caller we answered waits in line (the queue's greeting, then hold music or
//! the hold chime, with their position announced now and then) while the first caller in line
//! is offered to the queue's members one at a time, by membership priority, skipping agents
//! whose status is away, on a break or offline. When a member answers, the caller is connected.
//! When nobody can take calls (no member could even ring: all unregistered or unavailable) or
//! the caller has waited `max_wait_seconds`, the caller goes to the overflow target (or the
//! queue's voicemail box).

use crate::agent::voice::LegEvent;
use crate::model::{Agent, AudioEntry, Prompt, Queue, Target};
use crate::store::config;
use serde_json::json;
use sqlx::Row;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;
use switchboard_telephony::media::player::{Source, Tone, WavPlayer};
use switchboard_telephony::media::relay::MediaSide;
use switchboard_telephony::sip::b2bua::{MediaPorts, RouteDecision};
use tokio::sync::mpsc;
use tokio::time::Instant;

const NOBODY: &str = "I'm sorry, nobody can take your call right now. Please call again later. Goodbye.";
/// Pause between rounds of offering the first caller to the members (all busy or not answering).
const RETRY: Duration = Duration::from_secs(3);

/// Callers waiting, per (account, queue), in arrival order.
#[derive(Default)]
struct Lines {
    waiting: HashMap<(i64, String), VecDeque<u64>>,
    next: u64,
}

fn lines() -> &'static Mutex<Lines> {
    static LINES: std::sync::OnceLock<Mutex<Lines>> = std::sync::OnceLock::new();
    LINES.get_or_init(Mutex::default)
}

fn lock() -> std::sync::MutexGuard<'static, Lines> {
    lines().lock().unwrap_or_else(|e| e.into_inner())
}

/// A caller's place in line; leaving (drop) frees it.
struct Place {
    key: (i64, String),
    id: u64,
}

impl Place {
    fn join(account: i64, queue: &str) -> Place {
        let mut l = lock();
        l.next += 1;
        let id = l.next;
        let key = (account, queue.to_string());
        l.waiting.entry(key.clone()).or_default().push_back(id);
        Place { key, id }
    }

    /// 1 for the first caller in line.
    fn position(&self) -> usize {
        lock().waiting.get(&self.key).and_then(|q| q.iter().position(|&i| i == self.id)).map_or(1, |p| p + 1)
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut l = lock();
        if let Some(q) = l.waiting.get_mut(&self.key) {
            q.retain(|&i| i != self.id);
            if q.is_empty() {
                l.waiting.remove(&self.key);
            }
        }
    }
}

/// Everything a queued call needs.
pub struct QueueCall {
    pub line: crate::line::CallerLine,
    /// What happens to the members offered the call (from the call router).
    pub legs: mpsc::UnboundedReceiver<LegEvent>,
    pub queue: String,
}

/// How offering the call to the members went.
enum Round {
    Answered(String),
    /// Nobody could even ring (unregistered, unavailable, no members).
    NobodyThere,
    /// Members rang but were busy or did not answer.
    NotNow,
    CallerLeft,
}

impl QueueCall {
    fn event(&self, kind: &str, data: serde_json::Value) {
        if let Some(key) = self.line.record {
            self.line.records.event(key, kind, data);
        }
    }

    /// Hold music: the queue's audio entry, looping; else the hold chime.
    async fn hold(&self, spec: &Queue) -> Box<dyn Source + Send> {
        if let Some(name) = &spec.hold_music {
            if let Ok(Some(entry)) =
                config::get_by_key::<AudioEntry>(&self.line.db, self.line.account, name).await
            {
                if let Some(file) = entry.spec.file {
                    let path =
                        self.line.data_dir.join("audio").join(self.line.account.to_string()).join(file);
                    if let Ok(Ok(player)) =
                        tokio::fs::read(&path).await.map(|b| WavPlayer::new(&b, 8000, true))
                    {
                        return Box::new(player);
                    }
                    tracing::warn!(path = %path.display(), "hold music unusable; playing the hold chime");
                }
            }
        }
        Box::new(Tone::hold(8000))
    }

    /// Plays a prompt to the caller and waits for it (or the end of the call).
    async fn say(&mut self, prompt: &Prompt) {
        let source =
            crate::ivr::prompt_source(&self.line.db, self.line.account, &self.line.data_dir, prompt).await;
        let done = self.line.relay.play(MediaSide::A, source);
        tokio::select! {
            _ = done => {}
            _ = &mut self.line.ended => {}
        }
    }

    /// The members who may be offered a call now, best first.
    async fn members(&self) -> Vec<Agent> {
        let mut agents: Vec<(u8, Agent)> = config::list::<Agent>(&self.line.db, self.line.account)
            .await
            .unwrap_or_default()
            .into_iter()
            .filter_map(|a| {
                let priority = a.spec.queues.iter().find(|m| m.queue == self.queue)?.priority;
                Some((priority, a.spec))
            })
            .collect();
        // An agent who set a status other than available is not offered calls; an agent who
        // never set one is (their phone being registered decides).
        let away: Vec<String> = sqlx::query(
            "SELECT extension FROM agent_presence WHERE account_id = $1 AND status <> 'available'",
        )
        .bind(self.line.account)
        .fetch_all(self.line.db.pool())
        .await
        .map(|rows| rows.iter().filter_map(|r| r.try_get::<String, _>("extension").ok()).collect())
        .unwrap_or_default();
        agents.retain(|(_, a)| !away.contains(&a.extension));
        agents.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.extension.cmp(&b.1.extension)));
        agents.into_iter().map(|(_, a)| a).collect()
    }

    /// Offers the call to each member in turn until one answers.
    async fn offer(&mut self, spec: &Queue) -> Round {
        let members = self.members().await;
        let mut rang = false;
        for agent in members {
            while self.legs.try_recv().is_ok() {}
            let ring_ms = spec.ring_timeout_seconds as u64 * 1000;
            let decision = RouteDecision::Ring {
                account: self.line.account,
                extension: agent.extension.clone(),
                max_lines: agent.lines as usize,
                ring_timeout_ms: ring_ms,
                media: MediaPorts { a: self.line.relay.a_local, b: self.line.relay.b_local },
            };
            self.line.sip.route(self.line.call, decision).await;
            let event = tokio::select! {
                e = self.legs.recv() => e,
                _ = &mut self.line.ended => return Round::CallerLeft,
                _ = tokio::time::sleep(Duration::from_millis(ring_ms + 5_000)) => Some(LegEvent::Unreached(408)),
            };
            match event {
                Some(LegEvent::Answered) => return Round::Answered(agent.extension),
                Some(LegEvent::Unreached(status)) => {
                    // Busy or not answering still counts as someone there; not registered does not.
                    rang |= status != 480;
                    self.event(
                        "queue_offer",
                        json!({ "queue": self.queue, "agent": agent.extension, "status": status }),
                    );
                }
                Some(LegEvent::Left) => {}
                None => return Round::CallerLeft,
            }
        }
        if rang {
            Round::NotNow
        } else {
            Round::NobodyThere
        }
    }

    pub async fn run(mut self) {
        let spec = match config::get_by_key::<Queue>(&self.line.db, self.line.account, &self.queue).await {
            Ok(Some(q)) => q.spec,
            _ => {
                tracing::warn!(call = %self.line.call, queue = %self.queue, "no such queue");
                self.say(&Prompt::Text { text: NOBODY.into(), voice: None }).await;
                return self.line.sip.hangup(self.line.call).await;
            }
        };
        let place = Place::join(self.line.account, &self.queue);
        tracing::debug!(call = %self.line.call, queue = %self.queue, position = place.position(), "waiting in queue");
        let joined = Instant::now();
        self.event("queue_joined", json!({ "queue": self.queue, "position": place.position() }));
        if let Some(greeting) = spec.greeting.clone() {
            self.say(&greeting).await;
        }
        drop(self.line.relay.play(MediaSide::A, self.hold(&spec).await));
        let deadline = joined + Duration::from_secs(spec.max_wait_seconds as u64);
        let every = Duration::from_secs(spec.announce_every_seconds.max(15) as u64);
        let mut next_announcement = Instant::now() + every;
        let overflow = loop {
            if self.line.caller_left() {
                self.event(
                    "queue_abandoned",
                    json!({ "queue": self.queue, "waited_ms": joined.elapsed().as_millis() as u64 }),
                );
                return;
            }
            if Instant::now() >= deadline {
                break "waited too long";
            }
            if (spec.announce_position || spec.announce_wait_time) && Instant::now() >= next_announcement {
                next_announcement = Instant::now() + every;
                let n = place.position();
                let text = if n <= 1 {
                    "You are next in line. Thank you for waiting.".to_string()
                } else {
                    format!("You are caller number {n} in line. Thank you for waiting.")
                };
                self.say(&Prompt::Text { text, voice: None }).await;
                drop(self.line.relay.play(MediaSide::A, self.hold(&spec).await));
            }
            if place.position() > 1 {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = &mut self.line.ended => {}
                }
                continue;
            }
            match self.offer(&spec).await {
                Round::Answered(agent) => {
                    tracing::debug!(call = %self.line.call, queue = %self.queue, %agent, "queue call answered");
                    // The member hears the caller (the hold music stops).
                    self.line.relay.stop_playing(MediaSide::A);
                    self.event(
                        "queue_answered",
                        json!({ "queue": self.queue, "agent": agent, "waited_ms": joined.elapsed().as_millis() as u64 }),
                    );
                    return;
                }
                Round::CallerLeft => {
                    self.event(
                        "queue_abandoned",
                        json!({ "queue": self.queue, "waited_ms": joined.elapsed().as_millis() as u64 }),
                    );
                    return;
                }
                Round::NobodyThere => break "nobody can take calls",
                Round::NotNow => {
                    tokio::select! {
                        _ = tokio::time::sleep(RETRY) => {}
                        _ = &mut self.line.ended => {}
                    }
                }
            }
        };
        drop(place);
        let target = spec
            .overflow_target
            .clone()
            .or(spec.voicemail_box.clone().map(|name| Target::VoicemailBox { name }));
        self.event("queue_overflow", json!({ "queue": self.queue, "reason": overflow, "target": target }));
        self.line.relay.stop_playing(MediaSide::A);
        match target {
            Some(Target::VoicemailBox { name }) => {
                let from = self.line.caller_or_anonymous();
                let deposit =
                    crate::voicemail::Deposit { line: self.line, from, box_name: name, greeting: None };
                deposit.run().await;
            }
            Some(Target::Hangup) => self.line.sip.hangup(self.line.call).await,
            other => {
                if other.is_some() {
                    tracing::warn!(call = %self.line.call, target = ?other, "queue overflow target not supported; caller told and let go");
                }
                self.say(&Prompt::Text { text: NOBODY.into(), voice: None }).await;
                self.line.sip.hangup(self.line.call).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Place;

    #[test]
    fn callers_wait_in_arrival_order_and_leaving_moves_the_line_up() {
        let first = Place::join(9_001, "line");
        let second = Place::join(9_001, "line");
        let elsewhere = Place::join(9_001, "other");
        let third = Place::join(9_001, "line");
        assert_eq!((first.position(), second.position(), third.position()), (1, 2, 3));
        assert_eq!(elsewhere.position(), 1, "each queue has its own line");
        drop(first);
        assert_eq!((second.position(), third.position()), (1, 2));
        drop(second);
        assert_eq!(third.position(), 1);
    }
}
