-- The site's stock, one row per SKU. The sync only updates rows that exist:
-- the site inserts its products, KeyCRM's figures fill in `stock`.
CREATE TABLE IF NOT EXISTS products (
  sku TEXT PRIMARY KEY,
  stock INTEGER NOT NULL DEFAULT 0
);
