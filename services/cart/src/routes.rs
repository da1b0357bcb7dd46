//! The cart API: read a cart, add or remove a product, empty it.
//!
//! Every route starts by checking its input, so a bad request is answered with a 400 whose
//! message names the field, before any database or catalog work is done.

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::{Json, Router};
use serde::Deserialize;
use tracedojo_kit::ApiError;
use tracedojo_kit::routing::{delete, get, post};
use tracedojo_kit::server::annotate;

use crate::AppState;
use crate::catalog::fetch_product;
use crate::store::{self, Cart, MAX_QUANTITY};

/// The body of `POST /carts/{session_id}/items`.
#[derive(Debug, Deserialize)]
pub struct AddItemRequest {
    pub product_id: i64,
    pub quantity: i64,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        // One method per `route`, so each records its own handler's code.
        .route("/carts/{session_id}", get(show_cart))
        .route("/carts/{session_id}", delete(clear_cart))
        .route("/carts/{session_id}/items", post(add_item))
        .route(
            "/carts/{session_id}/items/{product_id}",
            delete(remove_item),
        )
        .with_state(state)
}

async fn show_cart(
    State(state): State<AppState>,
    session_id: Result<Path<String>, PathRejection>,
) -> Result<Json<Cart>, ApiError> {
    let Path(session_id) = session_id.map_err(bad_path)?;
    check_session_id(&session_id)?;
    Ok(Json(store::load_cart(&state.db, &session_id).await?))
}

/// Looks the product up in the catalog, then adds it to the cart.
async fn add_item(
    State(state): State<AppState>,
    session_id: Result<Path<String>, PathRejection>,
    body: Result<Json<AddItemRequest>, JsonRejection>,
) -> Result<Json<Cart>, ApiError> {
    let Path(session_id) = session_id.map_err(bad_path)?;
    check_session_id(&session_id)?;
    let Json(request) = body.map_err(bad_json)?;
    annotate("session.id", session_id.clone());
    annotate("tracedojo.product.id", request.product_id);
    annotate("tracedojo.cart.quantity", request.quantity);
    check_product_id(request.product_id)?;
    if !(1..=MAX_QUANTITY).contains(&request.quantity) {
        return Err(ApiError::BadRequest(format!(
            "quantity must be between 1 and {MAX_QUANTITY}, got {}",
            request.quantity
        )));
    }

    let product = fetch_product(&state.catalog, request.product_id).await?;
    store::add_item(
        &state.db,
        &session_id,
        product.id,
        &product.name,
        request.quantity,
        product.price_cents,
    )
    .await?;
    tracing::info!(
        tracedojo.product.id = product.id,
        tracedojo.cart.quantity = request.quantity,
        tracedojo.product.price_cents = product.price_cents,
        "item added to cart"
    );
    Ok(Json(store::load_cart(&state.db, &session_id).await?))
}

async fn remove_item(
    State(state): State<AppState>,
    params: Result<Path<(String, i64)>, PathRejection>,
) -> Result<Json<Cart>, ApiError> {
    let Path((session_id, product_id)) = params.map_err(bad_path)?;
    check_session_id(&session_id)?;
    check_product_id(product_id)?;
    // Removing what is not there is not an error: the cart ends up as the caller wanted.
    let removed = store::remove_item(&state.db, &session_id, product_id).await?;
    tracing::info!(
        tracedojo.product.id = product_id,
        tracedojo.cart.removed = removed,
        "item removed from cart"
    );
    Ok(Json(store::load_cart(&state.db, &session_id).await?))
}

async fn clear_cart(
    State(state): State<AppState>,
    session_id: Result<Path<String>, PathRejection>,
) -> Result<Json<Cart>, ApiError> {
    let Path(session_id) = session_id.map_err(bad_path)?;
    check_session_id(&session_id)?;
    let lines = store::clear_cart(&state.db, &session_id).await?;
    tracing::info!(tracedojo.cart.line_count = lines as i64, "cart cleared");
    Ok(Json(Cart::new(&session_id, Vec::new())))
}

/// A session id is 1 to 64 characters of `A-Z a-z 0-9 _ -`: safe in URLs and logs.
pub fn check_session_id(session_id: &str) -> Result<(), ApiError> {
    let well_formed = (1..=64).contains(&session_id.len())
        && session_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if well_formed {
        Ok(())
    } else {
        Err(ApiError::BadRequest(
            "session_id must be 1 to 64 characters of A-Z, a-z, 0-9, '_' or '-'".into(),
        ))
    }
}

fn check_product_id(product_id: i64) -> Result<(), ApiError> {
    if product_id > 0 {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!(
            "product_id must be a positive integer, got {product_id}"
        )))
    }
}

// axum's own rejections answer in plain text; these turn them into the shop's JSON errors.
fn bad_path(rejection: PathRejection) -> ApiError {
    ApiError::BadRequest(rejection.body_text())
}

fn bad_json(rejection: JsonRejection) -> ApiError {
    ApiError::BadRequest(rejection.body_text())
}
