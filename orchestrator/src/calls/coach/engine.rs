//! The coach's decisions, sans-IO: finished lines of the conversation in (who said it, what,
//! and the meaning vectors of its sentences, which the caller of this module computes), actions
//! out (look up an order, a customer, their tickets; suggest an answer; ask the LLM; tick a
//! checklist item; raise an alert). Each fact, answer and alert is given once per call.

use crate::live::sounds_negative;
use crate::live::{
    asks_for_human, asks_for_manager, mentions_cancelling, mentions_chargeback, mentions_problem,
};
use std::collections::HashSet;
use switchboard_models::embed::similarity;

/// A checklist item counts as said when a sentence of the agent's is this close to one of its
/// phrases (cosine of MiniLM vectors: a phrase said in a longer line scores 0.75–1, a line
/// about something near it ("how can I help you today" for "anything else I can help with")
/// about 0.6, unrelated lines under 0.45; measured in the integration test `coaching`).
pub const TICK_AT: f32 = 0.65;
/// A written answer is suggested when a sentence of the caller's is this close to one of its
/// questions (a question in other words scores 0.5–0.65, unrelated ones under 0.45).
pub const ANSWER_AT: f32 = 0.5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Speaker {
    Caller,
    Agent,
}

/// A sentence of a finished line and its meaning vector (None: the embedder is unavailable).
pub struct Sentence<'a> {
    pub text: &'a str,
    pub vector: Option<&'a [f32]>,
}

/// The merchant's checklist and answers with their phrases' vectors.
#[derive(Default)]
pub struct Prepared {
    /// (label, phrase vectors)
    pub checklist: Vec<(String, Vec<Vec<f32>>)>,
    /// (what to say, question vectors)
    pub answers: Vec<(String, Vec<Vec<f32>>)>,
    pub has_llm: bool,
}

impl Prepared {
    /// The settings' phrases embedded by `embed` (which gives one vector per text, or none).
    pub fn new(settings: &crate::model::CoachSettings, embed: impl Fn(&[&str]) -> Vec<Vec<f32>>) -> Prepared {
        let vectors = |phrases: &[String]| embed(&phrases.iter().map(String::as_str).collect::<Vec<_>>());
        Prepared {
            checklist: settings.checklist.iter().map(|i| (i.label.clone(), vectors(&i.phrases))).collect(),
            answers: settings.answers.iter().map(|a| (a.say.clone(), vectors(&a.when))).collect(),
            has_llm: settings.llm.is_some(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    FindOrder(String),
    FindCustomerByEmail(String),
    /// The caller's customer's open tickets (they mentioned a problem).
    FindTickets,
    /// A written answer for what the caller asked: (the answer, the caller's words).
    Suggest {
        say: String,
        asked: String,
    },
    /// Ask the LLM what the agent could say next (the caller finished a turn).
    AskLlm,
    /// Checklist item `index` was said.
    Tick(usize),
    Alert {
        kind: &'static str,
        text: String,
    },
}

pub struct Coach {
    prepared: Prepared,
    ticked: Vec<bool>,
    orders: HashSet<String>,
    emails: HashSet<String>,
    tickets_shown: bool,
    answered: HashSet<usize>,
    alerts: HashSet<&'static str>,
}

impl Coach {
    pub fn new(prepared: Prepared) -> Coach {
        Coach {
            ticked: vec![false; prepared.checklist.len()],
            prepared,
            orders: HashSet::new(),
            emails: HashSet::new(),
            tickets_shown: false,
            answered: HashSet::new(),
            alerts: HashSet::new(),
        }
    }

    /// The checklist: (label, said).
    pub fn checklist(&self) -> Vec<(String, bool)> {
        self.prepared.checklist.iter().map(|(l, _)| l.clone()).zip(self.ticked.iter().copied()).collect()
    }

    /// Items not yet said.
    pub fn open_items(&self) -> Vec<String> {
        self.checklist().into_iter().filter(|(_, t)| !t).map(|(l, _)| l).collect()
    }

    /// One finished line: `text` as a whole and its sentences with their vectors.
    pub fn handle_line(&mut self, speaker: Speaker, text: &str, sentences: &[Sentence<'_>]) -> Vec<Action> {
        let mut out = Vec::new();
        match speaker {
            Speaker::Agent => self.agent_said(sentences, &mut out),
            Speaker::Caller => self.caller_said(text, sentences, &mut out),
        }
        out
    }

    fn agent_said(&mut self, sentences: &[Sentence<'_>], out: &mut Vec<Action>) {
        for (i, (_, phrases)) in self.prepared.checklist.iter().enumerate() {
            if self.ticked[i] {
                continue;
            }
            if best(sentences, phrases) >= TICK_AT {
                self.ticked[i] = true;
                out.push(Action::Tick(i));
            }
        }
    }

    fn caller_said(&mut self, text: &str, sentences: &[Sentence<'_>], out: &mut Vec<Action>) {
        if let Some(number) = crate::agent::guided::order_number(text) {
            if self.orders.insert(number.clone()) {
                out.push(Action::FindOrder(number));
            }
        }
        if let Some(email) = crate::agent::guided::email(text) {
            if self.emails.insert(email.clone()) {
                out.push(Action::FindCustomerByEmail(email));
            }
        }
        if !self.tickets_shown && mentions_problem(text) {
            self.tickets_shown = true;
            out.push(Action::FindTickets);
        }
        let mut alert = |kind: &'static str, yes: bool, what: &str, out: &mut Vec<Action>| {
            if yes && self.alerts.insert(kind) {
                out.push(Action::Alert { kind, text: what.to_string() });
            }
        };
        alert(
            "asks_for_manager",
            asks_for_manager(text) || asks_for_human(text),
            "The caller asks for a manager",
            out,
        );
        alert("cancelling", mentions_cancelling(text), "The caller talks of cancelling", out);
        alert("chargeback", mentions_chargeback(text), "The caller mentions a chargeback or their bank", out);
        alert("upset", sounds_negative(text), "The caller sounds upset", out);
        // The closest written answer not given yet.
        let found = self
            .prepared
            .answers
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.answered.contains(i))
            .map(|(i, (_, questions))| (i, best(sentences, questions)))
            .filter(|(_, score)| *score >= ANSWER_AT)
            .max_by(|a, b| a.1.total_cmp(&b.1));
        match found {
            Some((i, _)) => {
                self.answered.insert(i);
                let say = self.prepared.answers[i].0.clone();
                out.push(Action::Suggest { say, asked: text.to_string() });
            }
            // A line that named an order or an e-mail has its card; the LLM is for the rest.
            None if self.prepared.has_llm
                && text.split_whitespace().count() >= 3
                && !out
                    .iter()
                    .any(|a| matches!(a, Action::FindOrder(_) | Action::FindCustomerByEmail(_))) =>
            {
                out.push(Action::AskLlm)
            }
            None => {}
        }
    }
}

/// The best similarity between any sentence and any phrase.
fn best(sentences: &[Sentence<'_>], phrases: &[Vec<f32>]) -> f32 {
    sentences
        .iter()
        .filter_map(|s| s.vector)
        .flat_map(|v| phrases.iter().map(move |p| similarity(v, p)))
        .fold(f32::MIN, f32::max)
}

/// What of a line is compared by meaning: its sentences (cut at . ? ! ; and :), and for a
/// sentence with commas also its clauses (and each two clauses in a row when there are more
/// than two: a greeting said in one breath, "thank you for calling, my name is Alice, how can
/// I help", holds three things); pieces of fewer than two words are left out; the line itself
/// when nothing is left.
pub fn sentences(text: &str) -> Vec<String> {
    let words = |s: &str| s.split_whitespace().count();
    let mut out: Vec<String> = Vec::new();
    for sentence in text.split(['.', '?', '!', ';', ':']).map(str::trim).filter(|s| words(s) >= 2) {
        out.push(sentence.to_string());
        let clauses: Vec<&str> = sentence.split(',').map(str::trim).filter(|c| !c.is_empty()).collect();
        if clauses.len() > 1 {
            out.extend(clauses.iter().filter(|c| words(c) >= 2).map(|c| c.to_string()));
        }
        if clauses.len() > 2 {
            out.extend(clauses.windows(2).map(|w| w.join(", ")));
        }
    }
    if out.is_empty() {
        out.push(text.trim().to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Toy vectors: one dimension per topic word, so similarity is exact and readable.
    fn v(text: &str) -> Vec<f32> {
        let topics = ["calling", "email", "recap", "else", "return", "shipping"];
        let t = text.to_lowercase();
        let mut out: Vec<f32> = topics.iter().map(|w| if t.contains(w) { 1.0 } else { 0.0 }).collect();
        out.push(0.1);
        let norm = out.iter().map(|x| x * x).sum::<f32>().sqrt();
        out.iter().map(|x| x / norm).collect()
    }

    fn coach(has_llm: bool) -> Coach {
        Coach::new(Prepared {
            checklist: vec![
                ("Greet".into(), vec![v("thank you for calling")]),
                ("Verify".into(), vec![v("confirm your email")]),
            ],
            answers: vec![("Returns are free.".into(), vec![v("how do I return it")])],
            has_llm,
        })
    }

    fn line(c: &mut Coach, who: Speaker, text: &str) -> Vec<Action> {
        let vectors: Vec<(String, Vec<f32>)> =
            sentences(text).into_iter().map(|s| (v(&s), s)).map(|(v, s)| (s, v)).collect();
        let s: Vec<Sentence> = vectors.iter().map(|(t, v)| Sentence { text: t, vector: Some(v) }).collect();
        c.handle_line(who, text, &s)
    }

    #[test]
    fn an_order_number_said_by_the_caller_is_looked_up_once() {
        let mut c = coach(false);
        assert_eq!(
            line(&mut c, Speaker::Caller, "It's about order one zero zero two."),
            vec![Action::FindOrder("1002".into())]
        );
        assert_eq!(line(&mut c, Speaker::Caller, "Yes, 1002."), vec![]);
        // The agent reading the number back is not the caller naming it.
        assert_eq!(line(&mut c, Speaker::Agent, "Order 1003, let me see."), vec![]);
    }

    #[test]
    fn an_email_finds_the_customer_and_a_problem_their_tickets() {
        let mut c = coach(false);
        let got =
            line(&mut c, Speaker::Caller, "My email is maria at example dot com and the tent arrived broken");
        assert_eq!(got, vec![Action::FindCustomerByEmail("maria@example.com".into()), Action::FindTickets]);
        assert_eq!(line(&mut c, Speaker::Caller, "The pole is broken too."), vec![]);
    }

    #[test]
    fn checklist_items_tick_when_the_agent_says_them_and_only_once() {
        let mut c = coach(false);
        assert_eq!(line(&mut c, Speaker::Caller, "Thank you for calling me back."), vec![]);
        assert_eq!(c.open_items(), vec!["Greet", "Verify"]);
        assert_eq!(
            line(&mut c, Speaker::Agent, "Hi! Thanks for calling Acme, this is Alice."),
            vec![Action::Tick(0)]
        );
        assert_eq!(line(&mut c, Speaker::Agent, "Thanks for calling again."), vec![]);
        assert_eq!(c.open_items(), vec!["Verify"]);
        assert_eq!(c.checklist(), vec![("Greet".into(), true), ("Verify".into(), false)]);
    }

    #[test]
    fn a_written_answer_is_suggested_for_a_close_question_else_the_llm_is_asked() {
        let mut c = coach(true);
        let got = line(&mut c, Speaker::Caller, "Hello. How can I return these boots?");
        assert_eq!(
            got,
            vec![Action::Suggest {
                say: "Returns are free.".into(),
                asked: "Hello. How can I return these boots?".into()
            }]
        );
        // Given once; the same question again goes to the LLM.
        assert_eq!(line(&mut c, Speaker::Caller, "So how do I return them?"), vec![Action::AskLlm]);
        // Too short to ask about; a line with an order number gets the order's card instead.
        assert_eq!(line(&mut c, Speaker::Caller, "Okay."), vec![]);
        assert_eq!(
            line(&mut c, Speaker::Caller, "It is order 1004."),
            vec![Action::FindOrder("1004".into())]
        );
        let mut offline = coach(false);
        assert_eq!(line(&mut offline, Speaker::Caller, "What colours does the tent come in?"), vec![]);
    }

    #[test]
    fn alerts_are_raised_once_each() {
        let mut c = coach(false);
        let got = line(
            &mut c,
            Speaker::Caller,
            "This is ridiculous, I want to speak to a manager or I'll dispute the charge",
        );
        let kinds: Vec<&str> = got
            .iter()
            .filter_map(|a| if let Action::Alert { kind, .. } = a { Some(*kind) } else { None })
            .collect();
        assert_eq!(kinds, vec!["asks_for_manager", "chargeback", "upset"]);
        let again = line(&mut c, Speaker::Caller, "Cancel it. Get me your manager, this is ridiculous");
        assert_eq!(
            again,
            vec![Action::Alert { kind: "cancelling", text: "The caller talks of cancelling".into() }]
        );
    }

    #[test]
    fn lines_are_cut_into_sentences() {
        assert_eq!(
            sentences("Hi. Thanks for calling Acme! How can I help?"),
            vec!["Thanks for calling Acme", "How can I help"]
        );
        assert_eq!(sentences("Yes."), vec!["Yes."]);
        assert_eq!(
            sentences("Thank you for calling, my name is Alice, how can I help?"),
            vec![
                "Thank you for calling, my name is Alice, how can I help",
                "Thank you for calling",
                "my name is Alice",
                "how can I help",
                "Thank you for calling, my name is Alice",
                "my name is Alice, how can I help",
            ]
        );
        assert_eq!(sentences("Well, yes"), vec!["Well, yes"]);
    }
}
