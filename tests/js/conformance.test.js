// The sink conformance suite over the sinks that need no server: SQLite and memory.
// The PostgreSQL and MySQL sinks run it in their own test files.

import { after } from "node:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { syncError } from "../../js/errors.js";
import { createMemorySink } from "../../js/sinks/memory.js";
import { createSqliteSink } from "../../js/sinks/sqlite.js";
import { sinkConformance } from "../../js/testing/index.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keycrm-conformance-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

let files = 0;

sinkConformance({
  name: "SQLite sink",
  observed: true,
  integerStock: true,
  setup({ rows, perWarehouse, observed, integerStock }) {
    files += 1;
    const file = path.join(dir, `site-${files}.db`);
    const db = new Database(file);
    // NOCASE: the sink must match exactly even where the column would not.
    db.exec(`CREATE TABLE products (
      sku TEXT COLLATE NOCASE NOT NULL,
      ${perWarehouse ? "warehouse_id INTEGER NOT NULL," : ""}
      stock ${integerStock ? "INTEGER" : "REAL"} CHECK (stock >= 0)
      ${observed ? ", observed_at INTEGER" : ""})${integerStock ? " STRICT" : ""}`);
    const insert = perWarehouse
      ? db.prepare(
          "INSERT INTO products (sku, warehouse_id, stock) VALUES (?, ?, ?)",
        )
      : db.prepare("INSERT INTO products (sku, stock) VALUES (?, ?)");
    db.transaction(() => {
      for (const row of rows) {
        insert.run(
          ...(perWarehouse
            ? [row.sku, row.warehouseId, row.stock]
            : [row.sku, row.stock]),
        );
      }
    })();
    db.close();
    const columns = perWarehouse ? "sku, warehouse_id AS warehouseId" : "sku";
    return {
      sink: createSqliteSink({
        path: file,
        warehouseColumn: perWarehouse ? "warehouse_id" : undefined,
        observedColumn: observed ? "observed_at" : undefined,
      }),
      async stored() {
        const check = new Database(file, { readonly: true });
        try {
          return check.prepare(`SELECT ${columns}, stock FROM products`).all();
        } finally {
          check.close();
        }
      },
      async dispose() {
        fs.rmSync(file, { force: true });
      },
    };
  },
});

sinkConformance({
  name: "memory sink",
  setup({ rows }) {
    const sink = createMemorySink(rows);
    return {
      // The store's constraint: negative stock is refused. The memory sink checks
      // a whole batch before changing anything, which is what makes it atomic.
      sink: {
        ...sink,
        async write(changes) {
          if (changes.some((change) => change.stock < 0)) {
            throw syncError("SINK_FAILED", "negative stock refused");
          }
          return sink.write(changes);
        },
      },
      stored: async () => sink.rows(),
    };
  },
});
