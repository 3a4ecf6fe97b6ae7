//! Agent-assisted keypad payments. The agent asks for a payment on a call they are on; the
//! customer's side of the relay is masked (nobody, no recording, no transcription hears the
//! keys), the customer's digits go to the capture alone (`calls::keypad`), spoken prompts lead
//! the customer through the steps (`capture`), and the card goes to the account's payment
//! gateway (`gateway`) and nowhere else; what comes back (a token, brand, last four, the
//! charge's status) is stored, shown to the agent and written to the timeline. The agent sees
//! only progress and may restart a step or cancel.

pub mod capture;
pub mod gateway;
pub mod tool;

use crate::calls::keypad::Keypad;
use crate::db::Db;
use crate::model::PaymentGateway;
use crate::store::calls::{RecordKey, RecordWriter};
use crate::store::payments::{self, NewPayment};
use capture::{Capture, Output, Say, Step, StepView};
use gateway::{Amount, Declined, Gateway};
use serde::Serialize;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use switchboard_telephony::media::relay::{MediaSide, Relay};
use tokio::sync::{mpsc, oneshot, watch};

/// What a payment task needs, given once by the router.
#[derive(Clone)]
pub struct Env {
    pub db: Db,
    pub records: RecordWriter,
}

/// What the agent asks for.
#[derive(Debug, Clone, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentRequest {
    /// In the currency's smallest unit (cents); leave out to only tokenise the card.
    pub amount_minor: Option<i64>,
    /// ISO 4217, e.g. `usd` (the gateway's currency when left out).
    pub currency: Option<String>,
    /// The payment gateway's name (the account's only one when left out).
    pub gateway: Option<String>,
}

/// A payment on a live call as the agent sees it: progress, never a digit.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PaymentView {
    /// `capturing`, `processing`, `succeeded`, `declined`, `failed` or `cancelled`.
    pub state: String,
    pub amount_minor: Option<i64>,
    pub currency: String,
    pub gateway: String,
    pub steps: Vec<StepView>,
    pub brand: Option<String>,
    pub last4: Option<String>,
    /// Set when the card was taken: the processor's token, and the charge's status.
    pub token: Option<String>,
    pub charge_status: Option<String>,
    /// Why it was declined, failed or cancelled.
    pub message: Option<String>,
    pub started_by: String,
}

impl PaymentView {
    pub fn finished(&self) -> bool {
        !matches!(self.state.as_str(), "capturing" | "processing")
    }
}

enum Control {
    Restart(Step, oneshot::Sender<Result<(), String>>),
    Cancel(String),
}

struct CallPay {
    account: i64,
    relay: Weak<Relay>,
    customer: MediaSide,
    keypad: Arc<Keypad>,
    control: Option<mpsc::UnboundedSender<Control>>,
    view: Option<Arc<Mutex<PaymentView>>>,
    /// Becomes `true` once the payment's task has ended (its last words said, the caller
    /// unmasked and their keypad given back).
    done: Option<watch::Receiver<bool>>,
}

/// The live calls a payment can be taken on, by call record.
#[derive(Clone, Default)]
pub struct Payments {
    calls: Arc<Mutex<HashMap<RecordKey, CallPay>>>,
    env: Arc<OnceLock<Env>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// An amount as the caller hears it.
fn spoken_amount(minor: i64, currency: &str) -> String {
    let name = match currency {
        "usd" => "US dollars",
        "eur" => "euros",
        "gbp" => "pounds",
        "cad" => "Canadian dollars",
        "aud" => "Australian dollars",
        _ => return format!("{}.{:02} {}", minor / 100, minor % 100, currency.to_uppercase()),
    };
    format!("{}.{:02} {name}", minor / 100, minor % 100)
}

impl Payments {
    /// Gives payments their database and call records (the router does, once).
    pub fn attach(&self, env: Env) {
        let _ = self.env.set(env);
    }

    /// A live call with media: `customer` is the side the customer is on.
    pub fn register(
        &self,
        key: RecordKey,
        account: i64,
        relay: &Arc<Relay>,
        customer: MediaSide,
        keypad: Arc<Keypad>,
    ) {
        let call = CallPay {
            account,
            relay: Arc::downgrade(relay),
            customer,
            keypad,
            control: None,
            view: None,
            done: None,
        };
        lock(&self.calls).insert(key, call);
    }

    /// The call ended: a capture still running is cancelled (its digits forgotten).
    pub fn call_ended(&self, key: RecordKey) {
        if let Some(call) = lock(&self.calls).remove(&key) {
            if let Some(control) = call.control {
                let _ = control.send(Control::Cancel("the call ended".into()));
            }
        }
    }

    /// The payment on the call now, or the last one taken on it.
    pub fn state(&self, key: RecordKey) -> Option<PaymentView> {
        let calls = lock(&self.calls);
        calls.get(&key)?.view.as_ref().map(|v| lock(v).clone())
    }

    /// Starts taking a payment on the call for `by` (an agent on it).
    pub async fn start(&self, key: RecordKey, req: PaymentRequest, by: &str) -> Result<PaymentView, String> {
        let env = self.env.get().ok_or("payments are not available")?.clone();
        let account = {
            let calls = lock(&self.calls);
            let call = calls.get(&key).ok_or("the call has ended")?;
            if call.view.as_ref().is_some_and(|v| !lock(v).finished()) {
                return Err("a payment is already being taken on this call".into());
            }
            call.account
        };
        let gateways = crate::store::config::list::<PaymentGateway>(&env.db, account)
            .await
            .map_err(|e| e.to_string())?;
        let gateway = match &req.gateway {
            Some(name) => gateways.into_iter().find(|g| &g.spec.name == name),
            None if gateways.len() == 1 => gateways.into_iter().next(),
            None if gateways.is_empty() => None,
            None => return Err("this account has several payment gateways: name one".into()),
        }
        .map(|g| g.spec)
        .ok_or("no payment gateway is configured for this account")?;
        let secret = gateway.secret_key.clone().ok_or("the payment gateway has no secret key")?;
        let client = Gateway::new(&gateway.api_url, &secret).map_err(|e| e.to_string())?;
        let currency = req.currency.clone().unwrap_or_else(|| gateway.currency.clone()).to_lowercase();
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_lowercase()) {
            return Err("currency must be a three-letter ISO 4217 code".into());
        }
        if req.amount_minor.is_some_and(|a| !(1..=100_000_000).contains(&a)) {
            return Err("amount_minor must be between 1 and 100000000".into());
        }
        let mut calls = lock(&self.calls);
        let call = calls.get_mut(&key).ok_or("the call has ended")?;
        let relay = call.relay.clone();
        if relay.upgrade().is_none() {
            return Err("the call has no media".into());
        }
        let capture = Capture::new(0, today(), gateway.postal_code);
        let view = Arc::new(Mutex::new(PaymentView {
            state: "capturing".into(),
            amount_minor: req.amount_minor,
            currency: currency.clone(),
            gateway: gateway.name.clone(),
            steps: capture.progress(),
            brand: None,
            last4: None,
            token: None,
            charge_status: None,
            message: None,
            started_by: by.to_string(),
        }));
        let (control, controls) = mpsc::unbounded_channel();
        let (done_tx, done) = watch::channel(false);
        call.control = Some(control);
        call.view = Some(view.clone());
        call.done = Some(done);
        let amount = req.amount_minor.map(|minor| Amount { minor, currency: currency.clone() });
        let task = Task {
            env,
            key,
            account,
            relay,
            customer: call.customer,
            keypad: call.keypad.clone(),
            view: view.clone(),
            gateway: (gateway.name, client),
            amount,
            by: by.to_string(),
        };
        tokio::spawn(task.run(capture, controls, done_tx));
        let shown = lock(&view).clone();
        Ok(shown)
    }

    /// Waits until the payment on the call has ended altogether (the caller's side is theirs
    /// again); at once when none runs.
    pub async fn finished(&self, key: RecordKey) {
        let done = lock(&self.calls).get(&key).and_then(|c| c.done.clone());
        if let Some(mut done) = done {
            let _ = done.wait_for(|d| *d).await;
        }
    }

    /// The agent asks the customer for a step again.
    pub async fn restart(&self, key: RecordKey, step: Step) -> Result<PaymentView, String> {
        let (reply, answer) = oneshot::channel();
        self.control(key)?
            .send(Control::Restart(step, reply))
            .map_err(|_| "no payment is being taken".to_string())?;
        answer.await.map_err(|_| "no payment is being taken".to_string())??;
        self.state(key).ok_or_else(|| "the call has ended".into())
    }

    /// The agent stops the payment; nothing is charged.
    pub fn cancel(&self, key: RecordKey, by: &str) -> Result<PaymentView, String> {
        let control = self.control(key)?;
        let _ = control.send(Control::Cancel(format!("cancelled by {by}")));
        self.state(key).ok_or_else(|| "the call has ended".into())
    }

    fn control(&self, key: RecordKey) -> Result<mpsc::UnboundedSender<Control>, String> {
        let calls = lock(&self.calls);
        let call = calls.get(&key).ok_or("the call has ended")?;
        match (&call.control, &call.view) {
            (Some(c), Some(v)) if !lock(v).finished() => Ok(c.clone()),
            _ => Err("no payment is being taken on this call".into()),
        }
    }
}

/// (year, month) today.
fn today() -> (u32, u32) {
    use chrono::Datelike;
    let now = crate::clock::now();
    (now.year().max(0) as u32, now.month())
}

/// One payment being taken.
struct Task {
    env: Env,
    key: RecordKey,
    account: i64,
    relay: Weak<Relay>,
    customer: MediaSide,
    keypad: Arc<Keypad>,
    view: Arc<Mutex<PaymentView>>,
    gateway: (String, Gateway),
    amount: Option<Amount>,
    by: String,
}

/// Unmasks the customer and gives their keypad back however the task ends.
struct Unmask {
    relay: Weak<Relay>,
    side: MediaSide,
    keypad: Arc<Keypad>,
    done: watch::Sender<bool>,
}

impl Drop for Unmask {
    fn drop(&mut self) {
        self.keypad.release();
        if let Some(relay) = self.relay.upgrade() {
            relay.stop_playing(self.side);
            relay.mask(self.side, false);
        }
        let _ = self.done.send(true);
    }
}

impl Task {
    fn event(&self, kind: &str, data: serde_json::Value) {
        self.env.records.event(self.key, kind, data);
    }

    fn set(&self, f: impl FnOnce(&mut PaymentView)) {
        f(&mut lock(&self.view));
    }

    /// Plays what the customer is told; the receiver completes when it has played.
    async fn say(&self, say: Say) -> Option<oneshot::Receiver<()>> {
        let amount = self.amount.as_ref().map(|a| spoken_amount(a.minor, &a.currency));
        let text = say.text(amount.as_deref());
        let source = crate::calls::prompts::spoken_source(&text, None).await;
        Some(self.relay.upgrade()?.play(self.customer, source))
    }

    async fn run(
        self,
        mut capture: Capture,
        mut controls: mpsc::UnboundedReceiver<Control>,
        done: watch::Sender<bool>,
    ) {
        let Some(relay) = self.relay.upgrade() else {
            let _ = done.send(true);
            return;
        };
        relay.mask(self.customer, true);
        let mut keys = self.keypad.capture(self.customer);
        drop(relay);
        let _unmask =
            Unmask { relay: self.relay.clone(), side: self.customer, keypad: self.keypad.clone(), done };
        self.event(
            "payment_started",
            json!({ "by": self.by, "gateway": self.gateway.0, "amount_minor": self.amount.as_ref().map(|a| a.minor),
                    "currency": lock(&self.view).currency }),
        );
        let started = tokio::time::Instant::now();
        let now = || started.elapsed().as_millis() as u64;
        let mut playing: Option<oneshot::Receiver<()>> = None;
        let outcome = loop {
            let mut finished = None;
            while let Some(out) = capture.poll_output() {
                match out {
                    Output::Say(say) => playing = self.say(say).await,
                    Output::Progress => self.set(|v| v.steps = capture.progress()),
                    Output::Complete => finished = Some(Ok(())),
                    Output::Failed(why) => finished = Some(Err(why)),
                }
            }
            if let Some((brand, last4)) = capture.card_brand_last4() {
                self.set(|v| {
                    v.brand = Some(brand.to_string());
                    v.last4 = Some(last4);
                });
            }
            if let Some(f) = finished {
                break f;
            }
            let deadline = capture.poll_timeout().map(|d| started + std::time::Duration::from_millis(d));
            tokio::select! {
                key = keys.recv() => match key {
                    Some(k) => {
                        // A caller who knows what to key need not wait for the prompt's end.
                        if playing.take().is_some() {
                            if let Some(r) = self.relay.upgrade() { r.stop_playing(self.customer) }
                        }
                        capture.handle_key(now(), k);
                    }
                    None => break Err("the call ended".into()),
                },
                done = async { playing.as_mut().expect("guarded").await }, if playing.is_some() => {
                    playing = None;
                    if done.is_ok() {
                        capture.prompt_played(now());
                    }
                }
                _ = async { tokio::time::sleep_until(deadline.expect("guarded")).await }, if deadline.is_some() => {
                    capture.handle_timeout(now());
                }
                control = controls.recv() => match control {
                    Some(Control::Restart(step, reply)) => {
                        let r = capture.restart(now(), step);
                        if r.is_ok() {
                            self.event("payment_step_restarted", json!({ "step": step, "by": self.by }));
                        }
                        let _ = reply.send(r);
                    }
                    Some(Control::Cancel(why)) => {
                        capture.cancel();
                        self.set(|v| {
                            v.state = "cancelled".into();
                            v.message = Some(why.clone());
                            v.steps = capture.progress();
                        });
                        self.event("payment_cancelled", json!({ "reason": why }));
                        return;
                    }
                    None => {
                        capture.cancel();
                        return;
                    }
                },
            }
        };
        if let Err(why) = outcome {
            capture.cancel();
            self.set(|v| {
                v.state = "failed".into();
                v.message = Some(why.clone());
            });
            self.event("payment_failed", json!({ "reason": why }));
            if let Some(p) = playing {
                let _ = tokio::time::timeout(std::time::Duration::from_secs(8), p).await;
            }
            return;
        }
        self.set(|v| v.state = "processing".into());
        let Some(card) = capture.take_card() else { return };
        let reference = {
            use rand::RngCore;
            let mut b = [0u8; 12];
            rand::thread_rng().fill_bytes(&mut b);
            format!("switchboard-{}", hex::encode(b))
        };
        let (name, client) = &self.gateway;
        let result = client.pay(&card, self.amount.as_ref(), &reference).await;
        drop(card);
        let said = match result {
            Ok(p) => {
                let status = p.charge.as_ref().map_or("tokenized".to_string(), |(_, s)| s.clone());
                let call_id = self.env.records.id_of(self.key).await;
                let stored = payments::insert(
                    &self.env.db,
                    self.account,
                    &NewPayment {
                        call_id,
                        processor: name,
                        token: &p.token,
                        brand: &p.brand,
                        last4: &p.last4,
                        exp_month: p.exp_month as i64,
                        exp_year: p.exp_year as i64,
                        amount_minor: self.amount.as_ref().map(|a| a.minor),
                        currency: self.amount.as_ref().map(|a| a.currency.as_str()),
                        charge_id: p.charge.as_ref().map(|(id, _)| id.as_str()),
                        status: &status,
                        taken_by: &self.by,
                    },
                )
                .await;
                if let Err(e) = &stored {
                    tracing::error!(error = %e, "a payment was taken but could not be stored");
                }
                let ok = status == "succeeded" || status == "tokenized" || status == "pending";
                self.set(|v| {
                    v.state = if ok { "succeeded" } else { "declined" }.into();
                    v.brand = Some(p.brand.clone());
                    v.last4 = Some(p.last4.clone());
                    v.token = Some(p.token.clone());
                    v.charge_status = Some(status.clone());
                });
                self.event(
                    "payment_completed",
                    json!({ "status": status, "brand": p.brand, "last4": p.last4, "token": p.token,
                            "amount_minor": self.amount.as_ref().map(|a| a.minor) }),
                );
                if ok {
                    "Thank you. Your payment has been taken. You are back with your agent."
                } else {
                    "Sorry, the payment did not go through. You are back with your agent."
                }
            }
            Err(e) => {
                let state = if matches!(e, Declined::Card(_)) { "declined" } else { "failed" };
                self.set(|v| {
                    v.state = state.into();
                    v.message = Some(e.to_string());
                });
                self.event(
                    if state == "declined" { "payment_declined" } else { "payment_failed" },
                    json!({ "reason": e.to_string() }),
                );
                "Sorry, the payment did not go through. You are back with your agent."
            }
        };
        let source = crate::calls::prompts::spoken_source(said, None).await;
        if let Some(relay) = self.relay.upgrade() {
            let done = relay.play(self.customer, source);
            drop(relay);
            let _ = tokio::time::timeout(std::time::Duration::from_secs(8), done).await;
        }
    }
}
