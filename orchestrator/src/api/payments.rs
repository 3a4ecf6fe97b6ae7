//! Card payments by keypad on a live call (the agents on it, and supervisors and up): start
//! one, follow its progress, ask the customer for a step again, cancel; and the payments taken
//! (tokens, brands, last fours, never a card number), for order entry.

use super::error::ApiResult;
use super::extract::{Id, JsonBody, QueryParams};
use super::{Access, Api, AppState, Principal};
use crate::calls::payment::capture::Step;
use crate::calls::payment::{PaymentRequest, PaymentView};
use crate::error::Error;
use crate::model::Role;
use crate::store::calls::RecordKey;
use crate::store::payments::{self, PaymentQuery, PaymentToken};
use axum::extract::State;
use axum::http::Method;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

/// A call's payment now (if one was started on it while live here) and the payments taken on it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct CallPayments {
    pub live: Option<PaymentView>,
    pub taken: Vec<PaymentToken>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestartRequest {
    pub step: Step,
}

/// The live call `id`, which the principal may act on: an agent must be on it now.
async fn live_call(st: &AppState, p: &Principal, id: i64) -> Result<RecordKey, Error> {
    super::workspace::handled(st, p, id).await?;
    if p.agent_scope()?.is_some() && !super::workspace::my_call_ids(st, p).await.contains(&id) {
        return Err(Error::Conflict("you are not on this call".into()));
    }
    super::recordings::live_key(st, p.account_id, id)
        .await
        .ok_or_else(|| Error::Conflict("the call has ended".into()))
}

async fn get(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
) -> ApiResult<Json<CallPayments>> {
    super::workspace::handled(&st, &p, id).await?;
    let live = match super::recordings::live_key(&st, p.account_id, id).await {
        Some(key) => st.live.payments().state(key),
        None => None,
    };
    let query = PaymentQuery { call_id: Some(id), ..Default::default() };
    Ok(Json(CallPayments { live, taken: payments::list(&st.db, p.account_id, &query).await? }))
}

async fn start(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
    JsonBody(req): JsonBody<PaymentRequest>,
) -> ApiResult<Json<PaymentView>> {
    let key = live_call(&st, &p, id).await?;
    Ok(Json(st.live.payments().start(key, req, &p.name).await.map_err(Error::Conflict)?))
}

async fn restart(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
    JsonBody(req): JsonBody<RestartRequest>,
) -> ApiResult<Json<PaymentView>> {
    let key = live_call(&st, &p, id).await?;
    Ok(Json(st.live.payments().restart(key, req.step).await.map_err(Error::Conflict)?))
}

async fn cancel(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
) -> ApiResult<Json<PaymentView>> {
    let key = live_call(&st, &p, id).await?;
    Ok(Json(st.live.payments().cancel(key, &p.name).map_err(Error::Conflict)?))
}

async fn list(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    QueryParams(q): QueryParams<PaymentQuery>,
) -> ApiResult<Json<Vec<PaymentToken>>> {
    Ok(Json(payments::list(&st.db, p.account_id, &q).await?))
}

pub fn routes(api: &mut Api) {
    let (call, request, view) =
        (api.schema::<CallPayments>(), api.schema::<PaymentRequest>(), api.schema::<PaymentView>());
    let (restart_body, many) = (api.schema::<RestartRequest>(), api.schema::<Vec<PaymentToken>>());
    let any = Access::AtLeast(Role::Agent);
    let path = "/api/calls/{id}/payment";
    api.add(
        Method::GET,
        path,
        any,
        "payments",
        "The payment being taken on a live call (progress only) and the payments taken on it",
        None,
        call,
        get,
    );
    api.add(
        Method::POST,
        path,
        any,
        "payments",
        "Take a card payment by keypad: the customer keys the card, masked from everyone; \
         no amount only tokenises (agents: calls they are on)",
        request,
        view.clone(),
        start,
    );
    api.add(
        Method::POST,
        "/api/calls/{id}/payment/restart",
        any,
        "payments",
        "Ask the customer for a step of the payment again",
        restart_body,
        view.clone(),
        restart,
    );
    api.add(Method::DELETE, path, any, "payments", "Cancel the payment being taken", None, view, cancel);
    api.add(
        Method::GET,
        "/api/payments",
        Access::AtLeast(Role::Supervisor),
        "payments",
        "Payments taken on calls (tokens, brands, last four digits), newest first, for order entry",
        None,
        many,
        list,
    )
    .query = vec!["customer_id", "call_id", "limit"];
}
