//! `tracedojo load` against the real shop, and its answers to bad input.

mod support;

use support::{Shop, run_to_end, temp_dir};

fn failure_line(args: &[&str]) -> String {
    support::failure_line(args, &[])
}

#[test]
fn a_fault_free_run_against_the_shop_has_no_errors() {
    let shop = Shop::start(&[("OTEL_SDK_DISABLED", "true")]);
    let dir = temp_dir("load");
    let report = dir.join("report.json");
    let output = run_to_end(
        &[
            "load",
            "--target",
            &shop.url,
            "--rate",
            "20",
            "--duration",
            "3",
            "--think-max-ms",
            "50",
            "--seed",
            "7",
            "--json",
            report.to_str().unwrap(),
        ],
        &[],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("p99 uncorr."), "{stdout}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(report["journeys_started"], 60, "{report}");
    assert_eq!(report["journeys_finished"], 60, "{report}");
    assert!(report["requests"].as_u64().unwrap() >= 60, "{report}");
    assert_eq!(report["errors"], 0, "{report}");
    assert_eq!(report["dropped"], 0, "{report}");
    let endpoints: Vec<&str> = report["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["endpoint"].as_str())
        .collect();
    assert!(
        endpoints.contains(&"GET /api/products/{id}"),
        "{endpoints:?}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bad_load_input_gets_one_clear_line() {
    let line = failure_line(&["load", "--profile", "sawtooth"]);
    assert!(
        line.contains("unknown profile \"sawtooth\"") && line.contains("diurnal"),
        "{line}"
    );
    let line = failure_line(&["load", "--rate", "0"]);
    assert!(
        line.contains("rate must be") && line.contains("above 0"),
        "{line}"
    );
    let line = failure_line(&["load", "--rate", "-3"]);
    assert!(line.contains("rate"), "{line}");
    let line = failure_line(&["load", "--target", "http://127.0.0.1:9", "--duration", "1"]);
    assert!(
        line.contains("cannot reach the shop at http://127.0.0.1:9"),
        "{line}"
    );
    assert!(line.contains("--target"), "{line}");
    let line = failure_line(&["load", "--target", "shop.example"]);
    assert!(line.contains("http://"), "{line}");

    let dir = temp_dir("profile-file");
    let file = dir.join("demo.toml");
    std::fs::write(&file, "profile = \"spike\"\nrat = 10\n").unwrap();
    let line = failure_line(&["load", "--file", file.to_str().unwrap()]);
    assert!(
        line.contains("demo.toml line 2:") && line.contains("rat"),
        "{line}"
    );
    std::fs::write(&file, "[mix]\nbrowze = 1\n").unwrap();
    let line = failure_line(&["load", "--file", file.to_str().unwrap()]);
    assert!(line.contains("unknown journey \"browze\""), "{line}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_start_at_the_load_generator_and_finish_without_errors() {
    let receiver = tracedojo_explorer::Receiver::start_local().await.unwrap();
    let endpoint = receiver.http_endpoint();
    let shop = Shop::start(&[("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str())]);
    let url = shop.url.clone();
    let env_endpoint = endpoint.clone();
    let output = tokio::task::spawn_blocking(move || {
        run_to_end(
            &[
                "load",
                "--target",
                &url,
                "--rate",
                "10",
                "--duration",
                "2",
                "--think-max-ms",
                "20",
            ],
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", env_endpoint.as_str()),
                ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ],
        )
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let spans = receiver
        .store()
        .wait_for_spans(
            |spans| {
                let roots = spans
                    .iter()
                    .filter(|s| s.service_name() == "loadgenerator" && s.parent_span_id.is_empty())
                    .count();
                let answered = spans
                    .iter()
                    .filter(|s| {
                        s.service_name() == "frontend"
                            && s.kind == "SERVER"
                            && s.attr_str("synthetic") == Some("true")
                    })
                    .count();
                roots >= 20 && answered >= roots
            },
            std::time::Duration::from_secs(30),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let roots: Vec<_> = spans
        .iter()
        .filter(|s| s.service_name() == "loadgenerator" && s.parent_span_id.is_empty())
        .collect();
    for root in &roots {
        assert_eq!(root.kind, "CLIENT");
        let trace: Vec<_> = spans
            .iter()
            .filter(|s| s.trace_id == root.trace_id)
            .collect();
        let frontend = trace
            .iter()
            .find(|s| s.service_name() == "frontend" && s.kind == "SERVER")
            .unwrap_or_else(|| panic!("no frontend span under {}", root.name));
        assert_eq!(frontend.parent_span_id, root.span_id);
        assert_eq!(frontend.attr_str("user.tier"), root.attr_str("user.tier"));
        assert!(
            trace.iter().all(|s| s.status_code != "ERROR"),
            "an error in a fault-free run: {:?}",
            trace
                .iter()
                .filter(|s| s.status_code == "ERROR")
                .map(|s| &s.name)
                .collect::<Vec<_>>()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_runs_a_gentle_load_so_traces_appear_without_clicking() {
    let receiver = tracedojo_explorer::Receiver::start_local().await.unwrap();
    let endpoint = receiver.http_endpoint();
    let shop = Shop::start_with(
        &["--load-rate", "5"],
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str())],
    );
    assert!(
        shop.stdout.text().contains("Load:   5 journeys/s"),
        "{}",
        shop.stdout.text()
    );
    receiver
        .store()
        .wait_for_spans(
            |spans| {
                spans.iter().any(|s| {
                    s.service_name() == "frontend"
                        && s.kind == "SERVER"
                        && s.attr_str("synthetic") == Some("true")
                })
            },
            std::time::Duration::from_secs(30),
        )
        .await
        .unwrap_or_else(|e| panic!("no traces from the background load: {e}"));
}
