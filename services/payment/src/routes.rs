//! The payment API: `POST /payments` authorises a card payment.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tracedojo_kit::ApiError;
use tracedojo_kit::routing::post;
use tracedojo_kit::server::annotate;

use crate::gateway::{self, GatewayConfig, luhn_valid};

#[derive(Debug, Deserialize)]
pub struct PaymentRequest {
    pub order_ref: String,
    pub amount_cents: i64,
    pub currency: String,
    pub card_number: String,
}

#[derive(Debug, Serialize)]
pub struct Payment {
    pub payment_id: String,
    pub status: &'static str,
    pub amount_cents: i64,
    pub currency: String,
}

pub fn router(gateway: GatewayConfig) -> Router {
    Router::new()
        .route("/payments", post(create_payment))
        .with_state(Arc::new(gateway))
}

/// Checks the request, then has the card gateway authorise it ([`gateway::authorise`]).
async fn create_payment(
    State(config): State<Arc<GatewayConfig>>,
    Json(request): Json<PaymentRequest>,
) -> Result<(StatusCode, Json<Payment>), ApiError> {
    annotate("tracedojo.payment.amount_cents", request.amount_cents);
    annotate("tracedojo.payment.currency", request.currency.clone());
    if request.amount_cents <= 0 {
        return Err(ApiError::BadRequest(
            "amount_cents must be a positive number of cents".into(),
        ));
    }
    if request.currency.len() != 3 {
        return Err(ApiError::BadRequest(
            "currency must be a three-letter ISO 4217 code such as USD".into(),
        ));
    }
    if !luhn_valid(&request.card_number) {
        return Err(ApiError::BadRequest(
            "card_number is not a valid card number (Luhn check failed)".into(),
        ));
    }
    if let Err(reason) = gateway::authorise(&config, &request.card_number).await {
        tracing::info!(tracedojo.order.ref = %request.order_ref, tracedojo.payment.decline_reason = reason, "payment declined");
        return Err(ApiError::PaymentDeclined {
            reason: reason.to_string(),
        });
    }
    let payment_id = format!("pay_{:016x}", rand::random::<u64>());
    tracing::info!(tracedojo.order.ref = %request.order_ref, tracedojo.payment.id = %payment_id, "payment approved");
    Ok((
        StatusCode::CREATED,
        Json(Payment {
            payment_id,
            status: "approved",
            amount_cents: request.amount_cents,
            currency: request.currency,
        }),
    ))
}
