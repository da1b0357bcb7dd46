//! OTLP/HTTP: `POST /v1/traces`, `/v1/metrics` and `/v1/logs` with binary
//! protobuf bodies, storing what they receive into a [`SpanStore`].

use std::any::type_name;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;

use crate::convert;
use crate::store::{SpanStore, Transport};

/// Default request body limit: 16 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

const PROTOBUF: &str = "application/x-protobuf";

/// Why an export request was refused; the `Display` text is the response body.
#[derive(Debug, thiserror::Error)]
pub enum HttpRejection {
    #[error("missing content-type: only application/x-protobuf is supported")]
    MissingContentType,
    #[error("unsupported content-type {0:?}: only application/x-protobuf is supported")]
    UnsupportedContentType(String),
    #[error("unsupported content-encoding {0:?}: send uncompressed application/x-protobuf")]
    UnsupportedContentEncoding(String),
    #[error("request body is larger than the {limit}-byte limit")]
    TooLarge { limit: usize },
    #[error("could not read the request body: {0}")]
    UnreadableBody(String),
    #[error("request body is not a valid {message} protobuf: {source}")]
    Undecodable {
        message: &'static str,
        #[source]
        source: prost::DecodeError,
    },
}

impl HttpRejection {
    pub fn status(&self) -> StatusCode {
        match self {
            HttpRejection::MissingContentType
            | HttpRejection::UnsupportedContentType(_)
            | HttpRejection::UnsupportedContentEncoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            HttpRejection::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            HttpRejection::UnreadableBody(_) | HttpRejection::Undecodable { .. } => {
                StatusCode::BAD_REQUEST
            }
        }
    }
}

impl IntoResponse for HttpRejection {
    fn into_response(self) -> Response {
        (
            self.status(),
            [(CONTENT_TYPE, "text/plain; charset=utf-8")],
            self.to_string(),
        )
            .into_response()
    }
}

#[derive(Debug, Clone)]
struct HttpState {
    store: SpanStore,
    max_body_bytes: usize,
}

/// The OTLP/HTTP routes, refusing bodies over `max_body_bytes` with 413.
pub fn router(store: SpanStore, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/v1/traces", post(export_traces))
        .route("/v1/metrics", post(export_metrics))
        .route("/v1/logs", post(export_logs))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(HttpState {
            store,
            max_body_bytes,
        })
}

async fn export_traces(State(state): State<HttpState>, request: Request) -> Response {
    let decoded: ExportTraceServiceRequest = match decode(&state, request).await {
        Ok(decoded) => decoded,
        Err(rejection) => return rejection.into_response(),
    };
    state.store.record_export(Transport::Http);
    state
        .store
        .insert_spans(convert::spans_from_request(decoded));
    protobuf(&ExportTraceServiceResponse {
        partial_success: None,
    })
}

async fn export_metrics(State(state): State<HttpState>, request: Request) -> Response {
    let decoded: ExportMetricsServiceRequest = match decode(&state, request).await {
        Ok(decoded) => decoded,
        Err(rejection) => return rejection.into_response(),
    };
    state.store.record_export(Transport::Http);
    state
        .store
        .insert_metrics(convert::metrics_from_request(decoded));
    protobuf(&ExportMetricsServiceResponse {
        partial_success: None,
    })
}

async fn export_logs(State(state): State<HttpState>, request: Request) -> Response {
    let decoded: ExportLogsServiceRequest = match decode(&state, request).await {
        Ok(decoded) => decoded,
        Err(rejection) => return rejection.into_response(),
    };
    state.store.record_export(Transport::Http);
    state.store.insert_logs(convert::logs_from_request(decoded));
    protobuf(&ExportLogsServiceResponse {
        partial_success: None,
    })
}

fn protobuf(message: &impl Message) -> Response {
    ([(CONTENT_TYPE, PROTOBUF)], message.encode_to_vec()).into_response()
}

async fn decode<M: Message + Default>(
    state: &HttpState,
    request: Request,
) -> Result<M, HttpRejection> {
    let result = read_and_decode(state.max_body_bytes, request).await;
    if result.is_err() {
        state.store.record_rejected();
    }
    result
}

async fn read_and_decode<M: Message + Default>(
    max_body_bytes: usize,
    request: Request,
) -> Result<M, HttpRejection> {
    // Headers are checked before the body is read, so a wrong content type is
    // reported as such even when the body is also too large.
    check_headers(request.headers())?;
    let body = Bytes::from_request(request, &())
        .await
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                HttpRejection::TooLarge {
                    limit: max_body_bytes,
                }
            } else {
                HttpRejection::UnreadableBody(rejection.body_text())
            }
        })?;
    M::decode(body).map_err(|source| HttpRejection::Undecodable {
        message: short_type_name::<M>(),
        source,
    })
}

fn check_headers(headers: &HeaderMap) -> Result<(), HttpRejection> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .ok_or(HttpRejection::MissingContentType)?;
    let content_type = String::from_utf8_lossy(content_type.as_bytes());
    // Parameters such as `; charset=...` do not change the media type.
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case(PROTOBUF) {
        return Err(HttpRejection::UnsupportedContentType(
            content_type.into_owned(),
        ));
    }
    if let Some(encoding) = headers.get(CONTENT_ENCODING) {
        let encoding = String::from_utf8_lossy(encoding.as_bytes());
        if !encoding.trim().eq_ignore_ascii_case("identity") {
            return Err(HttpRejection::UnsupportedContentEncoding(
                encoding.into_owned(),
            ));
        }
    }
    Ok(())
}

fn short_type_name<T>() -> &'static str {
    let full = type_name::<T>();
    full.rsplit("::").next().unwrap_or(full)
}
