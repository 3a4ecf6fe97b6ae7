//! A coached call's listening loop: both sides' audio through their own ears (VAD and end of
//! line), lines recognised on the shared recogniser (partials only when it is idle: callers of
//! AI agents come first), each finished line to the coach, and the coach's actions made into
//! cards from the store, the merchant's answers or the queue's LLM.

use super::engine::{self, Action, Coach, Prepared, Sentence, Speaker};
use super::{Card, ChecklistView, CoachAlert, CoachLine, Session};
use crate::agent::voice::Engines;
use crate::clock::now_ms;
use crate::db::Db;
use crate::model::{CoachSettings, LlmConfig};
use crate::store::calls::RecordWriter;
use crate::store::commerce;
use serde_json::json;
use std::sync::Arc;
use switchboard_models::embed::MiniLm;
use switchboard_speech::bargein::BargeInConfig;
use switchboard_speech::ears::Ears;
use switchboard_speech::frame::{AudioFrame, Frame};
use switchboard_speech::turn::TurnConfig;
use tokio::sync::{mpsc, oneshot};

/// The relay's rate for taps.
const RATE: u32 = 8_000;
/// A pause this long ends a line.
const LINE_END_MS: u64 = 600;
/// Partial lines this often while someone speaks.
const PARTIAL_EVERY_MS: u64 = 900;

/// The two sides' audio, 20 ms frames at 8 kHz (the relay's taps).
pub struct Audio {
    pub caller: mpsc::UnboundedReceiver<Vec<i16>>,
    pub agent: mpsc::UnboundedReceiver<Vec<i16>>,
}

enum Heard {
    Partial(usize, Option<String>),
    /// (side, text, when the speech started and ended: epoch ms)
    Final(usize, Result<String, String>, (i64, i64)),
}

/// Writing the live lines into the call's transcript: when the call started (epoch ms; lines
/// are timed from it) and the agent's name for their lines.
pub struct IntoTranscript {
    pub call_started_ms: i64,
    pub agent_name: String,
}

const SPEAKERS: [Speaker; 2] = [Speaker::Caller, Speaker::Agent];

/// Coaches a call until `stop` fires or the caller's audio ends.
pub async fn run(
    session: Arc<Session>,
    settings: &CoachSettings,
    audio: Audio,
    db: Db,
    records: Option<RecordWriter>,
    transcript: Option<IntoTranscript>,
    mut stop: oneshot::Receiver<()>,
) {
    let llm = settings.llm.clone();
    let engines = Engines::shared().await;
    let (embedder, prepared) = prepare(settings).await;
    let labels: Vec<ChecklistView> = prepared
        .checklist
        .iter()
        .map(|(l, _)| ChecklistView { label: l.clone(), done: false, at_ms: None })
        .collect();
    let recognizer = match &engines.recognizer {
        Ok(r) => r,
        Err(why) => {
            session.update(|v| {
                v.checklist = labels;
                v.notice = Some(format!("live transcription is unavailable: {why}"));
            });
            let _ = stop.await;
            return;
        }
    };
    session.update(|v| {
        v.checklist = labels;
        if embedder.is_none() {
            v.notice = Some("the meaning model is unavailable: no checklist ticks or written answers".into());
        }
    });
    let mut ctx =
        Ctx { session, db, records, transcript, llm, embedder, coach: Coach::new(prepared), customer: None };
    let turn = TurnConfig {
        end_ms: LINE_END_MS,
        unfinished_end_ms: LINE_END_MS,
        complete_end_ms: None,
        ..Default::default()
    };
    let mut ears = Vec::new();
    for _ in SPEAKERS {
        match Ears::new(RATE, turn.clone(), BargeInConfig::default()) {
            Ok(e) => ears.push(e.with_partials_every(Some(PARTIAL_EVERY_MS))),
            Err(e) => {
                ctx.session.update(|v| v.notice = Some(format!("live transcription failed: {e}")));
                let _ = stop.await;
                return;
            }
        }
    }
    let ids = [engines.next_caller(), engines.next_caller()];
    // Both sides' lines sent to a cloud recogniser are the call's cost (no partials then).
    let meter = engines.meter();
    // Audio time 0 of both sides, in epoch ms (the taps start together).
    let origin = now_ms();
    let mut heard_ms = [0u64; 2];
    let mut partial_busy = [false; 2];
    let (tx, mut rx) = mpsc::unbounded_channel::<Heard>();
    let (mut caller, mut agent) = (Some(audio.caller), Some(audio.agent));
    loop {
        let (side, samples) = tokio::select! {
            _ = &mut stop => break,
            f = recv(&mut caller) => match f {
                Some(s) => (0, s),
                None => break,
            },
            f = recv(&mut agent) => match f {
                Some(s) => (1, s),
                None => { agent = None; continue }
            },
            Some(h) = rx.recv() => {
                match h {
                    Heard::Partial(side, text) => {
                        partial_busy[side] = false;
                        ctx.partial(side, text);
                    }
                    Heard::Final(side, Ok(text), span) => ctx.line(SPEAKERS[side], text, span).await,
                    Heard::Final(_, Err(e), _) => tracing::debug!(error = %e, "a coaching line was not recognised"),
                }
                continue;
            }
        };
        let frame = AudioFrame { rate: RATE, at_ms: heard_ms[side], samples };
        heard_ms[side] += frame.duration_ms();
        for f in ears[side].handle_audio(&frame) {
            match f {
                Frame::PartialRequest { audio, .. }
                    if !partial_busy[side] && recognizer.waiting() == 0 && !meter.stt_is_cloud() =>
                {
                    partial_busy[side] = true;
                    let rx = recognizer.submit_partial(audio).result;
                    let tx = tx.clone();
                    tokio::task::spawn_blocking(move || {
                        let text = rx.recv().ok().and_then(|r| r.ok()).map(|t| t.text);
                        let _ = tx.send(Heard::Partial(side, text));
                    });
                }
                Frame::EndOfTurn { audio, .. } => {
                    let said = said_span(origin, audio.at_ms, audio.duration_ms());
                    meter.recognised(audio.duration_ms());
                    let rx = recognizer.submit(ids[side], audio, true).result;
                    let tx = tx.clone();
                    tokio::task::spawn_blocking(move || {
                        let text = match rx.recv() {
                            Ok(Ok(t)) => Ok(t.text),
                            Ok(Err(e)) => Err(e.to_string()),
                            Err(_) => Err("the recogniser stopped".into()),
                        };
                        let _ = tx.send(Heard::Final(side, text, said));
                    });
                }
                _ => {}
            }
        }
    }
    let open = ctx.coach.open_items();
    if let (Some(r), Some(key)) = (&ctx.records, ctx.session.key) {
        r.event(key, "coaching_ended", json!({"open_items": open}));
        if let Some(u) = meter.unbilled() {
            u.bill(r, key, "coaching");
        }
    }
}

async fn recv(rx: &mut Option<mpsc::UnboundedReceiver<Vec<i16>>>) -> Option<Vec<i16>> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// The checklist's and answers' phrases embedded (no vectors when the model is missing).
async fn prepare(settings: &CoachSettings) -> (Option<Arc<MiniLm>>, Prepared) {
    let settings = settings.clone();
    let done = tokio::task::spawn_blocking(move || {
        let embedder = MiniLm::shared(&switchboard_models::catalog::default_dir()).ok();
        let prepared = Prepared::new(&settings, |texts| match &embedder {
            Some(e) => crate::agent::guided::embed_cached(e, texts).unwrap_or_default(),
            None => Vec::new(),
        });
        (embedder, prepared)
    })
    .await;
    done.unwrap_or_else(|_| (None, Prepared::default()))
}

struct Ctx {
    session: Arc<Session>,
    db: Db,
    records: Option<RecordWriter>,
    transcript: Option<IntoTranscript>,
    llm: Option<LlmConfig>,
    embedder: Option<Arc<MiniLm>>,
    coach: Coach,
    /// The customer the call is about, once known (the call's match, an order's, an e-mail's).
    customer: Option<i64>,
}

impl Ctx {
    fn event(&self, kind: &str, data: serde_json::Value) {
        if let (Some(r), Some(key)) = (&self.records, self.session.key) {
            r.event(key, kind, data);
        }
    }

    fn partial(&self, side: usize, text: Option<String>) {
        let Some(text) = text.filter(|t| !crate::agent::voice::is_noise(t)) else { return };
        let speaker = SPEAKERS[side];
        self.session.update(|v| {
            v.partial.retain(|l| l.speaker != speaker);
            v.partial.push(CoachLine { speaker, text: text.trim().to_string(), at_ms: now_ms() });
        });
    }

    /// A finished line: shown, kept in the call's transcript, then read by the coach.
    async fn line(&mut self, speaker: Speaker, text: String, (start_ms, at_ms): (i64, i64)) {
        let text = text.trim().to_string();
        if text.is_empty() || crate::agent::voice::is_noise(&text) {
            self.session.update(|v| v.partial.retain(|l| l.speaker != speaker));
            return;
        }
        self.session.update(|v| {
            v.partial.retain(|l| l.speaker != speaker);
            v.transcript.push(CoachLine { speaker, text: text.clone(), at_ms });
        });
        if let (Some(r), Some(key), Some(t)) = (&self.records, self.session.key, &self.transcript) {
            // The same words as the recording's transcript would have: a recording transcribed
            // after the call leaves out what these lines already cover (`already_said`).
            let (speaker, name) = match speaker {
                Speaker::Caller => ("caller", None),
                Speaker::Agent => ("agent", Some(t.agent_name.clone())),
            };
            let line = crate::store::calls::TranscriptLine {
                speaker: speaker.into(),
                name,
                start_ms: (start_ms - t.call_started_ms).max(0),
                end_ms: (at_ms - t.call_started_ms).max(0),
                text: crate::prompt::redact_cards(&text),
            };
            r.transcript(key, line);
        }
        let parts = engine::sentences(&text);
        let vectors: Vec<Option<Vec<f32>>> = match self.embedder.clone() {
            Some(e) => {
                let p = parts.clone();
                tokio::task::spawn_blocking(move || {
                    let texts: Vec<&str> = p.iter().map(String::as_str).collect();
                    e.embed(&texts).ok()
                })
                .await
                .ok()
                .flatten()
                .map(|v| v.into_iter().map(Some).collect())
                .unwrap_or_else(|| vec![None; parts.len()])
            }
            None => vec![None; parts.len()],
        };
        let sentences: Vec<Sentence> =
            parts.iter().zip(&vectors).map(|(t, v)| Sentence { text: t, vector: v.as_deref() }).collect();
        let actions = self.coach.handle_line(speaker, &text, &sentences);
        tracing::debug!(?speaker, %text, ?actions, embedded = vectors.iter().all(Option::is_some), "coaching line");
        for action in actions {
            self.act(action, &text).await;
        }
    }

    fn show(&self, card: Card) {
        show(&self.session, self.records.as_ref(), card);
    }

    async fn act(&mut self, action: Action, heard: &str) {
        let account = self.session.account;
        match action {
            Action::FindOrder(number) => {
                let q = commerce::OrderQuery {
                    number: Some(number.clone()),
                    limit: Some(1),
                    ..Default::default()
                };
                let card =
                    match commerce::list_orders(&self.db, account, &q).await.map(|o| o.into_iter().next()) {
                        Ok(Some(o)) => {
                            self.customer.get_or_insert(o.customer_id);
                            let mut c =
                                Card::new("order", format!("Order #{}", o.number), order_lines(&o), heard);
                            c.link = Some(format!("#/customers/{}", o.customer_id));
                            c
                        }
                        Ok(None) => Card::new(
                            "order",
                            format!("No order #{number}"),
                            vec!["No order has this number: ask the caller to check it.".into()],
                            heard,
                        ),
                        Err(e) => return tracing::warn!(error = %e, "coaching: order lookup failed"),
                    };
                self.show(card);
            }
            Action::FindCustomerByEmail(email) => {
                let q = commerce::CustomerQuery {
                    email: Some(email.clone()),
                    limit: Some(1),
                    ..Default::default()
                };
                let card =
                    match commerce::list_customers(&self.db, account, &q).await.map(|c| c.into_iter().next())
                    {
                        Ok(Some(c)) => {
                            self.customer = Some(c.id);
                            let mut lines = vec![c.emails.join(", ")];
                            lines.extend(c.phones.iter().map(|p| p.number.clone()));
                            lines.push(format!("Balance {}", money(c.balance_cents, &c.currency)));
                            let mut card = Card::new("customer", c.name.clone(), lines, heard);
                            card.link = Some(format!("#/customers/{}", c.id));
                            card
                        }
                        Ok(None) => Card::new("customer", format!("No customer with {email}"), vec![], heard),
                        Err(e) => return tracing::warn!(error = %e, "coaching: customer lookup failed"),
                    };
                self.show(card);
            }
            Action::FindTickets => {
                if self.customer.is_none() {
                    // The call's own match (a call with a record; the benchmark's has none).
                    if self.session.key.is_some() {
                        self.customer =
                            crate::store::calls::get(&self.db, account, self.session.call_id, None)
                                .await
                                .ok()
                                .and_then(|d| d.record.customer_id);
                    }
                }
                let Some(customer) = self.customer else {
                    let lines = vec!["Ask for their order number or e-mail to see their tickets.".into()];
                    return self.show(Card::new(
                        "tickets",
                        "A problem: no customer matched yet".into(),
                        lines,
                        heard,
                    ));
                };
                let q = commerce::TicketQuery { customer_id: Some(customer), open: Some(true) };
                match commerce::list_tickets(&self.db, account, &q).await {
                    Ok(tickets) => {
                        let title = match tickets.len() {
                            0 => "No open tickets".to_string(),
                            1 => "1 open ticket".to_string(),
                            n => format!("{n} open tickets"),
                        };
                        let lines = tickets
                            .iter()
                            .map(|t| format!("#{} {} ({})", t.id, t.subject, label(&t.status)))
                            .collect();
                        let mut card = Card::new("tickets", title, lines, heard);
                        card.link = Some(format!("#/customers/{customer}"));
                        self.show(card);
                    }
                    Err(e) => tracing::warn!(error = %e, "coaching: ticket lookup failed"),
                }
            }
            Action::Suggest { say, asked } => {
                let mut card = Card::new("suggestion", "Suggested answer".into(), vec![say], &asked);
                card.source = Some("written answer".into());
                self.show(card);
            }
            Action::AskLlm => self.ask_llm(heard),
            Action::Tick(i) => {
                let at = now_ms();
                let mut label = String::new();
                self.session.update(|v| {
                    if let Some(item) = v.checklist.get_mut(i) {
                        item.done = true;
                        item.at_ms = Some(at);
                        label = item.label.clone();
                    }
                });
                self.event("coaching_checklist", json!({"item": label}));
            }
            Action::Alert { kind, text } => {
                let at_ms = now_ms();
                self.session
                    .update(|v| v.alerts.push(CoachAlert { kind: kind.into(), text: text.clone(), at_ms }));
                self.event("coaching_alert", json!({"kind": kind, "text": text}));
                let card = Card::new("alert", text, vec![], heard);
                self.session.add_card(card);
            }
        }
    }

    /// Asks the queue's LLM what the agent could say next, in the background (a slow LLM
    /// delays nothing; a failing one costs only the suggestion).
    fn ask_llm(&self, heard: &str) {
        let Some(llm) = self.llm.clone() else { return };
        let view = self.session.view();
        let transcript: String = view
            .transcript
            .iter()
            .rev()
            .take(20)
            .rev()
            .map(|l| {
                format!("{}: {}\n", if l.speaker == Speaker::Caller { "Caller" } else { "Agent" }, l.text)
            })
            .collect();
        let (session, records, heard) = (self.session.clone(), self.records.clone(), heard.to_string());
        tokio::spawn(async move {
            match super::suggest::ask(&llm, &transcript).await {
                Ok(Some(text)) => {
                    let mut card = Card::new("suggestion", "Suggested answer".into(), vec![text], &heard);
                    card.source = Some("LLM".into());
                    show(&session, records.as_ref(), card);
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "coaching: the LLM's suggestion failed"),
            }
        });
    }
}

/// Puts a card in the agent's view and its gist in the call's timeline.
fn show(session: &Session, records: Option<&RecordWriter>, card: Card) {
    let card = session.add_card(card);
    if let (Some(r), Some(key)) = (records, session.key) {
        r.event(key, "coaching_card", json!({"kind": card.kind, "title": card.title, "source": card.source}));
    }
}

fn label<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(|s| s.replace('_', " "))).unwrap_or_default()
}

/// "$196.95", "€12.00", "12.00 CHF".
fn money(cents: i64, currency: &str) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let amount = format!("{}.{:02}", cents.abs() / 100, cents.abs() % 100);
    match currency.to_ascii_lowercase().as_str() {
        "usd" => format!("{sign}${amount}"),
        "eur" => format!("{sign}€{amount}"),
        "gbp" => format!("{sign}£{amount}"),
        other => format!("{sign}{amount} {}", other.to_uppercase()),
    }
}

fn order_lines(o: &commerce::Order) -> Vec<String> {
    let mut lines = vec![format!("{} · {}", label(&o.status), money(o.total_cents, &o.currency))];
    let items: Vec<String> = o.items.iter().map(|i| format!("{} × {}", i.quantity, i.name)).collect();
    if !items.is_empty() {
        lines.push(items.join(", "));
    }
    if let (Some(carrier), Some(tracking)) = (&o.carrier, &o.tracking_number) {
        lines.push(format!("{carrier} {tracking}"));
    }
    lines
}

/// When a turn was said, in unix ms: from its first sample to its end less the silence that
/// ended it, or to its last sample when it is shorter than that silence (a turn of a word or
/// two: a CI run's "broken." had start = end).
fn said_span(origin: i64, at_ms: u64, duration_ms: u64) -> (i64, i64) {
    let start = origin + at_ms as i64;
    let end = origin + (at_ms + duration_ms) as i64;
    match duration_ms > LINE_END_MS + 100 {
        true => (start, end - LINE_END_MS as i64),
        false => (start, end.max(start + 1)),
    }
}

#[cfg(test)]
mod span_tests {
    use super::*;

    #[test]
    fn a_line_always_lasts_and_ends_before_the_silence_that_ended_it() {
        assert_eq!(said_span(1_000, 200, 2_000), (1_200, 2_600));
        assert_eq!(said_span(1_000, 200, 650), (1_200, 1_850));
        assert_eq!(said_span(1_000, 200, 0), (1_200, 1_201));
        for d in 0..2_000 {
            let (start, end) = said_span(0, 5_000, d);
            assert!(start < end, "{d} ms: {start}..{end}");
        }
    }
}
