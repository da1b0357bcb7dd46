//! The export self-check behind `tracedojo doctor`: one test span, one metric point and one
//! log record sent to the configured destination of each signal, with the outcome of each in
//! the words of [`ExportFailure`].
//!
//! The three are sent side by side, so the whole check ends within one timeout even when the
//! backend never answers. The span is a real trace a person can then look up in the backend
//! (its id is in the result), under the service `tracedojo-doctor`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span, status,
};

use super::encode::Payload;
use super::failure::ExportFailure;
use super::sender::{Delivered, Sender};
use super::settings::DestinationSettings;
use crate::otel_env::{self, EnvError, Signal};

/// The service name the test telemetry carries.
pub const DOCTOR_SERVICE: &str = "tracedojo-doctor";

/// What happened to one signal's test item.
#[derive(Debug)]
pub struct SignalCheck {
    pub signal: Signal,
    /// Where it went, for a person (credentials hidden); empty when the signal is off.
    pub destination: String,
    /// The proxy it went through, if any (credentials hidden).
    pub proxy: Option<String>,
    pub outcome: Outcome,
}

#[derive(Debug)]
pub enum Outcome {
    Delivered(Delivered),
    Failed(ExportFailure),
    /// Turned off (`OTEL_TRACES_EXPORTER=none`, or the SDK disabled): nothing to check.
    Off(String),
}

impl SignalCheck {
    /// Delivered, or deliberately off.
    pub fn passed(&self) -> bool {
        !matches!(self.outcome, Outcome::Failed(_))
    }
}

/// The whole check: each signal's outcome, and the test trace's id.
#[derive(Debug)]
pub struct Report {
    pub trace_id: String,
    pub checks: Vec<SignalCheck>,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.checks.iter().all(SignalCheck::passed)
    }
}

/// Reads the `OTEL_*` settings of each signal (a bad one is an error before anything is sent)
/// and sends each signal's test item, waiting at most `timeout` for each answer.
/// `namespace` is the participant's (`service.namespace`), so the test span shows up beside
/// the participant's services.
pub async fn run(timeout: Duration, namespace: Option<&str>) -> Result<Report, EnvError> {
    otel_env::validate_all()?;
    let trace_id: [u8; 16] = rand::random();
    let span_id: [u8; 8] = rand::random();
    let resource = test_resource(namespace);
    let mut planned = Vec::new();
    for signal in [Signal::Traces, Signal::Metrics, Signal::Logs] {
        if otel_env::sdk_disabled()? {
            planned.push((signal, Err("OTEL_SDK_DISABLED=true".to_string())));
            continue;
        }
        if !otel_env::exporter_enabled(signal)? {
            planned.push((
                signal,
                Err(format!("OTEL_{}_EXPORTER=none", signal.upper())),
            ));
            continue;
        }
        let mut settings = DestinationSettings::from_env(signal)?;
        settings.timeout = settings.timeout.min(timeout);
        planned.push((signal, Ok(settings)));
    }
    let sends = planned.into_iter().map(|(signal, settings)| {
        let resource = resource.clone();
        async move {
            let settings = match settings {
                Ok(settings) => settings,
                Err(why) => {
                    return SignalCheck {
                        signal,
                        destination: String::new(),
                        proxy: None,
                        outcome: Outcome::Off(why),
                    };
                }
            };
            let destination = settings.describe();
            let json = settings.protocol == otel_env::Protocol::HttpJson;
            let sender = match Sender::new(settings) {
                Ok(sender) => sender,
                Err(failure) => {
                    return SignalCheck {
                        signal,
                        destination,
                        proxy: None,
                        outcome: Outcome::Failed(failure),
                    };
                }
            };
            let outcome = match test_payload(signal, resource, trace_id, span_id, json) {
                Ok(payload) => match sender.send(&payload).await {
                    Ok(delivered) => Outcome::Delivered(delivered),
                    Err(failure) => Outcome::Failed(failure),
                },
                Err(failure) => Outcome::Failed(failure),
            };
            SignalCheck {
                signal,
                destination,
                proxy: sender.proxy(),
                outcome,
            }
        }
    });
    let checks = futures_util::future::join_all(sends).await;
    Ok(Report {
        trace_id: hex(&trace_id),
        checks,
    })
}

fn test_resource(namespace: Option<&str>) -> Resource {
    let namespace = namespace
        .map(str::to_string)
        .or_else(|| otel_env::resource_attribute("service.namespace"))
        .unwrap_or_else(|| "tracedojo".into());
    Resource {
        attributes: vec![
            text("service.name", DOCTOR_SERVICE),
            text("service.namespace", &namespace),
            text("host.name", &crate::resource::host_name()),
        ],
        ..Resource::default()
    }
}

fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: "tracedojo doctor".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        ..InstrumentationScope::default()
    }
}

fn text(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..KeyValue::default()
    }
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

fn test_payload(
    signal: Signal,
    resource: Resource,
    trace_id: [u8; 16],
    span_id: [u8; 8],
    json: bool,
) -> Result<Payload, ExportFailure> {
    let end = now_nanos();
    let start = end.saturating_sub(1_000_000);
    match signal {
        Signal::Traces => Payload::from_message(
            &ExportTraceServiceRequest {
                resource_spans: vec![ResourceSpans {
                    resource: Some(resource),
                    scope_spans: vec![ScopeSpans {
                        scope: Some(scope()),
                        spans: vec![Span {
                            trace_id: trace_id.to_vec(),
                            span_id: span_id.to_vec(),
                            name: "tracedojo doctor export check".into(),
                            kind: span::SpanKind::Internal as i32,
                            start_time_unix_nano: start,
                            end_time_unix_nano: end,
                            status: Some(Status {
                                code: status::StatusCode::Ok as i32,
                                ..Status::default()
                            }),
                            ..Span::default()
                        }],
                        ..ScopeSpans::default()
                    }],
                    ..ResourceSpans::default()
                }],
            },
            1,
            json,
        ),
        Signal::Metrics => Payload::from_message(
            &ExportMetricsServiceRequest {
                resource_metrics: vec![ResourceMetrics {
                    resource: Some(resource),
                    scope_metrics: vec![ScopeMetrics {
                        scope: Some(scope()),
                        metrics: vec![Metric {
                            name: "tracedojo.doctor.checks".into(),
                            description: "An export self-check of tracedojo doctor".into(),
                            unit: "{check}".into(),
                            data: Some(metric::Data::Gauge(Gauge {
                                data_points: vec![NumberDataPoint {
                                    time_unix_nano: end,
                                    value: Some(number_data_point::Value::AsInt(1)),
                                    ..NumberDataPoint::default()
                                }],
                            })),
                            ..Metric::default()
                        }],
                        ..ScopeMetrics::default()
                    }],
                    ..ResourceMetrics::default()
                }],
            },
            1,
            json,
        ),
        Signal::Logs => Payload::from_message(
            &ExportLogsServiceRequest {
                resource_logs: vec![ResourceLogs {
                    resource: Some(resource),
                    scope_logs: vec![ScopeLogs {
                        scope: Some(scope()),
                        log_records: vec![LogRecord {
                            time_unix_nano: end,
                            observed_time_unix_nano: end,
                            severity_number: SeverityNumber::Info as i32,
                            severity_text: "INFO".into(),
                            body: Some(AnyValue {
                                value: Some(any_value::Value::StringValue(
                                    "tracedojo doctor export check".into(),
                                )),
                            }),
                            trace_id: trace_id.to_vec(),
                            span_id: span_id.to_vec(),
                            ..LogRecord::default()
                        }],
                        ..ScopeLogs::default()
                    }],
                    ..ResourceLogs::default()
                }],
            },
            1,
            json,
        ),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
