-- The same tables as SQLite's (migrations/sqlite), in PostgreSQL's words: BIGINT for every
-- integer, times as RFC 3339 UTC text, and on `reservations` a `seq`, the order they were
-- made in, which SQLite's rowid gives for free (retention keeps the newest by it).

-- How many of each product can still be sold. The CHECK is a last line of defence: the
-- service's conditional UPDATE never lets `available` go below zero in the first place.
CREATE TABLE stock (
    product_id BIGINT PRIMARY KEY,
    available BIGINT NOT NULL CHECK (available >= 0),
    updated_at TEXT NOT NULL DEFAULT (to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
);

-- Stock set aside for an order. `status` is 'reserved' until the order gives it back
-- ('released').
CREATE TABLE reservations (
    id TEXT PRIMARY KEY,
    order_ref TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('reserved', 'released')),
    created_at TEXT NOT NULL DEFAULT (to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')),
    seq BIGINT GENERATED ALWAYS AS IDENTITY
);

CREATE INDEX reservations_seq ON reservations (seq);

CREATE TABLE reservation_items (
    reservation_id TEXT NOT NULL REFERENCES reservations (id),
    product_id BIGINT NOT NULL,
    quantity BIGINT NOT NULL CHECK (quantity > 0)
);

CREATE INDEX reservation_items_by_reservation ON reservation_items (reservation_id);
