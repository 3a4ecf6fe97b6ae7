//! What a caller's words say about the call, for the grid's signals: unhappy, or asking for a
//! person. Word lists, not models: cheap and predictable.

/// Words that mark an unhappy caller (a word list, not a model: cheap and predictable).
pub fn sounds_negative(text: &str) -> bool {
    const WORDS: &[&str] = &[
        "angry",
        "annoyed",
        "awful",
        "terrible",
        "horrible",
        "ridiculous",
        "useless",
        "frustrated",
        "frustrating",
        "unacceptable",
        "worst",
        "hate",
        "furious",
        "disgusting",
        "scam",
        "complaint",
        "rubbish",
        "stupid",
        "pathetic",
        "fed up",
        "sick of",
        "not happy",
        "unhappy",
        "upset",
        "disappointed",
        "lawyer",
        "refund now",
        "waste of time",
    ];
    says_any(text, WORDS)
}

/// Whether `text` holds one of `words` (lower case) as whole words.
pub fn says_any(text: &str, words: &[&str]) -> bool {
    let t = text.to_lowercase();
    words.iter().any(|w| {
        t.match_indices(w).any(|(i, _)| {
            let (before, after) = (t.get(..i).unwrap_or_default(), t.get(i + w.len()..).unwrap_or_default());
            let before = before.chars().next_back().is_none_or(|c| !c.is_alphanumeric());
            let after = after.chars().next().is_none_or(|c| !c.is_alphanumeric());
            before && after
        })
    })
}

/// Whether the caller asks for a manager or supervisor.
pub fn asks_for_manager(text: &str) -> bool {
    says_any(text, &["manager", "supervisor", "your boss", "someone in charge", "escalate"])
}

/// Whether the caller talks of cancelling (an order, a subscription, the account).
pub fn mentions_cancelling(text: &str) -> bool {
    says_any(text, &["cancel", "cancelling", "canceling", "cancellation", "close my account", "unsubscribe"])
}

/// Whether the caller talks of a chargeback or disputing the payment with their bank.
pub fn mentions_chargeback(text: &str) -> bool {
    says_any(
        text,
        &[
            "chargeback",
            "charge back",
            "dispute",
            "disputing",
            "call my bank",
            "contact my bank",
            "credit card company",
        ],
    )
}

/// Whether the caller reports a problem with an order (for their open tickets).
pub fn mentions_problem(text: &str) -> bool {
    says_any(
        text,
        &[
            "problem",
            "issue",
            "broken",
            "damaged",
            "missing",
            "wrong",
            "never arrived",
            "didn't arrive",
            "hasn't arrived",
            "not working",
            "doesn't work",
            "defective",
            "ticket",
            "complaint",
        ],
    )
}

/// Whether the caller asks for a person.
pub fn asks_for_human(text: &str) -> bool {
    let t = spaced(text);
    const ASKS: &[&str] = &[
        "a person",
        "a human",
        "real person",
        "an agent",
        "a representative",
        "someone real",
        "operator",
        "talk to somebody",
        "speak to somebody",
        "speak to someone",
        "talk to someone",
        "a word with someone",
        "a word with somebody",
        "a human being",
    ];
    // "For a person who is six foot", "a person of my height": a person described, not asked
    // for, unless asked for in so many words ("talk to a real person who knows tents").
    const DESCRIBED: &[&str] = &["who", "who's", "whos", "that", "of", "with", "like", "is", "weighs"];
    const ASKED: &[&str] = &["to", "with", "want", "need", "get", "me", "just", "please"];
    let mut asks = ASKS.iter().filter_map(|w| t.find(&format!(" {w} ")).map(|at| (at, w.len())));
    asks.any(|(at, len)| {
        let after = t.get(at + len + 2..).unwrap_or("").split(' ');
        let next = after.clone().next().unwrap_or("");
        // "Is there a person I could email about partnerships": someone to write to.
        if ["i", "we", "to", "you"].contains(&next)
            && after.take(4).any(|w| ["email", "e-mail", "write"].contains(&w))
        {
            return false;
        }
        let before = t
            .get(..at)
            .unwrap_or("")
            .split(' ')
            .rev()
            .find(|w| !["", "a", "an", "the"].contains(w))
            .unwrap_or("");
        !DESCRIBED.contains(&next) || ASKED.contains(&before)
    }) || asks_to_be_put_through(text)
}

/// Whether the caller asks in so many words to be transferred ("put me through to returns",
/// "transfer my call", "connect me with sales", "I need the billing department"): a request
/// for a person whatever it is about (to voicemail or to leave a message, it is not).
pub fn asks_to_be_put_through(text: &str) -> bool {
    let words = words_of(text);
    let t = format!(" {} ", words.join(" "));
    if words.iter().any(|w| w.starts_with("voicemail") || w.starts_with("message")) {
        return false;
    }
    // "Don't put me through, just tell Sam to ring me"; "I'd like to drop a line to the
    // manager".
    let t_plain = t.replace('\'', "");
    const NOT_NOW: &[&str] = &[
        "dont put me",
        "dont transfer",
        "no need to put me",
        "not put me",
        "drop a line",
        "a note",
        "note down",
    ];
    if NOT_NOW.iter().any(|w| t_plain.contains(&format!(" {w} "))) {
        return false;
    }
    const ASKS: &[&str] = &[
        "transfer me",
        "transfer my call",
        "transfer this call",
        "be transferred",
        "can i get transferred",
        "could i get transferred",
        "to get transferred",
        "put me through",
        "put me on to",
        "connect me",
        "get me through to",
        "pass me to",
        "pass me over to",
        "put me over to",
        "put me to",
        "put me onto",
        "patch me",
        "hand me over",
        "hand me to",
        "someone senior",
        "somebody senior",
        "have extension",
        "dial extension",
        "try extension",
        "take my call",
    ];
    // "I need the billing department", "can I speak to your returns team", "anyone in the
    // warranty team I can talk to", "I want your manager": a department or manager asked for
    // ("does your returns department open on Sunday" only mentions one).
    const WANTS: &[&str] = &[
        "need",
        "want",
        "like",
        "speak to",
        "talk to",
        "speak with",
        "talk with",
        "reach",
        "get me",
        "get hold of",
    ];
    // After the department: "anyone in the warranty team I can talk to"; right after it, "is
    // Mark from the delivery team available" (not "the team said it was available").
    const TALK: &[&str] = &["speak to", "talk to", "speak with", "talk with"];
    let department = words.iter().enumerate().any(|(i, w)| {
        ["department", "team", "desk", "manager", "supervisor", "coordinator", "director", "boss"]
            .contains(&w.as_str())
            && {
                let before = format!(" {} ", words[i.saturating_sub(6)..i].join(" "));
                let after = format!(" {} ", words[i + 1..(i + 6).min(words.len())].join(" "));
                WANTS.iter().any(|v| before.contains(&format!(" {v} ")))
                    || TALK.iter().any(|v| after.contains(&format!(" {v} ")))
                    || words.get(i + 1).is_some_and(|w| ["available", "please", "free"].contains(&w.as_str()))
                    || (i + 1 == words.len()
                        && words.len() <= 3
                        && !["i", "im", "its", "this", "that", "my", "our"]
                            .contains(&words[0].replace('\'', "").as_str()))
            }
    });
    // "Put Jenny on, she dealt with me before."
    const NOT_PUT: &[&str] = &[
        "me",
        "it",
        "that",
        "this",
        "them",
        "the",
        "a",
        "an",
        "my",
        "your",
        "on",
        "us",
        "both",
        "those",
        "these",
        "everything",
        "all",
    ];
    let put_on = words.first().is_some_and(|w| w == "put")
        && words.get(1).is_some_and(|w| !NOT_PUT.contains(&w.as_str()))
        && words.get(2).is_some_and(|w| w == "on");
    department || put_on || ASKS.iter().any(|w| t.contains(&format!(" {w} ")))
}

/// A text's words between single spaces (" put me through "), to find phrases as whole words.
pub(crate) fn spaced(text: &str) -> String {
    format!(" {} ", words_of(text).join(" "))
}

/// The words of a text: lower case, punctuation (but apostrophes) trimmed.
pub(crate) fn words_of(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'').to_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

#[cfg(test)]
mod put_through_tests {
    use super::*;

    #[test]
    fn asking_to_be_put_through_is_asking_for_a_person_but_not_to_voicemail() {
        assert!(asks_for_human("could you put me through to returns"));
        assert!(asks_to_be_put_through("Can you connect me with your warranty team?"));
        assert!(!asks_to_be_put_through("my order is connected to my old account"));
        assert!(!asks_to_be_put_through("put me through to voicemail"));
        assert!(asks_to_be_put_through("I'd like to be transferred to the complaints team, please."));
        assert!(asks_to_be_put_through("i need the billing department"));
        assert!(asks_to_be_put_through("can I talk to your returns team"));
        assert!(!asks_to_be_put_through("does your returns department open on sunday"));
        assert!(!asks_to_be_put_through("i had a chat with your support team about a missing part"));
        assert!(asks_to_be_put_through("id like the returns department please"));
        assert!(asks_to_be_put_through("is there anyone in the warranty team i can talk to directly"));
        assert!(asks_to_be_put_through("could i speak to somebody in your complaints department"));
        assert!(asks_to_be_put_through("listen i want your complaints manager"));
        assert!(asks_to_be_put_through("can you pass me to whoever deals with schools"));
        assert!(!asks_to_be_put_through("my complaint was passed to your manager last week, any news"));
        assert!(asks_to_be_put_through("is priya from the returns team available"));
        assert!(!asks_to_be_put_through("is the green tent available in a four man"));
        assert!(!asks_to_be_put_through("the returns team said an exchange was available"));
    }

    #[test]
    fn a_person_described_is_not_a_person_asked_for() {
        assert!(asks_for_human("I want to speak to a person"));
        assert!(asks_for_human("a person, please."));
        assert!(asks_for_human("can I talk to a real person who knows tents"));
        assert!(!asks_for_human("what size sleeping bag do I need for a person who is six foot four"));
        assert!(!asks_for_human("can you engrave a personal message on the bottle"));
        assert!(!asks_for_human("is that tent big enough for a person with a dog"));
        assert!(!asks_for_human("is the sleeping bag big enough for a person whos six foot four"));
        assert!(asks_for_human("can a human being take over this call"));
        assert!(!asks_for_human("my cooperator said"));
    }
}
