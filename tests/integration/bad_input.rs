//! Bad input and hostile conditions: each gives one clear line, a non-zero exit and no panic;
//! an unreachable telemetry backend never stops the shop.

use crate::support;

use std::time::Duration;

use crate::support::{ServiceProcess, failure_line, run_to_end, temp_dir};
use serde_json::json;

#[test]
fn an_unknown_service_names_the_choices() {
    let line = failure_line(&["service", "catalgo"], &[]);
    assert!(line.contains("unknown service \"catalgo\""), "{line}");
    assert!(
        line.contains("catalog") && line.contains("frontend"),
        "{line}"
    );
}

#[test]
fn a_bad_port_says_what_a_port_is() {
    let line = failure_line(&["service", "catalog", "--port", "70000"], &[]);
    assert!(line.contains("1 to 65535"), "{line}");
    let line = failure_line(&["up", "--base-port", "eighty"], &[]);
    assert!(line.contains("1 to 65535"), "{line}");
}

#[test]
fn an_address_with_a_port_says_which_flag_takes_the_port() {
    let line = failure_line(&["up", "--control-address", "0.0.0.0:9109"], &[]);
    assert!(line.contains("--control-address"), "{line}");
    assert!(line.contains("--control-port 9109"), "{line}");
    let line = failure_line(&["up", "--host", "0.0.0.0:8080"], &[]);
    assert!(line.contains("--host"), "{line}");
    assert!(line.contains("--base-port 8080"), "{line}");
    let line = failure_line(&["up", "--control-address", "localhost"], &[]);
    assert!(
        line.contains("--control-address") && line.contains("127.0.0.1"),
        "{line}"
    );
}

#[test]
fn fault_and_service_flags_out_of_range_say_what_they_take() {
    let line = failure_line(&["service", "catalog", "--host", "0.0.0.0:80"], &[]);
    assert!(line.contains("--port 80"), "{line}");
    let line = failure_line(&["fault", "serve", "--listen", "0.0.0.0"], &[]);
    assert!(line.contains("--listen 0.0.0.0:8089"), "{line}");
    // Refused before the control API is asked: no shop runs at this address.
    let control = ["--control", "http://127.0.0.1:9"];
    for probability in ["1e300", "-0.5", "NaN", "2"] {
        let args = [
            &[
                "fault",
                "set",
                "slow-payment-gateway",
                "--probability",
                probability,
            ][..],
            &control[..],
        ]
        .concat();
        let line = failure_line(&args, &[]);
        assert!(line.contains("from 0 to 1"), "{probability}: {line}");
    }
    for seconds in ["0", "99999999999999", "-5"] {
        let args = [
            &[
                "fault",
                "set",
                "slow-payment-gateway",
                "--expires-in",
                seconds,
            ][..],
            &control[..],
        ]
        .concat();
        let line = failure_line(&args, &[]);
        assert!(line.contains("1 to 604800"), "{seconds}: {line}");
    }
}

#[test]
fn a_background_load_rate_out_of_range_is_refused_before_anything_starts() {
    for rate in ["1e300", "NaN", "inf", "0", "-1", "1e-300"] {
        let line = failure_line(&["up", "--base-port", "0", "--load-rate", rate], &[]);
        assert!(
            line.contains("--load-rate") && line.contains("0.001 to 1000000"),
            "{rate}: {line}"
        );
        assert!(line.len() < 300, "{line}");
    }
}

#[test]
fn an_unusable_data_directory_says_how_to_fix_it() {
    let dir = temp_dir("not-a-dir");
    let file = dir.join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    let path = file.to_str().unwrap();
    for args in [
        vec!["service", "catalog", "--port", "0", "--data-dir", path],
        vec!["up", "--base-port", "0", "--data-dir", path],
    ] {
        let line = failure_line(&args, &[]);
        assert!(line.contains("data directory"), "{line}");
        assert!(line.contains("--data-dir"), "{line}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn malformed_otlp_headers_are_refused_without_showing_the_secret() {
    for args in [
        vec!["service", "payment", "--port", "0"],
        vec!["up", "--base-port", "0"],
    ] {
        let line = failure_line(
            &args,
            &[(
                "OTEL_EXPORTER_OTLP_HEADERS",
                "api-key=SECRET-VALUE-123,broken",
            )],
        );
        assert!(line.contains("OTEL_EXPORTER_OTLP_HEADERS"), "{line}");
        assert!(line.contains("entry 2"), "{line}");
        assert!(line.contains("key=value"), "{line}");
        assert!(
            !line.contains("SECRET-VALUE-123"),
            "the secret leaked: {line}"
        );
    }
}

#[test]
fn an_unknown_protocol_lists_the_allowed_ones() {
    let line = failure_line(
        &["service", "payment", "--port", "0"],
        &[("OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon")],
    );
    assert!(
        line.contains("grpc") && line.contains("http/protobuf"),
        "{line}"
    );
}

#[test]
fn a_port_in_use_names_the_port_and_the_flag() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let line = failure_line(
        &[
            "up",
            "--base-port",
            &port,
            "--data-dir",
            temp_dir("busy").to_str().unwrap(),
        ],
        &[],
    );
    // `up` checks its ports from the base up, so the taken base port is the one named (unless
    // a test running beside this one took a port of the same range first).
    let named: u16 = line
        .split_whitespace()
        .skip_while(|w| *w != "port")
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port named in: {line}"));
    let base: u16 = port.parse().unwrap();
    assert!((base..base + 8).contains(&named), "{line}");
    assert!(
        line.contains("already in use") && line.contains("--base-port"),
        "{line}"
    );
    let line = failure_line(&["service", "payment", "--port", &port], &[]);
    assert!(
        line.contains(&format!("port {port}")) && line.contains("--port"),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_otlp_endpoint_never_stops_the_shop() {
    // Port 9 on loopback: nothing listens there, every export is refused.
    let mut payment = ServiceProcess::start(
        "payment",
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9"),
            ("OTEL_BSP_SCHEDULE_DELAY", "50"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "1000"),
            ("PAYMENT_MEDIAN_LATENCY_MS", "1"),
        ],
    );
    tracedojo_kit::telemetry::install_crypto_provider();
    let http = reqwest::Client::new();
    let pay = json!({"order_ref": "ord_1", "amount_cents": 1299, "currency": "USD", "card_number": "4242424242424242"});
    // Keep serving while exports fail: every request succeeds until a failed export is
    // counted.
    let mut served = 0;
    let mut failed_batches = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut pace = tokio::time::interval(Duration::from_millis(10));
    while std::time::Instant::now() < deadline {
        pace.tick().await;
        let response = http
            .post(format!("{}/payments", payment.url))
            .json(&pay)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        served += 1;
        let health: serde_json::Value = http
            .get(format!("{}/health", payment.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        failed_batches = health["telemetry"]["failed_batches"].as_u64().unwrap_or(0);
        if failed_batches > 0 && served >= 20 {
            break;
        }
    }
    assert!(
        failed_batches > 0,
        "no export failure counted after {served} requests"
    );
    payment
        .stderr
        .wait_for("fail: connection refused", Duration::from_secs(10))
        .unwrap();
    assert!(payment.stop(), "payment did not stop cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_still_buffered_are_flushed_on_sigterm() {
    let receiver = tracedojo_explorer::Receiver::start_local().await.unwrap();
    let endpoint = receiver.grpc_endpoint();
    // A batch delay of ten minutes: nothing leaves before shutdown unless shutdown flushes.
    let mut payment = ServiceProcess::start(
        "payment",
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_BSP_SCHEDULE_DELAY", "600000"),
            ("PAYMENT_MEDIAN_LATENCY_MS", "1"),
        ],
    );
    tracedojo_kit::telemetry::install_crypto_provider();
    let http = reqwest::Client::new();
    let pay = json!({"order_ref": "ord_flush", "amount_cents": 500, "currency": "USD", "card_number": "4242424242424242"});
    let response = http
        .post(format!("{}/payments", payment.url))
        .json(&pay)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(
        receiver.store().span_count(),
        0,
        "the batch delay should hold the span back"
    );

    assert!(payment.stop(), "payment did not stop cleanly");
    receiver
        .store()
        .wait_for_spans(
            |spans| {
                spans
                    .iter()
                    .any(|s| s.name == "POST /payments" && s.kind == "SERVER")
            },
            Duration::from_secs(10),
        )
        .await
        .unwrap_or_else(|e| panic!("the buffered span was lost on shutdown: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_up_a_dead_backend_is_one_plain_warning_not_a_stream_of_sdk_errors() {
    let shop = support::Shop::start(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")]);
    tracedojo_kit::telemetry::install_crypto_provider();
    let page = reqwest::get(format!("{}/api/products?limit=2", shop.url))
        .await
        .unwrap();
    assert_eq!(
        page.status(),
        200,
        "the shop serves while its backend is down"
    );
    shop.stderr
        .wait_for(
            "warning: exports to the backend fail: connection refused",
            Duration::from_secs(20),
        )
        .unwrap();
    let stderr = shop.stderr.text();
    assert!(
        !stderr.contains("ExportError"),
        "SDK export errors reached the console:\n{stderr}"
    );
}

#[test]
fn fault_presets_are_listed_without_a_running_shop() {
    let output = run_to_end(
        &["fault", "presets", "--control", "http://127.0.0.1:9"],
        &[],
    );
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for preset in ["slow-payment-gateway", "missing-index", "gold-tier-errors"] {
        assert!(text.contains(preset), "{preset} not listed:\n{text}");
    }
}

#[test]
fn a_bad_participant_name_is_refused_before_anything_starts() {
    let long = "x".repeat(200);
    for (name, problem) in [
        ("alice smith", "a space at position 6"),
        (long.as_str(), "200 characters long"),
        ("", "is empty"),
        ("josé", "not ASCII"),
    ] {
        for (args, env) in [
            (
                vec!["up", "--base-port", "0", "--participant", name],
                vec![],
            ),
            (
                vec!["up", "--base-port", "0"],
                vec![("TRACEDOJO_PARTICIPANT", name)],
            ),
        ] {
            let output = run_to_end(&args, &env);
            let stderr = String::from_utf8_lossy(&output.stderr).to_string();
            assert!(!output.status.success(), "{name:?} was accepted");
            assert!(!stderr.contains("panicked"), "{name:?}: {stderr}");
            let line = stderr.trim_end();
            assert!(line.contains(problem), "{name:?}: {line}");
            assert!(
                line.contains("1 to 32") && line.contains("letters, digits"),
                "{name:?}: {line}"
            );
            assert!(line.len() < 300, "{name:?}: {line}");
            assert_eq!(line.lines().count(), 1, "{name:?}: one line: {stderr}");
            // Refused before anything started: no service table, no explorer.
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(stdout.trim().is_empty(), "{name:?}: {stdout}");
        }
    }
}

#[test]
fn a_malformed_number_in_an_otel_variable_is_one_line_naming_it() {
    for args in [
        vec!["service", "payment", "--port", "0"],
        vec!["up", "--base-port", "0"],
    ] {
        let output = run_to_end(&args, &[("OTEL_BSP_SCHEDULE_DELAY", "abc")]);
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        assert!(!output.status.success(), "{args:?} accepted it: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        let line = stderr.trim_end();
        assert_eq!(line.lines().count(), 1, "{args:?}: one line: {stderr}");
        for needed in [
            "OTEL_BSP_SCHEDULE_DELAY",
            "\"abc\"",
            "milliseconds",
            "OTEL_BSP_SCHEDULE_DELAY=500",
        ] {
            assert!(line.contains(needed), "{args:?}: {needed} missing: {line}");
        }
    }
    let line = failure_line(
        &["service", "payment", "--port", "0"],
        &[
            ("OTEL_BSP_MAX_QUEUE_SIZE", "100"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "200"),
        ],
    );
    assert!(
        line.contains("OTEL_BSP_MAX_EXPORT_BATCH_SIZE") && line.contains("at most 100"),
        "{line}"
    );
}
