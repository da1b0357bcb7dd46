//! tracedojo-explorer: an OTLP receiver with an in-memory store, so tests and
//! benchmarks can assert on exactly what services exported.
//!
//! It accepts OTLP/gRPC and OTLP/HTTP (protobuf or JSON, plain or gzip) for traces, metrics and
//! logs, flattens everything into plain structs ([`StoredSpan`],
//! [`StoredMetric`], [`StoredLog`]) and lets callers wait for a condition
//! without sleeping:
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use tracedojo_explorer::Receiver;
//!
//! let receiver = Receiver::start_local().await?;
//! // Point an exporter at receiver.grpc_endpoint() or receiver.http_endpoint(), then:
//! let spans = receiver
//!     .store()
//!     .wait_for_spans(
//!         |spans| spans.iter().any(|s| s.service_name() == "checkout"),
//!         Duration::from_secs(10),
//!     )
//!     .await?;
//! println!("{} spans", spans.len());
//! receiver.shutdown().await?;
//! # Ok(())
//! # }
//! ```

pub mod any_value;
pub mod api;
pub mod convert;
pub mod exports;
pub mod grpc;
mod host_check;
pub mod http;
pub mod ids;
pub mod query;
pub mod receiver;
pub mod server;
pub mod store;
pub mod ui;

pub use exports::{DestinationHealth, ExportHealth};
pub use receiver::{Receiver, ReceiverConfig, ReceiverError};
pub use server::{Explorer, ExplorerConfig, ExplorerError, Link};
pub use store::{
    DEFAULT_MAX_BYTES, DEFAULT_MAX_SPANS, SpanStore, StoreStats, StoredEvent, StoredLink,
    StoredLog, StoredMetric, StoredSpan, Transport, WaitTimeout,
};
