//! The catalog API as this service sees it: the two calls it makes and the JSON it reads.
//!
//! The types are this service's own copy of catalog's contract; services share nothing but
//! HTTP, so each could be deployed (and break) on its own.

use serde::{Deserialize, Serialize};
use tracedojo_kit::{ApiError, HttpClient};

/// A product as catalog returns it and as recommendations pass it on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub id: i64,
    pub sku: String,
    pub name: String,
    pub description: String,
    pub category: String,
    pub price_cents: i64,
    pub currency: String,
    pub image: String,
}

#[derive(Debug, Deserialize)]
struct ProductPage {
    products: Vec<Product>,
}

/// Catalog pages hold at most 100 products; a category has 30.
const CATEGORY_PAGE_LIMIT: u32 = 100;

#[derive(Debug, Clone)]
pub struct CatalogClient {
    http: HttpClient,
}

impl CatalogClient {
    pub fn new(base_url: &str) -> Self {
        CatalogClient {
            http: HttpClient::new("catalog", base_url),
        }
    }

    /// One product; catalog's 404 for an unknown id is passed on to our caller unchanged.
    pub async fn product(&self, id: i64) -> Result<Product, ApiError> {
        self.http
            .get("/products/{id}", &format!("/products/{id}"))
            .await
            .map_err(|source| ApiError::Downstream {
                service: "catalog",
                source,
            })
    }

    /// Every product of a category (one page is enough for any category in the shop).
    pub async fn products_in_category(&self, category: &str) -> Result<Vec<Product>, ApiError> {
        let path = format!(
            "/products?category={}&limit={CATEGORY_PAGE_LIMIT}",
            query_escape(category)
        );
        let page: ProductPage =
            self.http
                .get("/products", &path)
                .await
                .map_err(|source| ApiError::Downstream {
                    service: "catalog",
                    source,
                })?;
        Ok(page.products)
    }
}

/// Percent-encodes a query value. Category slugs are plain `a-z0-9-`, but the slug comes from
/// another service and must not be able to add parameters of its own.
fn query_escape(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::query_escape;

    #[test]
    fn query_values_cannot_add_parameters() {
        assert_eq!(query_escape("kitchen"), "kitchen");
        assert_eq!(query_escape("a&limit=1"), "a%26limit%3D1");
    }
}
