//! Call history. Agents see only their own calls.

use super::error::ApiResult;
use super::extract::{Id, QueryParams};
use super::{Access, Api, AppState, Principal};
use crate::model::Role;
use crate::store::calls::{self, CallDetail, CallQuery, CallRecord};
use axum::extract::State;
use axum::http::Method;
use axum::{Extension, Json};

async fn list(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    QueryParams(q): QueryParams<CallQuery>,
) -> ApiResult<Json<Vec<CallRecord>>> {
    let scope = p.agent_scope()?;
    Ok(Json(calls::list(&st.db, p.account_id, &q, scope).await?))
}

async fn get(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
) -> ApiResult<Json<CallDetail>> {
    let scope = p.agent_scope()?;
    Ok(Json(calls::get(&st.db, p.account_id, id, scope).await?))
}

pub fn routes(api: &mut Api) {
    let (one, many) = (api.schema::<CallDetail>(), api.schema::<Vec<CallRecord>>());
    let any = Access::AtLeast(Role::Agent);
    api.add(
        Method::GET,
        "/api/calls",
        any,
        "calls",
        "Call records, newest first (agents: their own)",
        None,
        many,
        list,
    )
    .query = vec!["agent_extension", "limit", "offset"];
    api.add(
        Method::GET,
        "/api/calls/{id}",
        any,
        "calls",
        "A call with its legs and timeline",
        None,
        one,
        get,
    );
}
