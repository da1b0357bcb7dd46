use serde_json::json;

use super::*;
use crate::burn::Severity;

fn objectives() -> Objectives {
    Objectives::parse(
        "o.toml",
        r#"
[[objective]]
service = "api"
p95 = "100ms"
success = 0.99
"#,
    )
    .expect("valid")
}

/// An endpoint row: requests, errors, slower than 100 ms.
fn endpoint(operation: &str, requests: usize, errors: usize, slow: usize) -> serde_json::Value {
    json!({
        "service": "api", "operation": operation, "kind": "SERVER",
        "requests": requests, "errors": errors,
        "error_rate": errors as f64 / requests.max(1) as f64,
        "p50_ms": 10.0, "p95_ms": 90.0, "p99_ms": 150.0, "total_ms": 1000.0,
        "slower": [{"threshold_ms": 100.0, "count": slow}]
    })
}

fn red(endpoints: Vec<serde_json::Value>, queries: Vec<serde_json::Value>) -> Red {
    serde_json::from_value(json!({
        "window_seconds": 3600.0, "endpoints": endpoints, "queries": queries
    }))
    .expect("red")
}

fn rules() -> Rules {
    Rules {
        min_burn_rate: 1.0,
        min_requests: 10,
        long_seconds: 3600,
        short_seconds: 300,
    }
}

#[test]
fn an_endpoint_needs_work_only_when_both_windows_burn() {
    let long = red(
        vec![
            // Slow in both windows: 10% slower than 100 ms against 5% allowed → 2; then 6.
            endpoint("GET /slow", 1000, 0, 100),
            // Failing now but not over the hour: a blip.
            endpoint("GET /blip", 1000, 5, 0),
            // Failing over the hour, recovered now.
            endpoint("GET /recovered", 1000, 50, 0),
            // Failing in both: 3% against 1% allowed → 3; then 20%.
            endpoint("POST /fails", 500, 15, 0),
        ],
        vec![],
    );
    let short = red(
        vec![
            endpoint("GET /slow", 100, 0, 30),
            endpoint("GET /blip", 100, 5, 0),
            endpoint("GET /recovered", 100, 0, 0),
            endpoint("POST /fails", 50, 10, 0),
        ],
        vec![],
    );
    let Judgement {
        needs_work: items,
        judged,
        notes,
    } = endpoints(&objectives(), &long, &short, &rules());
    assert_eq!(judged.len(), 4);
    assert!(
        (judged[1].burn_rate - 0.5).abs() < 1e-9,
        "the blip: 0.5% over the hour"
    );
    assert!(notes.is_empty(), "{notes:?}");
    let keys: Vec<String> = items.iter().map(Item::key).collect();
    assert_eq!(keys, ["api POST /fails", "api GET /slow"]);
    let fails = &items[0];
    assert_eq!(fails.rank, 1);
    assert_eq!(fails.worst().indicator, Indicator::Success);
    assert!((fails.worst().long.burn_rate - 3.0).abs() < 1e-9);
    assert!((fails.worst().short.burn_rate - 20.0).abs() < 1e-9);
    assert!((fails.burn_rate - 3.0).abs() < 1e-9);
    assert_eq!(fails.severity, Severity::Ticket);
    // An hour at 3 over a 30-day budget spends 3/720 of it; at 20 it lasts 36 hours.
    assert!((fails.worst().budget_spent - 3.0 / 720.0).abs() < 1e-12);
    assert!((fails.worst().budget_lasts_hours.expect("burning") - 36.0).abs() < 1e-9);
    let slow = &items[1];
    assert_eq!(slow.worst().indicator, Indicator::LatencyP95);
    assert!((slow.burn_rate - 2.0).abs() < 1e-9);
    assert_eq!(latency_first(slow), Some(100_000_000));
    assert_eq!(latency_first(fails), None);
    assert!((slow.traffic_share - 1000.0 / 3500.0).abs() < 1e-12);
}

#[test]
fn quiet_endpoints_and_endpoints_without_objectives_are_not_judged() {
    let mut other = endpoint("GET /x", 1000, 500, 0);
    other["service"] = json!("other");
    let long = red(vec![endpoint("GET /quiet", 100, 50, 0), other], vec![]);
    let short = red(vec![endpoint("GET /quiet", 3, 3, 0)], vec![]);
    let Judgement {
        needs_work: items,
        judged,
        notes,
    } = endpoints(&objectives(), &long, &short, &rules());
    assert!(items.is_empty());
    assert_eq!(judged.len(), 1);
    assert_eq!(notes.len(), 1);
    assert!(
        notes[0].contains("3 requests in the last 300 s"),
        "{notes:?}"
    );
}

#[test]
fn the_steepest_burn_ranks_first_then_traffic() {
    let long = red(
        vec![
            endpoint("GET /a", 100, 10, 0),
            endpoint("GET /b", 1000, 100, 0),
            endpoint("GET /c", 100, 50, 0),
        ],
        vec![],
    );
    let short = red(
        vec![
            endpoint("GET /a", 100, 10, 0),
            endpoint("GET /b", 1000, 100, 0),
            endpoint("GET /c", 100, 50, 0),
        ],
        vec![],
    );
    let items = endpoints(&objectives(), &long, &short, &rules()).needs_work;
    let keys: Vec<String> = items.iter().map(Item::key).collect();
    assert_eq!(keys, ["api GET /c", "api GET /b", "api GET /a"]);
    assert_eq!(
        items[0].severity,
        Severity::Urgent,
        "50% failing against 1% allowed: 50"
    );
    assert_eq!(
        items[1].severity,
        Severity::Page,
        "10% against 1%: 10, between 6 and 14.4"
    );
}

fn query(text: &str, calls: usize, p50: f64, most: usize) -> serde_json::Value {
    json!({
        "service": "catalog", "db_system": "sqlite", "query": text,
        "calls": calls, "errors": 0, "p50_ms": p50, "p95_ms": p50 * 2.0,
        "total_ms": calls as f64 * p50, "calls_per_trace": 1.5,
        "max_calls_per_trace": most
    })
}

#[test]
fn queries_repeated_in_one_request_or_suddenly_slower_need_work() {
    let earlier = red(
        vec![],
        vec![
            query("SELECT search", 100, 0.2, 1),
            query("SELECT product", 500, 0.3, 2),
            query("SELECT cart", 100, 0.2, 1),
            query("SELECT stock", 100, 0.2, 1),
        ],
    );
    let recent = red(
        vec![],
        vec![
            query("SELECT search", 50, 1.4, 1),
            query("SELECT product", 900, 0.3, 24),
            query("SELECT cart", 50, 0.25, 1),
            query("SELECT stock", 50, 0.2, 1),
        ],
    );
    let items = queries(&recent, &earlier);
    assert_eq!(items.len(), 2, "{items:?}");
    let product = items
        .iter()
        .find(|q| q.query == "SELECT product")
        .expect("N+1");
    assert_eq!(
        product.hints,
        [QueryHint::RepeatedInOneTrace {
            most_in_one_trace: 24,
            calls_per_trace: 1.5
        }]
    );
    let search = items
        .iter()
        .find(|q| q.query == "SELECT search")
        .expect("jumped");
    assert!(
        matches!(search.hints[0], QueryHint::TimeJumped { ratio, .. } if (ratio - 7.0).abs() < 1e-9)
    );
}

#[test]
fn a_machine_slowing_every_query_is_no_jump() {
    let earlier = red(
        vec![],
        vec![
            query("A", 100, 0.2, 1),
            query("B", 100, 0.3, 1),
            query("C", 100, 0.25, 1),
        ],
    );
    let recent = red(
        vec![],
        vec![
            query("A", 100, 0.8, 1),
            query("B", 100, 1.2, 1),
            query("C", 100, 1.0, 1),
        ],
    );
    assert!(queries(&recent, &earlier).is_empty());
    // Too few calls to believe.
    let earlier = red(vec![], vec![query("A", 5, 0.2, 1)]);
    let recent = red(vec![], vec![query("A", 5, 5.0, 1)]);
    assert!(queries(&recent, &earlier).is_empty());
}
