//! `take_payment`: the AI agent's way to take a card on a voice call. The tool starts the same
//! keypad payment an agent would (masked media, the keys to the capture alone, prompts to the
//! caller), waits for it to end and gives the model the result: status, brand, last four and
//! amount. The model never gets a digit the caller keyed: the payment's view has none.

use super::{PaymentRequest, Payments};
use crate::store::calls::RecordKey;
use serde_json::{json, Value};
use std::time::Duration;
use switchboard_tools::{CallContext, Tool, ToolError, ToolFuture, ToolSpec};

/// The longest a payment may take (the caller keys four entries, with retries).
const TIMEOUT: Duration = Duration::from_secs(300);

/// The tool for one call.
pub struct PaymentTool {
    spec: ToolSpec,
    payments: Payments,
    key: RecordKey,
    by: String,
    /// Gives the call back to the agent's voice once the payment is over.
    restore: Box<dyn Fn() + Send + Sync>,
}

impl PaymentTool {
    pub fn new(
        payments: Payments,
        key: RecordKey,
        by: &str,
        restore: Box<dyn Fn() + Send + Sync>,
    ) -> PaymentTool {
        PaymentTool { spec: spec(), payments, key, by: by.to_string(), restore }
    }
}

/// What the model is told of the tool (also declared by the warm-up request, before any call).
pub fn spec() -> ToolSpec {
    ToolSpec {
        name: "take_payment".into(),
        description: "Take a card payment from the caller on their phone keypad. Tell the caller first; \
                      recorded prompts then ask them to key the card number, expiry and security code. \
                      You never hear or see the card. Returns the outcome: status (succeeded, declined, \
                      failed or cancelled), card brand, last four digits and the amount. Leave out \
                      amount_minor to only save the card."
            .into(),
        parameters: json!({
            "type": "object",
            "properties": {
                "amount_minor": {"type": "integer", "minimum": 1, "maximum": 100000000,
                                 "description": "Amount in the currency's smallest unit (cents)"},
                "currency": {"type": "string", "pattern": "^[a-z]{3}$", "description": "ISO 4217, lower case"}
            },
            "additionalProperties": false
        }),
        timeout: TIMEOUT,
        cancel_on_interruption: false,
    }
}

impl Tool for PaymentTool {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn invoke<'a>(&'a self, args: Value, _ctx: &'a CallContext) -> ToolFuture<'a> {
        Box::pin(async move {
            let req = PaymentRequest {
                amount_minor: args.get("amount_minor").and_then(Value::as_i64),
                currency: args.get("currency").and_then(Value::as_str).map(str::to_string),
                gateway: None,
            };
            self.payments.start(self.key, req, &self.by).await.map_err(ToolError::Failed)?;
            // Until the payment has said its last words and given the caller back.
            self.payments.finished(self.key).await;
            let view =
                self.payments.state(self.key).ok_or_else(|| ToolError::Failed("the call ended".into()))?;
            (self.restore)();
            Ok(json!({
                "status": view.state,
                "brand": view.brand,
                "last4": view.last4,
                "amount_minor": view.amount_minor,
                "currency": view.currency,
                "charge_status": view.charge_status,
                "message": view.message,
            }))
        })
    }
}
