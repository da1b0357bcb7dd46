//! The shipping API over real HTTP, and the worker end to end: a message published on a
//! temporary queue becomes a shipment that `GET /shipments` shows.

use std::error::Error;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tracedojo_kit::Db;
use tracedojo_kit::queue::Queue;
use tracedojo_kit::server::{self, ServerOptions};

use crate::worker::TOPIC;
use crate::{Config, router, run};

type TestResult = Result<(), Box<dyn Error>>;

/// How long the worker gets to do something before the test fails.
const PATIENCE: Duration = Duration::from_secs(5);
const POLL_EVERY: Duration = Duration::from_millis(25);

/// Deletes a test's database files when the test ends, passed or not.
struct TempFiles(Vec<PathBuf>);

impl Drop for TempFiles {
    fn drop(&mut self) {
        for path in &self.0 {
            for suffix in ["", "-wal", "-shm"] {
                let mut name = path.clone().into_os_string();
                name.push(suffix);
                let _ = std::fs::remove_file(name);
            }
        }
    }
}

/// A database URL per name, in files unique to this test run.
fn temp_databases(test: &str, names: &[&str]) -> Result<(Vec<String>, TempFiles), Box<dyn Error>> {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos();
    let stem = format!("tracedojo-shipping-{test}-{}-{nanos}", std::process::id());
    let paths: Vec<PathBuf> = names
        .iter()
        .map(|name| std::env::temp_dir().join(format!("{stem}-{name}.db")))
        .collect();
    let urls = paths
        .iter()
        .map(|path| format!("sqlite://{}", path.display()))
        .collect();
    Ok((urls, TempFiles(paths)))
}

/// Calls `check` every [`POLL_EVERY`] until it gives a value, for at most [`PATIENCE`].
async fn eventually<T>(
    what: &str,
    mut check: impl AsyncFnMut() -> Result<Option<T>, Box<dyn Error>>,
) -> Result<T, Box<dyn Error>> {
    let mut tick = tokio::time::interval(POLL_EVERY);
    let waited = tokio::time::timeout(PATIENCE, async {
        loop {
            tick.tick().await;
            if let Some(value) = check().await? {
                return Ok::<T, Box<dyn Error>>(value);
            }
        }
    })
    .await;
    waited.map_err(|_| format!("gave up after {PATIENCE:?} waiting for {what}"))?
}

/// A plain-HTTP client. reqwest needs a TLS crypto provider even for plain HTTP.
fn http_client() -> reqwest::Client {
    tracedojo_kit::telemetry::install_crypto_provider();
    reqwest::Client::new()
}

async fn get_shipment(base_url: &str, order_id: i64) -> Result<Option<Value>, Box<dyn Error>> {
    let response = http_client()
        .get(format!("{base_url}/shipments?order_id={order_id}"))
        .send()
        .await?;
    match response.status() {
        StatusCode::OK => {
            let body: Value = response.json().await?;
            Ok(body["shipments"]
                .as_array()
                .and_then(|s| s.first())
                .cloned())
        }
        other => Err(format!("GET /shipments answered {other}").into()),
    }
}

fn order_created(order_id: i64, region: &str) -> Value {
    json!({
        "order_id": order_id,
        "session_id": "sess_test",
        "region": region,
        "items": [{"product_id": 1, "quantity": 2}],
        "total_cents": 2000,
    })
}

#[tokio::test]
async fn published_orders_are_shipped_once_even_when_delivered_twice() -> TestResult {
    let (urls, _files) = temp_databases("worker", &["shipping", "queue"])?;
    let config = Config {
        database_url: urls[0].clone(),
        queue_url: urls[1].clone(),
        retention: Default::default(),
    };
    let queue = Queue::open(&config.queue_url).await?;
    queue
        .publish(TOPIC, &order_created(42, "ap-northeast-1"))
        .await?;

    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let base_url = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = oneshot::channel::<()>();
    let service = tokio::spawn(run(
        config,
        listener,
        ServerOptions::new("shipping"),
        async move {
            let _ = stopped.await;
        },
    ));

    let shipment = eventually("the shipment of order 42", async || {
        get_shipment(&base_url, 42).await
    })
    .await?;
    assert_eq!(shipment["order_id"], 42);
    assert_eq!(shipment["status"], "label_created");
    assert_eq!(shipment["carrier"], "Yamato Transport");
    assert_eq!(shipment["tracking_number"], "YT0000000042");

    // At-least-once delivery: the same order again, and a message no retry could fix, then
    // a good one behind them to prove the worker kept going.
    queue
        .publish(TOPIC, &order_created(42, "ap-northeast-1"))
        .await?;
    queue.publish(TOPIC, &json!({ "not": "an order" })).await?;
    queue
        .publish(TOPIC, &order_created(43, "eu-west-1"))
        .await?;
    let next = eventually("the shipment of order 43", async || {
        get_shipment(&base_url, 43).await
    })
    .await?;
    assert_eq!(next["carrier"], "An Post");
    eventually("an empty queue", async || {
        Ok((queue.depth(TOPIC).await? == 0).then_some(()))
    })
    .await?;
    assert_eq!(get_shipment(&base_url, 42).await?, Some(shipment));

    let _ = stop.send(());
    let finished = tokio::time::timeout(PATIENCE, service).await?;
    finished??;
    Ok(())
}

#[tokio::test]
async fn quotes_and_lookups_validate_their_input() -> TestResult {
    let (urls, _files) = temp_databases("api", &["shipping"])?;
    let db = Db::open(&urls[0], "shipping", &crate::MIGRATIONS).await?;
    let app = server::instrument(router(db), ServerOptions::new("shipping"));
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let base_url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = server::serve(listener, app, std::future::pending()).await;
    });
    let client = http_client();
    let quote = async |body: Value| -> Result<(StatusCode, Value), Box<dyn Error>> {
        let response = client
            .post(format!("{base_url}/quotes"))
            .json(&body)
            .send()
            .await?;
        Ok((response.status(), response.json().await?))
    };

    let (status, small) = quote(json!({
        "region": "eu-west-1",
        "items": [{"product_id": 1, "quantity": 1}],
    }))
    .await?;
    assert_eq!(status, StatusCode::OK, "{small}");
    assert_eq!(small["carrier"], "An Post");
    let (_, large) = quote(json!({
        "region": "eu-west-1",
        "items": [{"product_id": 1, "quantity": 20}, {"product_id": 2, "quantity": 5}],
    }))
    .await?;
    assert!(large["cost_cents"].as_i64() > small["cost_cents"].as_i64());

    let invalid = [
        (
            "region",
            json!({ "region": "moon-1", "items": [{"product_id": 1, "quantity": 1}] }),
        ),
        (
            "region",
            json!({ "items": [{"product_id": 1, "quantity": 1}] }),
        ),
        ("items", json!({ "region": "eu-west-1", "items": [] })),
        (
            "quantity",
            json!({ "region": "eu-west-1", "items": [{"product_id": 1, "quantity": 0}] }),
        ),
    ];
    for (field, body) in invalid {
        let (status, answer) = quote(body).await?;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}: {answer}");
        let message = answer["message"].as_str().unwrap_or_default();
        assert!(message.contains(field), "{field}: {message}");
    }

    assert_eq!(get_shipment(&base_url, 7).await?, None);
    for query in ["", "?order_id=abc", "?order_id=-1"] {
        let response = client
            .get(format!("{base_url}/shipments{query}"))
            .send()
            .await?;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
    }
    Ok(())
}
