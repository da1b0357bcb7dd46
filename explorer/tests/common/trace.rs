//! [`TraceBuilder`]: the spans of one trace of a known shape, exported as each service's
//! SDK would send them.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

use super::{MS, now_nanos, s};

/// The spans of one trace; times are milliseconds after `base`. Trace `n` is
/// `5a5a…5a` ending in byte `n`, its span `k` is `n 00 00 00 00 00 00 k`.
pub struct TraceBuilder {
    pub trace_id: [u8; 16],
    /// Unix nanoseconds the spans' times count from.
    pub base: u64,
    /// Each span with its service, in the order they were added.
    pub spans: Vec<(String, Span)>,
    /// Resource attributes per service beside `service.name`.
    resources: Vec<(String, Vec<KeyValue>)>,
}

impl TraceBuilder {
    /// Trace `n`, its times counted from a minute ago.
    pub fn new(n: u8) -> Self {
        Self::at(n, now_nanos() - 60_000 * MS)
    }

    /// Trace `n`, its times counted from `base` (Unix nanoseconds).
    pub fn at(n: u8, base: u64) -> Self {
        let mut trace_id = [0x5a; 16];
        trace_id[15] = n;
        TraceBuilder {
            trace_id,
            base,
            spans: Vec::new(),
            resources: Vec::new(),
        }
    }

    /// The id of span `span` of this trace.
    pub fn id(&self, span: u8) -> Vec<u8> {
        vec![self.trace_id[15], 0, 0, 0, 0, 0, 0, span]
    }

    /// The trace's id as the API writes it.
    pub fn hex(&self) -> String {
        hex(&self.trace_id)
    }

    /// Span `span`'s id as the API writes it.
    pub fn span_hex(&self, span: u8) -> String {
        hex(&self.id(span))
    }

    /// Span `id` of `service` below `parent`, from `start` to `end` ms.
    #[allow(clippy::too_many_arguments)]
    pub fn span(
        &mut self,
        service: &str,
        id: u8,
        parent: Option<u8>,
        name: &str,
        kind: SpanKind,
        (start, end): (u64, u64),
        attributes: Vec<KeyValue>,
    ) -> &mut Span {
        let span = Span {
            trace_id: self.trace_id.to_vec(),
            span_id: self.id(id),
            parent_span_id: parent.map(|p| self.id(p)).unwrap_or_default(),
            name: name.to_owned(),
            kind: kind as i32,
            start_time_unix_nano: self.base + start * MS,
            end_time_unix_nano: self.base + end * MS,
            attributes,
            ..Default::default()
        };
        self.spans.push((service.to_owned(), span));
        &mut self.spans.last_mut().expect("just pushed").1
    }

    /// Adds `attributes` to `service`'s resource.
    pub fn resource(&mut self, service: &str, attributes: Vec<KeyValue>) {
        self.resources.push((service.to_owned(), attributes));
    }

    /// The services of the trace, by name.
    pub fn services(&self) -> Vec<String> {
        let mut services: Vec<String> = self.spans.iter().map(|(s, _)| s.clone()).collect();
        services.sort_unstable();
        services.dedup();
        services
    }

    /// One `ResourceSpans` per service, in the order of their names.
    pub fn request(&self) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: self
                .services()
                .into_iter()
                .map(|service| {
                    let mut attributes = vec![s("service.name", &service)];
                    for (of, more) in &self.resources {
                        if *of == service {
                            attributes.extend(more.iter().cloned());
                        }
                    }
                    ResourceSpans {
                        resource: Some(Resource {
                            attributes,
                            ..Default::default()
                        }),
                        scope_spans: vec![ScopeSpans {
                            spans: self
                                .spans
                                .iter()
                                .filter(|(s, _)| *s == service)
                                .map(|(_, span)| span.clone())
                                .collect(),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }
                })
                .collect(),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
