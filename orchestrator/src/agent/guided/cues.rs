//! Words that settle what a caller means when the sentence model is unsure or drawn the wrong
//! way: a caller's own order ("my order", "I ordered a tent") or balance, a support case named
//! as such ("my case", "ticket reference 2795"), word left for someone ("tell them I called"),
//! and yes or no from how an answer begins. Word lists, not models: cheap and predictable.

use crate::live::{spaced, words_of};

fn has_any(t: &str, phrases: &[&str]) -> bool {
    phrases.iter().any(|p| t.contains(&format!(" {p} ")))
}

/// `spaced` without apostrophes: a recogniser writes "hasnt" as often as "hasn't".
fn plain(text: &str) -> String {
    spaced(text).replace(['\'', '\u{2019}'], "")
}

/// A problem, return or exchange told of (apostrophes left out): the caller's case rather than
/// where their order is.
const PROBLEM: &[&str] = &[
    "sent back",
    "sent it back",
    "sent them back",
    "replacement",
    "exchange",
    "broken",
    "faulty",
    "damaged",
    "smashed",
    "defective",
    "wrong size",
    "wrong item",
    "wrong colour",
    "wrong color",
    "falling apart",
    "stopped working",
    "leaking",
    "ripped",
    "money back",
    "back and forth",
    "emailed",
    "complained",
    "reported",
];

/// The caller tells of a problem, return or exchange already under way ("the boots I sent
/// back", "you promised me a replacement"): a support case.
pub(super) fn tells_of_a_problem(text: &str) -> bool {
    has_any(&plain(text), PROBLEM)
}

/// Words about the caller's own order or its delivery ("oder": a recogniser's spelling).
const ORDER: &[&str] = &[
    "my order",
    "my orders",
    "my order's",
    "my oder",
    "my parcel",
    "my package",
    "my delivery",
    "my shipment",
    "ordered",
    "the order for",
    "order number",
];

/// The caller speaks of an order of theirs, and does not ask to change it (changing an order
/// is not something the agent can do: out of scope), tell of a problem with it or ask in
/// general.
pub(super) fn about_own_order(text: &str) -> bool {
    (has_any(&spaced(text), ORDER) || waits_for_something(text)) && nothing_else(text)
}

/// The caller waits for something that has not come or asks where it is, with no problem,
/// return, change or general question told of: their order, even when the sentence model
/// took it for a case.
pub(super) fn waits_for_an_order(text: &str) -> bool {
    waits_for_something(text) && nothing_else(text)
}

fn nothing_else(text: &str) -> bool {
    const CHANGE: &[&str] = &["change", "cancel", "amend", "modify", "add", "remove", "swap"];
    const CASE: &[&str] =
        &["refund", "refunds", "return", "returned", "complaint", "claim", "case", "ticket"];
    let p = plain(text);
    !has_any(&spaced(text), CHANGE) && !has_any(&p, PROBLEM) && !has_any(&p, CASE) && !asks_in_general(text)
}

fn waits_for_something(text: &str) -> bool {
    // Waiting for something that has not come, or asking where it is ("where's my tent",
    // "will it make it in time"), apostrophes left out.
    const WAITING: &[&str] = &[
        "wheres my",
        "where is my",
        "where is it",
        "wheres it",
        "still arent here",
        "still isnt here",
        "still not here",
        "still havent",
        "still hasnt",
        "still have nothing",
        "still got nothing",
        "arrive in time",
        "make it in time",
        "here in time",
        "been waiting for",
        "been waiting on",
        "waiting for my",
        "waiting on my",
        "hasnt arrived",
        "havent arrived",
        "hasnt come",
        "havent come",
        "never arrived",
        "havent received",
        "hasnt turned up",
        "havent turned up",
    ];
    has_any(&plain(text), WAITING)
}

/// The caller asks about their own balance or credit by name.
pub(super) fn about_own_balance(text: &str) -> bool {
    let t = spaced(text);
    const BALANCE: &[&str] = &[
        "my balance",
        "my account balance",
        "my credit",
        "my store credit",
        "my account credit",
        "credit left",
        "credit on my account",
        "balance on my account",
        "what i owe",
        "how much i owe",
        "how much do i owe",
        "money on my account",
        "money left on",
        "still got money on it",
        "money on it",
        "left on the gift card",
        "left on my gift card",
        "left on the gif card",
        "left on the voucher",
        "left on my voucher",
    ];
    has_any(&t, BALANCE)
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
    ];
    let tell = words.iter().enumerate().any(|(i, w)| {
        let Some(next) = words.get(i + 1) else { return false };
        w == "tell"
            && !NOT_TOLD.contains(&next.as_str())
            && (!["the", "a", "an", "your", "any", "my"].contains(&next.as_str())
                || words.iter().skip(i + 2).take(3).any(|x| PEOPLE.contains(&x.as_str())))
    });
    // "Let the warehouse know I rang".
    let let_know = t.split(" let ").skip(1).any(|rest| rest.split(' ').take(5).any(|w| w == "know"));
    ((has_any(&t, WORD) || tell) && !promised) || let_know
}

/// A question about how things usually go ("how long does standard delivery usually take",
/// "if I order today will it come by Friday") with nothing of the caller's own named: a policy
/// question, out of scope, though it speaks of deliveries or refunds.
pub(super) fn asks_in_general(text: &str) -> bool {
    const GENERAL: &[&str] = &[
        "usually",
        "normally",
        "typically",
        "generally",
        "standard delivery",
        "if i order",
        "if i buy",
        "if i ordered",
        "if we order",
    ];
    const OWN: &[&str] = &[
        "my",
        "mine",
        "our",
        "i ordered",
        "we ordered",
        "i bought",
        "i sent",
        "i returned",
        "order number",
        "still hasnt",
        "still havent",
        "still not",
        "where is",
        "wheres",
    ];
    let p = plain(text);
    has_any(&p, GENERAL) && !has_any(&p, OWN) && super::order_number(text).is_none()
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
    ];
    let p = plain(text);
    const NOT: &[&str] =
        &["dont want", "not leave", "dont need", "no need", "left a message", "didnt", "never"];
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
    const NOT_NAMES: &[&str] =
        &["it", "my", "the", "this", "that", "your", "there", "a", "an", "he", "she", "they", "anything"];
    let is_there = words.first().is_some_and(|w| w == "is")
        && (3..=4).contains(&words.len())
        && !NOT_NAMES.contains(&words[1].as_str())
        && ["there", "in", "around", "about"].contains(&words[words.len() - 1].as_str());
    let t = spaced(text);
    let again = has_any(
        &t,
        &["speak to him", "speak to her", "talk to him", "talk to her", "speak with him", "speak with her"],
    );
    (is_there || again) && !asks_to_leave_a_message(text)
}

/// The caller asks what they are talking to ("are you a robot", "is this an AI"): a question
/// about the agent, not a request for a person.
pub(super) fn asks_what_it_is(text: &str) -> bool {
    let t = plain(text);
    const ASKS: &[&str] = &["are you", "is this", "am i talking to", "am i speaking to"];
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

/// The caller asks to change, cancel or add to an order, or to place one: not something the
/// agent does (out of scope), though it is about an order.
pub(super) fn changes_an_order(text: &str) -> bool {
    let t = spaced(text);
    const CHANGE: &[&str] = &["change", "cancel", "amend", "modify", "add", "swap", "remove"];
    const NEW: &[&str] = &[
        "to order a",
        "to order an",
        "to order some",
        "order a new",
        "place a new order",
        "make a new order",
        "place an order",
        "make an order",
        "put in an order",
        "buy",
    ];
    (has_any(&t, &["order", "oder", "ordered"]) && has_any(&t, CHANGE)) || has_any(&t, NEW)
}

/// The caller speaks of a support case by name ("tickit": a recogniser's spelling) and not of
/// an order or a message.
pub(super) fn about_a_case(text: &str) -> bool {
    let t = spaced(text);
    const CASE: &[&str] = &[
        "case",
        "ticket",
        "tickit",
        "complaint",
        "claim",
        "rma",
        "r m a",
        "support request",
        "issue reference",
        "case number",
        "reference number",
        "reference",
        "dispute",
        "investigation",
    ];
    const NOT: &[&str] = &[
        "order",
        "oder",
        "parcel",
        "package",
        "delivery",
        "message",
        "voicemail",
        "a note",
        "case for",
        "sell",
        "sold",
        "call me back",
        "parking",
        "speeding",
    ];
    has_any(&t, CASE) && !has_any(&t, NOT) && !has_any(&t, ORDER)
}

/// Yes or no, from how an answer begins; None when it begins with neither.
pub fn yes_or_no(text: &str) -> Option<bool> {
    let words: Vec<String> =
        words_of(text).into_iter().map(|w| w.replace('\'', "")).filter(|w| !w.is_empty()).collect();
    // (Apostrophes are ignored: a recogniser writes "thats" as often as "that's".)
    let starts = |phrase: &str| {
        let p: Vec<String> = phrase.split(' ').map(|x| x.replace('\'', "")).collect();
        words.len() >= p.len() && words.iter().zip(&p).all(|(w, x)| w == x)
    };
    const NO: &[&str] = &[
        "no",
        "nah",
        "nope",
        "not",
        "negative",
        "don't",
        "do not",
        "never",
        "no need",
        "i'm good",
        "i'm fine",
        "i'm okay",
        "i'm ok",
        "i'm alright",
        "i'll pass",
        "that won't",
        "that will not",
        "not necessary",
        "that's not",
        "that is not",
        "that isn't",
        "that's wrong",
        "wrong",
        "incorrect",
    ];
    const YES: &[&str] = &[
        "yes",
        "yeah",
        "yep",
        "yup",
        "sure",
        "ok",
        "okay",
        "alright",
        "all right",
        "please",
        "of course",
        "absolutely",
        "definitely",
        "certainly",
        "go ahead",
        "that would be",
        "that'd be",
        "why not",
        "uh huh",
        "sounds good",
        "i would",
        "i'd like that",
        "right",
        "too right",
        "spot on",
        "you bet",
        "correct",
        "exactly",
        "righto",
        "rightio",
        "aye",
        "by all means",
        "go for it",
        "mhm",
        "mm hmm",
        "that's the one",
    ];
    // "Absolutely not", "of course not": a yes word negated is a no.
    let negated = |phrase: &str| words.get(phrase.split(' ').count()).is_some_and(|w| w == "not");
    if NO.iter().any(|p| starts(p)) {
        return Some(false);
    }
    YES.iter().find(|p| starts(p)).map(|yes| !negated(yes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_callers_own_order() {
        assert!(about_own_order("is there any update on my order, the one with the chairs"));
        assert!(about_own_order("Where's my oder? I put it through on the fourth."));
        assert!(about_own_order("ordered a gazebo for saturday, will it be here in time"));
        assert!(!about_own_order("what order should I pack my rucksack in"));
        assert!(!about_own_order("can I place an order by phone"));
        assert!(!about_own_order("I'd like to order a tent"));
        assert!(!about_own_order("i need to change the delivery address on my order"));
    }

    #[test]
    fn changing_or_placing_an_order() {
        assert!(changes_an_order("i need to cancel the order i made this morning"));
        assert!(changes_an_order("can i add another item to my order before it goes"));
        assert!(changes_an_order("i want to order a new pair of walking boots"));
        assert!(!changes_an_order("where is my order, it's been ten days"));
        assert!(!changes_an_order("i added a note to my order, has it shipped"));
    }

    #[test]
    fn a_callers_own_balance_and_word_left() {
        assert!(about_own_balance("is there any money on my account from that refund that i can use"));
        assert!(about_own_balance("how much is left on the gif card ending four four two one"));
        assert!(!about_own_balance("the parcel was left on the doorstep"));
        assert!(leaves_word("can you let the warehouse know that i rang"));
        assert!(leaves_word("could you tell her i rang and i'll be free after three"));
        assert!(about_own_balance("could you check my balance, there's something left on the voucher"));
        assert!(about_own_balance("how much do I owe you"));
        assert!(!about_own_balance("what is the balance of this bike like"));
        assert!(leaves_word("just tell them I called, I'm on the number ending four five six"));
        assert!(leaves_word("can someone ring me back this afternoon"));
        assert!(!leaves_word("can you tell me where my order is"));
        assert!(!leaves_word("i rang about a broken lamp and they said they'd get back to me"));
        assert!(leaves_word("please get back to me about the tent"));
    }

    #[test]
    fn an_order_waited_for_and_a_problem_told_of() {
        assert!(about_own_order("wheres my sleeping bag"));
        assert!(about_own_order("the chairs still arent here will they make it in time"));
        assert!(about_own_order("i've been waiting on a stove since the fifth"));
        assert!(!about_own_order("where is my refund"));
        assert!(!about_own_order("i've been waiting on my claim for weeks"));
        assert!(!about_own_order("my replacement still hasn't come"));
        assert!(tells_of_a_problem("has anyone looked at the jacket i sent back"));
        assert!(tells_of_a_problem("you promised me a replacement last month"));
        assert!(!tells_of_a_problem("where is the jacket i ordered"));
        assert!(asks_in_general("how long does delivery normally take"));
        assert!(asks_in_general("if i order a tent today when will it come"));
        assert!(!asks_in_general("my parcel usually comes by courier, where is it"));
        assert!(changes_an_order("i want to cancel the boots i ordered yesterday"));
        assert!(changes_an_order("i'd like to place a new order"));
        assert!(!changes_an_order("i placed a new order on monday has it shipped"));
        assert!(!about_own_order("if i order today will it arrive in time for christmas"));
        assert!(!asks_in_general("delivery is normally next day but order ten forty two still hasn't come"));
        assert!(!waits_for_an_order("i'm still waiting for my money back"));
        assert!(waits_for_an_order("i'm still waiting for my tent"));
        assert!(!about_own_order("the stove i ordered stopped working"));
        assert!(about_own_order("where\u{2019}s my tent"));
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
    fn a_support_case_named_as_such() {
        assert!(about_a_case("i'm following up on a case i opened, the reference is c s four four one two"));
        assert!(about_a_case("tickit reference two seven nine five, what's the latest"));
        assert!(about_a_case("any news on my complaint"));
        assert!(!about_a_case("my order reference is ten forty two"));
        assert!(!about_a_case("I'd like to leave a message about my claim"));
        assert!(!about_a_case("I got a parking ticket outside your store"));
        assert!(!about_a_case("in any case, where is my parcel"));
        assert!(!about_a_case("can I drop a note for whoever has my case"));
    }
}
