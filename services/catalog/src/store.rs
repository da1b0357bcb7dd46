//! The catalogue's SQL: every statement the service issues, each declared once.
//!
//! Each function runs its statement through [`Db::run`], so every query becomes a database
//! CLIENT span named after its operation and table (e.g. `SELECT products`) with the full SQL
//! text. Read a slow trace next to this file to see which query it was.
//!
//! The exceptions are the search index's schema changes and its query plan: work done to the
//! database rather than for a request, so they show in no trace.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{FromRow, Row};
use tracedojo_kit::db::Engine;
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
impl FromRow<'_, AnyRow> for Product {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
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
     ORDER BY id LIMIT $1 OFFSET $2",
);

const COUNT_PRODUCTS_IN_CATEGORY: Statement = Statement::new(
    "SELECT",
    "products",
    "SELECT COUNT(*) FROM products WHERE category = $1",
);

const SELECT_PRODUCTS_IN_CATEGORY: Statement = Statement::new(
    "SELECT",
    "products",
    "SELECT id, sku, name, description, category, price_cents, currency, image FROM products \
     WHERE category = $1 ORDER BY id LIMIT $2 OFFSET $3",
);

/// The ids arrive as one JSON array (`[3,7,42]`) so the statement text stays the same whatever
/// the number of ids: one statement, one span name, one line in a slow-query report. SQLite
/// reads the array with `json_each`, PostgreSQL with `jsonb_array_elements_text`.
const SELECT_PRODUCTS_BY_IDS: Statement = Statement::per_engine(
    "SELECT",
    "products",
    "SELECT id, sku, name, description, category, price_cents, currency, image FROM products \
     WHERE id IN (SELECT value FROM json_each($1)) ORDER BY id",
    "SELECT id, sku, name, description, category, price_cents, currency, image FROM products \
     WHERE id = ANY (ARRAY(SELECT jsonb_array_elements_text($1::jsonb)::bigint)) ORDER BY id",
);

const SELECT_PRODUCT: Statement = Statement::new(
    "SELECT",
    "products",
    "SELECT id, sku, name, description, category, price_cents, currency, image FROM products \
     WHERE id = $1",
);

/// The products whose terms include every word searched for. `$1` holds the distinct words
/// as one JSON array, `$2` how many there are: a product matches when it has that many of
/// them. The lookup of the words goes through `idx_search_terms_term`. (On PostgreSQL the
/// words are an array compared with `= ANY`: the planner cannot see how many rows `IN (SELECT
/// ...)` over a function yields, guesses many, and would scan the table even with the index.)
pub const SEARCH_PRODUCTS: Statement = Statement::per_engine(
    "SELECT",
    "search_terms",
    "SELECT id, sku, name, description, category, price_cents, currency, image FROM products \
     WHERE id IN (SELECT product_id FROM search_terms WHERE term IN (SELECT value FROM json_each($1)) \
     GROUP BY product_id HAVING COUNT(DISTINCT term) = $2) ORDER BY id LIMIT $3",
    "SELECT id, sku, name, description, category, price_cents, currency, image FROM products \
     WHERE id IN (SELECT product_id FROM search_terms \
     WHERE term = ANY (ARRAY(SELECT jsonb_array_elements_text($1::jsonb))) \
     GROUP BY product_id HAVING COUNT(DISTINCT term) = $2) ORDER BY id LIMIT $3",
);

const COUNT_SEARCH_RESULTS: Statement = Statement::per_engine(
    "SELECT",
    "search_terms",
    "SELECT COUNT(*) FROM (SELECT product_id FROM search_terms \
     WHERE term IN (SELECT value FROM json_each($1)) GROUP BY product_id HAVING COUNT(DISTINCT term) = $2)",
    "SELECT COUNT(*) FROM (SELECT product_id FROM search_terms \
     WHERE term = ANY (ARRAY(SELECT jsonb_array_elements_text($1::jsonb))) \
     GROUP BY product_id HAVING COUNT(DISTINCT term) = $2) AS matches",
);

/// Only the ids of a page, for loading its products one at a time.
const SELECT_PRODUCT_IDS_PAGE: Statement = Statement::new(
    "SELECT",
    "products",
    "SELECT id FROM products ORDER BY id LIMIT $1 OFFSET $2",
);

const SELECT_PRODUCT_IDS_IN_CATEGORY: Statement = Statement::new(
    "SELECT",
    "products",
    "SELECT id FROM products WHERE category = $1 ORDER BY id LIMIT $2 OFFSET $3",
);

/// Any read of the schema table: makes a connection load the schema again if it changed.
const READ_SCHEMA: &str = "SELECT COUNT(*) FROM sqlite_schema";

/// The index search relies on. Dropping and recreating it is schema work done to the
/// database, not part of serving a request, so these run without a span.
const DROP_SEARCH_INDEX: &str = "DROP INDEX IF EXISTS idx_search_terms_term";
const CREATE_SEARCH_INDEX: &str =
    "CREATE INDEX IF NOT EXISTS idx_search_terms_term ON search_terms (term)";

pub async fn categories(db: &Db) -> Result<Vec<Category>, sqlx::Error> {
    let rows: Vec<(String, String, i64)> = db
        .run(
            &SELECT_CATEGORIES,
            sqlx::query_as(db.sql(&SELECT_CATEGORIES)).fetch_all(db.pool()),
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
        sqlx::query_scalar(db.sql(&COUNT_PRODUCTS)).fetch_one(db.pool()),
    )
    .await
}

pub async fn products_page(db: &Db, limit: i64, offset: i64) -> Result<Vec<Product>, sqlx::Error> {
    db.run(
        &SELECT_PRODUCTS_PAGE,
        sqlx::query_as(db.sql(&SELECT_PRODUCTS_PAGE))
            .bind(limit)
            .bind(offset)
            .fetch_all(db.pool()),
    )
    .await
}

pub async fn count_products_in_category(db: &Db, category: &str) -> Result<i64, sqlx::Error> {
    db.run(
        &COUNT_PRODUCTS_IN_CATEGORY,
        sqlx::query_scalar(db.sql(&COUNT_PRODUCTS_IN_CATEGORY))
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
        sqlx::query_as(db.sql(&SELECT_PRODUCTS_IN_CATEGORY))
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
        sqlx::query_as(db.sql(&SELECT_PRODUCTS_BY_IDS))
            .bind(ids_json)
            .fetch_all(db.pool()),
    )
    .await
}

pub async fn product(db: &Db, id: i64) -> Result<Option<Product>, sqlx::Error> {
    db.run(
        &SELECT_PRODUCT,
        sqlx::query_as(db.sql(&SELECT_PRODUCT))
            .bind(id)
            .fetch_optional(db.pool()),
    )
    .await
}

/// Products that have every word of `text` (see [`crate::words`]) among their terms, in id
/// order, and how many match in all. Text without any word finds nothing.
pub async fn search(db: &Db, text: &str, limit: i64) -> Result<(Vec<Product>, i64), sqlx::Error> {
    let words = crate::words::words(text);
    if words.is_empty() {
        return Ok((Vec::new(), 0));
    }
    let words_json = json_array(&words);
    let count = words.len() as i64;
    let products = db
        .run(
            &SEARCH_PRODUCTS,
            sqlx::query_as(db.sql(&SEARCH_PRODUCTS))
                .bind(&words_json)
                .bind(count)
                .bind(limit)
                .fetch_all(db.pool()),
        )
        .await?;
    let total = db
        .run(
            &COUNT_SEARCH_RESULTS,
            sqlx::query_scalar(db.sql(&COUNT_SEARCH_RESULTS))
                .bind(&words_json)
                .bind(count)
                .fetch_one(db.pool()),
        )
        .await?;
    Ok((products, total))
}

/// How the database runs the search for `text`: one line per step of its plan. SQLite says
/// `SEARCH search_terms USING INDEX idx_search_terms_term (term=?)` or `SCAN search_terms`,
/// PostgreSQL `Bitmap Index Scan on idx_search_terms_term` or `Seq Scan on search_terms`. For
/// checking which of the two a database does now.
pub async fn search_plan(db: &Db, text: &str) -> Result<Vec<String>, sqlx::Error> {
    let words = crate::words::words(text);
    let mut conn = db.pool().acquire().await?;
    let (explain, column) = match db.engine() {
        Engine::Sqlite => {
            // EXPLAIN reads no table, so SQLite would not notice on its own that another
            // connection changed the schema since this one last looked: reading the schema
            // first reloads it.
            sqlx::query(READ_SCHEMA).execute(&mut *conn).await?;
            ("EXPLAIN QUERY PLAN", "detail")
        }
        Engine::Postgres => ("EXPLAIN", "QUERY PLAN"),
    };
    // Built from constant text only, so nothing a caller sends can reach the SQL.
    let explain = format!("{explain} {}", db.sql(&SEARCH_PRODUCTS));
    let rows = sqlx::query(sqlx::AssertSqlSafe(explain))
        .persistent(false)
        .bind(json_array(&words))
        .bind(words.len() as i64)
        .bind(1_i64)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(|row| row.try_get(column)).collect()
}

/// Removes the search index: every search then reads the whole `search_terms` table.
pub async fn drop_search_index(db: &Db) -> Result<(), sqlx::Error> {
    sqlx::query(DROP_SEARCH_INDEX).execute(db.pool()).await?;
    Ok(())
}

/// Builds the search index again if it is missing.
pub async fn create_search_index(db: &Db) -> Result<(), sqlx::Error> {
    sqlx::query(CREATE_SEARCH_INDEX).execute(db.pool()).await?;
    Ok(())
}

/// A page of all products loaded the way a lazy ORM does: the ids in one query, then one
/// query per product.
pub async fn products_page_one_by_one(
    db: &Db,
    limit: i64,
    offset: i64,
) -> Result<Vec<Product>, sqlx::Error> {
    let ids: Vec<i64> = db
        .run(
            &SELECT_PRODUCT_IDS_PAGE,
            sqlx::query_scalar(db.sql(&SELECT_PRODUCT_IDS_PAGE))
                .bind(limit)
                .bind(offset)
                .fetch_all(db.pool()),
        )
        .await?;
    products_one_by_one(db, &ids).await
}

/// [`products_in_category`], loaded one product per query like [`products_page_one_by_one`].
pub async fn products_in_category_one_by_one(
    db: &Db,
    category: &str,
    limit: i64,
    offset: i64,
) -> Result<Vec<Product>, sqlx::Error> {
    let ids: Vec<i64> = db
        .run(
            &SELECT_PRODUCT_IDS_IN_CATEGORY,
            sqlx::query_scalar(db.sql(&SELECT_PRODUCT_IDS_IN_CATEGORY))
                .bind(category)
                .bind(limit)
                .bind(offset)
                .fetch_all(db.pool()),
        )
        .await?;
    products_one_by_one(db, &ids).await
}

/// Each query waits for the one before, as code looping over lazily loaded rows does.
async fn products_one_by_one(db: &Db, ids: &[i64]) -> Result<Vec<Product>, sqlx::Error> {
    let mut products = Vec::with_capacity(ids.len());
    for id in ids {
        // A product removed between the two queries is simply left out.
        if let Some(product) = product(db, *id).await? {
            products.push(product);
        }
    }
    Ok(products)
}

/// `["dutch","oven"]`: a list of words as one bind parameter.
fn json_array(words: &[String]) -> String {
    serde_json::Value::from(words.to_vec()).to_string()
}

#[cfg(test)]
mod tests {
    use super::json_array;

    #[test]
    fn words_become_one_json_array_with_quotes_escaped() {
        let words = ["dutch".to_string(), "o\"ven".to_string()];
        assert_eq!(json_array(&words), r#"["dutch","o\"ven"]"#);
        assert_eq!(json_array(&[]), "[]");
    }
}
