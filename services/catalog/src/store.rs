//! The catalogue's SQL: every statement the service issues, each declared once.
//!
//! Each function runs its statement through [`Db::run`], so every query becomes a database
//! CLIENT span named after its operation and table (e.g. `SELECT products`) with the full SQL
//! text. Read a slow trace next to this file to see which query it was.

use serde::Serialize;
use sqlx::sqlite::SqliteRow;
use sqlx::{FromRow, Row};
use tracedojo_kit::{Db, Statement};

/// A product as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

// Written by hand because sqlx's derive feature is not enabled in this workspace.
impl FromRow<'_, SqliteRow> for Product {
    fn from_row(row: &SqliteRow) -> Result<Self, sqlx::Error> {
        Ok(Product {
            id: row.try_get("id")?,
            sku: row.try_get("sku")?,
            name: row.try_get("name")?,
            description: row.try_get("description")?,
            category: row.try_get("category")?,
            price_cents: row.try_get("price_cents")?,
            currency: row.try_get("currency")?,
            image: row.try_get("image")?,
        })
    }
}

/// A category with how many products it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Category {
    pub slug: String,
    pub name: String,
    pub product_count: i64,
}

const SELECT_CATEGORIES: Statement = Statement::new(
    "SELECT",
    "categories",
    "SELECT c.slug, c.name, COUNT(p.id) AS product_count FROM categories c \
     LEFT JOIN products p ON p.category = c.slug GROUP BY c.slug, c.name, c.position ORDER BY c.position",
);

const COUNT_PRODUCTS: Statement =
    Statement::new("SELECT", "products", "SELECT COUNT(*) FROM products");

const SELECT_PRODUCTS_PAGE: Statement = Statement::new(
    "SELECT",
    "products",
    "SELECT id, sku, name, description, category, price_cents, currency, image FROM products \
     ORDER BY id LIMIT ?1 OFFSET ?2",
);

const COUNT_PRODUCTS_IN_CATEGORY: Statement = Statement::new(
    "SELECT",
    "products",
    "SELECT COUNT(*) FROM products WHERE category = ?1",
);

const SELECT_PRODUCTS_IN_CATEGORY: Statement = Statement::new(
    "SELECT",
    "products",
    "SELECT id, sku, name, description, category, price_cents, currency, image FROM products \
     WHERE category = ?1 ORDER BY id LIMIT ?2 OFFSET ?3",
);

/// The ids arrive as one JSON array (`[3,7,42]`) so the statement text stays the same whatever
/// the number of ids: one statement, one span name, one line in a slow-query report.
const SELECT_PRODUCTS_BY_IDS: Statement = Statement::new(
    "SELECT",
    "products",
    "SELECT id, sku, name, description, category, price_cents, currency, image FROM products \
     WHERE id IN (SELECT value FROM json_each(?1)) ORDER BY id",
);

const SELECT_PRODUCT: Statement = Statement::new(
    "SELECT",
    "products",
    "SELECT id, sku, name, description, category, price_cents, currency, image FROM products \
     WHERE id = ?1",
);

/// A leading `%` means no index can help: every search reads the whole table. Fine for 240
/// products; a real shop would use full-text search (SQLite FTS5) instead.
const SEARCH_PRODUCTS: Statement = Statement::new(
    "SELECT",
    "products",
    "SELECT id, sku, name, description, category, price_cents, currency, image FROM products \
     WHERE name LIKE ?1 ESCAPE '\\' OR description LIKE ?1 ESCAPE '\\' ORDER BY id LIMIT ?2",
);

const COUNT_SEARCH_RESULTS: Statement = Statement::new(
    "SELECT",
    "products",
    "SELECT COUNT(*) FROM products WHERE name LIKE ?1 ESCAPE '\\' OR description LIKE ?1 ESCAPE '\\'",
);

pub async fn categories(db: &Db) -> Result<Vec<Category>, sqlx::Error> {
    let rows: Vec<(String, String, i64)> = db
        .run(
            &SELECT_CATEGORIES,
            sqlx::query_as(SELECT_CATEGORIES.text).fetch_all(db.pool()),
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|(slug, name, product_count)| Category {
            slug,
            name,
            product_count,
        })
        .collect())
}

pub async fn count_products(db: &Db) -> Result<i64, sqlx::Error> {
    db.run(
        &COUNT_PRODUCTS,
        sqlx::query_scalar(COUNT_PRODUCTS.text).fetch_one(db.pool()),
    )
    .await
}

pub async fn products_page(db: &Db, limit: i64, offset: i64) -> Result<Vec<Product>, sqlx::Error> {
    db.run(
        &SELECT_PRODUCTS_PAGE,
        sqlx::query_as(SELECT_PRODUCTS_PAGE.text)
            .bind(limit)
            .bind(offset)
            .fetch_all(db.pool()),
    )
    .await
}

pub async fn count_products_in_category(db: &Db, category: &str) -> Result<i64, sqlx::Error> {
    db.run(
        &COUNT_PRODUCTS_IN_CATEGORY,
        sqlx::query_scalar(COUNT_PRODUCTS_IN_CATEGORY.text)
            .bind(category)
            .fetch_one(db.pool()),
    )
    .await
}

pub async fn products_in_category(
    db: &Db,
    category: &str,
    limit: i64,
    offset: i64,
) -> Result<Vec<Product>, sqlx::Error> {
    db.run(
        &SELECT_PRODUCTS_IN_CATEGORY,
        sqlx::query_as(SELECT_PRODUCTS_IN_CATEGORY.text)
            .bind(category)
            .bind(limit)
            .bind(offset)
            .fetch_all(db.pool()),
    )
    .await
}

/// The products with these ids, in id order; unknown ids are simply absent.
pub async fn products_by_ids(db: &Db, ids: &[i64]) -> Result<Vec<Product>, sqlx::Error> {
    let ids_json = format!(
        "[{}]",
        ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
    );
    db.run(
        &SELECT_PRODUCTS_BY_IDS,
        sqlx::query_as(SELECT_PRODUCTS_BY_IDS.text)
            .bind(ids_json)
            .fetch_all(db.pool()),
    )
    .await
}

pub async fn product(db: &Db, id: i64) -> Result<Option<Product>, sqlx::Error> {
    db.run(
        &SELECT_PRODUCT,
        sqlx::query_as(SELECT_PRODUCT.text)
            .bind(id)
            .fetch_optional(db.pool()),
    )
    .await
}

/// Products whose name or description contains `text` (case-insensitive for ASCII), and how
/// many match in all.
pub async fn search(db: &Db, text: &str, limit: i64) -> Result<(Vec<Product>, i64), sqlx::Error> {
    let pattern = format!("%{}%", escape_like(text));
    let products = db
        .run(
            &SEARCH_PRODUCTS,
            sqlx::query_as(SEARCH_PRODUCTS.text)
                .bind(&pattern)
                .bind(limit)
                .fetch_all(db.pool()),
        )
        .await?;
    let total = db
        .run(
            &COUNT_SEARCH_RESULTS,
            sqlx::query_scalar(COUNT_SEARCH_RESULTS.text)
                .bind(&pattern)
                .fetch_one(db.pool()),
        )
        .await?;
    Ok((products, total))
}

/// Makes `%` and `_` in the user's text match themselves instead of acting as wildcards.
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::escape_like;

    #[test]
    fn like_wildcards_in_user_text_are_escaped() {
        assert_eq!(escape_like("50%_off\\"), "50\\%\\_off\\\\");
        assert_eq!(escape_like("dutch oven"), "dutch oven");
    }
}
