//! Taking a card by keypad, sans-IO: the steps (card number, expiry, security code, and the
//! postal code when asked), the caller's keys in, what to say and what the agent may see out.
//! Time is an input (`handle_timeout`); nothing here logs, and the digits live only in
//! [`Digits`], which shows itself as `[redacted]` and is wiped when dropped.
//!
//! Keys: `#` ends an entry (the expiry and a security code of the card's length end by
//! themselves), `*` clears what was keyed and asks again. A card number that fails the Luhn
//! check, an impossible or past expiry, or a security code of the wrong length is refused with
//! the reason and asked again; three failed tries (or silences) on one step end the capture.

use serde::Serialize;
use std::collections::VecDeque;

/// How long the caller has for an entry before being asked again, in milliseconds.
pub const ENTRY_TIMEOUT_MS: u64 = 20_000;
/// Tries per step.
pub const TRIES: u8 = 3;

/// Digits keyed by the caller: never shown, logged or serialised; zeroed when dropped.
#[derive(Default, Clone, PartialEq, Eq)]
pub struct Digits(Vec<u8>);

impl Digits {
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("")
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn push(&mut self, d: char) {
        if d.is_ascii_digit() {
            self.0.push(d as u8);
        }
    }

    fn clear(&mut self) {
        self.0.iter_mut().for_each(|b| *b = 0);
        self.0.clear();
    }

    /// The last four digits (what may be shown).
    pub fn last4(&self) -> String {
        let s = self.as_str();
        s.get(s.len().saturating_sub(4)..).unwrap_or("").to_string()
    }
}

impl std::fmt::Debug for Digits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Drop for Digits {
    fn drop(&mut self) {
        self.clear();
    }
}

/// One step of the capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    CardNumber,
    Expiry,
    SecurityCode,
    PostalCode,
}

impl Step {
    pub fn label(self) -> &'static str {
        match self {
            Step::CardNumber => "card number",
            Step::Expiry => "expiry date",
            Step::SecurityCode => "security code",
            Step::PostalCode => "postal code",
        }
    }
}

/// A card's network, from its first digits.
pub fn brand(number: &str) -> &'static str {
    let n = |k: usize| number.get(..k).and_then(|p| p.parse::<u32>().ok()).unwrap_or(0);
    match () {
        _ if number.starts_with('4') => "visa",
        _ if (51..=55).contains(&n(2)) || (2221..=2720).contains(&n(4)) => "mastercard",
        _ if n(2) == 34 || n(2) == 37 => "amex",
        _ if n(4) == 6011 || n(2) == 65 || (644..=649).contains(&n(3)) => "discover",
        _ if (3528..=3589).contains(&n(4)) => "jcb",
        _ if n(2) == 36 || (300..=305).contains(&n(3)) => "diners",
        _ => "unknown",
    }
}

/// The Luhn check every card number passes (on at least twelve digits).
pub fn luhn(number: &str) -> bool {
    let digits: Vec<u8> = number.bytes().map(|b| b.wrapping_sub(b'0')).collect();
    digits.len() >= 12 && digits.iter().all(|d| *d <= 9) && crate::prompt::luhn(&digits)
}

/// What the caller is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Say {
    /// Asks for a step's entry.
    Enter(Step),
    /// The entry was refused (why), then asks again.
    Invalid(Step, &'static str),
    /// Nothing was keyed in time: asks again.
    Silence(Step),
    /// Everything is keyed: the payment is being made.
    Processing,
    /// Too many tries: the capture ends without a payment.
    GaveUp,
}

impl Say {
    /// The words (no digit the caller keyed is ever part of them).
    pub fn text(self, amount: Option<&str>) -> String {
        let ask = |step: Step| match step {
            Step::CardNumber => "Please enter your card number on your keypad, then press the hash key.",
            Step::Expiry => "Please enter the expiry date: two digits for the month, then two for the year.",
            Step::SecurityCode => "Please enter the security code of your card, then press the hash key.",
            Step::PostalCode => {
                "Please enter the postal code of your billing address, then press the hash key."
            }
        };
        match self {
            Say::Enter(Step::CardNumber) => match amount {
                Some(a) => {
                    format!("You are paying {a}. {} Press star to start again.", ask(Step::CardNumber))
                }
                None => format!("{} Press star to start again.", ask(Step::CardNumber)),
            },
            Say::Enter(step) => ask(step).to_string(),
            Say::Invalid(step, why) => format!("Sorry, {why}. {}", ask(step)),
            Say::Silence(step) => format!("Sorry, I did not get that. {}", ask(step)),
            Say::Processing => "Thank you. Please hold while your payment is made.".to_string(),
            Say::GaveUp => {
                "Sorry, we could not take your card details. You are back with your agent.".to_string()
            }
        }
    }
}

/// What the capture asks of its driver.
#[derive(Debug, PartialEq, Eq)]
pub enum Output {
    Say(Say),
    /// What the agent sees changed (see [`Capture::progress`]).
    Progress,
    /// Every step is entered and checked.
    Complete,
    /// The capture ended without a card (why, for the agent and the timeline).
    Failed(String),
}

/// One step as the agent sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct StepView {
    pub step: Step,
    /// `waiting`, `entering`, `entered` or `invalid` (the last try was refused).
    pub status: String,
    /// What may be shown: dots for the digits keyed, the last four of a card number once it
    /// is entered, "entered" for the rest.
    pub shown: String,
    pub tries: u8,
}

/// The card once every step is entered.
#[derive(Debug, Clone)]
pub struct Card {
    pub number: Digits,
    pub exp_month: u32,
    pub exp_year: u32,
    pub cvc: Digits,
    pub postal_code: Option<Digits>,
}

/// The capture of one card.
pub struct Capture {
    steps: Vec<Step>,
    at: usize,
    entry: Digits,
    entries: Vec<Digits>,
    tries: Vec<u8>,
    invalid: Vec<bool>,
    /// (year, month) today, for the expiry check.
    today: (u32, u32),
    deadline: Option<u64>,
    done: bool,
    out: VecDeque<Output>,
}

impl Capture {
    /// Starts at the card number; `today` is (year, month); `postal_code` adds that step.
    pub fn new(now_ms: u64, today: (u32, u32), postal_code: bool) -> Capture {
        let mut steps = vec![Step::CardNumber, Step::Expiry, Step::SecurityCode];
        if postal_code {
            steps.push(Step::PostalCode);
        }
        let n = steps.len();
        let mut c = Capture {
            steps,
            at: 0,
            entry: Digits::default(),
            entries: vec![Digits::default(); n],
            tries: vec![0; n],
            invalid: vec![false; n],
            today,
            deadline: None,
            done: false,
            out: VecDeque::new(),
        };
        c.ask(now_ms, Say::Enter(Step::CardNumber));
        c
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When `handle_timeout` is next due.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.deadline
    }

    pub fn step(&self) -> Option<Step> {
        (!self.done).then(|| self.steps.get(self.at).copied()).flatten()
    }

    fn ask(&mut self, now_ms: u64, say: Say) {
        self.entry.clear();
        self.deadline = Some(now_ms + ENTRY_TIMEOUT_MS);
        self.out.push_back(Output::Say(say));
        self.out.push_back(Output::Progress);
    }

    /// The prompt finished playing: the caller's time to key starts now.
    pub fn prompt_played(&mut self, now_ms: u64) {
        if !self.done && self.entry.is_empty() {
            self.deadline = Some(now_ms + ENTRY_TIMEOUT_MS);
        }
    }

    /// A key the caller pressed.
    pub fn handle_key(&mut self, now_ms: u64, key: char) {
        let Some(step) = self.step() else { return };
        match key {
            '*' => self.ask(now_ms, Say::Enter(step)),
            '#' => self.finish_entry(now_ms),
            d if d.is_ascii_digit() => {
                self.entry.push(d);
                self.deadline = Some(now_ms + ENTRY_TIMEOUT_MS);
                self.out.push_back(Output::Progress);
                let full = match step {
                    Step::CardNumber => self.entry.len() >= 19,
                    Step::Expiry => self.entry.len() >= 4,
                    Step::SecurityCode => self.entry.len() >= self.cvc_length(),
                    Step::PostalCode => self.entry.len() >= 10,
                };
                if full {
                    self.finish_entry(now_ms);
                }
            }
            _ => {}
        }
    }

    fn cvc_length(&self) -> usize {
        let amex = self.entries.first().is_some_and(|n| brand(n.as_str()) == "amex");
        if amex {
            4
        } else {
            3
        }
    }

    /// Why this entry is refused, if it is.
    fn refusal(&self, step: Step) -> Option<&'static str> {
        let e = self.entry.as_str();
        match step {
            Step::CardNumber if e.len() < 12 => Some("that card number is too short"),
            Step::CardNumber if !luhn(e) => Some("that card number is not valid"),
            Step::Expiry => {
                let month: u32 = e.get(..2).and_then(|m| m.parse().ok()).unwrap_or(0);
                let year: u32 = e.get(2..4).and_then(|y| y.parse().ok()).map_or(0, |y: u32| 2000 + y);
                let (ty, tm) = self.today;
                if e.len() != 4 || !(1..=12).contains(&month) {
                    Some("that is not a date")
                } else if (year, month) < (ty, tm) {
                    Some("that card has expired")
                } else if year > ty + 20 {
                    Some("that expiry date is too far away")
                } else {
                    None
                }
            }
            Step::SecurityCode if e.len() != self.cvc_length() => {
                Some("that security code is not the right length")
            }
            Step::PostalCode if e.is_empty() => Some("nothing was entered"),
            _ => None,
        }
    }

    fn finish_entry(&mut self, now_ms: u64) {
        let Some(step) = self.step() else { return };
        if let Some(why) = self.refusal(step) {
            self.invalid[self.at] = true;
            self.fail_try(now_ms, Say::Invalid(step, why));
            return;
        }
        self.invalid[self.at] = false;
        self.entries[self.at] = std::mem::take(&mut self.entry);
        self.next(now_ms);
    }

    /// The next step still to enter, or completion.
    fn next(&mut self, now_ms: u64) {
        match (0..self.steps.len()).find(|&i| self.entries[i].is_empty()) {
            Some(i) => {
                self.at = i;
                self.ask(now_ms, Say::Enter(self.steps[i]));
            }
            None => {
                self.done = true;
                self.deadline = None;
                self.out.push_back(Output::Say(Say::Processing));
                self.out.push_back(Output::Progress);
                self.out.push_back(Output::Complete);
            }
        }
    }

    fn fail_try(&mut self, now_ms: u64, say: Say) {
        self.tries[self.at] += 1;
        if self.tries[self.at] >= TRIES {
            let step = self.steps[self.at];
            self.give_up(format!("the caller could not enter the {} in {TRIES} tries", step.label()));
        } else {
            self.ask(now_ms, say);
        }
    }

    fn give_up(&mut self, why: String) {
        self.done = true;
        self.deadline = None;
        self.entry.clear();
        self.entries.iter_mut().for_each(Digits::clear);
        self.out.push_back(Output::Say(Say::GaveUp));
        self.out.push_back(Output::Progress);
        self.out.push_back(Output::Failed(why));
    }

    pub fn handle_timeout(&mut self, now_ms: u64) {
        if self.deadline.is_some_and(|d| now_ms >= d) {
            if let Some(step) = self.step() {
                self.fail_try(now_ms, Say::Silence(step));
            }
        }
    }

    /// The agent asks for a step again (and every later step it had entered).
    pub fn restart(&mut self, now_ms: u64, step: Step) -> Result<(), String> {
        if self.done {
            return Err("the card details are already complete".into());
        }
        let Some(i) = self.steps.iter().position(|s| *s == step) else {
            return Err(format!("this capture has no {}", step.label()));
        };
        for e in &mut self.entries[i..] {
            e.clear();
        }
        self.tries[i] = 0;
        self.invalid[i] = false;
        self.at = i;
        self.ask(now_ms, Say::Enter(step));
        Ok(())
    }

    /// The caller hung up or the agent cancelled: everything keyed is forgotten.
    pub fn cancel(&mut self) {
        self.done = true;
        self.deadline = None;
        self.entry.clear();
        self.entries.iter_mut().for_each(Digits::clear);
    }

    /// The card, once complete (taken: the capture forgets it).
    pub fn take_card(&mut self) -> Option<Card> {
        if !self.done || self.entries.iter().any(Digits::is_empty) {
            return None;
        }
        let mut take = |s: Step| {
            let i = self.steps.iter().position(|x| *x == s)?;
            Some(std::mem::take(&mut self.entries[i]))
        };
        let number = take(Step::CardNumber)?;
        let expiry = take(Step::Expiry)?;
        let cvc = take(Step::SecurityCode)?;
        let postal_code = take(Step::PostalCode);
        let e = expiry.as_str();
        let exp_month = e.get(..2).and_then(|m| m.parse().ok())?;
        let exp_year = 2000 + e.get(2..4).and_then(|y| y.parse::<u32>().ok())?;
        Some(Card { number, exp_month, exp_year, cvc, postal_code })
    }

    /// What the agent sees: per step, its state and a masked view.
    pub fn progress(&self) -> Vec<StepView> {
        self.steps
            .iter()
            .enumerate()
            .map(|(i, &step)| {
                let entered = !self.entries[i].is_empty();
                let current = !self.done && i == self.at;
                let status = if entered {
                    "entered"
                } else if current && self.invalid[i] && self.entry.is_empty() {
                    "invalid"
                } else if current {
                    "entering"
                } else {
                    "waiting"
                };
                let shown = if entered {
                    match step {
                        Step::CardNumber => format!("•••• •••• •••• {}", self.entries[i].last4()),
                        _ => "entered".to_string(),
                    }
                } else if current {
                    "•".repeat(self.entry.len())
                } else {
                    String::new()
                };
                StepView { step, status: status.into(), shown, tries: self.tries[i] }
            })
            .collect()
    }

    /// The card's brand and last four once the number is entered.
    pub fn card_brand_last4(&self) -> Option<(&'static str, String)> {
        let n = self.entries.first().filter(|n| !n.is_empty())?;
        Some((brand(n.as_str()), n.last4()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(c: &mut Capture, now: u64, s: &str) {
        for k in s.chars() {
            c.handle_key(now, k);
        }
    }

    fn said(c: &mut Capture) -> Vec<Say> {
        let mut out = Vec::new();
        while let Some(o) = c.poll_output() {
            if let Output::Say(s) = o {
                out.push(s);
            }
        }
        out
    }

    #[test]
    fn luhn_and_brands() {
        assert!(luhn("4242424242424242"));
        assert!(luhn("378282246310005"));
        assert!(!luhn("4242424242424241"));
        assert!(!luhn("42"));
        assert_eq!(brand("4242424242424242"), "visa");
        assert_eq!(brand("5555555555554444"), "mastercard");
        assert_eq!(brand("2223003122003222"), "mastercard");
        assert_eq!(brand("378282246310005"), "amex");
        assert_eq!(brand("6011111111111117"), "discover");
    }

    #[test]
    fn a_card_in_three_steps_with_a_retry_and_nothing_shown() {
        let mut c = Capture::new(0, (2026, 12), false);
        assert_eq!(said(&mut c), vec![Say::Enter(Step::CardNumber)]);
        keys(&mut c, 1, "4242424242424241#");
        assert_eq!(said(&mut c), vec![Say::Invalid(Step::CardNumber, "that card number is not valid")]);
        assert_eq!(c.progress()[0].status, "invalid");
        keys(&mut c, 2, "42424242");
        assert_eq!(c.progress()[0].shown, "••••••••");
        keys(&mut c, 2, "42424242#");
        assert_eq!(said(&mut c), vec![Say::Enter(Step::Expiry)]);
        assert_eq!(c.progress()[0].shown, "•••• •••• •••• 4242");
        keys(&mut c, 3, "1126");
        assert_eq!(said(&mut c), vec![Say::Invalid(Step::Expiry, "that card has expired")]);
        keys(&mut c, 4, "1327");
        assert_eq!(said(&mut c), vec![Say::Invalid(Step::Expiry, "that is not a date")]);
        keys(&mut c, 5, "1228");
        assert_eq!(said(&mut c), vec![Say::Enter(Step::SecurityCode)]);
        keys(&mut c, 6, "123");
        assert_eq!(said(&mut c), vec![Say::Processing]);
        let views = c.progress();
        assert!(views.iter().all(|v| v.status == "entered"), "{views:?}");
        let text = format!("{views:?}");
        assert!(!text.contains("424242") && !text.contains("123"), "{text}");
        let card = c.take_card().unwrap();
        assert_eq!((card.number.as_str(), card.exp_month, card.exp_year), ("4242424242424242", 12, 2028));
        assert_eq!(format!("{card:?}").matches("[redacted]").count(), 2);
    }

    #[test]
    fn star_clears_silence_asks_again_three_failures_give_up() {
        let mut c = Capture::new(0, (2026, 1), true);
        said(&mut c);
        keys(&mut c, 1, "4242*");
        assert_eq!(said(&mut c), vec![Say::Enter(Step::CardNumber)]);
        assert_eq!(c.progress()[0].shown, "");
        c.handle_timeout(1 + ENTRY_TIMEOUT_MS);
        assert_eq!(said(&mut c), vec![Say::Silence(Step::CardNumber)]);
        keys(&mut c, 30_000, "1#");
        assert_eq!(said(&mut c), vec![Say::Invalid(Step::CardNumber, "that card number is too short")]);
        keys(&mut c, 31_000, "1#");
        assert_eq!(said(&mut c), vec![Say::GaveUp]);
        assert!(c.step().is_none() && c.take_card().is_none());
    }

    #[test]
    fn the_agent_restarts_a_step_amex_codes_have_four_digits_postal_code_last() {
        let mut c = Capture::new(0, (2026, 1), true);
        keys(&mut c, 1, "378282246310005#1230");
        c.restart(2, Step::Expiry).unwrap();
        assert_eq!(c.step(), Some(Step::Expiry));
        keys(&mut c, 3, "0131");
        keys(&mut c, 4, "123");
        assert_eq!(c.step(), Some(Step::SecurityCode), "an amex code has four digits");
        keys(&mut c, 4, "4");
        assert_eq!(c.step(), Some(Step::PostalCode));
        keys(&mut c, 5, "90210#");
        let card = c.take_card().unwrap();
        assert_eq!((card.exp_month, card.exp_year, card.cvc.as_str()), (1, 2031, "1234"));
        assert_eq!(card.postal_code.unwrap().as_str(), "90210");
        assert!(c.restart(6, Step::CardNumber).is_err());
    }
}
