//! Test support: start the real `tracedojo` binary and read what it prints.
//!
//! [`Shop::start`] runs `tracedojo up` on free ports with its own data directory and the
//! given environment, waits for the line that says the shop is ready, and stops the whole
//! shop (SIGTERM, so spans are flushed) when dropped, even if the test failed.
//!
//! With `TRACEDOJO_TEST_ENGINE=postgres` every shop runs on PostgreSQL instead of SQLite: a
//! database of its own on the server of `TRACEDOJO_TEST_POSTGRES_URL`, dropped with the shop.
//! The same tests then check the same things on the second engine ([`Shop::engine`] and
//! [`Shop::db`] for what differs).

#![allow(dead_code)]

pub mod netns;
pub mod otlp_json;
pub mod postgres;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tracedojo_kit::Db;
use tracedojo_kit::db::Engine;
use tracedojo_kit::testing::{POSTGRES_URL_VARIABLE, TestDb};

pub const BIN: &str = env!("CARGO_BIN_EXE_tracedojo");

/// Lines a child printed, shared with the threads that read them.
#[derive(Default, Clone)]
pub struct Output {
    lines: Arc<(Mutex<Vec<String>>, Condvar)>,
}

impl Output {
    fn push(&self, line: String) {
        let (lines, signal) = &*self.lines;
        lines.lock().unwrap().push(line);
        signal.notify_all();
    }

    pub fn text(&self) -> String {
        self.lines.0.lock().unwrap().join("\n")
    }

    /// Waits until a line contains `needle`; returns that line.
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> Result<String, String> {
        let deadline = Instant::now() + timeout;
        let (lines, signal) = &*self.lines;
        let mut guard = lines.lock().unwrap();
        loop {
            if let Some(line) = guard.iter().find(|l| l.contains(needle)) {
                return Ok(line.clone());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(format!(
                    "no line containing {needle:?} within {timeout:?}; got:\n{}",
                    guard.join("\n")
                ));
            }
            guard = signal.wait_timeout(guard, deadline - now).unwrap().0;
        }
    }
}

fn read_lines(stream: impl std::io::Read + Send + 'static, output: Output) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            match line {
                Ok(line) => output.push(line),
                Err(_) => break,
            }
        }
    });
}

/// A fresh, empty directory under the system temp dir, unique to this test run.
pub fn temp_dir(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "tracedojo-test-{label}-{}-{:x}",
        std::process::id(),
        Instant::now().elapsed().as_nanos() ^ (label.len() as u128 * 7919) ^ rand_suffix()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// A running `tracedojo up`.
pub struct Shop {
    child: Child,
    pub url: String,
    /// The fault control API's base URL.
    pub control: String,
    pub stdout: Output,
    pub stderr: Output,
    pub data_dir: PathBuf,
    /// The explorer's web UI and API (`Explorer:` in the summary); `None` with `--no-explorer`.
    pub explorer: Option<String>,
    /// Where the shop keeps its tables.
    database: ShopDatabase,
}

/// Where a test shop keeps its tables.
enum ShopDatabase {
    /// SQLite files in the data directory.
    Files,
    /// A database of its own on the test PostgreSQL server, made for the shop under
    /// `TRACEDOJO_TEST_ENGINE=postgres` (dropped after the shop stops: fields drop after
    /// `Drop::drop`).
    Made(TestDb),
    /// The PostgreSQL database the test gave `up` with `--database-url`.
    Given(String),
}

/// The engine the tests' shops run on: `TRACEDOJO_TEST_ENGINE` (`sqlite`, the default, or
/// `postgres`).
pub fn test_engine() -> Engine {
    match std::env::var("TRACEDOJO_TEST_ENGINE").as_deref() {
        Ok("postgres") | Ok("postgresql") => Engine::Postgres,
        Ok("sqlite") | Ok("") | Err(_) => Engine::Sqlite,
        Ok(other) => panic!("TRACEDOJO_TEST_ENGINE={other}: use sqlite or postgres"),
    }
}

/// A new database for one shop on the test PostgreSQL server.
fn postgres_database(label: &str) -> TestDb {
    let server = std::env::var(POSTGRES_URL_VARIABLE).unwrap_or_else(|_| {
        panic!(
            "TRACEDOJO_TEST_ENGINE=postgres needs {POSTGRES_URL_VARIABLE}: \
             export {POSTGRES_URL_VARIABLE}=\"$(bash tests/postgres.sh)\""
        )
    });
    let label = label.to_string();
    // Shops are started from async tests too, whose runtime cannot be blocked on.
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(TestDb::postgres(&server, &label))
    })
    .join()
    .expect("a PostgreSQL database for the shop")
}

impl Shop {
    /// `up` without its background load: the test's own requests are the only ones.
    pub fn start(env: &[(&str, &str)]) -> Shop {
        Shop::start_with(&["--no-load"], env)
    }

    /// `up` with extra arguments (and the background load unless they say `--no-load`).
    pub fn start_with(args: &[&str], env: &[(&str, &str)]) -> Shop {
        Shop::start_in(temp_dir("up"), args, env)
    }

    /// [`Shop::start_with`] keeping its databases in `data_dir` (removed when dropped).
    pub fn start_in(data_dir: PathBuf, args: &[&str], env: &[(&str, &str)]) -> Shop {
        Shop::start_binary(Path::new(BIN), data_dir, args, env)
    }

    /// [`Shop::start_in`] with another build of `tracedojo`, such as one a test made from an
    /// edited copy of the sources.
    pub fn start_binary(
        binary: &Path,
        data_dir: PathBuf,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Shop {
        let given = args
            .iter()
            .position(|arg| *arg == "--database-url")
            .and_then(|at| args.get(at + 1));
        let database = match given {
            Some(url) => ShopDatabase::Given(url.to_string()),
            None if test_engine() == Engine::Postgres => {
                ShopDatabase::Made(postgres_database("shop"))
            }
            None => ShopDatabase::Files,
        };
        let mut command = Command::new(binary);
        command
            .args(["up", "--base-port", "0", "--data-dir"])
            .arg(&data_dir)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for var in [
            "OTEL_SERVICE_NAME",
            "OTEL_RESOURCE_ATTRIBUTES",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            "OTEL_SDK_DISABLED",
            "RUST_LOG",
            // Nor may the test's own shell choose the explorer's fate or a second destination.
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "TRACEDOJO_NO_EXPLORER",
            "TRACEDOJO_EXPLORER_ENDPOINT",
            "TRACEDOJO_EXPLORER_URL",
            "TRACEDOJO_EXPLORER_PORT",
            "TRACEDOJO_EXPLORER_GRPC_PORT",
            "TRACEDOJO_EXPLORER_HTTP_PORT",
        ] {
            command.env_remove(var);
        }
        command
            .env("OTEL_BSP_SCHEDULE_DELAY", "100")
            .env("OTEL_BLRP_SCHEDULE_DELAY", "100")
            .env("OTEL_METRIC_EXPORT_INTERVAL", "500")
            .env("PAYMENT_MEDIAN_LATENCY_MS", "5");
        match &database {
            ShopDatabase::Made(made) => command.env("DATABASE_URL", made.url("shop")),
            ShopDatabase::Files | ShopDatabase::Given(_) => command.env_remove("DATABASE_URL"),
        };
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("start tracedojo up");
        let stdout = Output::default();
        let stderr = Output::default();
        read_lines(child.stdout.take().unwrap(), stdout.clone());
        read_lines(child.stderr.take().unwrap(), stderr.clone());
        let mut shop = Shop {
            child,
            url: String::new(),
            control: String::new(),
            stdout,
            stderr,
            data_dir,
            explorer: None,
            database,
        };
        match shop.stdout.wait_for("Shop:", Duration::from_secs(60)) {
            Ok(line) => {
                shop.url = line.split_whitespace().last().unwrap().to_string();
                // The summary's last line: everything above it has been printed.
                if let Err(err) = shop
                    .stdout
                    .wait_for("Press Ctrl-C", Duration::from_secs(10))
                {
                    panic!("summary incomplete: {err}");
                }
                let faults = shop.stdout.wait_for("Faults:", Duration::ZERO).unwrap();
                let api = faults.split_whitespace().nth(1).unwrap();
                shop.control = api
                    .trim_end_matches(';')
                    .trim_end_matches("/api/faults")
                    .to_string();
                shop.explorer = shop
                    .stdout
                    .wait_for("Explorer:", Duration::ZERO)
                    .ok()
                    .and_then(|line| line.split_whitespace().nth(1).map(str::to_string))
                    .filter(|url| url.starts_with("http://"));
            }
            Err(err) => panic!("shop did not start: {err}\nstderr:\n{}", shop.stderr.text()),
        }
        shop
    }

    /// The explorer's URL, of a shop started without `--no-explorer`.
    pub fn explorer_url(&self) -> String {
        self.explorer
            .clone()
            .expect("up starts the explorer by default")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The URL and process id `up`'s summary table gives a service.
    pub fn service(&self, name: &str) -> (String, u32) {
        let text = self.stdout.text();
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no {name} row in up's summary:\n{text}"));
        let fields: Vec<&str> = line.split_whitespace().collect();
        (fields[1].to_string(), fields[2].parse().unwrap_or(0))
    }

    /// The engine the shop's services keep their tables on.
    pub fn engine(&self) -> Engine {
        match self.database {
            ShopDatabase::Files => Engine::Sqlite,
            ShopDatabase::Made(_) | ShopDatabase::Given(_) => Engine::Postgres,
        }
    }

    /// The URL of the shop's database `name` (`catalog`, `checkout`, ..., `queue`): its SQLite
    /// file, or its PostgreSQL database (whose schema `name` holds the tables).
    pub fn database_url(&self, name: &str) -> String {
        match &self.database {
            ShopDatabase::Files => format!(
                "sqlite://{}",
                self.data_dir.join(format!("{name}.db")).display()
            ),
            ShopDatabase::Made(made) => made.url(name),
            ShopDatabase::Given(url) => url.clone(),
        }
    }

    /// The shop's database `name`, opened beside the running service.
    pub async fn db(&self, name: &str) -> Db {
        if self.engine() == Engine::Sqlite {
            let file = self.data_dir.join(format!("{name}.db"));
            assert!(file.exists(), "no {name} database at {}", file.display());
        }
        Db::connect(&self.database_url(name), name)
            .await
            .unwrap_or_else(|err| panic!("cannot open the shop's {name} database: {err}"))
    }

    /// SIGTERM and wait, as Ctrl-C would; returns whether `up` exited cleanly.
    pub fn stop(&mut self) -> bool {
        terminate(&mut self.child)
    }

    /// Stops the shop and hands its data directory over instead of removing it, so the next
    /// `up` starts where this one left off (progress, databases), as a restart does.
    pub fn stop_keeping_data(mut self) -> PathBuf {
        assert!(
            self.engine() == Engine::Sqlite,
            "a restart keeps only the data directory; on PostgreSQL the shop's database goes \
             with it (run this test on SQLite)"
        );
        terminate(&mut self.child);
        std::mem::take(&mut self.data_dir)
    }
}

/// SIGTERM, then a wait of up to 20 s, then a kill: how every test process is stopped.
pub fn terminate(child: &mut Child) -> bool {
    if let Ok(Some(status)) = child.try_wait() {
        return status.success();
    }
    // SAFETY: signalling a child process we spawned and have not reaped.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return status.success();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    false
}

impl Drop for Shop {
    fn drop(&mut self) {
        terminate(&mut self.child);
        if !self.data_dir.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.data_dir);
        }
    }
}

/// The JSON body of a GET, whatever its status (e.g. a service's `/health`, which may say
/// `degraded`).
pub async fn json_at(url: &str) -> Value {
    client()
        .get(url)
        .send()
        .await
        .unwrap_or_else(|err| panic!("GET {url}: {err}"))
        .json()
        .await
        .unwrap_or_else(|err| panic!("GET {url}: not JSON: {err}"))
}

/// Runs `tracedojo` with arguments and environment to completion (bounded), for error tests.
pub fn run_to_end(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    run_binary_to_end(Path::new(BIN), args, env)
}

/// [`run_to_end`] with another build of `tracedojo`.
pub fn run_binary_to_end(
    binary: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> std::process::Output {
    let mut command = Command::new(binary);
    command.args(args).stdin(Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tracedojo");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("tracedojo {args:?} did not exit within 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running `tracedojo service NAME --port 0`, stopped (SIGTERM) when dropped.
pub struct ServiceProcess {
    child: Child,
    pub url: String,
    pub stderr: Output,
    pub data_dir: PathBuf,
}

impl ServiceProcess {
    pub fn start(name: &str, env: &[(&str, &str)]) -> ServiceProcess {
        let data_dir = temp_dir(name);
        let mut command = Command::new(BIN);
        command
            .args(["service", name, "--port", "0", "--data-dir"])
            .arg(&data_dir)
            .env("RUST_LOG", "info")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("start tracedojo service");
        let stderr = Output::default();
        read_lines(child.stderr.take().unwrap(), stderr.clone());
        let line = stderr
            .wait_for("listening on http://", Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("{name} did not start: {e}"));
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap()
            .trim_end_matches(';')
            .to_string();
        ServiceProcess {
            child,
            url,
            stderr,
            data_dir,
        }
    }

    /// SIGTERM and wait; returns whether the service exited cleanly.
    pub fn stop(&mut self) -> bool {
        terminate(&mut self.child)
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        terminate(&mut self.child);
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// A running `tracedojo explore` on free ports, stopped (SIGTERM) when dropped.
pub struct ExplorerProcess {
    child: Child,
    /// The web UI and JSON API, e.g. `http://127.0.0.1:40123`.
    pub ui: String,
    /// The OTLP/gRPC and OTLP/HTTP base URLs.
    pub grpc: String,
    pub http: String,
    pub stdout: Output,
    pub stderr: Output,
}

impl ExplorerProcess {
    /// `tracedojo explore` on three free ports plus `args`; waits for its start-up lines.
    pub fn start(args: &[&str]) -> ExplorerProcess {
        let mut command = Command::new(BIN);
        command
            .args(["explore", "--ui-address", "127.0.0.1:0"])
            .args([
                "--grpc-address",
                "127.0.0.1:0",
                "--http-address",
                "127.0.0.1:0",
            ])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("start tracedojo explore");
        let stdout = Output::default();
        let stderr = Output::default();
        read_lines(child.stdout.take().unwrap(), stdout.clone());
        read_lines(child.stderr.take().unwrap(), stderr.clone());
        let url_after = |label: &str| -> String {
            let line = stdout
                .wait_for(label, Duration::from_secs(30))
                .unwrap_or_else(|e| panic!("explorer did not start: {e}\n{}", stderr.text()));
            line.split_whitespace().last().unwrap().to_string()
        };
        let ui = url_after("UI and API:");
        let grpc = url_after("OTLP/gRPC:");
        let http = url_after("OTLP/HTTP:");
        ExplorerProcess {
            child,
            ui,
            grpc,
            http,
            stdout,
            stderr,
        }
    }

    /// POSTs `body`, OTLP/HTTP JSON (see [`otlp_json`]), to the explorer's `/v1/traces`,
    /// which must take it.
    pub async fn send_traces(&self, body: &Value) {
        let response = client()
            .post(format!("{}/v1/traces", self.http))
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    }

    /// SIGTERM and wait; returns whether it exited cleanly (status 0).
    pub fn stop(&mut self) -> bool {
        terminate(&mut self.child)
    }
}

impl Drop for ExplorerProcess {
    fn drop(&mut self) {
        terminate(&mut self.child);
    }
}

/// Polls `GET url` until `ready` accepts the JSON answer or `timeout` passes; returns the
/// last answer (status and body) either way, for the test's own assertion.
pub async fn poll_json(
    url: &str,
    timeout: Duration,
    ready: impl Fn(u16, &Value) -> bool,
) -> (u16, Value) {
    let http = client();
    let deadline = Instant::now() + timeout;
    loop {
        let answer = match http.get(url).send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                (status, response.json().await.unwrap_or(Value::Null))
            }
            Err(err) => (0, Value::String(err.to_string())),
        };
        if ready(answer.0, &answer.1) || Instant::now() >= deadline {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The first line of stderr, after checking the run failed without a panic.
pub fn failure_line(args: &[&str], env: &[(&str, &str)]) -> String {
    let output = run_to_end(args, env);
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(
        !output.status.success(),
        "{args:?} should fail; stderr: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
    stderr.lines().next().unwrap_or_default().to_string()
}

/// An HTTP client for the tests' own requests.
pub fn client() -> reqwest::Client {
    tracedojo_kit::telemetry::install_crypto_provider();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// Puts two products in the session's cart and checks out; returns the HTTP status and body.
pub async fn buy(shop: &Shop, session: &str, card: &str, baggage: &str) -> (u16, Value) {
    let http = client();
    for (product_id, quantity) in [(3, 2), (57, 1)] {
        let response = http
            .post(format!("{}/api/cart/items", shop.url))
            .header("x-session-id", session)
            .json(&json!({ "product_id": product_id, "quantity": quantity }))
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "add to cart: {}",
            response.text().await.unwrap()
        );
    }
    let response = http
        .post(format!("{}/api/checkout", shop.url))
        .header("x-session-id", session)
        .header("baggage", baggage)
        .json(
            &json!({ "card_number": card, "email": "ada@example.com", "region": "ap-northeast-1" }),
        )
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// [`buy`] with the card that is always approved.
pub async fn buy_approved(shop: &Shop, session: &str, baggage: &str) -> (u16, Value) {
    buy(shop, session, "4242424242424242", baggage).await
}

/// `up` (with `args`) exporting to a fresh OTLP receiver in this process.
pub async fn shop_with_receiver(args: &[&str]) -> (Shop, tracedojo_explorer::Receiver) {
    let receiver = tracedojo_explorer::Receiver::start_local().await.unwrap();
    let endpoint = receiver.http_endpoint();
    let shop = Shop::start_with(
        args,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ],
    );
    (shop, receiver)
}

/// Sets a fault through the control API and returns its id. The API answers once every
/// service runs the new plan (or after a second, naming those that do not yet): none may be
/// left pending.
pub async fn set_fault(shop: &Shop, spec: Value) -> u64 {
    let request = client()
        .post(format!("{}/api/faults", shop.control))
        .json(&spec);
    let body = plan_changed(request, 201).await;
    body["id"].as_u64().unwrap()
}

/// Sets a preset's faults through the control API and returns their ids; as with
/// [`set_fault`], every service runs the new plan when it returns.
pub async fn set_preset(shop: &Shop, name: &str) -> Vec<u64> {
    let request = client().post(format!("{}/api/faults/presets/{name}", shop.control));
    let body = plan_changed(request, 201).await;
    body["ids"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|id| id.as_u64().expect("an id"))
        .collect()
}

/// Clears a fault; as with [`set_fault`], every service runs the new plan when it returns.
pub async fn clear_fault(shop: &Shop, id: u64) {
    let request = client().delete(format!("{}/api/faults/{id}", shop.control));
    plan_changed(request, 200).await;
}

/// Sends a change of the fault plan, which must be answered `status` with no service left
/// pending; returns the answer's body.
async fn plan_changed(request: reqwest::RequestBuilder, status: u16) -> Value {
    let response = request.send().await.unwrap();
    let answered = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(answered, status, "{body}");
    assert_eq!(body["pending"], json!([]), "not applied everywhere: {body}");
    body
}

/// A span's duration in milliseconds.
pub fn millis(span: &tracedojo_explorer::StoredSpan) -> f64 {
    span.duration_nanos() as f64 / 1e6
}

/// The spans that `matches`, in the order they started.
pub fn in_start_order(
    spans: &[tracedojo_explorer::StoredSpan],
    matches: impl Fn(&tracedojo_explorer::StoredSpan) -> bool,
) -> Vec<tracedojo_explorer::StoredSpan> {
    let mut found: Vec<_> = spans.iter().filter(|s| matches(s)).cloned().collect();
    found.sort_by_key(|s| s.start_unix_nanos);
    found
}

/// `SERVICE  URL  PID` rows of the table `up` prints.
pub fn service_pids(shop: &Shop) -> Vec<(String, u32)> {
    shop.stdout
        .text()
        .lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                [name, url, pid] if url.starts_with("http://") => {
                    pid.parse().ok().map(|pid| (name.to_string(), pid))
                }
                _ => None,
            }
        })
        .collect()
}

/// Running, and not a zombie waiting for its parent (Linux: reads /proc).
pub fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

/// Polls the explorer at `explorer` until it holds trace `id` whole (see [`trace_is_whole`]),
/// which it must within `timeout`.
pub async fn wait_for_whole_trace(explorer: &str, id: &str, timeout: Duration) {
    let url = format!("{explorer}/api/traces/{id}");
    let (code, trace) = poll_json(&url, timeout, |code, trace| {
        code == 200 && trace_is_whole(trace)
    })
    .await;
    assert!(
        code == 200 && trace_is_whole(&trace),
        "trace {id} is not whole after {timeout:?}: {trace}"
    );
}

/// Whether an explorer API trace (`/api/traces/ID`) is whole: every span of it has its parent, and every CLIENT call that got an answer has the
/// callee's span below it: nothing is still on its way from another service's batch.
pub fn trace_is_whole(trace: &serde_json::Value) -> bool {
    let Some(spans) = trace["spans"].as_array() else {
        return false;
    };
    let parents: Vec<&str> = spans
        .iter()
        .filter_map(|s| s["parent_span_id"].as_str())
        .collect();
    !spans.is_empty()
        && spans
            .iter()
            .all(|s| s["parent_missing"] == serde_json::json!(false))
        && spans
            .iter()
            .filter(|s| {
                s["kind"] == "CLIENT" && s["attributes"].get("http.response.status_code").is_some()
            })
            .all(|s| parents.contains(&s["span_id"].as_str().unwrap_or("")))
}

/// What the browser tests need: Debian's chromium (or `CHROMIUM`) and playwright-core in
/// tests/browser.
pub struct BrowserKit {
    pub root: &'static Path,
    pub script_dir: PathBuf,
    pub chromium: String,
}

impl BrowserKit {
    /// Runs `tests/browser/SCRIPT` with node, `args` after it and Chromium named in
    /// `CHROMIUM`; asserts that it exits 0 and prints `"ok":true`, and returns what it printed.
    /// A script that starts `tracedojo` itself must not send to a backend of the developer's
    /// own, so the OTLP endpoint and vendor preset are not passed on.
    pub fn run<A: AsRef<std::ffi::OsStr>>(
        &self,
        script: &str,
        args: impl IntoIterator<Item = A>,
    ) -> String {
        let started = std::time::Instant::now();
        let output = Command::new("node")
            .arg(self.script_dir.join(script))
            .args(args)
            .env("CHROMIUM", &self.chromium)
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env_remove("TRACEDOJO_TO")
            .output()
            .expect("run node");
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{script}: {stdout}\n{stderr}");
        assert!(
            stdout.contains("\"ok\":true"),
            "{script}: {stdout}\n{stderr}"
        );
        eprintln!("{script} took {:?}: {stdout}", started.elapsed());
        stdout
    }
}

/// Asserts that `dir` holds a screenshot `NAME.png`, not empty, of each name.
pub fn assert_screenshots(dir: &Path, names: &[&str]) {
    for name in names {
        let path = dir.join(format!("{name}.png"));
        let size = std::fs::metadata(&path)
            .unwrap_or_else(|_| panic!("no screenshot {}", path.display()))
            .len();
        assert!(size > 0, "the screenshot {} is empty", path.display());
    }
}

/// The browser kit, or `None` after saying what is missing and how to install it; under CI
/// (`CI` set) a missing part fails the test instead of skipping it.
pub fn browser_kit(test: &str) -> Option<BrowserKit> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script_dir = root.join("tests/browser");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_string());
    let missing: Vec<String> = [
        (
            Path::new(&chromium).exists(),
            format!("{chromium} (apt-get install chromium)"),
        ),
        (
            script_dir.join("node_modules/playwright-core").exists(),
            "playwright-core (npm ci --prefix tests/browser)".to_string(),
        ),
    ]
    .into_iter()
    .filter(|(present, _)| !present)
    .map(|(_, what)| what)
    .collect();
    if !missing.is_empty() {
        let message = format!("{test} needs: {}", missing.join(", "));
        assert!(std::env::var_os("CI").is_none(), "{message}");
        eprintln!("SKIPPED: {message}");
        return None;
    }
    Some(BrowserKit {
        root,
        script_dir,
        chromium,
    })
}
