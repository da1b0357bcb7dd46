//! A report with every part filled in, for the tests of the formats.

use serde_json::json;

use crate::burn::Severity;
use crate::model::{
    Burn, Cause, Code, Exemplar, Item, Judged, QueryHint, QueryItem, Report, Segment, Share, Why,
    WindowBurn,
};
use crate::objectives::Indicator;

fn burn(indicator: Indicator, threshold_ms: Option<f64>, target: f64, rate: f64) -> Burn {
    Burn {
        indicator,
        target,
        threshold_ms,
        long: WindowBurn {
            bad: 90,
            total: 600,
            burn_rate: rate,
        },
        short: WindowBurn {
            bad: 9,
            total: 50,
            burn_rate: rate + 0.6,
        },
        burn_rate: rate,
        severity: crate::burn::severity(rate, 30.0 * 86_400.0),
        budget_spent: rate / 720.0,
        budget_lasts_hours: Some(720.0 / (rate + 0.6)),
    }
}

pub fn report() -> Report {
    let item = Item {
        rank: 1,
        service: "frontend".into(),
        operation: "POST /api/checkout".into(),
        kind: "SERVER".into(),
        requests: 600,
        traffic_share: 0.12,
        short_requests: 50,
        error_rate: 0.0,
        p95_ms: 1900.0,
        p99_ms: 3100.0,
        short_p95_ms: 2000.0,
        short_p99_ms: 3200.0,
        burn_rate: 3.0,
        severity: Severity::Ticket,
        objectives: vec![
            burn(Indicator::LatencyP95, Some(400.0), 0.95, 3.0),
            burn(Indicator::Success, None, 0.99, 0.0),
        ],
        why: Why {
            exemplars: vec![Exemplar {
                trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
                url: "http://127.0.0.1:8090/#/trace/4bf92f3577b34da6a3ce929d0e0e4736".into(),
                duration_ms: 2100.0,
                failed: false,
            }],
            time_by_service: vec![
                Share {
                    service: "payment".into(),
                    operation: None,
                    share: 0.82,
                    ms: 1700.0,
                },
                Share {
                    service: "checkout".into(),
                    operation: None,
                    share: 0.09,
                    ms: 190.0,
                },
            ],
            time_by_span: vec![Share {
                service: "payment".into(),
                operation: Some("POST /payments".into()),
                share: 0.8,
                ms: 1650.0,
            }],
            db_hints: vec![json!({
                "kind": "repeated_query", "service": "catalog",
                "query": "SELECT * FROM products WHERE id = $1", "count": 24
            })],
            first_causes: vec![Cause {
                service: "payment".into(),
                operation: "POST /payments".into(),
                error_type: "503".into(),
                message: "gateway | timed `out`".into(),
                traces: 4,
                example_trace_id: None,
            }],
            segment: vec![Segment {
                key: "tracedojo.user.tier".into(),
                value: "gold".into(),
                error_rate_with: 0.48,
                error_rate_without: 0.002,
                share_of_failures: 1.0,
            }],
            code: Some(Code {
                function: "tracedojo_frontend::api::checkout".into(),
                file: "services/frontend/src/api.rs".into(),
                url: Some("https://example.com/tree/main/services/frontend/src/api.rs".into()),
            }),
        },
    };
    Report {
        generated_unix_ms: 1_796_352_600_000,
        explorer: "http://127.0.0.1:8090".into(),
        objectives: crate::objectives::SHOP_NAME.into(),
        period_days: 30.0,
        long_window_seconds: 3600,
        short_window_seconds: 300,
        min_burn_rate: 1.0,
        endpoints_judged: 19,
        judged: vec![Judged {
            service: "frontend".into(),
            operation: "GET /api/products".into(),
            requests: 900,
            short_requests: 80,
            burn_rate: 0.3,
        }],
        needs_work: vec![item],
        queries: vec![QueryItem {
            service: "catalog".into(),
            db_system: "sqlite".into(),
            query: "SELECT id FROM search_terms\n  WHERE term = $1 | `x`".into(),
            collection: "search_terms".into(),
            calls: 50,
            p50_ms: 1.4,
            p95_ms: 2.0,
            total_ms: 70.0,
            hints: vec![QueryHint::TimeJumped {
                p50_before_ms: 0.2,
                p50_now_ms: 1.4,
                ratio: 7.0,
            }],
        }],
        customers: Some(json!({"customers": [
            {"customer": "Contoso | <b>", "requests": 40, "errors": 6, "error_rate": 0.15, "p95_ms": 120.0, "affected": 6},
            {"customer": "Fabrikam", "requests": 30, "errors": 0, "error_rate": 0.0, "p95_ms": 80.0, "affected": 0}
        ]})),
        notes: vec![],
    }
}
