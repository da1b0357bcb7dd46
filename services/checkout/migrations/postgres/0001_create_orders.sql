-- Orders and their lines. The same tables as SQLite's (migrations/sqlite), in PostgreSQL's
-- words: BIGINT for every integer, ids from an identity (never reused, as AUTOINCREMENT's),
-- created_at as RFC 3339 UTC text, written by the database itself.
CREATE TABLE orders (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_ref TEXT NOT NULL UNIQUE,
    session_id TEXT NOT NULL,
    email TEXT NOT NULL,
    region TEXT NOT NULL,
    status TEXT NOT NULL,
    total_cents BIGINT NOT NULL,
    shipping_cents BIGINT NOT NULL,
    payment_id TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
);

CREATE TABLE order_items (
    order_id BIGINT NOT NULL REFERENCES orders (id),
    product_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    unit_price_cents BIGINT NOT NULL,
    PRIMARY KEY (order_id, product_id)
);
