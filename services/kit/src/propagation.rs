//! Which trace-context formats travel on every call between services (`OTEL_PROPAGATORS`).
//!
//! The W3C `traceparent` and `baggage` headers by default; Zipkin's B3 (`b3` for the single
//! header, `b3multi` for `X-B3-TraceId` and friends) when a participant's own service or a
//! mesh speaks only that. The client injects and the server extracts through the one global
//! propagator installed here, so choosing another format is a setting, not a code change.

use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{
    Extractor, Injector, TextMapCompositePropagator, TextMapPropagator,
};
use opentelemetry::{Context, global};
use opentelemetry_propagator_b3::{B3Encoding, Propagator as B3Propagator};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};

use crate::otel_env::{self, EnvError, Propagator};

/// Installs the process-wide propagator that `OTEL_PROPAGATORS` asks for.
pub fn install() -> Result<(), EnvError> {
    global::set_text_map_propagator(composite(&otel_env::propagators()?));
    Ok(())
}

/// The chosen formats as one propagator, in the order given: each injects its headers, and
/// on extraction a later one's trace context replaces an earlier one's.
fn composite(chosen: &[Propagator]) -> TextMapCompositePropagator {
    let propagators = chosen
        .iter()
        .map(|propagator| -> Box<dyn TextMapPropagator + Send + Sync> {
            match propagator {
                Propagator::TraceContext => Box::new(TraceContextPropagator::new()),
                Propagator::Baggage => Box::new(BaggagePropagator::new()),
                Propagator::B3 => Box::new(SingleHeaderOnly(B3Propagator::with_encoding(
                    B3Encoding::SingleHeader,
                ))),
                Propagator::B3Multi => {
                    Box::new(B3Propagator::with_encoding(B3Encoding::MultipleHeader))
                }
            }
        })
        .collect();
    TextMapCompositePropagator::new(propagators)
}

/// B3 in its single-header form only. The crate's single-header mode also writes the
/// `X-B3-*` headers (0.33.1 tests its "unspecified" encoding bit with a mask of zero, which
/// always matches), so a choice of `b3` would send both forms; this keeps the `b3` header alone.
#[derive(Debug)]
struct SingleHeaderOnly(B3Propagator);

impl TextMapPropagator for SingleHeaderOnly {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        self.0.inject_context(cx, &mut OnlyB3Header(injector));
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        self.0.extract_with_context(cx, extractor)
    }

    fn fields(&self) -> FieldIter<'_> {
        self.0.fields()
    }
}

struct OnlyB3Header<'a>(&'a mut dyn Injector);

impl Injector for OnlyB3Header<'_> {
    fn set(&mut self, key: &str, value: String) {
        if key.eq_ignore_ascii_case("b3") {
            self.0.set(key, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use opentelemetry::baggage::BaggageExt;
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
    };
    use opentelemetry::{Context, KeyValue};

    use super::*;

    fn sampled_context() -> Context {
        let span = SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        );
        Context::new()
            .with_remote_span_context(span)
            .with_baggage([KeyValue::new("tracedojo.user.tier", "gold")])
    }

    fn injected(chosen: &[Propagator]) -> HashMap<String, String> {
        let mut headers = HashMap::new();
        composite(chosen).inject_context(&sampled_context(), &mut headers);
        headers
    }

    #[test]
    fn b3multi_with_baggage_sends_x_b3_headers_and_no_traceparent() {
        let headers = injected(&[Propagator::B3Multi, Propagator::Baggage]);
        assert_eq!(headers["x-b3-traceid"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(headers["x-b3-spanid"], "00f067aa0ba902b7");
        assert_eq!(headers["x-b3-sampled"], "1");
        assert_eq!(headers["baggage"], "tracedojo.user.tier=gold");
        assert!(!headers.contains_key("traceparent"), "{headers:?}");
        assert!(!headers.contains_key("b3"), "{headers:?}");
    }

    #[test]
    fn b3_sends_the_single_header_and_reads_it_back() {
        let headers = injected(&[Propagator::B3]);
        assert_eq!(
            headers["b3"],
            "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1"
        );
        assert_eq!(headers.len(), 1, "{headers:?}");
        let extracted = composite(&[Propagator::B3]).extract(&headers);
        let span = extracted.span();
        let context = span.span_context();
        assert_eq!(
            context.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert!(context.is_remote() && context.is_sampled());
    }

    #[test]
    fn none_sends_nothing() {
        assert!(injected(&[]).is_empty());
    }
}
