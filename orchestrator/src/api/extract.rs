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
        if serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_err() {
            return Err(ApiError::new(StatusCode::BAD_REQUEST, "request body must be a JSON document"));
        }
        from_json(&bytes).map(JsonBody).map_err(|p| crate::error::Error::Invalid(vec![p]).into())
    }
}

/// Query parameters; a bad one is a 400 naming it.
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de).map(QueryParams).map_err(|e| {
            let problem = Problem { path: e.path().to_string(), message: e.inner().to_string() };
            let mut err = ApiError::new(StatusCode::BAD_REQUEST, problem.to_string());
            err.body.problems.push(problem);
            err
        })
    }
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
