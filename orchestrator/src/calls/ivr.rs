//! IVR menus on answered calls: the menu's prompt is played, a digit chooses an option, and
//! the option's target takes the call (through the dispatcher). A menu's option may lead to
//! another menu, which is offered here directly. A key pressed during a prompt stops it. When
//! a menu's options have phrases, the caller may also say their choice (`ivr_speech`); what
//! is heard but chooses nothing is answered "Sorry, I didn't catch that" and counts as a wrong
//! key.

use crate::calls::answered::{AnsweredCall, Next};
use crate::calls::ivr_speech::{Listener, Meaning};
use crate::model::{IvrMenu, Prompt, Target};
use serde_json::json;
use std::time::Duration;
use switchboard_telephony::media::relay::MediaSide;

/// Menus one visit may pass through before the call is ended (a loop of menus).
const MAX_MENUS: usize = 20;

/// What the caller answered a menu with.
enum Input {
    Key(char),
    Said(String),
}

/// What the caller says next, when the menu listens (never, when not).
async fn said(ears: &mut Option<Listener>) -> String {
    match ears {
        Some(l) => l.next().await,
        None => std::future::pending().await,
    }
}

/// Plays a prompt; a key pressed or words said meanwhile stop it and are returned.
async fn play(call: &mut AnsweredCall, prompt: &Prompt, ears: &mut Option<Listener>) -> Option<Input> {
    call.finish_lead_in(Duration::from_secs(15)).await;
    let done = call.relay.play(MediaSide::A, crate::calls::prompts::source(call, prompt).await);
    let input = tokio::select! {
        _ = done => return None,
        d = call.digits.recv() => d.map(Input::Key),
        s = said(ears) => Some(Input::Said(s)),
    };
    call.relay.stop_playing(MediaSide::A);
    input
}

/// Waits for a key or words for up to `seconds`.
async fn key(call: &mut AnsweredCall, seconds: u32, ears: &mut Option<Listener>) -> Option<Input> {
    let wait = async {
        tokio::select! {
            d = call.digits.recv() => d.map(Input::Key),
            s = said(ears) => Some(Input::Said(s)),
        }
    };
    tokio::time::timeout(Duration::from_secs(seconds as u64), wait).await.ok().flatten()
}

fn sorry() -> Prompt {
    Prompt::Text { text: "Sorry, I didn't catch that.".into(), voice: None }
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
async fn offer(call: &mut AnsweredCall, menu: &IvrMenu, ears: &mut Option<Listener>) -> Choice {
    // Spoken choices: the menu's phrases by meaning too, when the model is there. Embedded in
    // the background (a slow machine takes seconds): the menu and its keys never wait for it,
    // only an utterance that names no option in so many words does.
    let mut preparing = ears.as_ref().map(|_| tokio::spawn(Meaning::new(menu.options.clone())));
    let mut meaning: Option<Meaning> = None;
    for attempt in 1..=menu.max_attempts {
        let input = match play(call, &menu.prompt, ears).await {
            Some(i) => Some(i),
            None => key(call, menu.timeout_seconds, ears).await,
        };
        let last = attempt == menu.max_attempts;
        // Words: the option they choose is taken like its key; words that choose nothing
        // are a wrong answer.
        let key = match input {
            Some(Input::Said(text)) => {
                let mut picked = crate::calls::ivr_speech::pick(&text, &menu.options, None);
                if picked.is_none() {
                    if let Some(task) = preparing.take() {
                        meaning = task.await.ok().flatten();
                    }
                    if let Some(m) = &meaning {
                        picked = m.pick(&text, &menu.options).await;
                    }
                }
                let option = picked.as_ref().map(|p| &menu.options[p.option()]);
                call.event(
                    "ivr_said",
                    json!({
                        "menu": menu.name,
                        "text": text,
                        "option": option.map(|o| o.digit.clone()),
                        "how": picked.as_ref().map(|p| p.how()),
                    }),
                );
                if let Some(option) = option {
                    call.event("ivr_target", json!({ "target": option.target, "after": "speech" }));
                    return choose(&Some(option.target.clone()));
                }
                play(call, &sorry(), &mut None).await;
                if last {
                    call.event("ivr_target", json!({ "target": menu.invalid_target, "after": "invalid" }));
                    return choose(&menu.invalid_target);
                }
                continue;
            }
            Some(Input::Key(k)) => Some(k),
            None => None,
        };
        match key {
            Some(k) => {
                call.event("ivr_key", json!({ "menu": menu.name, "key": k.to_string() }));
                if let Some(option) = menu.options.iter().find(|o| o.digit == k.to_string()) {
                    call.event("ivr_target", json!({ "target": option.target }));
                    return choose(&Some(option.target.clone()));
                }
                if let Some(p) = &menu.invalid_prompt {
                    play(call, p, &mut None).await;
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
    // Heard from the first menu with phrases until the caller leaves the menus.
    let mut ears: Option<Listener> = None;
    for _ in 0..MAX_MENUS {
        let menu = call.snapshot.borrow().ivr_menu(call.account, &name).cloned();
        let Some(menu) = menu else {
            tracing::warn!(call = %call.call, menu = %name, "IVR menu missing; hanging up");
            call.event("dispatch_failed", json!({ "reason": format!("no IVR menu {name}") }));
            return Next::To(Target::Hangup);
        };
        call.event("ivr_menu", json!({ "menu": menu.name }));
        if ears.is_none() && menu.options.iter().any(|o| !o.phrases.is_empty()) {
            ears = Some(Listener::start(&call.relay));
        }
        match offer(call, &menu, &mut ears).await {
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
