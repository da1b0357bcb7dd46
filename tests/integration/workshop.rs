//! The workshop, lesson by lesson, as a participant takes it: against a real shop (`up
//! --participant`), a scripted participant runs each command the lesson prints, gives a wrong
//! answer (the check fails and points somewhere, without the answer), then finds the right
//! one through the shop and the explorer's API as a person would (never from the stage) and
//! passes, in Japanese and in English. Bad input gets one clear line and exit status 2.

use crate::support;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::{Shop, client, poll_json, run_to_end, temp_dir};
use serde_json::Value;

const PARTICIPANT: &str = "ws-taro";
/// Long enough for spans to reach the explorer on a loaded machine; checks are retried
/// until then, as a participant would try again.
const WAIT: Duration = Duration::from_secs(60);

/// One participant's workshop against one shop, in one language (lesson 11's test takes it
/// too).
pub(crate) struct Participant<'a> {
    pub(crate) shop: &'a Shop,
    pub(crate) explorer: String,
    pub(crate) lang: &'static str,
    pub(crate) data_dir: &'a Path,
    /// What `--participant` says.
    pub(crate) name: &'static str,
}

/// What a workshop command printed and how it ended.
pub(crate) struct Ran {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Participant<'_> {
    pub(crate) fn workshop(&self, args: &[&str]) -> Ran {
        let mut all = vec!["workshop"];
        all.extend_from_slice(args);
        let data_dir = self.data_dir.to_string_lossy().to_string();
        all.extend_from_slice(&[
            "--lang",
            self.lang,
            "--participant",
            self.name,
            "--explorer",
            &self.explorer,
            "--control",
            &self.shop.control,
            "--shop",
            &self.shop.url,
            "--data-dir",
            &data_dir,
        ]);
        let output = run_to_end(&all, &[]);
        let ran = Ran {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).to_string(),
        };
        assert!(
            !ran.stderr.contains("panicked"),
            "{args:?} panicked: {}",
            ran.stderr
        );
        ran
    }

    /// Runs every command the lesson prints (`show`'s `$ ...` lines), as a participant
    /// copies them: the lesson's docs are tested by running them. Returns what `show` printed.
    pub(crate) fn run_printed_commands(&self, lesson: u32) -> String {
        self.run_printed_commands_with(lesson, &[])
    }

    /// [`Self::run_printed_commands`], with `env` for the commands other than `workshop`
    /// (`doctor` needs the backend's settings, as the participant's shell has them).
    fn run_printed_commands_with(&self, lesson: u32, env: &[(&str, &str)]) -> String {
        let shown = self.workshop(&["show", &lesson.to_string()]);
        assert_eq!(shown.code, 0, "show {lesson}: {}", shown.stderr);
        let commands: Vec<&str> = shown
            .stdout
            .lines()
            .filter_map(|line| line.trim().strip_prefix("$ tracedojo "))
            .collect();
        assert!(
            !commands.is_empty(),
            "lesson {lesson} prints no command:\n{}",
            shown.stdout
        );
        for command in commands {
            let args: Vec<&str> = command.split_whitespace().collect();
            if args.first() != Some(&"workshop") {
                let output = run_to_end(&args, env);
                assert!(
                    output.status.success(),
                    "lesson {lesson}: `tracedojo {command}` failed: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
                continue;
            }
            let ran = self.workshop(&args[1..]);
            assert_eq!(
                ran.code, 0,
                "`tracedojo {command}` failed: {}{}",
                ran.stdout, ran.stderr
            );
        }
        shown.stdout
    }

    /// A wrong answer: exit 1, a message in the participant's language that does not give
    /// the answer away.
    fn wrong(&self, lesson: u32, answer: &str, never_says: &str) -> String {
        let ran = self.workshop(&["check", &lesson.to_string(), answer]);
        assert_eq!(
            ran.code, 1,
            "lesson {lesson}, {answer:?} must be wrong: {}{}",
            ran.stdout, ran.stderr
        );
        assert!(ran.stdout.starts_with('✗'), "{}", ran.stdout);
        self.in_language(&ran.stdout);
        assert!(
            never_says.is_empty() || !ran.stdout.contains(never_says),
            "the pointer gives the answer {never_says:?} away: {}",
            ran.stdout
        );
        ran.stdout
    }

    /// The right answer passes (retried while the explorer is still receiving the spans);
    /// the explanation follows.
    fn right(&self, lesson: u32, answer: &dyn Fn() -> String) {
        let deadline = Instant::now() + WAIT;
        loop {
            let given = answer();
            let ran = self.workshop(&["check", &lesson.to_string(), &given]);
            if ran.code == 0 {
                assert!(ran.stdout.starts_with('✓'), "{}", ran.stdout);
                self.in_language(&ran.stdout);
                assert!(
                    ran.stdout.lines().count() > 3,
                    "no explanation: {}",
                    ran.stdout
                );
                return;
            }
            assert!(
                Instant::now() < deadline,
                "lesson {lesson} ({}): the right answer {given:?} never passed: {}{}",
                self.lang,
                ran.stdout,
                ran.stderr
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    pub(crate) fn in_language(&self, text: &str) {
        let japanese = text.chars().any(|c| ('\u{3040}'..='\u{30ff}').contains(&c));
        assert_eq!(japanese, self.lang == "ja", "not in {}: {text}", self.lang);
    }
}

/// A browser's session: the cookie the shop hands out, and its page's answers unfollowed.
struct Browser {
    http: reqwest::Client,
    cookie: String,
    shop: String,
}

impl Browser {
    fn new(shop: &Shop, session: &str) -> Browser {
        tracedojo_kit::telemetry::install_crypto_provider();
        Browser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
            cookie: format!("td_session={session}"),
            shop: shop.url.clone(),
        }
    }

    async fn post_form(&self, path: &str, form: &str) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.shop))
            .header("cookie", &self.cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.to_string())
            .send()
            .await
            .unwrap()
    }

    /// Adds a product and places the order; returns the trace id the order page links to.
    async fn buy(&self) -> String {
        let added = self.post_form("/cart/add", "product_id=5&quantity=1").await;
        assert_eq!(added.status().as_u16(), 303);
        let placed = self
            .post_form(
                "/checkout",
                "card_number=4242424242424242&email=taro%40example.com&region=ap-northeast-1",
            )
            .await;
        let location = placed.headers()["location"].to_str().unwrap().to_string();
        // "See this order's trace" on the order page points at this trace.
        let page = self
            .http
            .get(format!("{}{location}", self.shop))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let (_, after) = page
            .split_once("#/trace/")
            .expect("the order page links to its trace");
        after[..32].to_string()
    }

    /// The tier the shop's page says the user is in.
    async fn tier(&self) -> String {
        let page = self
            .http
            .get(format!("{}/", self.shop))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let (_, after) = page
            .split_once("class=\"tier tier-")
            .expect("the page shows the tier");
        after.split('"').next().unwrap().to_string()
    }
}

async fn get(url: &str) -> Value {
    client()
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// How many services of the shop a successful checkout crosses, read from one trace as a
/// person reads its waterfall.
async fn services_in_a_checkout(explorer: &str) -> usize {
    let search = format!(
        "{explorer}/api/traces?service=frontend&operation=POST%20/api/checkout&namespace={PARTICIPANT}&limit=5"
    );
    let (_, found) = poll_json(&search, WAIT, |_, v| {
        v["traces"].as_array().is_some_and(|t| !t.is_empty())
    })
    .await;
    for summary in found["traces"].as_array().unwrap() {
        // Counted once every service's spans are in: a busy machine sends some batches late.
        let url = format!(
            "{explorer}/api/traces/{}",
            summary["trace_id"].as_str().unwrap()
        );
        let (_, trace) = poll_json(&url, WAIT, |code, trace| {
            code == 200 && support::trace_is_whole(trace)
        })
        .await;
        if trace["error_count"] == 0 {
            let services: BTreeSet<&str> = trace["spans"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|s| s["service"].as_str())
                .filter(|s| *s != "loadgenerator")
                .collect();
            return services.len();
        }
    }
    panic!("no successful checkout: {found}");
}

/// The service that is slow by itself and its p95, as a person finds them: in the slowest
/// recent checkout, the SERVER span with the most time of its own; then that service's p95
/// on the RED page.
async fn slow_service_and_p95(explorer: &str) -> (String, f64) {
    let search = format!(
        "{explorer}/api/traces?service=frontend&operation=POST%20/api/checkout&namespace={PARTICIPANT}&min_duration=200ms&limit=1"
    );
    let (_, found) = poll_json(&search, WAIT, |_, v| {
        v["traces"].as_array().is_some_and(|t| !t.is_empty())
    })
    .await;
    let id = found["traces"][0]["trace_id"]
        .as_str()
        .expect("a slow checkout")
        .to_string();
    let trace = get(&format!("{explorer}/api/traces/{id}")).await;
    let slowest = trace["spans"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == "SERVER")
        .max_by_key(|s| s["self_nanos"].as_u64().unwrap_or(0))
        .unwrap();
    let service = slowest["service"].as_str().unwrap().to_string();
    let red = get(&format!(
        "{explorer}/api/red?service={service}&namespace={PARTICIPANT}&since=2m"
    ))
    .await;
    let p95 = red["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "SERVER")
        .max_by_key(|e| e["requests"].as_u64().unwrap_or(0))
        .and_then(|e| e["p95_ms"].as_f64())
        .unwrap();
    (service, p95.round())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_participant_passes_every_lesson_in_japanese_and_english() {
    let shop = Shop::start_with(&["--participant", PARTICIPANT, "--load-rate", "2"], &[]);
    let explorer = shop.explorer.clone().expect("up runs the explorer");
    for (lang, session) in [("ja", "a1b2c3d4e5f60718"), ("en", "0f1e2d3c4b5a6978")] {
        let progress = temp_dir(&format!("workshop-{lang}"));
        let me = Participant {
            shop: &shop,
            explorer: explorer.clone(),
            lang,
            data_dir: &progress,
            name: PARTICIPANT,
        };
        let browser = Browser::new(&shop, session);

        // 1. The first trace: a random id is not one; the order page's trace link is.
        me.run_printed_commands(1);
        me.wrong(1, "0123456789abcdef0123456789abcdef", "");
        let mine = browser.buy().await;
        me.right(1, &|| mine.clone());

        // 2. Anatomy: one more than the services seen is wrong; the count read from a trace
        // is right.
        me.run_printed_commands(2);
        let crossed = services_in_a_checkout(&explorer).await;
        me.wrong(2, &(crossed + 1).to_string(), &crossed.to_string());
        me.right(2, &|| crossed.to_string());

        // 3. Baggage: traceparent does not carry the tier; baggage does, and the tier is
        // what the shop's page says.
        me.run_printed_commands(3);
        browser.buy().await;
        let tier = browser.tier().await;
        me.right(3, &|| format!("baggage {tier}"));
        me.wrong(3, &format!("traceparent {tier}"), "baggage");

        // 4. The slow dependency: the frontend is not it; the service with the most time of
        // its own is, with the p95 the RED page shows.
        me.run_printed_commands(4);
        let (service, p95) = slow_service_and_p95(&explorer).await;
        assert_ne!(service, "frontend");
        me.wrong(4, &format!("frontend {p95}"), &service);
        me.right(4, &|| format!("{service} {p95}"));

        let status = me.workshop(&["status"]);
        assert_eq!(status.code, 0);
        me.in_language(&status.stdout);
        let _ = std::fs::remove_dir_all(&progress);
    }
}

/// When a lesson was started: a person looks at what happened since (the explorer's window
/// narrowed to it), not at what earlier lessons left behind.
struct Since {
    start_ms: u128,
}

impl Since {
    fn now() -> Since {
        Since {
            start_ms: unix_ms(),
        }
    }

    /// The explorer's `since` from the start until now (re-read at each call, as a person
    /// refreshing the page would).
    fn window(&self) -> String {
        format!("{}s", ((unix_ms() - self.start_ms) / 1000).max(1) + 1)
    }
}

fn unix_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

/// Lesson 5 as a person reads it: the table of the slowest catalogue query on the RED page,
/// and how often one listing trace repeats its most repeated query.
async fn table_and_repeats(explorer: &str, since: &Since) -> (String, usize) {
    let red = get(&format!(
        "{explorer}/api/red?service=catalog&namespace={PARTICIPANT}&since={}",
        since.window()
    ))
    .await;
    let slowest = red["queries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|q| q["operation"] == "SELECT" && q["calls"].as_u64().unwrap_or(0) >= 3)
        .max_by(|a, b| {
            a["p95_ms"]
                .as_f64()
                .unwrap()
                .total_cmp(&b["p95_ms"].as_f64().unwrap())
        })
        .expect("catalogue queries on the RED page");
    let table = slowest["collection"].as_str().unwrap().to_string();
    let search = format!(
        "{explorer}/api/traces?service=frontend&operation=GET%20/api/products&namespace={PARTICIPANT}&start={}&limit=1",
        since.start_ms
    );
    let (_, found) = poll_json(&search, WAIT, |_, v| {
        v["traces"].as_array().is_some_and(|t| !t.is_empty())
    })
    .await;
    let trace = get(&format!(
        "{explorer}/api/traces/{}",
        found["traces"][0]["trace_id"].as_str().unwrap()
    ))
    .await;
    let mut counts = std::collections::BTreeMap::new();
    for span in trace["spans"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["service"] == "catalog")
    {
        if let Some(text) = span["attributes"]["db.query.text"].as_str() {
            *counts.entry(text.to_string()).or_insert(0usize) += 1;
        }
    }
    (table, counts.into_values().max().unwrap())
}

/// The deepest failing span of one failing checkout whose children all succeeded: where a
/// person following the red spans down ends up. Returns its service and its resource's
/// service.version.
async fn first_failure(explorer: &str, since: &Since) -> (String, String) {
    // A service that answered with an error: the deepest failing SERVER span. A caller's
    // refused connection (a service restarting) fails only its CLIENT span, which a person
    // following the red spans passes over for the next failing trace.
    let search = format!(
        "{explorer}/api/traces?errors=true&namespace={PARTICIPANT}&start={}&limit=20",
        since.start_ms
    );
    let deadline = Instant::now() + WAIT;
    loop {
        let found = get(&search).await;
        for summary in found["traces"].as_array().into_iter().flatten() {
            let trace = get(&format!(
                "{explorer}/api/traces/{}",
                summary["trace_id"].as_str().unwrap()
            ))
            .await;
            let spans = trace["spans"].as_array().cloned().unwrap_or_default();
            let failed = |s: &&Value| s["status_code"] == "ERROR";
            let first = spans.iter().filter(failed).find(|s| {
                s["kind"] == "SERVER"
                    && !spans
                        .iter()
                        .filter(failed)
                        .any(|child| child["parent_span_id"] == s["span_id"])
            });
            if let Some(first) = first {
                return (
                    first["service"].as_str().unwrap().to_string(),
                    first["resource"]["service.version"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                );
            }
        }
        assert!(
            Instant::now() < deadline,
            "no service answered with an error: {found}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Lesson 7 as a person reads it: the Errors page narrowed to the failing operation, its
/// first attribute.
async fn separating_attribute(explorer: &str, since: &Since) -> String {
    let url = format!(
        "{explorer}/api/errors?service=checkout&operation=POST%20/checkout&namespace={PARTICIPANT}&since={}",
        since.window()
    );
    let (_, errors) = poll_json(&url, WAIT, |_, v| {
        v["attributes"].as_array().is_some_and(|a| !a.is_empty())
    })
    .await;
    let first = &errors["attributes"][0];
    format!(
        "{}={}",
        first["key"].as_str().unwrap(),
        first["value"].as_str().unwrap()
    )
}

/// Lesson 9 as a person reads it: the order's message id on the checkout's PRODUCER span,
/// the span that processed it found by that id, the difference of their starts.
async fn queue_wait(explorer: &str, checkout_trace: &str) -> Option<(String, f64)> {
    let trace = get(&format!("{explorer}/api/traces/{checkout_trace}")).await;
    let producer = trace["spans"]
        .as_array()?
        .iter()
        .find(|s| s["kind"] == "PRODUCER")?
        .clone();
    let id = producer["attributes"]["messaging.message.id"].as_str()?;
    let found = get(&format!(
        "{explorer}/api/traces?attr=messaging.message.id={id}&limit=5"
    ))
    .await;
    for summary in found["traces"].as_array()? {
        let trace = get(&format!(
            "{explorer}/api/traces/{}",
            summary["trace_id"].as_str()?
        ))
        .await;
        if let Some(consumer) = trace["spans"]
            .as_array()?
            .iter()
            .find(|s| s["kind"] == "CONSUMER")
        {
            let wait =
                consumer["start_unix_nanos"].as_u64()? - producer["start_unix_nanos"].as_u64()?;
            return Some((
                consumer["service"].as_str()?.to_string(),
                (wait as f64 / 1e6).round(),
            ));
        }
    }
    None
}

/// Lesson 14 as a person reads it: a frontend endpoint on the RED page with p95 over 300 ms.
async fn endpoint_over_objective(explorer: &str, since: &Since) -> String {
    let url = format!(
        "{explorer}/api/red?service=frontend&namespace={PARTICIPANT}&since={}",
        since.window()
    );
    let over = |v: &Value| {
        v["endpoints"].as_array().and_then(|e| {
            e.iter()
                .find(|e| {
                    e["kind"] == "SERVER"
                        && e["requests"].as_u64().unwrap_or(0) >= 5
                        && e["p95_ms"].as_f64().unwrap_or(0.0) > 300.0
                })
                .and_then(|e| e["operation"].as_str().map(str::to_string))
        })
    };
    let (_, red) = poll_json(&url, WAIT, |_, v| over(v).is_some()).await;
    over(&red).expect("an endpoint over the objective")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_incident_lessons_are_passed_with_answers_found_as_a_person_finds_them() {
    let shop = Shop::start_with(&["--participant", PARTICIPANT, "--load-rate", "1"], &[]);
    let explorer = shop.explorer.clone().expect("up runs the explorer");
    for (lang, session) in [("en", "1a2b3c4d5e6f7081"), ("ja", "8f7e6d5c4b3a2910")] {
        let progress = temp_dir(&format!("workshop-incidents-{lang}"));
        let me = Participant {
            shop: &shop,
            explorer: explorer.clone(),
            lang,
            data_dir: &progress,
            name: PARTICIPANT,
        };
        let browser = Browser::new(&shop, session);

        // 5. The database.
        let since = Since::now();
        me.run_printed_commands(5);
        let (table, repeats) = table_and_repeats(&explorer, &since).await;
        me.right(5, &|| format!("{table} {repeats}"));
        me.wrong(5, &format!("{table} {}", repeats + 7), &repeats.to_string());
        me.wrong(5, &format!("cart_items {repeats}"), &table);

        // 6. The root cause: the frontend only reports it.
        let since = Since::now();
        me.run_printed_commands(6);
        let (origin, _) = first_failure(&explorer, &since).await;
        assert_ne!(origin, "frontend");
        me.right(6, &|| origin.clone());
        me.wrong(6, "frontend", &origin);

        // 7. The segment, from the Errors page narrowed to the failing operation.
        let since = Since::now();
        me.run_printed_commands(7);
        let segment = separating_attribute(&explorer, &since).await;
        assert!(
            segment.starts_with("tracedojo.user."),
            "the Errors page leads with {segment}"
        );
        me.right(7, &|| segment.clone());
        me.wrong(7, "tracedojo.user.company=Nobody", &segment);

        // 8. The bad release: the failing span's service and version.
        let since = Since::now();
        me.run_printed_commands(8);
        let (service, version) = first_failure(&explorer, &since).await;
        me.right(8, &|| format!("{service} {version}"));
        me.wrong(8, &format!("{service} 0.0.1"), &version);

        // 9. Async work: the participant's own order, followed through the span link.
        me.run_printed_commands(9);
        let checkout = browser.buy().await;
        let deadline = Instant::now() + WAIT;
        let (consumer, wait) = loop {
            if let Some(found) = queue_wait(&explorer, &checkout).await {
                break found;
            }
            assert!(Instant::now() < deadline, "the order was never processed");
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        me.right(9, &|| format!("{consumer} {wait}"));
        me.wrong(9, &format!("checkout {wait}"), &consumer);
        me.wrong(9, &format!("{consumer} {}", wait * 3.0 + 500.0), "");

        // 14. The objective: an endpoint users call, over 300 ms at p95.
        let since = Since::now();
        me.run_printed_commands(14);
        let missing = endpoint_over_objective(&explorer, &since).await;
        me.right(14, &|| missing.clone());
        me.wrong(14, "POST /api/checkout", &missing);
        let _ = std::fs::remove_dir_all(&progress);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sending_to_a_backend_is_checked_through_the_explorers_export_health() {
    // Without a backend, the check says how to set one.
    let progress = temp_dir("workshop-backend");
    {
        let shop = Shop::start_with(&["--participant", PARTICIPANT, "--no-load"], &[]);
        let me = Participant {
            shop: &shop,
            explorer: shop.explorer.clone().unwrap(),
            lang: "ja",
            data_dir: &progress,
            name: PARTICIPANT,
        };
        me.workshop(&["start", "12"]);
        let pointer = me.wrong(12, "", "");
        assert!(pointer.contains("tracedojo doctor"), "{pointer}");
    }
    // With one (a local OTLP receiver standing in for the vendor), it passes, after the
    // lesson's own commands (`doctor` among them) ran against it.
    let (shop, receiver) =
        support::shop_with_receiver(&["--participant", PARTICIPANT, "--no-load"]).await;
    let endpoint = receiver.http_endpoint();
    let backend = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
    ];
    for lang in ["en", "ja"] {
        let me = Participant {
            shop: &shop,
            explorer: shop.explorer.clone().unwrap(),
            lang,
            data_dir: &progress,
            name: PARTICIPANT,
        };
        me.run_printed_commands_with(12, &backend);
        me.right(12, &String::new);
    }
    let _ = std::fs::remove_dir_all(&progress);
}

/// How many checkout traces the explorer holds since `since`, as a person counts the search
/// results.
async fn checkouts_kept(explorer: &str, since: &Since) -> usize {
    let url = format!(
        "{explorer}/api/traces?service=frontend&operation=POST%20/api/checkout&namespace={PARTICIPANT}&start={}&limit=1000",
        since.start_ms
    );
    get(&url).await["traces"].as_array().map_or(0, Vec::len)
}

/// Checks lesson 13 with the count read now, until the check answers with `mark`; returns
/// its message.
async fn check_sampling(me: &Participant<'_>, explorer: &str, since: &Since, mark: char) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let kept = checkouts_kept(explorer, since).await;
        let ran = me.workshop(&["check", "13", &kept.to_string()]);
        if ran.stdout.starts_with(mark) {
            me.in_language(&ran.stdout);
            return ran.stdout;
        }
        assert!(
            Instant::now() < deadline,
            "lesson 13 never answered {mark}: {}{}",
            ran.stdout,
            ran.stderr
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_sampler_keeps_a_tenth_of_the_traces_and_the_check_counts_them() {
    let progress = temp_dir("workshop-sampling");
    // Without a sampler every purchase is kept: the check says the sampler is not at work.
    {
        let shop = Shop::start_with(&["--participant", PARTICIPANT, "--no-load"], &[]);
        let me = Participant {
            shop: &shop,
            explorer: shop.explorer.clone().unwrap(),
            lang: "en",
            data_dir: &progress,
            name: PARTICIPANT,
        };
        let since = Since::now();
        me.run_printed_commands(13);
        let said = check_sampling(&me, me.explorer.as_str(), &since, '✗').await;
        assert!(said.contains("OTEL_TRACES_SAMPLER"), "{said}");
    }
    let shop = Shop::start_with(
        &["--participant", PARTICIPANT, "--no-load"],
        &[
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.1"),
        ],
    );
    for lang in ["ja", "en"] {
        let me = Participant {
            shop: &shop,
            explorer: shop.explorer.clone().unwrap(),
            lang,
            data_dir: &progress,
            name: PARTICIPANT,
        };
        let since = Since::now();
        me.run_printed_commands(13);
        check_sampling(&me, me.explorer.as_str(), &since, '✓').await;
        let kept = checkouts_kept(&me.explorer, &since).await;
        assert!(
            (1..50).contains(&kept),
            "a tenth of 100 purchases kept, not {kept}"
        );
        // The count is not said back (the pointer says where to count).
        let said = me.wrong(13, &(kept + 20).to_string(), "");
        assert!(!said.contains(&format!(" {kept} ")), "{said}");
    }
    let _ = std::fs::remove_dir_all(&progress);
}

#[tokio::test]
async fn the_workshop_finds_the_shop_that_up_runs_and_its_participant() {
    let shop = Shop::start_with(&["--participant", "ws-hanako", "--no-load"], &[]);
    let data_dir = shop.data_dir.to_string_lossy().to_string();
    // No --explorer, --control, --shop or --participant: `up` wrote them to its data directory.
    let output = run_to_end(
        &[
            "workshop",
            "start",
            "1",
            "--lang",
            "en",
            "--data-dir",
            &data_dir,
        ],
        &[],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let explorer = shop.explorer.clone().unwrap();
    assert!(
        stdout.contains(&format!(
            "{}/?namespace=ws-hanako",
            explorer.trim_end_matches('/')
        )),
        "the lesson links to the participant's view: {stdout}"
    );
    assert!(stdout.contains(&shop.url), "{stdout}");
}

#[test]
fn bad_input_is_one_clear_line_and_status_2() {
    let data = temp_dir("workshop-bad");
    let data_dir = data.to_string_lossy().to_string();
    let line = |args: &[&str]| {
        let mut all = vec!["workshop"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--data-dir", data_dir.as_str()]);
        if !args.contains(&"--lang") {
            all.extend_from_slice(&["--lang", "en"]);
        }
        let output = run_to_end(&all, &[]);
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        assert_eq!(output.status.code(), Some(2), "{all:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
        stderr
    };
    let unknown = line(&["show", "99"]);
    assert!(
        unknown.contains("no lesson 99") && unknown.contains("workshop list"),
        "{unknown}"
    );
    let not_started = line(&["check", "1", "0123456789abcdef0123456789abcdef"]);
    assert!(not_started.contains("workshop start 1"), "{not_started}");
    let language = line(&["list", "--lang", "fr"]);
    assert!(language.contains("ja or en"), "{language}");
    let name = line(&["list", "--participant", "two words"]);
    assert!(name.contains("--participant"), "{name}");

    // A started lesson (as `start` records it), with no explorer where it is said to be.
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        data.join("workshop.json"),
        r#"{"seed": 1, "current": 4, "lessons": {"1": {"started_unix_ms": 0}, "4": {"started_unix_ms": 0, "vars": {"service": "payment"}}}}"#,
    )
    .unwrap();
    let form = line(&["check", "4", "payment", "fast"]);
    assert!(
        form.contains("not in the form") && form.contains("e.g."),
        "{form}"
    );
    let no_answer = line(&["check", "4"]);
    assert!(no_answer.contains("needs an answer"), "{no_answer}");
    let unreachable = line(&[
        "check",
        "1",
        "0123456789abcdef0123456789abcdef",
        "--explorer",
        "http://127.0.0.1:9",
    ]);
    assert!(
        unreachable.contains("cannot reach the explorer at http://127.0.0.1:9"),
        "{unreachable}"
    );

    // The same in Japanese.
    let output = run_to_end(
        &[
            "workshop",
            "show",
            "99",
            "--data-dir",
            &data_dir,
            "--lang",
            "ja",
        ],
        &[],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("レッスン 99 はありません"), "{stderr}");
    let _ = std::fs::remove_dir_all(&data);
}
