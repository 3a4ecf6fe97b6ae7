//! The live queue dashboard (supervisors and up): per queue, the callers waiting (with their
//! wait and matched customer), the members and what they are doing, and today's figures; and
//! what a supervisor does from it: answer a chosen caller (their phone rings for that caller
//! next) or send them to an agent, and change an agent's status.

use super::error::ApiResult;
use super::extract::JsonBody;
use super::{Access, Api, AppState, Principal};
use crate::calls::activity::Doing;
use crate::clock::now_ms;
use crate::error::Error;
use crate::model::{Agent, Queue, Role};
use crate::store::queue_stats::{self, QueueDay};
use crate::store::{commerce, config};
use axum::extract::State;
use axum::http::Method;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A caller waiting in a queue.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct WaitingCaller {
    /// Pick them by this id.
    pub id: u64,
    pub position: usize,
    pub caller: Option<String>,
    /// The customer their number matches.
    pub customer: Option<String>,
    pub customer_id: Option<i64>,
    /// When they joined (unix ms) and how long they have waited.
    pub since: i64,
    pub waited_ms: i64,
    /// The node of a cluster they wait on, when it is another node: a pick rings a phone from
    /// there (a desk phone registered through the SIP entry; not a browser connected here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<i64>,
}

/// A member of a queue and what they are doing.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Member {
    pub extension: String,
    pub name: String,
    /// The status they chose: `available`, `away`, `on_break` or `offline`.
    pub status: String,
    /// `on_call` or `wrap_up` when their calls make them busy.
    pub activity: Option<String>,
    /// Since when they do it (unix ms).
    pub since: Option<i64>,
    /// Who they are talking with, on a call.
    pub with: Option<String>,
    /// The call's record, when on one (for listening in).
    pub call_id: Option<i64>,
    /// The node of a cluster they are on a call through, when it is another node (their call
    /// cannot be listened in on from here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<i64>,
    /// Why a queue set them unavailable (calls rang unanswered), until they choose a status.
    pub note: Option<String>,
    /// What the live coach noticed on their call (caller asks for a manager, cancelling,
    /// chargeback, upset).
    pub alerts: Vec<crate::calls::coach::CoachAlert>,
}

/// One queue, live.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct QueueLive {
    pub name: String,
    pub description: String,
    pub strategy: String,
    pub service_level_seconds: u32,
    pub waiting: Vec<WaitingCaller>,
    pub longest_wait_ms: i64,
    /// The queue's recent hold time (what waiting callers are told), once anyone was answered.
    pub hold_time_ms: Option<u64>,
    pub members: Vec<Member>,
    /// Since midnight UTC.
    pub today: QueueDay,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PickRequest {
    /// The waiting caller's id.
    pub caller: u64,
    /// Who answers: an agent's extension (the supervisor's own phone when left out).
    pub extension: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentStatusRequest {
    pub status: super::account::PresenceStatus,
}

fn midnight(now: i64) -> i64 {
    now - now.rem_euclid(86_400_000)
}

async fn live(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<Vec<QueueLive>>> {
    let account = p.account_id;
    let now = now_ms();
    let queues: Vec<Queue> =
        config::list::<Queue>(&st.db, account).await?.into_iter().map(|s| s.spec).collect();
    let agents: Vec<Agent> =
        config::list::<Agent>(&st.db, account).await?.into_iter().map(|s| s.spec).collect();
    let chosen: HashMap<String, String> =
        crate::store::presence::list(&st.db, account).await?.into_iter().map(|(x, s, _)| (x, s)).collect();
    let thresholds = queues.iter().map(|q| (q.name.clone(), q.service_level_seconds)).collect();
    let mut today = queue_stats::since(&st.db, account, midnight(now), &thresholds).await?;
    let mut waiting = crate::calls::waiting::waiting(account);
    let mut out = Vec::new();
    let alerts = st.live.coaching().alerts(account);
    for q in queues {
        let mut callers = Vec::new();
        for w in waiting.remove(&q.name).unwrap_or_default() {
            let customer = match &w.caller {
                Some(n) => {
                    let query = commerce::CustomerQuery {
                        phone: Some(n.clone()),
                        limit: Some(1),
                        ..Default::default()
                    };
                    commerce::list_customers(&st.db, account, &query).await?.into_iter().next()
                }
                None => None,
            };
            let node = if w.remote { crate::calls::waiting::remote_node(account, w.id) } else { None };
            callers.push(WaitingCaller {
                node,
                id: w.id,
                position: w.position,
                caller: w.caller,
                customer_id: customer.as_ref().map(|c| c.id),
                customer: customer.map(|c| c.name),
                since: w.since,
                waited_ms: now - w.since,
            });
        }
        let mut members = Vec::new();
        for a in agents.iter().filter(|a| a.queues.iter().any(|m| m.queue == q.name)) {
            let doing = st.live.agents().doing(account, &a.extension);
            let (activity, since, line) = match &doing {
                Some(Doing::OnCall { calls, since, .. }) => {
                    (Some("on_call"), Some(*since), calls.first().cloned())
                }
                Some(Doing::WrapUp { since, last, .. }) => {
                    (Some("wrap_up"), Some(*since), Some(last.clone()))
                }
                None => (None, None, None),
            };
            let elsewhere =
                if doing.is_none() { st.live.agents().elsewhere(account, &a.extension) } else { None };
            let activity = activity.or(match elsewhere.as_ref().map(|b| b.activity.as_str()) {
                Some("wrap_up") => Some("wrap_up"),
                Some(_) => Some("on_call"),
                None => None,
            });
            // (0: a row from a node older than the column: since when is not known.)
            let since = since.or(elsewhere.as_ref().map(|b| b.since).filter(|s| *s > 0));
            let call_id = match (&line, &st.records, activity) {
                (Some(l), Some(records), Some("on_call")) => match l.record {
                    Some(key) => records.id_of(key).await,
                    None => None,
                },
                _ => None,
            };
            members.push(Member {
                extension: a.extension.clone(),
                name: a.display_name.clone(),
                status: chosen.get(&a.extension).cloned().unwrap_or_else(|| "available".into()),
                activity: activity.map(str::to_string),
                since,
                with: line.and_then(|l| l.peer).or(elsewhere.as_ref().and_then(|b| b.peer.clone())),
                call_id,
                node: elsewhere.map(|b| b.node),
                note: crate::calls::waiting::set_away_because(account, &a.extension),
                alerts: if activity == Some("on_call") {
                    alerts.get(&a.extension).cloned().unwrap_or_default()
                } else {
                    Vec::new()
                },
            });
        }
        let strategy = serde_json::to_value(q.strategy).ok().and_then(|v| v.as_str().map(str::to_string));
        out.push(QueueLive {
            longest_wait_ms: callers.iter().map(|c| c.waited_ms).max().unwrap_or(0),
            hold_time_ms: crate::calls::waiting::holdtime(account, &q.name),
            today: today.remove(&q.name).unwrap_or_default(),
            waiting: callers,
            members,
            strategy: strategy.unwrap_or_default(),
            service_level_seconds: q.service_level_seconds,
            description: q.description,
            name: q.name,
        });
    }
    Ok(Json(out))
}

/// Rings the supervisor's phone (or an agent's) for a chosen waiting caller.
async fn pick(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    JsonBody(req): JsonBody<PickRequest>,
) -> ApiResult<Json<serde_json::Value>> {
    let extension = match req.extension {
        Some(x) => {
            if config::get_by_key::<Agent>(&st.db, p.account_id, &x).await?.is_none() {
                return Err(Error::invalid("extension", "no agent has this extension").into());
            }
            x
        }
        None => p.phone_line()?,
    };
    // A caller waiting on another node of a cluster: that node rings the extension for them.
    if let Some(node) = crate::calls::waiting::remote_node(p.account_id, req.caller) {
        let f = crate::store::shared_live::Forwarded {
            account: p.account_id,
            engagement: req.caller,
            kind: "pick".into(),
            by: p.name.clone(),
            body: extension.clone(),
        };
        crate::store::shared_live::forward(&st.db, node, &f).await?;
        tracing::info!(account = p.account_id, caller = req.caller, %extension, node, by = %p.name, "waiting caller on another node picked");
        return Ok(Json(serde_json::json!({ "ringing": extension, "forwarded_to_node": node })));
    }
    if !crate::calls::waiting::pick(p.account_id, req.caller, &extension) {
        return Err(Error::Conflict("the caller is no longer waiting".into()).into());
    }
    tracing::info!(account = p.account_id, caller = req.caller, %extension, by = %p.name, "waiting caller picked");
    Ok(Json(serde_json::json!({ "ringing": extension })))
}

/// A supervisor sets an agent's status (as the agent would).
async fn set_agent_status(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    axum::extract::Path(extension): axum::extract::Path<String>,
    JsonBody(req): JsonBody<AgentStatusRequest>,
) -> ApiResult<Json<serde_json::Value>> {
    if config::get_by_key::<Agent>(&st.db, p.account_id, &extension).await?.is_none() {
        return Err(Error::NotFound.into());
    }
    super::account::set_status(&st, p.account_id, &extension, req.status).await?;
    let status = serde_json::to_value(req.status).map_err(|e| Error::Internal(e.to_string()))?;
    tracing::info!(account = p.account_id, %extension, status = ?req.status, by = %p.name, "agent status set by a supervisor");
    Ok(Json(serde_json::json!({ "extension": extension, "status": status, "by": p.name })))
}

pub fn routes(api: &mut Api) {
    let many = api.schema::<Vec<QueueLive>>();
    let (pick_body, status_body) = (api.schema::<PickRequest>(), api.schema::<AgentStatusRequest>());
    let sup = Access::AtLeast(Role::Supervisor);
    api.add(
        Method::GET,
        "/api/queues-live",
        sup,
        "queues",
        "Every queue now: callers waiting, members and what they do, today's figures",
        None,
        many,
        live,
    );
    api.add(
        Method::POST,
        "/api/queues-live/pick",
        sup,
        "queues",
        "Answer a chosen waiting caller (your phone rings for them next) or send them to an agent",
        pick_body,
        None,
        pick,
    );
    api.add(
        Method::PUT,
        "/api/presence/{extension}",
        sup,
        "queues",
        "Set an agent's status (queues offer calls only to available agents)",
        status_body,
        None,
        set_agent_status,
    );
}
