//! Serves the web application's static files.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

async fn asset(path: axum::extract::Path<String>) -> Response {
    serve(&path)
}

async fn index() -> Response {
    serve("index.html")
}

fn serve(path: &str) -> Response {
    match switchboard_supervisor_ui::asset(path) {
        Some((mime, body)) => ([(header::CONTENT_TYPE, mime)], body).into_response(),
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/", get(index)).route("/ui/{*path}", get(asset))
}
