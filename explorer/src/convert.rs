//! Flattening of OTLP protobuf requests into the store's plain types. Pure functions
//! taking the requests by value (strings are moved, not copied), so the
//! mapping can be unit-tested without a network.
//!
//! Metrics and logs are ingested through here. Spans are not: the receiver hands trace
//! requests straight to the store (`SpanStore::insert_request`), which packs them into its
//! table without building a [`StoredSpan`] first. [`spans_from_request`] is the plain
//! span-by-span mapping that the store's own tests compare it against, and the way for a tool
//! to read a request without a store.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use serde_json::Value;

// Still offered here, where the queries and the store's property tests have imported them.
pub use crate::any_value::any_value_to_json;
pub use crate::ids::hex_id;
use crate::store::{StoredEvent, StoredLink, StoredLog, StoredMetric, StoredSpan};

/// Key/value list to a map; on duplicate keys the last one wins.
pub fn attributes_to_map(attributes: Vec<KeyValue>) -> BTreeMap<String, Value> {
    attributes
        .into_iter()
        .map(|kv| (kv.key, kv.value.map_or(Value::Null, any_value_to_json)))
        .collect()
}

fn resource_to_map(resource: Option<Resource>) -> BTreeMap<String, Value> {
    resource.map_or_else(BTreeMap::new, |r| attributes_to_map(r.attributes))
}

fn kind_name(kind: i32) -> &'static str {
    match SpanKind::try_from(kind) {
        Ok(SpanKind::Server) => "SERVER",
        Ok(SpanKind::Client) => "CLIENT",
        Ok(SpanKind::Internal) => "INTERNAL",
        Ok(SpanKind::Producer) => "PRODUCER",
        Ok(SpanKind::Consumer) => "CONSUMER",
        Ok(SpanKind::Unspecified) | Err(_) => "UNSPECIFIED",
    }
}

fn status_name(code: i32) -> &'static str {
    match StatusCode::try_from(code) {
        Ok(StatusCode::Ok) => "OK",
        Ok(StatusCode::Error) => "ERROR",
        Ok(StatusCode::Unset) | Err(_) => "UNSET",
    }
}

/// Every span of the request, each carrying its resource and scope name, ids as hex.
///
/// Not the ingest path (see the module's doc): the reference the store's tests check
/// `SpanStore::insert_request` against, and a plain reading of a request for tools.
pub fn spans_from_request(request: ExportTraceServiceRequest) -> Vec<StoredSpan> {
    let mut out = Vec::new();
    for resource_spans in request.resource_spans {
        let resource = resource_to_map(resource_spans.resource);
        for scope_spans in resource_spans.scope_spans {
            let scope_name = scope_spans.scope.map(|s| s.name).unwrap_or_default();
            for span in scope_spans.spans {
                let (status_code, status_message) = match span.status {
                    Some(status) => (status_name(status.code), status.message),
                    None => ("UNSET", String::new()),
                };
                out.push(StoredSpan {
                    trace_id: hex_id(&span.trace_id),
                    span_id: hex_id(&span.span_id),
                    parent_span_id: hex_id(&span.parent_span_id),
                    name: span.name,
                    kind: kind_name(span.kind).to_owned(),
                    start_unix_nanos: span.start_time_unix_nano,
                    end_unix_nanos: span.end_time_unix_nano,
                    status_code: status_code.to_owned(),
                    status_message,
                    attributes: attributes_to_map(span.attributes),
                    events: span
                        .events
                        .into_iter()
                        .map(|e| StoredEvent {
                            name: e.name,
                            time_unix_nanos: e.time_unix_nano,
                            attributes: attributes_to_map(e.attributes),
                        })
                        .collect(),
                    links: span
                        .links
                        .into_iter()
                        .map(|l| StoredLink {
                            trace_id: hex_id(&l.trace_id),
                            span_id: hex_id(&l.span_id),
                            attributes: attributes_to_map(l.attributes),
                        })
                        .collect(),
                    resource: resource.clone(),
                    scope_name: scope_name.clone(),
                });
            }
        }
    }
    out
}

/// Every metric of the request with its data points summarised.
pub fn metrics_from_request(request: ExportMetricsServiceRequest) -> Vec<StoredMetric> {
    let mut out = Vec::new();
    for resource_metrics in request.resource_metrics {
        let resource = resource_to_map(resource_metrics.resource);
        for scope_metrics in resource_metrics.scope_metrics {
            for metric in scope_metrics.metrics {
                let (kind, point_attributes, histogram_counts) = match metric.data {
                    Some(Data::Gauge(g)) => (
                        "gauge",
                        point_attrs(g.data_points, |p| p.attributes),
                        vec![],
                    ),
                    Some(Data::Sum(s)) => {
                        ("sum", point_attrs(s.data_points, |p| p.attributes), vec![])
                    }
                    Some(Data::Histogram(h)) => {
                        let (attrs, counts) =
                            histogram_points(h.data_points, |p| (p.attributes, p.count));
                        ("histogram", attrs, counts)
                    }
                    Some(Data::ExponentialHistogram(h)) => {
                        let (attrs, counts) =
                            histogram_points(h.data_points, |p| (p.attributes, p.count));
                        ("exponential_histogram", attrs, counts)
                    }
                    Some(Data::Summary(s)) => (
                        "summary",
                        point_attrs(s.data_points, |p| p.attributes),
                        vec![],
                    ),
                    None => ("none", vec![], vec![]),
                };
                out.push(StoredMetric {
                    name: metric.name,
                    unit: metric.unit,
                    resource: resource.clone(),
                    kind: kind.to_owned(),
                    data_point_count: point_attributes.len(),
                    point_attributes,
                    histogram_counts,
                });
            }
        }
    }
    out
}

fn point_attrs<P>(
    points: Vec<P>,
    attributes: impl Fn(P) -> Vec<KeyValue>,
) -> Vec<BTreeMap<String, Value>> {
    points
        .into_iter()
        .map(|p| attributes_to_map(attributes(p)))
        .collect()
}

fn histogram_points<P>(
    points: Vec<P>,
    split: impl Fn(P) -> (Vec<KeyValue>, u64),
) -> (Vec<BTreeMap<String, Value>>, Vec<u64>) {
    points
        .into_iter()
        .map(|p| {
            let (attributes, count) = split(p);
            (attributes_to_map(attributes), count)
        })
        .unzip()
}

/// Every log record of the request, each carrying its resource.
pub fn logs_from_request(request: ExportLogsServiceRequest) -> Vec<StoredLog> {
    let mut out = Vec::new();
    for resource_logs in request.resource_logs {
        let resource = resource_to_map(resource_logs.resource);
        for scope_logs in resource_logs.scope_logs {
            for record in scope_logs.log_records {
                let body = match record.body.map(any_value_to_json) {
                    None => String::new(),
                    Some(Value::String(s)) => s,
                    Some(other) => other.to_string(),
                };
                // The OTLP spec: an unknown event time is 0, and the observed time then
                // stands for it (the tracing bridge the services use sets only that one).
                let time_unix_nanos = match record.time_unix_nano {
                    0 => record.observed_time_unix_nano,
                    time => time,
                };
                out.push(StoredLog {
                    time_unix_nanos,
                    severity_text: record.severity_text,
                    severity_number: record.severity_number,
                    body,
                    trace_id: hex_id(&record.trace_id),
                    span_id: hex_id(&record.span_id),
                    attributes: attributes_to_map(record.attributes),
                    resource: resource.clone(),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, any_value};
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::metrics::v1::{
        Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics,
        ScopeMetrics,
    };
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
    use serde_json::json;

    fn kv(key: &str, value: any_value::Value) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        }
    }

    fn resource(service: &str) -> Option<Resource> {
        Some(Resource {
            attributes: vec![kv(
                "service.name",
                any_value::Value::StringValue(service.to_owned()),
            )],
            ..Default::default()
        })
    }

    #[test]
    fn spans_are_flattened() {
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: resource("cart"),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "cart-scope".into(),
                        ..Default::default()
                    }),
                    spans: vec![Span {
                        trace_id: vec![0x11; 16],
                        span_id: vec![0x22; 8],
                        parent_span_id: vec![],
                        name: "GET /cart".into(),
                        kind: SpanKind::Server as i32,
                        start_time_unix_nano: 100,
                        end_time_unix_nano: 350,
                        attributes: vec![kv("http.status_code", any_value::Value::IntValue(500))],
                        events: vec![span::Event {
                            name: "exception".into(),
                            time_unix_nano: 200,
                            attributes: vec![kv(
                                "exception.message",
                                any_value::Value::StringValue("boom".into()),
                            )],
                            ..Default::default()
                        }],
                        links: vec![span::Link {
                            trace_id: vec![0x33; 16],
                            span_id: vec![0x44; 8],
                            ..Default::default()
                        }],
                        status: Some(Status {
                            message: "boom".into(),
                            code: StatusCode::Error as i32,
                        }),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let spans = spans_from_request(request);
        assert_eq!(spans.len(), 1);
        let s = &spans[0];
        assert_eq!(s.trace_id, "11".repeat(16));
        assert_eq!(s.span_id, "22".repeat(8));
        assert!(s.is_root());
        assert_eq!(s.kind, "SERVER");
        assert_eq!(s.status_code, "ERROR");
        assert_eq!(s.status_message, "boom");
        assert_eq!(s.duration_nanos(), 250);
        assert_eq!(s.attr_i64("http.status_code"), Some(500));
        assert_eq!(s.service_name(), "cart");
        assert_eq!(s.scope_name, "cart-scope");
        assert_eq!(s.events[0].name, "exception");
        assert_eq!(s.events[0].attributes["exception.message"], json!("boom"));
        assert_eq!(s.links[0].trace_id, "33".repeat(16));
        assert_eq!(s.links[0].span_id, "44".repeat(8));
    }

    #[test]
    fn unknown_kind_and_missing_status_are_defaults() {
        assert_eq!(kind_name(42), "UNSPECIFIED");
        assert_eq!(kind_name(SpanKind::Consumer as i32), "CONSUMER");
        assert_eq!(status_name(-1), "UNSET");
        let spans = spans_from_request(ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span::default()],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        });
        assert_eq!(spans[0].status_code, "UNSET");
        assert_eq!(spans[0].service_name(), "");
        assert_eq!(spans[0].scope_name, "");
    }

    #[test]
    fn metrics_are_summarised() {
        let request = ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: resource("payment"),
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![
                        Metric {
                            name: "http.server.request.duration".into(),
                            unit: "s".into(),
                            data: Some(Data::Histogram(Histogram {
                                data_points: vec![
                                    HistogramDataPoint {
                                        count: 7,
                                        attributes: vec![kv(
                                            "http.route",
                                            any_value::Value::StringValue("/pay".into()),
                                        )],
                                        ..Default::default()
                                    },
                                    HistogramDataPoint {
                                        count: 2,
                                        ..Default::default()
                                    },
                                ],
                                aggregation_temporality: 2,
                            })),
                            ..Default::default()
                        },
                        Metric {
                            name: "queue.depth".into(),
                            data: Some(Data::Gauge(Gauge {
                                data_points: vec![NumberDataPoint::default()],
                            })),
                            ..Default::default()
                        },
                        Metric {
                            name: "empty".into(),
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let metrics = metrics_from_request(request);
        assert_eq!(metrics.len(), 3);
        assert_eq!(metrics[0].kind, "histogram");
        assert_eq!(metrics[0].unit, "s");
        assert_eq!(metrics[0].data_point_count, 2);
        assert_eq!(metrics[0].histogram_counts, [7, 2]);
        assert_eq!(metrics[0].point_attributes[0]["http.route"], json!("/pay"));
        assert_eq!(metrics[0].service_name(), "payment");
        assert_eq!(metrics[1].kind, "gauge");
        assert!(metrics[1].histogram_counts.is_empty());
        assert_eq!(metrics[2].kind, "none");
        assert_eq!(metrics[2].data_point_count, 0);
    }

    #[test]
    fn logs_are_flattened() {
        let record = |body: Option<any_value::Value>| LogRecord {
            time_unix_nano: 5,
            severity_number: 17,
            severity_text: "ERROR".into(),
            body: body.map(|v| AnyValue { value: Some(v) }),
            trace_id: vec![0xab; 16],
            span_id: vec![0xcd; 8],
            ..Default::default()
        };
        let request = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: resource("shipping"),
                scope_logs: vec![ScopeLogs {
                    log_records: vec![
                        record(Some(any_value::Value::StringValue("no route".into()))),
                        record(Some(any_value::Value::IntValue(3))),
                        record(None),
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let logs = logs_from_request(request);
        assert_eq!(logs[0].body, "no route");
        assert_eq!(logs[1].body, "3");
        assert_eq!(logs[2].body, "");
        assert_eq!(logs[0].trace_id, "ab".repeat(16));
        assert_eq!(logs[0].span_id, "cd".repeat(8));
        assert_eq!(logs[0].severity_number, 17);
        assert_eq!(logs[0].service_name(), "shipping");
        assert_eq!(logs[0].time_unix_nanos, 5);
    }

    /// A record without an event time is placed at its observed time, not at 1970.
    #[test]
    fn a_log_without_its_time_has_the_observed_one() {
        let record = |time, observed| LogRecord {
            time_unix_nano: time,
            observed_time_unix_nano: observed,
            ..Default::default()
        };
        let request = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: resource("payment"),
                scope_logs: vec![ScopeLogs {
                    log_records: vec![record(0, 7), record(5, 7), record(0, 0)],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let times: Vec<u64> = logs_from_request(request)
            .iter()
            .map(|l| l.time_unix_nanos)
            .collect();
        assert_eq!(times, [7, 5, 0]);
    }
}
