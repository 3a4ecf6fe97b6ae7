//! The nodes of a cluster (`serve --node-id`) as an account's supervisors and admins see them:
//! which are up or draining, and the account's calls on each. Empty on a single node.

use super::{Access, Api, AppState, Principal};
use crate::model::Role;
use crate::store::cluster::{self, Node};
use axum::extract::State;
use axum::http::Method;
use axum::{Extension, Json};

async fn list(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
) -> Result<Json<Vec<Node>>, super::error::ApiError> {
    Ok(Json(cluster::list(&st.db, p.account_id).await?))
}

pub fn routes(api: &mut Api) {
    let many = api.schema::<Vec<Node>>();
    api.add(
        Method::GET,
        "/api/cluster/nodes",
        Access::AtLeast(Role::Supervisor),
        "system",
        "The nodes of the cluster sharing this database: lease, draining, the account's calls up on each",
        None,
        many,
        list,
    );
}
