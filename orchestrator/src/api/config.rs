//! CRUD for every configuration kind, generated from the kind's type.

use super::error::ApiResult;
use super::extract::{Id, JsonBody};
use super::{Access, Api, AppState, Principal};
use crate::model::{ConfigKind, Role};
use crate::store::config::{self, Stored};
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::{Extension, Json};

fn shown<K: ConfigKind>(mut s: Stored<K>) -> Stored<K> {
    s.spec.redact();
    s
}

async fn list<K: ConfigKind>(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<Vec<Stored<K>>>> {
    let all = config::list::<K>(&st.db, p.account_id).await?;
    Ok(Json(all.into_iter().map(shown).collect()))
}

async fn get<K: ConfigKind>(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
) -> ApiResult<Json<Stored<K>>> {
    Ok(Json(shown(config::get::<K>(&st.db, p.account_id, id).await?)))
}

async fn create<K: ConfigKind>(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    JsonBody(spec): JsonBody<K>,
) -> ApiResult<(StatusCode, Json<Stored<K>>)> {
    let stored = config::create(&st.db, p.account_id, spec).await?;
    st.config_changed.changed().await;
    tracing::info!(kind = K::KIND, key = stored.spec.key(), by = %p.name, "created");
    Ok((StatusCode::CREATED, Json(shown(stored))))
}

async fn update<K: ConfigKind>(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
    JsonBody(spec): JsonBody<K>,
) -> ApiResult<Json<Stored<K>>> {
    let stored = config::update(&st.db, p.account_id, id, spec).await?;
    st.config_changed.changed().await;
    tracing::info!(kind = K::KIND, key = stored.spec.key(), by = %p.name, "updated");
    Ok(Json(shown(stored)))
}

async fn delete<K: ConfigKind>(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    config::delete::<K>(&st.db, p.account_id, id).await?;
    st.config_changed.changed().await;
    tracing::info!(kind = K::KIND, id, by = %p.name, "deleted");
    Ok(StatusCode::NO_CONTENT)
}

fn kind_routes<K: ConfigKind>(api: &mut Api) {
    let collection = format!("/api/{}", K::KIND);
    let item = format!("/api/{}/{{id}}", K::KIND);
    let (spec, stored, many) = (api.schema::<K>(), api.schema::<Stored<K>>(), api.schema::<Vec<Stored<K>>>());
    let (read, write) = (Access::AtLeast(Role::Supervisor), Access::AtLeast(Role::Admin));
    let s = K::SINGULAR;
    api.add(Method::GET, &collection, read, K::KIND, format!("List every {s}"), None, many, list::<K>);
    api.add(
        Method::POST,
        &collection,
        write,
        K::KIND,
        format!("Create a {s}"),
        spec.clone(),
        stored.clone(),
        create::<K>,
    );
    api.add(Method::GET, &item, read, K::KIND, format!("Get a {s}"), None, stored.clone(), get::<K>);
    api.add(
        Method::PUT,
        &item,
        write,
        K::KIND,
        format!("Replace a {s} (write-only secrets left null keep their stored value)"),
        spec,
        stored,
        update::<K>,
    );
    api.add(
        Method::DELETE,
        &item,
        write,
        K::KIND,
        format!("Delete a {s} (409 while anything refers to it)"),
        None,
        None,
        delete::<K>,
    );
}

pub fn routes(api: &mut Api) {
    macro_rules! m {
        ($t:ty) => {
            kind_routes::<$t>(api);
        };
    }
    crate::for_each_config_kind!(m);
}
