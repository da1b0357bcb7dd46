//! The shipping API over real HTTP, and the worker end to end: a message published on a
//! temporary queue becomes a shipment that `GET /shipments` shows. Every test runs once per
//! database engine (SQLite always, PostgreSQL when the machine offers one: see
//! `tracedojo_kit::testing::TestDb`), with the same assertions; their messages name the engine.

use std::error::Error;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tracedojo_kit::Db;
use tracedojo_kit::queue::Queue;
use tracedojo_kit::server::{self, ServerOptions};
use tracedojo_kit::testing::TestDb;

use crate::worker::TOPIC;
use crate::{Config, router, run};

type TestResult = Result<(), Box<dyn Error>>;

/// How often a test looks again for what the worker should have done.
const POLL_EVERY: Duration = Duration::from_millis(25);

/// How long a test waits for the worker before it calls the worker stuck: far beyond what a
/// busy machine needs (milliseconds), only so that a broken worker fails the test instead of
/// hanging the whole run. Not a speed requirement.
const STUCK_AFTER: Duration = Duration::from_secs(120);

/// Calls `check` every [`POLL_EVERY`] until it gives a value, or fails after
/// [`STUCK_AFTER`].
async fn eventually<T>(
    mut check: impl AsyncFnMut() -> Result<Option<T>, Box<dyn Error>>,
) -> Result<T, Box<dyn Error>> {
    let stuck = tokio::time::Instant::now() + STUCK_AFTER;
    let mut tick = tokio::time::interval(POLL_EVERY);
    loop {
        tick.tick().await;
        if let Some(value) = check().await? {
            return Ok(value);
        }
        if tokio::time::Instant::now() > stuck {
            return Err(format!("the worker did nothing for {STUCK_AFTER:?}: stuck").into());
        }
    }
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
    for test_db in TestDb::each("shipping-worker").await {
        let engine = test_db.engine();
        // Two databases on SQLite (two files); on PostgreSQL one, with the queue in a schema of
        // its own, as a shop on PostgreSQL runs.
        let config = Config {
            database_url: test_db.url("shipping"),
            queue_url: test_db.url("queue"),
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

        let shipment = eventually(async || get_shipment(&base_url, 42).await).await?;
        assert_eq!(shipment["order_id"], 42, "{engine:?}");
        assert_eq!(shipment["status"], "label_created", "{engine:?}");
        assert_eq!(shipment["carrier"], "Yamato Transport", "{engine:?}");
        assert_eq!(shipment["tracking_number"], "YT0000000042", "{engine:?}");

        // At-least-once delivery: the same order again, and a message no retry could fix, then
        // a good one behind them to prove the worker kept going.
        queue
            .publish(TOPIC, &order_created(42, "ap-northeast-1"))
            .await?;
        queue.publish(TOPIC, &json!({ "not": "an order" })).await?;
        queue
            .publish(TOPIC, &order_created(43, "eu-west-1"))
            .await?;
        let next = eventually(async || get_shipment(&base_url, 43).await).await?;
        assert_eq!(next["carrier"], "An Post", "{engine:?}");
        eventually(async || Ok((queue.depth(TOPIC).await? == 0).then_some(()))).await?;
        assert_eq!(
            get_shipment(&base_url, 42).await?,
            Some(shipment),
            "{engine:?}"
        );

        let _ = stop.send(());
        tokio::time::timeout(STUCK_AFTER, service)
            .await
            .map_err(|_| "the service did not stop")???;
    }
    Ok(())
}

#[tokio::test]
async fn quotes_and_lookups_validate_their_input() -> TestResult {
    for test_db in TestDb::each("shipping-api").await {
        let engine = test_db.engine();
        let db = Db::open(&test_db.url("shipping"), "shipping", &crate::MIGRATIONS).await?;
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
        assert_eq!(status, StatusCode::OK, "{engine:?}: {small}");
        assert_eq!(small["carrier"], "An Post", "{engine:?}");
        let (_, large) = quote(json!({
            "region": "eu-west-1",
            "items": [{"product_id": 1, "quantity": 20}, {"product_id": 2, "quantity": 5}],
        }))
        .await?;
        assert!(
            large["cost_cents"].as_i64() > small["cost_cents"].as_i64(),
            "{engine:?}: {large} after {small}"
        );

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
            assert_eq!(
                status,
                StatusCode::BAD_REQUEST,
                "{engine:?}: {field}: {answer}"
            );
            let message = answer["message"].as_str().unwrap_or_default();
            assert!(message.contains(field), "{engine:?}: {field}: {message}");
        }

        assert_eq!(get_shipment(&base_url, 7).await?, None, "{engine:?}");
        for query in ["", "?order_id=abc", "?order_id=-1"] {
            let response = client
                .get(format!("{base_url}/shipments{query}"))
                .send()
                .await?;
            assert_eq!(
                response.status(),
                StatusCode::BAD_REQUEST,
                "{engine:?}: {query}"
            );
        }
    }
    Ok(())
}
