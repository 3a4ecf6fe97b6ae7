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
    let t = text.to_lowercase();
    [
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
    ]
    .iter()
    .any(|w| t.contains(w))
        || asks_to_be_put_through(text)
}

/// Whether the caller asks in so many words to be transferred ("put me through to returns",
/// "transfer my call", "connect me with sales"): a request for a person whatever it is about
/// (to voicemail or to leave a message, it is not).
pub fn asks_to_be_put_through(text: &str) -> bool {
    let t = text.to_lowercase();
    if t.contains("voicemail") || t.contains("message") {
        return false;
    }
    ["transfer me", "transfer my call", "transfer this call", "put me through", "put me on to", "connect me"]
        .iter()
        .any(|w| t.contains(w))
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
    }
}
