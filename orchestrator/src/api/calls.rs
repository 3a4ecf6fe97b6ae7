//! Call history. Agents see only the calls they handled (`store::calls::handled_by`).

use super::error::ApiResult;
use super::extract::{Id, QueryParams};
use super::{Access, Api, AppState, Principal};
use crate::model::Role;
use crate::store::calls::{self, CallDetail, CallListItem, CallQuery};
use crate::store::wrapups::WrapUp;
use axum::extract::State;
use axum::http::Method;
use axum::{Extension, Json};
use serde::Serialize;

async fn list(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    QueryParams(q): QueryParams<CallQuery>,
) -> ApiResult<Json<Vec<CallListItem>>> {
    let scope = p.agent_scope()?;
    Ok(Json(calls::list(&st.db, p.account_id, &q, scope).await?))
}

/// A call with what the people who handled it wrote after it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct CallView {
    #[serde(flatten)]
    pub detail: CallDetail,
    /// Outcomes and notes, one per person who saved some.
    pub wrap_ups: Vec<WrapUp>,
    /// The call's recordings (audio at each one's `audio_url`).
    pub recordings: Vec<crate::store::recordings::Recording>,
}

async fn get(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
) -> ApiResult<Json<CallView>> {
    let scope = p.agent_scope()?;
    let detail = calls::get(&st.db, p.account_id, id, scope).await?;
    let wrap_ups = crate::store::wrapups::of_call(&st.db, id).await?;
    let recordings = crate::store::recordings::of_call(&st.db, id).await?;
    Ok(Json(CallView { detail, wrap_ups, recordings }))
}

pub fn routes(api: &mut Api) {
    let (one, many) = (api.schema::<CallView>(), api.schema::<Vec<CallListItem>>());
    let any = Access::AtLeast(Role::Agent);
    api.add(
        Method::GET,
        "/api/calls",
        any,
        "calls",
        "Call records, newest first, with filters (agents: their own)",
        None,
        many,
        list,
    )
    .query = vec![
        "agent_extension",
        "from",
        "to",
        "direction",
        "number",
        "customer_id",
        "queue",
        "ai_agent",
        "disposition",
        "has_recording",
        "has_voicemail",
        "q",
        "limit",
        "offset",
    ];
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
