//! Text helpers for input someone else controls. Indexing a `&str` by a byte position panics
//! when the position falls inside a multi-byte character (`line[..4]` on `"ab€ …"`), so this
//! crate never does it (`clippy::string_slice` is denied in `lib.rs`): text is cut with
//! `split_once`, `strip_prefix`, `str::get` or these helpers, none of which can split a
//! character.

/// Whether `s` starts with `prefix`, ignoring ASCII case. Compares bytes, so a multi-byte
/// character across the end of the prefix simply does not match.
pub fn starts_with_ignore_ascii_case(s: &str, prefix: &str) -> bool {
    s.as_bytes().get(..prefix.len()).is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes()))
}

/// `s` without `prefix` (ASCII case ignored), or `None` when it does not start with it.
pub fn strip_prefix_ignore_ascii_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    if starts_with_ignore_ascii_case(s, prefix) {
        s.get(prefix.len()..)
    } else {
        None
    }
}

/// The text before and after the character at byte `i`, which must start a character
/// (an index from `find` or `char_indices`); `None` otherwise.
pub fn around(s: &str, i: usize) -> Option<(&str, &str)> {
    let (before, rest) = s.split_at_checked(i)?;
    let mut chars = rest.chars();
    chars.next()?;
    Some((before, chars.as_str()))
}

/// At most `max` characters of `s`, control characters shown as `?`: safe to put into an
/// error message, a log line or a reason phrase we send back.
pub fn excerpt(s: &str, max: usize) -> String {
    let mut out: String = s.chars().take(max).map(|c| if c.is_control() { '?' } else { c }).collect();
    if s.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_splits_a_character() {
        assert!(starts_with_ignore_ascii_case("sip/2.0", "SIP/"));
        assert!(!starts_with_ignore_ascii_case("ab€ sip:x", "SIP/"));
        assert!(!starts_with_ignore_ascii_case("SI€x", "SIP/"));
        assert!(!starts_with_ignore_ascii_case("SI", "SIP/"));
        assert_eq!(strip_prefix_ignore_ascii_case("DIGEST a=1", "digest"), Some(" a=1"));
        assert_eq!(strip_prefix_ignore_ascii_case("Dige€", "digest"), None);
        assert_eq!(around("a:b", 1), Some(("a", "b")));
        assert_eq!(around("é:b", 1), None);
        assert_eq!(around("é€b", 2), Some(("é", "b")));
        assert_eq!(around("ab", 2), None);
        assert_eq!(excerpt("a\r\nb𝄞cd", 4), "a??b…");
        assert_eq!(excerpt("ab", 4), "ab");
    }
}
