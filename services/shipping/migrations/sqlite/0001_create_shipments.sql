-- One shipment per order: the primary key is what makes a redelivered message harmless.
CREATE TABLE shipments (
    order_id INTEGER PRIMARY KEY,
    carrier TEXT NOT NULL,
    tracking_number TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
