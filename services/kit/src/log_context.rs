//! Puts the trace and span ids of the `tracing` span a log event happens in on its log record.
//!
//! The OpenTelemetry log bridge takes them from OpenTelemetry's own "current context", which
//! `tracing-opentelemetry` keeps only when it activates a context on every span entry. That
//! activation is a measurable part of the shop's telemetry cost (every poll of every
//! instrumented future enters a span) and nothing else here needs it, so it is off (see
//! [`crate::telemetry`]) and this processor, first in the logs pipeline, fills the ids in.

use std::time::Duration;

use opentelemetry::InstrumentationScope;
use opentelemetry::logs::LogRecord as _;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogProcessor, SdkLogRecord};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// A log processor that only sets the trace context; the batch processor after it exports.
#[derive(Debug, Default)]
pub struct TraceContextFromSpan;

impl LogProcessor for TraceContextFromSpan {
    fn emit(&self, record: &mut SdkLogRecord, _scope: &InstrumentationScope) {
        if record.trace_context().is_some() {
            return;
        }
        let context = tracing::Span::current().context();
        let span = context.span();
        let span_context = span.span_context();
        if span_context.is_valid() {
            record.set_trace_context(
                span_context.trace_id(),
                span_context.span_id(),
                Some(span_context.trace_flags()),
            );
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}
