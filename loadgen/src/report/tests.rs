//! Reports read back what they wrote, merge exactly, and refuse what is not one run.

use std::time::Instant;

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

use super::*;
use crate::http::Failure;
use crate::recorder::Sample;

const ENDPOINTS: [&str; 3] = ["GET /api/products", "GET /api/cart", "POST /api/checkout"];

/// A sample of `endpoint` with a latency spread over four orders of magnitude.
fn sample(rng: &mut Xoshiro256PlusPlus) -> Sample {
    let step = rng.random_range(1..=3usize);
    let endpoint = ENDPOINTS[step - 1];
    let micros = 10f64.powf(rng.random_range(2.0..6.0)) as u64;
    let status = match rng.random_range(0..20) {
        0 => None,
        1 => Some(503),
        _ => Some(200),
    };
    Sample {
        endpoint,
        journey: if rng.random_range(0..2) == 0 {
            "browse"
        } else {
            "purchase"
        },
        step,
        corrected: Duration::from_micros(micros),
        uncorrected: Duration::from_micros(micros / 3 + 1),
        status,
        failure: status.is_none().then_some(Failure::Timeout),
        at: Instant::now(),
    }
}

fn run_info(instance: &str, started_s: u64, elapsed_ms: u64) -> RunInfo {
    RunInfo {
        target: "http://127.0.0.1:8080".to_string(),
        profile: "constant".to_string(),
        rate: 5.0,
        seed: 7,
        users: 100,
        instance: instance.parse().unwrap(),
        started: UNIX_EPOCH + Duration::from_secs(started_s),
        elapsed: Duration::from_millis(elapsed_ms),
    }
}

/// What a run of `samples` writes with `--json`, read back as `merge` reads it.
fn written(samples: &[Sample], run: RunInfo, users: &[usize]) -> Report {
    let mut recorder = Recorder::default();
    for sample in samples {
        recorder.record(sample);
    }
    recorder.journeys_started = samples.len() as u64 / 2;
    recorder.journeys_finished = samples.len() as u64 / 2;
    recorder.late = 1;
    recorder.answers.sent = samples.len() as u64;
    recorder.users_played.extend(users);
    let text = serde_json::to_string_pretty(&Report::of_run(&recorder, run)).unwrap();
    Report::parse("run.json", &text).unwrap()
}

fn samples(seed: u64, count: usize) -> Vec<Sample> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    (0..count).map(|_| sample(&mut rng)).collect()
}

fn named(reports: &[(&str, &Report)]) -> Vec<(String, Report)> {
    reports
        .iter()
        .map(|(name, report)| (name.to_string(), (*report).clone()))
        .collect()
}

#[test]
fn a_histogram_reads_back_as_itself() {
    let mut histogram = new_histogram();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
    for _ in 0..10_000 {
        histogram
            .record(10f64.powf(rng.random_range(0.0..9.5)) as u64)
            .unwrap();
    }
    histogram.record(1).unwrap();
    histogram.record(3_600_000_000).unwrap();
    let pairs = Latencies::of(&histogram);
    let text = serde_json::to_string(&pairs).unwrap();
    assert!(text.starts_with("[[1,"), "{}", &text[..40]);
    let back: Latencies = serde_json::from_str(&text).unwrap();
    let restored = back.histogram().unwrap();
    assert_eq!(restored.len(), histogram.len());
    assert_eq!(restored.max(), histogram.max());
    assert_eq!(restored.min(), histogram.min());
    for quantile in [0.0, 0.1, 0.5, 0.9, 0.95, 0.99, 0.999, 0.9999, 1.0] {
        assert_eq!(
            restored.value_at_quantile(quantile),
            histogram.value_at_quantile(quantile),
            "{quantile}"
        );
    }
    assert_eq!(
        Latencies::of(&restored),
        pairs,
        "a second trip changes nothing"
    );
}

#[test]
fn a_merge_has_the_percentiles_of_one_histogram_of_every_value_and_the_sums_of_the_counts() {
    let (first, second) = (samples(1, 3_000), samples(2, 5_000));
    let a = written(&first, run_info("1/2", 1_000, 10_000), &[0, 2, 4]);
    let b = written(&second, run_info("2/2", 1_004, 9_000), &[1, 3]);
    let all: Vec<Sample> = first.iter().chain(&second).cloned().collect();
    let one = written(&all, run_info("1/1", 1_000, 13_000), &[]);

    let merged = merge(&named(&[("a.json", &a), ("b.json", &b)])).unwrap();
    assert_eq!(merged.overall, one.overall);
    assert_eq!(merged.endpoints, one.endpoints);
    assert_eq!(merged.journey_steps, one.journey_steps);
    assert_eq!(merged.requests, 8_000);
    assert_eq!(merged.requests, a.requests + b.requests);
    assert_eq!(merged.errors, a.errors + b.errors);
    assert_eq!(merged.errors, one.errors);
    assert_eq!(merged.answered, one.answered);
    assert_eq!(merged.no_answer, one.no_answer);
    assert_eq!(
        merged.no_answer["connect_timeout"],
        a.no_answer["connect_timeout"] + b.no_answer["connect_timeout"]
    );
    assert_eq!(
        merged.journeys_started,
        a.journeys_started + b.journeys_started
    );
    assert_eq!(merged.journeys_finished, 4_000);
    assert_eq!((merged.late, merged.dropped), (2, 0));
    assert_eq!(merged.users_played, 5);
    assert_eq!(
        merged.rate, 10.0,
        "two instances at 5 a second send 10 together"
    );
    assert_eq!(merged.instances_text(), "1/2, 2/2");
    assert!(merged.missing_instances().is_empty());
    // From the first start to the last end: 1000 s + 0 to 1004 s + 9 s.
    assert_eq!(merged.started_unix_ms, 1_000_000);
    assert_eq!(merged.ended_unix_ms, 1_013_000);
    assert_eq!(merged.elapsed_s, 13.0);
    assert_eq!(merged.requests_per_s, 8_000.0 / 13.0);
    assert_eq!(merged.journeys_per_s, 4_000.0 / 13.0);
    assert_eq!(merged.target, "http://127.0.0.1:8080");
    // The merged percentiles lie between the parts' own, as they must.
    let (m, a, b) = (
        merged.overall.as_ref().unwrap(),
        a.overall.as_ref().unwrap(),
        b.overall.as_ref().unwrap(),
    );
    for (m, a, b) in [
        (m.corrected.p50_ms, a.corrected.p50_ms, b.corrected.p50_ms),
        (m.corrected.p95_ms, a.corrected.p95_ms, b.corrected.p95_ms),
        (m.corrected.p99_ms, a.corrected.p99_ms, b.corrected.p99_ms),
    ] {
        assert!(
            a.min(b) <= m && m <= a.max(b),
            "{m} not between {a} and {b}"
        );
    }
}

#[test]
fn merges_merge_like_their_parts() {
    let parts: Vec<Report> = (1..=4)
        .map(|i| {
            written(
                &samples(i, 500 * i as usize),
                run_info(&format!("{i}/4"), 100 * i, 5_000),
                &[i as usize - 1],
            )
        })
        .collect();
    let names = ["1.json", "2.json", "3.json", "4.json"];
    let pairs: Vec<(&str, &Report)> = names.iter().copied().zip(&parts).collect();
    let at_once = merge(&named(&pairs)).unwrap();
    let left = merge(&named(&pairs[..2])).unwrap();
    let right = merge(&named(&pairs[2..])).unwrap();
    // A merged report written and read back, as `merge --json` and a later merge do.
    let reread =
        |report: &Report| Report::parse("m.json", &serde_json::to_string(report).unwrap()).unwrap();
    let (left, right) = (reread(&left), reread(&right));
    assert_eq!(left.instances_text(), "1/4, 2/4");
    assert_eq!(
        merge(&named(&[("left.json", &left), ("right.json", &right)])).unwrap(),
        at_once
    );
    let err = merge(&named(&[("left.json", &left), ("2.json", &parts[1])])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "left.json and 2.json are both instance 2/4: give each instance's report once"
    );
}

#[test]
fn reports_of_other_runs_or_the_same_instance_twice_are_refused() {
    let a = written(&samples(1, 100), run_info("1/2", 0, 1_000), &[0]);
    let b = written(&samples(2, 100), run_info("2/2", 0, 1_000), &[1]);
    let err = merge(&named(&[("a.json", &a), ("b.json", &a)])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "a.json and b.json are both instance 1/2: give each instance's report once"
    );
    let other_seed = Report {
        seed: 8,
        ..b.clone()
    };
    let err = merge(&named(&[("a.json", &a), ("b.json", &other_seed)])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "a.json has seed 7 but b.json has seed 8: merge only the instances of one run (the same \
         --seed)"
    );
    let other_users = Report {
        users: 50,
        ..b.clone()
    };
    let err = merge(&named(&[("a.json", &a), ("b.json", &other_users)])).unwrap_err();
    assert!(err.to_string().contains("--users"), "{err}");
    let of_three = written(&samples(3, 100), run_info("2/3", 0, 1_000), &[1]);
    let err = merge(&named(&[("a.json", &a), ("c.json", &of_three)])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "a.json is instance 1/2 but c.json is instance 2/3: merge only the instances of one \
         run (the same N in --instance I/N)"
    );
    assert_eq!(merge(&[]).unwrap_err(), MergeError::Nothing);

    // Missing instances merge, and say which.
    let first = written(&samples(4, 100), run_info("1/3", 0, 1_000), &[0]);
    let third = written(&samples(5, 100), run_info("3/3", 0, 1_000), &[2]);
    let partial = merge(&named(&[("1.json", &first), ("3.json", &third)])).unwrap();
    assert_eq!(partial.missing_instances(), vec!["2/3".parse().unwrap()]);
    assert_eq!(partial.instances_text(), "1/3, 3/3");
}

#[test]
fn a_report_without_instances_is_a_single_run() {
    let report = written(&samples(1, 50), run_info("1/1", 0, 1_000), &[0]);
    let mut json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["instances"], serde_json::json!(["1/1"]));
    json.as_object_mut().unwrap().remove("instances");
    let single = Report::parse("old.json", &json.to_string()).unwrap();
    assert_eq!(single.instances, vec![Instance::WHOLE]);
    assert_eq!(single, report);
    let err = merge(&named(&[("old.json", &single), ("new.json", &report)])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "old.json and new.json are both instance 1/1: give each instance's report once"
    );
}

#[test]
fn what_is_not_a_load_report_is_named_with_what_is_wrong() {
    let report = written(&samples(1, 50), run_info("1/2", 0, 1_000), &[0]);
    let json = serde_json::to_value(&report).unwrap();
    let refused = |value: serde_json::Value| {
        Report::parse("x.json", &value.to_string())
            .unwrap_err()
            .to_string()
    };
    let err = Report::parse("x.json", "profile = \"spike\"\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("x.json is not a load report: not JSON (") && err.contains("--json FILE"),
        "{err}"
    );
    let err = refused(serde_json::json!({"resourceSpans": []}));
    assert!(
        err.starts_with("x.json is not a load report: missing field `target`"),
        "{err}"
    );
    // A report of before histograms were written.
    let mut old = json.clone();
    for row in old["endpoints"].as_array_mut().unwrap() {
        row.as_object_mut()
            .unwrap()
            .remove("corrected_histogram_us");
    }
    let err = refused(old);
    assert!(
        err.starts_with(
            "x.json is a load report without what a merge needs (missing field \
             `corrected_histogram_us`"
        ),
        "{err}"
    );
    let mut cut = json.clone();
    cut["endpoints"][0]["requests"] = serde_json::json!(1_000_000);
    let err = refused(cut);
    assert!(
        err.contains("row \"GET /api/cart\" counts 1000000 requests, but its histograms hold"),
        "{err}"
    );
    let mut beyond = json.clone();
    beyond["overall"]["corrected_histogram_us"][0][0] = serde_json::json!(u64::MAX);
    let err = refused(beyond);
    assert!(err.contains("beyond the histograms' range"), "{err}");
    let mut twice = json.clone();
    twice["instances"] = serde_json::json!(["1/2", "1/2"]);
    assert!(refused(twice).contains("not distinct instances of one N"));
    let mut mixed = json.clone();
    mixed["instances"] = serde_json::json!(["1/2", "2/3"]);
    assert!(refused(mixed).contains("not distinct instances of one N"));
    let mut none = json.clone();
    none["instances"] = serde_json::json!([]);
    assert!(refused(none).contains("instances list is empty"));
    let mut bad = json.clone();
    bad["instances"] = serde_json::json!(["0/2"]);
    let err = refused(bad);
    assert!(
        err.contains("give I/N, e.g. 2/4, with 1 <= I <= N"),
        "{err}"
    );
    let mut total = json;
    total["requests"] = serde_json::json!(3);
    assert!(refused(total).contains("counts 3 requests, but its overall histogram holds 50"));

    let missing = Report::read(Path::new("/nonexistent/run.json"))
        .unwrap_err()
        .to_string();
    assert!(
        missing.starts_with("cannot read /nonexistent/run.json: "),
        "{missing}"
    );
}
