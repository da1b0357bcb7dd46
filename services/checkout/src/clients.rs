//! The five services checkout calls, one traced [`HttpClient`] each, and what they exchange.
//!
//! Only the fields checkout uses are declared: serde ignores the rest, so another service can
//! add fields to its answers without breaking this one.

use serde::{Deserialize, Serialize};
use tracedojo_kit::HttpClient;

use crate::Config;

/// One client per downstream service; each names the `service.peer.name` of its CLIENT spans.
#[derive(Debug, Clone)]
pub struct Clients {
    pub cart: HttpClient,
    pub catalog: HttpClient,
    pub inventory: HttpClient,
    pub payment: HttpClient,
    pub shipping: HttpClient,
}

impl Clients {
    pub fn new(config: &Config) -> Self {
        Clients {
            cart: HttpClient::new("cart", &config.cart_url),
            catalog: HttpClient::new("catalog", &config.catalog_url),
            inventory: HttpClient::new("inventory", &config.inventory_url),
            payment: HttpClient::new("payment", &config.payment_url),
            shipping: HttpClient::new("shipping", &config.shipping_url),
        }
    }
}

/// cart: `GET /carts/{session_id}`.
#[derive(Debug, Deserialize)]
pub struct Cart {
    pub items: Vec<CartItem>,
}

#[derive(Debug, Deserialize)]
pub struct CartItem {
    pub product_id: i64,
    pub quantity: i64,
    pub unit_price_cents: i64,
}

/// catalog: `GET /products?ids=..`.
#[derive(Debug, Deserialize)]
pub struct ProductList {
    pub products: Vec<Product>,
}

#[derive(Debug, Deserialize)]
pub struct Product {
    pub id: i64,
    pub name: String,
    pub price_cents: i64,
}

/// A product and how many of it: what inventory reserves and shipping quotes for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ItemQuantity {
    pub product_id: i64,
    pub quantity: i64,
}

/// inventory: `POST /reservations`.
#[derive(Debug, Serialize)]
pub struct ReservationRequest<'a> {
    pub order_ref: &'a str,
    pub items: &'a [ItemQuantity],
}

#[derive(Debug, Deserialize)]
pub struct Reservation {
    pub reservation_id: String,
}

/// payment: `POST /payments`.
#[derive(Debug, Serialize)]
pub struct PaymentRequest<'a> {
    pub order_ref: &'a str,
    pub amount_cents: i64,
    pub currency: &'static str,
    pub card_number: &'a str,
}

#[derive(Debug, Deserialize)]
pub struct Payment {
    pub payment_id: String,
}

/// shipping: `POST /quotes`.
#[derive(Debug, Serialize)]
pub struct QuoteRequest<'a> {
    pub region: &'a str,
    pub items: &'a [ItemQuantity],
}

#[derive(Debug, Deserialize)]
pub struct Quote {
    pub carrier: String,
    pub cost_cents: i64,
    pub estimated_days: i64,
}
