//! How errors look over HTTP: a JSON body `{ "error": ..., "problems": [{path, message}] }`
//! with a 4xx status for anything the caller can fix; internal details are logged, not shown.

use crate::error::Error;
use crate::model::Problem;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ErrorBody {
    pub error: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
}

/// An error on its way to becoming a response.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError { status, body: ErrorBody { error: message.into(), problems: Vec::new() } }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Invalid(problems) => ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                body: ErrorBody {
                    error: problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; "),
                    problems,
                },
            },
            Error::NotFound => ApiError::new(StatusCode::NOT_FOUND, "not found"),
            Error::Conflict(m) => ApiError::new(StatusCode::CONFLICT, m),
            Error::Unauthenticated => ApiError::new(StatusCode::UNAUTHORIZED, "authentication required"),
            Error::Forbidden(m) => ApiError::new(StatusCode::FORBIDDEN, m),
            Error::Database(sqlx::Error::PoolTimedOut) => {
                tracing::error!("database pool timed out");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "database unavailable, try again")
            }
            other => {
                tracing::error!(error = %other, "internal error");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
