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
}
