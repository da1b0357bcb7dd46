//! Spans to every destination from one batch processor: each batch is encoded once and the
//! same bytes are queued to the backend and to the explorer, each sending on its own thread.
//!
//! Before, each destination had its own batch processor and exporter, so every span was
//! copied, grouped and encoded twice; with a backend and the explorer that made telemetry
//! cost half as much again.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};

use super::encode;
use super::worker::Worker;

/// The span exporter of the one batch processor: encodes, then offers to each destination.
#[derive(Debug)]
pub struct FanOut {
    destinations: Vec<Arc<Worker>>,
    resource: ResourceAttributesWithSchema,
    json: bool,
}

impl FanOut {
    pub fn new(destinations: Vec<Arc<Worker>>, json: bool) -> FanOut {
        FanOut {
            destinations,
            resource: ResourceAttributesWithSchema::default(),
            json,
        }
    }
}

impl SpanExporter for FanOut {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let payload = encode::spans(batch, &self.resource, self.json)
            .map_err(|failure| OTelSdkError::InternalFailure(failure.to_string()))?;
        let payload = Arc::new(payload);
        for destination in &self.destinations {
            destination.offer(payload.clone());
        }
        Ok(())
    }

    // The destinations' threads are closed by `Telemetry::shutdown`, after this processor's
    // last batch has been queued to them.
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = resource.into();
    }
}

/// A batch processor shared with `Telemetry` (which flushes it at the stop) that counts the
/// spans handed to it for every destination, so what was never exported can be told at the
/// stop: the SDK drops a span silently when its queue is full, and a span still queued at the
/// deadline is lost too.
#[derive(Debug)]
pub struct CountingProcessor<P> {
    pub inner: Arc<P>,
    pub destinations: Vec<Arc<Worker>>,
}

impl<P: SpanProcessor> SpanProcessor for CountingProcessor<P> {
    fn on_start(&self, span: &mut Span, cx: &opentelemetry::Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        for destination in &self.destinations {
            destination
                .stats()
                .spans_ended
                .fetch_add(1, Ordering::Relaxed);
        }
        self.inner.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    // The resource was given to the processor when it was built.
    fn set_resource(&mut self, _resource: &Resource) {}
}
