//! Checkout against tiny stand-ins of the five services it calls, each counting its calls.
//! Every test runs once per database engine (SQLite always, PostgreSQL when the machine offers
//! one: see `tracedojo_kit::testing::TestDb`), with the same assertions; their messages name
//! the engine.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tracedojo_kit::Db;
use tracedojo_kit::db::Engine;
use tracedojo_kit::outbox::Outbox;
use tracedojo_kit::queue::Queue;
use tracedojo_kit::server::{self, ServerOptions};
use tracedojo_kit::testing::TestDb;

use crate::clients::Clients;
use crate::orders::ORDER_CREATED;
use crate::{CheckoutState, Config, router};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// How the stubs behave in one test.
#[derive(Debug, Clone, Copy, Default)]
struct Scenario {
    cart_empty: bool,
    decline_payment: bool,
}

/// Calls received by the stubs, by `"{METHOD} {concrete path}"`.
#[derive(Debug, Default)]
struct Calls {
    counts: Mutex<HashMap<String, usize>>,
    charged_cents: Mutex<Vec<i64>>,
}

impl Calls {
    fn hit(&self, call: String) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        *counts.entry(call).or_default() += 1;
    }

    fn count(&self, call: &str) -> usize {
        let counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        counts.get(call).copied().unwrap_or(0)
    }
}

#[derive(Clone)]
struct Stub {
    calls: Arc<Calls>,
    scenario: Scenario,
}

const SESSION: &str = "sess_test";
const RESERVATION: &str = "res_test";

/// The cart holds product 1 at a price the catalog has since raised, and product 2.
async fn cart_get(State(stub): State<Stub>, Path(session_id): Path<String>) -> Json<Value> {
    stub.calls.hit(format!("GET /carts/{session_id}"));
    let items = if stub.scenario.cart_empty {
        json!([])
    } else {
        json!([
            {"product_id": 1, "name": "Pan", "quantity": 2, "unit_price_cents": 900},
            {"product_id": 2, "name": "Pot", "quantity": 1, "unit_price_cents": 2000},
        ])
    };
    Json(json!({ "session_id": session_id, "items": items, "total_cents": 3800 }))
}

async fn cart_delete(State(stub): State<Stub>, Path(session_id): Path<String>) -> Json<Value> {
    stub.calls.hit(format!("DELETE /carts/{session_id}"));
    Json(json!({ "session_id": session_id, "items": [], "total_cents": 0 }))
}

/// Every product costs 1000 cents times its id.
async fn catalog_products(
    State(stub): State<Stub>,
    Query(query): Query<HashMap<String, String>>,
) -> Json<Value> {
    stub.calls.hit("GET /products".into());
    let products: Vec<Value> = query
        .get("ids")
        .map(String::as_str)
        .unwrap_or_default()
        .split(',')
        .filter_map(|id| id.parse::<i64>().ok())
        .map(|id| {
            json!({
                "id": id, "sku": format!("KIT-{id:04}"), "name": format!("Product {id}"),
                "description": "", "category": "kitchen", "price_cents": 1000 * id,
                "currency": "USD", "image": "🍳",
            })
        })
        .collect();
    let total = products.len();
    Json(json!({ "products": products, "total": total }))
}

async fn inventory_reserve(
    State(stub): State<Stub>,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    stub.calls.hit("POST /reservations".into());
    let answer = json!({
        "reservation_id": RESERVATION,
        "order_ref": body["order_ref"],
        "items": body["items"],
    });
    (StatusCode::CREATED, Json(answer))
}

async fn inventory_release(State(stub): State<Stub>, Path(id): Path<String>) -> Json<Value> {
    stub.calls.hit(format!("POST /reservations/{id}/release"));
    Json(json!({ "reservation_id": id, "status": "released" }))
}

async fn payment_authorize(
    State(stub): State<Stub>,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    stub.calls.hit("POST /payments".into());
    if let Some(amount) = body["amount_cents"].as_i64() {
        let mut charged = stub
            .calls
            .charged_cents
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        charged.push(amount);
    }
    if stub.scenario.decline_payment {
        let answer =
            json!({ "error": "payment_declined", "message": "payment declined: card_declined" });
        return (StatusCode::PAYMENT_REQUIRED, Json(answer));
    }
    let answer = json!({
        "payment_id": "pay_test", "status": "approved",
        "amount_cents": body["amount_cents"], "currency": "USD",
    });
    (StatusCode::CREATED, Json(answer))
}

async fn shipping_quote(State(stub): State<Stub>) -> Json<Value> {
    stub.calls.hit("POST /quotes".into());
    Json(json!({ "carrier": "An Post", "cost_cents": 499, "estimated_days": 3 }))
}

/// Serves `app` on a free port and gives its base URL.
async fn spawn(app: Router) -> Result<String, std::io::Error> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(url)
}

/// A running checkout wired to fresh stubs, with its orders and queue on one test database.
struct Harness {
    base_url: String,
    calls: Arc<Calls>,
    db: Db,
    outbox: Outbox,
    queue_url: String,
    /// The engine under test, for assertion messages.
    engine: Engine,
}

/// Starts checkout on `test_db`, its stubs behaving as `scenario`.
async fn start(
    test_db: &TestDb,
    scenario: Scenario,
) -> Result<Harness, Box<dyn std::error::Error>> {
    let calls = Arc::new(Calls::default());
    let stub = Stub {
        calls: calls.clone(),
        scenario,
    };
    let cart_url = spawn(
        Router::new()
            .route("/carts/{session_id}", get(cart_get).delete(cart_delete))
            .with_state(stub.clone()),
    )
    .await?;
    let catalog_url = spawn(
        Router::new()
            .route("/products", get(catalog_products))
            .with_state(stub.clone()),
    )
    .await?;
    let inventory_url = spawn(
        Router::new()
            .route("/reservations", post(inventory_reserve))
            .route("/reservations/{id}/release", post(inventory_release))
            .with_state(stub.clone()),
    )
    .await?;
    let payment_url = spawn(
        Router::new()
            .route("/payments", post(payment_authorize))
            .with_state(stub.clone()),
    )
    .await?;
    let shipping_url = spawn(
        Router::new()
            .route("/quotes", post(shipping_quote))
            .with_state(stub),
    )
    .await?;

    // Two databases on SQLite (two files); on PostgreSQL one, with the queue in a schema of its
    // own, as a shop on PostgreSQL runs.
    let config = Config {
        database_url: test_db.url("checkout"),
        queue_url: test_db.url("queue"),
        cart_url,
        catalog_url,
        inventory_url,
        payment_url,
        shipping_url,
        retention: Default::default(),
    };

    let db = Db::open(&config.database_url, "checkout", &crate::MIGRATIONS).await?;
    let outbox = Outbox::open(&db, Queue::open(&config.queue_url).await?).await?;
    let state = CheckoutState {
        db: db.clone(),
        outbox: outbox.clone(),
        clients: Clients::new(&config),
    };
    let app = server::instrument(router(state), ServerOptions::new("checkout"));
    let base_url = spawn(app).await?;
    Ok(Harness {
        base_url,
        calls,
        db,
        outbox,
        queue_url: config.queue_url,
        engine: test_db.engine(),
    })
}

fn order_body() -> Value {
    json!({
        "session_id": SESSION,
        "card_number": "4242424242424242",
        "email": "ada@example.com",
        "region": "ap-northeast-1",
    })
}

/// A plain-HTTP client. reqwest needs a TLS crypto provider even for plain HTTP.
fn http_client() -> reqwest::Client {
    tracedojo_kit::telemetry::install_crypto_provider();
    reqwest::Client::new()
}

async fn post_checkout(
    harness: &Harness,
    body: &Value,
) -> Result<(StatusCode, Value), reqwest::Error> {
    let response = http_client()
        .post(format!("{}/checkout", harness.base_url))
        .json(body)
        .send()
        .await?;
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap_or_default();
    Ok((status, response.json().await?))
}

const COUNT_ORDERS: &str = "SELECT COUNT(*) FROM orders";
const COUNT_ORDER_ITEMS: &str = "SELECT COUNT(*) FROM order_items";

async fn count_rows(db: &Db, query: &'static str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(query).fetch_one(db.pool()).await
}

#[tokio::test]
async fn a_checkout_places_a_paid_order_and_announces_it() -> TestResult {
    for test_db in TestDb::each("checkout-happy").await {
        let harness = start(&test_db, Scenario::default()).await?;
        let engine = harness.engine;

        let (status, body) = post_checkout(&harness, &order_body()).await?;

        assert_eq!(status, StatusCode::CREATED, "{engine:?}: {body}");
        assert_eq!(body["status"], "placed", "{engine:?}");
        // Catalog prices, not the cart's stale ones: 2 x 1000 + 1 x 2000.
        assert_eq!(body["total_cents"], 4000, "{engine:?}");
        assert_eq!(body["shipping_cents"], 499, "{engine:?}");
        assert_eq!(body["payment_id"], "pay_test", "{engine:?}");
        assert_eq!(body["items"][0]["name"], "Product 1", "{engine:?}");
        assert_eq!(body["items"][0]["unit_price_cents"], 1000, "{engine:?}");
        let order_id = body["order_id"]
            .as_i64()
            .ok_or("order_id is not a number")?;

        for call in [
            format!("GET /carts/{SESSION}"),
            "GET /products".into(),
            "POST /reservations".into(),
            "POST /payments".into(),
            "POST /quotes".into(),
            format!("DELETE /carts/{SESSION}"),
        ] {
            assert_eq!(harness.calls.count(&call), 1, "{engine:?}: {call}");
        }
        assert_eq!(
            harness
                .calls
                .count(&format!("POST /reservations/{RESERVATION}/release")),
            0,
            "{engine:?}"
        );
        let charged = harness
            .calls
            .charged_cents
            .lock()
            .map(|c| c.clone())
            .unwrap_or_default();
        assert_eq!(charged, vec![4000], "{engine:?}");

        assert_eq!(
            count_rows(&harness.db, COUNT_ORDERS).await?,
            1,
            "{engine:?}"
        );
        assert_eq!(
            count_rows(&harness.db, COUNT_ORDER_ITEMS).await?,
            2,
            "{engine:?}"
        );

        // The message was committed with the order, into the outbox; the relay moves it on.
        let queue = Queue::open(&harness.queue_url).await?;
        assert_eq!(harness.outbox.pending().await?, 1, "{engine:?}");
        assert_eq!(queue.depth(ORDER_CREATED).await?, 0, "{engine:?}");
        assert_eq!(harness.outbox.relay_once().await?, 1, "{engine:?}");
        assert_eq!(harness.outbox.pending().await?, 0, "{engine:?}");
        assert_eq!(queue.depth(ORDER_CREATED).await?, 1, "{engine:?}");
        let message = queue
            .receive(ORDER_CREATED, "test")
            .await?
            .ok_or("no message")?;
        assert_eq!(message.payload["order_id"], order_id, "{engine:?}");
        assert_eq!(message.payload["region"], "ap-northeast-1", "{engine:?}");
        assert_eq!(message.payload["total_cents"], 4000, "{engine:?}");
        assert_eq!(
            message.payload["items"],
            json!([{"product_id": 1, "quantity": 2}, {"product_id": 2, "quantity": 1}]),
            "{engine:?}"
        );

        let order: Value = http_client()
            .get(format!("{}/orders/{order_id}", harness.base_url))
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(order["order_id"], order_id, "{engine:?}: {order}");
        assert_eq!(order["status"], "placed", "{engine:?}");
        assert_eq!(order["total_cents"], 4000, "{engine:?}");
        assert_eq!(order["items"], body["items"], "{engine:?}");
        let created_at = order["created_at"].as_str().unwrap_or_default();
        assert!(
            created_at.len() == 20 && created_at.ends_with('Z'),
            "{engine:?}: {created_at}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_declined_card_releases_the_stock_and_answers_402() -> TestResult {
    for test_db in TestDb::each("checkout-declined").await {
        let scenario = Scenario {
            decline_payment: true,
            ..Scenario::default()
        };
        let harness = start(&test_db, scenario).await?;
        let engine = harness.engine;

        let (status, body) = post_checkout(&harness, &order_body()).await?;

        assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{engine:?}: {body}");
        assert_eq!(body["error"], "payment_declined", "{engine:?}");
        assert_eq!(
            harness
                .calls
                .count(&format!("POST /reservations/{RESERVATION}/release")),
            1,
            "{engine:?}"
        );
        // The delivery is priced before the card is charged, so the quote was asked for.
        assert_eq!(harness.calls.count("POST /quotes"), 1, "{engine:?}");
        assert_eq!(
            harness.calls.count(&format!("DELETE /carts/{SESSION}")),
            0,
            "{engine:?}"
        );
        assert_eq!(
            count_rows(&harness.db, COUNT_ORDERS).await?,
            0,
            "{engine:?}"
        );
        assert_eq!(harness.outbox.pending().await?, 0, "{engine:?}");
    }
    Ok(())
}

#[tokio::test]
async fn an_empty_cart_is_a_400_and_nothing_is_reserved() -> TestResult {
    for test_db in TestDb::each("checkout-empty").await {
        let scenario = Scenario {
            cart_empty: true,
            ..Scenario::default()
        };
        let harness = start(&test_db, scenario).await?;
        let engine = harness.engine;

        let (status, body) = post_checkout(&harness, &order_body()).await?;

        assert_eq!(status, StatusCode::BAD_REQUEST, "{engine:?}: {body}");
        assert_eq!(body["error"], "cart_empty", "{engine:?}");
        assert_eq!(
            harness.calls.count(&format!("GET /carts/{SESSION}")),
            1,
            "{engine:?}"
        );
        assert_eq!(harness.calls.count("POST /reservations"), 0, "{engine:?}");
        assert_eq!(harness.calls.count("POST /payments"), 0, "{engine:?}");
        assert_eq!(
            count_rows(&harness.db, COUNT_ORDERS).await?,
            0,
            "{engine:?}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn invalid_requests_name_the_field_and_call_no_one() -> TestResult {
    for test_db in TestDb::each("checkout-invalid").await {
        let harness = start(&test_db, Scenario::default()).await?;
        let engine = harness.engine;
        let cases = [
            ("session_id", json!("not a session!")),
            ("card_number", Value::Null),
            ("email", json!("ada.example.com")),
            ("region", json!("moon-1")),
        ];
        for (field, value) in cases {
            let mut body = order_body();
            body[field] = value;
            let (status, answer) = post_checkout(&harness, &body).await?;
            assert_eq!(
                status,
                StatusCode::BAD_REQUEST,
                "{engine:?}: {field}: {answer}"
            );
            assert_eq!(answer["error"], "bad_request", "{engine:?}");
            let message = answer["message"].as_str().unwrap_or_default();
            assert!(message.contains(field), "{engine:?}: {field}: {message}");
        }
        assert_eq!(
            harness.calls.count(&format!("GET /carts/{SESSION}")),
            0,
            "{engine:?}"
        );

        let missing = http_client()
            .get(format!("{}/orders/999", harness.base_url))
            .send()
            .await?;
        assert_eq!(missing.status().as_u16(), 404, "{engine:?}");
        let malformed = http_client()
            .get(format!("{}/orders/abc", harness.base_url))
            .send()
            .await?;
        assert_eq!(malformed.status().as_u16(), 400, "{engine:?}");
    }
    Ok(())
}
