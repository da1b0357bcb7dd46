-- How many of each product can still be sold. The CHECK is a last line of defence: the
-- service's conditional UPDATE never lets `available` go below zero in the first place.
CREATE TABLE stock (
    product_id INTEGER PRIMARY KEY,
    available INTEGER NOT NULL CHECK (available >= 0),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- Stock set aside for an order. `status` is 'reserved' until the order gives it back
-- ('released').
CREATE TABLE reservations (
    id TEXT PRIMARY KEY,
    order_ref TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('reserved', 'released')),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE reservation_items (
    reservation_id TEXT NOT NULL REFERENCES reservations (id),
    product_id INTEGER NOT NULL,
    quantity INTEGER NOT NULL CHECK (quantity > 0)
);

CREATE INDEX reservation_items_by_reservation ON reservation_items (reservation_id);
