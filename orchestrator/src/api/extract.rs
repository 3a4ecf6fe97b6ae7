//! Extractors whose rejections are our JSON errors with field paths.

use super::error::ApiError;
use crate::model::{from_json, Problem};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{request::Parts, StatusCode};
use bytes::Bytes;
use serde::de::DeserializeOwned;

/// A JSON body; type mismatches name the field (422), malformed JSON is a 400.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes =
            Bytes::from_request(req, state).await.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// What [`JsonBody`] does with the bytes of a body (also the `json_body` fuzz entry point):
/// not JSON (including invalid UTF-8 and nesting deeper than serde_json's 128 levels) is a
/// 400; a NUL character in any string or key is a 422 naming it (PostgreSQL cannot store one
/// in a text column, so it would otherwise fail as a 500 at the database); a field that does
/// not fit its type is a 422 naming the field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let Ok(document) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "request body must be a JSON document"));
    };
    if let Some(path) = nul_in(&document, String::new()) {
        let problem = Problem { path, message: "must not contain NUL characters".into() };
        return Err(crate::error::Error::Invalid(vec![problem]).into());
    }
    from_json(bytes).map_err(|p| crate::error::Error::Invalid(vec![p]).into())
}

/// The path of the first string or key that contains U+0000, in `from_json`'s notation.
fn nul_in(value: &serde_json::Value, path: String) -> Option<String> {
    use serde_json::Value;
    let join = |key: &str| if path.is_empty() { key.to_string() } else { format!("{path}.{key}") };
    match value {
        Value::String(s) if s.contains('\0') => Some(path),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| nul_in(v, format!("{path}[{i}]"))),
        Value::Object(fields) => fields.iter().find_map(|(k, v)| {
            if k.contains('\0') {
                Some(join(&k.replace('\0', "\\0")))
            } else {
                nul_in(v, join(k))
            }
        }),
        _ => None,
    }
}

/// Query parameters; a bad one is a 400 naming it.
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parse_query(parts.uri.query().unwrap_or("")).map(QueryParams)
    }
}

/// What [`QueryParams`] does with a query string (also the `query` fuzz entry point): a
/// parameter that does not fit, or holds a NUL character (`%00`), is a 400 naming it.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let bad = |problem: Problem| {
        let mut err = ApiError::new(StatusCode::BAD_REQUEST, problem.to_string());
        err.body.problems.push(problem);
        err
    };
    let pairs = form_urlencoded::parse(query.as_bytes());
    if let Some((name, _)) = pairs.clone().find(|(k, v)| k.contains('\0') || v.contains('\0')) {
        let path = name.replace('\0', "\\0");
        return Err(bad(Problem { path, message: "must not contain NUL characters".into() }));
    }
    let de = serde_urlencoded::Deserializer::new(pairs);
    serde_path_to_error::deserialize(de)
        .map_err(|e| bad(Problem { path: e.path().to_string(), message: e.inner().to_string() }))
}

/// A numeric `{id}` path segment; anything else is simply not found.
pub struct Id(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) = axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "not found"))?;
        raw.parse().map(Id).map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "not found"))
    }
}
