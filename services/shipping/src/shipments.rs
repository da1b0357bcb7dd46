//! The shipments table: record a shipment once, read it back.

use serde::Serialize;
use tracedojo_kit::db::retention::Bounded;
use tracedojo_kit::{Db, Statement};

use crate::quote::Carrier;

/// The tables kept to their newest rows (`--keep-rows`). A shipment's rowid is its order id,
/// so the oldest orders' shipments go first. A message redelivered for an order whose shipment
/// was already deleted would ship it again: only possible for an order older than the newest
/// N, long after its message was acknowledged.
pub const RETAINED: &[Bounded] = &[Bounded::new("shipments").ordered_by("order_id")];

/// A shipment's first status: the label is printed, the carrier has not collected it yet.
pub const STATUS_LABEL_CREATED: &str = "label_created";

// DO NOTHING: a message delivered twice must not fail, and must not make a second shipment.
const INSERT_SHIPMENT: Statement = Statement::new(
    "INSERT",
    "shipments",
    "INSERT INTO shipments (order_id, carrier, tracking_number, status) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (order_id) DO NOTHING",
);
const SELECT_SHIPMENT: Statement = Statement::new(
    "SELECT",
    "shipments",
    "SELECT order_id, status, carrier, tracking_number FROM shipments WHERE order_id = $1",
);

/// A shipment as `GET /shipments?order_id=..` shows it.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Shipment {
    pub order_id: i64,
    pub status: String,
    pub carrier: String,
    pub tracking_number: String,
}

/// The same order always gets the same number, so a redelivered message changes nothing.
pub fn tracking_number(carrier: &Carrier, order_id: i64) -> String {
    format!("{}{order_id:010}", carrier.tracking_prefix)
}

/// Records the shipment of `order_id`; `false` if it had already been recorded.
#[tracing::instrument(name = "create shipment", skip_all, fields(tracedojo.order.id = order_id, tracedojo.shipping.carrier = carrier.name))]
pub async fn create_shipment(
    db: &Db,
    order_id: i64,
    carrier: &Carrier,
) -> Result<bool, sqlx::Error> {
    let result = db
        .run(
            &INSERT_SHIPMENT,
            sqlx::query(db.sql(&INSERT_SHIPMENT))
                .bind(order_id)
                .bind(carrier.name)
                .bind(tracking_number(carrier, order_id))
                .bind(STATUS_LABEL_CREATED)
                .execute(db.pool()),
        )
        .await?;
    Ok(result.rows_affected() == 1)
}

pub async fn find_shipment(db: &Db, order_id: i64) -> Result<Option<Shipment>, sqlx::Error> {
    db.run(
        &SELECT_SHIPMENT,
        sqlx::query_as::<_, Shipment>(db.sql(&SELECT_SHIPMENT))
            .bind(order_id)
            .fetch_optional(db.pool()),
    )
    .await
}
