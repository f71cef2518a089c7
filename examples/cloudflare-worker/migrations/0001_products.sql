-- The site's stock, one row per SKU. The sync only updates rows that exist:
-- the site inserts its products, KeyCRM's figures fill in `stock`.
-- `observed_at` is when that figure was seen in KeyCRM (Unix ms), so that a
-- cron's page read before a webhook arrived never overwrites the webhook's.
CREATE TABLE IF NOT EXISTS products (
  sku TEXT PRIMARY KEY,
  stock INTEGER NOT NULL DEFAULT 0,
  observed_at INTEGER
);
