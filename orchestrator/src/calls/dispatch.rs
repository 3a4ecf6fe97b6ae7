//! The one place that decides what a destination means. A call Switchboard answered is lent to
//! one service after another: each runs it and returns where the caller goes next (`Next`),
//! and `run` sends it there. Every target works from every place that can name one: a number,
//! a schedule, an IVR option or its timeout/invalid target, a queue's overflow, an AI agent's
//! hand-off or fallback, an agent's forwarding and the end of a voicemail message.

use crate::calls::answered::{AnsweredCall, Next, Party, Rang, NOBODY};
use crate::model::{Agent, Target, UNKNOWN_AGENT_RINGING};
use serde_json::json;
use std::time::Duration;
use switchboard_telephony::media::player::Tone;
use switchboard_telephony::media::relay::MediaSide;
use switchboard_telephony::sip::b2bua::RouteDecision;

/// Hand-offs one call may take (a loop of menus and schedules nobody leaves ends here).
const MAX_HOPS: usize = 30;
/// How long an outside number rings.
const DIAL_RING_MS: u64 = 60_000;
const UNREACHABLE: &str = "I'm sorry, that number cannot be reached right now. Goodbye.";

/// Runs an answered call from `first` until no service has anything more for it.
pub async fn run(mut call: AnsweredCall, first: Target) {
    // The account's word on recording comes before anything else the caller hears.
    let announcement = {
        let snapshot = call.snapshot.borrow().clone();
        snapshot.account(call.account).and_then(|a| a.settings.as_ref()?.recording_announcement.clone())
    };
    if let Some(prompt) = announcement {
        call.event("recording_announced", json!({}));
        call.say(&prompt).await;
    }
    resume(call, first).await
}

/// Runs a call that was already someone's (a transfer) from `first`.
pub async fn resume(mut call: AnsweredCall, first: Target) {
    let mut next = Next::To(first);
    for _ in 0..MAX_HOPS {
        if call.caller_left() {
            return;
        }
        next = match next {
            Next::Done => return,
            Next::Message { box_name, greeting } => {
                call.event(
                    "dispatched",
                    json!({ "target": Target::VoicemailBox { name: box_name.clone() } }),
                );
                crate::calls::voicemail::deposit(&mut call, &box_name, Some(greeting)).await
            }
            Next::To(target) => {
                call.event("dispatched", json!({ "target": target }));
                step(&mut call, target).await
            }
        };
    }
    tracing::warn!(call = %call.call, "the call went round its targets too often; hanging up");
    call.event("dispatch_failed", json!({ "reason": "too many hand-offs" }));
    call.hang_up().await;
}

/// One service: the only `match` on a destination.
async fn step(call: &mut AnsweredCall, target: Target) -> Next {
    match target {
        Target::IvrMenu { name } => crate::calls::ivr::run(call, &name).await,
        Target::Queue { name } => crate::calls::queue::run(call, &name).await,
        Target::VoicemailBox { name } => crate::calls::voicemail::deposit(call, &name, None).await,
        Target::AiAgent { name } => crate::agent::voice::VoiceCall::new(name).run(call).await,
        Target::Agent { extension } => ring_agent(call, &extension).await,
        Target::External { number } => dial_out(call, &number).await,
        Target::Schedule { name } => open_or_closed(call, &name),
        Target::Hangup => {
            call.finish_lead_in(Duration::from_secs(15)).await;
            call.hang_up().await;
            Next::Done
        }
    }
}

/// A schedule's target for now (the caller hears nothing of it).
fn open_or_closed(call: &AnsweredCall, name: &str) -> Next {
    let snapshot = call.snapshot.borrow().clone();
    match snapshot.schedule(call.account, name) {
        Some(schedule) => {
            let target = schedule.target_at(crate::clock::now()).clone();
            call.event("schedule", json!({ "schedule": name, "target": target }));
            Next::To(target)
        }
        None => {
            tracing::warn!(call = %call.call, schedule = name, "no such schedule");
            call.event("dispatch_failed", json!({ "reason": format!("no schedule {name}") }));
            Next::To(Target::Hangup)
        }
    }
}

/// Tells the caller nobody can take the call, and hangs up.
async fn nobody(call: &mut AnsweredCall, text: &str) -> Next {
    call.say_text(text).await;
    call.hang_up().await;
    Next::Done
}

/// Rings an agent (ringback for the caller meanwhile). Forwarding applies: unconditional
/// before ringing; on busy or no answer to the agent's forwarding target, else their
/// voicemail box; without either the caller is told nobody can take the call.
pub async fn ring_agent(call: &mut AnsweredCall, extension: &str) -> Next {
    let agent: Option<Agent> = call.snapshot.borrow().agent(call.account, extension).cloned();
    if let Some(target) = agent.as_ref().and_then(|a| a.forwarding.unconditional.clone()) {
        call.event(
            "forwarded",
            json!({ "extension": extension, "reason": "unconditional", "target": target }),
        );
        return Next::To(target);
    }
    let (lines, ring_ms) = agent.as_ref().map(Agent::ringing).unwrap_or(UNKNOWN_AGENT_RINGING);
    let decision = RouteDecision::Ring {
        account: call.account,
        extension: extension.to_string(),
        max_lines: lines,
        ring_timeout_ms: ring_ms,
        media: call.media(),
    };
    let status = match ring(call, Party::Agent(extension.into()), decision, ring_ms).await {
        Rang::Answered | Rang::CallerLeft => return Next::Done,
        Rang::Unreached(status) => status,
        // (No stop key is given here.)
        Rang::Key(_) => 487,
    };
    match agent.as_ref().and_then(|a| forwarding(a, status)) {
        Some(target) => {
            call.event("forwarded", forwarded(extension, status, &target));
            Next::To(target)
        }
        None => nobody(call, NOBODY).await,
    }
}

/// Where an agent's calls go when they do not take one (`status` from the attempt).
pub fn forwarding(agent: &Agent, status: u16) -> Option<Target> {
    let configured =
        if Rang::busy(status) { &agent.forwarding.on_busy } else { &agent.forwarding.on_no_answer };
    configured.clone().or_else(|| agent.voicemail_box.clone().map(|name| Target::VoicemailBox { name }))
}

/// The timeline's note of an agent's call forwarded after `status`.
pub fn forwarded(extension: &str, status: u16, target: &Target) -> serde_json::Value {
    let reason = if Rang::busy(status) { "busy" } else { "no_answer" };
    json!({ "extension": extension, "reason": reason, "target": target })
}

/// Calls an outside number through the account's trunk, presenting the caller's number.
async fn dial_out(call: &mut AnsweredCall, number: &str) -> Next {
    let snapshot = call.snapshot.borrow().clone();
    let Some(trunk) = snapshot.account(call.account).and_then(|a| a.trunks.first().cloned()) else {
        call.event(
            "dispatch_failed",
            json!({ "target": number, "reason": "no trunk configured for outside calls" }),
        );
        return nobody(call, UNREACHABLE).await;
    };
    let peer =
        tokio::net::lookup_host((trunk.host.as_str(), trunk.port)).await.ok().and_then(|mut a| a.next());
    let Some(peer) = peer else {
        call.event(
            "dispatch_failed",
            json!({ "target": number, "reason": format!("cannot resolve {}", trunk.host) }),
        );
        return nobody(call, UNREACHABLE).await;
    };
    // A forwarded call shows who is calling; without a caller number, the trunk's.
    let caller_id = call.caller.clone().or(trunk.caller_id.clone()).unwrap_or_else(|| "anonymous".into());
    let decision = RouteDecision::Dial {
        uri: format!("sip:{number}@{}:{}", trunk.host, trunk.port),
        peer,
        caller_id,
        credentials: trunk.username.clone().zip(trunk.password.clone()),
        ring_timeout_ms: DIAL_RING_MS,
        media: call.media(),
    };
    match ring(call, Party::External(number.into()), decision, DIAL_RING_MS).await {
        Rang::Answered | Rang::CallerLeft => Next::Done,
        Rang::Unreached(_) | Rang::Key(_) => nobody(call, UNREACHABLE).await,
    }
}

/// Rings someone for the caller, who hears ringback once what was playing has ended; when they
/// answer, the caller hears them.
async fn ring(call: &mut AnsweredCall, party: Party, decision: RouteDecision, ring_ms: u64) -> Rang {
    // What the previous service said (an AI agent's "let me get you to a person") ends first.
    let lead_in = call.lead_in.take();
    let relay = call.relay.clone();
    let ringback = tokio::spawn(async move {
        if let Some(done) = lead_in {
            let _ = tokio::time::timeout(Duration::from_secs(10), done).await;
        }
        drop(relay.play(MediaSide::A, Box::new(Tone::ringback(8000).for_ms(ring_ms + 2_000))));
    });
    let rang = call.offer(party, decision, ring_ms, None).await;
    if rang == Rang::Answered {
        // The lead-in plays to its end (a few seconds at most), then the two talk.
        let _ = tokio::time::timeout(Duration::from_secs(10), ringback).await;
    } else {
        ringback.abort();
    }
    call.relay.stop_playing(MediaSide::A);
    rang
}

#[cfg(test)]
mod tests {
    use super::{NOBODY, UNREACHABLE};
    use crate::calls::testing::{prompt, Asked, Call, Heard};
    use crate::calls::LegEvent;
    use crate::model::Target;

    const CONFIG: &str = r#"
agents:
  - extension: "101"
    display_name: Forwarded
    forwarding: {unconditional: {type: external, number: "+15550009999"}}
  - {extension: "102", display_name: Plain}
  - extension: "103"
    display_name: Busy sends to menu
    forwarding: {on_busy: {type: ivr_menu, name: main}}
ivr_menus:
  - name: main
    prompt: {type: text, text: "Main menu."}
    options: [{digit: "1", target: {type: hangup}}]
schedules:
  - {name: loop, time_zone: UTC, weekly: [], open_target: {type: schedule, name: loop}, closed_target: {type: schedule, name: loop}}
"#;

    fn agent(extension: &str) -> Target {
        Target::Agent { extension: extension.into() }
    }

    #[tokio::test]
    async fn unconditional_forwarding_to_an_outside_number_without_a_trunk_is_told_plainly() {
        prompt(UNREACHABLE);
        let mut call = Call::start(CONFIG, &[], agent("101")).await;
        assert_eq!(call.hears().await, Heard::Prompt(UNREACHABLE.into()));
        assert_eq!(call.asked().await, Asked::HangUp);
        call.finished().await;
        assert_eq!(call.events_of("forwarded")[0]["reason"], "unconditional");
        let failed = call.events_of("dispatch_failed");
        assert!(failed[0]["reason"].as_str().unwrap().contains("no trunk"), "{failed:?}");
    }

    #[tokio::test]
    async fn a_busy_agent_without_forwarding_or_box_is_nobody() {
        prompt(NOBODY);
        let mut call = Call::start(CONFIG, &[], agent("102")).await;
        assert!(matches!(call.asked().await, Asked::Ring { .. }));
        call.leg(LegEvent::Unreached(486));
        assert_eq!(call.hears_prompt(NOBODY).await.len(), 1, "ringback, then the apology");
        assert_eq!(call.asked().await, Asked::HangUp);
        call.finished().await;
    }

    #[tokio::test]
    async fn busy_forwarding_can_lead_to_a_menu() {
        prompt("Main menu.");
        let mut call = Call::start(CONFIG, &[], agent("103")).await;
        assert!(matches!(call.asked().await, Asked::Ring { .. }));
        call.leg(LegEvent::Unreached(486));
        call.hears_prompt("Main menu.").await;
        call.press('1');
        assert_eq!(call.asked().await, Asked::HangUp);
        call.finished().await;
        assert_eq!(call.events_of("forwarded")[0]["reason"], "busy");
    }

    #[tokio::test]
    async fn a_caller_who_hangs_up_while_it_rings_is_let_go() {
        let mut call = Call::start(CONFIG, &[], agent("102")).await;
        assert!(matches!(call.asked().await, Asked::Ring { .. }));
        call.hang_up();
        call.finished().await;
        assert!(call.events_of("forwarded").is_empty());
    }

    #[tokio::test]
    async fn the_recording_announcement_comes_before_anything_else() {
        const SAID: &str = "This call may be recorded.";
        prompt(SAID);
        prompt("Main menu.");
        let config = format!(
            "settings: {{name: Test, recording_announcement: {{type: text, text: \"{SAID}\"}}}}\n{CONFIG}"
        );
        let mut call = Call::start(&config, &[], Target::IvrMenu { name: "main".into() }).await;
        assert_eq!(call.hears().await, Heard::Prompt(SAID.into()));
        assert_eq!(call.hears().await, Heard::Prompt("Main menu.".into()));
        call.press('1');
        assert_eq!(call.asked().await, Asked::HangUp);
        call.finished().await;
        assert_eq!(call.events_of("recording_announced").len(), 1);
    }

    #[tokio::test]
    async fn a_loop_of_schedules_ends_after_a_bounded_number_of_hand_offs() {
        let mut call = Call::start(CONFIG, &[], Target::Schedule { name: "loop".into() }).await;
        assert_eq!(call.asked().await, Asked::HangUp);
        call.finished().await;
        assert_eq!(call.events_of("schedule").len(), super::MAX_HOPS);
        assert_eq!(call.events_of("dispatch_failed")[0]["reason"], "too many hand-offs");
    }
}
