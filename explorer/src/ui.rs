//! The web UI: static assets compiled into the binary, so it works offline.

use axum::Router;
use axum::response::Html;
use axum::routing::get;

/// `/` and the assets under `/assets/`.
pub fn router() -> Router {
    Router::new().route(
        "/",
        get(|| async { Html("<!doctype html><title>tracedojo explorer</title>") }),
    )
}
