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
pub(crate) fn report_of(
    output: &std::process::Output,
    report: &std::path::Path,
) -> serde_json::Value {
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

/// What `load merge` of instance 1/2's report `a` and 2/2's `b` must give: the counts summed,
/// the run's span from the first start to the last end, and each percentile that of the
/// union of the two histograms (worked out here apart from the merge).
pub(crate) fn assert_merged_exactly(
    a: &serde_json::Value,
    b: &serde_json::Value,
    merged: &serde_json::Value,
) {
    let u = |report: &serde_json::Value, key: &str| report[key].as_u64().unwrap();
    assert_eq!(merged["instances"], serde_json::json!(["1/2", "2/2"]));
    for key in [
        "journeys_started",
        "journeys_finished",
        "requests",
        "errors",
        "answered",
        "late",
        "dropped",
        "users_played",
    ] {
        assert_eq!(u(merged, key), u(a, key) + u(b, key), "{key}");
    }
    assert_eq!(
        u(merged, "started_unix_ms"),
        u(a, "started_unix_ms").min(u(b, "started_unix_ms"))
    );
    assert_eq!(
        u(merged, "ended_unix_ms"),
        u(a, "ended_unix_ms").max(u(b, "ended_unix_ms"))
    );
    for (key, quantile) in [("p50_ms", 0.5), ("p95_ms", 0.95), ("p99_ms", 0.99)] {
        let at = |report: &serde_json::Value| report["overall"]["corrected"][key].as_f64().unwrap();
        let (m, a_value, b_value) = (at(merged), at(a), at(b));
        assert!(
            a_value.min(b_value) <= m && m <= a_value.max(b_value),
            "{key}: merged {m} not between {a_value} and {b_value}"
        );
        let union = quantile_of_union(
            &[
                &a["overall"]["corrected_histogram_us"],
                &b["overall"]["corrected_histogram_us"],
            ],
            quantile,
        );
        assert_eq!(m, union, "{key}");
    }
}

/// The p-quantile of the union of histograms given as their reports' (value, count) pairs,
/// by HDR's rule (the first recorded value at or past ⌈q·total⌉ samples), in milliseconds:
/// worked out here apart from the merge under test.
fn quantile_of_union(histograms: &[&serde_json::Value], quantile: f64) -> f64 {
    let mut counts = std::collections::BTreeMap::<u64, u64>::new();
    for histogram in histograms {
        for pair in histogram.as_array().unwrap() {
            let (value, count) = (pair[0].as_u64().unwrap(), pair[1].as_u64().unwrap());
            *counts.entry(value).or_default() += count;
        }
    }
    let total: u64 = counts.values().sum();
    let wanted = ((quantile * total as f64).ceil() as u64).max(1);
    let mut seen = 0;
    for (value, count) in counts {
        seen += count;
        if seen >= wanted {
            return value as f64 / 1000.0;
        }
    }
    panic!("no value at {quantile} of {total}");
}

/// Each request that reached the frontend from a loader: the loader (the
/// `tracedojo.test.loader` resource attribute of its root span) and the user it came as (their
/// index in the population).
fn requests_the_frontend_saw(spans: &[tracedojo_explorer::StoredSpan]) -> Vec<(String, usize)> {
    let loaders: std::collections::HashMap<(&str, &str), &str> = spans
        .iter()
        .filter(|s| s.service_name() == "loadgenerator" && s.parent_span_id.is_empty())
        .filter_map(|s| {
            let loader = s.resource.get("tracedojo.test.loader")?.as_str()?;
            Some(((s.trace_id.as_str(), s.span_id.as_str()), loader))
        })
        .collect();
    spans
        .iter()
        .filter(|s| s.service_name() == "frontend" && s.kind == "SERVER")
        .filter_map(|span| {
            let loader = loaders.get(&(span.trace_id.as_str(), span.parent_span_id.as_str()))?;
            // `load-{seed:x}-{index:05}`.
            let id = span
                .attr_str("user.id")
                .unwrap_or_else(|| panic!("no user.id: {span:?}"));
            let index = id.rsplit('-').next().unwrap().parse().unwrap();
            Some((loader.to_string(), index))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_at_once_play_disjoint_users_and_their_reports_merge_exactly() {
    let receiver = tracedojo_explorer::Receiver::start_local().await.unwrap();
    let endpoint = receiver.http_endpoint();
    let shop = Shop::start(&[("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str())]);
    let dir = temp_dir("instances");
    let reports = [dir.join("a.json"), dir.join("b.json")];
    // Instance 1 from the flag, instance 2 from the environment; 40 journeys each of a
    // population of 20, so each instance's 10 users come up several times.
    let runs = [("a", "--instance", "1/2"), ("b", "env", "2/2")];
    let (url, reports_for_runs, endpoint_for_runs) =
        (shop.url.clone(), reports.clone(), endpoint.clone());
    let outputs: Vec<std::process::Output> = tokio::task::spawn_blocking(move || {
        std::thread::scope(|scope| {
            let handles: Vec<_> = runs
                .iter()
                .zip(&reports_for_runs)
                .map(|((label, how, instance), report)| {
                    let (url, endpoint) = (&url, &endpoint_for_runs);
                    scope.spawn(move || {
                        let loader = format!("tracedojo.test.loader={label}");
                        let mut args = vec![
                            "load",
                            "--target",
                            url,
                            "--users",
                            "20",
                            "--rate",
                            "20",
                            "--journeys",
                            "40",
                            "--duration",
                            "10",
                            "--think-max-ms",
                            "20",
                            "--seed",
                            "7",
                            "--json",
                            report.to_str().unwrap(),
                        ];
                        let mut env = vec![
                            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
                            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
                            ("OTEL_RESOURCE_ATTRIBUTES", loader.as_str()),
                        ];
                        if *how == "env" {
                            env.push(("TRACEDOJO_LOAD_INSTANCE", instance));
                        } else {
                            args.extend([*how, *instance]);
                        }
                        run_to_end(&args, &env)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    })
    .await
    .unwrap();
    let a = report_of(&outputs[0], &reports[0]);
    let b = report_of(&outputs[1], &reports[1]);
    assert_eq!(a["instances"], serde_json::json!(["1/2"]), "{a}");
    assert_eq!(b["instances"], serde_json::json!(["2/2"]), "{b}");
    let stderr = String::from_utf8_lossy(&outputs[1].stderr);
    assert!(
        stderr.contains("instance 2/2: 10 of the 20 users"),
        "{stderr}"
    );
    for report in [&a, &b] {
        assert_eq!(report["journeys_finished"], 40, "{report}");
        assert_eq!(report["errors"], 0, "{report}");
        assert_eq!(report["seed"], 7, "{report}");
    }
    let u = |report: &serde_json::Value, key: &str| report[key].as_u64().unwrap();
    // They ran at the same time: each started before the other ended.
    assert!(
        u(&a, "started_unix_ms") < u(&b, "ended_unix_ms")
            && u(&b, "started_unix_ms") < u(&a, "ended_unix_ms"),
        "one ran after the other: {a} {b}"
    );

    // What the shop saw: every request of each loader, with the user it came as.
    let requests = u(&a, "requests") + u(&b, "requests");
    let spans = receiver
        .store()
        .wait_for_spans(
            |spans| requests_the_frontend_saw(spans).len() as u64 >= requests,
            std::time::Duration::from_secs(30),
        )
        .await
        .unwrap_or_else(|e| panic!("the shop did not see every request: {e}"));
    let seen = requests_the_frontend_saw(&spans);
    assert_eq!(seen.len() as u64, requests);
    let users_of = |loader: &str| -> std::collections::BTreeSet<usize> {
        seen.iter()
            .filter(|(l, _)| l == loader)
            .map(|(_, user)| *user)
            .collect()
    };
    let (seen_a, seen_b) = (&users_of("a"), &users_of("b"));
    assert!(!seen_a.is_empty() && !seen_b.is_empty(), "{seen:?}");
    assert!(
        seen_a.is_disjoint(seen_b),
        "both instances played {:?}",
        seen_a.intersection(seen_b).collect::<Vec<_>>()
    );
    assert!(
        seen_a.iter().all(|user| user % 2 == 0 && *user < 20),
        "{seen_a:?}"
    );
    assert!(
        seen_b.iter().all(|user| user % 2 == 1 && *user < 20),
        "{seen_b:?}"
    );
    assert_eq!(seen_a.len() as u64, u(&a, "users_played"), "{a}");
    assert_eq!(seen_b.len() as u64, u(&b, "users_played"), "{b}");

    let merged_path = dir.join("merged.json");
    let output = run_to_end(
        &[
            "load",
            "merge",
            reports[0].to_str().unwrap(),
            reports[1].to_str().unwrap(),
            "--json",
            merged_path.to_str().unwrap(),
        ],
        // A shell that runs instances may have these set; merge takes no notice of them.
        &[
            ("TRACEDOJO_LOAD_INSTANCE", "2/2"),
            ("TRACEDOJO_TARGET", shop.url.as_str()),
        ],
    );
    let merged = report_of(&output, &merged_path);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("80 journeys started") && stdout.contains("p99 uncorr."),
        "{stdout}"
    );
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_merged_exactly(&a, &b, &merged);
    assert_eq!(u(&merged, "requests"), requests);

    // The same instance twice: refused in one line that names both files.
    let copy = dir.join("copy.json");
    std::fs::copy(&reports[0], &copy).unwrap();
    let output = run_to_end(
        &[
            "load",
            "merge",
            reports[0].to_str().unwrap(),
            copy.to_str().unwrap(),
        ],
        &[],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{} and {} are both instance 1/2",
            reports[0].display(),
            copy.display()
        )),
        "{stderr}"
    );
    // One of two: merged, with a warning that the other is missing.
    let output = run_to_end(&["load", "merge", reports[1].to_str().unwrap()], &[]);
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("warning: 1 of 2 instances given (2/2); 1/2 missing"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bad_instances_and_merges_get_one_clear_line() {
    for bad in ["0/2", "3/2", "2", "1/0", "a/b", "+1/2"] {
        let line = load_failure(&["--instance", bad]);
        assert!(
            line.contains("--instance takes I/N, e.g. 2/4, with 1 <= I <= N"),
            "{bad}: {line}"
        );
        let line = support::failure_line(
            &["load", NOWHERE[0], NOWHERE[1]],
            &[("TRACEDOJO_LOAD_INSTANCE", bad)],
        );
        assert!(
            line.contains("--instance takes I/N"),
            "{bad} from the environment: {line}"
        );
    }
    let line = load_failure(&["--instance", "3/4", "--users", "3"]);
    assert!(
        line.contains("instance 3/4 needs at least 4 users") && line.contains("--users"),
        "{line}"
    );
    // Flags of a run do not go with merge, which would otherwise drop them unsaid.
    let line = failure_line(&["load", "--rate", "5", "merge", "a.json"]);
    assert!(line.contains("merge"), "{line}");
    let line = failure_line(&["load", "merge"]);
    assert!(line.contains("required arguments"), "{line}");

    let dir = temp_dir("merge-input");
    let missing = dir.join("missing.json");
    let line = failure_line(&["load", "merge", missing.to_str().unwrap()]);
    assert!(
        line.starts_with(&format!("error: cannot read {}", missing.display())),
        "{line}"
    );
    let toml = dir.join("profile.toml");
    std::fs::write(&toml, "profile = \"spike\"\n").unwrap();
    let line = failure_line(&["load", "merge", toml.to_str().unwrap()]);
    assert!(
        line.contains(&format!(
            "{} is not a load report: not JSON",
            toml.display()
        )),
        "{line}"
    );
    let other = dir.join("other.json");
    std::fs::write(&other, "{\"resourceSpans\": []}").unwrap();
    let line = failure_line(&["load", "merge", other.to_str().unwrap()]);
    assert!(
        line.contains("is not a load report: missing field `target`"),
        "{line}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
