//! Word error rate, for checking transcripts in tests and benchmarks: substitutions, deletions
//! and insertions over the reference's word count, after normalising case, punctuation and
//! numbers (digits are compared one by one, so "4572", "4,572" and "four five seven two" all
//! match).

const DIGIT_WORDS: [&str; 10] =
    ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];

/// Lower-case words without punctuation; digit runs and digit words become single digits.
pub fn normalise(text: &str) -> Vec<String> {
    let mut out = Vec::new();
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
        assert_eq!(wer("Where is my order 4572?", "Where's my order 4572"), 2.0 / 8.0);
        assert_eq!(wer("a b c d", "a x c"), 0.5);
        assert_eq!(wer("", ""), 0.0);
    }
}
