//! The cart's SQL: every statement is declared once here and run through `Db::run`, so
//! each one becomes a database span named after its operation and table.

use serde::Serialize;
use tracedojo_kit::db::retention::Bounded;
use tracedojo_kit::server::annotate;
use tracedojo_kit::{Db, Statement};

/// The tables kept to their newest rows (`--keep-rows`). Every journey of the load generator
/// shops in a session of its own, and a cart abandoned (or a purchase declined) is never
/// emptied, so the lines would grow without bound. A line keeps the rowid it was first added
/// with, so a cart older than the newest N lines can lose its oldest lines: by then its
/// shopper left long ago.
pub const RETAINED: &[Bounded] = &[Bounded::new("cart_items")];

const SELECT_ITEMS: Statement = Statement::new(
    "SELECT",
    "cart_items",
    "SELECT product_id, name, quantity, unit_price_cents FROM cart_items
     WHERE session_id = $1 ORDER BY added_at, product_id",
);

// Adding a product that is already in the cart adds to its quantity, and refreshes the
// name and price to what the catalog says now. A line stops at MAX_QUANTITY rather than
// failing: a shopper clicking "add" once too often should not see an error. (A CASE, since
// the smaller of two numbers is MIN in SQLite and LEAST in PostgreSQL.)
const UPSERT_ITEM: Statement = Statement::new(
    "INSERT",
    "cart_items",
    "INSERT INTO cart_items (session_id, product_id, name, quantity, unit_price_cents)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (session_id, product_id) DO UPDATE SET
         quantity = CASE WHEN cart_items.quantity + excluded.quantity < $6
                         THEN cart_items.quantity + excluded.quantity ELSE $6 END,
         name = excluded.name,
         unit_price_cents = excluded.unit_price_cents",
);

const DELETE_ITEM: Statement = Statement::new(
    "DELETE",
    "cart_items",
    "DELETE FROM cart_items WHERE session_id = $1 AND product_id = $2",
);

const DELETE_CART: Statement = Statement::new(
    "DELETE",
    "cart_items",
    "DELETE FROM cart_items WHERE session_id = $1",
);

/// The most of one product a cart line may hold.
pub const MAX_QUANTITY: i64 = 99;

/// One line of a cart, as the API returns it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct CartItem {
    pub product_id: i64,
    pub name: String,
    pub quantity: i64,
    pub unit_price_cents: i64,
}

/// A whole cart. An unknown session is simply an empty cart.
#[derive(Debug, Clone, Serialize)]
pub struct Cart {
    pub session_id: String,
    pub items: Vec<CartItem>,
    pub total_cents: i64,
}

impl Cart {
    pub fn new(session_id: &str, items: Vec<CartItem>) -> Self {
        let total_cents = items
            .iter()
            .map(|item| item.quantity * item.unit_price_cents)
            .sum();
        Cart {
            session_id: session_id.to_string(),
            items,
            total_cents,
        }
    }
}

/// Reads a session's cart and prices it.
pub async fn load_cart(db: &Db, session_id: &str) -> Result<Cart, sqlx::Error> {
    let items = db
        .run(
            &SELECT_ITEMS,
            sqlx::query_as::<_, CartItem>(db.sql(&SELECT_ITEMS))
                .bind(session_id)
                .fetch_all(db.pool()),
        )
        .await?;
    let cart = Cart::new(session_id, items);
    annotate("tracedojo.cart.item_count", cart.items.len() as i64);
    annotate("tracedojo.cart.total_cents", cart.total_cents);
    Ok(cart)
}

/// Puts `quantity` of a product into the cart, on top of what is already there.
pub async fn add_item(
    db: &Db,
    session_id: &str,
    product_id: i64,
    name: &str,
    quantity: i64,
    unit_price_cents: i64,
) -> Result<(), sqlx::Error> {
    db.run(
        &UPSERT_ITEM,
        sqlx::query(db.sql(&UPSERT_ITEM))
            .bind(session_id)
            .bind(product_id)
            .bind(name)
            .bind(quantity)
            .bind(unit_price_cents)
            .bind(MAX_QUANTITY)
            .execute(db.pool()),
    )
    .await?;
    Ok(())
}

/// Takes a product out of the cart; says whether it was there.
pub async fn remove_item(db: &Db, session_id: &str, product_id: i64) -> Result<bool, sqlx::Error> {
    let result = db
        .run(
            &DELETE_ITEM,
            sqlx::query(db.sql(&DELETE_ITEM))
                .bind(session_id)
                .bind(product_id)
                .execute(db.pool()),
        )
        .await?;
    Ok(result.rows_affected() > 0)
}

/// Empties the cart; returns how many lines it held.
pub async fn clear_cart(db: &Db, session_id: &str) -> Result<u64, sqlx::Error> {
    let result = db
        .run(
            &DELETE_CART,
            sqlx::query(db.sql(&DELETE_CART))
                .bind(session_id)
                .execute(db.pool()),
        )
        .await?;
    Ok(result.rows_affected())
}
