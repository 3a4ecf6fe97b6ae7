//! What callers say, as data: numbers the way people say them (digit by digit with "oh" for
//! zero and "double"/"triple", in pairs like "ten forty-two", or as cardinals like "one
//! thousand and five"), amounts of money, dates, and e-mail addresses spoken or spelled
//! ("m a r i a at example dot com"). Works on what the recogniser wrote, words or digits.

/// The digits' names, "zero" to "nine".
const DIGIT_NAMES: [&str; 10] =
    ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];

/// A digit's name ("four", any case) as its value; only the ten names.
pub fn digit_word(w: &str) -> Option<u8> {
    DIGIT_NAMES.iter().position(|n| w.eq_ignore_ascii_case(n)).map(|d| d as u8)
}

/// A word's value as a single digit ("oh" and "o" are zero). `loose` also takes the words that
/// are more often words than digits ("to", "too", "for"): only inside a longer run.
fn unit(w: &str, loose: bool) -> Option<u64> {
    if let Some(d) = digit_word(w) {
        return Some(d.into());
    }
    Some(match w {
        "oh" | "o" | "nought" => 0,
        "to" | "too" if loose => 2,
        "for" if loose => 4,
        _ => return None,
    })
}

fn teen(w: &str) -> Option<u64> {
    let n = [
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ]
    .iter()
    .position(|t| *t == w)?;
    Some(10 + n as u64)
}

fn tens(w: &str) -> Option<u64> {
    let n = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
        .iter()
        .position(|t| *t == w)?;
    Some(20 + 10 * n as u64)
}

/// The words of `text`, lower case, without punctuation; hyphens and commas split words.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || c == ',' || c == '-')
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric() && c != '$' && c != '@' && c != '.').to_lowercase()
        })
        .map(|w| w.trim_end_matches('.').to_string())
        .filter(|w| !w.is_empty())
        .collect()
}

/// A two-digit group at `i`: a teen, a tens word with an optional unit ("forty two"), or "oh"
/// and a unit ("oh two" = 02). Its value and the words it took.
fn pair(w: &[String], i: usize) -> Option<(u64, usize)> {
    let first = w.get(i)?;
    if let Some(t) = teen(first) {
        return Some((t, 1));
    }
    if let Some(t) = tens(first) {
        return match w.get(i + 1).and_then(|u| unit(u, false)).filter(|u| *u > 0) {
            Some(u) => Some((t + u, 2)),
            None => Some((t, 1)),
        };
    }
    if matches!(first.as_str(), "oh" | "o" | "zero") {
        let u = w.get(i + 1).and_then(|u| unit(u, false))?;
        return Some((u, 2));
    }
    None
}

/// A cardinal with "hundred" or "thousand" at `i` ("one thousand and forty two", "two
/// hundred five"): its value and the words it took; None without a multiplier.
fn cardinal(w: &[String], i: usize) -> Option<(u64, usize)> {
    let (mut total, mut current, mut j, mut multiplied) = (0u64, 0u64, i, false);
    let mut last_was_number = false;
    while let Some(word) = w.get(j) {
        match word.as_str() {
            "hundred" if last_was_number || current > 0 => {
                current = current.max(1).saturating_mul(100);
                multiplied = true;
            }
            "thousand" if last_was_number || current > 0 => {
                total = total.saturating_add(current.max(1).saturating_mul(1000));
                current = 0;
                multiplied = true;
            }
            // "and" joins parts only when a number follows it.
            "and"
                if multiplied
                    && w.get(j + 1).is_some_and(|n| unit(n, false).or(teen(n)).or(tens(n)).is_some()) =>
            {
                j += 1;
                last_was_number = false;
                continue;
            }
            _ => {
                let Some((v, used)) = pair(w, j).or_else(|| unit(word, false).map(|u| (u, 1))) else { break };
                if last_was_number {
                    break; // two numbers in a row are not one cardinal ("two three")
                }
                current = current.saturating_add(v);
                j += used;
                last_was_number = true;
                continue;
            }
        }
        last_was_number = false;
        j += 1;
    }
    // A trailing multiplier belongs to the number ("two thousand"); a trailing "and" does not.
    (multiplied && j > i).then_some((total.saturating_add(current), j - i))
}

/// Digit words in a row ("one oh four two", "double seven"): the digits and the words taken;
/// at least three digits, and "to"/"for" count only inside such a run.
fn digit_run(w: &[String], i: usize) -> Option<(String, usize)> {
    let mut digits = String::new();
    let mut j = i;
    while let Some(word) = w.get(j) {
        let times = match word.as_str() {
            "double" => 2,
            "triple" => 3,
            _ => 1,
        };
        let at = if times > 1 { j + 1 } else { j };
        let loose = !digits.is_empty();
        let Some(d) = w.get(at).and_then(|x| unit(x, loose)) else { break };
        // "two hundred": the unit starts a cardinal instead.
        if w.get(at + 1).is_some_and(|n| n == "hundred" || n == "thousand") {
            break;
        }
        for _ in 0..times {
            digits.push(char::from(b'0' + d as u8));
        }
        j = at + 1;
    }
    (digits.len() >= 3).then_some((digits, j - i))
}

/// `text` with the numbers said in words written as digits: "ten forty two" → "1042", "one oh
/// four two" → "1042", "one thousand and five" → "1005", "forty two" → "42". Other words stay
/// (lower case, without punctuation); single digit words stay words ("I have two orders").
pub fn digits_in(text: &str) -> String {
    let w = words(text);
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < w.len() {
        if let Some((digits, used)) = digit_run(&w, i) {
            out.push(digits);
            i += used;
        } else if let Some((value, used)) = cardinal(&w, i) {
            out.push(value.to_string());
            i += used;
        } else if let Some((first, used)) = pair(&w, i).filter(|(v, _)| *v >= 10) {
            // Pairs: "ten forty two" (10 42), "nineteen ninety nine", "ten oh two" (10 02).
            let mut digits = first.to_string();
            let mut j = i + used;
            while let Some((next, n)) = pair(&w, j) {
                digits.push_str(&format!("{next:02}"));
                j += n;
            }
            out.push(digits);
            i = j;
        } else {
            out.push(w[i].clone());
            i += 1;
        }
    }
    out.join(" ")
}

/// `digits` said one by one ("1042" → "one zero four two"), for reading a number back.
pub fn say_digits(digits: &str) -> String {
    digits
        .chars()
        .filter_map(|c| c.to_digit(10))
        .map(|d| DIGIT_NAMES[d as usize])
        .collect::<Vec<_>>()
        .join(" ")
}

/// An amount of money said in `text`, in cents: "$20.50", "20 dollars 50", "twenty dollars
/// and fifty cents", "forty nine ninety nine dollars" is not an amount (too ambiguous).
pub fn amount_cents(text: &str) -> Option<u64> {
    let w: Vec<String> = digits_in(text).split_whitespace().map(str::to_string).collect();
    let number = |s: &str| s.parse::<u64>().ok().filter(|n| *n < 10_000_000);
    for (i, word) in w.iter().enumerate() {
        if let Some(rest) = word.strip_prefix('$') {
            let (whole, cents) = match rest.split_once('.') {
                Some((a, b)) if b.len() == 2 => (number(a)?, number(b)?),
                None => (number(rest)?, 0),
                _ => continue,
            };
            return Some(whole * 100 + cents);
        }
        let currency = matches!(
            w.get(i + 1).map(String::as_str),
            Some("dollars" | "dollar" | "bucks" | "euros" | "euro" | "pounds" | "pound")
        );
        if let (Some(whole), true) = (number(word), currency) {
            let mut j = i + 2;
            if w.get(j).is_some_and(|a| a == "and") {
                j += 1;
            }
            let cents = w.get(j).and_then(|c| number(c)).filter(|c| *c < 100).unwrap_or(0);
            return Some(whole * 100 + cents);
        }
        if let (Some(cents), Some("cents" | "cent")) = (number(word), w.get(i + 1).map(String::as_str)) {
            return (cents < 100).then_some(cents);
        }
    }
    None
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

fn ordinal(w: &[String], i: usize) -> Option<(u32, usize)> {
    const UNITS: [&str; 19] = [
        "first",
        "second",
        "third",
        "fourth",
        "fifth",
        "sixth",
        "seventh",
        "eighth",
        "ninth",
        "tenth",
        "eleventh",
        "twelfth",
        "thirteenth",
        "fourteenth",
        "fifteenth",
        "sixteenth",
        "seventeenth",
        "eighteenth",
        "nineteenth",
    ];
    let word = w.get(i)?;
    if let Some(n) = UNITS.iter().position(|u| u == word) {
        return Some((n as u32 + 1, 1));
    }
    match word.as_str() {
        "twentieth" => return Some((20, 1)),
        "thirtieth" => return Some((30, 1)),
        "twenty" | "thirty" => {
            let base = if word == "twenty" { 20 } else { 30 };
            let n = w.get(i + 1).and_then(|u| UNITS.iter().take(9).position(|x| x == u))?;
            return Some((base + n as u32 + 1, 2));
        }
        _ => {}
    }
    // "3rd", "21st", "3".
    let digits = word.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    digits.parse::<u32>().ok().filter(|d| (1..=31).contains(d)).map(|d| (d, 1))
}

/// A date said in `text` as (month, day): "March third", "the 3rd of March", "march 3".
pub fn month_day(text: &str) -> Option<(u32, u32)> {
    let w = words(text);
    for (i, word) in w.iter().enumerate() {
        let Some(month) = MONTHS.iter().position(|m| m == word) else { continue };
        // "May" is a month only with a day beside it.
        let after = w.get(i + 1).map(|t| t == "the").map_or(i + 1, |the| if the { i + 2 } else { i + 1 });
        if let Some((day, _)) = ordinal(&w, after) {
            return Some((month as u32 + 1, day));
        }
        // "the third of march": the ordinal before "of".
        if i >= 2 && w[i - 1] == "of" {
            let start = if i >= 3 && ordinal(&w, i - 3).is_some_and(|(_, n)| n == 2) { i - 3 } else { i - 2 };
            if let Some((day, _)) = ordinal(&w, start) {
                return Some((month as u32 + 1, day));
            }
        }
    }
    None
}

/// An e-mail address written ("pat@doe.com"), spoken ("pat at doe dot com", "pat underscore
/// doe at shop dot example") or spelled letter by letter ("m a r i a at example dot com").
pub fn email(text: &str) -> Option<String> {
    let w: Vec<String> = text
        .split_whitespace()
        .map(|t| t.trim_matches(|c: char| !c.is_alphanumeric() && !"@._-+".contains(c)).to_lowercase())
        .map(|t| t.trim_end_matches('.').to_string())
        .filter(|t| !t.is_empty())
        .collect();
    // Written whole.
    if let Some(found) = w.iter().find(|t| looks_like_email(t)) {
        return Some(found.clone());
    }
    let at = w.iter().position(|t| t == "at" || t == "@")?;
    // The user part: the words before "at" back to the first that is not part of an address
    // (single letters, digits, "dot"/"underscore"/"dash", or one word).
    let joiner = |t: &str| match t {
        "dot" | "period" | "point" => Some("."),
        "underscore" => Some("_"),
        "dash" | "hyphen" | "minus" => Some("-"),
        "plus" => Some("+"),
        _ => None,
    };
    let piece = |t: &str| t.chars().all(|c| c.is_ascii_alphanumeric() || "._-+".contains(c));
    let mut start = at;
    while start > 0 {
        let t = &w[start - 1];
        let short = t.chars().count() == 1 || t.chars().all(|c| c.is_ascii_digit());
        // A longer word belongs only as the last before "at" or joined on ("pat dot doe").
        let joined = w.get(start).is_some_and(|n| joiner(n).is_some());
        if joiner(t).is_none() && !(piece(t) && (short || start == at || joined)) {
            break;
        }
        start -= 1;
    }
    let mut user = String::new();
    for t in &w[start..at] {
        user.push_str(joiner(t).unwrap_or(t));
    }
    let mut domain = String::new();
    let mut j = at + 1;
    while let Some(t) = w.get(j) {
        match joiner(t) {
            Some(sep) => domain.push_str(sep),
            None if piece(t)
                && (domain.is_empty() || domain.ends_with(['.', '-']) || t.chars().count() == 1) =>
            {
                domain.push_str(t)
            }
            None => break,
        }
        j += 1;
    }
    let address = format!("{user}@{}", domain.trim_end_matches(['.', '-']));
    looks_like_email(&address).then_some(address)
}

fn looks_like_email(t: &str) -> bool {
    let mut parts = t.split('@');
    matches!((parts.next(), parts.next(), parts.next()), (Some(u), Some(d), None)
        if !u.is_empty() && !u.starts_with('.') && d.contains('.') && !d.starts_with('.') && !d.ends_with('.')
            && !d.contains(".."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digit_by_digit_with_oh_double_and_triple() {
        assert_eq!(digits_in("one zero four two"), "1042");
        assert_eq!(digits_in("my order is one oh four two"), "my order is 1042");
        assert_eq!(digits_in("double seven one two"), "7712");
        assert_eq!(digits_in("triple five zero"), "5550");
        assert_eq!(digits_in("one 0 0 2"), "one 0 0 2", "mixed words and digits are left to the reader");
        // "to" and "for" count only inside a run of digits.
        assert_eq!(digits_in("one two for two"), "1242");
        assert_eq!(digits_in("I want to talk to four people"), "i want to talk to four people");
        assert_eq!(digits_in("I have two orders"), "i have two orders");
    }

    #[test]
    fn pairs_as_people_say_years_and_order_numbers() {
        assert_eq!(digits_in("order ten forty two"), "order 1042");
        assert_eq!(digits_in("ten forty-two"), "1042");
        assert_eq!(digits_in("nineteen ninety nine"), "1999");
        assert_eq!(digits_in("twenty twenty six"), "2026");
        assert_eq!(digits_in("ten oh two"), "1002");
        assert_eq!(digits_in("forty two"), "42");
        assert_eq!(digits_in("it costs twenty"), "it costs 20");
    }

    #[test]
    fn cardinals_with_hundreds_and_thousands() {
        assert_eq!(digits_in("one thousand forty two"), "1042");
        assert_eq!(digits_in("one thousand and five"), "1005");
        assert_eq!(digits_in("two hundred and fifty"), "250");
        assert_eq!(digits_in("two thousand"), "2000");
        assert_eq!(digits_in("a hundred"), "a hundred", "no number before the multiplier");
        assert_eq!(digits_in("five hundred orders and two more"), "500 orders and two more");
        // However many multipliers, no overflow.
        let many = format!("one{}", " hundred".repeat(40));
        assert_eq!(digits_in(&many), u64::MAX.to_string());
    }

    #[test]
    fn digits_are_said_back_one_by_one() {
        assert_eq!(say_digits("1042"), "one zero four two");
        assert_eq!(say_digits("#10-0"), "one zero zero");
    }

    #[test]
    fn amounts() {
        assert_eq!(amount_cents("it was $20.50"), Some(2050));
        assert_eq!(amount_cents("twenty dollars and fifty cents"), Some(2050));
        assert_eq!(amount_cents("20 dollars 50"), Some(2050));
        assert_eq!(amount_cents("a hundred and five dollars"), None, "no number before hundred");
        assert_eq!(amount_cents("one hundred and five dollars"), Some(10_500));
        assert_eq!(amount_cents("fifty cents"), Some(50));
        assert_eq!(amount_cents("order ten forty two"), None);
    }

    #[test]
    fn dates() {
        assert_eq!(month_day("it was March third"), Some((3, 3)));
        assert_eq!(month_day("on the twenty first of June"), Some((6, 21)));
        assert_eq!(month_day("the 3rd of march"), Some((3, 3)));
        assert_eq!(month_day("december 24"), Some((12, 24)));
        assert_eq!(month_day("may the fourth"), Some((5, 4)));
        assert_eq!(month_day("may I ask something"), None);
    }

    #[test]
    fn e_mail_addresses_written_spoken_and_spelled() {
        assert_eq!(email("it's pat@doe.com.").as_deref(), Some("pat@doe.com"));
        assert_eq!(email("pat at doe dot com").as_deref(), Some("pat@doe.com"));
        assert_eq!(email("my email is m a r i a at example dot com").as_deref(), Some("maria@example.com"));
        assert_eq!(email("maria underscore g at shop dot example").as_deref(), Some("maria_g@shop.example"));
        assert_eq!(
            email("it is pat dot doe at mail dot co dot uk please").as_deref(),
            Some("pat.doe@mail.co.uk")
        );
        assert_eq!(email("I'm at home"), None);
        assert_eq!(email("look at this"), None);
    }
}
