//! Spans a test writes by hand and sends as OTLP/HTTP JSON, the way any OpenTelemetry SDK
//! can send them (see [`super::ExplorerProcess::send_traces`]).

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

/// Now, in Unix nanoseconds, for the spans' times.
pub fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos()
}

/// A `/v1/traces` body holding `spans`, all of service `service` and instrumentation scope
/// `scope`.
pub fn traces_body(service: &str, scope: &str, spans: Vec<Value>) -> Value {
    json!({"resourceSpans": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": service}}
        ]},
        "scopeSpans": [{"scope": {"name": scope}, "spans": spans}]
    }]})
}
