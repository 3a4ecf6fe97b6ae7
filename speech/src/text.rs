//! Text for phone speech: what the agent writes is rewritten the way a person would say it on the
//! phone (order and phone numbers digit by digit, money, dates, e-mail addresses, codes spelled
//! out), and streamed text is cut into sentences so synthesis can start before the reply is
//! complete.

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, 11) | (2, 12) | (3, 13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

fn spaced(s: &str) -> String {
    s.chars().map(|c| c.to_string()).collect::<Vec<_>>().join(" ")
}

/// `2026-11-25` → `November 25th, 2026`.
fn date(word: &str) -> Option<String> {
    let mut parts = word.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, m, d): (u32, usize, u32) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    let month = MONTHS.get(m.checked_sub(1)?)?;
    (1..=31).contains(&d).then(|| format!("{month} {}, {y}", ordinal(d)))
}

/// `$12.50` → `12 dollars and 50 cents`.
fn money(word: &str) -> Option<String> {
    let (unit, units, rest) = if let Some(r) = word.strip_prefix('$') {
        ("dollar", "dollars", r)
    } else if let Some(r) = word.strip_prefix('€') {
        ("euro", "euros", r)
    } else if let Some(r) = word.strip_prefix('£') {
        ("pound", "pounds", r)
    } else {
        return None;
    };
    let rest = rest.replace(',', "");
    let (whole, cents) = match rest.split_once('.') {
        Some((w, c)) if c.len() == 2 => (w.parse::<u64>().ok()?, c.parse::<u64>().ok()?),
        None => (rest.parse::<u64>().ok()?, 0),
        _ => return None,
    };
    let main = format!("{whole} {}", if whole == 1 { unit } else { units });
    Some(match cents {
        0 => main,
        1 => format!("{main} and 1 cent"),
        c => format!("{main} and {c} cents"),
    })
}

/// `pat.doe@shop.example` → `pat dot doe at shop dot example`.
fn email(word: &str) -> Option<String> {
    let (user, domain) = word.split_once('@')?;
    if user.is_empty() || !domain.contains('.') {
        return None;
    }
    let say = |s: &str| {
        s.replace('.', " dot ").replace('_', " underscore ").replace('-', " dash ").replace('+', " plus ")
    };
    Some(format!("{} at {}", say(user), say(domain)).split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Rewrites text for speaking on the phone.
pub fn for_phone(text: &str) -> String {
    let mut out = Vec::new();
    for token in text.split_whitespace() {
        // Keep trailing punctuation (it shapes the prosody) apart from the word.
        let trimmed = token.trim_end_matches(['.', ',', '!', '?', ';', ':', ')']);
        let tail = token.strip_prefix(trimmed).unwrap_or_default();
        let (lead, word) = match trimmed.strip_prefix('(') {
            Some(w) => ("(", w),
            None => ("", trimmed),
        };
        let spoken = if let Some(s) = money(word) {
            s
        } else if let Some(s) = date(word) {
            s
        } else if let Some(s) = email(word) {
            s
        } else if let Some(n) =
            word.strip_prefix('#').filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
        {
            format!("number {}", spaced(n))
        } else if let Some(n) =
            word.strip_prefix('+').filter(|n| n.len() >= 7 && n.chars().all(|c| c.is_ascii_digit()))
        {
            format!("plus {}", spaced(n))
        } else if word.len() >= 4 && word.chars().all(|c| c.is_ascii_digit()) {
            // Order numbers, phone numbers, codes: digit by digit.
            spaced(word)
        } else if word.len() >= 5
            && word.chars().all(|c| c.is_ascii_alphanumeric())
            && word.chars().any(|c| c.is_ascii_digit())
            && word.chars().any(|c| c.is_ascii_alphabetic())
        {
            // Tracking numbers and other codes: spelled out.
            spaced(&word.to_ascii_uppercase())
        } else {
            word.to_string()
        };
        out.push(format!("{lead}{spoken}{tail}"));
    }
    out.join(" ")
}

/// Cuts streamed text into sentences: push text as it arrives, take sentences as they complete.
/// With `clause_first`, the first chunk of a reply may end at a clause (", ; :") so that speech
/// starts sooner ("Sure," is spoken while the rest is still being synthesised).
#[derive(Debug, Default)]
pub struct SentenceChunker {
    buffer: String,
    /// How much of `buffer` is known to hold no sentence end (but its last byte, which waits
    /// for the next): a reply streamed without punctuation is scanned once, not once a push.
    scanned: usize,
    clause_first: bool,
    emitted: bool,
}

const ABBREVIATIONS: &[&str] = &["mr.", "mrs.", "ms.", "dr.", "st.", "e.g.", "i.e.", "etc.", "no.", "vs."];

impl SentenceChunker {
    pub fn clause_first() -> Self {
        SentenceChunker { clause_first: true, ..Default::default() }
    }

    /// Adds text; returns the sentences it completed.
    pub fn push(&mut self, text: &str) -> Vec<String> {
        self.buffer.push_str(text);
        let mut out = Vec::new();
        while let Some(end) = self.sentence_end() {
            let sentence: String = self.buffer.drain(..end).collect();
            self.scanned = 0;
            let sentence = sentence.trim().to_string();
            if !sentence.is_empty() {
                out.push(sentence);
                self.emitted = true;
            }
        }
        out
    }

    /// The end of the first complete sentence: terminal punctuation followed by whitespace (a
    /// number like 12.50 or an abbreviation does not end one).
    fn sentence_end(&mut self) -> Option<usize> {
        let b = self.buffer.as_bytes();
        let from = self.scanned.saturating_sub(1);
        self.scanned = b.len();
        for i in from..b.len() {
            let clause = self.clause_first && !self.emitted && matches!(b[i], b',' | b';' | b':');
            if !clause && !matches!(b[i], b'.' | b'!' | b'?' | b'\n') {
                continue;
            }
            let next = b.get(i + 1).copied();
            if b[i] != b'\n' && !next.is_some_and(|c| c.is_ascii_whitespace()) {
                continue; // "12.50", or the end of what arrived so far
            }
            if b[i] == b'.' {
                // The word this full stop ends (`i` is an ASCII byte, so `..=i` is whole
                // characters; the whitespace before the word may be several bytes long).
                let upto = self.buffer.get(..=i).unwrap_or_default();
                let word = upto.rsplit(char::is_whitespace).next().unwrap_or_default().to_lowercase();
                if ABBREVIATIONS.contains(&word.as_str()) {
                    continue;
                }
            }
            return Some(i + 1);
        }
        None
    }

    /// What is left at the end of the stream.
    pub fn finish(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.buffer);
        self.scanned = 0;
        let rest = rest.trim();
        (!rest.is_empty()).then(|| rest.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_numbers_money_dates_and_addresses_like_a_person() {
        assert_eq!(for_phone("Order 4572 shipped."), "Order 4 5 7 2 shipped.");
        assert_eq!(for_phone("Your order #1042 is on its way!"), "Your order number 1 0 4 2 is on its way!");
        assert_eq!(
            for_phone("The total is $12.50, due 2026-12-01."),
            "The total is 12 dollars and 50 cents, due December 1st, 2026."
        );
        assert_eq!(for_phone("You owe $1 and €3."), "You owe 1 dollar and 3 euros.");
        assert_eq!(
            for_phone("Mail pat.doe@shop.example please"),
            "Mail pat dot doe at shop dot example please"
        );
        assert_eq!(for_phone("Call +15555550100."), "Call plus 1 5 5 5 5 5 5 0 1 0 0.");
        assert_eq!(for_phone("Tracking 1Z999AA1."), "Tracking 1 Z 9 9 9 A A 1.");
        assert_eq!(for_phone("I have 3 items in 12 boxes."), "I have 3 items in 12 boxes.");
    }

    #[test]
    fn streamed_text_comes_out_sentence_by_sentence() {
        let mut c = SentenceChunker::default();
        let mut out = Vec::new();
        for piece in ["Hello Mr. Smi", "th. Your total is $12", ".50 today", ". Anything else? Th", "anks"] {
            out.extend(c.push(piece));
        }
        assert_eq!(out, vec!["Hello Mr. Smith.", "Your total is $12.50 today.", "Anything else?"]);
        assert_eq!(c.finish().as_deref(), Some("Thanks"));
        assert_eq!(c.finish(), None);
        // Clause first: the opening clause goes at once, then whole sentences.
        let mut c = SentenceChunker::clause_first();
        let out = c.push("Sure, your order shipped on May 3, 2026, by UPS. It arrives Friday, I think. ");
        assert_eq!(
            out,
            vec!["Sure,", "your order shipped on May 3, 2026, by UPS.", "It arrives Friday, I think."]
        );
    }

    /// A model's reply is someone else's text: a full stop after a word that follows a
    /// multi-byte space (no-break space, line separator) once cut the buffer inside that space
    /// and panicked the call's voice task.
    #[test]
    fn replies_with_any_characters_are_chunked() {
        for space in ["\u{a0}", "\u{2028}", "\u{3000}"] {
            let mut c = SentenceChunker::default();
            let text = format!("Hello{space}Mr. Smith. Done{space}now. ");
            assert_eq!(c.push(&text), vec![format!("Hello{space}Mr. Smith."), format!("Done{space}now.")]);
        }
        let mut c = SentenceChunker::clause_first();
        assert_eq!(c.push("€, é. 𝄞! "), vec!["€,", "é.", "𝄞!"]);
        assert_eq!(for_phone("é€ 𝄞. (€) #é +€ 12€4 $é €."), "é€ 𝄞. (€) #é +€ 12€4 $é €.");
    }
}
