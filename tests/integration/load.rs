//! `tracedojo load` against the real shop, and its answers to bad input.

use crate::support;

use crate::support::{Shop, run_to_end, temp_dir};

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

/// The figures of a `load` run's JSON report, after checking the run succeeded.
fn report_of(output: &std::process::Output, report: &std::path::Path) -> serde_json::Value {
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&std::fs::read(report).unwrap()).unwrap()
}

#[test]
fn overlapping_purchases_of_one_user_in_two_runs_never_share_a_cart() {
    let shop = Shop::start(&[("OTEL_SDK_DISABLED", "true")]);
    let dir = temp_dir("one-user");
    let profile = dir.join("purchases.toml");
    std::fs::write(&profile, "[mix]\npurchase = 1\n").unwrap();
    // One user buying 20 times a second, each purchase several steps long, so the user's
    // purchases overlap; and two runs with the same seed at once, as `up`'s background load
    // and someone's own run are. A shared cart shows as checkout's 400 "empty cart".
    let reports = [dir.join("first.json"), dir.join("second.json")];
    let outputs: Vec<std::process::Output> = std::thread::scope(|scope| {
        let runs: Vec<_> = reports
            .iter()
            .map(|report| {
                let (url, profile) = (&shop.url, &profile);
                scope.spawn(move || {
                    run_to_end(
                        &[
                            "load",
                            "--target",
                            url,
                            "--file",
                            profile.to_str().unwrap(),
                            "--users",
                            "1",
                            "--rate",
                            "20",
                            "--duration",
                            "3",
                            "--think-max-ms",
                            "40",
                            "--seed",
                            "7",
                            "--quiet",
                            "--json",
                            report.to_str().unwrap(),
                        ],
                        &[("OTEL_SDK_DISABLED", "true")],
                    )
                })
            })
            .collect();
        runs.into_iter().map(|run| run.join().unwrap()).collect()
    });
    for (output, report) in outputs.iter().zip(&reports) {
        let report = report_of(output, report);
        assert_eq!(report["journeys_finished"], 60, "{report}");
        assert_eq!(report["errors"], 0, "{report}");
    }
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
        line.contains("--rate") && line.contains("0.001 to 1000000"),
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

/// Nothing listens on port 9: a value let through shows as "cannot reach the shop" instead
/// of the line about the value.
const NOWHERE: [&str; 2] = ["--target", "http://127.0.0.1:9"];

/// The first line `load` fails with, given `args` and an unreachable shop.
fn load_failure(args: &[&str]) -> String {
    let mut all = vec!["load"];
    all.extend_from_slice(&NOWHERE);
    all.extend_from_slice(args);
    failure_line(&all)
}

/// Whether a message echoes a number as a long run of digits instead of compactly.
fn has_long_number(line: &str) -> bool {
    line.split(|c: char| !c.is_ascii_digit())
        .any(|digits| digits.len() > 20)
}

#[test]
fn every_number_of_load_is_bounded_and_a_bad_one_is_named_with_its_range() {
    let cases: [(&[&str], &str, &str); 13] = [
        (
            &["--think-max-ms", "18446744073709551615"],
            "--think-max-ms",
            "60000",
        ),
        (&["--think-max-ms", "60001"], "--think-max-ms", "60000"),
        (
            &["--duration", "18446744073709551615"],
            "--duration",
            "31536000",
        ),
        (&["--duration", "-5"], "--duration", "31536000"),
        (&["--rate", "1e300"], "--rate", "1000000"),
        (&["--rate", "NaN"], "--rate", "1000000"),
        (&["--rate", "inf"], "--rate", "1000000"),
        (&["--rate", "-3"], "--rate", "0.001"),
        (&["--rate", "1e-300"], "--rate", "0.001"),
        (&["--users", "0"], "--users", "1000000"),
        (&["--max-in-flight", "100001"], "--max-in-flight", "100000"),
        (&["--workers", "0"], "--workers", "256"),
        (
            &["--declined-per-mille", "1001"],
            "--declined-per-mille",
            "1000",
        ),
    ];
    for (args, flag, range) in cases {
        let line = load_failure(args);
        assert!(
            line.contains(flag) && line.contains(range),
            "{args:?}: {line}"
        );
        assert!(
            !line.contains("cannot reach"),
            "{args:?} was accepted: {line}"
        );
        assert!(!has_long_number(&line.replace(args[1], "")), "{line}");
    }
    let line = load_failure(&["--rate", "1e300"]);
    assert!(line.contains("1e300"), "{line}");
}

#[test]
fn every_number_of_a_profile_file_is_bounded_and_named_with_its_line() {
    let dir = temp_dir("profile-bounds");
    let file = dir.join("demo.toml");
    let path = file.to_str().unwrap();
    for (text, key, range) in [
        (
            "think_max_ms = 9223372036854775807\n",
            "think_max_ms",
            "60000",
        ),
        ("duration_s = 31536001\n", "duration_s", "31536000"),
        ("rate = 1e300\n", "rate", "1000000"),
        ("rate = nan\n", "rate", "1000000"),
        ("users = 0\n", "users", "1000000"),
        ("max_in_flight = 0\n", "max_in_flight", "100000"),
        ("declined_per_mille = 5000\n", "declined_per_mille", "1000"),
    ] {
        std::fs::write(&file, format!("profile = \"constant\"\n{text}")).unwrap();
        let line = load_failure(&["--file", path]);
        assert!(line.contains("demo.toml line 2:"), "{text}: {line}");
        assert!(line.contains(key) && line.contains(range), "{text}: {line}");
        assert!(!has_long_number(&line), "{line}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_unwritable_json_report_is_refused_before_the_run_and_leaves_nothing_behind() {
    let dir = temp_dir("json-report");
    let missing = dir.join("missing").join("report.json");
    for path in [&missing, &dir] {
        // Checked before the shop is even asked: the run would otherwise be wasted.
        let line = load_failure(&["--json", path.to_str().unwrap()]);
        assert!(
            line.contains("--json") && line.contains(path.to_str().unwrap()),
            "{line}"
        );
        assert!(!line.contains("cannot reach"), "{line}");
    }
    // A run that fails after the report was opened leaves no empty report behind.
    let report = dir.join("report.json");
    let line = load_failure(&["--json", report.to_str().unwrap()]);
    assert!(line.contains("cannot reach"), "{line}");
    assert!(!report.exists(), "an empty report was left behind");
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
                            && s.attr_str("user_agent.synthetic.type") == Some("test")
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
        assert_eq!(
            frontend.attr_str("tracedojo.user.tier"),
            root.attr_str("tracedojo.user.tier")
        );
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
                        && s.attr_str("user_agent.synthetic.type") == Some("test")
                })
            },
            std::time::Duration::from_secs(30),
        )
        .await
        .unwrap_or_else(|e| panic!("no traces from the background load: {e}"));
}
