//! The orders database: every statement on `orders` and `order_items`, and the two things
//! checkout does with them — save a placed order (with its `order.created` message, in the
//! same transaction), read one back.

use serde::Serialize;
use tracedojo_kit::db::retention::{Bounded, Child};
use tracedojo_kit::outbox::Outbox;
use tracedojo_kit::{Db, Statement};

/// The tables kept to their newest rows (`--keep-rows`): orders, with their lines. An order
/// just placed is among the newest; the outbox is not here (the relay empties it).
pub const RETAINED: &[Bounded] =
    &[
        Bounded::with_children("orders", "id", &[Child::new("order_items", "order_id")])
            .ordered_by("id"),
    ];

/// The status of an order checkout has written; the shipping worker takes it from there.
pub const STATUS_PLACED: &str = "placed";

const INSERT_ORDER: Statement = Statement::new(
    "INSERT",
    "orders",
    "INSERT INTO orders (order_ref, session_id, email, region, status, total_cents, shipping_cents, payment_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id, created_at",
);
const INSERT_ORDER_ITEM: Statement = Statement::new(
    "INSERT",
    "order_items",
    "INSERT INTO order_items (order_id, product_id, name, quantity, unit_price_cents)
     VALUES ($1, $2, $3, $4, $5)",
);
const SELECT_ORDER: Statement = Statement::new(
    "SELECT",
    "orders",
    "SELECT id, status, total_cents, shipping_cents, created_at FROM orders WHERE id = $1",
);
const SELECT_ORDER_ITEMS: Statement = Statement::new(
    "SELECT",
    "order_items",
    "SELECT product_id, name, quantity, unit_price_cents FROM order_items
     WHERE order_id = $1 ORDER BY product_id",
);

/// One line of an order, at the price it was sold for.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct OrderLine {
    pub product_id: i64,
    pub name: String,
    pub quantity: i64,
    pub unit_price_cents: i64,
}

/// Everything written for a new order.
#[derive(Debug)]
pub struct NewOrder<'a> {
    pub order_ref: &'a str,
    pub session_id: &'a str,
    pub email: &'a str,
    pub region: &'a str,
    pub total_cents: i64,
    pub shipping_cents: i64,
    pub payment_id: &'a str,
    pub lines: &'a [OrderLine],
}

/// What the database assigned to a new order.
#[derive(Debug, sqlx::FromRow)]
pub struct SavedOrder {
    pub id: i64,
    pub created_at: String,
}

/// An order as `GET /orders/{order_id}` shows it.
#[derive(Debug, Serialize)]
pub struct OrderView {
    pub order_id: i64,
    pub status: String,
    pub total_cents: i64,
    pub shipping_cents: i64,
    pub items: Vec<OrderLine>,
    pub created_at: String,
}

#[derive(sqlx::FromRow)]
struct OrderRow {
    id: i64,
    status: String,
    total_cents: i64,
    shipping_cents: i64,
    created_at: String,
}

/// The topic the shipping worker listens on.
pub const ORDER_CREATED: &str = "order.created";

/// Writes the order, its lines and its `order.created` message in one transaction: either
/// all of it exists or none. `Ok` comes only after the commit, so an order id handed out is an
/// order stored. `event` builds the message from the id the database gave the order.
#[tracing::instrument(name = "save order", skip_all, fields(tracedojo.order.ref = %order.order_ref, tracedojo.order.line_count = order.lines.len() as i64))]
pub async fn save_order(
    db: &Db,
    outbox: &Outbox,
    order: &NewOrder<'_>,
    event: impl FnOnce(&SavedOrder) -> serde_json::Value,
) -> Result<SavedOrder, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let saved = db
        .run(
            &INSERT_ORDER,
            sqlx::query_as::<_, SavedOrder>(db.sql(&INSERT_ORDER))
                .bind(order.order_ref)
                .bind(order.session_id)
                .bind(order.email)
                .bind(order.region)
                .bind(STATUS_PLACED)
                .bind(order.total_cents)
                .bind(order.shipping_cents)
                .bind(order.payment_id)
                .fetch_one(tx.conn()),
        )
        .await?;
    for line in order.lines {
        db.run(
            &INSERT_ORDER_ITEM,
            sqlx::query(db.sql(&INSERT_ORDER_ITEM))
                .bind(saved.id)
                .bind(line.product_id)
                .bind(&line.name)
                .bind(line.quantity)
                .bind(line.unit_price_cents)
                .execute(tx.conn()),
        )
        .await?;
    }
    outbox.send(&mut tx, ORDER_CREATED, &event(&saved)).await?;
    tx.commit().await?;
    outbox.wake();
    Ok(saved)
}

/// The order with this id and its lines, or `None` if there is no such order.
pub async fn find_order(db: &Db, order_id: i64) -> Result<Option<OrderView>, sqlx::Error> {
    let row = db
        .run(
            &SELECT_ORDER,
            sqlx::query_as::<_, OrderRow>(db.sql(&SELECT_ORDER))
                .bind(order_id)
                .fetch_optional(db.pool()),
        )
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let items = db
        .run(
            &SELECT_ORDER_ITEMS,
            sqlx::query_as::<_, OrderLine>(db.sql(&SELECT_ORDER_ITEMS))
                .bind(row.id)
                .fetch_all(db.pool()),
        )
        .await?;
    Ok(Some(OrderView {
        order_id: row.id,
        status: row.status,
        total_cents: row.total_cents,
        shipping_cents: row.shipping_cents,
        items,
        created_at: row.created_at,
    }))
}
