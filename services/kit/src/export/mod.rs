//! Sending telemetry over OTLP to the user's backend and to the explorer.
//!
//! The OpenTelemetry SDK batches spans, reads metrics and collects logs; from there on this
//! module does the sending, for three reasons a demo in front of customers needs:
//!
//! - **encode once** ([`spans`]): each batch of spans is encoded once and the same bytes go to
//!   every destination, each on its own thread and queue ([`worker`]), so a silent backend
//!   never holds up the explorer and the shop never waits for either; the protobuf is written
//!   straight from the SDK's span data ([`span_proto`]), with no message objects in between;
//! - **plain words** ([`failure`], [`classify`]): a failed export becomes "key rejected (401)",
//!   "endpoint path wrong (404 ...)", "TLS problem: unknown CA" ..., the same words in
//!   `tracedojo doctor`, in `up`'s warnings and in `/health`;
//! - **every setting a corporate network needs** ([`settings`], [`proxy`]): a custom CA,
//!   mutual TLS, gzip, `HTTPS_PROXY` / `NO_PROXY`, and `http/json`, for all three signals.
//!
//! A reader adding a destination starts at [`settings::DestinationSettings`], then
//! [`worker::Worker::start`].

pub mod check;
pub mod classify;
pub mod encode;
pub mod failure;
pub mod proxy;
pub mod sender;
pub mod settings;
pub mod signals;
pub mod span_proto;
pub mod spans;
pub mod stats;
#[cfg(test)]
pub(crate) mod test_server;
pub mod worker;

pub use failure::ExportFailure;
pub use sender::{Delivered, Sender};
pub use settings::DestinationSettings;
pub use stats::ExportStats;
pub use worker::Worker;
