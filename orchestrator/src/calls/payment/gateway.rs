//! The payment processor: the Stripe-compatible token and charge API (`POST /v1/tokens` with
//! the card, then `POST /v1/charges` with the token for an amount), form-encoded, with the
//! account's secret key as a bearer token. The card goes in one request body and nowhere else:
//! nothing here logs a request, and errors carry the processor's message, never the body.

use super::capture::Card;
use serde::Deserialize;
use std::time::Duration;

/// How long the processor has to answer one request.
const TIMEOUT: Duration = Duration::from_secs(20);

/// What the processor made of the card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub token: String,
    pub brand: String,
    pub last4: String,
    pub exp_month: u32,
    pub exp_year: u32,
    /// The charge's id and status (`succeeded`, `pending`, `failed`), when an amount was charged.
    pub charge: Option<(String, String)>,
}

/// An amount in the currency's smallest unit (cents), with its currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Amount {
    pub minor: i64,
    pub currency: String,
}

/// Why the processor did not take the card.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Declined {
    /// The processor refused the card (its message, e.g. "Your card was declined.").
    #[error("{0}")]
    Card(String),
    /// The processor could not be reached or answered something else.
    #[error("the payment processor failed: {0}")]
    Processor(String),
}

/// The Stripe-compatible client of one gateway.
pub struct Gateway {
    api_url: String,
    secret_key: String,
    http: reqwest::Client,
}

/// `application/x-www-form-urlencoded`, by hand (the pairs are few and known).
fn form(pairs: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                b' ' => "+".to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

#[derive(Deserialize)]
struct TokenCard {
    #[serde(default)]
    brand: String,
    last4: String,
    exp_month: u32,
    exp_year: u32,
}

#[derive(Deserialize)]
struct Token {
    id: String,
    card: TokenCard,
}

#[derive(Deserialize)]
struct Charge {
    id: String,
    status: String,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    message: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

impl Gateway {
    pub fn new(api_url: &str, secret_key: &str) -> Result<Gateway, Declined> {
        let http = crate::tls::http_client()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Declined::Processor(e.to_string()))?;
        Ok(Gateway {
            api_url: api_url.trim_end_matches('/').to_string(),
            secret_key: secret_key.to_string(),
            http,
        })
    }

    async fn post<T: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        body: String,
        idempotency: &str,
    ) -> Result<T, Declined> {
        let response = self
            .http
            .post(format!("{}{path}", self.api_url))
            .bearer_auth(&self.secret_key)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("idempotency-key", idempotency)
            .body(body)
            .send()
            .await
            // Without the URL or the body: the error's text is all that is kept.
            .map_err(|e| Declined::Processor(e.without_url().to_string()))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| Declined::Processor(e.without_url().to_string()))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|_| {
                Declined::Processor(format!("{path} answered something that is not the API's JSON"))
            });
        }
        let detail = serde_json::from_slice::<ErrorBody>(&bytes).ok().map(|b| b.error);
        let message =
            detail.as_ref().and_then(|d| d.message.clone()).unwrap_or_else(|| format!("HTTP {status}"));
        let card_error =
            detail.and_then(|d| d.kind).as_deref() == Some("card_error") || status.as_u16() == 402;
        Err(if card_error { Declined::Card(message) } else { Declined::Processor(message) })
    }

    /// Tokenises the card, then charges `amount` to it if one is given. `reference` makes the
    /// requests idempotent (a retry does not charge twice).
    pub async fn pay(
        &self,
        card: &Card,
        amount: Option<&Amount>,
        reference: &str,
    ) -> Result<Payment, Declined> {
        let (month, year) = (card.exp_month.to_string(), card.exp_year.to_string());
        let mut pairs = vec![
            ("card[number]", card.number.as_str()),
            ("card[exp_month]", month.as_str()),
            ("card[exp_year]", year.as_str()),
            ("card[cvc]", card.cvc.as_str()),
        ];
        if let Some(zip) = &card.postal_code {
            pairs.push(("card[address_zip]", zip.as_str()));
        }
        let token: Token = self.post("/v1/tokens", form(&pairs), &format!("{reference}-token")).await?;
        let mut payment = Payment {
            token: token.id,
            brand: token.card.brand.to_lowercase(),
            last4: token.card.last4,
            exp_month: token.card.exp_month,
            exp_year: token.card.exp_year,
            charge: None,
        };
        if let Some(amount) = amount {
            let minor = amount.minor.to_string();
            let pairs = [
                ("amount", minor.as_str()),
                ("currency", amount.currency.as_str()),
                ("source", payment.token.as_str()),
                ("description", "Payment taken by phone"),
            ];
            let charge: Charge =
                self.post("/v1/charges", form(&pairs), &format!("{reference}-charge")).await?;
            payment.charge = Some((charge.id, charge.status));
        }
        Ok(payment)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_are_url_encoded() {
        assert_eq!(form(&[("card[number]", "42"), ("d", "a b&c")]), "card%5Bnumber%5D=42&d=a+b%26c");
    }
}
