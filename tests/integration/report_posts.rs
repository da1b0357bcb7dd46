//! `tracedojo report` posting where a team works, against a real `tracedojo explore` fed over
//! OTLP/HTTP and a local receiver standing in for the chat webhook and the ticket tracker:
//!
//! - the chat message is Slack's incoming-webhook JSON and the ticket Jira's create-issue JSON,
//!   with the tracker's `Authorization` header from the environment;
//! - a webhook that answers 500 is tried three times, the failure is said (without the
//!   webhook's secret path), and the next round posts it again;
//! - `--every` posts only what is new: an endpoint that starts failing between rounds is posted
//!   alone (one ticket), and a round with nothing new posts nothing;
//! - bad input: a malformed objectives file, an unreachable explorer, an unknown trace — one
//!   clear line each, exit 1, no panic.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};

use crate::support::otlp_json::{now_nanos, traces_body};
use crate::support::{BIN, ExplorerProcess, failure_line, temp_dir};

/// What the receiver got: the path, the body and the Authorization header of each request.
type Received = Arc<Mutex<Vec<(String, Value, Option<String>)>>>;

#[derive(Clone)]
struct Receiver {
    received: Received,
    /// Requests answered 500 before the receiver starts taking them.
    failures_left: Arc<AtomicUsize>,
}

/// A local receiver on a free port: `POST /hooks/{secret}` (the chat webhook) and
/// `POST /rest/api/2/issue` (the ticket tracker). Returns its base URL.
async fn start_receiver(fail_first: usize) -> (String, Received) {
    let receiver = Receiver {
        received: Received::default(),
        failures_left: Arc::new(AtomicUsize::new(fail_first)),
    };
    async fn take(
        State(r): State<Receiver>,
        path: Option<Path<String>>,
        headers: HeaderMap,
        body: axum::Json<Value>,
    ) -> (StatusCode, &'static str) {
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let kind = if path.is_some() { "chat" } else { "ticket" };
        r.received
            .lock()
            .unwrap()
            .push((kind.to_owned(), body.0, auth));
        let failing = r
            .failures_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            (StatusCode::INTERNAL_SERVER_ERROR, "down for maintenance")
        } else {
            (StatusCode::OK, "ok")
        }
    }
    let app = Router::new()
        .route("/hooks/{secret}", post(take))
        .route("/rest/api/2/issue", post(take))
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), receiver.received)
}

/// `count` requests to `operation` of service `api`, each its own trace, `failing` of them
/// with status ERROR, as OTLP/HTTP JSON.
fn requests(operation: &str, count: usize, failing: usize, seed: u8) -> Value {
    let now = now_nanos();
    let spans: Vec<Value> = (0..count)
        .map(|n| {
            let trace = format!("{seed:02x}{n:030x}");
            let mut span = json!({
                "traceId": trace, "spanId": format!("{seed:02x}{n:014x}"),
                "name": operation, "kind": 2,
                "startTimeUnixNano": (now - 20_000_000 - n as u128 * 1_000_000).to_string(),
                "endTimeUnixNano": (now - n as u128 * 1_000_000).to_string(),
                "attributes": [{"key": "http.route", "value": {"stringValue": operation}}]
            });
            if n < failing {
                span["status"] = json!({"code": 2, "message": "boom"});
            }
            span
        })
        .collect();
    traces_body("api", "report-posts-test", spans)
}

/// The bodies of requests of `kind` answered 200 so far are the ones after the failures;
/// this returns every body of the kind, failures included.
fn bodies(received: &Received, kind: &str) -> Vec<Value> {
    received
        .lock()
        .unwrap()
        .iter()
        .filter(|(k, _, _)| k == kind)
        .map(|(_, body, _)| body.clone())
        .collect()
}

async fn wait_until(what: &str, timeout: Duration, ready: impl Fn() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(
            started.elapsed() < timeout,
            "{what}: not within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_say_only_what_is_new_and_survive_a_failing_webhook() {
    let explorer = ExplorerProcess::start(&[]);
    let dir = temp_dir("report-posts");
    let objectives = dir.join("objectives.toml");
    std::fs::write(
        &objectives,
        "[[objective]]\nservice = \"api\"\nsuccess = 0.99\n",
    )
    .unwrap();
    let output = dir.join("report.json");
    // The webhook fails three times: all of round one's tries.
    let (receiver, received) = start_receiver(3).await;
    explorer.send_traces(&requests("GET /a", 30, 10, 1)).await;

    let webhook = format!("{receiver}/hooks/T000-SECRET");
    let mut child = tokio::process::Command::new(BIN)
        .args(["report", "--explorer", &explorer.ui])
        .arg("--objectives")
        .arg(&objectives)
        .args(["--long", "10m", "--short", "1m", "--min-requests", "5"])
        .args(["--every", "10s", "--rounds", "3", "--format", "json"])
        .arg("--output")
        .arg(&output)
        .args(["--webhook-url", &webhook])
        .args(["--ticket-url", &format!("{receiver}/rest/api/2/issue")])
        .args(["--ticket-project", "SHOP", "--lang", "en"])
        .env("TRACEDOJO_TICKET_AUTHORIZATION", "Basic dGVzdDp0ZXN0")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("tracedojo report");

    // Round one: the chat message fails three times; the ticket for GET /a is filed.
    wait_until("round one's ticket", Duration::from_secs(60), || {
        !bodies(&received, "ticket").is_empty()
    })
    .await;
    assert_eq!(
        bodies(&received, "chat").len(),
        3,
        "three tries of the chat message"
    );
    // Before round two: GET /b starts failing.
    explorer.send_traces(&requests("GET /b", 30, 10, 2)).await;

    let status = tokio::time::timeout(Duration::from_secs(90), child.wait())
        .await
        .expect("three rounds within 90 s")
        .unwrap();
    let mut stderr = String::new();
    tokio::io::AsyncReadExt::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr)
        .await
        .unwrap();
    assert!(status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "answered 500 3 times; the chat message was not posted: down for maintenance"
        ),
        "{stderr}"
    );
    assert!(
        !stderr.contains("SECRET"),
        "the webhook's path is a secret: {stderr}"
    );
    assert!(!stderr.contains("dGVzdDp0ZXN0"), "{stderr}");

    // Round two posted the chat message once, with both endpoints (GET /a was never posted);
    // round three had nothing new.
    let chats = bodies(&received, "chat");
    assert_eq!(
        chats.len(),
        4,
        "three failed tries and one post: {chats:#?}"
    );
    let message = &chats[3];
    let text = message["text"].as_str().expect("text");
    assert!(
        text.contains("api GET /a") && text.contains("api GET /b"),
        "{text}"
    );
    assert_eq!(message["blocks"][0]["type"], "header", "{message:#}");
    assert!(
        message["blocks"].as_array().unwrap().len() >= 4,
        "{message:#}"
    );

    // One ticket per endpoint, each once.
    let tickets = bodies(&received, "ticket");
    assert_eq!(tickets.len(), 2, "{tickets:#?}");
    let summaries: Vec<&str> = tickets
        .iter()
        .map(|t| t["fields"]["summary"].as_str().unwrap())
        .collect();
    assert!(
        summaries[0].starts_with("[SLO] api GET /a: success ≥ 99%: objective missed"),
        "{summaries:?}"
    );
    assert!(
        summaries[1].starts_with("[SLO] api GET /b: "),
        "{summaries:?}"
    );
    for ticket in &tickets {
        let fields = &ticket["fields"];
        assert_eq!(fields["project"]["key"], "SHOP");
        assert_eq!(fields["issuetype"]["name"], "Task");
        assert!(
            fields["description"]
                .as_str()
                .unwrap()
                .contains("| success ≥ 99% |")
        );
        assert_eq!(fields["labels"][0], "tracedojo");
    }
    let auth: Vec<Option<String>> = received
        .lock()
        .unwrap()
        .iter()
        .filter(|(k, _, _)| k == "ticket")
        .map(|(_, _, a)| a.clone())
        .collect();
    assert!(
        auth.iter()
            .all(|a| a.as_deref() == Some("Basic dGVzdDp0ZXN0"))
    );

    // The last round's report is in the file.
    let last: Value = serde_json::from_str(&std::fs::read_to_string(&output).unwrap()).unwrap();
    assert_eq!(last["needs_work"].as_array().unwrap().len(), 2, "{last:#}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_input_is_one_clear_line() {
    let dir = temp_dir("report-bad-input");
    let objectives = dir.join("slos.toml");
    std::fs::write(
        &objectives,
        "[[objective]]\nservice = \"api\"\nsuccess = 99.5\n",
    )
    .unwrap();
    let path = objectives.to_str().unwrap();
    let line = failure_line(&["report", "--objectives", path], &[]);
    assert!(
        line.contains("slos.toml:3: success: 99.5 is not a share between 0 and 1"),
        "{line}"
    );
    assert!(line.contains("write 0.995"), "{line}");

    // Nobody listens on a port just closed.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let explorer = format!("http://{closed}");
    let line = failure_line(&["report", "--explorer", &explorer], &[]);
    assert!(
        line.contains(&format!("cannot reach the explorer at {explorer}/api/red")),
        "{line}"
    );
    assert!(
        line.contains("Is `tracedojo up` (or `tracedojo explore`) running?"),
        "{line}"
    );

    let line = failure_line(&["report", "--long", "5m", "--short", "10m"], &[]);
    assert!(
        line.contains("--short (600 s) must be shorter than --long (300 s)"),
        "{line}"
    );

    let line = failure_line(&["explain", "not-a-trace"], &[]);
    assert!(line.contains("\"not-a-trace\" is not a trace id"), "{line}");

    let running = ExplorerProcess::start(&[]);
    let line = failure_line(
        &[
            "explain",
            "0123456789abcdef0123456789abcdef",
            "--explorer",
            &running.ui,
        ],
        &[],
    );
    assert!(line.contains("answered 404"), "{line}");
    assert!(
        line.contains("no trace 0123456789abcdef0123456789abcdef is stored"),
        "{line}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
