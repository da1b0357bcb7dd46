//! Export health: what the applications sending to this explorer also send elsewhere (their
//! own backend), per destination: spans sent and lost, and how exports fail, in words.
//!
//! The explorer cannot see another destination itself; whoever runs it next to the
//! applications (`tracedojo up`) reports it here, and the header and `/api/status` show it,
//! so a presenter sees at a glance whether the vendor's side is fed.

use std::sync::{Arc, RwLock};

use serde::Serialize;

/// One destination's health, as last reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DestinationHealth {
    /// For a person: `https://otlp.example.com/v1/traces (OTLP http/protobuf)`, no credentials.
    pub destination: String,
    pub spans_sent: u64,
    /// Refused, dropped or not delivered.
    pub spans_lost: u64,
    /// Whether the last export failed.
    pub failing: bool,
    /// The last failure in plain words (`key rejected (401): ...`), and its short kind.
    pub last_failure: Option<String>,
    pub last_failure_kind: Option<String>,
    pub last_failure_unix_ms: Option<u64>,
}

/// A shared, replaceable list of destinations; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct ExportHealth(Arc<RwLock<Vec<DestinationHealth>>>);

impl ExportHealth {
    pub fn set(&self, destinations: Vec<DestinationHealth>) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = destinations;
    }

    pub fn get(&self) -> Vec<DestinationHealth> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}
