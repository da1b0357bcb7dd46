-- Search reads this table instead of matching text in products: each product is stored under
-- every word of its name, description and category and every prefix of those words (see
-- src/words.rs), and a query looks its words up through the index on `term`.

CREATE TABLE search_terms (
    term       TEXT NOT NULL,
    product_id BIGINT NOT NULL REFERENCES products (id)
);

-- Without it every search reads all the terms of all the products (a Seq Scan in EXPLAIN).
CREATE INDEX idx_search_terms_term ON search_terms (term);
