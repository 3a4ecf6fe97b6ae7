//! Who is calling: a session cookie (web UI) or a bearer API token (automation).

use super::error::{ApiError, ApiResult};
use super::extract::JsonBody;
use super::{Access, Api, AppState};
use crate::error::Error;
use crate::model::Role;
use crate::store::users::{self, User};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};

pub const SESSION_COOKIE: &str = "sb_session";

/// The authenticated caller of a request.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Principal {
    pub account_id: i64,
    pub role: Role,
    /// Set for a logged-in user.
    pub user_id: Option<i64>,
    /// Set for an API token.
    pub token_id: Option<i64>,
    pub name: String,
    /// The agent extension a user works as.
    pub agent_extension: Option<String>,
}

impl Principal {
    fn from_user(u: &User) -> Self {
        Principal {
            account_id: u.account_id,
            role: u.role,
            user_id: Some(u.id),
            token_id: None,
            name: u.name.clone(),
            agent_extension: u.agent_extension.clone(),
        }
    }

    /// The agent extension this user works as (their status, softphone and calls); refused for
    /// users linked to none.
    pub fn own_extension(&self) -> Result<String, Error> {
        self.agent_extension
            .clone()
            .ok_or_else(|| Error::Forbidden("this user is not linked to an agent extension".into()))
    }

    /// Where this user's browser phone registers and rings: their agent extension, or for a
    /// supervisor (and up) without one, a personal line (for listen-ins and takeovers).
    pub fn phone_line(&self) -> Result<String, Error> {
        match (&self.agent_extension, self.user_id) {
            (Some(x), _) => Ok(x.clone()),
            (None, Some(user)) if self.role >= Role::Supervisor => {
                Ok(crate::store::softphone::personal_line(user))
            }
            _ => Err(Error::Forbidden("this user is not linked to an agent extension".into())),
        }
    }

    /// For the agent role: the only agent whose data may be seen. Higher roles see all.
    pub fn agent_scope(&self) -> Result<Option<&str>, Error> {
        if self.role > Role::Agent {
            return Ok(None);
        }
        match &self.agent_extension {
            Some(x) => Ok(Some(x.as_str())),
            None => Err(Error::Forbidden("this user is not linked to an agent extension".into())),
        }
    }
}

/// The session token in the `Cookie` headers (also the `cookie_header` fuzz entry point's
/// subject): the first non-empty `sb_session` value; anything unreadable is no token.
pub(crate) fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers.get_all(header::COOKIE).iter().find_map(|v| {
        v.to_str().ok()?.split(';').find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == SESSION_COOKIE && !v.is_empty()).then(|| v.to_string())
        })
    })
}

/// The token of an `Authorization: Bearer <token>` header (the scheme in any case); `None`
/// for another scheme, no token, or a value that is not visible ASCII.
pub(crate) fn bearer_token(value: &HeaderValue) -> Option<&str> {
    let (scheme, token) = value.to_str().ok()?.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Principal, Error> {
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        let token = bearer_token(auth).ok_or(Error::Unauthenticated)?;
        let (id, account_id, role, name) =
            users::token_principal(&state.db, token).await?.ok_or(Error::Unauthenticated)?;
        return Ok(Principal {
            account_id,
            role,
            user_id: None,
            token_id: Some(id),
            name,
            agent_extension: None,
        });
    }
    let token = cookie_token(headers).ok_or(Error::Unauthenticated)?;
    let user = users::session_user(&state.db, &token).await?.ok_or(Error::Unauthenticated)?;
    Ok(Principal::from_user(&user))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

async fn login(State(state): State<AppState>, JsonBody(req): JsonBody<LoginRequest>) -> ApiResult<Response> {
    let now = crate::clock::now_ms();
    if let Some(wait) = super::throttle::retry_after(&state.db, &req.email, now).await? {
        let mut resp = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("too many failed logins; try again in {wait} s"),
        )
        .into_response();
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait));
        return Ok(resp);
    }
    let Some(user) = users::check_login(&state.db, &req.email, &req.password).await? else {
        tracing::info!(email = %req.email, "failed login");
        state.metrics.login_failures.inc();
        super::throttle::failed(&state.db, &req.email, now).await?;
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "wrong e-mail or password"));
    };
    super::throttle::succeeded(&state.db, &req.email).await?;
    let token = users::create_session(&state.db, user.id).await?;
    let cookie = format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        users::SESSION_TTL_MS / 1000,
        if state.secure_cookies { "; Secure" } else { "" }
    );
    let mut resp = Json(user).into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(|e| Error::Internal(e.to_string()))?,
    );
    Ok(resp)
}

async fn logout(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    if let Some(token) = cookie_token(&headers) {
        users::end_session(&state.db, &token).await?;
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("sb_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    Ok(resp)
}

async fn me(Extension(p): Extension<Principal>) -> Json<Principal> {
    Json(p)
}

pub fn routes(api: &mut Api) {
    let (req, user, principal) =
        (api.schema::<LoginRequest>(), api.schema::<User>(), api.schema::<Principal>());
    api.add(
        Method::POST,
        "/api/auth/login",
        Access::Public,
        "auth",
        "Log in with e-mail and password; sets the session cookie",
        req,
        user,
        login,
    );
    api.add(Method::POST, "/api/auth/logout", Access::Public, "auth", "End the session", None, None, logout);
    api.add(
        Method::GET,
        "/api/me",
        Access::AtLeast(Role::Agent),
        "auth",
        "Who am I: account, role and linked agent",
        None,
        principal,
        me,
    );
}
