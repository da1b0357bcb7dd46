//! The recommendation API: `GET /recommendations?product_id=ID&limit=N`.
//!
//! A request makes one catalog call for the product, then reads the product's category
//! through the cache: on a hit that is all, on a miss a second catalog call fills the cache.
//! Compare two traces of the same product to see the difference.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tracedojo_kit::ApiError;
use tracedojo_kit::routing::get;
use tracing::field::Empty;

use crate::cache::CategoryCache;
use crate::catalog::{CatalogClient, Product};
use crate::pick::pick_others;

/// Recommendations per request when the caller gives no `limit`.
pub const DEFAULT_LIMIT: usize = 4;
/// The most recommendations one request may ask for.
pub const MAX_LIMIT: usize = 12;

/// What every request shares: the catalog client and the cache.
#[derive(Debug)]
pub struct AppState {
    pub catalog: CatalogClient,
    pub cache: CategoryCache,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/recommendations", get(recommendations))
        .with_state(Arc::new(state))
}

/// Parameters arrive as text so that a bad value gets our 400 naming it, not axum's.
#[derive(Debug, Deserialize)]
pub struct RecommendationParams {
    product_id: Option<String>,
    limit: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Recommendations {
    pub product_id: i64,
    pub products: Vec<Product>,
}

async fn recommendations(
    State(state): State<Arc<AppState>>,
    Query(params): Query<RecommendationParams>,
) -> Result<Json<Recommendations>, ApiError> {
    let product_id = parse_product_id(params.product_id.as_deref())?;
    let limit = parse_limit(params.limit.as_deref())?;
    let product = state.catalog.product(product_id).await?;
    let candidates = category_products(&state, &product.category).await?;
    let products = pick_others(product_id, candidates, limit);
    if products.is_empty() {
        tracing::info!(tracedojo.product.id = product_id, tracedojo.product.category = %product.category, "no other products to recommend");
    }
    Ok(Json(Recommendations {
        product_id,
        products,
    }))
}

/// The category's products from the cache, fetched from catalog on a miss. The catalog call
/// of a miss is a child of this span, so a trace shows what the miss cost.
#[tracing::instrument(name = "cache lookup", skip_all, fields(tracedojo.cache.key = %category, tracedojo.cache.hit = Empty))]
async fn category_products(state: &AppState, category: &str) -> Result<Vec<Product>, ApiError> {
    if let Some(products) = state.cache.get(category) {
        tracing::Span::current().record("tracedojo.cache.hit", true);
        return Ok(products);
    }
    tracing::Span::current().record("tracedojo.cache.hit", false);
    let products = state.catalog.products_in_category(category).await?;
    tracing::info!(
        tracedojo.product.category = category,
        tracedojo.product.count = products.len() as i64,
        "cached the category's products"
    );
    state.cache.insert(category, products.clone());
    Ok(products)
}

fn parse_product_id(raw: Option<&str>) -> Result<i64, ApiError> {
    let raw = raw.map(str::trim).unwrap_or_default();
    if raw.is_empty() {
        return Err(ApiError::BadRequest(
            "product_id is required: the product to recommend others for".into(),
        ));
    }
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::BadRequest("product_id must be a positive whole number".into()))
}

fn parse_limit(raw: Option<&str>) -> Result<usize, ApiError> {
    let Some(raw) = raw.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(DEFAULT_LIMIT);
    };
    match raw.parse::<usize>() {
        Ok(limit) if (1..=MAX_LIMIT).contains(&limit) => Ok(limit),
        _ => Err(ApiError::BadRequest(format!(
            "limit must be a whole number from 1 to {MAX_LIMIT}"
        ))),
    }
}
