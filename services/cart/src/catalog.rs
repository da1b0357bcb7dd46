//! The one thing the cart asks the catalog: a product's name and current price.

use serde::Deserialize;
use tracedojo_kit::{ApiError, HttpClient};

/// The part of the catalog's `Product` the cart keeps; other fields are ignored.
#[derive(Debug, Clone, Deserialize)]
pub struct Product {
    pub id: i64,
    pub name: String,
    pub price_cents: i64,
}

/// Looks a product up in the catalog. An unknown product is the catalog's 404, which
/// [`ApiError::Downstream`] passes on to our caller unchanged.
pub async fn fetch_product(catalog: &HttpClient, product_id: i64) -> Result<Product, ApiError> {
    catalog
        .get::<Product>("/products/{id}", &format!("/products/{product_id}"))
        .await
        .map_err(|source| ApiError::Downstream {
            service: "catalog",
            source,
        })
}
