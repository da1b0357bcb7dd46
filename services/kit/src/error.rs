//! The one error type every service's handlers return, mapped to a status code and JSON body.
//!
//! A 5xx answer is an error of ours: the SERVER span gets an `exception` event with the
//! cause. A 4xx answer is the caller's problem (a declined card, an unknown product) and is
//! not an error on the SERVER span, as the HTTP semantic conventions require.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use opentelemetry::KeyValue;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::client::ClientError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed; the message says which field.
    #[error("{0}")]
    BadRequest(String),
    #[error("{0} not found")]
    NotFound(String),
    /// The request is valid but conflicts with the current state (e.g. out of stock).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// A card was declined: the 402 a payment gateway answers.
    #[error("payment declined: {reason}")]
    PaymentDeclined { reason: String },
    /// A downstream service answered with an error or could not be reached.
    #[error("{service} failed: {source}")]
    Downstream {
        service: &'static str,
        #[source]
        source: ClientError,
    },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{0}")]
    Internal(String),
    /// A failure with a chosen 5xx status (an overloaded or broken handler).
    #[error("{message}")]
    Failed { status: u16, message: String },
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PaymentDeclined { .. } => StatusCode::PAYMENT_REQUIRED,
            // A downstream 4xx is passed on as it is (a decline stays a decline); anything else
            // means a dependency failed us.
            ApiError::Downstream { source, .. } => match source.status() {
                Some(s) if s.is_client_error() => s,
                Some(_) => StatusCode::BAD_GATEWAY,
                None if source.is_timeout() => StatusCode::GATEWAY_TIMEOUT,
                None => StatusCode::BAD_GATEWAY,
            },
            ApiError::Database(sqlx::Error::RowNotFound) => StatusCode::NOT_FOUND,
            // The database cannot be reached (a server down, no free connection): try later.
            ApiError::Database(sqlx::Error::PoolTimedOut | sqlx::Error::Io(_)) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Database(_) | ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Failed { status, .. } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict { code, .. } => code,
            ApiError::PaymentDeclined { .. } => "payment_declined",
            ApiError::Downstream { source, .. } => source.code().unwrap_or("downstream_error"),
            ApiError::Database(_) => "database_error",
            ApiError::Internal(_) | ApiError::Failed { .. } => "internal_error",
        }
    }

    fn exception_type(&self) -> &'static str {
        match self {
            ApiError::Downstream { .. } => "tracedojo_kit::ClientError",
            ApiError::Database(_) => "sqlx::Error",
            _ => "tracedojo_kit::ApiError",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = self.to_string();
        if status.is_server_error() {
            tracing::Span::current().add_event(
                "exception",
                vec![
                    KeyValue::new("exception.type", self.exception_type()),
                    KeyValue::new("exception.message", message.clone()),
                ],
            );
            tracing::error!(exception.message = %message, "request failed");
        }
        let body = serde_json::json!({ "error": self.code(), "message": message });
        (status, Json(body)).into_response()
    }
}
