//! The shapes the other services answer with, as the frontend reads them.
//!
//! These mirror the shop's API contract. Optional fields have defaults so that a service
//! adding a field, or leaving one out, does not break the shop's pages.

use serde::{Deserialize, Serialize};

/// One product, as the catalog describes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Product {
    pub id: i64,
    #[serde(default)]
    pub sku: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub category: String,
    pub price_cents: i64,
    #[serde(default = "usd")]
    pub currency: String,
    #[serde(default)]
    pub image: String,
}

fn usd() -> String {
    "USD".to_string()
}

/// A page of products: a listing, a category or search results.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProductList {
    pub products: Vec<Product>,
    #[serde(default)]
    pub total: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Category {
    pub slug: String,
    pub name: String,
    #[serde(default)]
    pub product_count: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Recommendations {
    #[serde(default)]
    pub product_id: i64,
    pub products: Vec<Product>,
}

/// What `GET /api/products/{id}` answers: the product and what else to look at.
#[derive(Debug, Clone, Serialize)]
pub struct ProductDetail {
    pub product: Product,
    pub recommendations: Vec<Product>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CartItem {
    pub product_id: i64,
    #[serde(default)]
    pub name: String,
    pub quantity: i64,
    #[serde(default)]
    pub unit_price_cents: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cart {
    #[serde(default)]
    pub session_id: String,
    #[serde(default)]
    pub items: Vec<CartItem>,
    #[serde(default)]
    pub total_cents: i64,
}

/// What to add to the cart.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AddItem {
    pub product_id: i64,
    pub quantity: i64,
}

/// What the checkout service needs to place an order.
#[derive(Debug, Clone, Serialize)]
pub struct CheckoutRequest {
    pub session_id: String,
    pub card_number: String,
    pub email: String,
    pub region: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrderItem {
    pub product_id: i64,
    pub quantity: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_price_cents: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Order {
    pub order_id: i64,
    pub status: String,
    #[serde(default)]
    pub total_cents: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_cents: Option<i64>,
    #[serde(default)]
    pub items: Vec<OrderItem>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Shipment {
    pub order_id: i64,
    pub status: String,
    #[serde(default)]
    pub carrier: String,
    #[serde(default)]
    pub tracking_number: String,
}

/// What `GET /api/orders/{id}` answers: shipping is asynchronous, so the shipment may not
/// exist yet.
#[derive(Debug, Clone, Serialize)]
pub struct OrderStatus {
    pub order: Order,
    pub shipment: Option<Shipment>,
}
