//! What every tracedojo service shares.
//!
//! A service crate only holds its routes, its SQL and its business rules. Everything about
//! *how* a request is traced lives here, so a reader finds it in one place:
//!
//! - [`telemetry`]: reads the standard `OTEL_*` variables and installs the tracer, meter and
//!   logger providers (OTLP over gRPC or HTTP/protobuf);
//! - [`resource`] and [`propagation`]: what names each process in its telemetry, and which
//!   trace-context headers travel between services;
//! - [`participant`]: the workshop participant's name, checked, which becomes
//!   `service.namespace` so many people can share one backend account;
//! - [`server`]: the HTTP server layer that turns every request into a SERVER span and a
//!   `http.server.request.duration` measurement, and serves a router until shutdown;
//! - [`client`]: the traced HTTP client that makes CLIENT spans and injects W3C trace context
//!   and baggage into every outgoing call;
//! - [`db`]: the SQLite pool, the helper that wraps each query in a database CLIENT span, write
//!   transactions that commit whole or not at all, the storage health `/health` reports, and
//!   the pruning that keeps tables of finished work to their newest rows;
//! - [`queue`]: a durable queue on a database table, with PRODUCER and CONSUMER spans;
//! - [`outbox`]: messages written in the same transaction as the change they announce, then
//!   relayed to the queue;
//! - [`baggage`]: the user attributes that travel with every request;
//! - [`error`]: the JSON error type every service answers with;
//! - [`faults`]: where the server, client and database hooks consult the fault plan;
//! - [`shutdown`]: Ctrl-C / SIGTERM as a future;
//! - [`vendors`]: the `--to VENDOR` presets: each backend's OTLP endpoint, protocol and headers;
//! - [`testing`]: a scratch directory for the services' own tests.

pub mod baggage;
pub mod client;
pub mod db;
pub mod error;
pub mod export;
pub mod faults;
mod log_context;
pub mod metrics;
pub mod otel_env;
pub mod outbox;
pub mod participant;
pub mod propagation;
pub mod queue;
pub mod resource;
pub mod routing;
pub mod server;
pub mod shutdown;
pub mod telemetry;
pub mod testing;
pub mod vendors;

pub use client::{ClientError, HttpClient};
pub use db::{Db, Statement};
pub use error::ApiError;
pub use server::serve;
pub use telemetry::{Telemetry, TelemetryError};
