//! The offline guided agent: no LLM, no network. Each caller utterance is mapped to an intent
//! (the agent's enabled tools, plus greet, goodbye, ask for a person, yes/no) from its sentence
//! embedding (all-MiniLM-L6-v2): a softmax classifier trained on the example phrases' vectors
//! decides when it is fairly sure and the utterance is like some example; otherwise the nearest
//! example does, if it is close enough ([`Classified::intent`]); arguments (order numbers, e-mail
//! addresses, yes/no) are taken from the words; what is missing is asked for; answers are reply
//! templates filled from the tool's result. Merchants add example phrases and edit templates
//! per agent (`guided` in the AI agent's configuration).

use crate::model::AiAgent;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use switchboard_models::embed::{similarity, MiniLm};
use switchboard_models::linear::SoftmaxClassifier;
use switchboard_tools::control::ControlRequest;
use switchboard_tools::{CallContext, Tool, ToolCall};

mod cues;
mod money;
mod people;
mod settle;
pub use cues::yes_or_no;
mod examples;

/// Below this similarity an utterance matches no intent by its nearest example.
const THRESHOLD: f32 = 0.45;
/// The classifier decides when it gives its intent at least this probability...
const MODEL_SURE: f32 = 0.4;
/// ...and the utterance is at least this similar to some example (below, it is about something
/// else, however the classifier leans).
const RELATED: f32 = 0.3;

/// How an utterance was classified: its nearest example's intent and similarity, and the
/// classifier's intent and probability.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Classified {
    nearest: (Intent, f32),
    model: (Intent, f32),
}

impl Classified {
    /// The intent: the classifier's when it is fairly sure of an utterance like the examples
    /// (it weighs all of an intent's examples, so a phrasing unlike any single one is still
    /// placed), else the nearest example's when it is close; None when neither holds.
    fn intent(&self) -> Option<Intent> {
        if self.nearest.1 >= RELATED && self.model.1 >= MODEL_SURE {
            Some(self.model.0)
        } else if self.nearest.1 >= THRESHOLD {
            Some(self.nearest.0)
        } else {
            None
        }
    }
}

/// What the guided agent says and does for one utterance.
#[derive(Debug, Default)]
pub struct GuidedAnswer {
    pub text: String,
    pub tool_calls: Vec<ToolCall>,
    pub control: Option<ControlRequest>,
}

/// What the agent is waiting for after its last question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Waiting {
    OrderNumber,
    Email(Intent),
    OfferedPerson,
    AnythingElse,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Intent {
    Greet,
    Goodbye,
    Person,
    Yes,
    No,
    Order,
    Balance,
    Tickets,
    Message,
    /// Questions the agent cannot answer (opening hours, products, policies): matched so that
    /// they do not land on the closest tool ("do you ship to Canada" is not an order).
    OutOfScope,
}

impl Intent {
    const ALL: [Intent; 10] = [
        Intent::Greet,
        Intent::Goodbye,
        Intent::Person,
        Intent::Yes,
        Intent::No,
        Intent::Order,
        Intent::Balance,
        Intent::Tickets,
        Intent::Message,
        Intent::OutOfScope,
    ];

    /// The configuration name of the intent (keys of `guided.examples`).
    pub fn name(self) -> &'static str {
        match self {
            Intent::Greet => "greet",
            Intent::Goodbye => "goodbye",
            Intent::Person => "ask_for_person",
            Intent::Yes => "yes",
            Intent::No => "no",
            Intent::Order => "lookup_order",
            Intent::Balance => "account_balance",
            Intent::Tickets => "open_tickets",
            Intent::Message => "take_message",
            Intent::OutOfScope => "out_of_scope",
        }
    }

    /// The tool an intent needs (intents whose tool the agent lacks are left out).
    fn tool(self) -> Option<&'static str> {
        match self {
            Intent::Order => Some("lookup_order"),
            Intent::Balance => Some("account_balance"),
            Intent::Tickets => Some("open_tickets"),
            Intent::Message => Some("take_message"),
            Intent::Person => Some("transfer"),
            _ => None,
        }
    }
}

/// The caller's words as the intent model reads them: hesitations ("um", "uh", "erm") left
/// out, since they carry no meaning and pull short utterances toward each other.
fn without_fillers(text: &str) -> String {
    const FILLERS: &[&str] = &["um", "umm", "uh", "uhh", "uhm", "erm", "er", "hmm", "mm", "ah"];
    let words: Vec<&str> = text
        .split_whitespace()
        .filter(|w| {
            let bare = w.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase();
            !FILLERS.contains(&bare.as_str())
        })
        .collect();
    if words.is_empty() {
        text.to_string()
    } else {
        words.join(" ")
    }
}

/// Default reply templates; `{name}` is filled from the tool's result.
fn default_templates() -> BTreeMap<&'static str, &'static str> {
    BTreeMap::from([
        ("greet", "Hello! I can help with your orders, your account balance and support tickets."),
        ("goodbye", "Thank you for calling. Goodbye!"),
        ("transfer", "Let me connect you with a colleague. One moment, please."),
        ("take_message", "Sure, please leave your message after the tone."),
        ("ask_order_number", "What is your order number?"),
        ("order_status", "Order {number} is {status}."),
        ("order_tracking", "It went with {carrier}; the tracking number ends in {tracking_end}."),
        ("last_order", "Your last order, number {number}, is {status}."),
        ("no_orders", "I don't see any orders for you."),
        ("order_not_found", "I could not find order {number}. Could you tell me the number again?"),
        ("balance", "Your account balance is {balance}."),
        ("tickets_none", "You have no open support tickets."),
        ("tickets", "You have {count} open ticket: {subject}, which is {status}."),
        ("ask_email", "I need to know who you are first. What is the e-mail address on your account?"),
        ("email_not_found", "I could not find an account with that e-mail address."),
        ("unknown", "Sorry, I can help with orders, your account balance and support tickets. Would you like to speak with a person?"),
        ("anything_else", "Is there anything else I can help with?"),
        ("no_problem", "Okay. What else can I help you with?"),
        ("tool_failed", "Sorry, I could not look that up right now."),
    ])
}

/// The last four characters of a tracking number, spoken one by one (the whole number is
/// too long to follow on the phone).
fn with_tracking_end(order: &Value) -> Value {
    let mut v = order.clone();
    if let Some(t) = order["tracking_number"].as_str() {
        let chars: Vec<char> = t.chars().collect();
        let end: String = chars[chars.len().saturating_sub(4)..].iter().map(|c| format!("{c} ")).collect();
        v["tracking_end"] = json!(end.trim());
    }
    v
}

pub(crate) fn fill(template: &str, values: &Value) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some((text, after)) = rest.split_once('{') {
        let Some((key, after)) = after.split_once('}') else { break };
        out.push_str(text);
        match &values[key] {
            Value::String(s) => out.push_str(&s.replace('_', " ")),
            Value::Null => {}
            v => out.push_str(&v.to_string()),
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// An order number in what the caller said: 3 to 12 digits, written or spoken, however the
/// recogniser grouped them ("1002", "1, 0, 0, 2", "10 02", "one zero zero two", "one oh oh
/// two", "ten oh two", "one thousand and two"; see `switchboard_speech::spoken`).
pub fn order_number(text: &str) -> Option<String> {
    let text = switchboard_speech::spoken::digits_in(text);
    let mut run = String::new();
    for token in text.split(|c: char| c.is_whitespace() || c == ',' || c == '-') {
        let token = token.trim_matches(|c: char| matches!(c, '.' | '?' | '!' | '#' | ':' | ';'));
        if token.is_empty() {
            continue;
        }
        if token.chars().all(|c| c.is_ascii_digit()) {
            run.push_str(token);
            continue;
        }
        // A digit said as a word next to written ones ("one 002"); only unambiguous words
        // ("to" and "for" are words more often than digits).
        if let Some(d) = switchboard_speech::spoken::digit_word(token) {
            run.push(char::from(b'0' + d));
            continue;
        }
        if (3..=12).contains(&run.len()) {
            return Some(run);
        }
        run.clear();
    }
    (3..=12).contains(&run.len()).then_some(run)
}

/// An e-mail address, written ("pat@doe.com"), spoken ("pat at doe dot com") or spelled.
pub fn email(text: &str) -> Option<String> {
    switchboard_speech::spoken::email(text)
}

fn money(cents: &Value, currency: &Value) -> String {
    let c = cents.as_i64().unwrap_or(0);
    let unit = match currency.as_str().unwrap_or("USD") {
        "USD" => "dollars",
        "EUR" => "euros",
        "GBP" => "pounds",
        other => other,
    };
    format!("{}.{:02} {unit}", c / 100, (c % 100).abs())
}

pub struct GuidedBrain {
    embedder: Arc<MiniLm>,
    /// (intent, example embedding) for every example of every enabled intent.
    examples: Vec<(Intent, Vec<f32>)>,
    /// Trained on `examples`.
    model: Arc<SoftmaxClassifier>,
    templates: BTreeMap<String, String>,
    waiting: Option<Waiting>,
    misunderstood: u32,
}

/// Example phrases already embedded, for the life of the process: a call's agent is ready in
/// milliseconds instead of embedding every example again (seconds on a busy machine).
fn embedded() -> &'static std::sync::Mutex<std::collections::HashMap<String, Vec<f32>>> {
    static EMBEDDED: std::sync::OnceLock<std::sync::Mutex<std::collections::HashMap<String, Vec<f32>>>> =
        std::sync::OnceLock::new();
    EMBEDDED.get_or_init(Default::default)
}

/// The vectors of `texts`, embedding only those not seen before.
pub(crate) fn embed_cached(embedder: &MiniLm, texts: &[&str]) -> switchboard_models::Result<Vec<Vec<f32>>> {
    let missing: Vec<&str> = {
        let known = embedded().lock().unwrap_or_else(|e| e.into_inner());
        let mut m: Vec<&str> = texts.iter().copied().filter(|t| !known.contains_key(*t)).collect();
        m.sort_unstable();
        m.dedup();
        m
    };
    let fresh: std::collections::HashMap<&str, Vec<f32>> =
        missing.iter().copied().zip(embedder.embed(&missing)?).collect();
    let mut known = embedded().lock().unwrap_or_else(|e| e.into_inner());
    let vectors = texts
        .iter()
        .map(|t| {
            fresh
                .get(*t)
                .or_else(|| known.get(*t))
                .cloned()
                .ok_or_else(|| switchboard_models::Error::Inference(format!("no vector for {t:?}")))
        })
        .collect();
    // Bounded: a merchant editing phrases all day does not grow the process without end.
    if known.len() + fresh.len() > MAX_EMBEDDED {
        known.clear();
    }
    known.extend(fresh.into_iter().map(|(t, v)| (t.to_string(), v)));
    vectors
}

/// At most this many example phrases' vectors are kept (384 floats each: about 30 MB).
const MAX_EMBEDDED: usize = 20_000;
/// At most this many trained classifiers (one per distinct set of examples) are kept.
const MAX_TRAINED: usize = 32;

type Models = std::sync::Mutex<std::collections::HashMap<String, Arc<SoftmaxClassifier>>>;

fn trained_models() -> &'static Models {
    static TRAINED: std::sync::OnceLock<Models> = std::sync::OnceLock::new();
    TRAINED.get_or_init(Default::default)
}

/// The classifier trained on `phrases` (their texts and vectors), trained once per process
/// for each set of examples (a second or so; every call of an agent shares it).
fn trained(phrases: &[(Intent, String)], vectors: &[Vec<f32>]) -> Arc<SoftmaxClassifier> {
    let key: String = phrases.iter().map(|(i, p)| format!("{}\u{1f}{p}\u{1e}", i.name())).collect();
    let models = trained_models();
    if let Some(m) = models.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return m.clone();
    }
    let class = |i: &Intent| Intent::ALL.iter().position(|x| x == i).unwrap_or(0);
    let examples: Vec<(usize, &[f32])> =
        phrases.iter().zip(vectors).map(|((i, _), v)| (class(i), v.as_slice())).collect();
    let model = Arc::new(SoftmaxClassifier::train(&examples, Intent::ALL.len()));
    let mut models = models.lock().unwrap_or_else(|e| e.into_inner());
    if models.len() >= MAX_TRAINED {
        models.clear();
    }
    models.insert(key, model.clone());
    model
}

/// Loads the intent model, embeds the built-in examples and trains the classifier on them (at
/// start, so that the first guided call does not wait); whether the model is usable.
pub fn warm(dir: &std::path::Path) -> bool {
    let Ok(embedder) = MiniLm::shared(dir) else { return false };
    let phrases: Vec<(Intent, String)> =
        Intent::ALL.iter().flat_map(|i| i.examples().iter().map(|e| (*i, e.to_string()))).collect();
    let texts: Vec<&str> = phrases.iter().map(|(_, p)| p.as_str()).collect();
    match embed_cached(&embedder, &texts) {
        Ok(vectors) => {
            trained(&phrases, &vectors);
            true
        }
        Err(_) => false,
    }
}

impl GuidedBrain {
    /// Embeds the agent's intents' examples (built-in plus the merchant's).
    pub async fn new(agent: &AiAgent, tools: &[Arc<dyn Tool>]) -> switchboard_models::Result<GuidedBrain> {
        let config = agent.guided.clone().unwrap_or_default();
        let has = |name: &str| tools.iter().any(|t| t.spec().name == name);
        let mut phrases: Vec<(Intent, String)> = Vec::new();
        for intent in Intent::ALL {
            if intent.tool().is_some_and(|t| !has(t)) {
                continue;
            }
            phrases.extend(intent.examples().iter().map(|e| (intent, e.to_string())));
            if let Some(extra) = config.examples.get(intent.name()) {
                phrases.extend(extra.iter().map(|e| (intent, e.clone())));
            }
        }
        let templates: BTreeMap<String, String> = default_templates()
            .into_iter()
            .map(|(k, v)| (k.to_string(), config.templates.get(k).cloned().unwrap_or_else(|| v.to_string())))
            .collect();
        let dir = switchboard_models::catalog::default_dir();
        let (embedder, vectors, model) = tokio::task::spawn_blocking(move || {
            let embedder = MiniLm::shared(&dir)?;
            let texts: Vec<&str> = phrases.iter().map(|(_, p)| p.as_str()).collect();
            let vectors = embed_cached(&embedder, &texts)?;
            let model = trained(&phrases, &vectors);
            Ok::<_, switchboard_models::Error>((
                embedder,
                phrases.into_iter().map(|(i, _)| i).zip(vectors).collect(),
                model,
            ))
        })
        .await
        .map_err(|e| switchboard_models::Error::Inference(e.to_string()))??;
        Ok(GuidedBrain { embedder, examples: vectors, model, templates, waiting: None, misunderstood: 0 })
    }

    fn t(&self, key: &str, values: &Value) -> String {
        fill(self.templates.get(key).map(String::as_str).unwrap_or(""), values)
    }

    /// The nearest example's intent and the classifier's, each with its score.
    async fn classify(&self, text: &str) -> Option<Classified> {
        let (embedder, text) = (self.embedder.clone(), text.to_string());
        let v = tokio::task::spawn_blocking(move || embedder.embed(&[&text])).await.ok()?.ok()?.pop()?;
        let nearest = self
            .examples
            .iter()
            .map(|(intent, e)| (*intent, similarity(&v, e)))
            .max_by(|a, b| a.1.total_cmp(&b.1))?;
        let (class, p) = self.model.predict(&v)?;
        Some(Classified { nearest, model: (*Intent::ALL.get(class)?, p) })
    }

    async fn run(
        &self,
        tools: &[Arc<dyn Tool>],
        name: &str,
        args: Value,
        ctx: &CallContext,
        calls: &mut Vec<ToolCall>,
    ) -> Option<Value> {
        let tool = tools.iter().find(|t| t.spec().name == name)?;
        let call = switchboard_tools::call(tool.as_ref(), args, ctx).await;
        let result = call.outcome.clone().ok();
        calls.push(call);
        result
    }

    /// Answers one caller utterance.
    pub async fn answer(
        &mut self,
        text: &str,
        ctx: &mut CallContext,
        tools: &[Arc<dyn Tool>],
    ) -> GuidedAnswer {
        let mut out = GuidedAnswer::default();
        let number = order_number(text);
        let mail = email(text);
        // Hesitations carry no meaning for the intent or for yes/no.
        let words = without_fillers(text);
        let classified = self.classify(&words).await;
        let intent = classified.and_then(|c| c.intent());
        let waiting = self.waiting.take();
        // The answer to a yes/no question is read from its first words ("no need", "I'm good,
        // thanks", "why not"), which sentence similarity confuses; a longer answer that is
        // about something else keeps its meaning ("no, what's my balance").
        let asked_yes_no = matches!(waiting, Some(Waiting::OfferedPerson | Waiting::AnythingElse));
        let short = text.split_whitespace().count() <= 6;
        let intent = settle::settle(intent, text);
        let intent = match (asked_yes_no, yes_or_no(&words)) {
            (true, Some(yes))
                if short
                    || matches!(
                        intent,
                        None | Some(Intent::Yes | Intent::No | Intent::Greet | Intent::OutOfScope)
                    ) =>
            {
                Some(if yes { Intent::Yes } else { Intent::No })
            }
            _ => intent,
        };
        tracing::debug!(?classified, ?waiting, ?number, ?intent, "guided agent");
        // What the caller's words mean given what we asked.
        let intent = match (waiting, intent) {
            (Some(Waiting::OrderNumber), _) if number.is_some() => Some(Intent::Order),
            (_, None | Some(Intent::Greet)) if number.is_some() => Some(Intent::Order),
            (Some(Waiting::Email(after)), _) if mail.is_some() => Some(after),
            (Some(Waiting::OfferedPerson), Some(Intent::Yes)) => Some(Intent::Person),
            (Some(Waiting::OfferedPerson | Waiting::AnythingElse), Some(Intent::No)) => {
                if waiting == Some(Waiting::AnythingElse) {
                    Some(Intent::Goodbye)
                } else {
                    out.text = self.t("no_problem", &json!({}));
                    return out;
                }
            }
            (_, i) => i,
        };
        if let (Some(m), None) = (&mail, ctx.customer_id) {
            // The caller told us who they are.
            if let Some(found) =
                self.run(tools, "lookup_customer", json!({"email": m}), ctx, &mut out.tool_calls).await
            {
                ctx.customer_id = found["customers"][0]["id"].as_i64();
            }
        }
        let mut done = true;
        match intent {
            Some(Intent::Greet) => {
                out.text = self.t("greet", &json!({}));
                done = false;
            }
            Some(Intent::Goodbye) => {
                out.text = self.t("goodbye", &json!({}));
                out.control =
                    Some(ControlRequest::EndCall { reason: Some("the caller said goodbye".into()) });
                return out;
            }
            Some(Intent::Person) => {
                out.text = self.t("transfer", &json!({}));
                out.control = Some(ControlRequest::Transfer {
                    summary: String::new(),
                    reason: Some("the caller asked for a person".into()),
                    extension: None,
                    number: None,
                });
                return out;
            }
            Some(Intent::Message) => {
                out.text = self.t("take_message", &json!({}));
                out.control = Some(ControlRequest::TakeMessage { summary: String::new() });
                return out;
            }
            Some(Intent::Order) => match (&number, ctx.customer_id) {
                (Some(n), _) => {
                    match self
                        .run(tools, "lookup_order", json!({"order_number": n}), ctx, &mut out.tool_calls)
                        .await
                    {
                        Some(r) if r["order"].is_object() => {
                            out.text = self.t("order_status", &r["order"]);
                            if r["order"]["tracking_number"].is_string() {
                                out.text = format!(
                                    "{} {}",
                                    out.text,
                                    self.t("order_tracking", &with_tracking_end(&r["order"]))
                                );
                            }
                        }
                        Some(_) => {
                            // Read back digit by digit (a misheard digit is easy to hear then).
                            let said = n.chars().map(String::from).collect::<Vec<_>>().join(" ");
                            out.text = self.t("order_not_found", &json!({"number": said}));
                            self.waiting = Some(Waiting::OrderNumber);
                            return out;
                        }
                        None => out.text = self.t("tool_failed", &json!({})),
                    }
                }
                (None, Some(_)) => {
                    match self.run(tools, "lookup_order", json!({}), ctx, &mut out.tool_calls).await {
                        Some(r) => match r["orders"].as_array().and_then(|o| o.first()) {
                            Some(last) => {
                                out.text = self.t("last_order", last);
                                if last["tracking_number"].is_string() {
                                    out.text = format!(
                                        "{} {}",
                                        out.text,
                                        self.t("order_tracking", &with_tracking_end(last))
                                    );
                                }
                            }
                            None => out.text = self.t("no_orders", &json!({})),
                        },
                        None => out.text = self.t("tool_failed", &json!({})),
                    }
                }
                (None, None) => {
                    out.text = self.t("ask_order_number", &json!({}));
                    self.waiting = Some(Waiting::OrderNumber);
                    return out;
                }
            },
            Some(i @ (Intent::Balance | Intent::Tickets)) if ctx.customer_id.is_none() => {
                out.text = if waiting == Some(Waiting::Email(i)) && mail.is_some() {
                    self.t("email_not_found", &json!({}))
                } else {
                    self.t("ask_email", &json!({}))
                };
                self.waiting = Some(Waiting::Email(i));
                return out;
            }
            Some(Intent::Balance) => {
                out.text = match self.run(tools, "account_balance", json!({}), ctx, &mut out.tool_calls).await
                {
                    Some(r) => {
                        self.t("balance", &json!({"balance": money(&r["balance_cents"], &r["currency"])}))
                    }
                    None => self.t("tool_failed", &json!({})),
                };
            }
            Some(Intent::Tickets) => {
                out.text = match self.run(tools, "open_tickets", json!({}), ctx, &mut out.tool_calls).await {
                    Some(r) => match r["tickets"].as_array() {
                        Some(t) if !t.is_empty() => self.t(
                            "tickets",
                            &json!({"count": t.len(), "subject": t[0]["subject"], "status": t[0]["status"]}),
                        ),
                        _ => self.t("tickets_none", &json!({})),
                    },
                    None => self.t("tool_failed", &json!({})),
                };
            }
            Some(Intent::Yes) if waiting == Some(Waiting::AnythingElse) => {
                out.text = "Sure, what can I help with?".into();
                return out;
            }
            Some(Intent::Yes | Intent::No | Intent::OutOfScope) | None => {
                self.misunderstood += 1;
                if self.misunderstood >= 3 {
                    out.text = self.t("transfer", &json!({}));
                    out.control = Some(ControlRequest::Transfer {
                        summary: String::new(),
                        reason: Some("the guided agent did not understand the caller".into()),
                        extension: None,
                        number: None,
                    });
                    return out;
                }
                out.text = self.t("unknown", &json!({}));
                self.waiting = Some(Waiting::OfferedPerson);
                return out;
            }
        }
        self.misunderstood = 0;
        if done {
            out.text = format!("{} {}", out.text, self.t("anything_else", &json!({})));
            self.waiting = Some(Waiting::AnythingElse);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trained_classifiers_kept_are_bounded() {
        for n in 0..MAX_TRAINED + 3 {
            let phrases = vec![(Intent::Yes, format!("bounded {n}")), (Intent::No, "nope".to_string())];
            trained(&phrases, &[vec![1.0, 0.0], vec![0.0, 1.0]]);
            assert!(trained_models().lock().unwrap().len() <= MAX_TRAINED);
        }
    }

    #[test]
    fn hesitations_are_left_out_of_what_the_intent_model_reads() {
        assert_eq!(without_fillers("um, so uh where's my order, erm"), "so where's my order,");
        assert_eq!(without_fillers("Uh... yes please"), "yes please");
        assert_eq!(yes_or_no(&without_fillers("uh yeah go on")), Some(true));
        // An utterance of nothing but hesitation stays as it was.
        assert_eq!(without_fillers("um"), "um");
        // "oh" is a zero in order numbers: kept.
        assert_eq!(without_fillers("ten oh two"), "ten oh two");
    }

    #[test]
    fn the_configuration_model_lists_the_intents_and_templates_this_agent_knows() {
        let intents: Vec<&str> = Intent::ALL.iter().map(|i| i.name()).collect();
        assert_eq!(intents, crate::model::GUIDED_INTENTS);
        let mut templates: Vec<&str> = default_templates().keys().copied().collect();
        let mut listed = crate::model::GUIDED_TEMPLATES.to_vec();
        templates.sort_unstable();
        listed.sort_unstable();
        assert_eq!(templates, listed);
    }

    #[test]
    fn yes_and_no_are_read_from_how_an_answer_begins() {
        for no in [
            "No thanks.",
            "nah",
            "I'm good, thanks",
            "don't bother",
            "not really",
            "no need",
            "absolutely not",
            "Of course not!",
            "definitely not, thanks",
        ] {
            assert_eq!(yes_or_no(no), Some(false), "{no}");
        }
        for yes in
            ["Yes please", "sure thing", "why not", "of course", "Okay.", "that would be great", "spot on"]
        {
            assert_eq!(yes_or_no(yes), Some(true), "{yes}");
        }
        for neither in ["where is my order", "nothing", "notably", "I want a person"] {
            assert_eq!(yes_or_no(neither), None, "{neither}");
        }
    }

    #[test]
    fn the_classifier_decides_when_sure_of_an_utterance_like_the_examples_else_the_nearest_example() {
        let c = |nearest: (Intent, f32), model: (Intent, f32)| Classified { nearest, model }.intent();
        // Sure, and like some example: the classifier, even where the nearest example differs.
        assert_eq!(c((Intent::Order, 0.40), (Intent::Tickets, 0.7)), Some(Intent::Tickets));
        assert_eq!(c((Intent::Order, 0.60), (Intent::Tickets, 0.5)), Some(Intent::Tickets));
        // Unsure: the nearest example when it is close, nothing when it is not.
        assert_eq!(c((Intent::Order, 0.60), (Intent::Tickets, 0.3)), Some(Intent::Order));
        assert_eq!(c((Intent::Order, 0.40), (Intent::Tickets, 0.3)), None);
        // Unlike every example: nothing, however sure the classifier is.
        assert_eq!(c((Intent::Order, 0.25), (Intent::Tickets, 0.9)), None);
    }

    #[test]
    fn arguments_are_taken_from_the_words() {
        assert_eq!(order_number("where is my order 1042?").as_deref(), Some("1042"));
        assert_eq!(order_number("it's order number one zero four two").as_deref(), Some("1042"));
        assert_eq!(order_number("order 10 42").as_deref(), Some("1042"), "grouped digits are one number");
        assert_eq!(order_number("Where in my order 1, 0, 0, 2?").as_deref(), Some("1002"));
        assert_eq!(order_number("order 1002 and then 1003").as_deref(), Some("1002"));
        assert_eq!(order_number("I have 2 orders"), None);
        assert_eq!(order_number("and order one 002").as_deref(), Some("1002"));
        assert_eq!(order_number("it's for 1002").as_deref(), Some("1002"), "'for' is a word here");
        assert_eq!(order_number("I want to talk to four people"), None);
        // As people say them: in pairs, with "oh", as a cardinal.
        assert_eq!(order_number("order ten forty two please").as_deref(), Some("1042"));
        assert_eq!(order_number("it's one oh four two").as_deref(), Some("1042"));
        assert_eq!(order_number("number ten oh two").as_deref(), Some("1002"));
        assert_eq!(order_number("order one thousand and two").as_deref(), Some("1002"));
        assert_eq!(order_number("double one double oh two").as_deref(), Some("11002"));
        assert_eq!(email("it's pat at doe dot com").as_deref(), Some("pat@doe.com"));
        assert_eq!(email("my email is Pat.Doe@Example.org.").as_deref(), Some("pat.doe@example.org"));
        assert_eq!(email("I'm at home"), None);
        assert_eq!(
            fill("Order {number} is {status}.", &json!({"number": "1042", "status": "in_transit"})),
            "Order 1042 is in transit."
        );
    }
}
