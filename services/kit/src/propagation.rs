//! Which trace-context formats travel on every call between services (`OTEL_PROPAGATORS`).
//!
//! The W3C `traceparent` and `baggage` headers by default. The client injects and the server
//! extracts through the one global propagator installed here, so choosing another format is
//! a setting, not a code change.

use opentelemetry::global;
use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};

use crate::otel_env::{self, EnvError};

/// Installs the process-wide propagator that `OTEL_PROPAGATORS` asks for.
pub fn install() -> Result<(), EnvError> {
    let (trace_context, baggage) = otel_env::propagators()?;
    let mut propagators: Vec<Box<dyn TextMapPropagator + Send + Sync>> = Vec::new();
    if trace_context {
        propagators.push(Box::new(TraceContextPropagator::new()));
    }
    if baggage {
        propagators.push(Box::new(BaggagePropagator::new()));
    }
    global::set_text_map_propagator(TextMapCompositePropagator::new(propagators));
    Ok(())
}
