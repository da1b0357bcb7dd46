//! The explorer's JSON API (documented in `explorer/API.md`): what the web UI, the workshop
//! checks and the showcase page read. Each view has its own file; this one wires the routes
//! and holds what they share.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use serde_json::json;

use crate::server::Link;
use crate::store::SpanStore;

#[derive(Debug, Clone)]
struct ApiState {
    store: SpanStore,
    links: std::sync::Arc<Vec<Link>>,
}

/// The `/api/*` routes over one store.
pub fn router(store: SpanStore, links: Vec<Link>) -> Router {
    Router::new()
        .route("/api/status", get(status))
        .with_state(ApiState {
            store,
            links: std::sync::Arc::new(links),
        })
}

async fn status(State(state): State<ApiState>) -> Response {
    let stats = state.store.stats();
    Json(json!({
        "spans_stored": state.store.span_count(),
        "spans_received": stats.spans_received,
        "links": *state.links,
    }))
    .into_response()
}
