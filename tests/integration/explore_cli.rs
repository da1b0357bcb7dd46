//! `tracedojo explore` as a person runs it: it says where it listens, stores what an app sends
//! it, stops cleanly on SIGTERM, and answers bad input with one clear line and no panic.

use std::time::Duration;

use crate::support::otlp_json::{now_nanos, traces_body};
use crate::support::{ExplorerProcess, failure_line, poll_json};
use serde_json::{Value, json};

/// One span in OTLP/HTTP JSON, as any OpenTelemetry SDK can send it.
fn one_span(trace_id: &str) -> Value {
    let now = now_nanos();
    let span = json!({
        "traceId": trace_id, "spanId": "eee19b7ec3c1b174", "name": "GET /hello",
        "kind": 2,
        "startTimeUnixNano": (now - 5_000_000).to_string(),
        "endTimeUnixNano": now.to_string()
    });
    traces_body("explore-cli-test", "explore-cli-test", vec![span])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explore_prints_where_it_listens_stores_spans_and_stops_on_sigterm() {
    let mut explorer = ExplorerProcess::start(&["--link", "Shop=http://127.0.0.1:8080"]);
    let text = explorer.stdout.text();
    assert!(text.starts_with("tracedojo explorer\n"), "{text}");
    for url in [&explorer.ui, &explorer.grpc, &explorer.http] {
        let port: u16 = url
            .strip_prefix("http://127.0.0.1:")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("not a bound loopback URL: {url}"));
        assert_ne!(port, 0, "the real port is printed, not 0");
    }
    explorer
        .stdout
        .wait_for(
            &format!("OTEL_EXPORTER_OTLP_ENDPOINT={}", explorer.http),
            Duration::from_secs(5),
        )
        .unwrap();
    explorer
        .stdout
        .wait_for("Press Ctrl-C to stop.", Duration::from_secs(5))
        .unwrap();

    let status_url = format!("{}/api/status", explorer.ui);
    let (code, status) = poll_json(&status_url, Duration::ZERO, |_, _| true).await;
    assert_eq!(code, 200, "{status}");
    assert_eq!(
        status["links"],
        json!([{"name": "Shop", "url": "http://127.0.0.1:8080"}])
    );

    let trace_id = "5b8efff798038103d269b633813fc60c";
    explorer.send_traces(&one_span(trace_id)).await;
    let counted = |status: &Value| {
        status["spans_stored"].as_u64().unwrap_or(0) >= 1
            || status["spans_received"].as_u64().unwrap_or(0) >= 1
    };
    let (_, status) = poll_json(&status_url, Duration::from_secs(10), |_, s| counted(s)).await;
    assert!(counted(&status), "the span was not counted: {status}");

    assert!(explorer.stop(), "explore should exit 0 after SIGTERM");
    let stderr = explorer.stderr.text();
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Runs `explore` on free ports except where `args` say otherwise, expecting it to fail.
fn explore_failure(args: &[&str]) -> String {
    let mut all = vec!["explore"];
    for (flag, free) in [
        ("--ui-address", "127.0.0.1:0"),
        ("--grpc-address", "127.0.0.1:0"),
        ("--http-address", "127.0.0.1:0"),
    ] {
        if !args.contains(&flag) {
            all.extend([flag, free]);
        }
    }
    all.extend(args);
    failure_line(&all, &[])
}

#[test]
fn a_port_in_use_names_the_port_and_the_flag() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let port = taken.local_addr().unwrap().port();
    for (flag, what) in [
        ("--ui-address", "web UI"),
        ("--grpc-address", "OTLP/gRPC"),
        ("--http-address", "OTLP/HTTP"),
    ] {
        let line = explore_failure(&[flag, &address]);
        assert!(line.starts_with("error: "), "{line}");
        assert!(
            line.contains(&format!("port {port}")) && line.contains("already in use"),
            "{flag}: {line}"
        );
        assert!(line.contains(flag) && line.contains(what), "{flag}: {line}");
    }
}

#[test]
fn bounds_too_small_for_one_trace_are_refused() {
    let line = explore_failure(&["--max-spans", "10"]);
    assert!(
        line.contains("too small to hold one trace") && line.contains("--max-spans"),
        "{line}"
    );
    let line = explore_failure(&["--max-memory", "1KiB"]);
    assert!(
        line.contains("too small to hold one trace") && line.contains("--max-memory"),
        "{line}"
    );
}

#[test]
fn a_size_with_an_unknown_unit_lists_the_units() {
    let line = explore_failure(&["--max-memory", "12XB"]);
    assert!(line.contains("--max-memory"), "{line}");
    for unit in ["KiB", "MiB", "GiB", "KB", "MB", "GB"] {
        assert!(line.contains(unit), "{unit} missing: {line}");
    }
}

#[test]
fn a_bad_link_or_address_says_what_is_expected() {
    let line = explore_failure(&["--link", "bad"]);
    assert!(
        line.contains("--link") && line.contains("NAME=URL"),
        "{line}"
    );
    let line = explore_failure(&["--link", "Shop=javascript:alert(1)"]);
    assert!(line.contains("http://"), "{line}");
    let line = explore_failure(&["--grpc-address", "4317"]);
    assert!(
        line.contains("--grpc-address") && line.contains("HOST:PORT"),
        "{line}"
    );
}
