//! How the words of a turn so far read at a pause: still in the middle of something ("my order
//! number is", "and um"), open ("I'm calling about my order.", "I ordered a blue jacket.", "Hi,
//! yes.", "The number is 5 5 5.": a whole sentence, but callers usually go on to their point),
//! or finished (a question, a request, a problem, an answer, a thank-you: something to answer).
//!
//! Callers pause after prefaces, background and half-read numbers as often as at their end, and
//! the recogniser punctuates those pauses as sentences, so a full stop alone is no sign of the
//! end: the detector waits its ordinary silence after an open sentence and ends the turn soon
//! only after a finished one.

use crate::spoken;

/// What the words of a turn so far say of its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// In the middle of something: a sentence does not end on these words.
    Unfinished,
    /// A sentence that may well be all, or the start: no sign either way.
    Open,
    /// Something for the agent to answer: a question, request, problem, answer or thanks.
    Finished,
}

/// Words a sentence does not end on.
const UNFINISHED: &[&str] = &[
    "and", "or", "but", "so", "because", "um", "uh", "er", "erm", "hmm", "the", "a", "an", "my", "is", "to",
    "of", "for", "with", "like", "then", "it's", "its", "number", "was", "are", "i'm", "at", "in", "on",
    "from", "your", "our", "about", "if", "whether", "than", "by", "into", "which", "whose", "were",
];

/// Verbs that end a sentence with "on" or "in" ("log in", "turning on", "sent it in" is not
/// one: the verb must come just before).
const PARTICLE_VERBS: &[&str] = &[
    "log",
    "logged",
    "logging",
    "sign",
    "signed",
    "signing",
    "turn",
    "turns",
    "turned",
    "turning",
    "switch",
    "switches",
    "switched",
    "switching",
    "come",
    "comes",
    "came",
    "coming",
    "check",
    "checked",
    "plug",
    "plugged",
    "go",
    "goes",
    "went",
    "going",
    "carry",
    "logs",
    "stay",
    "stays",
    "stayed",
    "hand",
    "handed",
    "fill",
    "filled",
    "move",
    "moved",
    "kick",
    "kicked",
    "get",
    "got",
    "put",
];

/// Words before a question's first word that do not change it ("Sorry, could you repeat
/// that", "So can I get a refund").
const INTERJECTIONS: &[&str] = &[
    "hi",
    "hello",
    "hey",
    "yes",
    "yeah",
    "yep",
    "no",
    "okay",
    "ok",
    "right",
    "alright",
    "so",
    "and",
    "but",
    "sorry",
    "um",
    "uh",
    "er",
    "erm",
    "hmm",
    "ah",
    "oh",
    "well",
    "actually",
    "also",
    "then",
    "now",
    "just",
    "please",
    "excuse",
    "me",
    "listen",
    "look",
    "good",
    "morning",
    "afternoon",
    "evening",
    "there",
];

/// Words that start a question.
const QUESTION: &[&str] = &[
    "where", "what", "when", "why", "how", "who", "which", "can", "could", "would", "will", "do", "does",
    "did", "is", "are", "have", "has", "may", "should", "shall",
];

/// Greetings, fillers and words that lead into what a caller says.
const LEAD_INS: &[&str] = &[
    "hi",
    "hello",
    "hey",
    "good",
    "morning",
    "afternoon",
    "evening",
    "there",
    "well",
    "so",
    "and",
    "also",
    "actually",
    "anyway",
    "oh",
    "um",
    "uh",
    "er",
    "erm",
    "hmm",
    "ah",
    "okay",
    "ok",
    "right",
    "alright",
    "yes",
    "yeah",
    "yep",
    "sorry",
    "just",
    "now",
    "then",
    "first",
    "let",
    "me",
    "see",
    "think",
    "i",
    "mean",
    "you",
    "know",
    "hold",
    "on",
    "wait",
    "a",
    "one",
    "second",
    "sec",
    "moment",
    "minute",
    "listen",
    "look",
];

/// Words that answer a question on their own ("yes", "no thanks", "that's right").
const ANSWERS: &[&str] = &[
    "yes",
    "yeah",
    "yep",
    "yup",
    "no",
    "nope",
    "okay",
    "ok",
    "sure",
    "right",
    "correct",
    "exactly",
    "please",
    "alright",
    "fine",
    "that's",
    "it",
    "is",
    "that",
    "thanks",
    "absolutely",
    "definitely",
];

/// Words that greet: a turn of greetings and lead-ins is the start of one.
const GREETINGS: &[&str] = &["hi", "hello", "hey", "morning", "afternoon", "evening"];

/// A turn that ends on these is collecting its thoughts ("let me see", "hold on", "I mean").
const THINKING: &[&[&str]] = &[
    &["let", "me", "see"],
    &["let", "me", "think"],
    &["let", "me", "check"],
    &["let", "me", "look"],
    &["let", "me", "find", "it"],
    &["hold", "on"],
    &["one", "second"],
    &["one", "moment"],
    &["a", "second"],
    &["a", "moment"],
    &["a", "sec"],
    &["i", "think"],
    &["i", "guess"],
    &["i", "mean"],
    &["you", "know"],
    &["i", "was", "wondering"],
    &["i", "wonder"],
    &["what", "was", "it"],
    &["where", "was", "i"],
    &["how", "do", "i", "put", "this"],
    // Correcting themselves: "my postcode is, sorry, …", "it was Tuesday, no wait, …".
    &["sorry"],
    &["no", "wait"],
    &["or", "rather"],
];

/// Verbs that need what they are about said next ("can you check", "could you tell me").
const NEEDS_AN_OBJECT: &[&str] =
    &["tell", "give", "show", "send", "check", "find", "confirm", "say", "says", "said", "wondering"];

/// Topic announcements: what follows is the point ("I'm calling about my order.").
const PREFACES: &[&[&str]] = &[
    &["calling", "about"],
    &["calling", "regarding"],
    &["calling", "in", "regards"],
    &["calling", "with", "regard"],
    &["question", "about"],
    &["question", "regarding"],
    &["a", "question"],
    &["query", "about"],
    &["it's", "about"],
    &["it's", "regarding"],
    &["this", "is", "about"],
    &["calling", "from"],
    &["wanted", "to", "ask"],
    &["want", "to", "ask"],
    &["like", "to", "ask"],
    &["going", "to", "ask"],
    &["wanted", "to", "check", "something"],
];

/// Words of a request.
const REQUESTS: &[&str] = &[
    "want",
    "wanted",
    "need",
    "needs",
    "please",
    "help",
    "cancel",
    "refund",
    "return",
    "returning",
    "exchange",
    "replace",
    "replacement",
    "speak",
    "talk",
    "transfer",
    "track",
    "change",
    "update",
    "resend",
    "send",
    "check",
    "know",
];
/// Words of something gone wrong (with any word ending in "n't").
const PROBLEMS: &[&str] = &[
    "not",
    "never",
    "wrong",
    "broken",
    "broke",
    "damaged",
    "missing",
    "lost",
    "late",
    "still",
    "yet",
    "problem",
    "issue",
    "faulty",
    "defective",
    "cracked",
    "torn",
    "ripped",
];
/// More such words; a topic announced with one of [`PROBLEMS`] is the point itself, with these it may still be a preface.
const MORE_PROBLEMS: &[&str] = &[
    "leaking",
    "leaks",
    "stopped",
    "twice",
    "too",
    "instead",
    "only",
    "nothing",
    "without",
    "unfortunately",
    "charged",
    "overcharged",
    "stuck",
    "error",
    "failed",
    "declined",
    "expired",
    "refused",
    "disappointed",
    "unhappy",
    "complaint",
];
/// Thanks and goodbyes.
const THANKS: &[&str] =
    &["thank", "thanks", "bye", "goodbye", "cheers", "appreciate", "perfect", "great", "wonderful", "lovely"];

/// Words that speak of a number being read ("my phone number is", "the card ends in").
const NUMBER_TALK: &[&str] = &[
    "number",
    "order",
    "phone",
    "card",
    "code",
    "postcode",
    "zip",
    "tracking",
    "account",
    "reference",
    "digits",
    "ends",
    "ending",
    "extension",
    "mobile",
    "pin",
];

/// The words of `text`, lower case, without punctuation except apostrophes (curly ones made
/// straight); commas and hyphens split words.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || c == ',' || c == '-')
        .map(|w| w.replace('’', "'"))
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'').to_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

fn ends_with(words: &[String], tail: &[&str]) -> bool {
    words.len() >= tail.len() && words[words.len() - tail.len()..].iter().zip(tail).all(|(w, t)| w == t)
}

fn contains(words: &[String], run: &[&str]) -> bool {
    words.windows(run.len()).any(|w| w.iter().zip(run).all(|(a, b)| a == b))
}

/// Whether a partial transcript sounds like the caller is still in the middle of something.
pub fn sounds_unfinished(text: &str) -> bool {
    let t = text.trim();
    if t.is_empty() {
        return false;
    }
    if t.ends_with('-') || t.ends_with("...") || t.ends_with('…') {
        return true;
    }
    if let Some(before) = t.strip_suffix(',') {
        // A comma at a pause is a hesitation ("I'm calling about my order, … number 1042"),
        // unless the words before it already make a request, problem or question: Moonshine
        // ends some real ends that way ("I never received my package,"). Those wait the
        // ordinary silence, not the unfinished sentence's.
        return reading(before) != Reading::Finished;
    }
    let w = words(t);
    let Some(last) = w.last() else { return false };
    if !UNFINISHED.contains(&last.as_str()) {
        return false;
    }
    // "I can't log in", "it stopped turning on": a particle, not a preposition waiting for more.
    let verb = w.len().checked_sub(2).map(|i| w[i].as_str()).unwrap_or("");
    if (last == "on" || last == "in") && PARTICLE_VERBS.contains(&verb) {
        return false;
    }
    // "Go on then.", "Okay then": a closing "then", not the start of what happened next.
    if last == "then" && ["on", "okay", "ok", "right", "alright", "fine", "ahead"].contains(&verb) {
        return false;
    }
    // "what my balance is", "where it was": a question word earlier in the clause ends it.
    let copula = ["is", "are", "was", "were"].contains(&last.as_str());
    let before = &w[..w.len() - 1];
    let asked = before
        .iter()
        .rev()
        .skip(1)
        .take(5)
        .any(|x| ["what", "where", "who", "how", "which"].contains(&x.as_str()));
    !(copula && asked)
}

/// Whether a transcript reads as a finished turn ([`Reading::Finished`]).
pub fn sounds_complete(text: &str) -> bool {
    reading(text) == Reading::Finished
}

/// How the transcript of a turn so far reads at a pause.
pub fn reading(text: &str) -> Reading {
    if sounds_unfinished(text) {
        return Reading::Unfinished;
    }
    let t = text.trim().trim_end_matches(['"', '\'', ')']);
    // A sentence that reads finished but for a comma at its end (see `sounds_unfinished`).
    if t.ends_with(',') {
        return Reading::Open;
    }
    // Some recognisers (Moonshine) often leave the full stop off the end of a turn, so words
    // without one are read as a sentence too; only a short answer needs the full stop (a few
    // words without one are as often the start of something: "About three weeks ago now").
    let punctuated = t.ends_with(['.', '?', '!']);
    let all = words(t);
    if !t.chars().any(char::is_alphanumeric) || t.starts_with(['[', '(']) {
        return Reading::Open;
    }
    // The last sentence: after the last full stop, question or exclamation mark before the end.
    let body = t.trim_end_matches(['.', '?', '!']);
    let last_text = body.rsplit(['.', '?', '!']).next().unwrap_or(body);
    let last = words(last_text);
    if all.is_empty() || last.is_empty() {
        return Reading::Open;
    }
    if goes_on(&all, &last, last_text) {
        return Reading::Open;
    }
    // A question anywhere in the turn ("Where is my order? I ordered it last week.") is to answer.
    let opening = last.iter().find(|w| !INTERJECTIONS.contains(&w.as_str()));
    let question = t.contains('?') || opening.is_some_and(|w| QUESTION.contains(&w.as_str())) || asks(&last);
    if question || makes_a_point(&all, &last, t, punctuated) {
        Reading::Finished
    } else {
        Reading::Open
    }
}

/// A question asked inside a sentence a recogniser did not mark as one: a helping verb before
/// its subject ("Sorry, the line is bad, did you say Thursday", "… now it's cheaper, can I get the
/// difference back").
fn asks(words: &[String]) -> bool {
    const HELPERS: &[&str] =
        &["can", "could", "would", "will", "do", "does", "did", "should", "shall", "may", "are", "have"];
    words.windows(2).any(|w| HELPERS.contains(&w[0].as_str()) && ["you", "i", "we"].contains(&w[1].as_str()))
}

/// Whether the turn is only words that answer on their own ("Yes.", "No thanks.", "Thank you.").
fn answers_alone(all: &[String]) -> bool {
    all.iter().all(|w| ANSWERS.contains(&w.as_str()) || w == "thank" || w == "you")
}

/// Signs that the caller has more to say even though the words form a sentence.
fn goes_on(all: &[String], last: &[String], last_text: &str) -> bool {
    // Only greetings and lead-ins ("Hi, yes.", "Well.", "Okay, so, um."): the start of a turn,
    // unless they answer something on their own ("Yes.", "No thanks.", "Okay.").
    let lead_ins = all.iter().all(|w| LEAD_INS.contains(&w.as_str()) || ANSWERS.contains(&w.as_str()));
    let answer = answers_alone(all);
    let greets = all.iter().any(|w| GREETINGS.contains(&w.as_str()));
    if lead_ins && (greets || !answer) {
        return true;
    }
    if THINKING.iter().any(|tail| ends_with(last, tail)) {
        return true;
    }
    // "First, it said out for delivery.": the first of a sequence, the rest to come.
    if ["first", "firstly"].contains(&last[0].as_str()) && last.len() > 1 {
        return true;
    }
    let n = last.len();
    let end = last[n - 1].as_str();
    let before = if n >= 2 { last[n - 2].as_str() } else { "" };
    // "Can you check?", "Could you tell me?", "Could you?", "The tracking page says."
    if NEEDS_AN_OBJECT.contains(&end) {
        return true;
    }
    if end == "me" && NEEDS_AN_OBJECT.contains(&before) {
        return true;
    }
    if ["you", "i", "we"].contains(&end)
        && ["can", "could", "would", "will", "may", "should"].contains(&before)
    {
        return true;
    }
    // "It's for order.": a label waiting for its number.
    if end == "order"
        && !["my", "the", "an", "this", "that", "our", "his", "her", "their", "whole"].contains(&before)
    {
        return true;
    }
    half_read_number(all) || half_said_email(last, last_text) || prefaces(last)
}

/// A number being read that is shorter than any the caller would be asked for ("my phone
/// number is 555.", "the number is one."): order, card and phone numbers have four digits or
/// more.
fn half_read_number(words: &[String]) -> bool {
    if !words.iter().any(|w| NUMBER_TALK.contains(&w.as_str())) {
        return false;
    }
    // Phone numbers have seven digits or more everywhere.
    let phone =
        words.iter().any(|w| ["phone", "mobile", "telephone", "landline", "cell"].contains(&w.as_str()));
    let least = if phone { 7 } else { 4 };
    digit_runs(words).last().is_some_and(|n| (1..least).contains(n))
}

/// The digits in each run of numbers in `words` ("1, 0, 4, 2" and "ten forty two" are one run of
/// four, "47 29 118" one of seven), in order; a run that goes on to the end is last.
fn digit_runs(words: &[String]) -> Vec<usize> {
    let mut runs = Vec::new();
    let mut run = 0;
    for w in spoken::digits_in(&words.join(" ")).split_whitespace() {
        if w.chars().all(|c| c.is_ascii_digit()) {
            run += w.len();
        } else if spoken::digit_word(w).is_some() || (w == "oh" && run > 0) {
            run += 1;
        } else {
            if run > 0 {
                runs.push(run);
            }
            run = 0;
        }
    }
    runs.push(run);
    runs
}

/// "My email is maria.": an e-mail address begun but not said whole.
fn half_said_email(last: &[String], last_text: &str) -> bool {
    let giving = contains(last, &["email", "is"])
        || contains(last, &["email", "address", "is"])
        || contains(last, &["e", "mail", "is"]);
    giving && spoken::email(last_text).is_none()
}

/// A topic announced with nothing yet said of it ("I'm calling about my order.", "I have a
/// question about shipping.", "Hi, this is Maria Lopez."): a problem or an order number in the
/// same sentence is the point itself.
fn prefaces(last: &[String]) -> bool {
    // "(Hi,) this is …" after any greetings and lead-ins.
    let introduces = last
        .iter()
        .position(|w| !LEAD_INS.contains(&w.as_str()))
        .is_some_and(|i| last[i..].starts_with(&["this".to_string(), "is".to_string()]));
    let announces = introduces || PREFACES.iter().any(|p| contains(last, p));
    announces && !has_problem(last) && !has_long_number(last)
}

fn has_problem(words: &[String]) -> bool {
    words.iter().any(|w| w.ends_with("n't") || PROBLEMS.contains(&w.as_str()))
}

fn has_long_number(words: &[String]) -> bool {
    digit_runs(words).iter().any(|&n| n >= 4)
}

/// A statement with something in it to answer: a request, a problem, thanks, an answer that
/// gives what callers are asked for (a number of four digits or more, an e-mail address, "my
/// name is …", "my address is …").
fn makes_a_point(all: &[String], last: &[String], text: &str, punctuated: bool) -> bool {
    let point =
        |w: &String| [REQUESTS, PROBLEMS, MORE_PROBLEMS, THANKS].iter().any(|l| l.contains(&w.as_str()));
    if answers_alone(all) || all.iter().any(|w| point(w) || w.ends_with("n't")) {
        return true;
    }
    if contains(all, &["that's", "all"]) || contains(all, &["that's", "it"]) {
        return true;
    }
    if all.iter().any(|w| w.ends_with("'d")) && all.iter().any(|w| w == "like" || w == "love") {
        return true;
    }
    // Across the turn: a recogniser may put a full stop where the caller paused in the number.
    if has_long_number(all) || spoken::email(text).is_some() || punctuated && short_answer(all) {
        return true;
    }
    // "My name is Maria Lopez.", "Our postcode is …": the caller's own details.
    let own = last.iter().position(|w| w == "my" || w == "our");
    own.is_some_and(|i| last[i..].iter().any(|w| ["is", "are", "was", "'s"].contains(&w.as_str())))
        || last.iter().any(|w| w == "name's" || w.starts_with("my") && w.ends_with("'s"))
}

/// A detail given in a few words, as an answer to what the agent asked ("23 June.", "The black
/// one in extra large.", "It's BS8 4LT.", "That's the one."): no one telling a story in it.
fn short_answer(all: &[String]) -> bool {
    const TELLING: &[&str] =
        &["i", "we", "they", "he", "she", "you", "i'm", "we're", "i've", "we've", "i'd", "i'll", "they're"];
    const LEADS: &[&str] =
        &["so", "and", "but", "well", "right", "okay", "ok", "um", "uh", "also", "then", "because"];
    all.len() <= 6
        && all.first().is_some_and(|w| !LEADS.contains(&w.as_str()))
        && !all.iter().any(|w| TELLING.contains(&w.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unfinished_words() {
        for yes in [
            "so I was wondering, um",
            "I ordered the",
            "My order number is",
            "I'm calling about",
            "and if",
            "Hold on.",
            "I sent it back on",
            "It was delivered on",
            "and then",
            "I checked the tracking and then",
            "I'm calling about my order,",
            "My order number is,",
            "Hi, yes,",
            "So I ordered a jacket,",
        ] {
            assert_eq!(reading(yes), Reading::Unfinished, "{yes}");
        }
        // A comma after a request, problem or question: neither finished nor unfinished.
        for open in ["I never received my package,", "Do you ship to Canada,", "I want a refund,"] {
            assert_eq!(reading(open), Reading::Open, "{open}");
        }
        for no in [
            "Could you tell me what my balance is?",
            "I don't know where it is.",
            "Who you are.",
            "I can't log in",
            "It stopped turning on",
            "Yeah, go on then.",
            "Okay then",
        ] {
            assert!(!sounds_unfinished(no), "{no}");
        }
    }

    #[test]
    fn questions_requests_problems_answers_and_thanks_are_finished() {
        for yes in [
            "Where is my order?",
            "Where is my order.",
            "Do you ship to Canada?",
            "Can I talk to a person?",
            "I want a refund.",
            "I'd like to cancel it.",
            "I would like to cancel my order.",
            "I never received my package.",
            "The tracking number does not work.",
            "The box was damaged.",
            "Thanks!",
            "Thank you so much.",
            "No that's all.",
            "Yes.",
            "No thanks.",
            "Okay.",
            " Order 1042. ",
            "\"Yes.\"",
            "My order number is one zero four two.",
            "It's order ten forty two.",
            "My name is Maria Lopez.",
            "My email is maria at example dot com.",
            "My phone number is 555 1234.",
            "My phone number is 555-1234",
            "The number is 1, 0, 4, 2.",
            "My order number is four seven, two nine, one one eight.",
            "Hi, I'm calling about my order 1042.",
            "I'm calling because my parcel hasn't arrived.",
            "Can you help me?",
            "Where is my order? I ordered it last week.",
            "It's seven three. Eight eight. Two zero one.",
            "23 June.",
            "The black one in extra large.",
            "It's BS8 4LT.",
            "That's the one.",
            "34 pounds 99.",
            "My mobile is 07700 900123.",
            // Without the full stop some recognisers leave off at the end of a turn.
            "where is my order",
            "I would like to cancel my order",
            "Can you tell me when my refund will go through",
            "Sorry could you repeat that last bit",
            "Okay so can i get the difference back",
            "I can't log in.",
            "Um yeah so the Bluetooth speaker just stopped turning on",
            "Sorry the line is bad did you say thursday",
            "It's cheaper now can i get the difference back",
        ] {
            assert_eq!(reading(yes), Reading::Finished, "{yes}");
        }
    }

    #[test]
    fn prefaces_background_and_half_said_things_are_open() {
        for open in [
            "Hi.",
            "Hi, yes.",
            "Hello there.",
            "Well.",
            "Let me see.",
            "Hi, this is Maria Lopez.",
            "I'm calling about my order.",
            "I have a question about shipping.",
            "I ordered a blue jacket.",
            "I bought it last week.",
            "The tracking page says.",
            "Could you tell me?",
            "Can you check?",
            "Could you?",
            "It's for order.",
            "The number is one.",
            "My phone number is 555.",
            "The card ends in 42.",
            "My phone number is 555",
            "My email is maria.",
            "My phone number is 0777.",
            "My postcode is, sorry.",
            "It was Tuesday, no wait.",
            "So the package arrived.",
            "I was wondering.",
            // A few words without a full stop are as often the start of something.
            "About three weeks ago now",
            "lesson",
            "The black one in extra large",
            "Hi yes i have a question about shipping",
            "Listen.",
            "Look.",
            "First, it said out for delivery.",
            "Firstly the box was damaged.",
        ] {
            assert_eq!(reading(open), Reading::Open, "{open}");
        }
    }

    #[test]
    fn nothing_said_is_not_finished() {
        for no in ["[BLANK_AUDIO]", "(coughs).", ".", "", "Um.", "I was wondering..."] {
            assert!(!sounds_complete(no), "{no}");
        }
    }
}
