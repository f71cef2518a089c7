// The README's custom sink (examples/postmeta-sink.js): stock in a WooCommerce-style
// key–value table on MariaDB, held to the same conformance suite as the shipped
// sinks, and synced from the emulator end to end.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import mysql from "mysql2/promise";
import { syncStocks } from "../../js/node.js";
import {
  expectedAvailability,
  generateCatalogue,
  sinkConformance,
  startEmulator,
} from "../../js/testing/index.js";
import { createPostmetaSink } from "../../examples/postmeta-sink.js";
import { scratchName, serverUrl } from "./support/databases.js";

const database = scratchName("keycrm_meta");
const server = mysql.createPool({
  uri: serverUrl("mysql"),
  connectionLimit: 1,
});
let pool;

before(async () => {
  await server.query(`CREATE DATABASE ${database}`);
  pool = mysql.createPool({
    uri: serverUrl("mysql"),
    database,
    connectionLimit: 2,
  });
});

after(async () => {
  await pool.end();
  await server.query(`DROP DATABASE IF EXISTS ${database}`);
  await server.end();
});

/** A fresh wp_postmeta holding a post per row; a negative _stock is refused. */
async function postmetaWith(rows) {
  await pool.query("DROP TABLE IF EXISTS wp_postmeta");
  await pool.query(`CREATE TABLE wp_postmeta (
    meta_id bigint unsigned AUTO_INCREMENT PRIMARY KEY,
    post_id bigint unsigned NOT NULL,
    meta_key varchar(255) NULL,
    meta_value longtext NULL,
    KEY post_id (post_id), KEY meta_key (meta_key(191)),
    CHECK (meta_key <> '_stock' OR CAST(meta_value AS DECIMAL(20,6)) >= 0)
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci`);
  const meta = rows.flatMap((row, i) => [
    [i + 1, "_sku", row.sku],
    [i + 1, "_stock", row.stock === null ? null : String(row.stock)],
    [i + 1, "_price", "9.99"],
  ]);
  if (meta.length > 0) {
    await pool.query(
      "INSERT INTO wp_postmeta (post_id, meta_key, meta_value) VALUES ?",
      [meta],
    );
  }
}

async function stored() {
  const [rows] = await pool.query(`
    SELECT s.meta_value AS sku, q.meta_value AS stock
      FROM wp_postmeta s JOIN wp_postmeta q
        ON q.post_id = s.post_id AND q.meta_key = '_stock'
     WHERE s.meta_key = '_sku'`);
  return rows.map((row) => ({
    sku: row.sku,
    stock: row.stock === null ? null : Number(row.stock),
  }));
}

sinkConformance({
  name: "the README's wp_postmeta sink",
  perWarehouse: false,
  async setup({ rows }) {
    await postmetaWith(rows);
    return { sink: createPostmetaSink(pool), stored };
  },
});

test("the wp_postmeta sink syncs a catalogue from the emulator", async () => {
  const offers = generateCatalogue({ offers: 120 });
  const skus = [...new Set(offers.map((o) => o.sku).filter(Boolean))];
  await postmetaWith(skus.map((sku) => ({ sku, stock: 0 })));
  const emulator = await startEmulator({ offers, rateLimitPerMinute: 6000 });
  try {
    const options = {
      apiKey: "test-api-key",
      apiUrl: emulator.url,
      sink: createPostmetaSink(pool),
      rateLimitPerMinute: 6000,
    };
    const first = await syncStocks(options);
    assert.equal(first.complete, true, first.error?.message);
    const expected = expectedAvailability(offers);
    for (const row of await stored()) {
      assert.equal(row.stock, expected.get(row.sku) ?? 0, row.sku);
    }
    const second = await syncStocks(options);
    assert.equal(second.updated, 0);
  } finally {
    await emulator.close();
  }
});
