//! IVR menus on answered calls: the menu's prompt is played, a digit chooses an option, and
//! the option's target takes the call (through the dispatcher). A menu's option may lead to
//! another menu, which is offered here directly. A key pressed during a prompt stops it.

use crate::calls::answered::{AnsweredCall, Next};
use crate::model::{IvrMenu, Prompt, Target};
use serde_json::json;
use std::time::Duration;
use switchboard_telephony::media::relay::MediaSide;

/// Menus one visit may pass through before the call is ended (a loop of menus).
const MAX_MENUS: usize = 20;

/// Plays a prompt; a key pressed meanwhile stops it and is returned.
async fn play(call: &mut AnsweredCall, prompt: &Prompt) -> Option<char> {
    call.finish_lead_in(Duration::from_secs(15)).await;
    let done = call.relay.play(MediaSide::A, crate::calls::prompts::source(call, prompt).await);
    tokio::select! {
        _ = done => None,
        d = call.digits.recv() => {
            call.relay.stop_playing(MediaSide::A);
            d
        }
    }
}

/// Waits for a key for up to `seconds`.
async fn key(call: &mut AnsweredCall, seconds: u32) -> Option<char> {
    tokio::time::timeout(Duration::from_secs(seconds as u64), call.digits.recv()).await.ok().flatten()
}

/// What one menu leads to: another menu, or a target for the dispatcher.
enum Choice {
    Menu(String),
    Leave(Target),
}

fn choose(target: &Option<Target>) -> Choice {
    match target {
        Some(Target::IvrMenu { name }) => Choice::Menu(name.clone()),
        Some(t) => Choice::Leave(t.clone()),
        None => Choice::Leave(Target::Hangup),
    }
}

/// Offers one menu up to its number of attempts.
async fn offer(call: &mut AnsweredCall, menu: &IvrMenu) -> Choice {
    for attempt in 1..=menu.max_attempts {
        let key = match play(call, &menu.prompt).await {
            Some(k) => Some(k),
            None => key(call, menu.timeout_seconds).await,
        };
        let last = attempt == menu.max_attempts;
        match key {
            Some(k) => {
                call.event("ivr_key", json!({ "menu": menu.name, "key": k.to_string() }));
                if let Some(option) = menu.options.iter().find(|o| o.digit == k.to_string()) {
                    call.event("ivr_target", json!({ "target": option.target }));
                    return choose(&Some(option.target.clone()));
                }
                if let Some(p) = &menu.invalid_prompt {
                    play(call, p).await;
                }
                if last {
                    call.event("ivr_target", json!({ "target": menu.invalid_target, "after": "invalid" }));
                    return choose(&menu.invalid_target);
                }
            }
            None if last => {
                call.event("ivr_target", json!({ "target": menu.timeout_target, "after": "timeout" }));
                return choose(&menu.timeout_target);
            }
            None => {}
        }
    }
    Choice::Leave(Target::Hangup)
}

/// Runs menus from `first` until the caller leaves them for another target.
pub async fn run(call: &mut AnsweredCall, first: &str) -> Next {
    let mut name = first.to_string();
    for _ in 0..MAX_MENUS {
        let menu = call.snapshot.borrow().ivr_menu(call.account, &name).cloned();
        let Some(menu) = menu else {
            tracing::warn!(call = %call.call, menu = %name, "IVR menu missing; hanging up");
            call.event("dispatch_failed", json!({ "reason": format!("no IVR menu {name}") }));
            return Next::To(Target::Hangup);
        };
        call.event("ivr_menu", json!({ "menu": menu.name }));
        match offer(call, &menu).await {
            Choice::Menu(next) => name = next,
            Choice::Leave(target) => return Next::To(target),
        }
        if call.caller_left() {
            return Next::Done;
        }
    }
    // A loop of menus nobody leaves: end it.
    Next::To(Target::Hangup)
}

#[cfg(test)]
mod tests {
    use crate::calls::testing::{prompt, Asked, Call, Heard};
    use crate::calls::LegEvent;
    use crate::model::Target;
    use std::time::Duration;

    const CONFIG: &str = r#"
ivr_menus:
  - name: main
    prompt: {type: text, text: "Main menu."}
    timeout_seconds: 5
    max_attempts: 2
    invalid_prompt: {type: text, text: "That is not an option."}
    options:
      - {digit: "1", target: {type: agent, extension: "101"}}
      - {digit: "2", target: {type: ivr_menu, name: billing}}
    timeout_target: {type: voicemail_box, name: general}
    invalid_target: {type: hangup}
  - name: billing
    prompt: {type: text, text: "Billing menu."}
    options:
      - {digit: "0", target: {type: ivr_menu, name: main}}
voicemail_boxes:
  - name: general
    greeting: {type: text, text: "Leave a message."}
agents:
  - extension: "101"
    display_name: Bob
    forwarding: {on_no_answer: {type: voicemail_box, name: general}, no_answer_seconds: 15}
"#;

    fn prompts() {
        for text in ["Main menu.", "That is not an option.", "Billing menu.", "Leave a message."] {
            prompt(text);
        }
    }

    fn main() -> Target {
        Target::IvrMenu { name: "main".into() }
    }

    #[tokio::test]
    async fn a_key_during_the_prompt_stops_it_and_its_option_takes_the_call() {
        prompts();
        let mut call = Call::start(CONFIG, &[], main()).await;
        assert_eq!(call.hears().await, Heard::Prompt("Main menu.".into()));
        call.press('1');
        assert_eq!(call.asked().await, Asked::Ring { extension: "101".into(), ring_ms: 15_000 });
        let Heard::Sound { ms: Some(ringback), .. } = call.hears().await else { panic!("no ringback") };
        assert!(ringback >= 15_000, "ringback for the ring time: {ringback} ms");
        // Bob does not answer: his no-answer forwarding sends the caller to the box.
        tokio::time::sleep(Duration::from_secs(15)).await;
        call.leg(LegEvent::Unreached(480));
        assert_eq!(call.hears().await, Heard::Prompt("Leave a message.".into()));
        call.hang_up();
        call.finished().await;
        assert_eq!(call.events_of("ivr_key")[0]["key"], "1");
        assert_eq!(call.events_of("forwarded")[0]["reason"], "no_answer");
        assert_eq!(call.events_of("voicemail_started").len(), 1);
    }

    #[tokio::test]
    async fn silence_repeats_the_menu_then_takes_the_timeout_target() {
        prompts();
        let mut call = Call::start(CONFIG, &[], main()).await;
        let (first, heard) = call.hears_at().await;
        assert_eq!(heard, Heard::Prompt("Main menu.".into()));
        // One second of prompt, five of waiting, then the second attempt.
        let (second, heard) = call.hears_at().await;
        assert_eq!(heard, Heard::Prompt("Main menu.".into()));
        // (The paused clock rounds each timer up to the millisecond.)
        let about =
            |d: Duration, s: u64| d >= Duration::from_secs(s) && d < Duration::from_millis(s * 1000 + 20);
        assert!(about(second - first, 6), "{:?} between the attempts", second - first);
        let (boxed, heard) = call.hears_at().await;
        assert_eq!(heard, Heard::Prompt("Leave a message.".into()));
        assert!(about(boxed - second, 6), "{:?} before the timeout target", boxed - second);
        call.hang_up();
        call.finished().await;
        let after: Vec<_> = call.events_of("ivr_target").iter().map(|e| e["after"].clone()).collect();
        assert_eq!(after, vec![serde_json::json!("timeout")]);
    }

    #[tokio::test]
    async fn wrong_keys_are_told_and_the_last_one_takes_the_invalid_target() {
        prompts();
        let mut call = Call::start(CONFIG, &[], main()).await;
        for _ in 0..2 {
            assert_eq!(call.hears().await, Heard::Prompt("Main menu.".into()));
            call.press('9');
            assert_eq!(call.hears().await, Heard::Prompt("That is not an option.".into()));
        }
        assert_eq!(call.asked().await, Asked::HangUp);
        call.finished().await;
        assert_eq!(call.events_of("ivr_key").len(), 2);
        assert_eq!(call.events_of("ivr_target")[0]["after"], "invalid");
    }

    #[tokio::test]
    async fn a_sub_menu_leads_back_to_the_main_menu() {
        prompts();
        let mut call = Call::start(CONFIG, &[], main()).await;
        assert_eq!(call.hears().await, Heard::Prompt("Main menu.".into()));
        call.press('2');
        assert_eq!(call.hears().await, Heard::Prompt("Billing menu.".into()));
        call.press('0');
        assert_eq!(call.hears().await, Heard::Prompt("Main menu.".into()));
        call.hang_up();
        call.finished().await;
        let menus: Vec<_> = call.events_of("ivr_menu").iter().map(|e| e["menu"].clone()).collect();
        assert_eq!(menus, vec!["main", "billing", "main"]);
    }
}
