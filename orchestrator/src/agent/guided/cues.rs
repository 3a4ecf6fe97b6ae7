//! Words that settle what a caller means when the sentence model is unsure or drawn the wrong
//! way: a caller's own order ("my order", "I ordered a tent") or balance, a support case named
//! as such ("my case", "ticket reference 2795"), something wrong with a thing they have, and yes
//! or no from how an answer begins (people and messages: `people.rs`). Word lists, not models:
//! cheap and predictable.

use crate::live::{spaced, words_of};

pub(super) fn has_any(t: &str, phrases: &[&str]) -> bool {
    phrases.iter().any(|p| t.contains(&format!(" {p} ")))
}

/// `spaced` without apostrophes: a recogniser writes "hasnt" as often as "hasn't".
pub(super) fn plain(text: &str) -> String {
    spaced(text).replace(['\'', '\u{2019}'], "")
}

/// A problem, return or exchange told of (apostrophes left out): the caller's case rather than
/// where their order is.
const PROBLEM: &[&str] = &[
    "sent back",
    "sent it back",
    "my returned",
    "sent them back",
    "exchanged",
    "i returned",
    "we returned",
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

/// Something wrong with a thing (apostrophes left out): told of by its owner, a case.
const DEFECT: &[&str] = &[
    "broke",
    "broken",
    "cracked",
    "a hole",
    "holes in",
    "torn",
    "ripped",
    "leak",
    "leaks",
    "leaking",
    "deflating",
    "deflates",
    "came apart",
    "coming apart",
    "coming off",
    "came off",
    "fell apart",
    "falling apart",
    "doesnt work",
    "stopped working",
    "snapped",
    "leaked",
    "bent",
    "tore",
    "smashed",
    "shattered",
    "crushed",
    "was missing",
    "were missing",
    "wrong size",
    "wrong item",
    "wrong colour",
    "wrong color",
    "dented",
    "scratched",
    "stained",
    "faulty",
    "defective",
    "damaged",
    "part missing",
    "parts missing",
    "piece missing",
    "missing a part",
    "missing part",
    "missing parts",
    "missing piece",
    "instead of",
    "wrong amount",
    "wont turn on",
    "wont inflate",
    "wont light",
    "wont zip",
    "frayed",
    "peeling",
    "burst",
    "are missing",
    "missing from",
    "a tear",
    "doesnt light",
    "doesnt seem to work",
    "doesnt seem to light",
    "wont hold",
    "doesnt hold",
    "not working",
    "isnt working",
    "soaking wet",
    "when i paid for a",
    "came without",
    "arrived without",
    "puncture",
    "punctured",
    "letting water in",
    "letting in water",
    "lets water in",
    "someone elses things",
    "someone elses stuff",
    "someone elses order",
    "someone elses parcel",
    "someone elses items",
    "not what i ordered",
    "not what i chose",
    "isnt in the bag",
    "isnt in the box",
    "wasnt in the bag",
    "wasnt in the box",
    "not in the box",
    "not in the bag",
    "the wrong model",
    "sent the wrong one",
    "got the wrong one",
    "received the wrong one",
];

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
    "tracking for my",
    "my tracking",
    "did i buy",
    "did i order",
    "purchase number",
    "my purchase",
    "my purchases",
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
        &["refund", "refunds", "return", "returned", "complaint", "claim", "case", "ticket", "repair"];
    let p = plain(text);
    !has_any(&spaced(text), CHANGE)
        && !has_any(&p, PROBLEM)
        && (!has_any(&p, DEFECT) || has_any(&p, NOT_A_THING))
        && !has_any(&p, CASE)
        && !asks_in_general(text)
        && !super::money::about_own_balance(text)
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
        "whereabouts is my",
        "whereabouts of my",
        "shipped yet",
        "dispatched yet",
        "has it shipped",
        "has that shipped",
        "has that one shipped",
        "should those land",
        "should it land",
        "should they land",
        "will it land",
        "will they land",
        "is bringing my",
        "whos bringing my",
        "happened with my",
        "since i checked out",
    ];
    // "In transit" of the caller's own (not "how long is a parcel in transit to Ireland").
    const ON_ITS_WAY: &[&str] = &[
        "in transit",
        "out for delivery",
        "estimated delivery",
        "expected delivery",
        "delivery date",
        "eta",
        "whats happening with",
        "which courier",
        "make it before",
        "get here before",
        "arrive before",
        "be here by",
        "be here before",
    ];
    const OWN: &[&str] = &["my", "our", "i ordered", "we ordered", "i bought", "we bought"];
    let p = plain(text);
    has_any(&p, WAITING)
        || (has_any(&p, ON_ITS_WAY) && (has_any(&p, OWN) || super::order_number(text).is_some()))
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
        "in general",
        "hypothetically",
        "what happens if",
        "what happens when",
        "havent ordered",
        "before i order",
        "standard delivery",
        "if i order",
        "if i buy",
        "if i ordered",
        "if we order",
        "out of curiosity",
        "for the future",
    ];
    // General only when nothing is told to be wrong ("this stove's faulty, what's your returns
    // policy" is a case).
    const POLICY: &[&str] = &["policy", "usual", "ballpark", "is that common"];
    const OWN: &[&str] = &[
        "my",
        "mine",
        "our",
        "i ordered",
        "we ordered",
        "i bought",
        "i sent",
        "i returned",
        "i got",
        "you sent",
        "i owe",
        "have i got",
        "order number",
        "still hasnt",
        "still havent",
        "still not",
        "where is",
        "wheres",
    ];
    let p = plain(text);
    let wrong = has_any(&p, DEFECT) || has_any(&p, PROBLEM);
    (has_any(&p, GENERAL) || (has_any(&p, POLICY) && !wrong))
        && !has_any(&p, OWN)
        && super::order_number(text).is_none()
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
        "which courier",
        "speeding",
    ];
    has_any(&t, CASE) && !has_any(&t, NOT) && !has_any(&t, ORDER)
}

/// Whether a turn has a greeting in it ("hello", "good morning", "this is Sarah", "have I
/// reached the shop"): a long turn with none ("lovely weather for camping this weekend, isn't
/// it", "can you tell me whether your store has bike parking") is not a greeting, however the
/// sentence model hears it.
pub(super) fn greets(text: &str) -> bool {
    const GREETING: &[&str] = &[
        "hello",
        "hi",
        "hiya",
        "hey",
        "morning",
        "afternoon",
        "evening",
        "howdy",
        "gday",
        "yo",
        "good day",
        "this is",
        "my name",
        "its",
        "here",
        "speaking",
        "calling from",
        "right number",
        "reached",
        "through to",
        "anyone there",
        "anybody there",
    ];
    has_any(&plain(text), GREETING)
}

/// Something wrong told of an order ("I got a red jacket instead of the blue one I ordered"):
/// a case, not where the order is.
pub(super) fn tells_of_a_defect(text: &str) -> bool {
    let p = plain(text);
    has_any(&p, DEFECT) && !has_any(&p, NOT_A_THING) && !asks_in_general(text)
}

/// What breaks without being a thing bought ("the tracking link you sent doesn't work, where
/// is my parcel"): the order, or a question about the shop.
const NOT_A_THING: &[&str] = &[
    "link",
    "tracking",
    "website",
    "site",
    "app",
    "code",
    "password",
    "email",
    "login",
    "checkout",
    "line",
    "phone",
    "connection",
];

/// Something wrong with a thing the caller has ("the zip on my new tent broke", "the water
/// filter arrived cracked", "the stove I bought is leaking gas"): a support case, though no
/// order or case is named. A product question ("does this tent leak in heavy rain", "do you
/// sell a patch for my mat") or a what-if is not.
pub(super) fn tells_of_own_problem(text: &str) -> bool {
    // Whose it is: the caller's, or one that came to them.
    const OWN: &[&str] = &[
        "my",
        "i bought",
        "i ordered",
        "i got",
        "i received",
        "i returned",
        "sent me",
        "we bought",
        "we got",
        "arrived",
        "came with",
        "it came",
        "they came",
        "turned up",
        "got delivered",
        "brand new",
        "out of the box",
        "out the box",
        "on arrival",
        "first night",
        "first time",
        "first use",
        "you sent",
        "yall sent",
    ];
    const NOT: &[&str] = &[
        "do you sell",
        "do you stock",
        "do you have",
        "do you do",
        "can i buy",
        "how do i",
        "how can i",
        "what if",
        "if it",
        "if my",
        "if they",
        "in case",
        "does it",
        "does the",
        "will it",
        "would it",
        "torn between",
        "repair kit",
        "puncture repair",
        "proof",
    ];
    // Told without saying whose, unless a thing wished for ("I need a tent that won't leak")
    // or heard of.
    const WISHED: &[&str] = &[
        "looking for",
        "that wont",
        "that doesnt",
        "one that",
        "i need a",
        "i want a",
        "i heard",
        "reviews",
    ];
    // Said of anything ("pay by transfer instead of card", "this isn't working, I'll ring
    // back"): a defect only of a thing that is the caller's.
    const LOOSE: &[&str] = &["instead of", "not working", "isnt working"];
    let p = plain(text);
    let told = || DEFECT.iter().any(|d| !LOOSE.contains(d) && p.contains(&format!(" {d} ")));
    has_any(&p, DEFECT)
        && (has_any(&p, OWN) || (tells(text) && told() && !has_any(&p, WISHED)))
        && !has_any(&p, NOT)
        && !has_any(&p, NOT_A_THING)
        && !asks_in_general(text)
}

/// A turn told rather than asked ("tent fabric has a tear straight out the box", "sleeping bag
/// zip broke first night out"): no question mark, and it does not begin as a question does.
fn tells(text: &str) -> bool {
    const ASKING: &[&str] = &[
        "do", "does", "did", "is", "are", "was", "were", "will", "would", "can", "could", "should", "shall",
        "how", "what", "whats", "which", "why", "when", "where", "who", "if", "any", "have", "has",
    ];
    // Openers say nothing of whether it is asked ("hi do your tents leak in heavy rain").
    const OPENERS: &[&str] = &[
        "hi", "hello", "hey", "hiya", "so", "ok", "okay", "yeah", "yes", "well", "just", "oh", "right",
        "morning",
    ];
    const WONDERS: &[&str] =
        &["wondering", "i wonder", "id like to know", "tell me", "do your", "does your", "do you", "does it"];
    let p = plain(text);
    !text.contains('?')
        && !has_any(&p, WONDERS)
        && p.split_whitespace().find(|w| !OPENERS.contains(w)).is_some_and(|w| !ASKING.contains(&w))
}

/// Said "out of curiosity", "hypothetically", "in general": a question about how things go,
/// whatever it names (a call back, a person, a payment).
pub(super) fn only_wondering(text: &str) -> bool {
    const WONDERING: &[&str] = &["out of curiosity", "hypothetically", "in general", "for the future"];
    has_any(&plain(text), WONDERING) && !super::money::about_own_balance(text)
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
        assert!(tells_of_a_problem("have you had the boots i returned yet"));
        assert!(tells_of_a_defect("they sent a black tent instead of the green one i ordered"));
        assert!(!tells_of_a_defect("where is the green tent i ordered"));
        assert!(!tells_of_a_defect("the tracking link doesnt work where is my order"));
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

    #[test]
    fn something_wrong_with_a_thing_the_caller_has() {
        assert!(tells_of_own_problem("the strap on my rucksack snapped on the first day"));
        assert!(tells_of_own_problem("the lantern arrived with the glass cracked"));
        assert!(tells_of_own_problem("the gloves i bought are coming apart at the seams"));
        assert!(tells_of_own_problem("you sent me a green fleece instead of the navy one"));
        assert!(!tells_of_own_problem("does this tent leak in heavy rain"));
        assert!(!tells_of_own_problem("what if my stove stops working after the warranty"));
        assert!(!tells_of_own_problem("do you sell a patch for my mat it has a hole"));
        assert!(!tells_of_own_problem("is the lining torn easily on the cheaper jackets"));
        assert!(about_own_order("whereabouts is my headlamp"));
        assert!(!about_own_order("i'm still waiting for my repair"));
        assert!(!tells_of_own_problem("im torn between the two tents for my trip"));
        assert!(!about_own_order("how long is a parcel in transit to ireland"));
        assert!(about_own_order("my parcel has been in transit for a week"));
        assert!(!waits_for_an_order("my lantern broke in transit"));
        assert!(asks_in_general("in general how long do you take to answer a complaint"));
        assert!(asks_in_general("i havent ordered yet what happens if a parcel is late"));
        assert!(!asks_in_general("what happens if my parcel never comes"));
        assert!(tells_of_a_problem("i ordered a small and need it exchanged for a medium"));
        assert!(greets("good morning its helen from the scout group calling"));
        assert!(!greets("lovely weather for a hike this weekend isnt it"));
    }
}
