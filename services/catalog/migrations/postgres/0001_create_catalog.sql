-- The catalogue: categories and the products in them. The same tables as SQLite's
-- (migrations/sqlite), in PostgreSQL's words: BIGINT for every integer, what the service
-- reads them as.

CREATE TABLE categories (
    slug     TEXT PRIMARY KEY NOT NULL,
    name     TEXT NOT NULL,
    image    TEXT NOT NULL,
    -- The order categories are shown in, from the seed data.
    position BIGINT NOT NULL
);

CREATE TABLE products (
    -- The seed gives each product its id.
    id          BIGINT PRIMARY KEY,
    sku         TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    category    TEXT NOT NULL REFERENCES categories (slug),
    price_cents BIGINT NOT NULL CHECK (price_cents > 0),
    currency    TEXT NOT NULL DEFAULT 'USD',
    image       TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

-- Category pages filter on this column; without the index each page scans every product.
CREATE INDEX idx_products_category ON products (category);
