-- One row per product in a shopper's cart. The name and price are copied from the catalog
-- when the item is added, so showing a cart needs no call to the catalog.
CREATE TABLE cart_items (
    session_id TEXT NOT NULL,
    product_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    unit_price_cents INTEGER NOT NULL CHECK (unit_price_cents >= 0),
    added_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (session_id, product_id)
);
