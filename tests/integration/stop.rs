//! Stopping `tracedojo up`: every child is gone when it exits 0, a backend that never answers
//! does not hold the stop (its lost spans are counted, per service and in all), and a healthy
//! backend still gets the spans flushed at the stop.
//!
//! How long the stop takes is measured by bench/stop.sh, not asserted here.

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::time::Duration;

use crate::support::{Shop, alive, buy_approved, client, service_pids};

/// A TCP listener that accepts every connection and never answers, held open (with every
/// connection it took) until the test process ends: a backend that is up but silent.
fn black_hole() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the black hole");
    let address = listener.local_addr().expect("black hole address");
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    format!("http://{address}")
}

/// Shop traffic that touches every service: products, one with its recommendations, a
/// purchase.
async fn shop_a_little(shop: &Shop) {
    let http = client();
    for path in ["/api/products?limit=3", "/api/products/3"] {
        let response = http
            .get(format!("{}{path}", shop.url))
            .header("x-session-id", "stop-test")
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
    }
    let (status, body) = buy_approved(shop, "stop-test", "tracedojo.user.tier=gold").await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_backend_does_not_hold_the_stop_and_the_lost_spans_are_counted() {
    let backend = black_hole();
    let mut shop = Shop::start(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", backend.as_str()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=SECRET-STOP-4711"),
    ]);
    let pids = service_pids(&shop);
    assert_eq!(pids.len(), 8, "table:\n{}", shop.stdout.text());
    // Every export to the black hole hangs, so these spans are still queued at the stop.
    shop_a_little(&shop).await;

    let clean = shop.stop();

    // up's summary comes after every service's own line.
    let summary = shop
        .stderr
        .wait_for("before the shop stopped", Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("no summary of the lost spans: {e}"));
    let destination = format!("could not be sent to {backend}/v1/traces");
    assert!(summary.contains(&destination), "{summary}");
    let total: u64 = summary
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the summary starts with a count: {summary}"));
    assert!(total > 0, "{summary}");

    // Each service that lost spans says how many, where to and why, once.
    let stderr = shop.stderr.text();
    let mut counted = 0;
    let mut services = BTreeSet::new();
    for line in stderr.lines().filter(|l| l.contains(&destination)) {
        let Some((_, said)) = line.split_once(" | ") else {
            continue; // up's own summary
        };
        let (service, rest) = said.split_once(": ").expect("service: count ...");
        let spans: u64 = rest
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("a count: {line}"));
        assert!(spans > 0, "{line}");
        assert!(line.contains("did not answer within"), "{line}");
        assert!(services.insert(service.to_string()), "twice: {line}");
        counted += spans;
    }
    assert_eq!(
        counted, total,
        "the summary sums the services' lines:\n{stderr}"
    );
    // Frontend, catalog and checkout served the traffic above, so they have spans to lose.
    for busy in ["frontend", "catalog", "checkout"] {
        assert!(services.contains(busy), "{busy} said nothing:\n{stderr}");
    }

    assert!(
        clean,
        "up should exit 0 after SIGTERM\nstdout:\n{}\nstderr:\n{}",
        shop.stdout.text(),
        shop.stderr.text()
    );
    for (name, pid) in &pids {
        assert!(
            !alive(*pid),
            "{name} (pid {pid}) still runs after up stopped"
        );
    }

    // The explorer's copy has its own queue and its own flush: none of it is lost.
    assert!(
        !stderr.contains("could not be sent to the explorer"),
        "{stderr}"
    );
    let all = format!("{}\n{stderr}", shop.stdout.text());
    assert!(
        !all.contains("SECRET-STOP-4711"),
        "a header value leaked:\n{all}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_backend_gets_the_spans_flushed_at_the_stop_and_nothing_is_lost() {
    let receiver = tracedojo_explorer::Receiver::start_local().await.unwrap();
    let endpoint = receiver.http_endpoint();
    // A batch delay of ten minutes: nothing leaves before the stop unless the stop flushes.
    let mut shop = Shop::start(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ("OTEL_BSP_SCHEDULE_DELAY", "600000"),
    ]);
    let pids = service_pids(&shop);
    shop_a_little(&shop).await;

    assert!(
        shop.stop(),
        "up should exit 0 after SIGTERM\nstderr:\n{}",
        shop.stderr.text()
    );
    for (name, pid) in &pids {
        assert!(
            !alive(*pid),
            "{name} (pid {pid}) still runs after up stopped"
        );
    }
    let spans = receiver
        .store()
        .wait_for_spans(
            |spans| {
                spans
                    .iter()
                    .map(|s| s.service_name())
                    .collect::<BTreeSet<_>>()
                    .len()
                    >= 7
            },
            Duration::from_secs(10),
        )
        .await
        .unwrap_or_else(|e| panic!("the spans flushed at the stop did not arrive: {e}"));
    assert!(
        spans.iter().any(|s| s.name == "POST /api/checkout"),
        "the purchase's spans were flushed"
    );
    let stderr = shop.stderr.text();
    assert!(!stderr.contains("could not be sent"), "{stderr}");
}
