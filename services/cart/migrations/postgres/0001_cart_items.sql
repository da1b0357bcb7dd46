-- One row per product in a shopper's cart. The name and price are copied from the catalog
-- when the item is added, so showing a cart needs no call to the catalog. The same table as
-- SQLite's (migrations/sqlite), in PostgreSQL's words: BIGINT for every integer (what the
-- service reads them as), times as RFC 3339 UTC text, and `seq`, the order lines were added
-- in, which SQLite's rowid gives for free (retention keeps the newest lines by it).
CREATE TABLE cart_items (
    session_id TEXT NOT NULL,
    product_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    quantity BIGINT NOT NULL CHECK (quantity > 0),
    unit_price_cents BIGINT NOT NULL CHECK (unit_price_cents >= 0),
    added_at TEXT NOT NULL DEFAULT (to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')),
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (session_id, product_id)
);

CREATE INDEX cart_items_seq ON cart_items (seq);
