//! A conference bridge: the driver of a [`Mixer`] (its own 20 ms clock) with one [`Port`] per
//! party. A party is one side of a call's relay (`Relay::join`): the relay hands the bridge what
//! that side says and sends that side what the bridge mixed for it, so each call keeps its own
//! codec, jitter buffer, DTMF and recording, and parties on G.711 and on browsers (Opus) mix
//! alike. Dropping a port (its relay ended) takes the party out; dropping the bridge ends it.

use super::mixer::{Mixer, PartyId};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Frames at 8 kHz: 20 ms.
const FRAME: usize = 160;

/// A party's end of the bridge, handed to a relay.
pub struct Port {
    pub(crate) said: mpsc::UnboundedSender<Vec<i16>>,
    pub(crate) hears: mpsc::UnboundedReceiver<Vec<i16>>,
    pending: std::collections::VecDeque<Vec<i16>>,
}

enum Command {
    Join { id: PartyId, said: mpsc::UnboundedReceiver<Vec<i16>>, hears: mpsc::UnboundedSender<Vec<i16>> },
    Leave(PartyId),
    Mute(PartyId, bool),
    Whisper(PartyId, Option<PartyId>),
}

/// Mixing figures, for tests and benchmarks.
#[derive(Debug, Default)]
pub struct BridgeStats {
    /// Ticks mixed, and how many parties the last one had.
    pub ticks: std::sync::atomic::AtomicU64,
    pub parties: std::sync::atomic::AtomicU64,
}

/// A running bridge; dropping it stops mixing (the parties' relays then hear nothing from it).
pub struct Bridge {
    commands: mpsc::UnboundedSender<Command>,
    next: std::sync::atomic::AtomicU32,
    pub stats: Arc<BridgeStats>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Bridge {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Bridge {
    pub fn start() -> Bridge {
        let (commands, rx) = mpsc::unbounded_channel();
        let stats = Arc::new(BridgeStats::default());
        let task = tokio::spawn(run(rx, stats.clone()));
        Bridge { commands, next: std::sync::atomic::AtomicU32::new(1), stats, task }
    }

    /// A new party: its id (for `mute`/`leave`) and the port to hand to its relay.
    pub fn join(&self) -> (PartyId, Port) {
        let id = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (said_tx, said_rx) = mpsc::unbounded_channel();
        let (hears_tx, hears_rx) = mpsc::unbounded_channel();
        let _ = self.commands.send(Command::Join { id, said: said_rx, hears: hears_tx });
        (id, Port { said: said_tx, hears: hears_rx, pending: Default::default() })
    }

    pub fn leave(&self, id: PartyId) {
        let _ = self.commands.send(Command::Leave(id));
    }

    /// A muted party is heard by nobody and still hears everyone.
    pub fn mute(&self, id: PartyId, muted: bool) {
        let _ = self.commands.send(Command::Mute(id, muted));
    }

    /// A party that whispers to `to` is heard by that party only (`None`: by everyone).
    pub fn whisper(&self, id: PartyId, to: Option<PartyId>) {
        let _ = self.commands.send(Command::Whisper(id, to));
    }
}

struct Member {
    id: PartyId,
    said: mpsc::UnboundedReceiver<Vec<i16>>,
    hears: mpsc::UnboundedSender<Vec<i16>>,
}

async fn run(mut commands: mpsc::UnboundedReceiver<Command>, stats: Arc<BridgeStats>) {
    let mut mixer = Mixer::new(FRAME);
    let mut members: Vec<Member> = Vec::new();
    let mut ticker = tokio::time::interval(std::time::Duration::from_millis(20));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                Some(Command::Join { id, said, hears }) => {
                    mixer.add(id);
                    members.push(Member { id, said, hears });
                }
                Some(Command::Leave(id)) => {
                    mixer.remove(id);
                    members.retain(|m| m.id != id);
                }
                Some(Command::Mute(id, on)) => mixer.set_muted(id, on),
                Some(Command::Whisper(id, to)) => mixer.set_whisper(id, to),
                None => break,
            },
            _ = ticker.tick() => {
                let mut gone = Vec::new();
                for m in &mut members {
                    loop {
                        match m.said.try_recv() {
                            Ok(frame) => mixer.handle_frame(m.id, &frame),
                            Err(mpsc::error::TryRecvError::Empty) => break,
                            Err(mpsc::error::TryRecvError::Disconnected) => {
                                gone.push(m.id);
                                break;
                            }
                        }
                    }
                }
                for id in gone {
                    mixer.remove(id);
                    members.retain(|m| m.id != id);
                }
                for (id, frame) in mixer.poll_mix() {
                    if let Some(m) = members.iter().find(|m| m.id == id) {
                        let _ = m.hears.send(frame);
                    }
                }
                stats.ticks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                stats.parties.store(members.len() as u64, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }
}

impl Port {
    /// What this party said (a relay's tick; benchmarks play a relay with it).
    pub fn say(&self, frame: Vec<i16>) {
        let _ = self.said.send(frame);
    }

    /// The next mixed frame for this party; frames beyond the newest `keep` are dropped so
    /// that a relay ticking behind the bridge does not build up delay.
    pub fn next(&mut self, keep: usize) -> Option<Vec<i16>> {
        while let Ok(f) = self.hears.try_recv() {
            self.pending.push_back(f);
        }
        while self.pending.len() > keep.max(1) {
            self.pending.pop_front();
        }
        self.pending.pop_front()
    }
}
