//! Words about people and messages that settle what a caller means when the sentence model is
//! unsure or drawn the wrong way: word left for someone ("tell them I called", "have the
//! manager ring me"), a message asked for, someone asked for by name, and questions about the
//! agent itself. Word lists, like `cues.rs`.

use super::cues::{has_any, plain};
use crate::live::{spaced, words_of};

/// "Tell the new buyer that …": "that" two or three words on, nothing asked about before it
/// (not "tell the difference between that tent…", "tell a bit more about that jacket").
fn told_that(after: &[String]) -> bool {
    (1..=2).any(|at| {
        after.get(at).is_some_and(|w| w == "that")
            && !after[..at]
                .iter()
                .any(|w| ["of", "about", "between", "more", "difference"].contains(&w.as_str()))
    })
}

/// The caller leaves word for someone ("tell them I called", "have them ring me back").
pub(super) fn leaves_word(text: &str) -> bool {
    const WORD: &[&str] = &[
        "tell them",
        "let them know",
        "pass it on",
        "pass on",
        "have them call",
        "have someone call",
        "get them to call",
        "call me back",
        "ring me back",
        "phone me back",
        "hit me back",
        "get back to me",
        "tell her",
        "tell him",
        "pass a note",
        "pass on a note",
        "drop a note",
        "write down that",
        "have someone ring",
        "ring me at",
        "call me at",
        "reach me at",
        "ring my",
        "leave word",
        "pass word",
        "passing word",
        "pass the word",
        "passing on",
        "relay to",
        "relay that",
        "pass along",
        "pass it to",
        "drop a line",
    ];
    let t = spaced(text);
    // "They said they'd get back to me", "you said you'd call me back" tell of a promise (a
    // case), not a request.
    const PROMISED: &[&str] = &[
        "theyd get back",
        "would get back",
        "promised to get back",
        "supposed to get back",
        "meant to get back",
        "youd call",
        "would call",
        "said youd",
        "never did",
    ];
    let promised = has_any(&plain(text), PROMISED);
    // "Tell Sarah I called", "please tell the delivery team that the gate is open" (not
    // "tell me", "tell if it fits").
    const NOT_TOLD: &[&str] =
        &["me", "you", "us", "if", "whether", "what", "how", "when", "where", "why", "which", "who"];
    let words = words_of(text);
    // "Tell the …" only of people ("tell the delivery team", not "tell the difference").
    const PEOPLE: &[&str] = &[
        "team",
        "department",
        "driver",
        "manager",
        "warehouse",
        "office",
        "staff",
        "courier",
        "owner",
        "boss",
        "supervisor",
    ];
    // "Inform Mr Patel that I called" is told the same way.
    let tell = words.iter().enumerate().any(|(i, w)| {
        let Some(next) = words.get(i + 1) else { return false };
        let ahead = || words.iter().skip(i + 2).take(4);
        (w == "tell" || w == "inform")
            && !NOT_TOLD.contains(&next.as_str())
            && (!["the", "a", "an", "your", "any", "my"].contains(&next.as_str())
                || ahead().take(3).any(|x| PEOPLE.contains(&x.as_str()))
                || told_that(&words[i + 2..]))
    });
    // "Let the warehouse know I rang" (not "let me know", which asks to be told).
    let let_know = t.split(" let ").skip(1).any(|rest| {
        !["me ", "us ", "you "].iter().any(|w| rest.starts_with(w))
            && rest.split(' ').take(7).any(|w| w == "know")
    });
    ((has_any(&t, WORD) || tell) && !promised) || let_know
}

/// The caller asks in so many words to leave a message ("can I leave a message for the
/// manager", "put me through to voicemail"), whatever it is about or for.
pub(super) fn asks_to_leave_a_message(text: &str) -> bool {
    const ASKS: &[&str] = &[
        "leave a message",
        "leave a voicemail",
        "take a message",
        "relay a message",
        "pass a message",
        "pass on a message",
        "take down a message",
        "leave word",
        "make a note",
        "through to voicemail",
        "me to voicemail",
        "me to the voicemail",
        "leave a note",
        "jot this down",
        "jot down",
        "take this down",
        "note this down",
        "write this down",
        "note down",
        "forward a message",
        "send a message to",
        "get a message to",
    ];
    let p = plain(text);
    const NOT: &[&str] = &[
        "dont want",
        "not leave",
        "dont need",
        "no need",
        "left a message",
        "didnt",
        "never",
        // "Hang on, let me jot down the tracking number"; a note for the driver.
        "let me jot",
        "let me write",
        "let me note",
        "let me make a note",
        "let me take",
        "ill jot",
        "ill write",
        "ill note",
        "hang on",
        "driver",
        "courier",
    ];
    has_any(&p, ASKS) && !has_any(&p, NOT)
}

/// The caller asks for someone by name ("is Dave there", "can I speak to him again").
pub(super) fn asks_for_someone_named(text: &str) -> bool {
    let mut words = words_of(text);
    while words.last().is_some_and(|w| ["today", "now", "please", "at", "all"].contains(&w.as_str())) {
        words.pop();
    }
    // "Is Dave there", "is Priya in today": "is", a name or two, then where they are (not "is
    // it there yet", "is my parcel in").
    const NOT_NAMES: &[&str] = &[
        "it",
        "my",
        "the",
        "this",
        "that",
        "your",
        "there",
        "a",
        "an",
        "he",
        "she",
        "they",
        "anything",
        "anyone",
        "anybody",
        "someone",
        "somebody",
        "everyone",
        "everybody",
        "everything",
    ];
    let is_there = words.first().is_some_and(|w| w == "is")
        && (3..=4).contains(&words.len())
        && !NOT_NAMES.contains(&words[1].as_str())
        && ["there", "in", "around", "about"].contains(&words[words.len() - 1].as_str());
    // "Hey, is Jo around? Can I have a chat with her": the same asked first in a longer turn.
    const OPENERS: &[&str] = &["hi", "hey", "hello", "hiya", "yeah", "um", "so", "oh", "erm", "uh"];
    // (Where they are ends the question: "is Sanjay around, I need a word", not "is delivery
    // around Christmas slower".)
    const THEN: &[&str] = &[
        "i", "can", "could", "please", "today", "now", "at", "mate", "love", "id", "im", "hes", "shes", "he",
        "she",
    ];
    let asked_first = words.iter().position(|w| !OPENERS.contains(&w.as_str())).is_some_and(|at| {
        words.get(at).is_some_and(|w| w == "is")
            && words.get(at + 1).is_some_and(|w| !NOT_NAMES.contains(&w.as_str()))
            && (at + 2..=at + 3).any(|i| {
                words.get(i).is_some_and(|w| ["there", "around", "about"].contains(&w.as_str()))
                    && words.get(i + 1).is_none_or(|w| THEN.contains(&w.replace('\'', "").as_str()))
            })
    });
    let t = spaced(text);
    const AGAIN: &[&str] = &[
        "speak to him",
        "speak to her",
        "talk to him",
        "talk to her",
        "speak with him",
        "speak with her",
        "chat with him",
        "chat with her",
        "is he available",
        "is she available",
        "is he there",
        "is she there",
    ];
    // "I'd like to speak with Mr Patel".
    let titled = ["speak", "talk"].iter().any(|v| {
        ["to", "with"].iter().any(|p| {
            ["mister", "mr", "mrs", "ms", "miss", "missus", "doctor", "dr"]
                .iter()
                .any(|title| t.contains(&format!(" {v} {p} {title} ")))
        })
    });
    // ("I had a chat with her yesterday, just tell her the form is posted" leaves word.)
    (is_there || asked_first || has_any(&t, AGAIN) || titled)
        && !asks_to_leave_a_message(text)
        && !leaves_word(text)
}

/// The caller asks where to write ("what's the email address for press enquiries", "is there a
/// postal address for returns"), with nothing of theirs given: a question about the shop.
pub(super) fn asks_for_an_address(text: &str) -> bool {
    const ADDRESS: &[&str] = &[
        "email address",
        "e mail address",
        "postal address",
        "address for",
        "email for",
        "could email",
        "can email",
        "to email",
        "to write to",
    ];
    let p = plain(text);
    has_any(&p, ADDRESS) && !has_any(&p, &["my", "me", "us", "we", "our"])
}

/// The caller asks what they are talking to ("are you a robot", "is this an AI"): a question
/// about the agent, not a request for a person.
pub(super) fn asks_what_it_is(text: &str) -> bool {
    let t = plain(text);
    const ASKS: &[&str] = &["are you", "is this", "is it", "am i talking to", "am i speaking to"];
    const WHAT: &[&str] = &[
        "robot",
        "bot",
        "ai",
        "machine",
        "computer",
        "human",
        "real person",
        "real",
        "automated",
        "recording",
        "a person",
    ];
    ASKS.iter().any(|a| {
        t.find(&format!(" {a} ")).is_some_and(|at| {
            let after = t.get(at + a.len() + 2..).unwrap_or("");
            let rest = format!(" {} ", after.split(' ').take(3).collect::<Vec<_>>().join(" "));
            WHAT.iter().any(|w| rest.contains(&format!(" {w} ")))
        })
    }) && !has_any(&t, &["i want", "i need", "can i", "could i", "let me", "put me", "get me"])
}

/// The caller asks to be called back ("could you get the manager to phone me when he's free",
/// "can someone from sales get back to me tomorrow"): word left, not a transfer now.
pub(super) fn asks_for_a_call_back(text: &str) -> bool {
    const BACK: &[&str] = &[
        "call me back",
        "ring me back",
        "phone me back",
        "get back to me",
        "give me a call",
        "give me a ring",
        "give me a bell",
        "call me later",
        "ring me later",
        "call me tomorrow",
        "ring me tomorrow",
        "holler back",
        "give me a holler",
        "a call back",
        "a callback",
        "return my call",
    ];
    const PROMISED: &[&str] = &[
        "would call",
        "would ring",
        "would phone",
        "would get",
        "said",
        "promised",
        "supposed",
        "meant",
        "never",
        "didnt",
        "still",
        "was told",
        "were told",
        "waiting",
        "nobody",
        "no one",
        "asked",
        "requested",
        "already",
        "heard nothing",
    ];
    let words = words_of(text);
    // "Get the manager to phone me", "have Dave ring me".
    let have_them_call = words.iter().enumerate().any(|(i, w)| {
        (["get", "have"].contains(&w.as_str())
            || (["tell", "ask"].contains(&w.as_str())
                && words.get(i + 1).is_some_and(|n| !["me", "you", "us"].contains(&n.as_str()))))
            && words[i + 1..(i + 6).min(words.len())]
                .windows(2)
                .any(|pair| ["call", "phone", "ring"].contains(&pair[0].as_str()) && pair[1] == "me")
    });
    let p = plain(text);
    (has_any(&p, BACK) || have_them_call) && !has_any(&p, PROMISED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_left() {
        assert!(leaves_word("can you let the warehouse know that i rang"));
        assert!(leaves_word("could you tell her i rang and i'll be free after three"));
        assert!(leaves_word("just tell them I called, I'm on the number ending four five six"));
        assert!(leaves_word("can someone ring me back this afternoon"));
        assert!(!leaves_word("can you tell me where my order is"));
        assert!(!leaves_word("i rang about a broken lamp and they said they'd get back to me"));
        assert!(leaves_word("please get back to me about the tent"));
    }

    #[test]
    fn messages_names_and_what_the_agent_is() {
        assert!(asks_to_leave_a_message("could i leave a message for the manager"));
        assert!(asks_to_leave_a_message("just put me through to voicemail"));
        assert!(!asks_to_leave_a_message("i don't want to leave a message i want a person"));
        assert!(!asks_to_leave_a_message("i left a message yesterday and nobody called"));
        assert!(leaves_word("please tell priya that i called"));
        assert!(leaves_word("tell the driver the gate is open"));
        assert!(!leaves_word("can you tell if it's waterproof"));
        assert!(!leaves_word("you said you'd call me back about the stove"));
        assert!(asks_for_someone_named("is dave there"));
        assert!(asks_for_someone_named("is priya in today"));
        assert!(asks_for_someone_named("i spoke to tom last week can i speak to him again"));
        assert!(!asks_for_someone_named("is it there yet"));
        assert!(!asks_for_someone_named("is my parcel in"));
        assert!(asks_what_it_is("are you a robot"));
        assert!(asks_what_it_is("um is this an ai or a real person"));
        assert!(!asks_what_it_is("are you a robot? i want a person"));
        assert!(!asks_what_it_is("is this tent waterproof"));
        assert!(!asks_what_it_is("is it possible to get a human"));
        assert!(!asks_what_it_is("is that robot vacuum i ordered shipped yet"));
        assert!(!asks_to_leave_a_message("i keep getting sent to voicemail i need a real person"));
        assert!(!asks_to_leave_a_message("the driver didn't leave a note or a message"));
        assert!(!leaves_word("can you tell the difference between the two tents"));
        assert!(leaves_word("could you ask someone to get back to me"));
        assert!(!asks_for_someone_named("is saturday delivery available"));
    }

    #[test]
    fn call_backs_and_people_asked_for() {
        assert!(asks_for_a_call_back("can you have the warehouse manager phone me this afternoon"));
        assert!(asks_for_a_call_back("could somebody in accounts give me a ring tomorrow"));
        assert!(!asks_for_a_call_back("they said someone would call me back and nobody did"));
        assert!(!asks_for_a_call_back("i'd like to speak to the manager now please"));
        assert!(leaves_word("please inform the accounts team that the invoice is paid"));
        assert!(leaves_word("tell the new buyer that the samples are on their way"));
        assert!(!leaves_word("please let me know when my boots will come"));
        assert!(!leaves_word("can you inform me about the delivery times"));
        assert!(asks_for_someone_named("hiya is sanjay around i need a quick word"));
        assert!(asks_for_someone_named("could i talk to mrs okafor please"));
        assert!(!asks_for_someone_named("hi is it there yet my parcel"));
        assert!(!asks_for_someone_named("is the two man tent around the same weight"));
        assert!(!asks_for_someone_named("hi is delivery around christmas slower"));
        assert!(!asks_for_someone_named("hello is anybody there"));
        assert!(asks_for_someone_named("hey is dave about i need a word"));
        assert!(asks_for_someone_named("hello is priya there shes expecting my call"));
        assert!(asks_for_someone_named("i was told to ask for sam in accounts is he available"));
        assert!(!asks_for_someone_named("i had a chat with her yesterday just tell her the form is posted"));
        assert!(!leaves_word("can you tell the difference between that tent and the bigger one"));
        assert!(!leaves_word("can you tell a bit more about that jacket"));
        assert!(asks_for_a_call_back("i would like the manager to call me back"));
    }
}
