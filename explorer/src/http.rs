//! OTLP/HTTP: `POST /v1/traces`, `/v1/metrics` and `/v1/logs` with binary protobuf or JSON
//! bodies (answered in the same encoding), plain or gzip-compressed, storing what they receive
//! into a [`SpanStore`]. Spans whose ids are not the right size are refused one by one and
//! reported as a partial success, as the OTLP specification asks (the store does the check).
//! A refused request is answered with a `google.rpc.Status` body, in the request's encoding
//! (protobuf when the content type is missing or unsupported, protobuf being the default).

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
const JSON: &str = "application/json";

/// The two encodings OTLP/HTTP defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

/// `google.rpc.Status`, the body OTLP/HTTP requires for every 4xx and 5xx answer. `details`
/// (field 3) is left out: an absent repeated field is a valid, empty one.
#[derive(Clone, PartialEq, Message, serde::Serialize)]
struct Status {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

// gRPC status codes, so an OTLP/HTTP client reads the same code an OTLP/gRPC one would get.
/// The request itself is wrong: its body, or headers naming an encoding we cannot read.
const INVALID_ARGUMENT: i32 = 3;
/// What gRPC servers answer when a message is over their size limit.
const RESOURCE_EXHAUSTED: i32 = 8;

/// Why an export request was refused; the `Display` text is the message of the answer's
/// `google.rpc.Status`.
#[derive(Debug, thiserror::Error)]
pub enum HttpRejection {
    #[error("missing content-type: send application/x-protobuf or application/json")]
    MissingContentType,
    #[error("unsupported content-type {0:?}: send application/x-protobuf or application/json")]
    UnsupportedContentType(String),
    #[error("unsupported content-encoding {0:?}: send gzip or no compression")]
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
    #[error("request body is not a valid {message} in OTLP/JSON: {reason}")]
    UndecodableJson {
        message: &'static str,
        reason: String,
    },
    #[error("request body is not valid gzip: {0}")]
    BadGzip(String),
}

impl HttpRejection {
    pub fn status(&self) -> StatusCode {
        match self {
            HttpRejection::MissingContentType
            | HttpRejection::UnsupportedContentType(_)
            | HttpRejection::UnsupportedContentEncoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            HttpRejection::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            HttpRejection::UnreadableBody(_)
            | HttpRejection::Undecodable { .. }
            | HttpRejection::UndecodableJson { .. }
            | HttpRejection::BadGzip(_) => StatusCode::BAD_REQUEST,
        }
    }

    /// The gRPC status code the answer carries along with the HTTP one. Unsupported content
    /// types and encodings are INVALID_ARGUMENT too: gRPC has no code closer to 415.
    fn grpc_code(&self) -> i32 {
        match self {
            HttpRejection::TooLarge { .. } => RESOURCE_EXHAUSTED,
            HttpRejection::MissingContentType
            | HttpRejection::UnsupportedContentType(_)
            | HttpRejection::UnsupportedContentEncoding(_)
            | HttpRejection::UnreadableBody(_)
            | HttpRejection::Undecodable { .. }
            | HttpRejection::UndecodableJson { .. }
            | HttpRejection::BadGzip(_) => INVALID_ARGUMENT,
        }
    }

    fn into_response_in(self, encoding: Encoding) -> Response {
        let status = Status {
            code: self.grpc_code(),
            message: self.to_string(),
        };
        let mut response = respond(&status, encoding);
        // respond() may already have failed with a 500, which must stay.
        if response.status().is_success() {
            *response.status_mut() = self.status();
        }
        response
    }
}

/// Without the request at hand, the answer is in protobuf, the OTLP default.
impl IntoResponse for HttpRejection {
    fn into_response(self) -> Response {
        self.into_response_in(Encoding::Protobuf)
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
    let (decoded, encoding): (ExportTraceServiceRequest, _) = match decode(&state, request).await {
        Ok(decoded) => decoded,
        Err(rejected) => return rejected,
    };
    state.store.record_export(Transport::Http);
    let rejected = state.store.insert_request(decoded);
    respond(
        &ExportTraceServiceResponse {
            partial_success: crate::grpc::partial_success(rejected),
        },
        encoding,
    )
}

async fn export_metrics(State(state): State<HttpState>, request: Request) -> Response {
    let (decoded, encoding): (ExportMetricsServiceRequest, _) = match decode(&state, request).await
    {
        Ok(decoded) => decoded,
        Err(rejected) => return rejected,
    };
    state.store.record_export(Transport::Http);
    state
        .store
        .insert_metrics(convert::metrics_from_request(decoded));
    respond(
        &ExportMetricsServiceResponse {
            partial_success: None,
        },
        encoding,
    )
}

async fn export_logs(State(state): State<HttpState>, request: Request) -> Response {
    let (decoded, encoding): (ExportLogsServiceRequest, _) = match decode(&state, request).await {
        Ok(decoded) => decoded,
        Err(rejected) => return rejected,
    };
    state.store.record_export(Transport::Http);
    state.store.insert_logs(convert::logs_from_request(decoded));
    respond(
        &ExportLogsServiceResponse {
            partial_success: None,
        },
        encoding,
    )
}

/// The answer, in the encoding the request came in.
fn respond<M: Message + serde::Serialize>(message: &M, encoding: Encoding) -> Response {
    match encoding {
        Encoding::Protobuf => ([(CONTENT_TYPE, PROTOBUF)], message.encode_to_vec()).into_response(),
        Encoding::Json => match serde_json::to_vec(message) {
            Ok(body) => ([(CONTENT_TYPE, JSON)], body).into_response(),
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        },
    }
}

/// The request's message and encoding, or the rejection already answered in that encoding.
async fn decode<M: Message + Default + serde::de::DeserializeOwned>(
    state: &HttpState,
    request: Request,
) -> Result<(M, Encoding), Response> {
    let encoding = body_encoding(request.headers());
    let answer_in = *encoding.as_ref().unwrap_or(&Encoding::Protobuf);
    let result = match encoding {
        Ok(encoding) => read_and_decode(encoding, state.max_body_bytes, request).await,
        Err(rejection) => Err(rejection),
    };
    result
        .map(|decoded| (decoded, answer_in))
        .map_err(|rejection| {
            state.store.record_rejected();
            rejection.into_response_in(answer_in)
        })
}

async fn read_and_decode<M: Message + Default + serde::de::DeserializeOwned>(
    encoding: Encoding,
    max_body_bytes: usize,
    request: Request,
) -> Result<M, HttpRejection> {
    // Headers are checked before the body is read, so a wrong content type or encoding is
    // reported as such even when the body is also too large.
    let gzip = is_gzip(request.headers())?;
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
    let body = if gzip {
        gunzip(&body, max_body_bytes)?
    } else {
        body
    };
    let decoded = match encoding {
        Encoding::Protobuf => M::decode(body).map_err(|source| HttpRejection::Undecodable {
            message: short_type_name::<M>(),
            source,
        })?,
        Encoding::Json => {
            serde_json::from_slice(&body).map_err(|err| HttpRejection::UndecodableJson {
                message: short_type_name::<M>(),
                reason: err.to_string(),
            })?
        }
    };
    Ok(decoded)
}

/// Decompresses at most `limit` bytes: a small body that inflates without end is refused
/// like a large one.
fn gunzip(body: &[u8], limit: usize) -> Result<Bytes, HttpRejection> {
    use std::io::Read;
    let mut inflated = Vec::new();
    flate2::read::GzDecoder::new(body)
        .take(limit as u64 + 1)
        .read_to_end(&mut inflated)
        .map_err(|err| HttpRejection::BadGzip(err.to_string()))?;
    if inflated.len() > limit {
        return Err(HttpRejection::TooLarge { limit });
    }
    Ok(Bytes::from(inflated))
}

/// The body's encoding, from its content type.
fn body_encoding(headers: &HeaderMap) -> Result<Encoding, HttpRejection> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .ok_or(HttpRejection::MissingContentType)?;
    let content_type = String::from_utf8_lossy(content_type.as_bytes());
    // Parameters such as `; charset=...` do not change the media type.
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case(PROTOBUF) {
        Ok(Encoding::Protobuf)
    } else if essence.eq_ignore_ascii_case(JSON) {
        Ok(Encoding::Json)
    } else {
        Err(HttpRejection::UnsupportedContentType(
            content_type.into_owned(),
        ))
    }
}

/// Whether the body is gzip-compressed, from its content encoding.
fn is_gzip(headers: &HeaderMap) -> Result<bool, HttpRejection> {
    let gzip = match headers.get(CONTENT_ENCODING) {
        None => false,
        Some(value) => {
            let value = String::from_utf8_lossy(value.as_bytes());
            match value.trim().to_ascii_lowercase().as_str() {
                "identity" => false,
                "gzip" => true,
                _ => {
                    return Err(HttpRejection::UnsupportedContentEncoding(
                        value.into_owned(),
                    ));
                }
            }
        }
    };
    Ok(gzip)
}

fn short_type_name<T>() -> &'static str {
    let full = type_name::<T>();
    full.rsplit("::").next().unwrap_or(full)
}
