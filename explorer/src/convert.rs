//! Flattening of OTLP protobuf requests into the store's types. Pure functions
//! taking the requests by value (strings are moved, not copied), so the
//! mapping can be unit-tested without a network.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use serde_json::{Map, Number, Value};

use crate::store::{StoredEvent, StoredLink, StoredLog, StoredMetric, StoredSpan};

/// Lower-case hex of an id. Ids of unexpected length are kept as sent rather
/// than rejected: a test receiver should show what the exporter did.
pub fn hex_id(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Converts an OTLP value to JSON. Recursion is bounded because prost refuses
/// to decode messages nested deeper than its recursion limit.
pub fn any_value_to_json(value: AnyValue) -> Value {
    use any_value::Value as V;
    match value.value {
        None => Value::Null,
        Some(V::StringValue(s)) => Value::String(s),
        Some(V::BoolValue(b)) => Value::Bool(b),
        Some(V::IntValue(i)) => Value::from(i),
        Some(V::DoubleValue(d)) => double_to_json(d),
        Some(V::ArrayValue(array)) => {
            Value::Array(array.values.into_iter().map(any_value_to_json).collect())
        }
        Some(V::KvlistValue(list)) => Value::Object(
            list.values
                .into_iter()
                .map(|kv| (kv.key, kv.value.map_or(Value::Null, any_value_to_json)))
                .collect::<Map<String, Value>>(),
        ),
        Some(V::BytesValue(bytes)) => Value::String(hex_id(&bytes)),
        // Only meaningful with the profiles string table, which traces, metrics
        // and logs do not carry.
        Some(V::StringValueStrindex(_)) => Value::Null,
    }
}

/// JSON has no NaN or infinities; spell them the way OTLP/JSON does.
fn double_to_json(d: f64) -> Value {
    match Number::from_f64(d) {
        Some(n) => Value::Number(n),
        None if d.is_nan() => Value::String("NaN".to_owned()),
        None if d > 0.0 => Value::String("Infinity".to_owned()),
        None => Value::String("-Infinity".to_owned()),
    }
}

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

/// Every span of the request, each carrying its resource and scope name.
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
                out.push(StoredLog {
                    time_unix_nanos: record.time_unix_nano,
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
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, InstrumentationScope, KeyValueList};
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
    fn ids_are_lower_hex() {
        assert_eq!(hex_id(&[0x00, 0xAB, 0x0f, 0xf0]), "00ab0ff0");
        assert_eq!(hex_id(&[]), "");
    }

    #[test]
    fn any_values_map_to_json() {
        use any_value::Value as V;
        let nested = V::KvlistValue(KeyValueList {
            values: vec![
                kv("s", V::StringValue("x".into())),
                kv("b", V::BoolValue(true)),
                kv(
                    "arr",
                    V::ArrayValue(ArrayValue {
                        values: vec![
                            AnyValue {
                                value: Some(V::IntValue(-3)),
                            },
                            AnyValue {
                                value: Some(V::DoubleValue(1.5)),
                            },
                        ],
                    }),
                ),
                kv("bytes", V::BytesValue(vec![0xde, 0xad])),
                kv("nan", V::DoubleValue(f64::NAN)),
                kv("inf", V::DoubleValue(f64::NEG_INFINITY)),
            ],
        });
        let json = any_value_to_json(AnyValue {
            value: Some(nested),
        });
        assert_eq!(
            json,
            json!({"s": "x", "b": true, "arr": [-3, 1.5], "bytes": "dead", "nan": "NaN", "inf": "-Infinity"})
        );
        assert_eq!(any_value_to_json(AnyValue { value: None }), Value::Null);
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
    }
}
