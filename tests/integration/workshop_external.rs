//! Lesson 11 with a real service of the participant's own: the example Python service
//! (workshop/examples/recommendation.py, on the official OpenTelemetry SDK from PyPI) runs in
//! place of recommendation (`up --external`). The scripted participant starts the lesson, is
//! told where to look while no product page has been viewed, views product pages and passes;
//! the explorer's API then holds one trace from the frontend's CLIENT call into the Python
//! SERVER span. In Japanese and in English.
//!
//! Python comes from TRACEDOJO_TEST_PYTHON (set by .ci/run), or from the virtualenv that
//! workshop/examples/setup-python.sh makes in target/workshop-python.

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Shop, client, temp_dir};
use crate::workshop::Participant;
use serde_json::Value;

const PARTICIPANT: &str = "ws-jiro";
/// Long enough for spans to reach the explorer on a loaded machine; checks are retried
/// until then, as a participant would try again.
const WAIT: Duration = Duration::from_secs(60);
const SETUP: &str = "workshop/examples/setup-python.sh";
/// A product the example service does not pick, so its page shows all of its picks but one.
const PRODUCT: u32 = 12;
/// The example service's first pick, as the shop's catalogue names it.
const FIRST_PICK: &str = "Heritage Cast-Iron Griddle";

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The Python that has the pinned OpenTelemetry packages. Under CI it must have been named:
/// a missing install fails the test rather than skipping it.
fn python() -> PathBuf {
    if let Some(path) = std::env::var_os("TRACEDOJO_TEST_PYTHON") {
        let path = PathBuf::from(path);
        assert!(
            path.exists(),
            "TRACEDOJO_TEST_PYTHON={} does not exist; run {SETUP}",
            path.display()
        );
        return path;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "TRACEDOJO_TEST_PYTHON is not set: .ci/run sets it after running {SETUP}"
    );
    let path = repository().join("target/workshop-python/bin/python");
    assert!(
        path.exists(),
        "this test runs workshop/examples/recommendation.py on the OpenTelemetry SDK, and {} is missing: run {SETUP} once (it makes that virtualenv with workshop/examples/requirements.txt), or set TRACEDOJO_TEST_PYTHON to a Python that has those packages",
        path.display()
    );
    path
}

/// The example Python service, stopped when dropped (even when the test failed).
struct PythonService {
    child: Child,
    dir: PathBuf,
}

impl PythonService {
    /// Starts it on the port `reserved` holds, exporting to `otlp_http`; returns once it
    /// accepts connections.
    fn start(python: &Path, reserved: TcpListener, otlp_http: &str) -> PythonService {
        let port = reserved.local_addr().unwrap().port();
        let dir = temp_dir("python-recommendation");
        let log = File::create(dir.join("output.log")).unwrap();
        let mut command = Command::new(python);
        command
            .arg(repository().join("workshop/examples/recommendation.py"))
            .arg(port.to_string());
        // Only what a participant is told to set: nothing from the test's own shell.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("OTEL_") {
                command.env_remove(key);
            }
        }
        command
            .env("OTEL_SERVICE_NAME", "recommendation")
            .env(
                "OTEL_RESOURCE_ATTRIBUTES",
                format!("service.namespace={PARTICIPANT}"),
            )
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", otlp_http)
            .env("OTEL_BSP_SCHEDULE_DELAY", "100")
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        // Held until now so that `up`, picking free ports, could not take it.
        drop(reserved);
        let mut service = PythonService {
            child: command.spawn().expect("start the Python service"),
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            let exited = service.child.try_wait().unwrap();
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "the Python service did not listen on {port} ({exited:?}):\n{}",
                service.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        service
    }

    /// What it printed: its start line, a line per request, and any export error.
    fn output(&self) -> String {
        std::fs::read_to_string(self.dir.join("output.log")).unwrap_or_default()
    }
}

impl Drop for PythonService {
    fn drop(&mut self) {
        // SIGTERM first: the service sends the spans it still holds, as on Ctrl-C.
        // SAFETY: signalling a child process we spawned and have not reaped.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A product page in the shop, as a browser with `session` views it; the page must show the
/// Python service's picks.
async fn view_product(shop: &Shop, session: &str) {
    let response = client()
        .get(format!("{}/products/{PRODUCT}", shop.url))
        .header("cookie", format!("td_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let page = response.text().await.unwrap();
    assert!(
        page.contains(FIRST_PICK),
        "the product page does not show the Python service's recommendations"
    );
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

/// The frontend's JSON API answers with the Python service's recommendations, in the shape
/// the frontend reads.
async fn api_shows_the_picks(shop: &Shop) {
    let detail = get(&format!("{}/api/products/{PRODUCT}", shop.url)).await;
    assert_eq!(detail["product"]["id"], PRODUCT, "{detail}");
    let names: Vec<&str> = detail["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(names.len(), 4, "{detail}");
    assert_eq!(names[0], FIRST_PICK, "{detail}");
}

/// One trace in the explorer, read through its API: the frontend's CLIENT span of
/// `GET /recommendations` with the Python service's SERVER span as its child, which carries
/// the HTTP attributes and the tier the frontend put in the baggage.
async fn one_trace_crosses_the_python_service(explorer: &str) {
    let found = get(&format!(
        "{explorer}/api/traces?service=recommendation&attr=telemetry.sdk.language=python&namespace={PARTICIPANT}&limit=5"
    ))
    .await;
    let id = found["traces"][0]["trace_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no trace holds the Python service's span: {found}"));
    let trace = get(&format!("{explorer}/api/traces/{id}")).await;
    let spans = trace["spans"].as_array().unwrap();
    let python = spans
        .iter()
        .find(|s| s["service"] == "recommendation" && s["kind"] == "SERVER")
        .unwrap_or_else(|| panic!("{trace}"));
    assert_eq!(python["resource"]["telemetry.sdk.language"], "python");
    assert_eq!(python["resource"]["service.namespace"], PARTICIPANT);
    assert_eq!(python["name"], "GET /recommendations");
    assert_eq!(python["parent_missing"], false, "{python}");
    for (key, value) in [
        ("http.request.method", Value::from("GET")),
        ("http.route", Value::from("/recommendations")),
        ("url.path", Value::from("/recommendations")),
        ("http.response.status_code", Value::from(200)),
    ] {
        assert_eq!(python["attributes"][key], value, "{key}: {python}");
    }
    let call = spans
        .iter()
        .find(|s| s["span_id"] == python["parent_span_id"])
        .unwrap();
    assert_eq!(call["service"], "frontend");
    assert_eq!(call["kind"], "CLIENT");
    assert_eq!(call["name"], "GET /recommendations");
    assert_eq!(call["resource"]["telemetry.sdk.language"], "rust");
    assert_eq!(
        trace["spans"][0]["service"], "frontend",
        "the trace starts at the frontend"
    );
    let tier = spans
        .iter()
        .find(|s| s["service"] == "frontend" && s["kind"] == "SERVER")
        .map(|s| s["attributes"]["tracedojo.user.tier"].clone())
        .unwrap();
    assert!(
        tier.is_string(),
        "the frontend names the user's tier: {trace}"
    );
    assert_eq!(
        python["attributes"]["tracedojo.user.tier"], tier,
        "the baggage reached the Python service"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_service_on_the_opentelemetry_sdk_joins_the_shops_trace() {
    let python = python();
    let reserved = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = reserved.local_addr().unwrap().port();
    let external = format!("recommendation=http://127.0.0.1:{port}");
    // No background load: before a product page is viewed, nobody calls recommendation.
    let shop = Shop::start_with(
        &[
            "--no-load",
            "--participant",
            PARTICIPANT,
            "--external",
            &external,
        ],
        &[],
    );
    let explorer = shop.explorer.clone().expect("up runs the explorer");
    // The summary's "Explorer: URL (OTLP/gRPC URL, OTLP/HTTP URL)", as a participant reads it.
    let summary = shop.stdout.wait_for("OTLP/HTTP ", Duration::ZERO).unwrap();
    let otlp_http = summary
        .split("OTLP/HTTP ")
        .nth(1)
        .unwrap()
        .trim_end_matches(')')
        .trim()
        .to_string();
    let service = PythonService::start(&python, reserved, &otlp_http);

    for (lang, session) in [("ja", "1a2b3c4d5e6f7081"), ("en", "8f7e6d5c4b3a2910")] {
        let data_dir = temp_dir(&format!("workshop-external-{lang}"));
        let me = Participant {
            shop: &shop,
            explorer: explorer.clone(),
            lang,
            data_dir: &data_dir,
            name: PARTICIPANT,
        };
        let shown = me.run_printed_commands(11);
        assert!(
            shown.contains("--external recommendation=http://127.0.0.1:")
                && shown.contains("recommendation.py"),
            "the lesson says how to swap the service in: {shown}"
        );

        // Nothing has called recommendation since the start: not yet, and where to go.
        let early = me.workshop(&["check", "11"]);
        assert_eq!(early.code, 1, "{}{}", early.stdout, early.stderr);
        assert!(
            early.stdout.starts_with('…') || early.stdout.starts_with('✗'),
            "{}",
            early.stdout
        );
        me.in_language(&early.stdout);
        let pointer = if lang == "ja" {
            "商品ページ"
        } else {
            "product page"
        };
        assert!(early.stdout.contains(pointer), "{}", early.stdout);

        view_product(&shop, session).await;
        api_shows_the_picks(&shop).await;

        let deadline = Instant::now() + WAIT;
        loop {
            let ran = me.workshop(&["check", "11"]);
            if ran.code == 0 {
                assert!(ran.stdout.starts_with('✓'), "{}", ran.stdout);
                me.in_language(&ran.stdout);
                assert!(ran.stdout.contains("python"), "{}", ran.stdout);
                assert!(
                    ran.stdout.lines().count() > 3,
                    "no explanation: {}",
                    ran.stdout
                );
                break;
            }
            assert!(
                Instant::now() < deadline,
                "lesson 11 ({lang}) never passed: {}{}\nthe Python service printed:\n{}",
                ran.stdout,
                ran.stderr,
                service.output()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
        let _ = std::fs::remove_dir_all(&data_dir);
    }

    one_trace_crosses_the_python_service(&explorer).await;
    assert!(
        !service.output().contains("Traceback"),
        "the Python service failed a request:\n{}",
        service.output()
    );
}
