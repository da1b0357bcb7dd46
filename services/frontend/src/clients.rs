//! One typed client per service the frontend calls.
//!
//! Each method is one HTTP call through the kit's traced [`HttpClient`], so each becomes one
//! CLIENT span named after the callee's route (`GET /products/{id}`) and carries the trace
//! context and the user's baggage. Errors become [`ApiError::Downstream`], which passes a
//! callee's 4xx (a decline, an unknown product) on unchanged and turns the rest into 502/504.

use tracedojo_kit::{ApiError, ClientError, HttpClient};

use crate::Config;
use crate::model::{
    AddItem, Cart, Category, CheckoutRequest, Order, Product, ProductList, Recommendations,
    Shipment,
};

/// The clients of every service the frontend talks to.
#[derive(Debug, Clone)]
pub struct Clients {
    pub catalog: CatalogClient,
    pub cart: CartClient,
    pub checkout: CheckoutClient,
    pub recommendation: RecommendationClient,
    pub shipping: ShippingClient,
}

impl Clients {
    pub fn new(config: &Config) -> Clients {
        Clients {
            catalog: CatalogClient(HttpClient::new("catalog", &config.catalog_url)),
            cart: CartClient(HttpClient::new("cart", &config.cart_url)),
            checkout: CheckoutClient(HttpClient::new("checkout", &config.checkout_url)),
            recommendation: RecommendationClient(HttpClient::new(
                "recommendation",
                &config.recommendation_url,
            )),
            shipping: ShippingClient(HttpClient::new("shipping", &config.shipping_url)),
        }
    }
}

fn downstream(service: &'static str) -> impl FnOnce(ClientError) -> ApiError {
    move |source| ApiError::Downstream { service, source }
}

#[derive(Debug, Clone)]
pub struct CatalogClient(HttpClient);

impl CatalogClient {
    pub async fn categories(&self) -> Result<Vec<Category>, ApiError> {
        self.0
            .get("/categories", "/categories")
            .await
            .map_err(downstream("catalog"))
    }

    pub async fn products(
        &self,
        category: Option<&str>,
        limit: u32,
        offset: u32,
    ) -> Result<ProductList, ApiError> {
        let mut path = format!("/products?limit={limit}&offset={offset}");
        if let Some(category) = category {
            path.push_str(&format!("&category={}", encode_query_value(category)));
        }
        self.0
            .get("/products", &path)
            .await
            .map_err(downstream("catalog"))
    }

    pub async fn search(&self, query: &str, limit: u32) -> Result<ProductList, ApiError> {
        let path = format!(
            "/products/search?q={}&limit={limit}",
            encode_query_value(query)
        );
        self.0
            .get("/products/search", &path)
            .await
            .map_err(downstream("catalog"))
    }

    pub async fn product(&self, id: i64) -> Result<Product, ApiError> {
        self.0
            .get("/products/{id}", &format!("/products/{id}"))
            .await
            .map_err(downstream("catalog"))
    }
}

/// Session ids are checked by [`crate::session`] to be URL-safe before they get here.
#[derive(Debug, Clone)]
pub struct CartClient(HttpClient);

impl CartClient {
    pub async fn get(&self, session_id: &str) -> Result<Cart, ApiError> {
        self.0
            .get("/carts/{session_id}", &format!("/carts/{session_id}"))
            .await
            .map_err(downstream("cart"))
    }

    pub async fn add(&self, session_id: &str, item: &AddItem) -> Result<Cart, ApiError> {
        self.0
            .post(
                "/carts/{session_id}/items",
                &format!("/carts/{session_id}/items"),
                item,
            )
            .await
            .map_err(downstream("cart"))
    }

    pub async fn remove(&self, session_id: &str, product_id: i64) -> Result<Cart, ApiError> {
        self.0
            .delete(
                "/carts/{session_id}/items/{product_id}",
                &format!("/carts/{session_id}/items/{product_id}"),
            )
            .await
            .map_err(downstream("cart"))
    }
}

#[derive(Debug, Clone)]
pub struct CheckoutClient(HttpClient);

impl CheckoutClient {
    /// Places the order. The answer is kept as raw JSON: the API passes it through as it is.
    pub async fn place_order(
        &self,
        request: &CheckoutRequest,
    ) -> Result<serde_json::Value, ApiError> {
        self.0
            .post("/checkout", "/checkout", request)
            .await
            .map_err(downstream("checkout"))
    }

    pub async fn order(&self, order_id: i64) -> Result<Order, ApiError> {
        self.0
            .get("/orders/{order_id}", &format!("/orders/{order_id}"))
            .await
            .map_err(downstream("checkout"))
    }
}

#[derive(Debug, Clone)]
pub struct RecommendationClient(HttpClient);

impl RecommendationClient {
    pub async fn for_product(&self, product_id: i64, limit: u32) -> Result<Vec<Product>, ApiError> {
        let path = format!("/recommendations?product_id={product_id}&limit={limit}");
        self.0
            .get::<Recommendations>("/recommendations", &path)
            .await
            .map(|r| r.products)
            .map_err(downstream("recommendation"))
    }
}

#[derive(Debug, Clone)]
pub struct ShippingClient(HttpClient);

/// Shipping's answer to `GET /shipments?order_id=..`.
#[derive(Debug, serde::Deserialize)]
struct OrderShipments {
    shipments: Vec<Shipment>,
}

impl ShippingClient {
    /// The order's shipment, or `None` while the shipping worker has not got to it yet.
    pub async fn shipment(&self, order_id: i64) -> Result<Option<Shipment>, ApiError> {
        let path = format!("/shipments?order_id={order_id}");
        let listed: OrderShipments = self
            .0
            .get("/shipments", &path)
            .await
            .map_err(downstream("shipping"))?;
        Ok(listed.shipments.into_iter().next())
    }
}

/// Percent-encodes a query-string value (everything but the RFC 3986 unreserved characters),
/// so a search for `a&b=c` stays one parameter.
pub fn encode_query_value(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(encode_query_value("tea pot&x=1"), "tea%20pot%26x%3D1");
        assert_eq!(encode_query_value("café"), "caf%C3%A9");
    }
}
