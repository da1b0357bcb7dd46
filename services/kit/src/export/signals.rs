//! Metrics and logs through the same destinations as spans, so every signal honours the same
//! settings (TLS files, gzip, proxy, `http/json`) and fails in the same words. They are few
//! (a reading every ten seconds, a log line now and then), so the SDK's thread waits for each
//! answer instead of queueing.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::logs::{LogBatch, LogExporter};
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;

use super::encode;
use super::worker::Worker;
use crate::otel_env::{EnvError, Protocol};

/// How long the SDK's thread waits for one metric or log export beyond the destination's own
/// timeout (the answer travels back through a channel).
const ANSWER_SLACK: Duration = Duration::from_secs(1);

pub struct MetricsToDestination {
    pub worker: Arc<Worker>,
    pub temporality: Temporality,
    pub timeout: Duration,
    pub json: bool,
}

impl PushMetricExporter for MetricsToDestination {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let payload = encode::metrics(metrics, self.json)
            .map_err(|failure| OTelSdkError::InternalFailure(failure.to_string()))?;
        self.worker
            .deliver(Arc::new(payload), self.timeout + ANSWER_SLACK)
            .map(|_| ())
            .map_err(|failure| OTelSdkError::InternalFailure(failure.to_string()))
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }

    fn temporality(&self) -> Temporality {
        self.temporality
    }
}

#[derive(Debug)]
pub struct LogsToDestination {
    pub worker: Arc<Worker>,
    pub resource: ResourceAttributesWithSchema,
    pub timeout: Duration,
    pub json: bool,
}

impl LogExporter for LogsToDestination {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        let payload = encode::logs(&batch, &self.resource, self.json)
            .map_err(|failure| OTelSdkError::InternalFailure(failure.to_string()))?;
        self.worker
            .deliver(Arc::new(payload), self.timeout + ANSWER_SLACK)
            .map(|_| ())
            .map_err(|failure| OTelSdkError::InternalFailure(failure.to_string()))
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = resource.into();
    }
}

/// Whether a destination's protocol needs the JSON encoding.
pub fn wants_json(protocol: Protocol) -> bool {
    protocol == Protocol::HttpJson
}

/// `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`: `cumulative` (the default), `delta`
/// (what some backends want) or `lowmemory`.
pub fn temporality() -> Result<Temporality, EnvError> {
    const VARIABLE: &str = "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE";
    match std::env::var(VARIABLE)
        .ok()
        .map(|v| v.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("") | Some("cumulative") => Ok(Temporality::Cumulative),
        Some("delta") => Ok(Temporality::Delta),
        Some("lowmemory") => Ok(Temporality::LowMemory),
        Some(other) => Err(EnvError {
            variable: VARIABLE.into(),
            problem: format!("\"{other}\" is not a temporality"),
            fix: "use cumulative (the default), delta or lowmemory".into(),
        }),
    }
}
