//! The supplier: a periodic job that refills products running low.
//!
//! Without it a shop under constant load (a booth demo running all day) would sell out and
//! answer every checkout with "out of stock". Each run is its own small trace, as a batch
//! job's would be: a root `restock inventory` span holding one `UPDATE stock` span.

use std::time::Duration;

use tracedojo_kit::{Db, Statement};
use tracing::Instrument;
use tracing::field::Empty;

/// Below this many units a product is reordered.
pub const REORDER_POINT: i64 = 20;
/// How many units one delivery brings.
pub const DELIVERY_SIZE: i64 = 200;

const RESTOCK: Statement = Statement::per_engine(
    "UPDATE",
    "stock",
    "UPDATE stock SET available = available + $1, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE available < $2",
    "UPDATE stock SET available = available + $1, updated_at = to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') WHERE available < $2",
);

/// Refills every product below the reorder point once; returns how many were refilled.
pub async fn restock_once(db: &Db) -> Result<u64, sqlx::Error> {
    let span = tracing::info_span!(
        parent: None,
        "restock inventory",
        tracedojo.restock.reorder_point = REORDER_POINT,
        tracedojo.product.count = Empty
    );
    async {
        let result = db
            .run(
                &RESTOCK,
                sqlx::query(db.sql(&RESTOCK))
                    .bind(DELIVERY_SIZE)
                    .bind(REORDER_POINT)
                    .execute(db.pool()),
            )
            .await?;
        let refilled = result.rows_affected();
        tracing::Span::current().record("tracedojo.product.count", refilled as i64);
        if refilled > 0 {
            tracing::info!(tracedojo.product.count = refilled as i64, "stock delivered");
        }
        Ok(refilled)
    }
    .instrument(span)
    .await
}

/// Runs [`restock_once`] every `interval` until `stop` resolves.
pub async fn run_supplier(db: Db, interval: Duration, stop: impl std::future::Future<Output = ()>) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                if let Err(err) = restock_once(&db).await {
                    tracing::warn!(exception.message = %err, "restocking failed; will try again");
                }
            }
            _ = &mut stop => return,
        }
    }
}
