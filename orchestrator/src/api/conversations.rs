//! The customer's whole conversation: other channels (web chat, SMS, e-mail, social) posted by
//! the merchant's help desk or shop platform, and the customer's timeline (calls and
//! conversations, newest first).
//!
//! Two ways in, one payload (`ConversationPost`), idempotent by the source's message id:
//! - `POST /api/conversations` with an API token (admins);
//! - `POST /api/hooks/conversations/{account}`, public, signed with the account's secret:
//!   `X-Switchboard-Timestamp: <unix seconds>` and
//!   `X-Switchboard-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`, within
//!   five minutes of our clock. Anything unsigned, badly signed, stale or for an unknown
//!   account is a 401 that says no more.

use super::error::{ApiError, ApiResult};
use super::extract::{parse_json, Id, JsonBody};
use super::{Access, Api, AppState, Principal};
use crate::error::Error;
use crate::model::Role;
use crate::store::conversations::{self, Conversation, NewConversation, Participant, TimelineEntry};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

/// A conversation on another channel, as the merchant's system posts it.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConversationPost {
    /// The source system's id for this message or conversation (posting the same id again
    /// changes nothing).
    pub message_id: String,
    /// `chat`, `sms`, `email`, `social` or `other`.
    pub channel: String,
    /// `inbound` (from the customer) or `outbound` (to them).
    pub direction: String,
    /// When it happened: RFC 3339 (`2026-12-04T14:05:00Z`) or milliseconds since the Unix epoch.
    pub time: serde_json::Value,
    /// Who took part; their phone numbers or e-mail addresses find the customer.
    #[serde(default)]
    pub participants: Vec<Participant>,
    #[serde(default)]
    pub subject: Option<String>,
    pub text: String,
    /// Back to the conversation in the source system (http or https).
    #[serde(default)]
    pub link: Option<String>,
    /// The customer, when the source knows our id for them.
    #[serde(default)]
    pub customer_id: Option<i64>,
}

const CHANNELS: [&str; 5] = ["chat", "sms", "email", "social", "other"];

impl ConversationPost {
    fn checked(self) -> Result<NewConversation, Error> {
        let mut problems = crate::model::validate::Problems::new();
        let id = self.message_id.trim().to_string();
        if id.is_empty() || id.chars().count() > 200 {
            problems.push("message_id", "must be 1 to 200 characters");
        }
        if !CHANNELS.contains(&self.channel.as_str()) {
            problems.push("channel", format!("must be one of {}", CHANNELS.join(", ")));
        }
        if !["inbound", "outbound"].contains(&self.direction.as_str()) {
            problems.push("direction", "must be inbound or outbound");
        }
        let at = match &self.time {
            serde_json::Value::Number(n) => n.as_i64().filter(|ms| *ms > 0),
            serde_json::Value::String(s) => {
                chrono::DateTime::parse_from_rfc3339(s).ok().map(|t| t.timestamp_millis())
            }
            _ => None,
        };
        if at.is_none() {
            problems.push("time", "must be an RFC 3339 time or milliseconds since the Unix epoch");
        }
        if self.text.chars().count() > 100_000 {
            problems.push("text", "must be at most 100000 characters");
        }
        if self.subject.as_ref().is_some_and(|s| s.chars().count() > 500) {
            problems.push("subject", "must be at most 500 characters");
        }
        if self.participants.len() > 50 {
            problems.push("participants", "at most 50");
        }
        let link_ok = |l: &str| (l.starts_with("https://") || l.starts_with("http://")) && l.len() <= 2000;
        if self.link.as_deref().is_some_and(|l| !link_ok(l)) {
            problems.push("link", "must be an http or https address");
        }
        if !problems.is_empty() {
            return Err(Error::Invalid(problems.into_vec()));
        }
        Ok(NewConversation {
            source_id: id,
            channel: self.channel,
            direction: self.direction,
            at: at.unwrap_or_default(),
            participants: self.participants,
            subject: self.subject,
            text: self.text,
            link: self.link,
            customer_id: self.customer_id,
        })
    }
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Posted {
    #[serde(flatten)]
    pub conversation: Conversation,
    /// True when this message id had been posted before (nothing changed).
    pub duplicate: bool,
}

async fn keep(st: &AppState, account: i64, post: ConversationPost) -> ApiResult<(StatusCode, Json<Posted>)> {
    let (conversation, new) = conversations::post(&st.db, account, &post.checked()?).await?;
    let status = if new { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(Posted { conversation, duplicate: !new })))
}

async fn post(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    JsonBody(body): JsonBody<ConversationPost>,
) -> ApiResult<(StatusCode, Json<Posted>)> {
    keep(&st, p.account_id, body).await
}

/// How far a signed post's timestamp may be from our clock (replays of older ones fail).
const TOLERANCE_S: i64 = 300;

/// Whether `signature` (`v1=<hex>`, several comma-separated allowed while rotating) signs
/// `<timestamp>.<body>` with `secret`.
pub fn signature_ok(secret: &str, timestamp: &str, body: &[u8], signature: &str) -> bool {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    signature
        .split(',')
        .filter_map(|s| s.trim().strip_prefix("v1="))
        .any(|hex_sig| hex::decode(hex_sig).is_ok_and(|sig| ring::hmac::verify(&key, &signed, &sig).is_ok()))
}

async fn hook(
    State(st): State<AppState>,
    axum::extract::Path(account): axum::extract::Path<String>,
    headers: HeaderMap,
    body: bytes::Bytes,
) -> ApiResult<(StatusCode, Json<Posted>)> {
    let refused = || ApiError::new(StatusCode::UNAUTHORIZED, "missing, stale or bad signature");
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let (Some(timestamp), Some(signature)) =
        (header("x-switchboard-timestamp"), header("x-switchboard-signature"))
    else {
        return Err(refused());
    };
    let fresh =
        timestamp.parse::<i64>().is_ok_and(|t| (crate::clock::now_ms() / 1000 - t).abs() <= TOLERANCE_S);
    if !fresh {
        return Err(refused());
    }
    let Some(account) = crate::store::accounts::by_slug(&st.db, &account).await? else {
        return Err(refused());
    };
    let secret = conversations::webhook_secret(&st.db, account.id).await?;
    if !signature_ok(&secret, &timestamp, &body, &signature) {
        return Err(refused());
    }
    keep(&st, account.id, parse_json::<ConversationPost>(&body)?).await
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimelineQuery {
    pub limit: Option<i64>,
}

/// A customer and everything they said to the merchant, newest first.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct CustomerTimeline {
    pub customer: crate::store::commerce::Customer,
    pub entries: Vec<TimelineEntry>,
}

async fn timeline(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
    super::extract::QueryParams(q): super::extract::QueryParams<TimelineQuery>,
) -> ApiResult<Json<CustomerTimeline>> {
    let customer = crate::store::commerce::get_customer(&st.db, p.account_id, id).await?;
    // Agents see the customers of calls they handled (or are on now); supervisors and up, all.
    if let Some(extension) = p.agent_scope()? {
        let query = crate::store::call_history::CallQuery {
            customer_id: Some(id),
            limit: Some(1),
            ..Default::default()
        };
        let handled = !crate::store::call_history::list(&st.db, p.account_id, &query, Some(extension))
            .await?
            .is_empty();
        let on_now = super::workspace::my_customer_ids(&st, &p).await.contains(&id);
        if !handled && !on_now {
            return Err(Error::NotFound.into());
        }
    }
    let entries = conversations::timeline(&st.db, p.account_id, id, q.limit.unwrap_or(200)).await?;
    Ok(Json(CustomerTimeline { customer, entries }))
}

/// Where the account's systems post conversations, and the secret they sign with.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct WebhookSettings {
    /// The path to post to (on this server's address).
    pub path: String,
    pub secret: String,
}

async fn webhook_settings(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<WebhookSettings>> {
    let account = crate::store::accounts::get(&st.db, p.account_id).await?;
    let secret = conversations::webhook_secret(&st.db, p.account_id).await?;
    Ok(Json(WebhookSettings { path: format!("/api/hooks/conversations/{}", account.slug), secret }))
}

async fn rotate(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<WebhookSettings>> {
    let account = crate::store::accounts::get(&st.db, p.account_id).await?;
    let secret = conversations::rotate_webhook_secret(&st.db, p.account_id).await?;
    Ok(Json(WebhookSettings { path: format!("/api/hooks/conversations/{}", account.slug), secret }))
}

pub fn routes(api: &mut Api) {
    let (body, posted) = (api.schema::<ConversationPost>(), api.schema::<Posted>());
    let (line, settings) = (api.schema::<CustomerTimeline>(), api.schema::<WebhookSettings>());
    api.add(
        Method::POST,
        "/api/conversations",
        Access::AtLeast(Role::Admin),
        "customers",
        "Posts a conversation from another channel (chat, SMS, e-mail, social); idempotent by \
         message_id; matched to a customer by customer_id or a participant's phone or e-mail",
        body.clone(),
        posted.clone(),
        post,
    );
    api.add(
        Method::POST,
        "/api/hooks/conversations/{account}",
        Access::Public,
        "customers",
        "The same, signed with the account's webhook secret: X-Switchboard-Timestamp (unix \
         seconds) and X-Switchboard-Signature: v1=hex(HMAC-SHA256(secret, timestamp + '.' + \
         body)), within five minutes",
        body,
        posted,
        hook,
    );
    api.add(
        Method::GET,
        "/api/customers/{id}/timeline",
        Access::AtLeast(Role::Agent),
        "customers",
        "A customer with their calls and conversations, newest first (agents: customers of calls \
         they handled)",
        None,
        line,
        timeline,
    );
    api.add(
        Method::GET,
        "/api/account/conversation-webhook",
        Access::AtLeast(Role::Admin),
        "account",
        "Where the account's systems post conversations, and the secret they sign with",
        None,
        settings.clone(),
        webhook_settings,
    );
    api.add(
        Method::POST,
        "/api/account/conversation-webhook/rotate",
        Access::AtLeast(Role::Admin),
        "account",
        "A new webhook secret (the old one stops working at once)",
        None,
        settings,
        rotate,
    );
}
