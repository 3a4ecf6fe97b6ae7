//! Which phones are registered right now.

use super::{Access, Api, AppState, Principal};
use crate::model::Role;
use axum::extract::State;
use axum::http::Method;
use axum::{Extension, Json};
use serde::Serialize;

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct RegistrationView {
    pub extension: String,
    pub contact: String,
    /// Where the phone's REGISTER came from (calls are sent here).
    pub source: String,
    pub transport: String,
    pub expires_in_s: u64,
    pub user_agent: Option<String>,
    /// Registered through another node of a cluster (this node rings it through its path).
    pub remote: bool,
    /// The SIP proxies its REGISTER came through (`Path`), nearest first.
    pub path: Vec<String>,
}

async fn list(State(st): State<AppState>, Extension(p): Extension<Principal>) -> Json<Vec<RegistrationView>> {
    let Some(sip) = &st.sip else { return Json(Vec::new()) };
    let mut out: Vec<RegistrationView> = sip
        .registrations()
        .await
        .into_iter()
        .filter(|r| r.account == p.account_id)
        .map(|r| RegistrationView {
            extension: r.extension,
            contact: r.contact,
            source: r.source.to_string(),
            transport: r.transport,
            expires_in_s: r.expires_in_s,
            user_agent: r.user_agent,
            remote: r.remote,
            path: r.path,
        })
        .collect();
    out.sort_by(|a, b| a.extension.cmp(&b.extension).then(a.contact.cmp(&b.contact)));
    Json(out)
}

pub fn routes(api: &mut Api) {
    let many = api.schema::<Vec<RegistrationView>>();
    api.add(
        Method::GET,
        "/api/registrations",
        Access::AtLeast(Role::Supervisor),
        "presence",
        "SIP registrations of the account's phones (extension, contact, source address, expiry)",
        None,
        many,
        list,
    );
}
