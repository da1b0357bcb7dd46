//! The inventory API over real HTTP, on a fresh database per test.

use axum::http::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tracedojo_kit::server::{self, ServerOptions};

use crate::stock::initial_quantity;
use crate::{open_database, router};

/// A database file in its own temporary directory, removed when the test ends.
struct TempDb(tracedojo_kit::testing::TempDir);

impl TempDb {
    fn new(test: &str) -> TempDb {
        TempDb(
            tracedojo_kit::testing::TempDir::new(&format!("inventory-{test}"))
                .expect("create temp dir"),
        )
    }

    fn url(&self) -> String {
        self.0.sqlite_url("inventory")
    }
}

/// A running inventory service and an HTTP client for it.
struct Service {
    base: String,
    http: reqwest::Client,
    _db: TempDb,
}

impl Service {
    async fn start(test: &str) -> Service {
        // reqwest refuses to build a client, even for plain http, until a TLS crypto provider
        // is installed; `Telemetry::init` does this in the real service.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let temp = TempDb::new(test);
        let db = open_database(&temp.url()).await.expect("open database");
        let app = server::instrument(router(db), ServerOptions::new("inventory"));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(server::serve(listener, app, std::future::pending()));
        Service {
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
            _db: temp,
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
        assert_eq!(status, StatusCode::OK);
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
    let service = Service::start("reserve").await;
    assert_eq!(service.available(1).await, initial_quantity(1));

    let (status, body) = service
        .reserve(json!([{"product_id": 1, "quantity": 2}, {"product_id": 2, "quantity": 3}]))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(
        body["reservation_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("res_"))
    );
    assert_eq!(body["order_ref"], json!("ord_test"));
    assert_eq!(
        body["items"],
        json!([{"product_id": 1, "quantity": 2}, {"product_id": 2, "quantity": 3}])
    );
    assert_eq!(service.available(1).await, initial_quantity(1) - 2);
    assert_eq!(service.available(2).await, initial_quantity(2) - 3);

    // The last units can be taken, and then there are none.
    let rest = initial_quantity(2) - 3;
    let (status, _) = service
        .reserve(json!([{"product_id": 2, "quantity": rest}]))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(service.available(2).await, 0);
}

#[tokio::test]
async fn over_reserving_is_409_and_changes_nothing() {
    let service = Service::start("over").await;
    let too_many = initial_quantity(3) + 1;
    let (status, body) = service
        .reserve(json!([{"product_id": 1, "quantity": 1}, {"product_id": 3, "quantity": too_many}]))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"], json!("out_of_stock"));
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("product 3")),
        "message names the product: {body}"
    );
    // Product 1 was decremented before product 3 came up short; the rollback undid it.
    assert_eq!(service.available(1).await, initial_quantity(1));
    assert_eq!(service.available(3).await, initial_quantity(3));
}

#[tokio::test]
async fn releasing_restores_stock_once() {
    let service = Service::start("release").await;
    let (status, body) = service
        .reserve(json!([{"product_id": 5, "quantity": 4}, {"product_id": 5, "quantity": 1}]))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let reservation_id = body["reservation_id"]
        .as_str()
        .expect("reservation_id")
        .to_string();
    assert_eq!(service.available(5).await, initial_quantity(5) - 5);

    let expected = json!({"reservation_id": reservation_id, "status": "released"});
    let (status, body) = service.release(&reservation_id).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, expected);
    assert_eq!(service.available(5).await, initial_quantity(5));

    let (status, body) = service.release(&reservation_id).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, expected);
    assert_eq!(service.available(5).await, initial_quantity(5));

    let (status, _) = service.release("res_unknown").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_input_is_rejected_with_the_field_named() {
    let service = Service::start("input").await;
    let (status, body) = service
        .reserve(json!([{"product_id": 1, "quantity": 0}]))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("items[0].quantity"))
    );

    let (status, _) = service.reserve(json!([])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, _) = service
        .reserve(json!([{"product_id": 999, "quantity": 1}]))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, _) = service
        .send(service.http.get(format!("{}/stock/999", service.base)))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = service
        .send(service.http.get(format!("{}/stock/abc", service.base)))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn stock_is_seeded_only_on_first_start() {
    let temp = TempDb::new("seed");
    let db = open_database(&temp.url()).await.expect("first open");
    let item = crate::reservations::Item {
        product_id: 240,
        quantity: 1,
    };
    crate::reservations::reserve(&db, "ord_seed", &[item])
        .await
        .expect("reserve");
    db.pool().close().await;

    let db = open_database(&temp.url()).await.expect("second open");
    let level = crate::stock::find(&db, 240)
        .await
        .expect("query")
        .expect("stocked");
    assert_eq!(level.available, initial_quantity(240) - 1);
    db.pool().close().await;
}

#[tokio::test]
async fn the_supplier_refills_only_products_below_the_reorder_point() {
    let temp = TempDb::new("restock");
    let db = open_database(&temp.url()).await.expect("open database");
    let set = "UPDATE stock SET available = $1 WHERE product_id = $2";
    sqlx::query(set)
        .bind(5)
        .bind(1)
        .execute(db.pool())
        .await
        .unwrap();
    sqlx::query(set)
        .bind(50)
        .bind(2)
        .execute(db.pool())
        .await
        .unwrap();

    let refilled = crate::restock::restock_once(&db).await.expect("restock");
    assert_eq!(refilled, 1, "only product 1 was below the reorder point");

    let available = |id: i64| {
        let db = db.clone();
        async move {
            crate::stock::find(&db, id)
                .await
                .unwrap()
                .expect("stocked")
                .available
        }
    };
    assert_eq!(available(1).await, 5 + crate::restock::DELIVERY_SIZE);
    assert_eq!(available(2).await, 50);
    assert_eq!(crate::restock::restock_once(&db).await.unwrap(), 0);
}
