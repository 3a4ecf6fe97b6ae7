//! Live AI coaching for the agent on a queue call: the live transcript, cards, checklist and
//! alerts, for that agent only (supervisors see the alerts on the queue dashboard; anyone else
//! gets 204, as for a call that is not coached). Long-poll:
//! `?after=<version>` answers as soon as something changed (or after a while, unchanged).

use super::error::ApiResult;
use super::extract::{Id, QueryParams};
use super::{Access, Api, AppState, Principal};
use crate::calls::coach::CoachView;
use crate::model::Role;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use std::time::Duration;

/// How long a long-poll waits for a change.
const WAIT: Duration = Duration::from_secs(25);

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CoachingQuery {
    /// Answer once the coaching's version is past this one (or after 25 s).
    pub after: Option<u64>,
}

async fn get(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
    QueryParams(q): QueryParams<CoachingQuery>,
) -> ApiResult<Response> {
    super::workspace::handled(&st, &p, id).await?;
    // Coaching is the agent's on the call: anyone else finds none (as for a call not coached).
    let session = p.agent_extension.as_deref().and_then(|x| st.live.coaching().session(p.account_id, id, x));
    let Some(session) = session else { return Ok(StatusCode::NO_CONTENT.into_response()) };
    if let Some(after) = q.after {
        let mut changes = session.changes();
        let _ = tokio::time::timeout(WAIT, changes.wait_for(|v| *v > after)).await;
    }
    Ok(Json(session.view()).into_response())
}

pub fn routes(api: &mut Api) {
    let view = api.schema::<CoachView>();
    api.add(
        Method::GET,
        "/api/calls/{id}/coaching",
        Access::AtLeast(Role::Agent),
        "workspace",
        "Live coaching of a queue call, for the agent on it: transcript, cards, checklist, alerts \
         (`after`: wait up to 25 s for a newer version); 204 when there is none of yours (the \
         call is not coached, not yet, or not yours)",
        None,
        view,
        get,
    );
}
