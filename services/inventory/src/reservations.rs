//! Reserving stock for an order and giving it back.
//!
//! A reservation is all-or-nothing: every item is taken with a conditional
//! `UPDATE … WHERE available >= quantity` inside one transaction, and if any product is
//! short the whole transaction is rolled back. The condition in the UPDATE, not a read
//! followed by a write, is what stops two orders from both taking the last unit.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tracedojo_kit::db::Connection;
use tracedojo_kit::db::retention::{Bounded, Child};
use tracedojo_kit::faults::Fault;
use tracedojo_kit::{ApiError, Db, Statement};
use tracing::field::Empty;

use crate::stock::{SELECT_STOCK, StockLevel};

/// The tables kept to their newest rows (`--keep-rows`): reservations, with their items,
/// whatever their status. A placed order's reservation stays 'reserved' for good (only a
/// failed checkout releases one), so waiting for a final status would keep every one; and a
/// reservation a checkout may still release is among the newest, far from the cut. One
/// older than the newest N would be released in vain (404): nothing a demo shop misses.
pub const RETAINED: &[Bounded] = &[Bounded::with_children(
    "reservations",
    "id",
    &[Child::new("reservation_items", "reservation_id")],
)];

/// Times are RFC 3339 UTC text on both engines, each written in the engine's own words.
const TAKE_STOCK: Statement = Statement::per_engine(
    "UPDATE",
    "stock",
    "UPDATE stock SET available = available - $1,
         updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
     WHERE product_id = $2 AND available >= $1",
    "UPDATE stock SET available = available - $1,
         updated_at = to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')
     WHERE product_id = $2 AND available >= $1",
);

const INSERT_RESERVATION: Statement = Statement::new(
    "INSERT",
    "reservations",
    "INSERT INTO reservations (id, order_ref, status) VALUES ($1, $2, 'reserved')",
);

const INSERT_RESERVATION_ITEM: Statement = Statement::new(
    "INSERT",
    "reservation_items",
    "INSERT INTO reservation_items (reservation_id, product_id, quantity) VALUES ($1, $2, $3)",
);

// Only a reservation still 'reserved' changes: this is what makes releasing idempotent,
// even when two releases of the same reservation race.
const MARK_RELEASED: Statement = Statement::new(
    "UPDATE",
    "reservations",
    "UPDATE reservations SET status = 'released' WHERE id = $1 AND status = 'reserved'",
);

const SELECT_RESERVATION_STATUS: Statement = Statement::new(
    "SELECT",
    "reservations",
    "SELECT status FROM reservations WHERE id = $1",
);

const RESTORE_STOCK: Statement = Statement::per_engine(
    "UPDATE",
    "stock",
    "UPDATE stock SET available = available + (
             SELECT SUM(quantity) FROM reservation_items
             WHERE reservation_id = $1 AND product_id = stock.product_id),
         updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
     WHERE product_id IN (SELECT product_id FROM reservation_items WHERE reservation_id = $1)",
    "UPDATE stock SET available = available + (
             SELECT SUM(quantity) FROM reservation_items
             WHERE reservation_id = $1 AND product_id = stock.product_id),
         updated_at = to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')
     WHERE product_id IN (SELECT product_id FROM reservation_items WHERE reservation_id = $1)",
);

/// One line of a reservation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Item {
    pub product_id: i64,
    pub quantity: i64,
}

/// A reservation as the API returns it.
#[derive(Debug, Clone, Serialize)]
pub struct Reservation {
    pub reservation_id: String,
    pub order_ref: String,
    pub items: Vec<Item>,
}

/// What releasing a reservation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Released {
    /// The stock went back on the shelf just now.
    Now,
    /// It had been released before; nothing changed.
    Earlier,
}

/// How long a reservation keeps its transaction open while lock contention is in force.
fn lock_hold() -> Option<Duration> {
    tracedojo_kit::faults::request_fault(|fault| match fault {
        Fault::LockContention { hold_ms, .. } => Some(Duration::from_millis(*hold_ms)),
        _ => None,
    })
}

/// Takes the stock for every item, or none at all.
///
/// Fails with 409 `out_of_stock` naming the first product that is short, or 404 if a product
/// is not stocked here.
#[tracing::instrument(
    name = "reserve stock",
    skip_all,
    fields(tracedojo.order.ref = %order_ref, tracedojo.reservation.item_count = items.len() as i64, tracedojo.reservation.id = Empty, tracedojo.reservation.outcome = Empty)
)]
pub async fn reserve(db: &Db, order_ref: &str, items: &[Item]) -> Result<Reservation, ApiError> {
    let span = tracing::Span::current();
    let reservation_id = format!("res_{:016x}", rand::random::<u64>());
    span.record("tracedojo.reservation.id", reservation_id.as_str());

    // Rows are taken in product order: on PostgreSQL each UPDATE locks its product's row until
    // the commit, and two orders locking the same two products in opposite orders would wait
    // for each other for ever (a deadlock the database breaks by failing one of them).
    let mut in_lock_order: Vec<&Item> = items.iter().collect();
    in_lock_order.sort_by_key(|item| item.product_id);
    let mut tx = db.begin_write().await?;
    for item in in_lock_order {
        let taken = db
            .run(
                &TAKE_STOCK,
                sqlx::query(db.sql(&TAKE_STOCK))
                    .bind(item.quantity)
                    .bind(item.product_id)
                    .execute(tx.conn()),
            )
            .await?;
        if taken.rows_affected() == 0 {
            let refusal = explain_shortage(db, tx.conn(), item).await?;
            tx.rollback().await?;
            span.record("tracedojo.reservation.outcome", "out_of_stock");
            tracing::info!(tracedojo.product.id = item.product_id, exception.message = %refusal, "reservation refused");
            return Err(refusal);
        }
    }
    db.run(
        &INSERT_RESERVATION,
        sqlx::query(db.sql(&INSERT_RESERVATION))
            .bind(&reservation_id)
            .bind(order_ref)
            .execute(tx.conn()),
    )
    .await?;
    for item in items {
        db.run(
            &INSERT_RESERVATION_ITEM,
            sqlx::query(db.sql(&INSERT_RESERVATION_ITEM))
                .bind(&reservation_id)
                .bind(item.product_id)
                .bind(item.quantity)
                .execute(tx.conn()),
        )
        .await?;
    }
    if let Some(hold) = lock_hold() {
        // Slow work inside the transaction: the locks taken by the UPDATEs above stay held
        // (SQLite's one write lock, PostgreSQL's locks on the products' rows), and every
        // other reservation (on PostgreSQL, of the same products) waits for them.
        tokio::time::sleep(hold).await;
    }
    tx.commit().await?;

    span.record("tracedojo.reservation.outcome", "reserved");
    tracing::info!(tracedojo.reservation.id = %reservation_id, tracedojo.order.ref = order_ref, tracedojo.reservation.item_count = items.len() as i64, "stock reserved");
    Ok(Reservation {
        reservation_id,
        order_ref: order_ref.to_string(),
        items: items.to_vec(),
    })
}

/// Why the conditional update took nothing: the product is short, or not stocked at all.
async fn explain_shortage(
    db: &Db,
    conn: &mut Connection,
    item: &Item,
) -> Result<ApiError, sqlx::Error> {
    let level = db
        .run(
            &SELECT_STOCK,
            sqlx::query_as::<_, StockLevel>(db.sql(&SELECT_STOCK))
                .bind(item.product_id)
                .fetch_optional(&mut *conn),
        )
        .await?;
    Ok(match level {
        None => ApiError::NotFound(format!("product {}", item.product_id)),
        Some(level) => ApiError::Conflict {
            code: "out_of_stock",
            message: format!(
                "product {} is out of stock: {} requested, {} available",
                item.product_id, item.quantity, level.available
            ),
        },
    })
}

/// Puts a reservation's stock back. Releasing twice changes nothing the second time.
#[tracing::instrument(
    name = "release reservation",
    skip_all,
    fields(tracedojo.reservation.id = %reservation_id, tracedojo.reservation.outcome = Empty)
)]
pub async fn release(db: &Db, reservation_id: &str) -> Result<Released, ApiError> {
    let span = tracing::Span::current();
    let mut tx = db.begin_write().await?;
    let marked = db
        .run(
            &MARK_RELEASED,
            sqlx::query(db.sql(&MARK_RELEASED))
                .bind(reservation_id)
                .execute(tx.conn()),
        )
        .await?;
    if marked.rows_affected() == 0 {
        let status: Option<String> = db
            .run(
                &SELECT_RESERVATION_STATUS,
                sqlx::query_scalar(db.sql(&SELECT_RESERVATION_STATUS))
                    .bind(reservation_id)
                    .fetch_optional(tx.conn()),
            )
            .await?;
        tx.rollback().await?;
        return match status {
            None => Err(ApiError::NotFound(format!("reservation {reservation_id}"))),
            Some(_) => {
                span.record("tracedojo.reservation.outcome", "already_released");
                tracing::info!(
                    tracedojo.reservation.id = reservation_id,
                    "reservation was already released"
                );
                Ok(Released::Earlier)
            }
        };
    }
    db.run(
        &RESTORE_STOCK,
        sqlx::query(db.sql(&RESTORE_STOCK))
            .bind(reservation_id)
            .execute(tx.conn()),
    )
    .await?;
    tx.commit().await?;

    span.record("tracedojo.reservation.outcome", "released");
    tracing::info!(
        tracedojo.reservation.id = reservation_id,
        "reservation released, stock restored"
    );
    Ok(Released::Now)
}
