//! Judging what the explorer measured against the objectives, without any network: which
//! endpoints burn their error budget fast in both windows, ranked; which queries repeat
//! within one request or suddenly take longer than before.

use crate::burn;
use crate::explorer::{Endpoint, Query, Red};
use crate::model::{Burn, Item, Judged, QueryHint, QueryItem, Why, WindowBurn};
use crate::objectives::{Indicator, Objectives};

/// How the report decides.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// Both windows must burn at least this fast for an endpoint to need work.
    pub min_burn_rate: f64,
    /// Fewer requests than this in the short window are too few to judge.
    pub min_requests: usize,
    pub long_seconds: u64,
    pub short_seconds: u64,
}

/// A query run at least this many times within one request is N+1.
pub const REPEATED_IN_ONE_TRACE: usize = 10;
/// A query's median time this many times what it was before has jumped...
pub const JUMP_RATIO: f64 = 3.0;
/// ... by at least this much ...
pub const JUMP_MIN_MS: f64 = 0.5;
/// ... and by this many times more than the queries' typical change: a machine that is busier
/// now slows every query down; a missing index slows one.
pub const JUMP_OVER_TYPICAL: f64 = 2.0;
/// Calls in each window before a query's change is believed.
pub const JUMP_MIN_CALLS: usize = 20;

/// The endpoints judged against their objectives.
#[derive(Debug, Default)]
pub struct Judgement {
    /// Those needing work, ranked (the fastest burn first, then the most traffic), with an
    /// empty `why`.
    pub needs_work: Vec<Item>,
    /// Every endpoint with an objective and traffic, and how fast it burns.
    pub judged: Vec<Judged>,
    /// Endpoints too quiet to judge that seemed to burn.
    pub notes: Vec<String>,
}

pub fn endpoints(objectives: &Objectives, long: &Red, short: &Red, rules: &Rules) -> Judgement {
    let judged: Vec<(&Endpoint, _)> = long
        .endpoints
        .iter()
        .filter(|e| e.requests > 0)
        .filter_map(|e| objectives.of(&e.service, &e.operation).map(|o| (e, o)))
        .collect();
    let all_requests: usize = judged.iter().map(|(e, _)| e.requests).sum();
    let period_seconds = objectives.period_nanos as f64 / 1e9;
    let mut items = Vec::new();
    let mut quiet = Vec::new();
    let mut all = Vec::new();
    for (endpoint, objective) in &judged {
        let recent = short
            .endpoints
            .iter()
            .find(|e| e.service == endpoint.service && e.operation == endpoint.operation);
        let mut burns: Vec<Burn> = objective
            .targets
            .iter()
            .map(|target| {
                let bad = |e: &Endpoint| match target.threshold_ms {
                    Some(ms) => e.slower_than(ms),
                    None => e.errors,
                };
                let window = |e: Option<&Endpoint>| {
                    let (bad, total) = e.map_or((0, 0), |e| (bad(e), e.requests));
                    WindowBurn {
                        bad,
                        total,
                        burn_rate: burn::burn_rate(bad, total, target.budget()).unwrap_or(0.0),
                    }
                };
                let (long, short) = (window(Some(endpoint)), window(recent));
                let rate = long.burn_rate.min(short.burn_rate);
                Burn {
                    indicator: target.indicator,
                    target: target.target,
                    threshold_ms: target.threshold_ms,
                    long,
                    short,
                    burn_rate: rate,
                    severity: burn::severity(rate, period_seconds),
                    budget_spent: burn::budget_spent(
                        long.burn_rate,
                        rules.long_seconds as f64,
                        period_seconds,
                    ),
                    budget_lasts_hours: burn::lasts_seconds(short.burn_rate, period_seconds)
                        .map(|s| s / 3600.0),
                }
            })
            .collect();
        burns.sort_by(|a, b| {
            b.burn_rate
                .total_cmp(&a.burn_rate)
                .then(a.indicator.cmp(&b.indicator))
        });
        let short_requests = recent.map_or(0, |e| e.requests);
        let burning = burns[0].burn_rate >= rules.min_burn_rate;
        all.push(Judged {
            service: endpoint.service.clone(),
            operation: endpoint.operation.clone(),
            requests: endpoint.requests,
            short_requests,
            burn_rate: burns[0].burn_rate,
        });
        if short_requests < rules.min_requests {
            let long_burning = burns
                .iter()
                .any(|b| b.long.burn_rate >= rules.min_burn_rate);
            if long_burning {
                quiet.push(format!(
                    "{} {}: {short_requests} requests in the last {} s, fewer than the {} needed to judge it",
                    endpoint.service, endpoint.operation, rules.short_seconds, rules.min_requests
                ));
            }
            continue;
        }
        if !burning {
            continue;
        }
        items.push(Item {
            rank: 0,
            service: endpoint.service.clone(),
            operation: endpoint.operation.clone(),
            kind: endpoint.kind.clone(),
            requests: endpoint.requests,
            traffic_share: endpoint.requests as f64 / all_requests.max(1) as f64,
            short_requests,
            error_rate: endpoint.error_rate,
            p95_ms: endpoint.p95_ms,
            p99_ms: endpoint.p99_ms,
            short_p95_ms: recent.map_or(0.0, |e| e.p95_ms),
            short_p99_ms: recent.map_or(0.0, |e| e.p99_ms),
            burn_rate: burns[0].burn_rate,
            severity: burns[0].severity,
            objectives: burns,
            why: Why::default(),
        });
    }
    items.sort_by(|a, b| {
        b.burn_rate
            .total_cmp(&a.burn_rate)
            .then(b.requests.cmp(&a.requests))
            .then_with(|| a.key().cmp(&b.key()))
    });
    for (n, item) in items.iter_mut().enumerate() {
        item.rank = n + 1;
    }
    Judgement {
        needs_work: items,
        judged: all,
        notes: quiet,
    }
}

/// Queries needing work in the recent window: run many times within one request, or taking
/// much longer than in the period before (`earlier`), the most time spent first.
pub fn queries(recent: &Red, earlier: &Red) -> Vec<QueryItem> {
    let before = |q: &Query| {
        earlier
            .queries
            .iter()
            .find(|e| e.service == q.service && e.query == q.query)
    };
    // The typical change of the queries seen enough in both windows: the machine's own.
    let mut ratios: Vec<f64> = recent
        .queries
        .iter()
        .filter(|q| q.calls >= JUMP_MIN_CALLS)
        .filter_map(|q| {
            let b = before(q)?;
            (b.calls >= JUMP_MIN_CALLS && b.p50_ms > 0.0).then(|| q.p50_ms / b.p50_ms)
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    let typical = ratios
        .get(ratios.len() / 2)
        .copied()
        .unwrap_or(1.0)
        .max(1.0);
    let mut items: Vec<QueryItem> = recent
        .queries
        .iter()
        .filter_map(|q| {
            let mut hints = Vec::new();
            if q.max_calls_per_trace >= REPEATED_IN_ONE_TRACE {
                hints.push(QueryHint::RepeatedInOneTrace {
                    most_in_one_trace: q.max_calls_per_trace,
                    calls_per_trace: q.calls_per_trace,
                });
            }
            if let Some(b) = before(q)
                && q.calls >= JUMP_MIN_CALLS
                && b.calls >= JUMP_MIN_CALLS
                && b.p50_ms > 0.0
            {
                let ratio = q.p50_ms / b.p50_ms;
                if ratio >= JUMP_RATIO
                    && ratio >= JUMP_OVER_TYPICAL * typical
                    && q.p50_ms - b.p50_ms >= JUMP_MIN_MS
                {
                    hints.push(QueryHint::TimeJumped {
                        p50_before_ms: b.p50_ms,
                        p50_now_ms: q.p50_ms,
                        ratio,
                    });
                }
            }
            (!hints.is_empty()).then(|| QueryItem {
                service: q.service.clone(),
                db_system: q.db_system.clone(),
                query: q.query.clone(),
                collection: q.collection.clone(),
                calls: q.calls,
                p50_ms: q.p50_ms,
                p95_ms: q.p95_ms,
                total_ms: q.total_ms,
                hints,
            })
        })
        .collect();
    items.sort_by(|a, b| b.total_ms.total_cmp(&a.total_ms));
    items
}

/// Whether the endpoint's worst objective is about latency (then its exemplars are its
/// slowest requests) or failures.
pub fn latency_first(item: &Item) -> Option<u64> {
    let worst = item.worst();
    match worst.indicator {
        Indicator::LatencyP95 | Indicator::LatencyP99 => {
            worst.threshold_ms.map(|ms| (ms * 1e6).round() as u64)
        }
        Indicator::Success => None,
    }
}

#[cfg(test)]
mod tests;
