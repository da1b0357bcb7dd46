//! The load generator as a traced client: each request is the root CLIENT span of its trace
//! (service `loadgenerator`), carrying the user's attributes as baggage, so a trace starts
//! where a user's click would start it.

use opentelemetry::baggage::BaggageExt;
use opentelemetry::{Context, KeyValue, global};
use opentelemetry_http::HeaderInjector;
use serde_json::Value;
use tracing::Instrument;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::population::User;

/// Sends `request` under a new root span named after its endpoint (`GET /api/cart`).
pub async fn send(
    client: &reqwest::Client,
    request: reqwest::RequestBuilder,
    endpoint: &'static str,
    user: &User,
    want_body: bool,
) -> (Option<u16>, Option<Value>) {
    let method = endpoint.split(' ').next().unwrap_or("GET");
    let span = tracing::info_span!(
        parent: None,
        "http.client.request",
        otel.name = endpoint,
        otel.kind = "client",
        otel.status_code = Empty,
        http.request.method = method,
        url.full = Empty,
        server.address = Empty,
        server.port = Empty,
        http.response.status_code = Empty,
        error.type = Empty,
        user.tier = user.tier,
        user.region = user.region,
    );
    let _ = span.set_parent(Context::new().with_baggage(baggage_of(user)));
    let Ok(mut request) = request.build() else {
        return (None, None);
    };
    let url = request.url().clone();
    span.record("url.full", url.as_str());
    if let Some(host) = url.host_str() {
        span.record("server.address", host);
    }
    if let Some(port) = url.port_or_known_default() {
        span.record("server.port", i64::from(port));
    }
    let cx = span.context();
    global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&cx, &mut HeaderInjector(request.headers_mut()))
    });
    let result = crate::runner::send(client, request, want_body)
        .instrument(span.clone())
        .await;
    match result.0 {
        Some(status) => {
            span.record("http.response.status_code", i64::from(status));
            if status >= 400 {
                span.record("otel.status_code", "ERROR");
                span.record("error.type", status.to_string());
            }
        }
        None => {
            span.record("otel.status_code", "ERROR");
            span.record("error.type", "transport_error");
        }
    }
    result
}

fn baggage_of(user: &User) -> Vec<KeyValue> {
    vec![
        KeyValue::new("user.id", user.id.clone()),
        KeyValue::new("user.tier", user.tier),
        KeyValue::new("user.region", user.region),
        KeyValue::new("user.device", user.device),
        KeyValue::new("user.locale", user.locale),
        KeyValue::new("user.company", user.company),
        KeyValue::new("synthetic", "true"),
    ]
}
