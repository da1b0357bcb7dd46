//! The traced HTTP client every service uses to call another.
//!
//! Each call opens a CLIENT span named `{method} {url.template}` (e.g.
//! `GET /products/{id}`), injects the W3C `traceparent` and `baggage` headers from that span's
//! context, and records the outcome. On a CLIENT span every 4xx and 5xx answer is an error (the
//! call did not get what it asked for), unlike on the SERVER span of the callee.

use std::time::{Duration, Instant};

use opentelemetry::{KeyValue, global};
use opentelemetry_http::HeaderInjector;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::Instrument;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use tracedojo_faults::follower::CallEffects;

use crate::faults;
use crate::metrics::instruments;
use crate::server::method_name;

/// Why a call to another service did not give a usable answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The service answered with an error status; `code` is its JSON `error` field if any.
    #[error("{status} from {url}: {message}")]
    Status {
        status: StatusCode,
        url: String,
        code: Option<String>,
        message: String,
    },
    /// No answer: connection refused, timeout, reset.
    #[error("{kind} calling {url}: {message}")]
    Transport {
        kind: &'static str,
        url: String,
        message: String,
    },
    /// An answer that is not the JSON we expected.
    #[error("unexpected answer from {url}: {message}")]
    Decode { url: String, message: String },
}

impl ClientError {
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ClientError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            ClientError::Transport {
                kind: "timeout",
                ..
            }
        )
    }

    /// The callee's own error code (e.g. `payment_declined`), to pass on unchanged.
    pub fn code(&self) -> Option<&'static str> {
        match self {
            ClientError::Status {
                code: Some(code), ..
            } => KNOWN_CODES.iter().copied().find(|k| k == code),
            _ => None,
        }
    }
}

/// Error codes a service may pass on from a callee (kept `'static` for the error enum).
const KNOWN_CODES: [&str; 5] = [
    "payment_declined",
    "out_of_stock",
    "not_found",
    "bad_request",
    "cart_empty",
];

/// A client for one downstream service, e.g. `HttpClient::new("catalog", "http://127.0.0.1:8081")`.
#[derive(Debug, Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
    peer_service: &'static str,
    base_url: String,
    server_address: String,
    server_port: u16,
}

impl HttpClient {
    pub fn new(peer_service: &'static str, base_url: &str) -> Self {
        let base_url = base_url.trim_end_matches('/').to_string();
        let (server_address, server_port) = split_authority(&base_url);
        crate::telemetry::install_crypto_provider();
        let inner = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        HttpClient {
            inner,
            peer_service,
            base_url,
            server_address,
            server_port,
        }
    }

    /// `GET` and decode JSON. `template` names the route (`/products/{id}`), `path` is the
    /// concrete path with query (`/products/42`).
    pub async fn get<T: DeserializeOwned>(
        &self,
        template: &str,
        path: &str,
    ) -> Result<T, ClientError> {
        self.call(Method::GET, template, path, None::<&()>).await
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        template: &str,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        self.call(Method::POST, template, path, Some(body)).await
    }

    pub async fn delete<T: DeserializeOwned>(
        &self,
        template: &str,
        path: &str,
    ) -> Result<T, ClientError> {
        self.call(Method::DELETE, template, path, None::<&()>).await
    }

    /// One traced call: a CLIENT span per attempt. Normally there is one attempt; while a
    /// fault makes this client give up early on its peer, a timed-out attempt is sent again
    /// (`http.request.resend_count` on the new span), as a client with a retry policy would.
    pub async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        template: &str,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, ClientError> {
        let effects = faults::on_call(self.peer_service);
        let mut resend_count = 0;
        loop {
            let result = self
                .attempt(method.clone(), template, path, body, &effects, resend_count)
                .await;
            match result {
                Err(ClientError::Transport { kind, .. })
                    if kind == "timeout" && resend_count < effects.retries =>
                {
                    resend_count += 1;
                }
                result => return result,
            }
        }
    }

    /// One attempt of a call, in its own CLIENT span.
    async fn attempt<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        template: &str,
        path: &str,
        body: Option<&B>,
        effects: &CallEffects,
        resend_count: u32,
    ) -> Result<T, ClientError> {
        let method_name = method_name(&method);
        let url = format!("{}{}", self.base_url, path);
        let span = tracing::info_span!(
            "http.client.request",
            otel.name = format!("{method_name} {template}"),
            otel.kind = "client",
            otel.status_code = Empty,
            http.request.method = method_name,
            http.request.resend_count = (resend_count > 0).then_some(i64::from(resend_count)),
            url.full = %url,
            url.template = template,
            server.address = %self.server_address,
            server.port = i64::from(self.server_port),
            service.peer.name = self.peer_service,
            http.response.status_code = Empty,
            error.type = Empty,
        );
        faults::reveal(&span, &effects.kinds);
        let started = Instant::now();
        let exchange = async {
            if !effects.delay.is_zero() {
                // Time lost on the way (a congested link, a slow proxy): inside this span,
                // before the peer sees anything.
                tokio::time::sleep(effects.delay).await;
            }
            let exchange = self.exchange(method, &url, body, &span);
            match effects.timeout {
                None => exchange.await,
                Some(limit) => tokio::time::timeout(limit, exchange)
                    .await
                    .unwrap_or_else(|_| Err(gave_up(&url, limit))),
            }
        };
        let result = exchange.instrument(span.clone()).await;
        let mut attributes = vec![
            KeyValue::new("http.request.method", method_name),
            KeyValue::new("server.address", self.server_address.clone()),
            KeyValue::new("server.port", i64::from(self.server_port)),
            KeyValue::new("url.template", template.to_string()),
        ];
        match &result {
            Ok((_, status)) => {
                attributes.push(KeyValue::new(
                    "http.response.status_code",
                    i64::from(status.as_u16()),
                ));
            }
            Err(ClientError::Status { status, .. }) => {
                span.record("otel.status_code", "ERROR");
                span.record("error.type", status.as_str());
                attributes.push(KeyValue::new(
                    "http.response.status_code",
                    i64::from(status.as_u16()),
                ));
                attributes.push(KeyValue::new("error.type", status.as_str().to_string()));
            }
            Err(ClientError::Transport { kind, message, .. }) => {
                span.record("otel.status_code", "ERROR");
                span.record("error.type", *kind);
                span.add_event(
                    "exception",
                    vec![
                        KeyValue::new("exception.type", "reqwest::Error"),
                        KeyValue::new("exception.message", message.clone()),
                    ],
                );
                attributes.push(KeyValue::new("error.type", *kind));
            }
            Err(ClientError::Decode { .. }) => {
                span.record("otel.status_code", "ERROR");
                span.record("error.type", "decode");
                attributes.push(KeyValue::new("error.type", "decode"));
            }
        }
        instruments()
            .http_client_duration
            .record(started.elapsed().as_secs_f64(), &attributes);
        result.map(|(body, _)| body)
    }

    async fn exchange<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        url: &str,
        body: Option<&B>,
        span: &tracing::Span,
    ) -> Result<(T, StatusCode), ClientError> {
        let mut request = self.inner.request(method, url);
        if let Some(body) = body {
            request = request.json(body);
        }
        let mut request = request.build().map_err(|e| transport(url, &e))?;
        let cx = span.context();
        global::get_text_map_propagator(|propagator| {
            propagator.inject_context(&cx, &mut HeaderInjector(request.headers_mut()))
        });

        let response = self
            .inner
            .execute(request)
            .await
            .map_err(|e| transport(url, &e))?;
        let status = response.status();
        span.record("http.response.status_code", i64::from(status.as_u16()));
        let bytes = response.bytes().await.map_err(|e| transport(url, &e))?;
        // 1xx and 3xx are not failures (redirects are followed before we see them).
        if status.is_client_error() || status.is_server_error() {
            let parsed: Option<serde_json::Value> = serde_json::from_slice(&bytes).ok();
            let field = |name: &str| {
                parsed
                    .as_ref()
                    .and_then(|v| v.get(name))
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            };
            return Err(ClientError::Status {
                status,
                url: url.to_string(),
                code: field("error"),
                message: field("message")
                    .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(200).collect()),
            });
        }
        let bytes = if bytes.is_empty() {
            &b"null"[..]
        } else {
            &bytes[..]
        };
        let body = serde_json::from_slice(bytes).map_err(|e| ClientError::Decode {
            url: url.to_string(),
            message: e.to_string(),
        })?;
        Ok((body, status))
    }
}

/// The error of an attempt this client stopped waiting for.
fn gave_up(url: &str, limit: Duration) -> ClientError {
    ClientError::Transport {
        kind: "timeout",
        url: url.to_string(),
        message: format!("no answer within {} ms", limit.as_millis()),
    }
}

fn transport(url: &str, err: &reqwest::Error) -> ClientError {
    let kind = if err.is_timeout() {
        "timeout"
    } else if err.is_connect() {
        "connection_refused"
    } else if err.is_request() || err.is_body() {
        "connection_reset"
    } else {
        "transport_error"
    };
    let mut message = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        message = format!("{message}: {cause}");
        source = cause.source();
    }
    ClientError::Transport {
        kind,
        url: url.to_string(),
        message,
    }
}

fn split_authority(base_url: &str) -> (String, u16) {
    let without_scheme = base_url
        .split_once("://")
        .map_or(base_url, |(_, rest)| rest);
    let authority = without_scheme.split('/').next().unwrap_or_default();
    let default_port = if base_url.starts_with("https://") {
        443
    } else {
        80
    };
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() => {
            (host.to_string(), port.parse().unwrap_or(default_port))
        }
        _ => (authority.to_string(), default_port),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authority_is_split_into_address_and_port() {
        assert_eq!(
            split_authority("http://127.0.0.1:8081"),
            ("127.0.0.1".into(), 8081)
        );
        assert_eq!(
            split_authority("https://shop.example/x"),
            ("shop.example".into(), 443)
        );
    }
}
