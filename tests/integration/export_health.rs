//! Export health under `tracedojo up` with a backend of the user's own: the explorer's
//! `/api/status` sums what the services say of their exports (spans sent and lost, whether
//! the last export failed, the failure in words), `up` says once on stderr when exports start
//! failing and once when they work again, and the explorer's header shows a badge for the
//! backend. The backend is a real OTLP receiver, stopped and started again on the same port;
//! in the browser, also a port nothing listens on and a backend that answers with markup.
//! Written against `explorer/API.md`.
//!
//! The browser test drives Debian's Chromium with playwright-core (`tests/browser/exports.mjs`)
//! and saves its screenshots in `tests/artifacts/exports/`. It needs `/usr/bin/chromium` and
//! `npm ci --prefix tests/browser` (`.ci/run` does both); without them it says so and passes,
//! except under CI (`CI` set), where it fails.

use crate::support;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::{Shop, client, poll_json};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracedojo_explorer::{Receiver, ReceiverConfig};

/// Guards against a hang only: a span batch leaves every 100 ms in tests and `up` asks each
/// service for its health every 2 s, so a change shows within seconds on an idle machine.
const CHANGE: Duration = Duration::from_secs(60);

const WARNING: &str = "warning: exports to the backend fail";
const RECOVERED: &str = "exports to the backend work again";

/// A little shopping: a few pages and API calls, each of which must succeed whatever the
/// backend does.
async fn browse(shop: &Shop) {
    let http = client();
    for path in ["/", "/products/3", "/api/products", "/api/categories"] {
        let response = http
            .get(format!("{}{path}", shop.url))
            .header("x-session-id", "export-health")
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        assert!(
            response.status().is_success(),
            "GET {path} answered {} while the backend is as it is",
            response.status()
        );
    }
}

/// The explorer's `/api/status`.
async fn status(explorer: &str) -> Value {
    let url = format!("{explorer}/api/status");
    let (code, body) = poll_json(&url, Duration::ZERO, |_, _| true).await;
    assert_eq!(code, 200, "GET {url}: {body}");
    body
}

/// Shops a little and reads `/api/status` until its first export destination satisfies
/// `ready` or [`CHANGE`] passes; returns that destination either way, for the caller's
/// assertion (with the whole status in its message).
async fn shop_until(shop: &Shop, explorer: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + CHANGE;
    loop {
        browse(shop).await;
        let body = status(explorer).await;
        let destination = body["exports"][0].clone();
        if ready(&destination) || Instant::now() >= deadline {
            return destination;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn count(destination: &Value, key: &str) -> u64 {
    destination[key].as_u64().unwrap_or(0)
}

fn failure(destination: &Value) -> &str {
    destination["last_failure"].as_str().unwrap_or_default()
}

/// `up` exporting its spans to `endpoint` over OTLP/HTTP, with its explorer's URL.
fn shop_exporting_to(endpoint: &str) -> (Shop, String) {
    let shop = Shop::start(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
    ]);
    let explorer = shop
        .explorer
        .clone()
        .unwrap_or_else(|| panic!("no Explorer: line:\n{}", shop.stdout.text()));
    (shop, explorer)
}

/// A receiver listening for OTLP/HTTP on `http_addr` (gRPC on a free port). Binding again a
/// port that was just closed may need a moment; anything else is an error at once.
async fn receiver_at(http_addr: SocketAddr) -> Receiver {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let config = ReceiverConfig {
            http_addr,
            ..ReceiverConfig::local()
        };
        match Receiver::start(config).await {
            Ok(receiver) => return receiver,
            Err(err @ tracedojo_explorer::ReceiverError::PortInUse { .. })
                if Instant::now() < deadline =>
            {
                eprintln!("{err}; trying again");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(err) => panic!("cannot listen on {http_addr} again: {err}"),
        }
    }
}

/// Waits (bounded) for a stderr line of `up` containing `needle`.
fn stderr_line(shop: &Shop, needle: &str) -> String {
    tokio::task::block_in_place(|| shop.stderr.wait_for(needle, CHANGE))
        .unwrap_or_else(|e| panic!("{e}\nstdout:\n{}", shop.stdout.text()))
}

fn lines_with(shop: &Shop, needle: &str) -> Vec<String> {
    shop.stderr
        .text()
        .lines()
        .filter(|line| line.contains(needle))
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_that_stops_and_comes_back_is_shown_failing_then_working_again() {
    let receiver = Receiver::start_local().await.unwrap();
    let http_addr = receiver.http_addr();
    let (shop, explorer) = shop_exporting_to(&receiver.http_endpoint());

    // Working: spans reach the backend and the explorer says so.
    let working = shop_until(&shop, &explorer, |d| {
        count(d, "spans_sent") > 0 && d["failing"] == json!(false)
    })
    .await;
    assert!(
        count(&working, "spans_sent") > 0 && working["failing"] == json!(false),
        "exports to a working backend are not shown as working: {}",
        status(&explorer).await
    );
    let destination = working["destination"].as_str().unwrap_or_default();
    assert!(
        destination.contains(&http_addr.to_string()),
        "the destination {destination:?} does not name the backend at {http_addr}"
    );
    assert_eq!(count(&working, "spans_lost"), 0, "{working}");
    assert!(
        receiver.store().span_count() > 0,
        "the backend has no spans"
    );
    assert!(
        lines_with(&shop, WARNING).is_empty(),
        "{}",
        shop.stderr.text()
    );

    // The backend stops: exports fail, the shop keeps serving, `up` warns once.
    receiver.shutdown().await.unwrap();
    let failing = shop_until(&shop, &explorer, |d| {
        d["failing"] == json!(true)
            && failure(d).contains("connection refused")
            && count(d, "spans_lost") > 0
    })
    .await;
    assert!(
        failing["failing"] == json!(true)
            && failure(&failing).contains("connection refused")
            && count(&failing, "spans_lost") > 0,
        "a stopped backend is not shown as refusing connections: {}",
        status(&explorer).await
    );
    assert_eq!(
        failing["last_failure_kind"], "connection refused",
        "{failing}"
    );
    assert!(
        failure(&failing).contains(&http_addr.to_string()),
        "the failure does not name the address: {failing}"
    );
    assert!(
        failing["last_failure_unix_ms"].as_u64().unwrap_or(0) > 0,
        "{failing}"
    );
    let warning = stderr_line(&shop, WARNING);
    assert!(
        warning.contains("connection refused") && warning.contains("the shop keeps serving"),
        "{warning}"
    );

    // The backend is back on the same port: exports work again, and `up` says so.
    let receiver = receiver_at(http_addr).await;
    let recovered = shop_until(&shop, &explorer, |d| {
        d["failing"] == json!(false) && count(d, "spans_sent") > count(&failing, "spans_sent")
    })
    .await;
    assert!(
        recovered["failing"] == json!(false)
            && count(&recovered, "spans_sent") > count(&failing, "spans_sent"),
        "exports to the restarted backend are not shown as working: {}",
        status(&explorer).await
    );
    assert!(
        count(&recovered, "spans_lost") >= count(&failing, "spans_lost"),
        "spans lost while the backend was away are forgotten: {recovered}"
    );
    let again = stderr_line(&shop, RECOVERED);
    eprintln!("up said:\n{warning}\n{again}");
    assert!(again.contains("spans lost meanwhile"), "{again}");
    assert!(
        receiver.store().span_count() > 0,
        "the restarted backend got no spans"
    );
    let warnings = lines_with(&shop, WARNING);
    assert_eq!(
        warnings.len(),
        1,
        "the failure is warned about once, not {} times:\n{}",
        warnings.len(),
        shop.stderr.text()
    );
    drop(shop);
    receiver.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_backend_the_explorer_reports_no_export_destination() {
    let shop = Shop::start(&[]);
    let explorer = shop.explorer.clone().expect("the explorer runs by default");
    browse(&shop).await;
    // Once the explorer has the shop's spans, the services have exported and `up` has had
    // the chance to look at them.
    let url = format!("{explorer}/api/status");
    let (code, body) = poll_json(&url, CHANGE, |code, body| {
        code == 200 && body["spans_received"].as_u64().unwrap_or(0) > 0
    })
    .await;
    assert_eq!(code, 200, "GET {url}: {body}");
    assert!(body["spans_received"].as_u64().unwrap_or(0) > 0, "{body}");
    assert_eq!(body["exports"], json!([]), "{body}");
    assert!(
        lines_with(&shop, WARNING).is_empty(),
        "{}",
        shop.stderr.text()
    );
}

// ---------------------------------------------------------------- the header, in a browser

/// Markup a backend answers with, to be shown as text and never run.
const MARKUP: &str = "<img src=x onerror=alert(1)><b>no</b>";

/// An OTLP/HTTP "backend" that answers every request 400 with [`MARKUP`] as an HTML body.
struct MarkupBackend {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl MarkupBackend {
    async fn start() -> MarkupBackend {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(answer_with_markup(stream));
            }
        });
        MarkupBackend { addr, task }
    }

    /// Stops listening and frees the port.
    async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

/// Reads one request (headers and a `content-length` body) and answers 400, then closes.
async fn answer_with_markup(mut stream: tokio::net::TcpStream) {
    let mut request = Vec::new();
    let mut buffer = [0u8; 8192];
    let body_start = loop {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buffer[..n]),
        }
        if let Some(at) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&request[..body_start]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0);
    while request.len() < body_start + length {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buffer[..n]),
        }
    }
    let response = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{MARKUP}",
        MARKUP.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// Runs `exports.mjs` against the explorer's UI, expecting `mode`.
fn browser_check(browser: &support::BrowserKit, ui: &str, artifacts: &Path, mode: &str) {
    browser.run(
        "exports.mjs",
        [ui.as_ref(), artifacts.as_os_str(), mode.as_ref()],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_explorer_header_shows_a_failing_then_a_working_backend() {
    let Some(browser) = support::browser_kit("export health browser test") else {
        return;
    };
    let artifacts = browser.root.join("tests/artifacts/exports");
    let _ = std::fs::remove_dir_all(&artifacts);

    // Nothing listens at the backend's address.
    {
        let (shop, explorer) = shop_exporting_to("http://127.0.0.1:9");
        let refused = shop_until(&shop, &explorer, |d| {
            d["failing"] == json!(true) && failure(d).contains("connection refused")
        })
        .await;
        assert!(
            failure(&refused).contains("connection refused: nothing listens at 127.0.0.1:9"),
            "{}",
            status(&explorer).await
        );
        browser_check(&browser, &explorer, &artifacts, "refused");
    }

    // A backend that answers with markup, then a working one on the same port.
    let backend = MarkupBackend::start().await;
    let http_addr = backend.addr;
    let (shop, explorer) = shop_exporting_to(&format!("http://{http_addr}"));
    let refused = shop_until(&shop, &explorer, |d| {
        d["failing"] == json!(true) && failure(d).contains(MARKUP)
    })
    .await;
    assert!(
        refused["last_failure_kind"] == "refused" && failure(&refused).contains(MARKUP),
        "the backend's answer is not the failure: {}",
        status(&explorer).await
    );
    browser_check(&browser, &explorer, &artifacts, "markup");

    backend.stop().await;
    let receiver = receiver_at(http_addr).await;
    let working = shop_until(&shop, &explorer, |d| {
        d["failing"] == json!(false) && count(d, "spans_sent") > 0
    })
    .await;
    assert!(
        working["failing"] == json!(false) && count(&working, "spans_sent") > 0,
        "{}",
        status(&explorer).await
    );
    browser_check(&browser, &explorer, &artifacts, "working");

    for shot in ["1-refused", "2-markup", "3-working"] {
        let path = artifacts.join(format!("{shot}.png"));
        let size = std::fs::metadata(&path)
            .unwrap_or_else(|_| panic!("no screenshot {shot}"))
            .len();
        assert!(size > 0, "the screenshot {shot} is empty");
    }
    drop(shop);
    receiver.shutdown().await.unwrap();
}
