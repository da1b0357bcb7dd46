-- One shipment per order: the primary key is what makes a redelivered message harmless. The
-- same table as SQLite's (migrations/sqlite), in PostgreSQL's words.
CREATE TABLE shipments (
    order_id BIGINT PRIMARY KEY,
    carrier TEXT NOT NULL,
    tracking_number TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
);
