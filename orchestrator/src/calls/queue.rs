//! Call queues: a caller we answered waits in line (the queue's greeting, then hold music or
//! the hold chime, with their position and estimated wait announced now and then) while the
//! first caller in line is offered to the queue's members one at a time, by the queue's
//! strategy (ring-all: to every free member at once, the first to answer takes it), skipping agents whose status is away, on a break or offline. When a member
//! answers, the caller is connected and the member is the call's agent. When nobody can take
//! calls (no member could even ring: all unregistered or unavailable; members busy on calls
//! are there, and the caller waits for them), the caller has waited `max_wait_seconds`, or
//! the caller presses the queue's opt-out key (also while a member's phone rings: the ringing
//! stops), the caller goes to the overflow target (or the queue's voicemail box) through the
//! dispatcher. A supervisor may pick a waiting caller (`calls::waiting`): whoever they name
//! rings next, ahead of the line.

use crate::calls::activity::Line;
use crate::calls::answered::{AnsweredCall, Next, Party, Rang, NOBODY};
use crate::calls::waiting::{self, Place};
use crate::model::{Agent, Prompt, Queue, QueueStrategy, Target};
use serde_json::json;
use std::time::Duration;
use switchboard_telephony::media::player::{Source, Tone};
use switchboard_telephony::media::relay::MediaSide;
use switchboard_telephony::sip::b2bua::RouteDecision;
use tokio::time::Instant;

/// Pause between rounds of offering the first caller to the members (all busy or not answering).
const RETRY: Duration = Duration::from_secs(3);

/// How offering the call to the members went.
enum Round {
    Answered(String),
    /// Nobody could even ring (unregistered, unavailable, no members).
    NobodyThere,
    /// Members rang but were busy or did not answer.
    NotNow,
    CallerLeft,
    /// The caller pressed the opt-out key while a member's phone rang.
    OptedOut,
}

/// Why the caller leaves the queue without a member.
enum Leave {
    Overflow(&'static str),
    OptedOut,
    Abandoned,
}

/// Hold music: the queue's audio entry, looping; else the hold chime.
async fn hold(call: &AnsweredCall, spec: &Queue) -> Box<dyn Source + Send> {
    if let Some(name) = &spec.hold_music {
        if let Some(music) = crate::calls::prompts::audio_entry(call, name, true).await {
            return music;
        }
        tracing::warn!(entry = %name, "hold music unusable; playing the hold chime");
    }
    Box::new(Tone::hold(8000))
}

/// Offers the call to each member in turn until one answers.
async fn offer(call: &mut AnsweredCall, queue: &str, spec: &Queue) -> Round {
    let members = call.snapshot.borrow().queue_members(call.account, queue);
    // Agents on a call or wrapping one up are not offered another; but they are there, so the
    // caller waits for them (as Asterisk's leavewhenempty=unavailable: busy is not empty).
    let total = members.len();
    let members: Vec<_> =
        members.into_iter().filter(|a| !call.live.agents().busy(call.account, &a.extension)).collect();
    let mut rang = members.len() < total;
    // Made unavailable for missed offers (before the configuration's copy says so).
    let members: Vec<_> = members
        .into_iter()
        .filter(|a| waiting::set_away_because(call.account, &a.extension).is_none())
        .collect();
    if spec.strategy == QueueStrategy::RingAll && members.len() > 1 {
        let mut claimed = Vec::new();
        for agent in members {
            match claim(call, spec, &agent.extension).await {
                true => claimed.push(agent),
                false => rang = true,
            }
        }
        if claimed.is_empty() {
            return Round::NotNow;
        }
        let round = ring_all(call, queue, spec, claimed.clone(), rang).await;
        for agent in &claimed {
            let answered = matches!(&round, Round::Answered(x) if *x == agent.extension);
            release(call, &agent.extension, answered).await;
        }
        return round;
    }
    let members =
        crate::calls::strategy::order(spec.strategy, call.account, queue, members, call.live.agents());
    for agent in members {
        // Another node of the cluster is offering them a caller right now: they are there.
        if !claim(call, spec, &agent.extension).await {
            rang = true;
            continue;
        }
        let rung = ring(call, queue, spec, &agent.extension, agent.lines as usize).await;
        release(call, &agent.extension, matches!(rung, Rang::Answered)).await;
        match rung {
            Rang::Answered => return Round::Answered(agent.extension),
            Rang::CallerLeft => return Round::CallerLeft,
            Rang::Key(_) => return Round::OptedOut,
            Rang::Unreached(status) => rang |= unanswered(call, queue, spec, &agent.extension, status),
        }
    }
    if rang {
        Round::NotNow
    } else {
        Round::NobodyThere
    }
}

/// On a node of a cluster, claims the member for this offer, so that no other node rings them
/// meanwhile (exactly one node wins; a claim never released runs out after the ring time). A
/// single node needs no claim; with the database unreachable the offer goes ahead.
async fn claim(call: &AnsweredCall, spec: &Queue, extension: &str) -> bool {
    let Some(node) = call.db.node() else { return true };
    let now = crate::clock::now_ms();
    let until = now + spec.ring_timeout_seconds as i64 * 1000 + 5_000;
    match crate::store::shared_queues::claim_agent(&call.db, node, call.account, extension, now, until).await
    {
        Ok(claimed) => claimed,
        Err(e) => {
            tracing::warn!(error = %e, extension, "cannot claim a queue member; offering the call anyway");
            true
        }
    }
}

/// The offer to `extension` ended: other nodes may offer them callers again. After an answer
/// the claim is held a moment longer, until every node has heard they are busy (shared within
/// half a second), so that none rings them meanwhile.
async fn release(call: &AnsweredCall, extension: &str, answered: bool) {
    let Some(node) = call.db.node() else { return };
    let (db, account, extension) = (call.db.clone(), call.account, extension.to_string());
    let release = async move {
        if answered {
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        }
        let released = crate::store::shared_queues::release_agent(&db, node, account, &extension).await;
        if let Err(e) = released {
            tracing::warn!(error = %e, %extension, "cannot release a queue member (the claim runs out by itself)");
        }
    };
    match answered {
        true => drop(tokio::spawn(release)),
        false => release.await,
    }
}

/// A member's phone did not take the offer (SIP status): recorded, a ring-out counted as a
/// missed offer; whether they were there (busy or not answering is; not registered is not).
fn unanswered(call: &mut AnsweredCall, queue: &str, spec: &Queue, extension: &str, status: u16) -> bool {
    call.event("queue_offer", json!({ "queue": queue, "agent": extension, "status": status }));
    if status == 408 {
        missed(call, spec, extension);
    }
    status != 480
}

/// Rings one extension for the caller: a member in turn, or whoever a supervisor picked. An
/// answer makes them the call's agent (on a call, then wrap-up).
async fn ring(call: &mut AnsweredCall, queue: &str, spec: &Queue, extension: &str, lines: usize) -> Rang {
    let ring_ms = spec.ring_timeout_seconds as u64 * 1000;
    let decision = RouteDecision::Ring {
        account: call.account,
        extension: extension.to_string(),
        max_lines: lines,
        ring_timeout_ms: ring_ms,
        media: call.media(),
    };
    let opt_out = spec.opt_out_digit.as_deref().and_then(|d| d.chars().next());
    let rang = call.offer(Party::Agent(extension.to_string()), decision, ring_ms, opt_out).await;
    if let Rang::Answered = rang {
        took(call, queue, spec, extension);
    }
    rang
}

/// Ring-all: every free member's phones ring at once; the first to answer takes the caller
/// (the others stop ringing). Nobody answering counts as a missed offer for each of them.
async fn ring_all(
    call: &mut AnsweredCall,
    queue: &str,
    spec: &Queue,
    members: Vec<Agent>,
    mut rang: bool,
) -> Round {
    let ring_ms = spec.ring_timeout_seconds as u64 * 1000;
    let decision = RouteDecision::RingGroup {
        account: call.account,
        members: members.iter().map(|a| (a.extension.clone(), a.lines as usize)).collect(),
        ring_timeout_ms: ring_ms,
        media: call.media(),
    };
    let parties = members.iter().map(|a| Party::Agent(a.extension.clone())).collect();
    let opt_out = spec.opt_out_digit.as_deref().and_then(|d| d.chars().next());
    match call.offer_to(parties, decision, ring_ms, opt_out).await {
        (Rang::Answered, party) => {
            let extension = party.map_or_else(|| members[0].extension.clone(), |p| p.endpoint().to_string());
            took(call, queue, spec, &extension);
            Round::Answered(extension)
        }
        (Rang::CallerLeft, _) => Round::CallerLeft,
        (Rang::Key(_), _) => Round::OptedOut,
        (Rang::Unreached(status), _) => {
            for agent in &members {
                rang |= unanswered(call, queue, spec, &agent.extension, status);
            }
            if rang {
                Round::NotNow
            } else {
                Round::NobodyThere
            }
        }
    }
}

/// `extension` answered the queue's caller: they are its agent (on a call, then wrap-up).
fn took(call: &mut AnsweredCall, queue: &str, spec: &Queue, extension: &str) {
    crate::calls::strategy::answered(call.account, queue, extension);
    waiting::offer_answered(call.account, extension);
    let line = Line::new(call.call, call.caller.clone(), call.record);
    call.live.agents().answered(call.account, extension, line, spec.wrap_up_seconds);
    if let Some(key) = call.record {
        call.live.recordings().answered(key, Some(queue), extension);
        call.live.coaching().answered(key, queue, extension);
    }
}

/// A member let the caller's offer ring out: after the queue's `max_missed_offers` in a row,
/// they are set unavailable (their status, with the reason kept for their workspace).
fn missed(call: &mut AnsweredCall, spec: &Queue, extension: &str) {
    if !waiting::offer_missed(call.account, extension, spec.max_missed_offers) {
        return;
    }
    // Written beside the queue (the caller's wait does not wait on the database); until the
    // configuration's copy has it, `waiting` keeps the agent from being offered calls.
    let (db, account, agent, now) =
        (call.db.clone(), call.account, extension.to_string(), crate::clock::now_ms());
    tokio::spawn(async move {
        let set = crate::store::presence::set(&db, account, &agent, "away", now).await;
        let noted = crate::store::presence::record_change(&db, account, &agent, "away", now).await;
        if let Err(e) = set.and(noted) {
            tracing::warn!(error = %e, extension = %agent, "cannot set an agent who misses calls unavailable");
        }
    });
    tracing::info!(
        account = call.account,
        extension,
        missed = spec.max_missed_offers,
        "agent set unavailable after missed queue calls"
    );
    call.event(
        "agent_set_unavailable",
        json!({ "agent": extension, "missed_offers": spec.max_missed_offers }),
    );
}

/// The caller is connected to `agent` after waiting since `joined`.
fn connected(call: &mut AnsweredCall, queue: &str, agent: &str, joined: Instant) -> Next {
    tracing::debug!(call = %call.call, queue, %agent, "queue call answered");
    let waited_ms = joined.elapsed().as_millis() as u64;
    waiting::answered_after(call.account, queue, waited_ms);
    // The member hears the caller (the hold music stops).
    call.relay.stop_playing(MediaSide::A);
    call.event("queue_answered", json!({ "queue": queue, "agent": agent, "waited_ms": waited_ms }));
    Next::Done
}

/// Waits `d`, or less when the caller hangs up or presses a key (returned).
async fn pause(call: &mut AnsweredCall, d: Duration) -> Option<char> {
    tokio::select! {
        _ = tokio::time::sleep(d) => None,
        _ = &mut call.ended => None,
        k = call.digits.recv() => k,
    }
}

/// Runs the caller's wait in `queue`; where they go when no member takes them.
pub async fn run(call: &mut AnsweredCall, queue: &str) -> Next {
    let spec = call.snapshot.borrow().queue(call.account, queue).cloned();
    let spec = match spec {
        Some(q) => q,
        None => {
            tracing::warn!(call = %call.call, queue, "no such queue");
            call.event("dispatch_failed", json!({ "reason": format!("no queue {queue}") }));
            call.say_text(NOBODY).await;
            return Next::To(Target::Hangup);
        }
    };
    call.finish_lead_in(Duration::from_secs(15)).await;
    let opt_out = spec.opt_out_digit.as_deref().and_then(|d| d.chars().next());
    // A queue that lets callers leave by a key lets them leave by saying so, too.
    let mut ears = opt_out.and_then(|_| crate::calls::ivr_speech::Listener::start_if_ready(&call.relay));
    let mut place = Place::join(call.account, queue, call.caller.clone(), call.record);
    tracing::debug!(call = %call.call, queue, position = place.position(), "waiting in queue");
    let joined = Instant::now();
    let waited = |joined: Instant| joined.elapsed().as_millis() as u64;
    call.event("queue_joined", json!({ "queue": queue, "position": place.position() }));
    if let Some(greeting) = spec.greeting.clone() {
        call.say(&greeting).await;
    }
    drop(call.relay.play(MediaSide::A, hold(call, &spec).await));
    let deadline = joined + Duration::from_secs(spec.max_wait_seconds as u64);
    let every = Duration::from_secs(spec.announce_every_seconds.max(15) as u64);
    let mut next_announcement = Instant::now() + every;
    let leave = loop {
        if call.caller_left() {
            break Leave::Abandoned;
        }
        // Keys pressed while waiting: the opt-out key leaves the queue; others are ignored.
        let mut opted_out = false;
        while let Ok(k) = call.digits.try_recv() {
            opted_out |= Some(k) == opt_out;
        }
        while let Some(text) = ears.as_mut().and_then(|l| l.try_next()) {
            let leaving = crate::calls::ivr_speech::wants_to_leave(&text);
            call.event("queue_said", json!({ "queue": queue, "text": text, "leaves": leaving }));
            opted_out |= leaving;
        }
        if opted_out {
            break Leave::OptedOut;
        }
        if Instant::now() >= deadline {
            break Leave::Overflow("waited too long");
        }
        if (spec.announce_position || spec.announce_wait_time) && Instant::now() >= next_announcement {
            next_announcement = Instant::now() + every;
            let n = place.position();
            let mut text = match (spec.announce_position, n) {
                (false, _) => String::new(),
                (true, 0 | 1) => "You are next in line. ".to_string(),
                (true, n) => format!("You are caller number {n} in line. "),
            };
            // Asterisk's announce-holdtime: the queue's recent hold time less what they waited.
            let estimate = waiting::estimated_minutes(call.account, queue, waited(joined));
            if let (true, Some(minutes)) = (spec.announce_wait_time, estimate) {
                let unit = if minutes == 1 { "minute" } else { "minutes" };
                text.push_str(&format!("Your estimated wait is about {minutes} {unit}. "));
            }
            text.push_str("Thank you for waiting.");
            call.event("queue_announced", json!({ "queue": queue, "position": n, "text": text }));
            call.say(&Prompt::Text { text, voice: None }).await;
            drop(call.relay.play(MediaSide::A, hold(call, &spec).await));
        }
        // A supervisor picked this caller: their phone (or the agent they chose) rings now.
        if let Ok(extension) = place.picked.try_recv() {
            call.event("queue_picked", json!({ "queue": queue, "extension": extension }));
            match ring(call, queue, &spec, &extension, 2).await {
                Rang::Answered => return connected(call, queue, &extension, joined),
                Rang::CallerLeft => break Leave::Abandoned,
                Rang::Key(_) => break Leave::OptedOut,
                Rang::Unreached(status) => {
                    call.event(
                        "queue_offer",
                        json!({ "queue": queue, "agent": extension, "status": status }),
                    );
                }
            }
            continue;
        }
        if place.position() > 1 {
            if let Some(k) = pause(call, Duration::from_millis(500)).await {
                if Some(k) == opt_out {
                    break Leave::OptedOut;
                }
            }
            continue;
        }
        match offer(call, queue, &spec).await {
            Round::Answered(agent) => return connected(call, queue, &agent, joined),
            Round::CallerLeft => break Leave::Abandoned,
            Round::OptedOut => break Leave::OptedOut,
            Round::NobodyThere => break Leave::Overflow("nobody can take calls"),
            Round::NotNow => {
                if let Some(k) = pause(call, RETRY).await {
                    if Some(k) == opt_out {
                        break Leave::OptedOut;
                    }
                }
            }
        }
    };
    drop(place);
    let reason = match leave {
        Leave::Abandoned => {
            call.event("queue_abandoned", json!({ "queue": queue, "waited_ms": waited(joined) }));
            call.set_verdict(crate::store::calls::Disposition::Abandoned);
            return Next::Done;
        }
        Leave::OptedOut => "the caller chose to leave",
        Leave::Overflow(reason) => reason,
    };
    let target =
        spec.overflow_target.clone().or(spec.voicemail_box.clone().map(|name| Target::VoicemailBox { name }));
    call.event(
        "queue_overflow",
        json!({ "queue": queue, "reason": reason, "target": target, "waited_ms": waited(joined) }),
    );
    call.relay.stop_playing(MediaSide::A);
    match target {
        Some(target) => Next::To(target),
        None => {
            call.say_text(NOBODY).await;
            Next::To(Target::Hangup)
        }
    }
}

#[cfg(test)]
mod journey {
    use crate::calls::testing::{prompt, Asked, Call, Happened, Heard};
    use crate::calls::LegEvent;
    use crate::model::Target;
    use std::time::Duration;

    /// A queue of its own per test (callers wait in one process-wide line per queue).
    fn config(queue: &str) -> String {
        config_with(queue, "linear")
    }

    fn config_with(queue: &str, strategy: &str) -> String {
        format!(
            r#"
queues:
  - name: {queue}
    strategy: {strategy}
    greeting: {{type: text, text: "Welcome to support."}}
    ring_timeout_seconds: 10
    max_wait_seconds: 60
    opt_out_digit: "1"
    overflow_target: {{type: voicemail_box, name: general}}
agents:
  - {{extension: "101", display_name: A, queues: [{{queue: {queue}, priority: 2}}]}}
  - {{extension: "102", display_name: B, queues: [{{queue: {queue}, priority: 1}}]}}
  - {{extension: "103", display_name: C, queues: [{{queue: {queue}, priority: 1}}]}}
voicemail_boxes:
  - name: general
    greeting: {{type: text, text: "Leave a message."}}
"#
        )
    }

    async fn start(queue: &str) -> Call {
        prompt("Welcome to support.");
        prompt("Leave a message.");
        // Agent 103 set a status other than available.
        let mut call = Call::start(&config(queue), &["103"], Target::Queue { name: queue.into() }).await;
        assert_eq!(call.hears().await, Heard::Prompt("Welcome to support.".into()));
        call
    }

    /// Answers every ring with `status` until the caller hears `prompt`; the rings asked for.
    async fn ring_until(call: &mut Call, status: u16, prompt: &str) -> (Vec<String>, Duration) {
        let mut rung = Vec::new();
        loop {
            match call.next().await {
                (_, Happened::Asked(Asked::Ring { extension, .. })) => {
                    rung.push(extension);
                    call.leg(LegEvent::Unreached(status));
                }
                (at, Happened::Heard(Heard::Prompt(p))) if p == prompt => return (rung, at),
                _ => {}
            }
        }
    }

    #[tokio::test]
    async fn members_are_offered_by_priority_skipping_those_away() {
        let mut call = start("priority").await;
        assert_eq!(call.asked().await, Asked::Ring { extension: "102".into(), ring_ms: 10_000 });
        call.leg(LegEvent::Unreached(486));
        assert_eq!(call.asked().await, Asked::Ring { extension: "101".into(), ring_ms: 10_000 });
        call.leg(LegEvent::Answered);
        call.finished().await;
        let offers: Vec<_> = call.events_of("queue_offer").iter().map(|e| e["agent"].clone()).collect();
        assert_eq!(offers, vec!["102"]);
        assert_eq!(call.events_of("queue_answered")[0]["agent"], "101");
    }

    /// Ring-all: every free member (103 is away) rings at once; 101 answers and is the call's
    /// agent; the record has a leg per member. Unanswered, each of them missed the offer.
    #[tokio::test]
    async fn ring_all_rings_every_free_member_at_once_and_whoever_answers_takes_it() {
        prompt("Welcome to support.");
        prompt("Leave a message.");
        let target = Target::Queue { name: "everyone".into() };
        let mut call = Call::start(&config_with("everyone", "ring_all"), &["103"], target).await;
        assert_eq!(call.hears().await, Heard::Prompt("Welcome to support.".into()));
        let rings = Asked::RingAll { extensions: vec!["102".into(), "101".into()], ring_ms: 10_000 };
        assert_eq!(call.asked().await, rings);
        call.leg(LegEvent::Unreached(408));
        // Nobody answered: both missed it; the next round rings both again.
        assert_eq!(call.asked().await, rings);
        call.leg(LegEvent::Answered);
        call.leg(LegEvent::AnsweredBy("101".into()));
        call.finished().await;
        let offers: Vec<_> = call.events_of("queue_offer").iter().map(|e| e["agent"].clone()).collect();
        assert_eq!(offers, vec!["102", "101"]);
        assert_eq!(call.events_of("queue_answered")[0]["agent"], "101");
    }

    /// Round robin with memory: the next caller is offered first to the member after the one
    /// who answered the last call (here, with 103 away: 102 answers, then 101 is first).
    #[tokio::test]
    async fn round_robin_starts_after_whoever_answered_last() {
        let mut first_rings = Vec::new();
        for _ in 0..3 {
            prompt("Welcome to support.");
            prompt("Leave a message.");
            let target = Target::Queue { name: "rr".into() };
            let mut call = Call::start(&config_with("rr", "round_robin"), &["103"], target).await;
            assert_eq!(call.hears().await, Heard::Prompt("Welcome to support.".into()));
            let Asked::Ring { extension, .. } = call.asked().await else { panic!("no ring") };
            first_rings.push(extension);
            call.leg(LegEvent::Answered);
            call.finished().await;
            // The next call's database opens on the real clock.
            tokio::time::resume();
        }
        assert_eq!(first_rings, ["102", "101", "102"]);
    }

    #[tokio::test]
    async fn with_nobody_registered_the_caller_overflows_at_once() {
        let mut call = start("nobody").await;
        let (rung, at) = ring_until(&mut call, 480, "Leave a message.").await;
        assert_eq!(rung, vec!["102", "101"]);
        assert!(at < Duration::from_secs(5), "overflowed after {at:?}");
        call.hang_up();
        call.finished().await;
        assert_eq!(call.events_of("queue_overflow")[0]["reason"], "nobody can take calls");
    }

    /// Members who let offers ring out three times in a row are set unavailable (their status,
    /// with the reason for their workspace), and the caller then overflows. (Extensions of
    /// their own: the count of misses is process-wide.)
    #[tokio::test]
    async fn members_who_let_three_offers_ring_out_are_set_unavailable() {
        prompt("Welcome to support.");
        prompt("Leave a message.");
        let yaml = config("missing").replace("\"101\"", "\"201\"").replace("\"102\"", "\"202\"");
        let mut call = Call::start(&yaml, &["103"], Target::Queue { name: "missing".into() }).await;
        assert_eq!(call.hears().await, Heard::Prompt("Welcome to support.".into()));
        let (rung, _) = ring_until(&mut call, 408, "Leave a message.").await;
        assert_eq!(rung, ["202", "201", "202", "201", "202", "201"]);
        call.hang_up();
        call.finished().await;
        let set: Vec<_> =
            call.events_of("agent_set_unavailable").iter().map(|e| e["agent"].clone()).collect();
        assert_eq!(set, ["202", "201"]);
        assert_eq!(call.events_of("queue_overflow")[0]["reason"], "nobody can take calls");
        // Their statuses are written beside the queue, on the real clock.
        tokio::time::resume();
        for x in ["201", "202"] {
            assert!(crate::calls::waiting::set_away_because(crate::calls::testing::ACCOUNT, x).is_some());
            let mut chosen = None;
            for _ in 0..100 {
                chosen = crate::store::presence::chosen(&call.db(), crate::calls::testing::ACCOUNT, x)
                    .await
                    .unwrap();
                if chosen.is_some() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert_eq!(chosen.map(|(s, _)| s).as_deref(), Some("away"), "{x}'s status");
        }
    }

    #[tokio::test]
    async fn busy_members_are_retried_until_the_longest_wait() {
        let mut call = start("busy").await;
        let (rung, at) = ring_until(&mut call, 486, "Leave a message.").await;
        assert!(rung.len() >= 10, "offered again and again: {rung:?}");
        assert!(at >= Duration::from_secs(60) && at < Duration::from_secs(70), "overflowed after {at:?}");
        call.hang_up();
        call.finished().await;
        assert_eq!(call.events_of("queue_overflow")[0]["reason"], "waited too long");
    }

    #[tokio::test]
    async fn the_opt_out_key_leaves_the_queue_for_its_overflow() {
        let mut call = start("opt-out").await;
        assert!(matches!(call.asked().await, Asked::Ring { .. }));
        call.leg(LegEvent::Unreached(486));
        assert!(matches!(call.asked().await, Asked::Ring { .. }));
        call.leg(LegEvent::Unreached(486));
        // Between rounds.
        call.press('1');
        let (rung, _) = ring_until(&mut call, 486, "Leave a message.").await;
        assert!(rung.is_empty(), "rang {rung:?} after the opt-out");
        call.hang_up();
        call.finished().await;
        assert_eq!(call.events_of("queue_overflow")[0]["reason"], "the caller chose to leave");
    }

    #[tokio::test]
    async fn the_opt_out_key_while_a_member_rings_stops_the_ringing() {
        let mut call = start("opt-out-ringing").await;
        assert!(matches!(call.asked().await, Asked::Ring { .. }));
        tokio::time::sleep(Duration::from_secs(3)).await;
        call.press('5'); // not the opt-out key: the phone rings on
        call.press('1');
        assert_eq!(call.asked().await, Asked::StopRinging);
        call.leg(LegEvent::Unreached(487));
        let (rung, at) = ring_until(&mut call, 486, "Leave a message.").await;
        assert!(rung.is_empty(), "rang {rung:?} after the opt-out");
        assert!(at < Duration::from_secs(6), "the caller waited {at:?}");
        call.hang_up();
        call.finished().await;
        assert_eq!(call.events_of("queue_overflow")[0]["reason"], "the caller chose to leave");
    }

    #[tokio::test]
    async fn a_caller_who_hangs_up_while_waiting_is_abandoned() {
        let mut call = start("abandon").await;
        assert!(matches!(call.asked().await, Asked::Ring { .. }));
        tokio::time::sleep(Duration::from_secs(4)).await;
        call.hang_up();
        call.finished().await;
        assert_eq!(call.events_of("queue_abandoned").len(), 1);
        assert!(call.events_of("queue_overflow").is_empty());
    }
}
