//! Judging what arrived: every attribute key of every span, span event, span link, log record,
//! metric data point, exemplar, scope and resource, against the registries, and a report of
//! each key that breaks them and where it was seen.

use std::collections::{BTreeMap, BTreeSet};

use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{Exemplar, metric};
use opentelemetry_proto::tonic::resource::v1::Resource;

use crate::collector::{Received, service_of};
use crate::registry::Registries;

/// Why a key is not allowed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Problem {
    /// `tracing`'s `level` or `target` on a span event.
    TracingField,
    Deprecated {
        new: String,
    },
    Unknown,
    WrongType {
        expected: String,
        sent: String,
    },
    SourceLocationEventName,
}

impl Problem {
    fn describe(&self, key: &str) -> String {
        match self {
            Problem::TracingField => format!(
                "`{key}` on a span event: tracing's field, not OpenTelemetry's (the severity says the level)"
            ),
            Problem::Deprecated { new } => {
                format!("old key `{key}`, replaced by {new} (semconv/deprecated.txt)")
            }
            Problem::Unknown => format!(
                "unknown key `{key}`: in neither semconv/*.yaml nor semconv/opentelemetry-attributes.txt"
            ),
            Problem::WrongType { expected, sent } => {
                let hint = if expected == "int" && sent == "string" {
                    " (tracing-opentelemetry records an unsigned value, u16, u64 or usize, as \
                     text: record it as i64)"
                } else {
                    ""
                };
                format!("`{key}` sent as {sent}; the registry says {expected}{hint}")
            }
            Problem::SourceLocationEventName => {
                format!("log record named after a source line: event name {key:?}")
            }
        }
    }
}

/// Where a key was seen: signal, service, and the span, event, log or metric name.
type Place = (String, String, String);

#[derive(Default)]
pub(crate) struct Findings {
    pub(crate) problems: BTreeMap<(Problem, String), BTreeMap<Place, usize>>,
    /// How many of each signal's items were checked.
    checked: BTreeMap<&'static str, usize>,
    /// Every key seen, for the registry keys this run never saw.
    pub(crate) seen: BTreeSet<String>,
    services: BTreeSet<String>,
}

impl Findings {
    fn count(&mut self, signal: &'static str) {
        *self.checked.entry(signal).or_default() += 1;
    }

    fn problem(&mut self, problem: Problem, key: &str, place: &Place) {
        *self
            .problems
            .entry((problem, key.to_string()))
            .or_default()
            .entry(place.clone())
            .or_default() += 1;
    }

    fn attributes(
        &mut self,
        registries: &Registries,
        signal: &'static str,
        service: &str,
        name: &str,
        attributes: &[KeyValue],
    ) {
        self.count(signal);
        let place: Place = (signal.to_string(), service.to_string(), name.to_string());
        for kv in attributes {
            self.seen.insert(kv.key.clone());
            if signal == "span event" && matches!(kv.key.as_str(), "level" | "target") {
                self.problem(Problem::TracingField, &kv.key, &place);
                continue;
            }
            match registries.judge(&kv.key) {
                Err(problem) => self.problem(problem, &kv.key, &place),
                Ok(expected) => {
                    let sent = value_type(kv.value.as_ref());
                    let fits = sent == expected || (expected.ends_with("[]") && sent == "array");
                    if !fits {
                        let problem = Problem::WrongType {
                            expected: expected.to_string(),
                            sent: sent.to_string(),
                        };
                        self.problem(problem, &kv.key, &place);
                    }
                }
            }
        }
    }

    fn resource(&mut self, registries: &Registries, resource: Option<&Resource>, signal: &str) {
        let service = service_of(resource);
        self.services.insert(service.clone());
        let attributes = resource
            .map(|r| r.attributes.as_slice())
            .unwrap_or_default();
        let name = format!("resource of {signal}");
        self.attributes(registries, "resource", &service, &name, attributes);
    }

    fn exemplars(
        &mut self,
        registries: &Registries,
        service: &str,
        metric: &str,
        exemplars: &[Exemplar],
    ) {
        for exemplar in exemplars {
            self.attributes(
                registries,
                "exemplar",
                service,
                metric,
                &exemplar.filtered_attributes,
            );
        }
    }

    /// The attributes of an instrumentation scope, if the request names one.
    fn scope(
        &mut self,
        registries: &Registries,
        service: &str,
        scope: Option<&InstrumentationScope>,
    ) {
        if let Some(scope) = scope {
            self.attributes(registries, "scope", service, &scope.name, &scope.attributes);
        }
    }

    pub(crate) fn check(registries: &Registries, received: &Received) -> Findings {
        let mut findings = Findings::default();
        for request in &received.traces {
            for resource_spans in &request.resource_spans {
                let resource = resource_spans.resource.as_ref();
                findings.resource(registries, resource, "spans");
                let service = service_of(resource);
                for scope_spans in &resource_spans.scope_spans {
                    findings.scope(registries, &service, scope_spans.scope.as_ref());
                    for span in &scope_spans.spans {
                        findings.attributes(
                            registries,
                            "span",
                            &service,
                            &span.name,
                            &span.attributes,
                        );
                        for event in &span.events {
                            let name = format!("{} / {}", span.name, event.name);
                            findings.attributes(
                                registries,
                                "span event",
                                &service,
                                &name,
                                &event.attributes,
                            );
                        }
                        for link in &span.links {
                            findings.attributes(
                                registries,
                                "span link",
                                &service,
                                &span.name,
                                &link.attributes,
                            );
                        }
                    }
                }
            }
        }
        for request in &received.logs {
            for resource_logs in &request.resource_logs {
                let resource = resource_logs.resource.as_ref();
                findings.resource(registries, resource, "logs");
                let service = service_of(resource);
                for scope_logs in &resource_logs.scope_logs {
                    findings.scope(registries, &service, scope_logs.scope.as_ref());
                    for record in &scope_logs.log_records {
                        let name = if record.event_name.is_empty() {
                            body_text(record.body.as_ref())
                        } else {
                            record.event_name.clone()
                        };
                        findings.attributes(
                            registries,
                            "log record",
                            &service,
                            &name,
                            &record.attributes,
                        );
                        if is_source_location(&record.event_name) {
                            let place: Place = (
                                "log record".into(),
                                service.clone(),
                                body_text(record.body.as_ref()),
                            );
                            findings.problem(
                                Problem::SourceLocationEventName,
                                &record.event_name,
                                &place,
                            );
                        }
                    }
                }
            }
        }
        for request in &received.metrics {
            for resource_metrics in &request.resource_metrics {
                let resource = resource_metrics.resource.as_ref();
                findings.resource(registries, resource, "metrics");
                let service = service_of(resource);
                for scope_metrics in &resource_metrics.scope_metrics {
                    findings.scope(registries, &service, scope_metrics.scope.as_ref());
                    for metric in &scope_metrics.metrics {
                        let name = metric.name.as_str();
                        for (attributes, exemplars) in data_points(metric.data.as_ref()) {
                            findings.attributes(
                                registries,
                                "metric point",
                                &service,
                                name,
                                attributes,
                            );
                            findings.exemplars(registries, &service, name, exemplars);
                        }
                    }
                }
            }
        }
        findings
    }

    /// The failure message: each offending key, what is wrong with it, and where it was seen.
    pub(crate) fn report(&self) -> String {
        const PLACES_SHOWN: usize = 12;
        let mut out = format!(
            "{} attribute keys (or log event names) the shop sent break the registry in semconv/:\n",
            self.problems.len()
        );
        for ((problem, key), places) in &self.problems {
            let total: usize = places.values().sum();
            let times = if total == 1 { "once" } else { "times" };
            let total = if total == 1 {
                String::new()
            } else {
                format!("{total} ")
            };
            let where_ = match places.len() {
                1 => "in 1 place".to_string(),
                n => format!("in {n} places"),
            };
            out.push_str(&format!(
                "\n{}: {total}{times} {where_}\n",
                problem.describe(key)
            ));
            let mut by_count: Vec<(&Place, &usize)> = places.iter().collect();
            by_count.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            for ((signal, service, name), count) in by_count.iter().take(PLACES_SHOWN) {
                out.push_str(&format!(
                    "    {count:>5}  {signal:<12} {service:<16} {name}\n"
                ));
            }
            if places.len() > PLACES_SHOWN {
                out.push_str(&format!(
                    "           ... and {} more places\n",
                    places.len() - PLACES_SHOWN
                ));
            }
        }
        out
    }

    pub(crate) fn summary(&self) -> String {
        let checked: Vec<String> = self
            .checked
            .iter()
            .map(|(signal, count)| format!("{count} {signal}"))
            .collect();
        format!(
            "checked the attributes of {} from {:?}",
            checked.join(", "),
            self.services
        )
    }
}

/// The attributes and exemplars of each data point of a metric, whatever its kind.
fn data_points(data: Option<&metric::Data>) -> Vec<(&[KeyValue], &[Exemplar])> {
    match data {
        Some(metric::Data::Gauge(gauge)) => gauge
            .data_points
            .iter()
            .map(|p| (p.attributes.as_slice(), p.exemplars.as_slice()))
            .collect(),
        Some(metric::Data::Sum(sum)) => sum
            .data_points
            .iter()
            .map(|p| (p.attributes.as_slice(), p.exemplars.as_slice()))
            .collect(),
        Some(metric::Data::Histogram(histogram)) => histogram
            .data_points
            .iter()
            .map(|p| (p.attributes.as_slice(), p.exemplars.as_slice()))
            .collect(),
        Some(metric::Data::ExponentialHistogram(histogram)) => histogram
            .data_points
            .iter()
            .map(|p| (p.attributes.as_slice(), p.exemplars.as_slice()))
            .collect(),
        Some(metric::Data::Summary(summary)) => summary
            .data_points
            .iter()
            .map(|p| (p.attributes.as_slice(), &[][..]))
            .collect(),
        None => Vec::new(),
    }
}

fn value_type(value: Option<&AnyValue>) -> &'static str {
    match value.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(_)) => "string",
        Some(any_value::Value::IntValue(_)) => "int",
        Some(any_value::Value::DoubleValue(_)) => "double",
        Some(any_value::Value::BoolValue(_)) => "boolean",
        Some(any_value::Value::ArrayValue(_)) => "array",
        Some(any_value::Value::KvlistValue(_)) => "a key-value list",
        Some(any_value::Value::BytesValue(_)) => "bytes",
        Some(any_value::Value::StringValueStrindex(_)) => "a string index",
        None => "no value",
    }
}

/// A log body in a few words, to say which record a finding is about.
fn body_text(body: Option<&AnyValue>) -> String {
    let text = match body.and_then(|b| b.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    };
    let mut short: String = text.chars().take(60).collect();
    if short.len() < text.len() {
        short.push_str("...");
    }
    format!("{short:?}")
}

/// `event services/cart/src/routes.rs:75`: the name `tracing` gives an event without one.
fn is_source_location(name: &str) -> bool {
    name.strip_prefix("event ")
        .and_then(|location| location.rsplit_once(':'))
        .is_some_and(|(file, line)| {
            !file.is_empty() && !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit())
        })
}

#[test]
fn source_locations_are_recognised_as_log_event_names() {
    assert!(is_source_location("event services/cart/src/routes.rs:75"));
    assert!(is_source_location("event src/main.rs:9"));
    assert!(!is_source_location("order placed"));
    assert!(!is_source_location("event tracedojo.order.placed"));
    assert!(!is_source_location(""));
}

#[test]
fn old_unknown_and_mistyped_keys_are_found_and_said_where() {
    let registries = Registries::load();
    let text = |key: &str, value: &str| KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..KeyValue::default()
    };
    let mut findings = Findings::default();
    let attributes = [
        text("tracedojo.user.tier", "gold"),
        text("http.route", "/cart"),
        text("user.tier", "gold"),
        text("tier", "gold"),
        text("tracedojo.order.id", "42"),
    ];
    findings.attributes(&registries, "span", "cart", "GET /cart", &attributes);
    findings.attributes(
        &registries,
        "span event",
        "cart",
        "GET /cart / added",
        &[text("level", "INFO")],
    );
    let found: Vec<(Problem, String)> = findings.problems.keys().cloned().collect();
    assert_eq!(
        found,
        [
            (Problem::TracingField, "level".to_string()),
            (
                Problem::Deprecated {
                    new: "tracedojo.user.tier".into()
                },
                "user.tier".to_string()
            ),
            (Problem::Unknown, "tier".to_string()),
            (
                Problem::WrongType {
                    expected: "int".into(),
                    sent: "string".into()
                },
                "tracedojo.order.id".to_string()
            ),
        ]
    );
    let report = findings.report();
    assert!(
        report.contains("old key `user.tier`, replaced by tracedojo.user.tier"),
        "{report}"
    );
    assert!(
        report.contains("span         cart             GET /cart"),
        "{report}"
    );
}
