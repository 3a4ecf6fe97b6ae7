//! Word error rate, for checking transcripts in tests and benchmarks: substitutions, deletions
//! and insertions over the reference's word count, after normalising case, punctuation and
//! numbers (numbers said in words are written as digits first, and digits are compared one by
//! one, so "4572", "4,572", "four five seven two" and "four thousand five hundred seventy two"
//! all match).

const DIGIT_WORDS: [&str; 10] =
    ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];

/// Contractions written out, so "where's" and "where is" are the same words (a recogniser's
/// spelling choice, not an error). Only the unambiguous ones: "Maria's" stays.
const CONTRACTIONS: [(&str, &str); 30] = [
    ("where's", "where is"),
    ("what's", "what is"),
    ("that's", "that is"),
    ("it's", "it is"),
    ("there's", "there is"),
    ("here's", "here is"),
    ("he's", "he is"),
    ("she's", "she is"),
    ("how's", "how is"),
    ("who's", "who is"),
    ("i'm", "i am"),
    ("you're", "you are"),
    ("we're", "we are"),
    ("they're", "they are"),
    ("i've", "i have"),
    ("you've", "you have"),
    ("we've", "we have"),
    ("i'll", "i will"),
    ("you'll", "you will"),
    ("i'd", "i would"),
    ("don't", "do not"),
    ("doesn't", "does not"),
    ("didn't", "did not"),
    ("isn't", "is not"),
    ("aren't", "are not"),
    ("wasn't", "was not"),
    ("haven't", "have not"),
    ("can't", "cannot"),
    ("won't", "will not"),
    ("let's", "let us"),
];

/// Lower-case words without punctuation; contractions written out; numbers said in words as
/// digits; digit runs and digit words become single digits.
pub fn normalise(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut spelled = Vec::new();
    for w in text.replace(['-', ','], " ").replace('\u{2019}', "'").split_whitespace() {
        let bare = w.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'').to_lowercase();
        match CONTRACTIONS.iter().find(|(short, _)| *short == bare) {
            Some((_, long)) => spelled.push(long.to_string()),
            // An e-mail address as said: "maria@example.com" = "maria at example dot com".
            None if bare.contains('@') => spelled.push(bare.replace('@', " at ").replace('.', " dot ")),
            None => spelled.push(w.to_string()),
        }
    }
    let text = crate::spoken::digits_in(&spelled.join(" "));
    for raw in text.split(|c: char| c.is_whitespace() || c == '-') {
        let w: String =
            raw.chars().filter(|c| c.is_alphanumeric() || *c == '\'').collect::<String>().to_lowercase();
        if w.is_empty() {
            continue;
        }
        if let Some(d) = DIGIT_WORDS.iter().position(|d| *d == w) {
            out.push(d.to_string());
        } else if w.chars().all(|c| c.is_ascii_digit()) {
            out.extend(w.chars().map(|c| c.to_string()));
        } else {
            out.push(w);
        }
    }
    out
}

/// Word error rate of `hypothesis` against `reference` (0 is perfect; can exceed 1).
pub fn wer(reference: &str, hypothesis: &str) -> f64 {
    let (r, h) = (normalise(reference), normalise(hypothesis));
    if r.is_empty() {
        return if h.is_empty() { 0.0 } else { 1.0 };
    }
    // Levenshtein distance over words.
    let mut prev: Vec<usize> = (0..=h.len()).collect();
    for (i, rw) in r.iter().enumerate() {
        let mut cur = vec![i + 1; h.len() + 1];
        for (j, hw) in h.iter().enumerate() {
            let sub = prev[j] + usize::from(rw != hw);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[h.len()] as f64 / r.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_word_errors_after_normalising() {
        assert_eq!(wer("Where is my order 4572?", "where is my order four five seven two"), 0.0);
        assert_eq!(wer("Where is my order 4572?", "Where was my order 4572"), 1.0 / 8.0);
        assert_eq!(wer("a b c d", "a x c"), 0.5);
        assert_eq!(
            wer("Where is my order 4572?", "Where is my order? Four thousand five hundred seventy-two."),
            0.0
        );
        assert_eq!(wer("Where is my order? I can't find it.", "Where's my order? I cannot find it"), 0.0);
        assert_eq!(wer("My email is maria at example dot com.", "My email is maria@example.com."), 0.0);
        assert!(wer("Maria's order", "Maria is order") > 0.0, "a possessive is not a contraction");
        assert_eq!(wer("", ""), 0.0);
    }
}
