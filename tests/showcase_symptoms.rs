//! Every built-in showcase scenario, played time-compressed against a real shop, shows each
//! act's symptom in the explorer's API while the act plays, and none once it has recovered.
//!
//! One scenario at a time (two shops at once would starve each other on two cores), about a
//! minute each: a fresh `tracedojo up --no-load` (with the gateway latency a booth has), then
//! `tracedojo showcase NAME --attach --loops 1` at the speed that makes its loop last
//! [`LOOP_TARGET_S`] (acts shorter and their traffic denser by the same factor: 27 to 44
//! journeys a second for the built-in scenarios, about what two cores give). The kiosk's
//! `GET /api/now` is polled while it plays to learn when each act started; once the showcase has
//! exited with status 0 and the shop's last spans have arrived, each act's window is read back
//! from the explorer (trace search with `start` and `end`, trace details) and its figures are
//! held against [`EXPECTED`], written from what each fault really does (`faults/src/presets.rs`
//! and the services): the symptoms a person would find, never a label saying "fault here".
//! Every act with faults in force must have a symptom there, and its look query (the kiosk's
//! own search for the trace it shows) must find a trace of the act.
//!
//! A trace belongs to the act it started in, leaving out the act's first moments (faults take
//! effect within a second, a redeploy a moment more: [`margin`]) and its last [`TAIL_MS`].
//! Effects are asserted from below, absences as zero or as a clear ratio to an act that has the
//! symptom; no wall-clock time is bounded. Each scenario's figures are printed per act, and
//! every expectation that failed is reported at the end with the scenario, the act, the
//! symptom and the figures seen.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{BIN, Shop, client};

/// How long one loop should last on the wall clock: under a minute.
const LOOP_TARGET_S: f64 = 58.0;
/// How often the kiosk is asked what plays.
const POLL: Duration = Duration::from_millis(100);
/// Left out at the end of every act: its last journeys race the next act's faults.
const TAIL_MS: u64 = 300;
/// Traces read in full per act and figure (spread over the act), bounding the test's own
/// requests.
const SAMPLE: usize = 30;

/// A figure's expectation in one act of a scenario (`"*"`: in every act).
struct Expect(&'static str, &'static str, Want);

#[derive(Clone, Copy)]
enum Want {
    /// At least this.
    Min(f64),
    /// At most this.
    Max(f64),
    /// At least this many times the same figure in the act named.
    MinTimes(f64, &'static str),
    /// At most this many times the same figure in the act named.
    MaxTimes(f64, &'static str),
}

use Want::{Max, MaxTimes, Min, MinTimes};

// The figures, by scenario.
const PAYMENTS: &str = "payment POST /payments spans";
const SLOW_PAYMENTS: &str = "payment POST /payments spans of 500 ms or more";
const SLOW_PAYMENT_SHARE: &str = "share of payments taking 500 ms or more";

const CHECKOUTS: &str = "checkouts (frontend POST /api/checkout)";
const SEGMENT_CHECKOUTS: &str = "checkouts of gold shoppers in ap-northeast-1";
const SEGMENT_FAILING: &str = "failing checkouts of gold shoppers in ap-northeast-1";
const SEGMENT_SUCCEEDING: &str = "checkouts of gold shoppers in ap-northeast-1 that succeeded";
/// Failed by checkout's own handler (the release), not refused while checkout restarts into
/// it (a redeploy's moment, which any shopper may meet).
const OTHERS_FAILING: &str = "checkouts of any other shopper that checkout itself failed";
/// The same as a share of the other shoppers' checkouts: the release fails the segment, all
/// of it, and leaves the others as they were (a rare failure of another cause, under a loaded
/// machine, is not the release's).
const OTHERS_FAILING_SHARE: &str = "share of other shoppers' checkouts that checkout itself failed";
const FAILING_SPANS: &str = "failing checkout POST /checkout spans";
const FAILING_SPANS_NOT_NEW: &str = "failing checkout POST /checkout spans not from 2.0.0";

const SEARCHES_TIMED: &str = "catalog search queries (search_terms) timed";
const SEARCH_P10: &str = "fastest tenth of search queries, ms";
const SEARCH_MEDIAN: &str = "median search query, ms";
const LISTINGS: &str = "listing traces with catalog queries";
const LISTINGS_N1: &str = "listing traces repeating one query 10 times or more";
const LISTINGS_N1_SHARE: &str = "share of listings repeating one query 10 times or more";

const STORM_CHECKOUTS: &str = "checkout POST /checkout spans";
const RETRIED: &str = "checkouts that resent a reservation (http.request.resend_count=1)";
const MOST_CALLS: &str = "most calls to inventory in one checkout";
const MULTI_CALL_SHARE: &str = "share of checkouts calling inventory more than once";
const STORM_FAILING: &str = "failing checkout spans";
const RESERVATIONS: &str = "inventory POST /reservations spans";
const SLOW_RESERVATION_SHARE: &str = "share of reservations taking 150 ms or more";

const SHIPPED: &str = "orders processed by shipping";
const SLOW_SHIPPING: &str = "shipping process spans of 1.5 s or more";
const WAITS: &str = "orders whose wait in the queue was measured (span link)";
const LONGEST_WAIT: &str = "longest wait from checkout's publish to shipping, s";

/// What each act of each built-in scenario shows, from what its faults do.
const EXPECTED: &[(&str, &[Expect])] = &[
    ("slow-payment", SLOW_PAYMENT),
    ("tier-region-errors", TIER_REGION_ERRORS),
    ("database", DATABASE),
    ("retry-storm", RETRY_STORM),
    ("shipping-backlog", SHIPPING_BACKLOG),
];

/// The gateway's log-normal latency (median 800 ms, sigma 0.6) on payment's own span: about
/// four payments in five take 500 ms or more while it is in force (the incident and the
/// diagnosis); the fix clears it.
const SLOW_PAYMENT: &[Expect] = &[
    Expect("*", PAYMENTS, Min(20.0)),
    Expect("normal", SLOW_PAYMENTS, Max(0.0)),
    Expect("incident", SLOW_PAYMENTS, Min(10.0)),
    Expect("incident", SLOW_PAYMENT_SHARE, Min(0.4)),
    Expect("diagnosis", SLOW_PAYMENTS, Min(10.0)),
    Expect("diagnosis", SLOW_PAYMENT_SHARE, Min(0.4)),
    Expect("fix", SLOW_PAYMENTS, Max(0.0)),
    Expect("recovery", SLOW_PAYMENTS, Max(0.0)),
];

/// Checkout redeployed as 2.0.0 fails every /checkout of a gold shopper in ap-northeast-1,
/// and nobody else's. They are few (79 of the 5000 shoppers the default seed draws), so one
/// failure over the two acts is asked for, and that every one of theirs fails. The release
/// and the rollback hand over (the new process answers before the old one stops), so nobody
/// else fails at those moments either.
const TIER_REGION_ERRORS: &[Expect] = &[
    Expect("*", CHECKOUTS, Min(40.0)),
    Expect("normal", SEGMENT_FAILING, Max(0.0)),
    Expect("normal", OTHERS_FAILING_SHARE, Max(0.02)),
    // About 1.6 % of the shoppers are gold and in ap-northeast-1 (a few checkouts an act at this
    // speed): their failures are counted over the two acts the release is in force.
    Expect("incident+diagnosis", SEGMENT_FAILING, Min(1.0)),
    Expect("incident", SEGMENT_SUCCEEDING, Max(0.0)),
    Expect("incident", OTHERS_FAILING_SHARE, Max(0.02)),
    Expect("incident", FAILING_SPANS_NOT_NEW, Max(0.0)),
    Expect("diagnosis", SEGMENT_SUCCEEDING, Max(0.0)),
    Expect("diagnosis", OTHERS_FAILING_SHARE, Max(0.02)),
    Expect("diagnosis", FAILING_SPANS_NOT_NEW, Max(0.0)),
    Expect("fix", OTHERS_FAILING_SHARE, Max(0.02)),
    Expect("recovery", SEGMENT_FAILING, Max(0.0)),
    Expect("recovery", OTHERS_FAILING_SHARE, Max(0.02)),
];

/// Without its index the search query reads the whole search_terms table, so even the quickest
/// searches take several times what they took (the quickest are the query's own cost, whatever
/// else the machine does); N+1 loads a listing's products one query each (a page of 24). The
/// incident sets both, the fix clears both.
const DATABASE: &[Expect] = &[
    Expect("*", SEARCHES_TIMED, Min(10.0)),
    Expect("*", LISTINGS, Min(5.0)),
    Expect("normal", LISTINGS_N1, Max(0.0)),
    Expect("incident", SEARCH_P10, MinTimes(2.5, "normal")),
    Expect("incident", LISTINGS_N1_SHARE, Min(0.5)),
    Expect("the-scan", SEARCH_P10, MinTimes(2.5, "normal")),
    Expect("the-scan", SEARCH_MEDIAN, MinTimes(2.0, "normal")),
    Expect("the-scan", LISTINGS_N1_SHARE, Min(0.5)),
    Expect("the-n-plus-one", SEARCH_P10, MinTimes(2.5, "normal")),
    Expect("the-n-plus-one", LISTINGS_N1, Min(3.0)),
    Expect("the-n-plus-one", LISTINGS_N1_SHARE, Min(0.5)),
    Expect("fix", SEARCH_P10, MaxTimes(0.4, "the-scan")),
    Expect("fix", LISTINGS_N1, Max(0.0)),
    Expect("recovery", SEARCH_P10, MaxTimes(0.4, "the-scan")),
    Expect("recovery", LISTINGS_N1, Max(0.0)),
];

/// Inventory takes 150-400 ms, checkout gives up on it after 200 ms and resends up to three
/// times: one checkout, up to four reservations. The fix stops the retries and leaves inventory
/// slow; the recovery clears that too.
const RETRY_STORM: &[Expect] = &[
    Expect("*", STORM_CHECKOUTS, Min(20.0)),
    Expect("normal", RETRIED, Max(0.0)),
    Expect("normal", MULTI_CALL_SHARE, Max(0.0)),
    Expect("normal", SLOW_RESERVATION_SHARE, MaxTimes(0.3, "fix")),
    Expect("incident", RETRIED, Min(10.0)),
    Expect("incident", MOST_CALLS, Min(3.0)),
    Expect("incident", MULTI_CALL_SHARE, Min(0.3)),
    Expect("incident", SLOW_RESERVATION_SHARE, Min(0.8)),
    Expect("diagnosis", RETRIED, Min(10.0)),
    Expect("diagnosis", MOST_CALLS, Min(3.0)),
    Expect("diagnosis", MULTI_CALL_SHARE, Min(0.3)),
    Expect("fix", RETRIED, Max(0.0)),
    Expect("fix", MULTI_CALL_SHARE, Max(0.0)),
    Expect("fix", SLOW_RESERVATION_SHARE, Min(0.8)),
    Expect("recovery", RETRIED, Max(0.0)),
    Expect("recovery", MULTI_CALL_SHARE, Max(0.0)),
    Expect("recovery", STORM_FAILING, Max(0.0)),
    Expect("recovery", SLOW_RESERVATION_SHARE, MaxTimes(0.3, "fix")),
];

/// The shipping worker takes 1.5 s more per order while orders keep coming, so each order waits
/// in the queue longer than the one before (the gap from checkout's PRODUCER span to the
/// shipping CONSUMER span that links to it). The fix clears it and the queue drains (nothing
/// asserted while it does); by the recovery, orders ship within moments again.
const SHIPPING_BACKLOG: &[Expect] = &[
    Expect("*", WAITS, Min(3.0)),
    Expect("normal", LONGEST_WAIT, Max(2.0)),
    Expect("normal", SLOW_SHIPPING, Max(0.0)),
    Expect("incident", SLOW_SHIPPING, Min(3.0)),
    Expect("incident", LONGEST_WAIT, Min(3.0)),
    Expect("diagnosis", SLOW_SHIPPING, Min(3.0)),
    Expect("diagnosis", LONGEST_WAIT, MinTimes(1.2, "incident")),
    Expect("recovery", LONGEST_WAIT, Max(2.0)),
    Expect("recovery", SLOW_SHIPPING, Max(0.0)),
];

fn expected(scenario: &str) -> Option<&'static [Expect]> {
    EXPECTED
        .iter()
        .find(|(name, _)| *name == scenario)
        .map(|(_, table)| *table)
}

/// The figure every act with a look query gets: how many traces the kiosk's search finds.
const LOOK_FINDS: &str = "traces the act's look query finds";

/// One act as it played: when it started and ended (Unix ms), and what it had in force.
#[derive(Debug, Clone)]
struct Played {
    name: String,
    started_ms: u64,
    ended_ms: u64,
    act_ms: u64,
    faults: Vec<String>,
    look_query: Option<String>,
    /// The act's traffic as the player last counted it: journeys, requests, failed requests.
    traffic: (u64, u64, u64),
}

/// The part of an act whose traces are the act's.
#[derive(Debug, Clone, Copy)]
struct Window {
    from_ms: u64,
    to_ms: u64,
}

/// Left out at an act's start: a fifth of the act, at least 1.5 s (faults take effect within
/// a second; a redeploy takes a moment more), at most 4 s.
fn margin(act_ms: u64) -> u64 {
    (act_ms / 5).clamp(1500, 4000)
}

impl Played {
    fn window(&self) -> Window {
        Window {
            from_ms: self.started_ms + margin(self.act_ms),
            to_ms: self.ended_ms.saturating_sub(TAIL_MS),
        }
    }
}

type Figures = BTreeMap<&'static str, f64>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_built_in_scenario_shows_each_acts_symptom_and_none_after_recovery() {
    let scenarios = tracedojo_showcase::catalogue().expect("the built-in scenarios parse");
    let started = Instant::now();
    let mut failures = Vec::new();
    for scenario in &scenarios {
        let name = scenario.name().to_string();
        assert!(
            expected(&name).is_some(),
            "{name}: a built-in scenario with no expected symptoms in EXPECTED"
        );
        let speed = (scenario.loop_seconds() as f64 / LOOP_TARGET_S * 100.0).ceil() / 100.0;
        let peak = scenario
            .acts
            .iter()
            .filter_map(|act| act.load.get_ref().rate)
            .fold(0.0, f64::max);
        eprintln!(
            "== {name}: a loop of {} s played at speed {speed} ({:.1} s, at most {:.0} journeys a second)",
            scenario.loop_seconds(),
            scenario.loop_seconds() as f64 / speed,
            peak * speed
        );
        let one = Instant::now();
        failures.extend(play_and_check(&name, speed).await);
        eprintln!("   {name} took {:.1?}", one.elapsed());
    }
    eprintln!("all scenarios took {:.1?}", started.elapsed());
    assert!(
        failures.is_empty(),
        "{} expectation(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Plays `name` once against a fresh shop and checks every act; the failures, in words.
async fn play_and_check(name: &str, speed: f64) -> Vec<String> {
    // The booth's own gateway latency (the tests' default makes payments quicker).
    let shop = Shop::start_with(&["--no-load"], &[("PAYMENT_MEDIAN_LATENCY_MS", "25")]);
    let explorer = Explorer::new(shop.explorer.clone().expect("up starts the explorer"));
    let acts = play(name, speed, &shop).await;
    explorer.wait_for_quiet(acts.last().unwrap().ended_ms).await;

    let mut figures: BTreeMap<String, Figures> = BTreeMap::new();
    for act in &acts {
        let window = act.window();
        let mut seen = match name {
            "slow-payment" => slow_payment(&explorer, window).await,
            "tier-region-errors" => tier_region(&explorer, window).await,
            "database" => database(&explorer, window).await,
            "retry-storm" => retry_storm(&explorer, window).await,
            "shipping-backlog" => shipping_backlog(&explorer, window).await,
            other => panic!("{other}: no figures are read for this scenario"),
        };
        if let Some(query) = &act.look_query {
            // The kiosk's search, in this act's window instead of the pick's own.
            let mut pairs = query_pairs(query);
            pairs.retain(|(key, _)| !["since", "start", "end", "limit"].contains(&key.as_str()));
            let conditions: Vec<(&str, &str)> = pairs
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            seen.insert(LOOK_FINDS, explorer.count(window, &conditions).await);
        }
        eprintln!(
            "   {name} / {} ({:.1} s, window +{:.1} s..{:.1} s; {} journeys, {} requests, {} failed; faults: {}):",
            act.name,
            act.act_ms as f64 / 1000.0,
            (window.from_ms - act.started_ms) as f64 / 1000.0,
            (window.to_ms - act.started_ms) as f64 / 1000.0,
            act.traffic.0,
            act.traffic.1,
            act.traffic.2,
            if act.faults.is_empty() {
                "none".to_string()
            } else {
                act.faults.join(", ")
            }
        );
        for (figure, value) in &seen {
            eprintln!("      {figure}: {}", show(*value));
        }
        figures.insert(act.name.clone(), seen);
    }
    // Spans the services dropped (their export queue full) are missing from every figure.
    let lost: u64 = shop
        .stderr
        .text()
        .lines()
        .filter(|line| line.contains("spans could not be sent"))
        .filter_map(|line| {
            line.split_whitespace()
                .skip_while(|word| !word.ends_with(':'))
                .nth(1)
                .and_then(|n| n.parse::<u64>().ok())
        })
        .sum();
    let status = explorer.get("/api/status").await;
    eprintln!(
        "   {name}: the explorer received {} spans; the services reported {lost} they could not send",
        status["spans_received"]
    );
    let failures = judge(name, &acts, &figures);
    drop(shop);
    failures
}

/// Holds the figures against [`EXPECTED`] and the rules every scenario keeps.
fn judge(name: &str, acts: &[Played], figures: &BTreeMap<String, Figures>) -> Vec<String> {
    let mut failures = Vec::new();
    let names: BTreeSet<&str> = acts.iter().map(|a| a.name.as_str()).collect();
    // `a+b`: the figure summed over acts a and b (a symptom too thin to count on in one act).
    let figure = |act: &str, figure: &str| -> Option<f64> {
        act.split('+')
            .map(|part| figures.get(part).and_then(|f| f.get(figure)).copied())
            .sum()
    };
    let mut asserted_present: BTreeSet<&str> = BTreeSet::new();
    let table = expected(name).unwrap_or_default();
    for Expect(wanted_act, wanted_figure, want) in table {
        let targets: Vec<&str> = if *wanted_act == "*" {
            names.iter().copied().collect()
        } else {
            if let Some(unknown) = wanted_act.split('+').find(|part| !names.contains(part)) {
                failures.push(format!(
                    "{name}: EXPECTED names act {unknown:?}, which the scenario does not have ({names:?})"
                ));
                continue;
            }
            vec![*wanted_act]
        };
        for act in targets {
            let Some(seen) = figure(act, wanted_figure) else {
                failures.push(format!(
                    "{name} / {act}: no figure {:?} was read",
                    wanted_figure
                ));
                continue;
            };
            let (ok, wanted) = match *want {
                Min(x) => (seen >= x, format!("at least {}", show(x))),
                Max(x) => (seen <= x, format!("at most {}", show(x))),
                MinTimes(k, other) | MaxTimes(k, other) => {
                    let Some(base) = figure(other, wanted_figure) else {
                        failures.push(format!(
                            "{name} / {act}: {:?} is compared with act {other:?}, which has no such figure",
                            wanted_figure
                        ));
                        continue;
                    };
                    let bound = k * base;
                    match *want {
                        MinTimes(..) => (
                            seen >= bound && seen > 0.0,
                            format!("at least {k} × {} in {other} = {}", show(base), show(bound)),
                        ),
                        _ => (
                            seen <= bound,
                            format!("at most {k} × {} in {other} = {}", show(base), show(bound)),
                        ),
                    }
                }
            };
            if matches!(want, Min(_) | MinTimes(..)) && *wanted_act != "*" {
                asserted_present.extend(act.split('+'));
            }
            if !ok {
                failures.push(format!(
                    "{name} / {act}: {}: saw {}, wanted {wanted}",
                    wanted_figure,
                    show(seen)
                ));
            }
        }
    }
    // Every act with faults in force has a symptom asserted.
    for act in acts {
        if !act.faults.is_empty() && !asserted_present.contains(act.name.as_str()) {
            failures.push(format!(
                "{name} / {}: faults in force ({}) but no symptom is expected in EXPECTED",
                act.name,
                act.faults.join(", ")
            ));
        }
    }
    // While a set of faults is in force (one act or several in a row), the kiosk's searches
    // find something to show.
    let mut at = 0;
    while at < acts.len() {
        let mut end = at + 1;
        while end < acts.len() && acts[end].faults == acts[at].faults {
            end += 1;
        }
        let run = &acts[at..end];
        let finds: Vec<f64> = run
            .iter()
            .filter_map(|act| figure(&act.name, LOOK_FINDS))
            .collect();
        if !run[0].faults.is_empty() && !finds.is_empty() {
            let found: f64 = finds.iter().sum();
            if found < 1.0 {
                failures.push(format!(
                    "{name} / {}: {LOOK_FINDS} ({}): saw 0, wanted at least 1",
                    run.iter()
                        .map(|a| a.name.as_str())
                        .collect::<Vec<_>>()
                        .join("+"),
                    run.iter()
                        .filter_map(|a| a.look_query.as_deref())
                        .collect::<Vec<_>>()
                        .join(" / ")
                ));
            }
        }
        at = end;
    }
    // The loop ends recovered: nothing in force in the last act, and an absence asserted there.
    if let Some(last) = acts.last() {
        if !last.faults.is_empty() {
            failures.push(format!(
                "{name} / {}: the last act still has faults in force: {}",
                last.name,
                last.faults.join(", ")
            ));
        }
        let absence = table
            .iter()
            .any(|Expect(act, _, want)| *act == last.name && matches!(want, Max(_) | MaxTimes(..)));
        if !absence {
            failures.push(format!(
                "{name} / {}: no symptom is asserted gone after the recovery",
                last.name
            ));
        }
    }
    failures
}

fn show(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.3}")
    }
}

// ---------------------------------------------------------------------------------------------
// Playing a scenario.

/// A running `tracedojo showcase`, stopped (SIGTERM) if the test ends before it does.
struct Showcase {
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Showcase {
    fn text(lines: &Arc<Mutex<Vec<String>>>) -> String {
        lines.lock().unwrap().join("\n")
    }
}

impl Drop for Showcase {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // SAFETY: signalling a child process we spawned and have not reaped.
            unsafe {
                libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn collect_lines(stream: impl std::io::Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let into = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            match line {
                Ok(line) => into.lock().unwrap().push(line),
                Err(_) => break,
            }
        }
    });
    lines
}

/// Plays one loop of `name` at `speed` against `shop`, polling the kiosk for each act's start;
/// returns the acts as they played once the showcase has exited with status 0.
async fn play(name: &str, speed: f64, shop: &Shop) -> Vec<Played> {
    let mut command = Command::new(BIN);
    command
        .args([
            "showcase",
            name,
            "--speed",
            &speed.to_string(),
            "--loops",
            "1",
        ])
        .args(["--attach", "--shop", &shop.url, "--control", &shop.control])
        .args(["--explorer", shop.explorer.as_deref().unwrap()])
        .args([
            "--kiosk-listen",
            "127.0.0.1:0",
            "--lang",
            "en",
            "--data-dir",
        ])
        .arg(&shop.data_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for var in [
        "TRACEDOJO_SHOWCASE_SPEED",
        "TRACEDOJO_SHOWCASE_SEED",
        "TRACEDOJO_KIOSK_LISTEN",
        "TRACEDOJO_KIOSK_TOKEN",
        "TRACEDOJO_PARTICIPANT",
        "TRACEDOJO_LANG",
    ] {
        command.env_remove(var);
    }
    let mut child = command.spawn().expect("start tracedojo showcase");
    let stdout = collect_lines(child.stdout.take().unwrap());
    let stderr = collect_lines(child.stderr.take().unwrap());
    let mut showcase = Showcase {
        child,
        stdout,
        stderr,
    };

    // The kiosk's address, printed once it listens.
    let deadline = Instant::now() + Duration::from_secs(60);
    let kiosk = loop {
        let found = showcase
            .stdout
            .lock()
            .unwrap()
            .iter()
            .find_map(|line| line.strip_prefix("kiosk: ").map(str::to_string));
        if let Some(url) = found {
            break url;
        }
        let exited = showcase.child.try_wait().unwrap();
        assert!(
            exited.is_none() && Instant::now() < deadline,
            "{name}: no kiosk line (exited: {exited:?}); stdout:\n{}\nstderr:\n{}",
            Showcase::text(&showcase.stdout),
            Showcase::text(&showcase.stderr)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let now_url = format!("{}api/now", kiosk.trim_end_matches('#'));

    // Each act's start, as the player published it, until it says it finished (or the kiosk,
    // which stops with the player, no longer answers after the last act).
    let http = client();
    let mut acts: BTreeMap<usize, Played> = BTreeMap::new();
    let mut count = None;
    let mut names: Vec<(String, Option<String>)> = Vec::new();
    let mut trouble_told: Option<String> = None;
    let loop_ms = 1000.0 * tracedojo_showcase::find(name).unwrap().loop_seconds() as f64 / speed;
    let deadline = Instant::now() + Duration::from_millis(loop_ms as u64) + Duration::from_secs(90);
    loop {
        let answer = match http.get(&now_url).send().await {
            Ok(response) if response.status().is_success() => response.json::<Value>().await.ok(),
            _ => None,
        };
        if let Some(now) = answer {
            if names.is_empty() {
                names = now["scenario"]["acts"]
                    .as_array()
                    .expect("scenario.acts")
                    .iter()
                    .map(|act| {
                        (
                            act["name"].as_str().unwrap().to_string(),
                            act["look"]["query"].as_str().map(str::to_string),
                        )
                    })
                    .collect();
                count = Some(names.len());
            }
            let playing = &now["playing"];
            if playing["loop_number"] == 1 {
                let index = playing["act"].as_u64().unwrap() as usize;
                acts.entry(index).or_insert_with(|| Played {
                    name: names[index].0.clone(),
                    started_ms: playing["act_started_unix_ms"].as_u64().unwrap(),
                    ended_ms: 0,
                    act_ms: playing["act_ms"].as_u64().unwrap(),
                    faults: playing["faults"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|f| f.as_str().unwrap_or_default().to_string())
                        .collect(),
                    look_query: names[index].1.clone(),
                    traffic: (0, 0, 0),
                });
                if let Some(act) = acts.get_mut(&index) {
                    let counted = |key: &str| playing[key].as_u64().unwrap_or(0);
                    act.traffic = (
                        counted("journeys"),
                        counted("requests"),
                        counted("failed_requests"),
                    );
                }
            }
            let trouble = playing["trouble"].as_str().map(str::to_string);
            if trouble.is_some() && trouble != trouble_told {
                // Tried again every two seconds until the faults take: the symptoms say whether
                // they did in the end.
                eprintln!(
                    "   {name}: the player says the act's faults are not set yet: {}",
                    trouble.as_deref().unwrap_or_default()
                );
            }
            trouble_told = trouble;
            if playing["finished"] == true {
                break;
            }
        } else if count.is_some_and(|n| acts.contains_key(&(n - 1))) {
            // The kiosk stopped with the player after the last act.
            break;
        }
        if showcase.child.try_wait().unwrap().is_some() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{name}: still playing {:.0} s after the loop should have ended; acts seen: {:?}",
            deadline.elapsed().as_secs_f64() + 90.0,
            acts.values().map(|a| &a.name).collect::<Vec<_>>()
        );
        tokio::time::sleep(POLL).await;
    }

    // The showcase exits by itself after its loop.
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = showcase.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "{name}: the showcase did not exit after its loop; stderr:\n{}",
            Showcase::text(&showcase.stderr)
        );
        tokio::time::sleep(POLL).await;
    };
    assert!(
        status.success(),
        "{name}: the showcase exited with {status}; stdout:\n{}\nstderr:\n{}",
        Showcase::text(&showcase.stdout),
        Showcase::text(&showcase.stderr)
    );
    let stderr = Showcase::text(&showcase.stderr);
    assert!(!stderr.contains("panicked"), "{name}: {stderr}");

    let count = count.expect("the kiosk answered");
    assert_eq!(
        acts.len(),
        count,
        "{name}: not every act was seen playing: {:?} of {:?}",
        acts.values().map(|a| &a.name).collect::<Vec<_>>(),
        names.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    let mut played: Vec<Played> = acts.into_values().collect();
    for index in 0..played.len() {
        played[index].ended_ms = match played.get(index + 1) {
            Some(next) => next.started_ms,
            None => played[index].started_ms + played[index].act_ms,
        };
    }
    played
}

/// `key=value&...` as the kiosk's look query gives it.
fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (key.to_string(), value.to_string())
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Reading the explorer.

struct Explorer {
    url: String,
    http: reqwest::Client,
}

fn encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

impl Explorer {
    fn new(url: String) -> Explorer {
        Explorer {
            url,
            http: client(),
        }
    }

    async fn get(&self, path_and_query: &str) -> Value {
        let url = format!("{}{path_and_query}", self.url);
        let response = self
            .http
            .get(&url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "GET {url}: {status} {body}");
        body
    }

    /// Waits until the spans of the last act have arrived: the store holds spans from its
    /// end, and no more arrive for a second (the services export every 100 ms).
    async fn wait_for_quiet(&self, last_end_ms: u64) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut last_received = None;
        loop {
            let status = self.get("/api/status").await;
            let newest_ms = status["newest_span_unix_nanos"].as_u64().unwrap_or(0) / 1_000_000;
            let received = status["spans_received"].as_u64();
            if newest_ms + 1000 >= last_end_ms && received == last_received {
                return;
            }
            if Instant::now() > deadline {
                eprintln!("   the explorer was still receiving after 30 s: {status}");
                return;
            }
            last_received = received;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// The traces with a span meeting `conditions` that started within `window`, newest first.
    async fn traces(&self, window: Window, conditions: &[(&str, &str)]) -> Vec<Value> {
        let mut query = format!(
            "/api/traces?start={}&end={}&limit=1000",
            window.from_ms, window.to_ms
        );
        for (key, value) in conditions {
            query.push_str(&format!("&{}={}", encode(key), encode(value)));
        }
        let found = self.get(&query).await;
        let traces = found["traces"].as_array().expect("traces").clone();
        if traces.len() == 1000 {
            eprintln!("   note: 1000 traces (the most a search gives) for {query}");
        }
        traces
            .into_iter()
            .filter(|t| {
                let started_ms = t["start_unix_nanos"].as_u64().unwrap_or(0) / 1_000_000;
                (window.from_ms..window.to_ms).contains(&started_ms)
            })
            .collect()
    }

    async fn count(&self, window: Window, conditions: &[(&str, &str)]) -> f64 {
        self.traces(window, conditions).await.len() as f64
    }

    /// Up to [`SAMPLE`] of the traces found, spread evenly over the window, read in full.
    async fn sample(&self, window: Window, conditions: &[(&str, &str)]) -> Vec<Value> {
        let found = self.traces(window, conditions).await;
        let mut details = Vec::new();
        for summary in spread(&found, SAMPLE) {
            if let Some(trace) = self.trace(summary["trace_id"].as_str().unwrap()).await {
                details.push(trace);
            }
        }
        details
    }

    async fn trace(&self, trace_id: &str) -> Option<Value> {
        let url = format!("{}/api/traces/{trace_id}", self.url);
        let response = self.http.get(&url).send().await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        response.json().await.ok()
    }
}

fn spread<T>(items: &[T], most: usize) -> Vec<&T> {
    if items.len() <= most {
        return items.iter().collect();
    }
    (0..most).map(|i| &items[i * items.len() / most]).collect()
}

fn spans(trace: &Value) -> &[Value] {
    trace["spans"].as_array().map(Vec::as_slice).unwrap_or(&[])
}

fn share(part: f64, whole: f64) -> f64 {
    if whole > 0.0 { part / whole } else { 0.0 }
}

/// The value at `fraction` (0 to 1) of the sorted values; 0 when there are none.
fn quantile(mut values: Vec<f64>, fraction: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    values[((values.len() - 1) as f64 * fraction).round() as usize]
}

// ---------------------------------------------------------------------------------------------
// The figures of each scenario.

async fn slow_payment(explorer: &Explorer, window: Window) -> Figures {
    let payment = [("service", "payment"), ("operation", "POST /payments")];
    let all = explorer.count(window, &payment).await;
    let slow = explorer
        .count(window, &[payment[0], payment[1], ("min_duration", "500ms")])
        .await;
    Figures::from([
        (PAYMENTS, all),
        (SLOW_PAYMENTS, slow),
        (SLOW_PAYMENT_SHARE, share(slow, all)),
    ])
}

async fn tier_region(explorer: &Explorer, window: Window) -> Figures {
    let checkout = [("service", "frontend"), ("operation", "POST /api/checkout")];
    let segment = [
        ("attr", "tracedojo.user.tier=gold"),
        ("attr", "tracedojo.user.region=ap-northeast-1"),
    ];
    let ids = |traces: Vec<Value>| -> BTreeSet<String> {
        traces
            .iter()
            .map(|t| t["trace_id"].as_str().unwrap().to_string())
            .collect()
    };
    let all = explorer.count(window, &checkout).await;
    let segment_all = ids(explorer
        .traces(window, &[checkout[0], checkout[1], segment[0], segment[1]])
        .await);
    let segment_failing = ids(explorer
        .traces(
            window,
            &[
                checkout[0],
                checkout[1],
                ("failing", "true"),
                segment[0],
                segment[1],
            ],
        )
        .await);
    // Which build failed: checkout's own span, by its resource's service.version.
    let failing_span = [
        ("service", "checkout"),
        ("operation", "POST /checkout"),
        ("errors", "true"),
    ];
    let failing_spans = explorer.count(window, &failing_span).await;
    let failed_by_checkout = ids(explorer.traces(window, &failing_span).await);
    let from_new_release = explorer
        .count(
            window,
            &[
                failing_span[0],
                failing_span[1],
                failing_span[2],
                ("attr", "service.version=2.0.0"),
            ],
        )
        .await;
    Figures::from([
        (CHECKOUTS, all),
        (SEGMENT_CHECKOUTS, segment_all.len() as f64),
        (SEGMENT_FAILING, segment_failing.len() as f64),
        (
            SEGMENT_SUCCEEDING,
            segment_all.difference(&segment_failing).count() as f64,
        ),
        (
            OTHERS_FAILING,
            failed_by_checkout.difference(&segment_all).count() as f64,
        ),
        (
            OTHERS_FAILING_SHARE,
            failed_by_checkout.difference(&segment_all).count() as f64
                / (all - segment_all.len() as f64).max(1.0),
        ),
        (FAILING_SPANS, failing_spans),
        (FAILING_SPANS_NOT_NEW, failing_spans - from_new_release),
    ])
}

async fn database(explorer: &Explorer, window: Window) -> Figures {
    // The search's queries read search_terms: their own time, span by span.
    let searches = explorer
        .sample(
            window,
            &[
                ("service", "catalog"),
                ("attr", "db.collection.name=search_terms"),
            ],
        )
        .await;
    let times: Vec<f64> = searches
        .iter()
        .flat_map(|trace| spans(trace).iter())
        .filter(|s| {
            s["service"] == "catalog" && s["attributes"]["db.collection.name"] == "search_terms"
        })
        .filter_map(|s| s["duration_ms"].as_f64())
        .collect();
    // A listing's catalogue queries: how often the most repeated one runs in its trace.
    let listings = explorer
        .sample(
            window,
            &[("service", "frontend"), ("operation", "GET /api/products")],
        )
        .await;
    let mut read = 0.0;
    let mut repeating = 0.0;
    for trace in &listings {
        let mut per_query: BTreeMap<&str, usize> = BTreeMap::new();
        for span in spans(trace).iter().filter(|s| s["service"] == "catalog") {
            if let Some(text) = span["attributes"]["db.query.text"].as_str() {
                *per_query.entry(text).or_default() += 1;
            }
        }
        if let Some(most) = per_query.values().max() {
            read += 1.0;
            if *most >= 10 {
                repeating += 1.0;
            }
        }
    }
    Figures::from([
        (SEARCHES_TIMED, times.len() as f64),
        (SEARCH_P10, quantile(times.clone(), 0.1)),
        (SEARCH_MEDIAN, quantile(times, 0.5)),
        (LISTINGS, read),
        (LISTINGS_N1, repeating),
        (LISTINGS_N1_SHARE, share(repeating, read)),
    ])
}

async fn retry_storm(explorer: &Explorer, window: Window) -> Figures {
    let checkout = [("service", "checkout"), ("operation", "POST /checkout")];
    let all = explorer.count(window, &checkout).await;
    let failing = explorer
        .count(window, &[checkout[0], checkout[1], ("errors", "true")])
        .await;
    // checkout's CLIENT span to inventory, resent after a timeout.
    let retried = explorer
        .count(
            window,
            &[
                ("service", "checkout"),
                ("operation", "POST /reservations"),
                ("attr", "http.request.resend_count=1"),
            ],
        )
        .await;
    let mut calls = Vec::new();
    for trace in explorer.sample(window, &checkout).await {
        let n = spans(&trace)
            .iter()
            .filter(|s| {
                s["service"] == "checkout"
                    && s["kind"] == "CLIENT"
                    && s["name"] == "POST /reservations"
            })
            .count();
        if n > 0 {
            calls.push(n as f64);
        }
    }
    let reservation = [
        ("service", "inventory"),
        ("operation", "POST /reservations"),
    ];
    let reservations = explorer.count(window, &reservation).await;
    let slow = explorer
        .count(
            window,
            &[reservation[0], reservation[1], ("min_duration", "150ms")],
        )
        .await;
    let multi = calls.iter().filter(|n| **n > 1.0).count() as f64;
    Figures::from([
        (STORM_CHECKOUTS, all),
        (STORM_FAILING, failing),
        (RETRIED, retried),
        (MOST_CALLS, calls.iter().copied().fold(0.0, f64::max)),
        (MULTI_CALL_SHARE, share(multi, calls.len() as f64)),
        (RESERVATIONS, reservations),
        (SLOW_RESERVATION_SHARE, share(slow, reservations)),
    ])
}

async fn shipping_backlog(explorer: &Explorer, window: Window) -> Figures {
    let process = [
        ("service", "shipping"),
        ("operation", "process order.created"),
    ];
    let shipped = explorer.count(window, &process).await;
    let slow = explorer
        .count(
            window,
            &[process[0], process[1], ("min_duration", "1500ms")],
        )
        .await;
    // The wait: from the end of checkout's PRODUCER span to the start of the CONSUMER span
    // that links back to it.
    let mut waits = Vec::new();
    for trace in explorer.sample(window, &process).await {
        let Some(consumer) = spans(&trace)
            .iter()
            .find(|s| s["service"] == "shipping" && s["kind"] == "CONSUMER")
        else {
            continue;
        };
        let Some(link) = consumer["links"].as_array().and_then(|l| l.first()) else {
            continue;
        };
        let Some(producer_trace) = explorer.trace(link["trace_id"].as_str().unwrap()).await else {
            continue;
        };
        let Some(producer) = spans(&producer_trace)
            .iter()
            .find(|s| s["span_id"] == link["span_id"])
        else {
            continue;
        };
        let started = consumer["start_unix_nanos"].as_u64().unwrap() as f64;
        let published = producer["end_unix_nanos"].as_u64().unwrap() as f64;
        waits.push((started - published) / 1e9);
    }
    Figures::from([
        (SHIPPED, shipped),
        (SLOW_SHIPPING, slow),
        (WAITS, waits.len() as f64),
        (LONGEST_WAIT, waits.iter().copied().fold(0.0, f64::max)),
    ])
}
