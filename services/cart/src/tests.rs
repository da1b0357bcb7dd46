//! The cart API over real HTTP, with a stub catalog on a random port. Every test runs once per
//! database engine (SQLite always, PostgreSQL when the machine offers one: see
//! `tracedojo_kit::testing::TestDb`), with the same assertions; their messages name the engine.

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tracedojo_kit::server::{self, ServerOptions};
use tracedojo_kit::testing::TestDb;

use crate::{AppState, open_database, router};

/// The catalog as the cart sees it: products 1..=240 exist, anything else is a 404.
async fn stub_product(Path(id): Path<i64>) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    if (1..=240).contains(&id) {
        Ok(Json(json!({
            "id": id,
            "sku": format!("KIT-{id:04}"),
            "name": format!("Product {id}"),
            "description": "a stub product",
            "category": "kitchen",
            "price_cents": 1000 + id,
            "currency": "USD",
            "image": "🍳",
        })))
    } else {
        Err((
            StatusCode::NOT_FOUND,
            Json(json!({"error": "not_found", "message": format!("product {id} not found")})),
        ))
    }
}

async fn spawn(app: axum::Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(server::serve(listener, app, std::future::pending()));
    format!("http://{addr}")
}

/// Starts a stub catalog and the cart service on `test_db`; returns the cart's base URL.
async fn start(test_db: &TestDb) -> String {
    // reqwest refuses to build a client, even for plain http, until a TLS crypto provider is
    // installed; `Telemetry::init` does this in the real service.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let catalog_url = spawn(axum::Router::new().route("/products/{id}", get(stub_product))).await;
    let db = open_database(&test_db.url("cart"))
        .await
        .expect("open database");
    let app = server::instrument(
        router(AppState::new(db, &catalog_url)),
        ServerOptions::new("cart"),
    );
    spawn(app).await
}

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.expect("request sent");
    let status = StatusCode::from_u16(response.status().as_u16()).expect("status");
    let body = response.json::<Value>().await.expect("JSON body");
    (status, body)
}

#[tokio::test]
async fn add_get_remove_and_clear() {
    for test_db in TestDb::each("cart-flow").await {
        let engine = test_db.engine();
        let base = start(&test_db).await;
        let http = reqwest::Client::new();
        let cart_url = format!("{base}/carts/sess_abc-1");
        let empty = json!({"session_id": "sess_abc-1", "items": [], "total_cents": 0});

        let (status, body) = send(http.get(&cart_url)).await;
        assert_eq!(status, StatusCode::OK, "{engine:?}: {body}");
        assert_eq!(body, empty, "{engine:?}");

        let items_url = format!("{cart_url}/items");
        let (status, body) = send(
            http.post(&items_url)
                .json(&json!({"product_id": 1, "quantity": 2})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{engine:?}: {body}");
        let (status, body) = send(
            http.post(&items_url)
                .json(&json!({"product_id": 7, "quantity": 1})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{engine:?}: {body}");
        assert_eq!(body["total_cents"], json!(2 * 1001 + 1007), "{engine:?}");

        // Adding the same product again adds to its quantity.
        let (status, body) = send(
            http.post(&items_url)
                .json(&json!({"product_id": 1, "quantity": 3})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{engine:?}: {body}");
        let (status, body) = send(http.get(&cart_url)).await;
        assert_eq!(status, StatusCode::OK, "{engine:?}: {body}");
        assert_eq!(
            body["items"],
            json!([
                {"product_id": 1, "name": "Product 1", "quantity": 5, "unit_price_cents": 1001},
                {"product_id": 7, "name": "Product 7", "quantity": 1, "unit_price_cents": 1007},
            ]),
            "{engine:?}"
        );
        assert_eq!(body["total_cents"], json!(5 * 1001 + 1007), "{engine:?}");

        let (status, body) = send(http.delete(format!("{items_url}/1"))).await;
        assert_eq!(status, StatusCode::OK, "{engine:?}: {body}");
        assert_eq!(
            body["items"].as_array().map(Vec::len),
            Some(1),
            "{engine:?}"
        );
        assert_eq!(body["total_cents"], json!(1007), "{engine:?}");

        let (status, body) = send(http.delete(&cart_url)).await;
        assert_eq!(status, StatusCode::OK, "{engine:?}: {body}");
        assert_eq!(body, empty, "{engine:?}");
        let (_, body) = send(http.get(&cart_url)).await;
        assert_eq!(body["items"], json!([]), "{engine:?}");
    }
}

#[tokio::test]
async fn a_line_stops_at_99_however_often_it_is_added() {
    for test_db in TestDb::each("cart-max").await {
        let engine = test_db.engine();
        let base = start(&test_db).await;
        let http = reqwest::Client::new();
        let items_url = format!("{base}/carts/s1/items");
        for (added, in_cart) in [(60, 60), (60, 99), (1, 99)] {
            let (status, body) = send(
                http.post(&items_url)
                    .json(&json!({"product_id": 3, "quantity": added})),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{engine:?}: {body}");
            assert_eq!(body["items"][0]["quantity"], json!(in_cart), "{engine:?}");
        }
    }
}

#[tokio::test]
async fn unknown_product_is_the_catalogs_404() {
    for test_db in TestDb::each("cart-unknown").await {
        let engine = test_db.engine();
        let base = start(&test_db).await;
        let http = reqwest::Client::new();
        let (status, body) = send(
            http.post(format!("{base}/carts/s1/items"))
                .json(&json!({"product_id": 999, "quantity": 1})),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{engine:?}: {body}");
        assert_eq!(body["error"], json!("not_found"), "{engine:?}");
        let (_, body) = send(http.get(format!("{base}/carts/s1"))).await;
        assert_eq!(body["items"], json!([]), "{engine:?}");
    }
}

#[tokio::test]
async fn quantity_outside_1_to_99_is_rejected() {
    for test_db in TestDb::each("cart-quantity").await {
        let engine = test_db.engine();
        let base = start(&test_db).await;
        let http = reqwest::Client::new();
        for quantity in [0, -1, 100] {
            let (status, body) = send(
                http.post(format!("{base}/carts/s1/items"))
                    .json(&json!({"product_id": 1, "quantity": quantity})),
            )
            .await;
            assert_eq!(
                status,
                StatusCode::BAD_REQUEST,
                "{engine:?}: quantity {quantity}"
            );
            assert_eq!(body["error"], json!("bad_request"), "{engine:?}");
            assert!(
                body["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("quantity")),
                "{engine:?}: {body}"
            );
        }
        let (status, body) = send(
            http.post(format!("{base}/carts/s1/items"))
                .json(&json!({"product_id": 1})),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{engine:?}: {body}");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains("quantity")),
            "{engine:?}: {body}"
        );
    }
}

#[tokio::test]
async fn malformed_session_id_is_rejected() {
    for test_db in TestDb::each("cart-session").await {
        let engine = test_db.engine();
        let base = start(&test_db).await;
        let http = reqwest::Client::new();
        let too_long = "a".repeat(65);
        for session in ["bad.id", "sp%20ace", too_long.as_str()] {
            let (status, body) = send(http.get(format!("{base}/carts/{session}"))).await;
            assert_eq!(
                status,
                StatusCode::BAD_REQUEST,
                "{engine:?}: session {session}"
            );
            assert!(
                body["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("session_id")),
                "{engine:?}: {body}"
            );
        }
        let (status, _) = send(
            http.post(format!("{base}/carts/bad.id/items"))
                .json(&json!({"product_id": 1, "quantity": 1})),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{engine:?}");
        let (status, body) = send(http.get(format!("{base}/carts/{}", "a".repeat(64)))).await;
        assert_eq!(status, StatusCode::OK, "{engine:?}: {body}");
    }
}
