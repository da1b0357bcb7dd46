//! RED over time — rate, error rate and p95 bucket by bucket — of the spans the RED
//! endpoints table reads (SERVER and CONSUMER): one series per service, or one for an
//! endpoint, for the charts of the UI and the showcase.
//!
//! The buckets end at the moment of the query and go back a whole number of steps, so every
//! bucket is a full step: aligned to the clock instead, the last bucket would be partly in
//! the future and its rate would dip on every chart although nothing slowed down. A span
//! counts in the bucket its start falls in.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::store::intern::Sym;
use crate::store::table::{Kind, Status, Table};

use super::namespace::Namespace;
use super::params::{self, BadParameter};
use super::window::{Durations, Window};

/// About how many buckets a window is cut into when no `step` is given.
pub const DEFAULT_BUCKETS: u64 = 60;
/// The most buckets one answer may hold.
pub const MAX_BUCKETS: u64 = 1000;
/// The shortest step: a rate per second over less than a second says little.
pub const MIN_STEP: u64 = SECOND;

const SECOND: u64 = 1_000_000_000;

/// Which spans the series are of: every service's (one series each), one service's, or one
/// endpoint's (a service and an operation); optionally only one namespace's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    service: Option<String>,
    operation: Option<String>,
    namespace: Option<String>,
}

impl Scope {
    /// Refuses an `operation` without its `service`: span names such as `GET /` are shared by
    /// many services, and one line summing them would be no endpoint's.
    pub fn new(
        service: Option<String>,
        operation: Option<String>,
        namespace: Option<String>,
    ) -> Result<Scope, BadParameter> {
        if operation.is_some() && service.is_none() {
            return Err(BadParameter::new(
                "operation",
                "operation names an endpoint of a service: give service too",
            ));
        }
        Ok(Scope {
            service,
            operation,
            namespace,
        })
    }
}

/// `count` buckets of `step` nanoseconds, the first starting at `first`, the last ending at
/// the moment of the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buckets {
    pub first: u64,
    pub step: u64,
    pub count: u64,
}

impl Buckets {
    /// The buckets of a window `window` nanoseconds long ending at `now`, `step` long each
    /// (`None`: about [`DEFAULT_BUCKETS`] of them, a whole number of seconds each). A window
    /// that is not a whole number of steps is widened to the next one.
    pub fn new(window: u64, step: Option<&str>, now: u64) -> Result<Buckets, BadParameter> {
        let step = match step {
            None => window.div_ceil(DEFAULT_BUCKETS).div_ceil(SECOND).max(1) * SECOND,
            Some(text) => checked_step(text, window)?,
        };
        let count = window.div_ceil(step).max(1);
        Ok(Buckets {
            first: now.saturating_sub(count * step),
            step,
            count,
        })
    }

    /// The bucket a span starting at `start` counts in; `None` before the first. A start
    /// after the last bucket (a host whose clock runs ahead) counts in the last, as the RED
    /// tables count it in their window.
    pub fn of(&self, start: u64) -> Option<usize> {
        let since_first = start.checked_sub(self.first)?;
        usize::try_from((since_first / self.step).min(self.count - 1)).ok()
    }

    pub fn start(&self, bucket: u64) -> u64 {
        self.first + bucket * self.step
    }

    /// The window the buckets cover, as the aggregate views give theirs.
    fn window(&self) -> Window {
        Window::since(self.first, self.first + self.count * self.step)
    }
}

/// A step the API can answer: at least [`MIN_STEP`], no longer than the window, and giving no
/// more than [`MAX_BUCKETS`] buckets.
fn checked_step(text: &str, window: u64) -> Result<u64, BadParameter> {
    let step = params::duration("step", text)?;
    if step < MIN_STEP {
        return Err(BadParameter::new(
            "step",
            format!("{text:?} is shorter than 1s, the shortest step"),
        ));
    }
    if step > window {
        return Err(BadParameter::new(
            "step",
            format!(
                "{text:?} is longer than the window ({}): give a shorter step or a longer since",
                written(window)
            ),
        ));
    }
    let count = window.div_ceil(step);
    if count > MAX_BUCKETS {
        let shortest = window.div_ceil(MAX_BUCKETS).div_ceil(SECOND) * SECOND;
        return Err(BadParameter::new(
            "step",
            format!(
                "{text:?} cuts the window ({}) into {count} buckets, more than {MAX_BUCKETS}: give a step of at least {}, or a shorter since",
                written(window),
                written(shortest)
            ),
        ));
    }
    Ok(step)
}

/// A duration as the parameters write it (`15m`, `90s`, `1500ms`), in the largest unit
/// that divides it.
fn written(nanos: u64) -> String {
    for (unit, length) in [
        ("d", 86_400 * SECOND),
        ("h", 3_600 * SECOND),
        ("m", 60 * SECOND),
        ("s", SECOND),
        ("ms", 1_000_000),
    ] {
        if nanos >= length && nanos.is_multiple_of(length) {
            return format!("{}{unit}", nanos / length);
        }
    }
    format!("{nanos}ns")
}

/// One bucket of a series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    pub start_unix_nanos: u64,
    pub requests: usize,
    pub errors: usize,
    pub rate_per_second: f64,
    pub error_rate: f64,
    /// `None` for a bucket without requests: no duration to tell.
    pub p95_ms: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    pub service: String,
    /// The endpoint's span name; `None` for a whole service's series.
    pub operation: Option<String>,
    pub points: Vec<Point>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RedSeries {
    pub window_seconds: f64,
    pub step_seconds: f64,
    pub series: Vec<Series>,
}

/// The series of `scope` over `buckets`: with a service named, exactly one series (zeros
/// when it served nothing); otherwise one per service that served a request in the window,
/// by name.
pub fn red_series(table: &Table, buckets: Buckets, scope: &Scope) -> RedSeries {
    let namespace = Namespace::new(table, scope.namespace.as_deref());
    let window = buckets.window();
    let lookup = |text: &Option<String>| text.as_deref().map(|t| table.interner.lookup(t));
    // A name given but never stored matches no span.
    let (service, operation) = (lookup(&scope.service), lookup(&scope.operation));
    let nothing = matches!(service, Some(None)) || matches!(operation, Some(None));

    let count = usize::try_from(buckets.count).unwrap_or(usize::MAX);
    let mut by_service: HashMap<Sym, Vec<Durations>> = HashMap::new();
    let traces = if nothing {
        Vec::new()
    } else {
        namespace.traces(table, &window)
    };
    for trace in traces {
        for span in &trace.spans {
            if !matches!(span.kind, Kind::Server | Kind::Consumer)
                || !window.contains(span)
                || service.is_some_and(|s| s != Some(span.service))
                || operation.is_some_and(|o| o != Some(span.name))
                || !namespace.holds(table, span)
            {
                continue;
            }
            let Some(bucket) = buckets.of(span.start) else {
                continue;
            };
            by_service
                .entry(span.service)
                .or_insert_with(|| vec![Durations::default(); count])[bucket]
                .add(span.duration(), span.status == Status::Error);
        }
    }

    let mut named: BTreeMap<String, Vec<Durations>> = by_service
        .into_iter()
        .map(|(sym, buckets)| (table.interner.text(sym).to_owned(), buckets))
        .collect();
    if let Some(name) = &scope.service {
        named
            .entry(name.clone())
            .or_insert_with(|| vec![Durations::default(); count]);
    }
    let step_seconds = buckets.step as f64 / 1e9;
    let series = named
        .into_iter()
        .map(|(service, durations)| Series {
            service,
            operation: scope.operation.clone(),
            points: (0..buckets.count)
                .zip(durations)
                .map(|(n, mut d)| {
                    d.finish();
                    Point {
                        start_unix_nanos: buckets.start(n),
                        requests: d.count(),
                        errors: d.errors,
                        rate_per_second: d.count() as f64 / step_seconds,
                        error_rate: d.error_rate(),
                        p95_ms: (d.count() > 0).then(|| d.percentile_ms(0.95)),
                    }
                })
                .collect(),
        })
        .collect();
    RedSeries {
        window_seconds: (buckets.count * buckets.step) as f64 / 1e9,
        step_seconds,
        series,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::Value;

    use super::*;
    use crate::store::StoredSpan;

    const NOW: u64 = 1_700_000_000 * SECOND;
    const MINUTE: u64 = 60 * SECOND;
    const MS: u64 = 1_000_000;

    /// A one-span trace `n` of `service`, starting `ago` before [`NOW`].
    fn span(n: u64, service: &str, name: &str, kind: &str, ago: u64, ms: u64) -> StoredSpan {
        let start = NOW - ago;
        StoredSpan {
            trace_id: format!("{n:032x}"),
            span_id: format!("{:016x}", n + 1),
            parent_span_id: String::new(),
            name: name.into(),
            kind: kind.into(),
            start_unix_nanos: start,
            end_unix_nanos: start + ms * MS,
            status_code: "UNSET".into(),
            status_message: String::new(),
            attributes: BTreeMap::new(),
            events: vec![],
            links: vec![],
            resource: BTreeMap::from([("service.name".to_owned(), Value::from(service))]),
            scope_name: String::new(),
        }
    }

    fn failed(mut span: StoredSpan) -> StoredSpan {
        span.status_code = "ERROR".into();
        span
    }

    fn in_namespace(mut span: StoredSpan, namespace: &str) -> StoredSpan {
        span.resource
            .insert("service.namespace".into(), Value::from(namespace));
        span
    }

    fn scope(service: Option<&str>, operation: Option<&str>) -> Scope {
        Scope::new(
            service.map(str::to_owned),
            operation.map(str::to_owned),
            None,
        )
        .expect("a valid scope")
    }

    fn buckets(since: &str, step: Option<&str>) -> Result<Buckets, BadParameter> {
        Buckets::new(params::window(Some(since))?, step, NOW)
    }

    #[test]
    fn the_default_step_gives_about_sixty_whole_second_buckets() {
        let cases = [
            ("15m", 15, 60),
            ("1h", 60, 60),
            ("5m", 5, 60),
            ("90s", 2, 45),
            ("61s", 2, 31),
            ("1s", 1, 1),
            ("7d", 10_080, 60),
        ];
        for (since, step_seconds, count) in cases {
            let b = buckets(since, None).expect("the default step");
            assert_eq!((b.step, b.count), (step_seconds * SECOND, count), "{since}");
            assert_eq!(
                b.first + b.count * b.step,
                NOW,
                "{since}: the last bucket ends now"
            );
        }
        let b = buckets("1h", Some("10s")).expect("a given step");
        assert_eq!(
            (b.step, b.count, b.first),
            (10 * SECOND, 360, NOW - 60 * MINUTE)
        );
        // A window that is not a whole number of steps is widened to the next one.
        let b = buckets("5m", Some("2m")).expect("a given step");
        assert_eq!((b.count, b.first), (3, NOW - 6 * MINUTE));
        let b = buckets("1000s", Some("1s")).expect("exactly the most buckets");
        assert_eq!(b.count, MAX_BUCKETS);
    }

    #[test]
    fn bad_steps_and_windows_are_refused_naming_the_parameter() {
        for (since, step, says) in [
            ("15m", "fast", "not a duration"),
            ("15m", "5parsecs", "unit"),
            ("15m", "500ms", "shorter than 1s"),
            ("15m", "1h", "longer than the window (15m)"),
            (
                "1h",
                "1s",
                "3600 buckets, more than 1000: give a step of at least 4s",
            ),
            ("7d", "1m", "at least 605s"),
        ] {
            let error = buckets(since, Some(step)).expect_err(step);
            assert_eq!(error.parameter, "step", "{since} {step}");
            assert!(error.message.contains(says), "{since} {step}: {error}");
        }
        for since in ["soon", "30d", "10ms"] {
            let error = buckets(since, None).expect_err(since);
            assert_eq!(error.parameter, "since", "{since}: {error}");
        }
        let error = Scope::new(None, Some("GET /".into()), None).expect_err("no service");
        assert_eq!(error.parameter, "operation");
        assert!(error.message.contains("give service too"), "{error}");
        assert!(Scope::new(Some("cart".into()), None, None).is_ok());
    }

    #[test]
    fn spans_fall_in_the_bucket_of_their_start() {
        let mut table = Table::new(usize::MAX, usize::MAX);
        table.insert_stored(vec![
            // The first minute of five (4-5 minutes ago): two requests, one failing.
            span(
                1,
                "cart",
                "GET /cart",
                "SERVER",
                4 * MINUTE + 30 * SECOND,
                10,
            ),
            failed(span(2, "cart", "POST /cart", "SERVER", 4 * MINUTE + 1, 30)),
            // The fourth: one message.
            span(3, "cart", "cart.expired", "CONSUMER", MINUTE + SECOND, 20),
            // The last minute: twenty requests of 1..=20 ms; p95 is the 19th.
            span(10, "checkout", "POST /checkout", "SERVER", 30 * SECOND, 1),
            // Not counted: a CLIENT span, a span before the window, a span on the boundary
            // before the first bucket.
            span(4, "cart", "GET catalog", "CLIENT", 2 * MINUTE, 5),
            span(5, "cart", "GET /cart", "SERVER", 6 * MINUTE, 5),
            span(6, "cart", "GET /cart", "SERVER", 5 * MINUTE + 1, 5),
            // A clock ahead of ours: the last bucket.
            span(7, "checkout", "POST /checkout", "SERVER", 0, 1),
        ]);
        let mut last_minute: Vec<StoredSpan> = (11..=29)
            .map(|n| {
                span(
                    n,
                    "checkout",
                    "POST /checkout",
                    "SERVER",
                    20 * SECOND,
                    n - 9,
                )
            })
            .collect();
        last_minute[0].start_unix_nanos = NOW + 5 * SECOND;
        last_minute[0].end_unix_nanos = NOW + 5 * SECOND + 2 * MS;
        table.insert_stored(last_minute);

        let b = buckets("5m", Some("1m")).expect("buckets");
        let answer = red_series(&table, b, &Scope::default());
        assert_eq!((answer.window_seconds, answer.step_seconds), (300.0, 60.0));
        let services: Vec<(&str, Option<&str>)> = answer
            .series
            .iter()
            .map(|s| (s.service.as_str(), s.operation.as_deref()))
            .collect();
        assert_eq!(services, [("cart", None), ("checkout", None)]);

        let cart = &answer.series[0].points;
        assert_eq!(cart.len(), 5);
        let starts: Vec<u64> = cart.iter().map(|p| p.start_unix_nanos).collect();
        assert_eq!(
            starts,
            (0..5).map(|i| NOW - (5 - i) * MINUTE).collect::<Vec<_>>()
        );
        let requests: Vec<usize> = cart.iter().map(|p| p.requests).collect();
        assert_eq!(requests, [2, 0, 0, 1, 0]);
        assert_eq!(cart[0].errors, 1);
        assert_eq!(cart[0].error_rate, 0.5);
        assert_eq!(cart[0].rate_per_second, 2.0 / 60.0);
        assert_eq!(cart[0].p95_ms, Some(30.0));
        // Empty buckets are there, with zeros and no p95.
        assert_eq!(
            cart[1],
            Point {
                start_unix_nanos: NOW - 4 * MINUTE,
                requests: 0,
                errors: 0,
                rate_per_second: 0.0,
                error_rate: 0.0,
                p95_ms: None,
            }
        );

        let checkout = &answer.series[1].points;
        let requests: Vec<usize> = checkout.iter().map(|p| p.requests).collect();
        assert_eq!(requests, [0, 0, 0, 0, 21]);
        assert_eq!(checkout[4].p95_ms, Some(19.0));
        assert_eq!(checkout[4].rate_per_second, 21.0 / 60.0);
    }

    #[test]
    fn a_named_service_or_endpoint_is_one_series() {
        let mut table = Table::new(usize::MAX, usize::MAX);
        table.insert_stored(vec![
            span(1, "cart", "GET /cart", "SERVER", 30 * SECOND, 10),
            span(2, "cart", "POST /cart", "SERVER", 30 * SECOND, 10),
            span(3, "catalog", "GET /cart", "SERVER", 30 * SECOND, 10),
        ]);
        let b = buckets("1m", Some("30s")).expect("buckets");
        let total = |answer: &RedSeries| -> Vec<(String, Option<String>, usize)> {
            answer
                .series
                .iter()
                .map(|s| {
                    let n = s.points.iter().map(|p| p.requests).sum();
                    (s.service.clone(), s.operation.clone(), n)
                })
                .collect()
        };
        let service = red_series(&table, b, &scope(Some("cart"), None));
        assert_eq!(total(&service), [("cart".into(), None, 2)]);
        let endpoint = red_series(&table, b, &scope(Some("cart"), Some("GET /cart")));
        assert_eq!(
            total(&endpoint),
            [("cart".into(), Some("GET /cart".into()), 1)]
        );
        // Named but quiet (or never seen): the one series, all zeros.
        for (service, operation) in [
            (Some("payment"), None),
            (Some("cart"), Some("DELETE /cart")),
            (Some("catalog"), Some("POST /cart")),
        ] {
            let answer = red_series(&table, b, &scope(service, operation));
            assert_eq!(answer.series.len(), 1, "{service:?} {operation:?}");
            let points = &answer.series[0].points;
            assert_eq!(points.len(), 2);
            assert!(points.iter().all(|p| p.requests == 0 && p.p95_ms.is_none()));
        }
    }

    #[test]
    fn a_namespace_keeps_its_own_spans() {
        let mut table = Table::new(usize::MAX, usize::MAX);
        table.insert_stored(vec![
            in_namespace(
                span(1, "cart", "GET /cart", "SERVER", 10 * SECOND, 10),
                "alice",
            ),
            in_namespace(
                span(2, "cart", "GET /cart", "SERVER", 10 * SECOND, 10),
                "bob",
            ),
            in_namespace(
                span(3, "cart", "GET /cart", "SERVER", 10 * SECOND, 10),
                "bob",
            ),
            span(4, "cart", "GET /cart", "SERVER", 10 * SECOND, 10),
        ]);
        let b = buckets("1m", None).expect("buckets");
        for (namespace, want) in [(Some("bob"), 2), (Some("alice"), 1), (None, 4)] {
            let scope = Scope::new(None, None, namespace.map(str::to_owned)).expect("scope");
            let answer = red_series(&table, b, &scope);
            let requests: usize = answer.series[0].points.iter().map(|p| p.requests).sum();
            assert_eq!(requests, want, "{namespace:?}");
        }
        let nobody = Scope::new(None, None, Some("carol".into())).expect("scope");
        assert!(red_series(&table, b, &nobody).series.is_empty());
    }
}
