//! OTLP/protobuf for a batch of spans, written straight from the SDK's span data.
//!
//! The general path (used for `http/json`, and the reference the tests check this one
//! against) first builds `opentelemetry-proto`'s message types — a `String` for every
//! attribute key and value, a `Vec` for every id — and then lets prost encode them. Spans are
//! the bulk of what the services send, so for them this module writes the same wire format
//! directly: each span into one buffer kept for the batch, the lengths of its attributes,
//! events and links computed from the data, and nothing allocated per span or attribute. Only the envelope (the resource and each instrumentation scope, a handful per
//! batch) goes through prost.
//!
//! Field numbers and the proto3 rule "default values are not written" follow
//! `opentelemetry/proto/trace/v1/trace.proto` and `common/v1/common.proto`.

use opentelemetry::trace::{SpanId, SpanKind, Status};
use opentelemetry::{Array, InstrumentationScope, KeyValue, Value};
use opentelemetry_proto::tonic::common::v1::InstrumentationScope as ProtoScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_sdk::trace::SpanData;
use prost::Message;

/// Wire types.
const VARINT: u32 = 0;
const FIXED64: u32 = 1;
const LEN: u32 = 2;
const FIXED32: u32 = 5;

/// The whole `ExportTraceServiceRequest` for `batch`, as one resource with a scope per
/// instrumentation scope met, in the order first met (as the general path groups them).
/// `level` and `target` attributes of span events are left out (see `encode::spans`).
pub fn encode_request(batch: &[SpanData], resource: &ResourceAttributesWithSchema) -> Vec<u8> {
    let mut scopes: Vec<(&InstrumentationScope, Vec<&SpanData>)> = Vec::new();
    for span in batch {
        match scopes
            .iter_mut()
            .find(|(scope, _)| **scope == span.instrumentation_scope)
        {
            Some((_, spans)) => spans.push(span),
            None => scopes.push((&span.instrumentation_scope, vec![span])),
        }
    }

    let mut resource_spans = Vec::with_capacity(batch.len() * 512);
    let envelope = Resource {
        attributes: resource.attributes.0.clone(),
        dropped_attributes_count: 0,
        entity_refs: Vec::new(),
    };
    put_message(&mut resource_spans, 1, &envelope.encode_to_vec());
    let mut scope_spans = Vec::new();
    // A span's length comes first on the wire: each span is written here, then copied out
    // behind its length (one copy of a few hundred bytes, instead of a second pass that
    // works the length out field by field).
    let mut span_body = Vec::with_capacity(1024);
    for (scope, spans) in scopes {
        scope_spans.clear();
        let proto_scope = ProtoScope::from((scope, None));
        put_message(&mut scope_spans, 1, &proto_scope.encode_to_vec());
        for span in spans {
            span_body.clear();
            put_span(&mut span_body, span);
            put_message(&mut scope_spans, 2, &span_body);
        }
        put_string(&mut scope_spans, 3, scope.schema_url().unwrap_or_default());
        put_message(&mut resource_spans, 2, &scope_spans);
    }
    put_string(
        &mut resource_spans,
        3,
        resource.schema_url.as_deref().unwrap_or_default(),
    );

    let mut request = Vec::with_capacity(resource_spans.len() + 10);
    put_message(&mut request, 1, &resource_spans);
    request
}

fn put_span(out: &mut Vec<u8>, span: &SpanData) {
    put_message(out, 1, &span.span_context.trace_id().to_bytes());
    put_message(out, 2, &span.span_context.span_id().to_bytes());
    put_string(out, 3, &span.span_context.trace_state().header());
    if span.parent_span_id != SpanId::INVALID {
        put_message(out, 4, &span.parent_span_id.to_bytes());
    }
    put_string(out, 5, &span.name);
    put_tag(out, 6, VARINT);
    put_varint(out, kind_number(&span.span_kind));
    put_fixed64(out, 7, nanos(span.start_time));
    put_fixed64(out, 8, nanos(span.end_time));
    for kv in &span.attributes {
        put_key_value(out, 9, kv);
    }
    put_uint(out, 10, u64::from(span.dropped_attributes_count));
    for event in span.events.iter() {
        put_tag(out, 11, LEN);
        put_varint(out, event_len(event) as u64);
        put_fixed64(out, 1, nanos(event.timestamp));
        put_string(out, 2, &event.name);
        for kv in event_attributes(event) {
            put_key_value(out, 3, kv);
        }
        put_uint(out, 4, u64::from(event.dropped_attributes_count));
    }
    put_uint(out, 12, u64::from(span.events.dropped_count));
    for link in span.links.iter() {
        put_tag(out, 13, LEN);
        put_varint(out, link_len(link) as u64);
        put_message(out, 1, &link.span_context.trace_id().to_bytes());
        put_message(out, 2, &link.span_context.span_id().to_bytes());
        put_string(out, 3, &link.span_context.trace_state().header());
        for kv in &link.attributes {
            put_key_value(out, 4, kv);
        }
        put_uint(out, 5, u64::from(link.dropped_attributes_count));
        put_fixed32(out, 6, link_flags(link));
    }
    put_uint(out, 14, u64::from(span.links.dropped_count));
    // The general path always sets a status, so an empty one is still written.
    let (code, message) = status_of(&span.status);
    put_tag(out, 15, LEN);
    put_varint(out, status_len(code, message) as u64);
    put_string(out, 2, message);
    put_uint(out, 3, code);
    put_fixed32(
        out,
        16,
        span_flags(
            span.parent_span_is_remote,
            span.span_context.trace_flags().to_u8(),
        ),
    );
}

fn event_attributes(event: &opentelemetry::trace::Event) -> impl Iterator<Item = &KeyValue> {
    event
        .attributes
        .iter()
        .filter(|kv| !matches!(kv.key.as_str(), "level" | "target"))
}

fn event_len(event: &opentelemetry::trace::Event) -> usize {
    fixed64_len(1, nanos(event.timestamp))
        + string_len(2, &event.name)
        + event_attributes(event)
            .map(|kv| message_len(3, key_value_len(kv)))
            .sum::<usize>()
        + uint_len(4, u64::from(event.dropped_attributes_count))
}

fn link_len(link: &opentelemetry::trace::Link) -> usize {
    message_len(1, 16)
        + message_len(2, 8)
        + string_len(3, &link.span_context.trace_state().header())
        + link
            .attributes
            .iter()
            .map(|kv| message_len(4, key_value_len(kv)))
            .sum::<usize>()
        + uint_len(5, u64::from(link.dropped_attributes_count))
        + tag_len(6)
        + 4
}

fn status_of(status: &Status) -> (u64, &str) {
    match status {
        Status::Unset => (0, ""),
        Status::Ok => (1, ""),
        Status::Error { description } => (2, description),
    }
}

fn status_len(code: u64, message: &str) -> usize {
    string_len(2, message) + uint_len(3, code)
}

fn kind_number(kind: &SpanKind) -> u64 {
    match kind {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}

/// `SpanFlags`: the W3C trace flags in the low byte, then "whether the parent is remote is
/// known" and "it is remote".
fn span_flags(parent_is_remote: bool, trace_flags: u8) -> u32 {
    u32::from(trace_flags) | 0x100 | if parent_is_remote { 0x200 } else { 0 }
}

fn link_flags(link: &opentelemetry::trace::Link) -> u32 {
    span_flags(
        link.span_context.is_remote(),
        link.span_context.trace_flags().to_u8(),
    )
}

fn nanos(time: std::time::SystemTime) -> u64 {
    time.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

// KeyValue { key = 1; AnyValue value = 2 }, the value always written.

fn put_key_value(out: &mut Vec<u8>, field: u32, kv: &KeyValue) {
    put_tag(out, field, LEN);
    put_varint(out, key_value_len(kv) as u64);
    put_string(out, 1, kv.key.as_str());
    put_tag(out, 2, LEN);
    put_varint(out, any_value_len(&kv.value) as u64);
    put_any_value(out, &kv.value);
}

fn key_value_len(kv: &KeyValue) -> usize {
    string_len(1, kv.key.as_str()) + message_len(2, any_value_len(&kv.value))
}

// AnyValue is a oneof: string 1, bool 2, int 3, double 4, array 5. A oneof member is written
// even when it holds its type's default.

fn put_any_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Bool(b) => put_bool_member(out, *b),
        Value::I64(i) => put_int_member(out, *i),
        Value::F64(f) => put_double_member(out, *f),
        Value::String(s) => put_string_member(out, s.as_str()),
        Value::Array(array) => {
            put_tag(out, 5, LEN);
            put_varint(out, array_len(array) as u64);
            match array {
                Array::Bool(values) => values.iter().for_each(|&b| {
                    put_array_item(out, 2, |out| put_bool_member(out, b));
                }),
                Array::I64(values) => values.iter().for_each(|&i| {
                    put_array_item(out, int_member_len(i), |out| put_int_member(out, i));
                }),
                Array::F64(values) => values.iter().for_each(|&f| {
                    put_array_item(out, 9, |out| put_double_member(out, f));
                }),
                Array::String(values) => values.iter().for_each(|s| {
                    put_array_item(out, string_member_len(s.as_str()), |out| {
                        put_string_member(out, s.as_str())
                    });
                }),
                other => {
                    let text = other.to_string();
                    put_array_item(out, string_member_len(&text), |out| {
                        put_string_member(out, &text)
                    });
                }
            }
        }
        other => put_string_member(out, &other.to_string()),
    }
}

fn any_value_len(value: &Value) -> usize {
    match value {
        Value::Bool(_) => 2,
        Value::I64(i) => int_member_len(*i),
        Value::F64(_) => 9,
        Value::String(s) => string_member_len(s.as_str()),
        Value::Array(array) => message_len(5, array_len(array)),
        other => string_member_len(&other.to_string()),
    }
}

/// ArrayValue { repeated AnyValue values = 1 }.
fn array_len(array: &Array) -> usize {
    match array {
        Array::Bool(values) => values.len() * message_len(1, 2),
        Array::I64(values) => values
            .iter()
            .map(|&i| message_len(1, int_member_len(i)))
            .sum(),
        Array::F64(values) => values.len() * message_len(1, 9),
        Array::String(values) => values
            .iter()
            .map(|s| message_len(1, string_member_len(s.as_str())))
            .sum(),
        other => message_len(1, string_member_len(&other.to_string())),
    }
}

fn put_array_item(out: &mut Vec<u8>, len: usize, member: impl FnOnce(&mut Vec<u8>)) {
    put_tag(out, 1, LEN);
    put_varint(out, len as u64);
    member(out);
}

fn put_string_member(out: &mut Vec<u8>, s: &str) {
    put_tag(out, 1, LEN);
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn string_member_len(s: &str) -> usize {
    message_len(1, s.len())
}

fn put_bool_member(out: &mut Vec<u8>, b: bool) {
    put_tag(out, 2, VARINT);
    out.push(u8::from(b));
}

fn put_int_member(out: &mut Vec<u8>, i: i64) {
    put_tag(out, 3, VARINT);
    put_varint(out, i as u64);
}

fn int_member_len(i: i64) -> usize {
    tag_len(3) + varint_len(i as u64)
}

fn put_double_member(out: &mut Vec<u8>, f: f64) {
    put_tag(out, 4, FIXED64);
    out.extend_from_slice(&f.to_le_bytes());
}

// The wire format's primitives.

fn put_tag(out: &mut Vec<u8>, field: u32, wire_type: u32) {
    put_varint(out, u64::from(field << 3 | wire_type));
}

fn tag_len(field: u32) -> usize {
    varint_len(u64::from(field << 3))
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn varint_len(value: u64) -> usize {
    // One byte per started group of seven bits; zero still takes one byte.
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

/// A length-delimited field of `len` bytes: its tag, its length, its bytes.
fn message_len(field: u32, len: usize) -> usize {
    tag_len(field) + varint_len(len as u64) + len
}

fn put_message(out: &mut Vec<u8>, field: u32, body: &[u8]) {
    put_tag(out, field, LEN);
    put_varint(out, body.len() as u64);
    out.extend_from_slice(body);
}

/// A string field, left out when empty (proto3's default).
fn put_string(out: &mut Vec<u8>, field: u32, s: &str) {
    if !s.is_empty() {
        put_message(out, field, s.as_bytes());
    }
}

fn string_len(field: u32, s: &str) -> usize {
    if s.is_empty() {
        0
    } else {
        message_len(field, s.len())
    }
}

/// An integer field, left out when zero.
fn put_uint(out: &mut Vec<u8>, field: u32, value: u64) {
    if value != 0 {
        put_tag(out, field, VARINT);
        put_varint(out, value);
    }
}

fn uint_len(field: u32, value: u64) -> usize {
    if value == 0 {
        0
    } else {
        tag_len(field) + varint_len(value)
    }
}

/// A time, left out when zero.
fn put_fixed64(out: &mut Vec<u8>, field: u32, value: u64) {
    if value != 0 {
        put_tag(out, field, FIXED64);
        out.extend_from_slice(&value.to_le_bytes());
    }
}

fn fixed64_len(field: u32, value: u64) -> usize {
    if value == 0 { 0 } else { tag_len(field) + 8 }
}

fn put_fixed32(out: &mut Vec<u8>, field: u32, value: u32) {
    put_tag(out, field, FIXED32);
    out.extend_from_slice(&value.to_le_bytes());
}

#[cfg(test)]
mod tests;
