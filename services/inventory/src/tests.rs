//! The inventory API over real HTTP, on a fresh database per test. Every test runs once per
//! database engine (SQLite always, PostgreSQL when the machine offers one: see
//! `tracedojo_kit::testing::TestDb`), with the same assertions; their messages name the engine.

use axum::http::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tracedojo_kit::db::Engine;
use tracedojo_kit::server::{self, ServerOptions};
use tracedojo_kit::testing::TestDb;

use crate::stock::initial_quantity;
use crate::{open_database, router};

/// A running inventory service on one test database, and an HTTP client for it.
struct Service {
    base: String,
    http: reqwest::Client,
    /// The engine under test, for assertion messages.
    engine: Engine,
}

impl Service {
    async fn start(test_db: &TestDb) -> Service {
        // reqwest refuses to build a client, even for plain http, until a TLS crypto provider
        // is installed; `Telemetry::init` does this in the real service.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let db = open_database(&test_db.url("inventory"))
            .await
            .expect("open database");
        let app = server::instrument(router(db), ServerOptions::new("inventory"));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(server::serve(listener, app, std::future::pending()));
        Service {
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
            engine: test_db.engine(),
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let response = request.send().await.expect("request sent");
        let status = StatusCode::from_u16(response.status().as_u16()).expect("status");
        let body = response.json::<Value>().await.expect("JSON body");
        (status, body)
    }

    async fn available(&self, product_id: i64) -> i64 {
        let (status, body) = self
            .send(self.http.get(format!("{}/stock/{product_id}", self.base)))
            .await;
        assert_eq!(status, StatusCode::OK, "{:?}: {body}", self.engine);
        body["available"].as_i64().expect("available is a number")
    }

    async fn reserve(&self, items: Value) -> (StatusCode, Value) {
        self.send(
            self.http
                .post(format!("{}/reservations", self.base))
                .json(&json!({"order_ref": "ord_test", "items": items})),
        )
        .await
    }

    async fn release(&self, reservation_id: &str) -> (StatusCode, Value) {
        self.send(self.http.post(format!(
            "{}/reservations/{reservation_id}/release",
            self.base
        )))
        .await
    }
}

#[tokio::test]
async fn reserving_decrements_stock() {
    for test_db in TestDb::each("inventory-reserve").await {
        let service = Service::start(&test_db).await;
        let engine = service.engine;
        assert_eq!(
            service.available(1).await,
            initial_quantity(1),
            "{engine:?}"
        );

        let (status, body) = service
            .reserve(json!([{"product_id": 1, "quantity": 2}, {"product_id": 2, "quantity": 3}]))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{engine:?}: {body}");
        assert!(
            body["reservation_id"]
                .as_str()
                .is_some_and(|id| id.starts_with("res_")),
            "{engine:?}: {body}"
        );
        assert_eq!(body["order_ref"], json!("ord_test"), "{engine:?}");
        assert_eq!(
            body["items"],
            json!([{"product_id": 1, "quantity": 2}, {"product_id": 2, "quantity": 3}]),
            "{engine:?}"
        );
        assert_eq!(
            service.available(1).await,
            initial_quantity(1) - 2,
            "{engine:?}"
        );
        assert_eq!(
            service.available(2).await,
            initial_quantity(2) - 3,
            "{engine:?}"
        );

        // The last units can be taken, and then there are none.
        let rest = initial_quantity(2) - 3;
        let (status, body) = service
            .reserve(json!([{"product_id": 2, "quantity": rest}]))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{engine:?}: {body}");
        assert_eq!(service.available(2).await, 0, "{engine:?}");
    }
}

#[tokio::test]
async fn over_reserving_is_409_and_changes_nothing() {
    for test_db in TestDb::each("inventory-over").await {
        let service = Service::start(&test_db).await;
        let engine = service.engine;
        let too_many = initial_quantity(3) + 1;
        let (status, body) = service
            .reserve(
                json!([{"product_id": 1, "quantity": 1}, {"product_id": 3, "quantity": too_many}]),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{engine:?}: {body}");
        assert_eq!(body["error"], json!("out_of_stock"), "{engine:?}");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains("product 3")),
            "{engine:?}: the message names the product: {body}"
        );
        // Product 1 was decremented before product 3 came up short; the rollback undid it.
        assert_eq!(
            service.available(1).await,
            initial_quantity(1),
            "{engine:?}"
        );
        assert_eq!(
            service.available(3).await,
            initial_quantity(3),
            "{engine:?}"
        );
    }
}

#[tokio::test]
async fn releasing_restores_stock_once() {
    for test_db in TestDb::each("inventory-release").await {
        let service = Service::start(&test_db).await;
        let engine = service.engine;
        let (status, body) = service
            .reserve(json!([{"product_id": 5, "quantity": 4}, {"product_id": 5, "quantity": 1}]))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{engine:?}: {body}");
        let reservation_id = body["reservation_id"]
            .as_str()
            .expect("reservation_id")
            .to_string();
        assert_eq!(
            service.available(5).await,
            initial_quantity(5) - 5,
            "{engine:?}"
        );

        let expected = json!({"reservation_id": reservation_id, "status": "released"});
        let (status, body) = service.release(&reservation_id).await;
        assert_eq!(status, StatusCode::OK, "{engine:?}: {body}");
        assert_eq!(body, expected, "{engine:?}");
        assert_eq!(
            service.available(5).await,
            initial_quantity(5),
            "{engine:?}"
        );

        let (status, body) = service.release(&reservation_id).await;
        assert_eq!(status, StatusCode::OK, "{engine:?}: {body}");
        assert_eq!(body, expected, "{engine:?}");
        assert_eq!(
            service.available(5).await,
            initial_quantity(5),
            "{engine:?}"
        );

        let (status, body) = service.release("res_unknown").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{engine:?}: {body}");
    }
}

#[tokio::test]
async fn bad_input_is_rejected_with_the_field_named() {
    for test_db in TestDb::each("inventory-input").await {
        let service = Service::start(&test_db).await;
        let engine = service.engine;
        let (status, body) = service
            .reserve(json!([{"product_id": 1, "quantity": 0}]))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{engine:?}: {body}");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains("items[0].quantity")),
            "{engine:?}: {body}"
        );

        let (status, body) = service.reserve(json!([])).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{engine:?}: {body}");

        let (status, body) = service
            .reserve(json!([{"product_id": 999, "quantity": 1}]))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{engine:?}: {body}");

        let (status, body) = service
            .send(service.http.get(format!("{}/stock/999", service.base)))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{engine:?}: {body}");
        let (status, body) = service
            .send(service.http.get(format!("{}/stock/abc", service.base)))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{engine:?}: {body}");
    }
}

#[tokio::test]
async fn stock_is_seeded_only_on_first_start() {
    for test_db in TestDb::each("inventory-seed").await {
        let engine = test_db.engine();
        let url = test_db.url("inventory");
        let db = open_database(&url).await.expect("first open");
        let item = crate::reservations::Item {
            product_id: 240,
            quantity: 1,
        };
        crate::reservations::reserve(&db, "ord_seed", &[item])
            .await
            .expect("reserve");
        db.pool().close().await;

        let db = open_database(&url).await.expect("second open");
        let level = crate::stock::find(&db, 240)
            .await
            .expect("query")
            .expect("stocked");
        assert_eq!(level.available, initial_quantity(240) - 1, "{engine:?}");
        db.pool().close().await;
    }
}

#[tokio::test]
async fn the_supplier_refills_only_products_below_the_reorder_point() {
    for test_db in TestDb::each("inventory-restock").await {
        let engine = test_db.engine();
        let db = open_database(&test_db.url("inventory"))
            .await
            .expect("open database");
        let set = "UPDATE stock SET available = $1 WHERE product_id = $2";
        for (available, product_id) in [(5_i64, 1_i64), (50, 2)] {
            sqlx::query(set)
                .bind(available)
                .bind(product_id)
                .execute(db.pool())
                .await
                .unwrap();
        }

        let refilled = crate::restock::restock_once(&db).await.expect("restock");
        assert_eq!(
            refilled, 1,
            "{engine:?}: only product 1 was below the reorder point"
        );

        let available = async |id: i64| {
            crate::stock::find(&db, id)
                .await
                .unwrap()
                .expect("stocked")
                .available
        };
        assert_eq!(
            available(1).await,
            5 + crate::restock::DELIVERY_SIZE,
            "{engine:?}"
        );
        assert_eq!(available(2).await, 50, "{engine:?}");
        assert_eq!(
            crate::restock::restock_once(&db).await.unwrap(),
            0,
            "{engine:?}"
        );
    }
}

/// Two replicas starting together on one empty PostgreSQL database: the stock is seeded once,
/// with no failure. Only PostgreSQL: SQLite's file belongs to one host.
#[tokio::test]
async fn replicas_seeding_one_empty_database_at_once_stock_it_once() {
    for test_db in TestDb::each("inventory-seed-race").await {
        if test_db.engine() != Engine::Postgres {
            continue;
        }
        let url = test_db.url("inventory");
        let (first, second) = tokio::join!(open_database(&url), open_database(&url));
        let db = first.expect("first replica");
        second.expect("second replica");
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM stock")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(rows, 240);
    }
}
