//! Users and API tokens (the owner's business).

use super::error::ApiResult;
use super::extract::{Id, JsonBody};
use super::{Access, Api, AppState, Principal};
use crate::error::Error;
use crate::model::Role;
use crate::store::users::{self, ApiToken, NewToken, TokenInput, User, UserInput};
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::{Extension, Json};

async fn list_users(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<Vec<User>>> {
    Ok(Json(users::list(&st.db, p.account_id).await?))
}

async fn get_user(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
) -> ApiResult<Json<User>> {
    Ok(Json(users::get(&st.db, p.account_id, id).await?))
}

async fn create_user(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    JsonBody(input): JsonBody<UserInput>,
) -> ApiResult<(StatusCode, Json<User>)> {
    let user = users::create(&st.db, p.account_id, &input).await?;
    tracing::info!(email = %user.email, role = user.role.as_str(), by = %p.name, "user created");
    Ok((StatusCode::CREATED, Json(user)))
}

/// Refuses changes that would leave the account without an enabled owner.
async fn keep_an_owner(
    st: &AppState,
    account_id: i64,
    changing: i64,
    still_owner: bool,
) -> Result<(), Error> {
    if still_owner {
        return Ok(());
    }
    let owners = users::list(&st.db, account_id)
        .await?
        .into_iter()
        .filter(|u| u.role == Role::Owner && !u.disabled && u.id != changing)
        .count();
    if owners == 0 {
        return Err(Error::Conflict("the account must keep at least one enabled owner".into()));
    }
    Ok(())
}

async fn update_user(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
    JsonBody(input): JsonBody<UserInput>,
) -> ApiResult<Json<User>> {
    keep_an_owner(&st, p.account_id, id, input.role == Role::Owner && !input.disabled).await?;
    let user = users::update(&st.db, p.account_id, id, &input).await?;
    // A user disabled or moved to another extension: their browser phone's credentials are
    // refused from its next REGISTER on, not only after the SIP directory's next refresh (a
    // registration already made lasts until it expires or is refreshed).
    st.config_changed.changed().await;
    Ok(Json(user))
}

async fn delete_user(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    users::get(&st.db, p.account_id, id).await?;
    keep_an_owner(&st, p.account_id, id, false).await?;
    users::delete(&st.db, p.account_id, id).await?;
    st.config_changed.changed().await;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_tokens(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<Vec<ApiToken>>> {
    Ok(Json(users::list_tokens(&st.db, p.account_id).await?))
}

async fn create_token(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    JsonBody(input): JsonBody<TokenInput>,
) -> ApiResult<(StatusCode, Json<NewToken>)> {
    if input.role > p.role {
        return Err(Error::Forbidden("a token cannot have a higher role than its creator".into()).into());
    }
    let token = users::create_token(&st.db, p.account_id, &input, p.user_id).await?;
    tracing::info!(name = %input.name, role = input.role.as_str(), by = %p.name, "API token created");
    Ok((StatusCode::CREATED, Json(token)))
}

async fn revoke_token(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    users::revoke_token(&st.db, p.account_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn routes(api: &mut Api) {
    let owner = Access::AtLeast(Role::Owner);
    let (input, user, many) = (api.schema::<UserInput>(), api.schema::<User>(), api.schema::<Vec<User>>());
    api.add(Method::GET, "/api/users", owner, "users", "List users", None, many, list_users);
    api.add(
        Method::POST,
        "/api/users",
        owner,
        "users",
        "Create a user",
        input.clone(),
        user.clone(),
        create_user,
    );
    api.add(Method::GET, "/api/users/{id}", owner, "users", "Get a user", None, user.clone(), get_user);
    api.add(
        Method::PUT,
        "/api/users/{id}",
        owner,
        "users",
        "Replace a user (leave password out to keep it; a new password ends their sessions)",
        input,
        user,
        update_user,
    );
    api.add(Method::DELETE, "/api/users/{id}", owner, "users", "Delete a user", None, None, delete_user);
    let (input, new, many) =
        (api.schema::<TokenInput>(), api.schema::<NewToken>(), api.schema::<Vec<ApiToken>>());
    api.add(Method::GET, "/api/tokens", owner, "tokens", "List live API tokens", None, many, list_tokens);
    api.add(
        Method::POST,
        "/api/tokens",
        owner,
        "tokens",
        "Create an API token (the secret is returned once; send it as `Authorization: Bearer …`)",
        input,
        new,
        create_token,
    );
    api.add(
        Method::DELETE,
        "/api/tokens/{id}",
        owner,
        "tokens",
        "Revoke an API token",
        None,
        None,
        revoke_token,
    );
}
