//! Words that settle what a caller means when the sentence model is unsure or drawn the wrong
//! way: a caller's own order ("my order", "I ordered a tent") or balance, a support case named
//! as such ("my case", "ticket reference 2795"), word left for someone ("tell them I called"),
//! and yes or no from how an answer begins. Word lists, not models: cheap and predictable.

use crate::live::{spaced, words_of};

fn has_any(t: &str, phrases: &[&str]) -> bool {
    phrases.iter().any(|p| t.contains(&format!(" {p} ")))
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
    "i ordered",
    "we ordered",
    "ordered it",
    "ordered them",
    "ordered a",
    "ordered an",
    "ordered some",
    "ordered the",
    "the order for",
    "order number",
];

/// The caller speaks of an order of theirs, and does not ask to change it (changing an order
/// is not something the agent can do: out of scope).
pub(super) fn about_own_order(text: &str) -> bool {
    let t = spaced(text);
    const CHANGE: &[&str] = &["change", "cancel", "amend", "modify", "add", "remove", "swap"];
    has_any(&t, ORDER) && !has_any(&t, CHANGE)
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
    ];
    let t = spaced(text);
    // "Let the warehouse know I rang".
    let let_know = t.split(" let ").skip(1).any(|rest| rest.split(' ').take(5).any(|w| w == "know"));
    has_any(&t, WORD) || let_know
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
        "place an order",
        "make an order",
        "put in an order",
        "buy",
    ];
    (has_any(&t, &["order", "oder"]) && has_any(&t, CHANGE)) || has_any(&t, NEW)
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
    }
}
