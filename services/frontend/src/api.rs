//! The JSON API under `/api`, for scripts and the load generator.
//!
//! Each handler is a thin layer over one or two calls to other services. Two of them call
//! two services at once with `tokio::join!`, which shows up in a trace as two CLIENT spans
//! that overlap in time: the product with its recommendations, and the order with its
//! shipment.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Json, Router};
use serde::Deserialize;
use tracedojo_kit::ApiError;
use tracedojo_kit::routing::{delete, get, post};

use crate::clients::Clients;
use crate::input;
use crate::model::{Cart, Category, OrderStatus, ProductDetail, ProductList};
use crate::session::Session;

/// How many recommendations a product answer includes.
pub const RECOMMENDATION_COUNT: u32 = 4;
const DEFAULT_PAGE_SIZE: u32 = 24;
const MAX_PAGE_SIZE: u32 = 100;

pub fn router() -> Router<Arc<Clients>> {
    Router::new()
        .route("/api/products", get(list_products))
        .route("/api/products/{id}", get(product_detail))
        .route("/api/search", get(search))
        .route("/api/categories", get(categories))
        .route("/api/cart", get(cart))
        .route("/api/cart/items", post(add_to_cart))
        .route("/api/cart/items/{product_id}", delete(remove_from_cart))
        .route("/api/checkout", post(checkout))
        .route("/api/orders/{order_id}", get(order_status))
        .route("/api/session", get(session))
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    category: Option<String>,
    limit: Option<u32>,
    offset: Option<u32>,
}

async fn list_products(
    State(clients): State<Arc<Clients>>,
    Query(query): Query<ListQuery>,
) -> Result<Json<ProductList>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {MAX_PAGE_SIZE}"
        )));
    }
    let category = query.category.as_deref().filter(|c| !c.is_empty());
    if category.is_some_and(|c| !input::is_valid_slug(c)) {
        return Err(ApiError::BadRequest(
            "category must be a category slug such as kitchen".into(),
        ));
    }
    let products = clients
        .catalog
        .products(category, limit, query.offset.unwrap_or(0))
        .await?;
    Ok(Json(products))
}

/// The product and its recommendations, fetched at the same time.
pub async fn fetch_product_detail(clients: &Clients, id: i64) -> Result<ProductDetail, ApiError> {
    let (product, recommendations) = tokio::join!(
        clients.catalog.product(id),
        clients.recommendation.for_product(id, RECOMMENDATION_COUNT),
    );
    let product = product?;
    // Recommendations are a nice-to-have: without them the product is still worth showing.
    // The failed CLIENT span in the trace still tells the story.
    let recommendations = recommendations.unwrap_or_else(|error| {
        tracing::warn!(tracedojo.product.id = id, exception.message = %error, "showing the product without recommendations");
        Vec::new()
    });
    Ok(ProductDetail {
        product,
        recommendations,
    })
}

async fn product_detail(
    State(clients): State<Arc<Clients>>,
    Path(id): Path<String>,
) -> Result<Json<ProductDetail>, ApiError> {
    let id = input::parse_id("product id", &id)?;
    Ok(Json(fetch_product_detail(&clients, id).await?))
}

#[derive(Debug, Deserialize)]
struct SearchQuery {
    q: Option<String>,
    limit: Option<u32>,
}

async fn search(
    State(clients): State<Arc<Clients>>,
    Query(query): Query<SearchQuery>,
) -> Result<Json<ProductList>, ApiError> {
    let q = input::search_query(query.q.as_deref())?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {MAX_PAGE_SIZE}"
        )));
    }
    Ok(Json(clients.catalog.search(&q, limit).await?))
}

async fn categories(State(clients): State<Arc<Clients>>) -> Result<Json<Vec<Category>>, ApiError> {
    Ok(Json(clients.catalog.categories().await?))
}

async fn cart(
    State(clients): State<Arc<Clients>>,
    session: Session,
) -> Result<Json<Cart>, ApiError> {
    Ok(Json(clients.cart.get(&session.id).await?))
}

#[derive(Debug, Deserialize)]
struct AddToCart {
    product_id: i64,
    quantity: i64,
}

async fn add_to_cart(
    State(clients): State<Arc<Clients>>,
    session: Session,
    Json(body): Json<AddToCart>,
) -> Result<Json<Cart>, ApiError> {
    let item = input::add_item(body.product_id, body.quantity)?;
    let cart = clients.cart.add(&session.id, &item).await?;
    tracing::info!(
        tracedojo.product.id = item.product_id,
        tracedojo.cart.quantity = item.quantity,
        "added to cart"
    );
    Ok(Json(cart))
}

async fn remove_from_cart(
    State(clients): State<Arc<Clients>>,
    session: Session,
    Path(product_id): Path<String>,
) -> Result<Json<Cart>, ApiError> {
    let product_id = input::parse_id("product_id", &product_id)?;
    Ok(Json(clients.cart.remove(&session.id, product_id).await?))
}

/// Places the order; checkout's answer (or its 402/409/400) is passed through unchanged.
async fn checkout(
    State(clients): State<Arc<Clients>>,
    session: Session,
    Json(body): Json<input::CheckoutFields>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let request = input::checkout_request(
        &session,
        &body.card_number,
        &body.email,
        body.region.as_deref(),
    )?;
    let order = clients.checkout.place_order(&request).await?;
    tracing::info!(
        tracedojo.order.id = order.get("order_id").and_then(|id| id.as_i64()),
        "order placed"
    );
    Ok((StatusCode::CREATED, Json(order)))
}

/// The order and its shipment, fetched at the same time.
pub async fn fetch_order_status(clients: &Clients, order_id: i64) -> Result<OrderStatus, ApiError> {
    let (order, shipment) = tokio::join!(
        clients.checkout.order(order_id),
        clients.shipping.shipment(order_id),
    );
    Ok(OrderStatus {
        order: order?,
        shipment: shipment?,
    })
}

async fn order_status(
    State(clients): State<Arc<Clients>>,
    Path(order_id): Path<String>,
) -> Result<Json<OrderStatus>, ApiError> {
    let order_id = input::parse_id("order_id", &order_id)?;
    Ok(Json(fetch_order_status(&clients, order_id).await?))
}

async fn session(session: Session) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "session_id": session.id, "user": session.user }))
}
