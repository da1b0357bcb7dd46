//! The cart API over real HTTP, with a stub catalog on a random port.

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tracedojo_kit::server::{self, ServerOptions};

use crate::{AppState, open_database, router};

/// A database file in its own temporary directory, removed when the test ends.
struct TempDb(tracedojo_kit::testing::TempDir);

impl TempDb {
    fn new(test: &str) -> TempDb {
        TempDb(
            tracedojo_kit::testing::TempDir::new(&format!("cart-{test}")).expect("create temp dir"),
        )
    }

    fn url(&self) -> String {
        self.0.sqlite_url("cart")
    }
}

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

/// Starts a stub catalog and the cart service; returns the cart's base URL.
async fn start(test: &str) -> (String, TempDb) {
    // reqwest refuses to build a client, even for plain http, until a TLS crypto provider is
    // installed; `Telemetry::init` does this in the real service.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let catalog_url = spawn(axum::Router::new().route("/products/{id}", get(stub_product))).await;
    let temp = TempDb::new(test);
    let db = open_database(&temp.url()).await.expect("open database");
    let app = server::instrument(
        router(AppState::new(db, &catalog_url)),
        ServerOptions::new("cart"),
    );
    (spawn(app).await, temp)
}

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.expect("request sent");
    let status = StatusCode::from_u16(response.status().as_u16()).expect("status");
    let body = response.json::<Value>().await.expect("JSON body");
    (status, body)
}

#[tokio::test]
async fn add_get_remove_and_clear() {
    let (base, _db) = start("flow").await;
    let http = reqwest::Client::new();
    let cart_url = format!("{base}/carts/sess_abc-1");

    let (status, body) = send(http.get(&cart_url)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"session_id": "sess_abc-1", "items": [], "total_cents": 0})
    );

    let items_url = format!("{cart_url}/items");
    let (status, _) = send(
        http.post(&items_url)
            .json(&json!({"product_id": 1, "quantity": 2})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = send(
        http.post(&items_url)
            .json(&json!({"product_id": 7, "quantity": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["total_cents"], json!(2 * 1001 + 1007));

    // Adding the same product again adds to its quantity.
    send(
        http.post(&items_url)
            .json(&json!({"product_id": 1, "quantity": 3})),
    )
    .await;
    let (status, body) = send(http.get(&cart_url)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["items"],
        json!([
            {"product_id": 1, "name": "Product 1", "quantity": 5, "unit_price_cents": 1001},
            {"product_id": 7, "name": "Product 7", "quantity": 1, "unit_price_cents": 1007},
        ])
    );
    assert_eq!(body["total_cents"], json!(5 * 1001 + 1007));

    let (status, body) = send(http.delete(format!("{items_url}/1"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(body["total_cents"], json!(1007));

    let (status, body) = send(http.delete(&cart_url)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"session_id": "sess_abc-1", "items": [], "total_cents": 0})
    );
    let (_, body) = send(http.get(&cart_url)).await;
    assert_eq!(body["items"], json!([]));
}

#[tokio::test]
async fn unknown_product_is_the_catalogs_404() {
    let (base, _db) = start("unknown").await;
    let http = reqwest::Client::new();
    let (status, body) = send(
        http.post(format!("{base}/carts/s1/items"))
            .json(&json!({"product_id": 999, "quantity": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], json!("not_found"));
    let (_, body) = send(http.get(format!("{base}/carts/s1"))).await;
    assert_eq!(body["items"], json!([]));
}

#[tokio::test]
async fn quantity_outside_1_to_99_is_rejected() {
    let (base, _db) = start("quantity").await;
    let http = reqwest::Client::new();
    for quantity in [0, -1, 100] {
        let (status, body) = send(
            http.post(format!("{base}/carts/s1/items"))
                .json(&json!({"product_id": 1, "quantity": quantity})),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "quantity {quantity}");
        assert_eq!(body["error"], json!("bad_request"));
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains("quantity"))
        );
    }
    let (status, body) = send(
        http.post(format!("{base}/carts/s1/items"))
            .json(&json!({"product_id": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("quantity"))
    );
}

#[tokio::test]
async fn malformed_session_id_is_rejected() {
    let (base, _db) = start("session").await;
    let http = reqwest::Client::new();
    let too_long = "a".repeat(65);
    for session in ["bad.id", "sp%20ace", too_long.as_str()] {
        let (status, body) = send(http.get(format!("{base}/carts/{session}"))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "session {session}");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains("session_id"))
        );
    }
    let (status, _) = send(
        http.post(format!("{base}/carts/bad.id/items"))
            .json(&json!({"product_id": 1, "quantity": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = send(http.get(format!("{base}/carts/{}", "a".repeat(64)))).await;
    assert_eq!(status, StatusCode::OK);
}
