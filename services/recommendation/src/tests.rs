//! End-to-end tests: the real router with telemetry middleware, calling a tiny stand-in for
//! catalog that counts how often it is asked for a category.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tracedojo_kit::server::{self, ServerOptions};

use crate::{Config, router};

/// What the stub catalog knows and how often it was asked for a category page.
struct StubCatalog {
    products: Vec<Value>,
    category_calls: AtomicUsize,
}

/// Six kitchen products (ids 1..=6) and two books (7, 8).
fn stub_products() -> Vec<Value> {
    (1..=8)
        .map(|id| {
            let (category, prefix) = if id <= 6 {
                ("kitchen", "KIT")
            } else {
                ("books", "BOO")
            };
            json!({
                "id": id, "sku": format!("{prefix}-{id:04}"), "name": format!("Product {id}"),
                "description": "A stub product.", "category": category,
                "price_cents": 1299, "currency": "USD", "image": "🍳",
            })
        })
        .collect()
}

async fn stub_product(
    State(stub): State<Arc<StubCatalog>>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    stub.products
        .iter()
        .find(|p| p["id"] == id)
        .map(|p| Json(p.clone()))
        .ok_or_else(|| {
            let body =
                json!({ "error": "not_found", "message": format!("product {id} not found") });
            (StatusCode::NOT_FOUND, Json(body))
        })
}

async fn stub_products_page(
    State(stub): State<Arc<StubCatalog>>,
    Query(params): Query<HashMap<String, String>>,
) -> Json<Value> {
    stub.category_calls.fetch_add(1, Ordering::SeqCst);
    let category = params.get("category").cloned().unwrap_or_default();
    let products: Vec<&Value> = stub
        .products
        .iter()
        .filter(|p| p["category"] == category)
        .collect();
    Json(json!({ "products": products, "total": products.len() }))
}

/// Starts the stub catalog and the recommendation service; returns the service's URL and
/// the stub, to read its counter.
async fn start(cache_ttl: Duration) -> (String, Arc<StubCatalog>) {
    // reqwest refuses to build a client, even for plain http, until a TLS provider exists.
    tracedojo_kit::telemetry::install_crypto_provider();

    let stub = Arc::new(StubCatalog {
        products: stub_products(),
        category_calls: AtomicUsize::new(0),
    });
    let catalog = Router::new()
        .route("/products", get(stub_products_page))
        .route("/products/{id}", get(stub_product))
        .with_state(stub.clone());
    let catalog_listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind catalog");
    let catalog_url = format!("http://{}", catalog_listener.local_addr().expect("address"));
    tokio::spawn(server::serve(
        catalog_listener,
        catalog,
        std::future::pending(),
    ));

    let config = Config {
        catalog_url,
        cache_ttl,
    };
    let app = server::instrument(router(config), ServerOptions::new("recommendation"));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(server::serve(listener, app, std::future::pending()));
    (url, stub)
}

async fn get_json(url: &str) -> (u16, Value) {
    let response = reqwest::get(url).await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

fn ids(body: &Value) -> Vec<i64> {
    body["products"]
        .as_array()
        .map(|products| products.iter().filter_map(|p| p["id"].as_i64()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn recommends_other_products_of_the_category_never_the_product_itself() {
    let (base, _stub) = start(Duration::from_secs(60)).await;

    let (status, body) = get_json(&format!("{base}/recommendations?product_id=3&limit=12")).await;
    assert_eq!(status, 200);
    assert_eq!(body["product_id"], 3);
    let mut recommended = ids(&body);
    recommended.sort_unstable();
    assert_eq!(
        recommended,
        vec![1, 2, 4, 5, 6],
        "all other kitchen products"
    );

    let (_, default_limit) = get_json(&format!("{base}/recommendations?product_id=3")).await;
    assert_eq!(ids(&default_limit).len(), 4);
    assert!(!ids(&default_limit).contains(&3));

    let (_, book) = get_json(&format!("{base}/recommendations?product_id=8")).await;
    assert_eq!(ids(&book), vec![7]);
}

#[tokio::test]
async fn a_second_request_for_the_same_category_is_served_from_the_cache() {
    let (base, stub) = start(Duration::from_secs(60)).await;

    let (first, _) = get_json(&format!("{base}/recommendations?product_id=1")).await;
    let (second, _) = get_json(&format!("{base}/recommendations?product_id=2")).await;
    assert_eq!((first, second), (200, 200));
    assert_eq!(
        stub.category_calls.load(Ordering::SeqCst),
        1,
        "kitchen fetched once"
    );

    let (_, _) = get_json(&format!("{base}/recommendations?product_id=7")).await;
    assert_eq!(
        stub.category_calls.load(Ordering::SeqCst),
        2,
        "books is another entry"
    );
}

#[tokio::test]
async fn an_expired_entry_is_fetched_again() {
    let (base, stub) = start(Duration::ZERO).await;
    get_json(&format!("{base}/recommendations?product_id=1")).await;
    get_json(&format!("{base}/recommendations?product_id=1")).await;
    assert_eq!(stub.category_calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_unknown_product_is_catalogs_404_passed_on() {
    let (base, stub) = start(Duration::from_secs(60)).await;
    let (status, body) = get_json(&format!("{base}/recommendations?product_id=999")).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "not_found");
    assert_eq!(stub.category_calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn bad_parameters_are_400_and_name_the_parameter() {
    let (base, _stub) = start(Duration::from_secs(60)).await;
    for (query, field) in [
        ("", "product_id"),
        ("product_id=abc", "product_id"),
        ("product_id=0", "product_id"),
        ("product_id=1&limit=0", "limit"),
        ("product_id=1&limit=13", "limit"),
    ] {
        let (status, body) = get_json(&format!("{base}/recommendations?{query}")).await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(body["error"], "bad_request");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains(field), "{query}: {message}");
    }
}
