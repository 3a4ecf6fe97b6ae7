//! IVR menus on answered calls: the menu's prompt is played, a digit chooses an option, and
//! the option's target takes the call (through the dispatcher). A menu's option may lead to
//! another menu, which is offered here directly. A key pressed during a prompt stops it.

use crate::calls::answered::{AnsweredCall, Next};
use crate::model::{IvrMenu, Prompt, Target};
use crate::store::config;
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
        let Ok(Some(menu)) = config::get_by_key::<IvrMenu>(&call.db, call.account, &name).await else {
            tracing::warn!(call = %call.call, menu = %name, "IVR menu missing; hanging up");
            call.event("dispatch_failed", json!({ "reason": format!("no IVR menu {name}") }));
            return Next::To(Target::Hangup);
        };
        call.event("ivr_menu", json!({ "menu": menu.spec.name }));
        match offer(call, &menu.spec).await {
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
