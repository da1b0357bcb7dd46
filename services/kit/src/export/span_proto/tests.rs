//! The direct writer against the general path: the same batch, decoded, must be the same
//! request message, whatever the span holds.

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{
    Event, Link, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Array, InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::{Attributes, ResourceAttributesWithSchema};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use prost::Message;

use super::encode_request;
use crate::export::encode::spans_request;

fn context(trace: u128, span: u64, remote: bool, state: TraceState) -> SpanContext {
    SpanContext::new(
        TraceId::from(trace),
        SpanId::from(span),
        TraceFlags::SAMPLED,
        remote,
        state,
    )
}

fn at(nanos: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_nanos(nanos)
}

fn scope(name: &'static str) -> InstrumentationScope {
    InstrumentationScope::builder(name).build()
}

fn span(name: &'static str, span_id: u64, parent: u64, kind: SpanKind) -> SpanData {
    SpanData {
        span_context: context(
            0x0123_4567_89ab_cdef_0011_2233_4455_6677,
            span_id,
            false,
            TraceState::NONE,
        ),
        parent_span_id: SpanId::from(parent),
        parent_span_is_remote: false,
        span_kind: kind,
        name: Cow::Borrowed(name),
        start_time: at(1_764_000_000_000_000_000),
        end_time: at(1_764_000_000_012_345_678),
        attributes: Vec::new(),
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: Status::Unset,
        instrumentation_scope: scope("tracedojo"),
    }
}

fn resource() -> ResourceAttributesWithSchema {
    ResourceAttributesWithSchema {
        attributes: Attributes::from([
            KeyValue::new("service.name", "checkout"),
            KeyValue::new("service.namespace", "team-7"),
        ]),
        schema_url: Some("https://opentelemetry.io/schemas/1.30.0".to_string()),
    }
}

fn assert_same_request(batch: Vec<SpanData>, resource: &ResourceAttributesWithSchema) {
    let direct = encode_request(&batch, resource);
    let decoded = ExportTraceServiceRequest::decode(direct.as_slice())
        .expect("the direct writer's bytes decode as an ExportTraceServiceRequest");
    let general = spans_request(batch, resource);
    assert_eq!(decoded, general);
    // Not only equal once decoded: as long as prost's own encoding (which orders fields the
    // same way and leaves out the same defaults).
    assert_eq!(direct.len(), general.encode_to_vec().len());
}

#[test]
fn a_server_span_with_the_usual_attributes() {
    let mut server = span("POST /checkout", 2, 1, SpanKind::Server);
    server.parent_span_is_remote = true;
    server.span_context = context(7, 2, false, TraceState::NONE);
    server.attributes = vec![
        KeyValue::new("http.request.method", "POST"),
        KeyValue::new("http.route", "/checkout"),
        KeyValue::new("http.response.status_code", 201_i64),
        KeyValue::new("server.port", 8085_i64),
        KeyValue::new("url.query", ""),
        KeyValue::new("tracedojo.user.company", "株式会社コントソ"),
    ];
    assert_same_request(vec![server], &resource());
}

#[test]
fn every_kind_of_value_and_span() {
    let mut batch = Vec::new();
    for (n, kind) in [
        SpanKind::Internal,
        SpanKind::Server,
        SpanKind::Client,
        SpanKind::Producer,
        SpanKind::Consumer,
    ]
    .into_iter()
    .enumerate()
    {
        batch.push(span("step", 10 + n as u64, 0, kind));
    }
    batch[0].attributes = vec![
        KeyValue::new("yes", true),
        KeyValue::new("no", false),
        KeyValue::new("zero", 0_i64),
        KeyValue::new("negative", -42_i64),
        KeyValue::new("min", i64::MIN),
        KeyValue::new("max", i64::MAX),
        KeyValue::new("ratio", 0.25),
        KeyValue::new("zero.double", 0.0),
        KeyValue::new("negative.double", -1.5e300),
        KeyValue::new("", "a value under an empty key"),
        KeyValue::new("long", "x".repeat(300)),
        KeyValue::new("flags", Value::Array(Array::Bool(vec![true, false, true]))),
        KeyValue::new("ints", Value::Array(Array::I64(vec![0, 1, -1, 300]))),
        KeyValue::new("doubles", Value::Array(Array::F64(vec![0.0, 2.5]))),
        KeyValue::new(
            "strings",
            Value::Array(Array::String(vec![
                StringValue::from("a"),
                StringValue::from(""),
                StringValue::from("日本語"),
            ])),
        ),
        KeyValue::new("empty.array", Value::Array(Array::I64(Vec::new()))),
    ];
    batch[1].dropped_attributes_count = 3;
    batch[2].status = Status::error("connection refused");
    batch[3].status = Status::Ok;
    batch[4].status = Status::error("");
    assert_same_request(batch, &resource());
}

#[test]
fn events_links_trace_state_and_dropped_counts() {
    let mut failing = span("UPDATE stock", 3, 2, SpanKind::Client);
    failing.span_context = context(
        9,
        3,
        false,
        TraceState::from_key_value([("vendor", "abc"), ("other", "1")]).expect("valid state"),
    );
    failing.events.events.push(Event::new(
        "exception",
        at(1_764_000_000_005_000_000),
        vec![
            KeyValue::new("exception.type", "database is locked"),
            KeyValue::new("exception.message", "SQLITE_BUSY"),
            // tracing-opentelemetry's own additions, which neither path sends.
            KeyValue::new("level", "ERROR"),
            KeyValue::new("target", "tracedojo_kit::db"),
        ],
        1,
    ));
    failing
        .events
        .events
        .push(Event::new("retry", at(0), Vec::new(), 0));
    failing.events.dropped_count = 2;
    failing.links.links.push(Link::new(
        context(11, 12, true, TraceState::NONE),
        vec![KeyValue::new("messaging.message.id", "42")],
        4,
    ));
    failing.links.links.push(Link::new(
        context(13, 14, false, TraceState::NONE),
        Vec::new(),
        0,
    ));
    failing.links.dropped_count = 5;
    failing.status = Status::error("database is locked");
    assert_same_request(vec![failing], &resource());
}

#[test]
fn spans_of_several_scopes_group_as_the_general_path_groups_them() {
    let mut batch = vec![
        span("a", 1, 0, SpanKind::Server),
        span("b", 2, 1, SpanKind::Internal),
        span("c", 3, 1, SpanKind::Client),
        span("d", 4, 1, SpanKind::Client),
    ];
    batch[1].instrumentation_scope = InstrumentationScope::builder("sqlx")
        .with_version("0.9.0")
        .with_schema_url("https://opentelemetry.io/schemas/1.29.0")
        .with_attributes([KeyValue::new("scope.attribute", 1_i64)])
        .build();
    batch[3].instrumentation_scope = batch[1].instrumentation_scope.clone();
    assert_same_request(batch, &resource());
    assert_same_request(
        vec![span("alone", 1, 0, SpanKind::Internal)],
        &ResourceAttributesWithSchema::default(),
    );
}

#[test]
fn an_empty_batch_is_an_empty_resource() {
    assert_same_request(Vec::new(), &resource());
}
