//! What the explorer's integration tests share, included by each with `mod common;`: OTLP
//! attribute values, the clock, a builder of traces of a known shape ([`trace`]), an explorer
//! the tests export to ([`sender`]) and plain HTTP reads of its JSON API ([`http`]).

// Each test binary uses only part of this module.
#![allow(dead_code)]

pub mod http;
pub mod sender;
pub mod trace;

use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{Status, status};

/// A millisecond in nanoseconds, the unit of OTLP times.
pub const MS: u64 = 1_000_000;

pub fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

/// A string attribute.
pub fn s(key: &str, value: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(value.to_owned()))
}

/// An integer attribute.
pub fn i(key: &str, value: i64) -> KeyValue {
    kv(key, any_value::Value::IntValue(value))
}

/// A span status of ERROR with `message`.
pub fn error_status(message: &str) -> Option<Status> {
    Some(Status {
        code: status::StatusCode::Error as i32,
        message: message.to_owned(),
    })
}

/// Now, in Unix nanoseconds.
pub fn now_nanos() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_nanos(),
    )
    .expect("fits")
}
