//! The catalog API: categories, product pages, search and single products.
//!
//! Query parameters arrive as text and are checked here, so a bad value gets a 400 whose
//! message names the parameter (axum's own rejections would answer in plain text).

use axum::extract::{Path, Query, State};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tracedojo_kit::routing::get;
use tracedojo_kit::{ApiError, Db};
use tracing::field::Empty;

use crate::faults;
use crate::store::{self, Category, Product};

/// Page size when the caller gives none.
pub const DEFAULT_LIMIT: i64 = 24;
/// The largest page we serve; bigger ones would let one request read the whole table.
pub const MAX_LIMIT: i64 = 100;
/// At most this many `ids` in one request.
pub const MAX_IDS: usize = 100;
/// Longest search text, in characters.
pub const MAX_QUERY_CHARS: usize = 100;

pub fn router(db: Db) -> Router {
    Router::new()
        .route("/categories", get(list_categories))
        .route("/products", get(list_products))
        // A fixed segment wins over `{id}`, so `/products/search` never reaches get_product.
        .route("/products/search", get(search_products))
        .route("/products/{id}", get(get_product))
        .with_state(db)
}

/// One page of products and how many there are in all.
#[derive(Debug, Serialize)]
pub struct ProductPage {
    pub products: Vec<Product>,
    pub total: i64,
}

#[derive(Debug, Deserialize)]
pub struct ListParams {
    category: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
    ids: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct SearchParams {
    q: Option<String>,
    limit: Option<String>,
}

async fn list_categories(State(db): State<Db>) -> Result<Json<Vec<Category>>, ApiError> {
    Ok(Json(store::categories(&db).await?))
}

/// `?ids=` asks for exactly those products (checkout uses it to re-check prices) and ignores
/// the paging parameters; otherwise a page of all products or of one category.
async fn list_products(
    State(db): State<Db>,
    Query(params): Query<ListParams>,
) -> Result<Json<ProductPage>, ApiError> {
    if let Some(ids) = present(params.ids.as_deref()) {
        let ids = parse_ids(ids)?;
        let products = store::products_by_ids(&db, &ids).await?;
        let total = products.len() as i64;
        return Ok(Json(ProductPage { products, total }));
    }
    let limit = parse_limit(present(params.limit.as_deref()), DEFAULT_LIMIT, MAX_LIMIT)?;
    let offset = parse_offset(present(params.offset.as_deref()))?;
    let one_by_one = faults::lists_load_one_by_one();
    if one_by_one {
        tracedojo_kit::faults::reveal(&tracing::Span::current(), &["n_plus_one"]);
    }
    let page = match present(params.category.as_deref()) {
        Some(category) => {
            let category = parse_category(category)?;
            let products = if one_by_one {
                store::products_in_category_one_by_one(&db, category, limit, offset).await?
            } else {
                store::products_in_category(&db, category, limit, offset).await?
            };
            ProductPage {
                products,
                total: store::count_products_in_category(&db, category).await?,
            }
        }
        None => {
            let products = if one_by_one {
                store::products_page_one_by_one(&db, limit, offset).await?
            } else {
                store::products_page(&db, limit, offset).await?
            };
            ProductPage {
                products,
                total: store::count_products(&db).await?,
            }
        }
    };
    Ok(Json(page))
}

async fn search_products(
    State(db): State<Db>,
    Query(params): Query<SearchParams>,
) -> Result<Json<ProductPage>, ApiError> {
    let text = parse_search_text(params.q.as_deref())?;
    let limit = parse_limit(present(params.limit.as_deref()), DEFAULT_LIMIT, MAX_LIMIT)?;
    Ok(Json(search(&db, text, limit).await?))
}

/// The search itself, in its own span so its two queries (page and count) read as one step.
#[tracing::instrument(name = "search products", skip_all, fields(tracedojo.search.text = %text, tracedojo.search.results = Empty))]
async fn search(db: &Db, text: &str, limit: i64) -> Result<ProductPage, ApiError> {
    if faults::search_index_missing() {
        tracedojo_kit::faults::reveal(&tracing::Span::current(), &["missing_index"]);
    }
    let (products, total) = store::search(db, text, limit).await?;
    tracing::Span::current().record("tracedojo.search.results", total);
    if total == 0 {
        // Searches that find nothing tell the shop what customers want and it does not sell.
        tracing::info!(tracedojo.search.text = %text, "search found nothing");
    }
    Ok(ProductPage { products, total })
}

async fn get_product(
    State(db): State<Db>,
    Path(id): Path<String>,
) -> Result<Json<Product>, ApiError> {
    let id = parse_product_id(&id)?;
    match store::product(&db, id).await? {
        Some(product) => Ok(Json(product)),
        None => Err(ApiError::NotFound(format!("product {id}"))),
    }
}

/// An empty parameter (`?category=`) means the same as a missing one.
fn present(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

fn parse_limit(raw: Option<&str>, default: i64, max: i64) -> Result<i64, ApiError> {
    let Some(raw) = raw else {
        return Ok(default);
    };
    match raw.parse::<i64>() {
        Ok(limit) if (1..=max).contains(&limit) => Ok(limit),
        _ => Err(ApiError::BadRequest(format!(
            "limit must be a whole number from 1 to {max}"
        ))),
    }
}

fn parse_offset(raw: Option<&str>) -> Result<i64, ApiError> {
    let Some(raw) = raw else {
        return Ok(0);
    };
    match raw.parse::<i64>() {
        Ok(offset) if offset >= 0 => Ok(offset),
        _ => Err(ApiError::BadRequest(
            "offset must be a whole number, 0 or more".into(),
        )),
    }
}

fn parse_category(raw: &str) -> Result<&str, ApiError> {
    let is_slug = raw.len() <= 40
        && raw
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if is_slug {
        Ok(raw)
    } else {
        Err(ApiError::BadRequest(
            "category must be a category slug such as \"kitchen\" (see GET /categories)".into(),
        ))
    }
}

fn parse_ids(raw: &str) -> Result<Vec<i64>, ApiError> {
    let ids = raw
        .split(',')
        .map(|part| parse_positive(part.trim()))
        .collect::<Option<Vec<i64>>>()
        .ok_or_else(|| {
            ApiError::BadRequest(
                "ids must be product ids separated by commas, e.g. ids=1,2,3".into(),
            )
        })?;
    if ids.len() > MAX_IDS {
        return Err(ApiError::BadRequest(format!(
            "ids may name at most {MAX_IDS} products"
        )));
    }
    Ok(ids)
}

fn parse_search_text(raw: Option<&str>) -> Result<&str, ApiError> {
    let text = raw.map(str::trim).unwrap_or_default();
    if text.is_empty() {
        return Err(ApiError::BadRequest(
            "q is required: the text to search for".into(),
        ));
    }
    if text.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::BadRequest(format!(
            "q must be at most {MAX_QUERY_CHARS} characters"
        )));
    }
    Ok(text)
}

fn parse_product_id(raw: &str) -> Result<i64, ApiError> {
    parse_positive(raw).ok_or_else(|| {
        ApiError::BadRequest("product id must be a positive whole number, e.g. /products/42".into())
    })
}

fn parse_positive(raw: &str) -> Option<i64> {
    raw.parse::<i64>().ok().filter(|n| *n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_outside_the_range_are_refused() {
        assert_eq!(parse_limit(None, 24, 100).ok(), Some(24));
        assert_eq!(parse_limit(Some("100"), 24, 100).ok(), Some(100));
        assert!(parse_limit(Some("0"), 24, 100).is_err());
        assert!(parse_limit(Some("101"), 24, 100).is_err());
        assert!(parse_limit(Some("ten"), 24, 100).is_err());
    }

    #[test]
    fn ids_are_a_comma_separated_list_of_positive_numbers() {
        assert_eq!(parse_ids("1, 2,3").ok(), Some(vec![1, 2, 3]));
        assert!(parse_ids("1,,2").is_err());
        assert!(parse_ids("1,-2").is_err());
        let too_many = (1..=101)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",");
        assert!(parse_ids(&too_many).is_err());
    }

    #[test]
    fn search_text_is_required_and_bounded() {
        assert!(parse_search_text(None).is_err());
        assert!(parse_search_text(Some("   ")).is_err());
        assert_eq!(parse_search_text(Some(" oven ")).ok(), Some("oven"));
        assert!(parse_search_text(Some(&"a".repeat(101))).is_err());
    }
}
