//! Stock levels: reading one, and filling the table on first start.

use std::ops::RangeInclusive;

use serde::Serialize;
use tracedojo_kit::{Db, Statement};
use tracing::Instrument;

/// The catalog's product ids; every one of them is stocked on first start.
pub const PRODUCT_IDS: RangeInclusive<i64> = 1..=240;

pub(crate) const SELECT_STOCK: Statement = Statement::new(
    "SELECT",
    "stock",
    "SELECT product_id, available FROM stock WHERE product_id = $1",
);

const COUNT_STOCK: &str = "SELECT COUNT(*) FROM stock";
const SEED_STOCK: &str = "INSERT INTO stock (product_id, available) VALUES ($1, $2)";

/// How many of one product are left.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct StockLevel {
    pub product_id: i64,
    pub available: i64,
}

/// The stock of one product, `None` if the product is not stocked here at all.
pub async fn find(db: &Db, product_id: i64) -> Result<Option<StockLevel>, sqlx::Error> {
    db.run(
        &SELECT_STOCK,
        sqlx::query_as::<_, StockLevel>(db.sql(&SELECT_STOCK))
            .bind(product_id)
            .fetch_optional(db.pool()),
    )
    .await
}

/// The quantity a product starts with: varied, but the same on every machine, so a demo
/// (and a test) can be repeated.
pub fn initial_quantity(product_id: i64) -> i64 {
    20 + (product_id * 37) % 180
}

/// Stocks every product, once: only when the table is empty, in one transaction, so a crash
/// half-way leaves nothing behind to confuse the next start.
pub async fn seed_if_empty(db: &Db) -> Result<(), sqlx::Error> {
    async {
        let mut tx = db.begin_write().await?;
        // Replicas starting together on one PostgreSQL database: one seeds, the others then
        // find the stock there.
        tx.lock_named("tracedojo seed stock").await?;
        let existing: i64 = sqlx::query_scalar(COUNT_STOCK).fetch_one(tx.conn()).await?;
        if existing > 0 {
            return Ok(());
        }
        for product_id in PRODUCT_IDS {
            sqlx::query(SEED_STOCK)
                .bind(product_id)
                .bind(initial_quantity(product_id))
                .execute(tx.conn())
                .await?;
        }
        tx.commit().await?;
        tracing::info!(
            tracedojo.product.count = PRODUCT_IDS.count() as i64,
            "stock seeded"
        );
        Ok(())
    }
    // One span for the whole seed: a span per inserted row would only be noise.
    .instrument(tracing::info_span!("seed stock"))
    .await
}
