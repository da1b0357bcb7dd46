//! The inventory API: read a stock level, reserve stock for an order, release it.
//!
//! Input is checked first, so a bad request is answered with a 400 whose message names the
//! field before any database work is done.

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tracedojo_kit::routing::{get, post};
use tracedojo_kit::{ApiError, Db};

use crate::reservations::{self, Item, Reservation};
use crate::stock::{self, StockLevel};

/// The most items one reservation may hold, and the most of one product per item.
pub const MAX_ITEMS: usize = 100;
pub const MAX_QUANTITY: i64 = 1000;

/// The body of `POST /reservations`.
#[derive(Debug, Deserialize)]
pub struct ReserveRequest {
    pub order_ref: String,
    pub items: Vec<Item>,
}

/// The answer of `POST /reservations/{reservation_id}/release`.
#[derive(Debug, Serialize)]
pub struct ReleaseResponse {
    pub reservation_id: String,
    pub status: &'static str,
}

pub fn router(db: Db) -> Router {
    Router::new()
        .route("/stock/{product_id}", get(show_stock))
        .route("/reservations", post(reserve))
        .route("/reservations/{reservation_id}/release", post(release))
        .with_state(db)
}

async fn show_stock(
    State(db): State<Db>,
    product_id: Result<Path<i64>, PathRejection>,
) -> Result<Json<StockLevel>, ApiError> {
    let Path(product_id) = product_id.map_err(bad_path)?;
    if product_id <= 0 {
        return Err(ApiError::BadRequest(format!(
            "product_id must be a positive integer, got {product_id}"
        )));
    }
    stock::find(&db, product_id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("product {product_id}")))
}

async fn reserve(
    State(db): State<Db>,
    body: Result<Json<ReserveRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<Reservation>), ApiError> {
    let Json(request) = body.map_err(bad_json)?;
    check_reserve_request(&request)?;
    let reservation = reservations::reserve(&db, &request.order_ref, &request.items).await?;
    Ok((StatusCode::CREATED, Json(reservation)))
}

async fn release(
    State(db): State<Db>,
    reservation_id: Result<Path<String>, PathRejection>,
) -> Result<Json<ReleaseResponse>, ApiError> {
    let Path(reservation_id) = reservation_id.map_err(bad_path)?;
    // Whether it was released now or before, the caller gets the same answer: that is
    // what lets checkout retry a release safely.
    reservations::release(&db, &reservation_id).await?;
    Ok(Json(ReleaseResponse {
        reservation_id,
        status: "released",
    }))
}

fn check_reserve_request(request: &ReserveRequest) -> Result<(), ApiError> {
    let order_ref = request.order_ref.trim();
    if order_ref.is_empty() || order_ref.len() > 64 {
        return Err(ApiError::BadRequest(
            "order_ref must be 1 to 64 characters".into(),
        ));
    }
    if request.items.is_empty() || request.items.len() > MAX_ITEMS {
        return Err(ApiError::BadRequest(format!(
            "items must hold 1 to {MAX_ITEMS} entries, got {}",
            request.items.len()
        )));
    }
    for (index, item) in request.items.iter().enumerate() {
        if item.product_id <= 0 {
            return Err(ApiError::BadRequest(format!(
                "items[{index}].product_id must be a positive integer, got {}",
                item.product_id
            )));
        }
        if !(1..=MAX_QUANTITY).contains(&item.quantity) {
            return Err(ApiError::BadRequest(format!(
                "items[{index}].quantity must be between 1 and {MAX_QUANTITY}, got {}",
                item.quantity
            )));
        }
    }
    Ok(())
}

// axum's own rejections answer in plain text; these turn them into the shop's JSON errors.
fn bad_path(rejection: PathRejection) -> ApiError {
    ApiError::BadRequest(rejection.body_text())
}

fn bad_json(rejection: JsonRejection) -> ApiError {
    ApiError::BadRequest(rejection.body_text())
}
