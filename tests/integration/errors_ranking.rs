//! The error analysis's ranking (`GET /api/errors`, `attributes`) over real shop traffic:
//! `tracedojo up` with its background load of simulated shoppers (browsing, searching, carts,
//! purchases, each user carrying tier, region, device, locale and company as baggage), then a
//! fault that fails some of it. The ranking must lead a person to what the fault targeted:
//!
//! - a tier-targeted errors fault on checkout (`tracedojo.user.tier=gold`),
//! - a region-targeted one (`tracedojo.user.region=eu-west-1`),
//! - a bad release of catalog (`service.version=9.9.9`, half its answers failing),
//! - and declined cards, whose checkouts release the stock they reserved (a compensation that
//!   only failing traces have): the release must not rank.
//!
//! For each, scoped to the failing operation (service and operation of the failing SERVER
//! span) the targeted value is the first row; unscoped it is among the first three; a route's
//! spellings are one row; no identifier ranks. One shop per case, one case at a time, each
//! waiting (polling the API) until its window holds enough failures. The window starts when
//! the fault is set, except the bad release's, which starts with the shop: a version is told
//! apart by the traffic of the version before it.
//!
//! Traffic stays on loopback and is bounded: the load runs only while a case's shop does (at
//! most [`WAIT`] of waiting per case), the polls come every [`POLL`], and the only purchases
//! the test makes itself are [`DECLINED`] declined ones.

use crate::support;

use std::time::{Duration, Instant};

use crate::support::{Shop, buy, client, set_fault};
use serde_json::{Value, json};

/// Journeys per second of the background load: a mixed shop, a few gold checkouts a second.
const LOAD_RATE: &str = "20";
/// The longest a case waits for its failures (on a busy 2-core machine, gold checkouts come
/// about one per three seconds).
const WAIT: Duration = Duration::from_secs(150);
const POLL: Duration = Duration::from_millis(250);
/// Failing traces of the failing operation a segment's case waits for.
const ENOUGH_FAILING: u64 = 12;
/// Purchases the declined-card case makes.
const DECLINED: usize = 8;

/// One shop (eight services and a load) at a time: two at once would starve each other on a
/// small machine, and the cases' traffic would mix.
static ONE_SHOP: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The keys of a route's spellings.
const ROUTE_KEYS: [&str; 3] = ["http.route", "url.path", "url.template"];
/// The stock release and its outcome, which only failing checkouts have.
const COMPENSATION: [(&str, &str); 2] = [
    ("http.route", "/reservations/{reservation_id}/release"),
    ("tracedojo.reservation.outcome", "released"),
];

/// A shop with its background load; its explorer's URL.
fn shop() -> (Shop, String) {
    let shop = Shop::start_with(&["--load-rate", LOAD_RATE], &[]);
    let explorer = shop.explorer_url();
    (shop, explorer)
}

/// `since` for a window starting at `from`: its age in milliseconds (1 s at least, the API's
/// shortest window).
fn since(from: Instant) -> String {
    format!("{}ms", from.elapsed().as_millis().max(1000))
}

fn scope_query(scope: Option<(&str, &str)>) -> String {
    match scope {
        None => String::new(),
        Some((service, operation)) => format!(
            "&service={service}&operation={}",
            operation
                .replace(' ', "%20")
                .replace('{', "%7B")
                .replace('}', "%7D")
        ),
    }
}

/// `GET /api/errors` over the window starting at `from`, optionally scoped.
async fn errors(explorer: &str, from: Instant, scope: Option<(&str, &str)>) -> Value {
    let url = format!(
        "{explorer}/api/errors?since={}{}",
        since(from),
        scope_query(scope)
    );
    let response = client().get(&url).send().await.expect("GET /api/errors");
    assert_eq!(response.status(), 200, "{url}");
    response.json().await.expect("JSON")
}

/// Polls `/api/errors` (the window starting at `from`, moving with the clock, and `scope`)
/// until `ready` accepts an answer; panics with the last one after [`WAIT`].
async fn wait_for(
    what: &str,
    explorer: &str,
    from: Instant,
    scope: Option<(&str, &str)>,
    ready: impl Fn(&Value) -> bool,
) -> Value {
    let started = Instant::now();
    loop {
        let answer = errors(explorer, from, scope).await;
        if ready(&answer) {
            eprintln!("{what} after {:.1?}", started.elapsed());
            return answer;
        }
        assert!(
            started.elapsed() < WAIT,
            "no {what} within {WAIT:?}: {answer:#}"
        );
        tokio::time::sleep(POLL).await;
    }
}

fn failing(errors: &Value) -> u64 {
    errors["failing_traces"].as_u64().unwrap_or(0)
}

fn rows(errors: &Value) -> &Vec<Value> {
    errors["attributes"].as_array().expect("attributes")
}

/// Every (key, value) a row names: its own and its `same_as`.
fn named(row: &Value) -> Vec<(String, String)> {
    let pair = |v: &Value| {
        (
            v["key"].as_str().expect("key").to_owned(),
            match &v["value"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            },
        )
    };
    let mut all = vec![pair(row)];
    all.extend(row["same_as"].as_array().expect("same_as").iter().map(pair));
    all
}

/// The rows as `key=value`, for messages.
fn summary(errors: &Value) -> String {
    rows(errors)
        .iter()
        .enumerate()
        .map(|(i, r)| {
            format!(
                "{i}: {}={} ({} of {} failing, score {:.3}) same as {:?}",
                r["key"].as_str().unwrap_or(""),
                r["value"],
                r["failing_with"],
                r["total_with"],
                r["score"].as_f64().unwrap_or(0.0),
                named(r)
                    .iter()
                    .skip(1)
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn position(errors: &Value, (key, value): (&str, &str)) -> Option<usize> {
    rows(errors)
        .iter()
        .position(|r| r["key"] == key && r["value"] == value)
}

/// A per-request or per-process identifier: user ids, any `*.id` or `*_id`, full URLs, ports.
fn is_identifier(key: &str) -> bool {
    key == "user.id"
        || key.ends_with(".id")
        || key.ends_with("_id")
        || key == "url.full"
        || key.ends_with(".port")
}

/// The checkout route as the frontend and checkout spell it: one operation, whose traces
/// are the same.
const CHECKOUT_ROUTE: [&str; 2] = ["/api/checkout", "/checkout"];

/// The rules every ranking keeps: no identifier, no compensation, and a route's spellings in
/// one row: no route value under two rows (`http.route=/checkout` in one, `url.path=/checkout`
/// in another), and the frontend's `/api/checkout` with checkout's `/checkout`. (The
/// frontend's product page `/api/products/{id}` is not catalog's `/products/{id}`, which
/// carts and recommendations call too: two operations, two rows.)
fn assert_well_formed(case: &str, errors: &Value) {
    let mut routes: Vec<(String, usize)> = Vec::new();
    for (at, row) in rows(errors).iter().enumerate() {
        for (key, value) in named(row) {
            assert!(
                !is_identifier(&key),
                "{case}: identifier {key}={value} ranked:\n{}",
                summary(errors)
            );
            assert!(
                !COMPENSATION.contains(&(key.as_str(), value.as_str())),
                "{case}: the compensation {key}={value} ranked:\n{}",
                summary(errors)
            );
            if ROUTE_KEYS.contains(&key.as_str()) {
                let route = if CHECKOUT_ROUTE.contains(&value.as_str()) {
                    CHECKOUT_ROUTE[1].to_owned()
                } else {
                    value
                };
                if let Some((_, other)) = routes.iter().find(|(r, i)| *r == route && *i != at) {
                    panic!(
                        "{case}: route {route} is in rows {other} and {at}:\n{}",
                        summary(errors)
                    );
                }
                routes.push((route, at));
            }
        }
    }
}

/// The failing SERVER span's service and operation: the first root cause.
fn failing_operation(errors: &Value) -> (String, String) {
    let cause = &errors["root_causes"][0];
    (
        cause["service"].as_str().expect("service").to_owned(),
        cause["operation"].as_str().expect("operation").to_owned(),
    )
}

/// The targeted value leads the failing operation's ranking and is among the first three
/// rows of the whole window's (the first with `first_unscoped`).
fn assert_leads(
    case: &str,
    scoped: &Value,
    unscoped: &Value,
    answer: (&str, &str),
    first_unscoped: bool,
) {
    assert_eq!(
        scoped["too_few_failing_traces"], false,
        "{case}: {scoped:#}"
    );
    assert_eq!(
        position(scoped, answer),
        Some(0),
        "{case}, scoped: {answer:?} is not first:\n{}",
        summary(scoped)
    );
    let at = position(unscoped, answer);
    let within = if first_unscoped { 1 } else { 3 };
    assert!(
        at.is_some_and(|at| at < within),
        "{case}, unscoped: {answer:?} is row {at:?}, not within the first {within}:\n{}",
        summary(unscoped)
    );
    assert_well_formed(case, scoped);
    assert_well_formed(case, unscoped);
    eprintln!(
        "{case}: scoped ({} failing of {}):\n{}\nunscoped ({} failing of {}):\n{}",
        scoped["failing_traces"],
        scoped["traces"],
        summary(scoped),
        unscoped["failing_traces"],
        unscoped["traces"],
        summary(unscoped)
    );
}

/// A checkout fault targeting one segment: wait for [`ENOUGH_FAILING`] failing checkouts in
/// the window since the fault, then check the ranking.
async fn segment_case(case: &str, attribute: (&str, &str)) {
    let _one = ONE_SHOP.lock().await;
    let (shop, explorer) = shop();
    let (key, value) = attribute;
    set_fault(
        &shop,
        json!({"fault": {"kind": "errors", "service": "checkout", "status": 500},
               "target": {"attributes": {key: value}}}),
    )
    .await;
    // The API answers once every service runs the plan: the window starts here.
    let fault = Instant::now();
    let checkout = Some(("checkout", "POST /checkout"));
    let scoped = wait_for(
        &format!("{ENOUGH_FAILING} failing checkouts"),
        &explorer,
        fault,
        checkout,
        |e| failing(e) >= ENOUGH_FAILING,
    )
    .await;
    let unscoped = errors(&explorer, fault, None).await;
    // Where the failures begin: checkout's SERVER span, the scope above.
    let (service, operation) = failing_operation(&unscoped);
    assert_eq!(
        (service.as_str(), operation.as_str()),
        ("checkout", "POST /checkout"),
        "{case}: {unscoped:#}"
    );
    assert_leads(case, &scoped, &unscoped, attribute, false);
    drop(shop);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_on_gold_customers_leads_to_the_gold_tier() {
    segment_case("gold tier", ("tracedojo.user.tier", "gold")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_on_one_region_leads_to_the_region() {
    segment_case("eu-west-1", ("tracedojo.user.region", "eu-west-1")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_release_leads_to_its_version() {
    let _one = ONE_SHOP.lock().await;
    let (shop, explorer) = shop();
    // The window starts with the shop, before the release: a version is told apart by the
    // traces of the version before it. Within catalog's own operations every span is the new
    // version once it runs, and a value in every trace in scope separates nothing.
    let opened = Instant::now();
    let product = Some(("catalog", "GET /products/{id}"));
    wait_for(
        "traffic before the release",
        &explorer,
        opened,
        product,
        |e| e["traces"].as_u64() >= Some(50),
    )
    .await;
    set_fault(
        &shop,
        json!({"fault": {"kind": "bad_release", "service": "catalog", "version": "9.9.9",
                         "error_rate": 0.5}}),
    )
    .await;
    let redeployed = tokio::task::block_in_place(|| {
        shop.stdout
            .wait_for("catalog redeployed as version 9.9.9", WAIT)
    });
    redeployed.expect("up redeploys catalog");
    // The redeploy itself fails requests too (catalog is stopped, its callers refused) without
    // the new version in their traces: wait until the release's own failures (traces holding
    // a catalog span) are many and all but a twentieth of the failures.
    let started = Instant::now();
    let (scoped, unscoped) = loop {
        let unscoped = errors(&explorer, opened, None).await;
        let own = catalog_failing(&explorer, opened).await;
        if own >= 100 && own * 20 >= failing(&unscoped) * 19 {
            eprintln!("the release's own failures after {:.1?}", started.elapsed());
            let (service, operation) = failing_operation(&unscoped);
            let scoped = errors(&explorer, opened, Some((&service, &operation))).await;
            break (scoped, unscoped);
        }
        assert!(
            started.elapsed() < WAIT,
            "the release's own failures never outnumbered the redeploy's: {own} of {}",
            failing(&unscoped)
        );
        tokio::time::sleep(POLL).await;
    };
    let (service, _) = failing_operation(&unscoped);
    assert_eq!(service, "catalog", "{unscoped:#}");
    assert_leads(
        "bad release",
        &scoped,
        &unscoped,
        ("service.version", "9.9.9"),
        true,
    );
    drop(shop);
}

/// Failing traces holding a catalog span, in the window starting at `from`.
async fn catalog_failing(explorer: &str, from: Instant) -> u64 {
    let url = format!(
        "{explorer}/api/errors?since={}&service=catalog",
        since(from)
    );
    let response = client().get(&url).send().await.expect("GET /api/errors");
    assert_eq!(response.status(), 200, "{url}");
    failing(&response.json().await.expect("JSON"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stock_released_after_a_declined_card_is_not_ranked() {
    let _one = ONE_SHOP.lock().await;
    let (shop, explorer) = shop();
    let opened = Instant::now();
    // The load's own purchases, approved, to tell the declined ones from.
    let checkout = Some(("checkout", "POST /checkout"));
    wait_for("approved checkouts", &explorer, opened, checkout, |e| {
        e["traces"].as_u64() >= Some(20)
    })
    .await;
    // Declined cards: payment answers 402, checkout releases the stock it reserved and
    // answers 402 too.
    for n in 0..DECLINED {
        let (status, body) = buy(
            &shop,
            &format!("declined-{n}"),
            "4000000000000002",
            "tracedojo.user.tier=silver,tracedojo.user.region=us-east-1",
        )
        .await;
        assert_eq!(status, 402, "{body}");
    }
    // The failing traces, whole: the release's spans come with checkout's and inventory's
    // batches.
    let (_, released) = support::poll_json(
        &format!(
            "{explorer}/api/traces?since={}&attr=tracedojo.reservation.outcome%3Dreleased&limit=100",
            since(opened)
        ),
        WAIT,
        |status, body| {
            status == 200 && body["traces"].as_array().map(Vec::len) == Some(DECLINED)
        },
    )
    .await;
    assert_eq!(
        released["traces"].as_array().map(Vec::len),
        Some(DECLINED),
        "every declined checkout released its stock: {released:#}"
    );
    let unscoped = wait_for(
        &format!("{DECLINED} failing traces"),
        &explorer,
        opened,
        None,
        |e| failing(e) >= DECLINED as u64,
    )
    .await;
    // Where the failures begin: checkout's call to payment, answered 402.
    let declined = unscoped["root_causes"]
        .as_array()
        .expect("root causes")
        .iter()
        .find(|c| c["service"] == "checkout" && c["operation"] == "POST /payments")
        .unwrap_or_else(|| panic!("no declined payment among the causes: {unscoped:#}"));
    assert_eq!(declined["traces"], DECLINED, "{unscoped:#}");
    let scoped = errors(&explorer, opened, checkout).await;
    assert!(failing(&scoped) >= DECLINED as u64, "{scoped:#}");
    for (case, errors) in [("unscoped", &unscoped), ("scoped", &scoped)] {
        assert_eq!(errors["too_few_failing_traces"], false, "{errors:#}");
        assert_well_formed(&format!("declined cards, {case}"), errors);
        eprintln!("declined cards, {case}:\n{}", summary(errors));
    }
    drop(shop);
}
