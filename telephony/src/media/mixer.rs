//! A conference's mixer, sans-IO: each party hands in what it says, 20 ms at a time, and every
//! tick each party gets everyone else (mix-minus: never its own voice back). A muted party is
//! heard by nobody and still hears the others; a party that whispers is heard by one other
//! party only (a supervisor coaching an agent whom the caller must not hear). The driver calls `poll_mix` once per 20 ms; time
//! is the number of ticks, nothing here reads a clock.
//!
//! Parties' frames arrive on their own clocks (each leg's relay ticks by itself), so each party
//! has a short queue: one frame is taken per tick, a party with nothing queued is silent for
//! that tick, and a queue longer than `MAX_QUEUE` loses its oldest frames (a party whose clock
//! runs ahead must not build up delay).

use std::collections::VecDeque;

/// A party's handle in one mixer.
pub type PartyId = u32;

/// Frames a party may have waiting; older ones are dropped.
pub const MAX_QUEUE: usize = 3;

struct Party {
    id: PartyId,
    muted: bool,
    /// Heard by this party only (a whisper); by everyone when `None`.
    only_to: Option<PartyId>,
    queue: VecDeque<Vec<i16>>,
}

/// Mix-minus over any number of parties, at one frame length (160 samples: 20 ms at 8 kHz).
pub struct Mixer {
    frame: usize,
    parties: Vec<Party>,
    /// The sum of every unmuted party's frame, reused between ticks.
    total: Vec<i32>,
}

impl Mixer {
    pub fn new(frame: usize) -> Mixer {
        Mixer { frame, parties: Vec::new(), total: vec![0; frame] }
    }

    /// Adds a party (a party already there is left as it is).
    pub fn add(&mut self, id: PartyId) {
        if !self.parties.iter().any(|p| p.id == id) {
            self.parties.push(Party { id, muted: false, only_to: None, queue: VecDeque::new() });
        }
    }

    pub fn remove(&mut self, id: PartyId) {
        self.parties.retain(|p| p.id != id);
    }

    pub fn len(&self) -> usize {
        self.parties.len()
    }

    pub fn is_empty(&self) -> bool {
        self.parties.is_empty()
    }

    /// A muted party is heard by nobody (its frames are dropped) and still hears everyone else.
    pub fn set_muted(&mut self, id: PartyId, muted: bool) {
        if let Some(p) = self.parties.iter_mut().find(|p| p.id == id) {
            p.muted = muted;
            p.queue.clear();
        }
    }

    /// A party that whispers to `to` is heard by that party only (`None`: by everyone again).
    pub fn set_whisper(&mut self, id: PartyId, to: Option<PartyId>) {
        if let Some(p) = self.parties.iter_mut().find(|p| p.id == id) {
            p.only_to = to;
        }
    }

    pub fn muted(&self, id: PartyId) -> Option<bool> {
        self.parties.iter().find(|p| p.id == id).map(|p| p.muted)
    }

    /// What a party said for 20 ms (a frame of another length is cut or padded with silence).
    /// Unknown parties are ignored.
    pub fn handle_frame(&mut self, id: PartyId, frame: &[i16]) {
        let Some(p) = self.parties.iter_mut().find(|p| p.id == id) else { return };
        if p.muted {
            return;
        }
        let mut f = frame.iter().copied().take(self.frame).collect::<Vec<_>>();
        f.resize(self.frame, 0);
        p.queue.push_back(f);
        while p.queue.len() > MAX_QUEUE {
            p.queue.pop_front();
        }
    }

    /// One tick: takes one frame from each party and gives every party the sum of the others',
    /// clipped to 16 bits.
    pub fn poll_mix(&mut self) -> Vec<(PartyId, Vec<i16>)> {
        let frame = self.frame;
        self.total.iter_mut().for_each(|s| *s = 0);
        let mut own: Vec<Option<Vec<i16>>> = Vec::with_capacity(self.parties.len());
        // Whispers: heard by one party only, so not in the total.
        let mut whispers: Vec<(PartyId, Vec<i16>)> = Vec::new();
        for p in &mut self.parties {
            let f = if p.muted { None } else { p.queue.pop_front() };
            match (f, p.only_to) {
                (Some(f), Some(to)) => {
                    whispers.push((to, f));
                    own.push(None);
                }
                (f, _) => {
                    if let Some(f) = &f {
                        for (t, s) in self.total.iter_mut().zip(f) {
                            *t += *s as i32;
                        }
                    }
                    own.push(f);
                }
            }
        }
        self.parties
            .iter()
            .zip(own)
            .map(|(p, own)| {
                let to_me: Vec<&Vec<i16>> =
                    whispers.iter().filter(|(to, _)| *to == p.id).map(|(_, w)| w).collect();
                let mixed: Vec<i16> = (0..frame)
                    .map(|k| {
                        let mine = own.as_ref().map_or(0, |o| o[k] as i32);
                        let whispered: i32 = to_me.iter().map(|w| w[k] as i32).sum();
                        clip(self.total[k] - mine + whispered)
                    })
                    .collect();
                (p.id, mixed)
            })
            .collect()
    }
}

fn clip(s: i32) -> i16 {
    s.clamp(i16::MIN as i32, i16::MAX as i32) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(v: i16) -> Vec<i16> {
        vec![v; 160]
    }

    fn out(mix: &[(PartyId, Vec<i16>)], id: PartyId) -> i16 {
        mix.iter().find(|(p, _)| *p == id).map(|(_, f)| f[0]).expect("party mixed")
    }

    #[test]
    fn each_party_hears_everyone_but_itself() {
        let mut m = Mixer::new(160);
        for id in 1..=4 {
            m.add(id);
        }
        for id in 1..=4 {
            m.handle_frame(id, &frame(id as i16 * 10));
        }
        let mix = m.poll_mix();
        assert_eq!(out(&mix, 1), 20 + 30 + 40);
        assert_eq!(out(&mix, 2), 10 + 30 + 40);
        assert_eq!(out(&mix, 4), 10 + 20 + 30);
        // Nothing said on the next tick: silence for all.
        assert!(m.poll_mix().iter().all(|(_, f)| f.iter().all(|s| *s == 0)));
    }

    #[test]
    fn a_muted_party_is_heard_by_nobody_and_still_hears() {
        let mut m = Mixer::new(160);
        for id in 1..=3 {
            m.add(id);
        }
        m.set_muted(2, true);
        for id in 1..=3 {
            m.handle_frame(id, &frame(id as i16 * 100));
        }
        let mix = m.poll_mix();
        assert_eq!(out(&mix, 1), 300);
        assert_eq!(out(&mix, 3), 100);
        assert_eq!(out(&mix, 2), 400, "the muted party hears both others");
        m.set_muted(2, false);
        m.handle_frame(2, &frame(200));
        assert_eq!(out(&m.poll_mix(), 1), 200);
    }

    #[test]
    fn a_whisper_is_heard_by_one_party_only() {
        let mut m = Mixer::new(160);
        for id in 1..=3 {
            m.add(id);
        }
        // 3 (a supervisor) whispers to 2 (the agent); 1 (the caller) does not hear it.
        m.set_whisper(3, Some(2));
        for id in 1..=3 {
            m.handle_frame(id, &frame(id as i16 * 100));
        }
        let mix = m.poll_mix();
        assert_eq!(out(&mix, 1), 200, "the caller hears the agent only");
        assert_eq!(out(&mix, 2), 100 + 300, "the agent hears the caller and the whisper");
        assert_eq!(out(&mix, 3), 100 + 200, "the one who whispers hears both");
        // Back to everyone.
        m.set_whisper(3, None);
        m.handle_frame(3, &frame(300));
        assert_eq!(out(&m.poll_mix(), 1), 300);
    }

    #[test]
    fn loud_parties_clip_instead_of_wrapping_and_queues_stay_short() {
        let mut m = Mixer::new(160);
        for id in 1..=3 {
            m.add(id);
        }
        m.handle_frame(1, &frame(30000));
        m.handle_frame(2, &frame(30000));
        assert_eq!(out(&m.poll_mix(), 3), i16::MAX);
        // A party running ahead keeps at most MAX_QUEUE frames: the oldest go.
        for v in 1..=10 {
            m.handle_frame(1, &frame(v));
        }
        let heard: Vec<i16> = (0..5).map(|_| out(&m.poll_mix(), 2)).collect();
        assert_eq!(heard, vec![8, 9, 10, 0, 0]);
        // Odd lengths are padded or cut, unknown parties ignored.
        m.handle_frame(1, &[5; 10]);
        m.handle_frame(9, &frame(1));
        let mix = m.poll_mix();
        assert_eq!(mix.len(), 3);
        assert!(mix.iter().all(|(_, f)| f.len() == 160));
        m.remove(1);
        assert_eq!(m.len(), 2);
    }
}
