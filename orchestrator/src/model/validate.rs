//! Validation that names the offending field: every problem carries a path such as
//! `queues[2].wrap_up_seconds` and a sentence saying what is wrong.

use serde::Serialize;
use std::fmt;

/// One thing wrong with an input, located by its path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Collects problems while walking a document; `field` and `index` scope the path.
#[derive(Debug, Default)]
pub struct Problems {
    prefix: String,
    list: Vec<Problem>,
}

impl Problems {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts with a path prefix, e.g. `queues[2]`.
    pub fn with_prefix(prefix: impl Into<String>) -> Self {
        Self { prefix: prefix.into(), list: Vec::new() }
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn into_vec(self) -> Vec<Problem> {
        self.list
    }

    pub fn extend(&mut self, other: Vec<Problem>) {
        self.list.extend(other);
    }

    fn path_of(&self, field: &str) -> String {
        match (self.prefix.is_empty(), field.is_empty()) {
            (true, _) => field.to_string(),
            (false, true) => self.prefix.clone(),
            (false, false) if field.starts_with('[') => format!("{}{}", self.prefix, field),
            (false, false) => format!("{}.{}", self.prefix, field),
        }
    }

    /// Records a problem with `field` (relative to the current prefix; "" for the prefix itself).
    pub fn push(&mut self, field: &str, message: impl Into<String>) {
        let path = self.path_of(field);
        self.list.push(Problem { path, message: message.into() });
    }

    /// Runs `f` with the path extended by `.field`.
    pub fn field(&mut self, field: &str, f: impl FnOnce(&mut Self)) {
        let saved = self.prefix.clone();
        self.prefix = self.path_of(field);
        f(self);
        self.prefix = saved;
    }

    /// Runs `f` with the path extended by `[index]`.
    pub fn index(&mut self, index: usize, f: impl FnOnce(&mut Self)) {
        let saved = self.prefix.clone();
        self.prefix = format!("{}[{}]", self.prefix, index);
        f(self);
        self.prefix = saved;
    }

    pub fn range<T: PartialOrd + fmt::Display + Copy>(&mut self, field: &str, value: T, lo: T, hi: T) {
        if value < lo || value > hi {
            self.push(field, format!("must be {lo}..={hi}"));
        }
    }

    /// A short identifier: lowercase letters, digits, `-` and `_`, 1 to 64 characters.
    pub fn name(&mut self, field: &str, value: &str) {
        if let Err(why) = check_name(value) {
            self.push(field, why);
        }
    }

    pub fn text(&mut self, field: &str, value: &str, required: bool, max_len: usize) {
        if required && value.trim().is_empty() {
            self.push(field, "must not be empty");
        } else if value.chars().count() > max_len {
            self.push(field, format!("must be at most {max_len} characters"));
        }
    }

    pub fn e164(&mut self, field: &str, value: &str) {
        if !is_e164(value) {
            self.push(field, "must be an E.164 number such as +15551234567");
        }
    }
}

pub fn check_name(value: &str) -> Result<(), &'static str> {
    let ok_chars =
        value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if value.is_empty() || value.len() > 64 {
        Err("must be 1 to 64 characters")
    } else if !ok_chars {
        Err("may contain only lowercase letters, digits, '-' and '_'")
    } else if !value.as_bytes()[0].is_ascii_alphanumeric() {
        Err("must start with a letter or digit")
    } else {
        Ok(())
    }
}

/// `+` then 7 to 15 digits, the first not zero.
pub fn is_e164(value: &str) -> bool {
    let Some(digits) = value.strip_prefix('+') else { return false };
    (7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0')
}

/// A dialable extension: 2 to 6 digits, not starting with 0.
pub fn is_extension(value: &str) -> bool {
    (2..=6).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_digit()) && !value.starts_with('0')
}

/// A loose but useful e-mail check: one `@`, something before it, a dot in the domain.
pub fn is_email(value: &str) -> bool {
    let Some((local, domain)) = value.split_once('@') else { return false };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !value.contains(char::is_whitespace)
        && !domain.contains('@')
        && value.len() <= 254
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_nest_fields_and_indexes() {
        let mut p = Problems::with_prefix("queues");
        p.index(2, |p| p.range("wrap_up_seconds", 5000u32, 0, 3600));
        p.field("x", |p| p.index(0, |p| p.push("", "bad")));
        let v = p.into_vec();
        assert_eq!(v[0].to_string(), "queues[2].wrap_up_seconds: must be 0..=3600");
        assert_eq!(v[1].to_string(), "queues.x[0]: bad");
    }

    #[test]
    fn names_numbers_and_emails() {
        assert!(check_name("sales-2").is_ok());
        assert!(check_name("Sales").is_err());
        assert!(check_name("-x").is_err());
        assert!(check_name("").is_err());
        assert!(is_e164("+15551234567"));
        assert!(!is_e164("15551234567"));
        assert!(!is_e164("+0555123"));
        assert!(!is_e164("+1555abc4567"));
        assert!(is_extension("101"));
        assert!(!is_extension("1"));
        assert!(!is_extension("0101"));
        assert!(is_email("a@b.co"));
        assert!(!is_email("a@b"));
        assert!(!is_email("a b@c.de"));
    }
}
