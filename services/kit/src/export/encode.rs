//! Telemetry turned into OTLP request bodies, once per batch whatever the number of
//! destinations: protobuf always, JSON only when a destination asked for `http/json`.
//! Spans, the bulk of it, have a protobuf writer of their own (see [`super::span_proto`]).

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_sdk::logs::LogBatch;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::trace::SpanData;
use prost::Message;

use super::failure::ExportFailure;

/// One batch, encoded.
#[derive(Debug, Clone)]
pub struct Payload {
    pub proto: Bytes,
    json: Option<Bytes>,
    /// Spans, data points or log records in it.
    pub items: u64,
}

impl Payload {
    /// The OTLP/JSON body, present when the batch was encoded for a JSON destination.
    pub fn json(&self) -> Result<Bytes, ExportFailure> {
        self.json.clone().ok_or_else(|| ExportFailure::Other {
            problem: "the batch was not encoded as JSON".into(),
        })
    }

    /// Encodes one OTLP request message holding `items` items.
    pub fn from_message<M: Message + serde::Serialize>(
        message: &M,
        items: u64,
        json: bool,
    ) -> Result<Payload, ExportFailure> {
        let json = if json {
            Some(Bytes::from(serde_json::to_vec(message).map_err(|err| {
                ExportFailure::Other {
                    problem: format!("could not encode the batch as OTLP/JSON: {err}"),
                }
            })?))
        } else {
            None
        };
        Ok(Payload {
            proto: Bytes::from(message.encode_to_vec()),
            json,
            items,
        })
    }
}

/// A batch of spans. Without a JSON destination (the usual case) the protobuf is written
/// straight from the span data ([`super::span_proto`]); with one, both encodings come from
/// `opentelemetry-proto`'s messages, [`spans_request`].
pub fn spans(
    batch: Vec<SpanData>,
    resource: &ResourceAttributesWithSchema,
    json: bool,
) -> Result<Payload, ExportFailure> {
    let items = batch.len() as u64;
    if !json {
        return Ok(Payload {
            proto: Bytes::from(super::span_proto::encode_request(&batch, resource)),
            json: None,
            items,
        });
    }
    Payload::from_message(&spans_request(batch, resource), items, json)
}

/// The general path: `opentelemetry-proto`'s request message for a batch of spans.
pub fn spans_request(
    mut batch: Vec<SpanData>,
    resource: &ResourceAttributesWithSchema,
) -> ExportTraceServiceRequest {
    use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
    for span in &mut batch {
        for event in &mut span.events.events {
            // `tracing-opentelemetry` adds the `tracing` level and module to every span event;
            // the level is no OpenTelemetry attribute and the module is noise in a backend.
            event
                .attributes
                .retain(|kv| !matches!(kv.key.as_str(), "level" | "target"));
        }
    }
    ExportTraceServiceRequest {
        resource_spans: group_spans_by_resource_and_scope(batch, resource),
    }
}

pub fn metrics(metrics: &ResourceMetrics, json: bool) -> Result<Payload, ExportFailure> {
    let request = ExportMetricsServiceRequest::from(metrics);
    let items = request
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .map(|m| data_points(m) as u64)
        .sum();
    Payload::from_message(&request, items, json)
}

pub fn logs(
    batch: &LogBatch<'_>,
    resource: &ResourceAttributesWithSchema,
    json: bool,
) -> Result<Payload, ExportFailure> {
    use opentelemetry_proto::transform::logs::tonic::group_logs_by_resource_and_scope;
    let mut request = ExportLogsServiceRequest {
        resource_logs: group_logs_by_resource_and_scope(batch, resource),
    };
    for record in request
        .resource_logs
        .iter_mut()
        .flat_map(|r| &mut r.scope_logs)
        .flat_map(|s| &mut s.log_records)
    {
        if is_source_location(&record.event_name) {
            record.event_name.clear();
        }
    }
    let items = request
        .resource_logs
        .iter()
        .flat_map(|r| &r.scope_logs)
        .map(|s| s.log_records.len() as u64)
        .sum();
    Payload::from_message(&request, items, json)
}

/// Whether an event name is the one `tracing` gives an event that has none of its own,
/// `event services/cart/src/routes.rs:75`: a source line, not an event name a backend can use.
fn is_source_location(name: &str) -> bool {
    name.strip_prefix("event ")
        .and_then(|location| location.rsplit_once(':'))
        .is_some_and(|(file, line)| {
            file.ends_with(".rs") && !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit())
        })
}

fn data_points(metric: &opentelemetry_proto::tonic::metrics::v1::Metric) -> usize {
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    match &metric.data {
        Some(Data::Gauge(g)) => g.data_points.len(),
        Some(Data::Sum(s)) => s.data_points.len(),
        Some(Data::Histogram(h)) => h.data_points.len(),
        Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
        Some(Data::Summary(s)) => s.data_points.len(),
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::is_source_location;

    #[test]
    fn tracing_default_event_names_are_recognised_and_real_names_kept() {
        assert!(is_source_location("event services/cart/src/routes.rs:75"));
        assert!(is_source_location("event src/service.rs:94"));
        assert!(!is_source_location("order placed"));
        assert!(!is_source_location("event"));
        assert!(!is_source_location("event tracedojo.order.placed"));
        assert!(!is_source_location("event notes.rs:"));
    }
}
