//! Ringing several extensions at once (a ring-all queue): each member's phones ring, each
//! ringing member holds one of their lines, the first to answer takes the call and the others
//! are cancelled.

use super::*;

impl B2bua {
    /// Rings several extensions at once; whoever answers first is counted against their lines
    /// (`answered_leg`), the others are cancelled.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn ring_group(
        &mut self,
        now: u64,
        id: CallId,
        account: i64,
        members: Vec<(String, usize)>,
        ring_timeout_ms: u64,
        media: MediaPorts,
        registrar: &Registrar,
    ) {
        let mut legs = Vec::new();
        let mut busy = false;
        for (extension, max_lines) in members {
            if self.calls_for(account, &extension) >= max_lines {
                busy = true;
                continue;
            }
            for b in registrar.contacts(account, &extension) {
                let transport = static_transport(b.next_hop_transport());
                legs.push((extension.clone(), b.contact.clone(), b.next_hop(), transport, b.path.clone()));
            }
        }
        if legs.is_empty() {
            return if busy {
                self.unreached(now, id, 486, Outcome::Busy)
            } else {
                self.unreached(now, id, 480, Outcome::Rejected(480))
            };
        }
        let Some(call) = self.calls.get_mut(&id) else { return };
        call.media = call.media.or(Some(media));
        let media = call.media.expect("just set");
        call.state = CallState::Ringing;
        call.ring_deadline = Some(now + ring_timeout_ms);
        let mut ringing: Vec<(i64, String)> = legs.iter().map(|(e, ..)| (account, e.clone())).collect();
        ringing.dedup();
        for member in &ringing {
            *self.lines.entry(member.clone()).or_default() += 1;
        }
        let call = self.calls.get_mut(&id).expect("checked above");
        call.ringing_members.extend(ringing);
        for (extension, contact, peer, transport, route) in legs {
            let to = format!("<sip:{extension}@{}>", self.local.ip());
            let member = Some((account, extension));
            let leg = OutLeg {
                uri: contact,
                peer,
                transport,
                to,
                caller_id: None,
                credentials: None,
                member,
                route,
            };
            self.add_outbound(now, id, leg, media.b);
        }
    }

    /// The lines a ring group's members held while they rang, given back (someone answered,
    /// nobody did, or the call ended).
    pub(super) fn stop_ringing_members(&mut self, id: CallId) {
        let Some(call) = self.calls.get_mut(&id) else { return };
        for member in std::mem::take(&mut call.ringing_members) {
            release_line(&mut self.lines, &member);
        }
    }

    /// Leg `idx` answered: its extension's lines count the call (a ring group's answerer; a
    /// plain ring counted it already, which this leaves as it was). The extension, for the
    /// `Answered` event.
    pub(super) fn answered_leg(&mut self, id: CallId, idx: usize) -> Option<String> {
        let member = self.calls.get(&id)?.outbound.get(idx)?.member.clone()?;
        if self.calls.get(&id)?.target.as_ref() != Some(&member) {
            self.set_target(id, member.clone());
        }
        Some(member.1)
    }
}
