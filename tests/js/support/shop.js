// SQLite shop files for the end-to-end tests: a fresh `products` table, and its
// stock read back directly, without going through a sink.

import { join } from "node:path";
import Database from "better-sqlite3";
import { createSampleDatabase } from "keycrm-stock-sync/sqlite";

let files = 0;

/** A new SQLite file in `dir` with `skus` at stock 0; returns its path. */
export function freshShop(dir, skus) {
  const path = join(dir, `shop-${++files}.sqlite`);
  createSampleDatabase(path, { skus, stockValue: 0 });
  return path;
}

/** The file's stock by SKU. */
export function stockOf(path) {
  const db = new Database(path, { readonly: true });
  const rows = db.prepare("SELECT sku, stock FROM products").all();
  db.close();
  return new Map(rows.map((r) => [r.sku, r.stock]));
}
