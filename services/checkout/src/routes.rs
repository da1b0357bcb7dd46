//! The checkout API: `POST /checkout` places an order, `GET /orders/{order_id}` shows one.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Json, Router};
use tracedojo_kit::ApiError;
use tracedojo_kit::routing::{get, post};

use crate::CheckoutState;
use crate::orders::{self, OrderView};
use crate::place_order::{CheckoutError, PlacedOrder, place_order};
use crate::request::CheckoutRequest;

pub fn router(state: Arc<CheckoutState>) -> Router {
    Router::new()
        .route("/checkout", post(checkout))
        .route("/orders/{order_id}", get(get_order))
        .with_state(state)
}

async fn checkout(
    State(state): State<Arc<CheckoutState>>,
    body: Result<Json<CheckoutRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<PlacedOrder>), CheckoutError> {
    let Json(request) = body.map_err(|rejection| {
        ApiError::BadRequest(format!(
            "the body must be a JSON object with session_id, card_number, email and region: {}",
            rejection.body_text()
        ))
    })?;
    let checkout = request.validate()?;
    let order = place_order(&state, checkout).await?;
    Ok((StatusCode::CREATED, Json(order)))
}

async fn get_order(
    State(state): State<Arc<CheckoutState>>,
    Path(order_id): Path<String>,
) -> Result<Json<OrderView>, ApiError> {
    let id: i64 = order_id
        .parse()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::BadRequest("order_id must be a positive integer".into()))?;
    orders::find_order(&state.db, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("order {id}")))
}
