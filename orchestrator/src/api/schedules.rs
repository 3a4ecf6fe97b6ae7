//! "What happens now": a schedule as edited (not yet saved) read at an instant, with the
//! routing code's own rules (`Schedule::hours_at`), so the admin page's preview cannot
//! disagree with what a call would do.

use super::error::ApiResult;
use super::extract::JsonBody;
use super::{Access, Api, AppState, Principal};
use crate::model::{Hours, Role, Schedule, Target};
use axum::extract::State;
use axum::http::Method;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    pub schedule: Schedule,
    /// The instant to read it at (unix milliseconds; now when left out).
    #[serde(default)]
    pub at_ms: Option<i64>,
}

/// The schedule at one instant.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Moment {
    pub at_ms: i64,
    /// The local time, e.g. `Fri 04 Dec 14:05 EST`.
    pub local_time: String,
    pub hours: Hours,
    /// Where a call arriving then goes.
    pub target: Target,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Preview {
    pub now: Moment,
    /// When the hours change next (within eight days), or None when they never do.
    pub next_change: Option<Moment>,
}

fn moment(schedule: &Schedule, at: DateTime<Utc>, hours: Hours) -> Moment {
    Moment {
        at_ms: at.timestamp_millis(),
        local_time: schedule.local_time(at).unwrap_or_default(),
        hours,
        target: schedule.target_for(hours).clone(),
    }
}

async fn preview(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    JsonBody(req): JsonBody<PreviewRequest>,
) -> ApiResult<Json<Preview>> {
    // The same checks as saving (a preview of a schedule that cannot be saved would mislead).
    crate::store::config::validate(&st.db, p.account_id, &req.schedule).await?;
    let at = req.at_ms.and_then(DateTime::<Utc>::from_timestamp_millis).unwrap_or_else(crate::clock::now);
    let s = &req.schedule;
    let now = moment(s, at, s.hours_at(at));
    let next_change = s.next_change(at).map(|(when, hours)| moment(s, when, hours));
    Ok(Json(Preview { now, next_change }))
}

pub fn routes(api: &mut Api) {
    let (body, out) = (api.schema::<PreviewRequest>(), api.schema::<Preview>());
    api.add(
        Method::POST,
        "/api/schedules/preview",
        Access::AtLeast(Role::Admin),
        "schedules",
        "What a schedule (as edited, before saving) does at an instant: open, closed or holiday, \
         the local time, where calls go, and when that changes next",
        body,
        out,
        preview,
    );
}
