//! The shipping API: `POST /quotes` prices a delivery, `GET /shipments?order_id=..` lists an
//! order's shipments (none yet while the worker has not got to it: an empty list, not a 404,
//! because "not yet" is a normal answer and a 404 would be an error on the caller's span).

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::{Json, Router};
use serde::Deserialize;
use tracedojo_kit::routing::{get, post};
use tracedojo_kit::{ApiError, Db};

use crate::quote::{self, Quote};
use crate::shipments::{self, Shipment};

/// The most of one product a quote accepts, as the cart does.
const MAX_QUANTITY: i64 = 99;

pub fn router(db: Db) -> Router {
    Router::new()
        .route("/quotes", post(quote))
        .route("/shipments", get(shipment))
        .with_state(db)
}

/// Fields are optional so that a missing one gets a 400 naming it.
#[derive(Debug, Deserialize)]
pub struct QuoteRequest {
    pub region: Option<String>,
    pub items: Option<Vec<QuoteItem>>,
}

#[derive(Debug, Deserialize)]
pub struct QuoteItem {
    pub product_id: i64,
    pub quantity: i64,
}

#[derive(Debug, Deserialize)]
pub struct ShipmentQuery {
    pub order_id: Option<String>,
}

async fn quote(body: Result<Json<QuoteRequest>, JsonRejection>) -> Result<Json<Quote>, ApiError> {
    let Json(request) = body.map_err(|rejection| {
        ApiError::BadRequest(format!(
            "the body must be a JSON object with region and items: {}",
            rejection.body_text()
        ))
    })?;
    let region = request
        .region
        .ok_or_else(|| ApiError::BadRequest("region is required".into()))?;
    let items = request.items.unwrap_or_default();
    if items.is_empty() {
        return Err(ApiError::BadRequest(
            "items must list at least one product".into(),
        ));
    }
    for (i, item) in items.iter().enumerate() {
        if item.product_id <= 0 {
            return Err(ApiError::BadRequest(format!(
                "items[{i}].product_id must be a positive integer"
            )));
        }
        if !(1..=MAX_QUANTITY).contains(&item.quantity) {
            return Err(ApiError::BadRequest(format!(
                "items[{i}].quantity must be between 1 and {MAX_QUANTITY}"
            )));
        }
    }
    let item_count = items.iter().map(|item| item.quantity).sum();
    quote::compute_quote(&region, item_count)
        .map(Json)
        .ok_or_else(|| {
            let known: Vec<&str> = quote::regions().collect();
            ApiError::BadRequest(format!("region must be one of {}", known.join(", ")))
        })
}

/// An order's shipments.
#[derive(Debug, serde::Serialize)]
struct OrderShipments {
    order_id: i64,
    shipments: Vec<Shipment>,
}

async fn shipment(
    State(db): State<Db>,
    query: Result<Query<ShipmentQuery>, QueryRejection>,
) -> Result<Json<OrderShipments>, ApiError> {
    let order_id = query
        .ok()
        .and_then(|Query(q)| q.order_id)
        .and_then(|id| id.parse::<i64>().ok())
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::BadRequest("order_id must be a positive integer".into()))?;
    let shipments = shipments::find_shipment(&db, order_id)
        .await?
        .into_iter()
        .collect();
    Ok(Json(OrderShipments {
        order_id,
        shipments,
    }))
}
