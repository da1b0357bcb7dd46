//! Where the kit consults the fault plan (see the `tracedojo-faults` crate): the server layer
//! asks about each request it serves, the client about each call, [`crate::db`] about each
//! query. The request being served travels in a task-local, so a call or query made while
//! serving it is targeted by the same route and baggage.
//!
//! Nothing here names a fault in telemetry unless the plan's reveal switch is on: a fault
//! shows only through what it does.

use std::time::{Duration, Instant};

pub use tracedojo_faults::Fault;
use tracedojo_faults::Faults;
use tracedojo_faults::follower::{self, CallEffects, RequestEffects};
use tracedojo_faults::spec::RequestFacts;

/// The attribute spans get when the reveal switch is on.
pub const REVEAL_ATTRIBUTE: &str = "tracedojo.fault.kind";
pub const REVEAL_DELAY_ATTRIBUTE: &str = "tracedojo.fault.delay_ms";

/// The request a task is serving, as faults target it.
#[derive(Debug, Clone, Default)]
pub struct Served {
    pub route: Option<String>,
    /// Baggage entries of the request (`tracedojo.user.tier` = `gold`, ...).
    pub baggage: Vec<(String, String)>,
}

tokio::task_local! {
    static SERVED: Served;
}

/// Runs `future` as serving `served`, so that calls and queries it makes are targeted alike.
pub async fn serving<F: Future>(served: Served, future: F) -> F::Output {
    SERVED.scope(served, future).await
}

/// Asks the installed plan about the request `served` (none: a background task); `None`
/// when this process follows no plan.
fn ask<T>(
    served: Option<&Served>,
    question: impl FnOnce(&Faults, &RequestFacts<'_>) -> T,
) -> Option<T> {
    let faults = follower::installed()?;
    let empty = Served::default();
    let served = served.unwrap_or(&empty);
    let attribute = |key: &str| {
        served
            .baggage
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    let facts = RequestFacts {
        route: served.route.as_deref(),
        version: faults.version(),
        attribute: &attribute,
    };
    Some(question(faults, &facts))
}

/// Asks about the request the current task is serving.
fn ask_current<T>(question: impl FnOnce(&Faults, &RequestFacts<'_>) -> T) -> Option<T> {
    let mut question = Some(question);
    let in_request = SERVED
        .try_with(|served| ask(Some(served), question.take()?))
        .ok()
        .flatten();
    match question {
        Some(question) => ask(None, question),
        None => in_request,
    }
}

/// Whether this process follows a plan with any fault in it (expired ones included: they
/// only cost the check that skips them).
pub fn any_in_force() -> bool {
    follower::installed().is_some_and(|f| !f.plan().faults.is_empty())
}

/// What the request described by `served` should suffer.
pub fn on_request(served: &Served) -> RequestEffects {
    ask(Some(served), |faults, facts| faults.on_request(facts)).unwrap_or_default()
}

/// What a call to `peer`, made while serving the current request, should suffer.
pub fn on_call(peer: &str) -> CallEffects {
    ask_current(|faults, facts| faults.on_call(peer, facts)).unwrap_or_default()
}

/// Extra time a query on `table` should take, and the kind of fault that adds it.
pub fn on_query(table: &str) -> Option<(Duration, &'static str)> {
    ask_current(|faults, facts| faults.on_query(table, facts)).flatten()
}

/// The first fault hitting the request the current task serves (its targeting and
/// probability applied) for which `pick` gives a value: for kinds that change how one
/// request is handled (N+1 queries, a lock held, a cache bypassed).
pub fn request_fault<T>(pick: impl Fn(&Fault) -> Option<T>) -> Option<T> {
    ask_current(|faults, facts| faults.request_fault(facts, &pick)).flatten()
}

/// The first fault in force on this service for which `pick` gives a value, whatever its
/// targeting: for faults that change how the service works as a whole (a closed port, a
/// slower worker). `None` in a process that follows no plan.
pub fn service_fault<T>(pick: impl Fn(&Fault) -> Option<T>) -> Option<T> {
    follower::installed()?.service_fault(pick)
}

/// The faults in force anywhere in the shop, as (kind, service), for a page that lists them.
pub fn in_force() -> Vec<(&'static str, String)> {
    let Some(faults) = follower::installed() else {
        return Vec::new();
    };
    faults
        .plan()
        .faults
        .iter()
        .filter(|f| f.in_force())
        .map(|f| (f.fault.kind(), f.fault.service().to_string()))
        .collect()
}

/// Resolves once an `unreachable` fault for this service is in force (`true`) or no longer
/// in force (`false`); never, in a process that follows no plan.
pub async fn until_unreachable(wanted: bool) {
    let Some(faults) = follower::installed() else {
        return std::future::pending().await;
    };
    let mut changes = faults.subscribe();
    loop {
        let unreachable = faults
            .service_fault(|f| matches!(f, Fault::Unreachable { .. }).then_some(()))
            .is_some();
        if unreachable == wanted {
            return;
        }
        if !faults.next_change(&mut changes).await {
            return std::future::pending().await;
        }
    }
}

/// Keeps the thread serving this request busy for `duration` (a hot loop, a regex gone
/// wrong): it blocks its runtime worker, as real CPU-bound code does.
pub fn burn_cpu(duration: Duration) {
    let until = Instant::now() + duration;
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    while Instant::now() < until {
        for _ in 0..1_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        std::hint::black_box(x);
    }
}

/// With the reveal switch on, records on `span` the delay a fault added
/// (`tracedojo.fault.delay_ms`), so injected and observed latency can be compared request by
/// request.
pub fn reveal_delay(span: &tracing::Span, delay: Duration) {
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    if delay.is_zero() || !follower::installed().is_some_and(|f| f.reveal()) {
        return;
    }
    span.set_attribute(REVEAL_DELAY_ATTRIBUTE, delay.as_secs_f64() * 1000.0);
}

/// Marks `span` with the kinds that hit it, only when the reveal switch is on.
pub fn reveal(span: &tracing::Span, kinds: &[&'static str]) {
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    if kinds.is_empty() || !follower::installed().is_some_and(|f| f.reveal()) {
        return;
    }
    span.set_attribute(REVEAL_ATTRIBUTE, kinds.join(","));
}
