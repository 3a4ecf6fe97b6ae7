//! Live AI coaching of a queue's agents: what the coach looks for and suggests.

use super::ai::LlmConfig;
use super::Problems;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A queue's coach: while one of its agents is on a call, both sides are transcribed live and
/// the agent (only) gets cards: the order or customer the caller names, their open tickets when
/// they mention a problem, suggested answers, a checklist that ticks itself and alerts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CoachSettings {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// What the agent should say on every call; an item ticks when the agent says one of its
    /// phrases in their own words (compared by meaning, not spelling).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checklist: Vec<ChecklistItem>,
    /// The merchant's answers: suggested when the caller asks something like `when`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub answers: Vec<CoachAnswer>,
    /// An LLM that suggests what to say next (after the caller's turn, when no written answer
    /// fits). Without one, only the written answers are suggested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm: Option<LlmConfig>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChecklistItem {
    /// Shown to the agent, e.g. "Verify the caller's identity".
    pub label: String,
    /// Ways an agent may say it, e.g. "can I have your email address".
    pub phrases: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CoachAnswer {
    /// Questions a caller may ask, e.g. "how long does shipping take".
    pub when: Vec<String>,
    /// What the agent could answer.
    pub say: String,
}

impl CoachSettings {
    pub fn check(&self, p: &mut Problems) {
        let phrases = |p: &mut Problems, field: &str, list: &[String]| {
            if list.is_empty() {
                p.push(field, "needs at least one phrase");
            }
            if list.len() > 20 {
                p.push(field, "must have at most 20 phrases");
            }
            p.field(field, |p| {
                for (i, phrase) in list.iter().enumerate() {
                    p.index(i, |p| p.text("", phrase, true, 200));
                }
            });
        };
        if self.checklist.len() > 20 {
            p.push("checklist", "must have at most 20 items");
        }
        p.field("checklist", |p| {
            for (i, item) in self.checklist.iter().enumerate() {
                p.index(i, |p| {
                    p.text("label", &item.label, true, 100);
                    phrases(p, "phrases", &item.phrases);
                });
            }
        });
        if self.answers.len() > 100 {
            p.push("answers", "must have at most 100 answers");
        }
        p.field("answers", |p| {
            for (i, answer) in self.answers.iter().enumerate() {
                p.index(i, |p| {
                    phrases(p, "when", &answer.when);
                    p.text("say", &answer.say, true, 1000);
                });
            }
        });
        if let Some(llm) = &self.llm {
            p.field("llm", |p| llm.check(p));
        }
    }

    /// A demo or starting point: the usual four checklist items.
    pub fn standard_checklist() -> Vec<ChecklistItem> {
        let item = |label: &str, phrases: &[&str]| ChecklistItem {
            label: label.into(),
            phrases: phrases.iter().map(|s| s.to_string()).collect(),
        };
        vec![
            item(
                "Greet the caller and give your name",
                &[
                    "thank you for calling",
                    "my name is",
                    "you're speaking with",
                    "you're through to",
                    "good morning, this is",
                ],
            ),
            item(
                "Verify the caller's identity",
                &[
                    "can you confirm your email address",
                    "can I have your name and email",
                    "for security, can you confirm",
                ],
            ),
            item(
                "Recap what was agreed",
                &["so to recap", "just to summarise what we did", "to sum up, I have"],
            ),
            item(
                "Offer further help",
                &[
                    "is there anything else I can help you with",
                    "anything else I can do for you today",
                    "can I help with anything else",
                ],
            ),
        ]
    }
}
