//! The load generator as a traced client: each request is the root CLIENT span of its trace
//! (service `loadgenerator`), carrying the user's attributes as baggage, so a trace starts
//! where a user's click would start it.

use opentelemetry::baggage::BaggageExt;
use opentelemetry::{Context, KeyValue, global};
use tracing::Instrument;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::http::{Client, Failure, Request, Response};
use crate::population::User;

/// Sends `request` under a new root span named after its endpoint (`GET /api/cart`).
pub async fn send(
    client: &Client,
    mut request: Request,
    endpoint: &'static str,
    user: &User,
) -> Result<Response, Failure> {
    let method = request.method();
    let target = client.target();
    let span = tracing::info_span!(
        parent: None,
        "http.client.request",
        otel.name = endpoint,
        otel.kind = "client",
        otel.status_code = Empty,
        http.request.method = method,
        url.full = target.url(request.path()),
        server.address = target.host(),
        server.port = i64::from(target.port()),
        http.response.status_code = Empty,
        error.type = Empty,
        tracedojo.user.tier = user.tier,
        tracedojo.user.region = user.region,
    );
    let _ = span.set_parent(Context::new().with_baggage(baggage_of(user)));
    let cx = span.context();
    global::get_text_map_propagator(|propagator| propagator.inject_context(&cx, &mut request));
    let result = client.send(&request).instrument(span.clone()).await;
    match &result {
        Ok(response) => {
            span.record("http.response.status_code", i64::from(response.status));
            if response.status >= 400 {
                span.record("otel.status_code", "ERROR");
                span.record("error.type", response.status.to_string());
            }
        }
        Err(failure) => {
            span.record("otel.status_code", "ERROR");
            span.record("error.type", failure.error_type());
        }
    }
    result
}

fn baggage_of(user: &User) -> Vec<KeyValue> {
    vec![
        KeyValue::new("user.id", user.id.clone()),
        KeyValue::new("tracedojo.user.tier", user.tier),
        KeyValue::new("tracedojo.user.region", user.region),
        KeyValue::new("tracedojo.user.device", user.device),
        KeyValue::new("tracedojo.user.locale", user.locale),
        KeyValue::new("tracedojo.user.company", user.company),
        KeyValue::new("user_agent.synthetic.type", "test"),
    ]
}
