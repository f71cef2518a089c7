// An in-memory StockSink: for trying a sync without touching a database, and
// for tests that need a sink they can inspect or make fail on purpose.

import { syncError } from "../errors.js";

/**
 * @param {import("./sink.js").SiteStock[]} [rows] the site's rows to start with
 * @param {import("./memory.js").MemorySinkOptions} [options]
 * @returns {import("./memory.js").MemorySink}
 */
export function createMemorySink(rows = [], options = {}) {
  const { failOnWrite } = readOptions(options);
  /** @type {Map<string, import("./sink.js").SiteStock>} */
  const table = new Map();
  for (const row of rows) {
    if (
      typeof row?.sku !== "string" ||
      !(row.stock === null || typeof row.stock === "number")
    ) {
      throw syncError(
        "INVALID_CONFIG",
        "Memory sink rows need a string sku and a number or null stock.",
      );
    }
    table.set(keyOf(row), copy(row));
  }
  let writeCalls = 0;
  const snapshot = () => [...table.values()].map(copy);

  return {
    async read(keys) {
      const keysSeen = new Set();
      const found = [];
      for (const key of keys) {
        const id = keyOf(key);
        const row = table.get(id);
        // Like SQL's IN, a key asked for twice still finds its row once.
        if (row !== undefined && !keysSeen.has(id)) found.push(copy(row));
        keysSeen.add(id);
      }
      return found;
    },

    async write(changes) {
      writeCalls += 1;
      if (writeCalls === failOnWrite) {
        throw syncError(
          "SINK_FAILED",
          `Simulated failure of write call ${writeCalls}; nothing was written`,
        );
      }
      // Check everything before changing anything: a write is all or nothing.
      for (const change of changes) {
        if (change.stock !== null && !Number.isFinite(change.stock)) {
          throw syncError(
            "SINK_FAILED",
            `Stock for SKU "${change.sku}" is neither a finite number nor null; nothing was written`,
          );
        }
      }
      for (const change of changes) {
        const row = table.get(keyOf(change));
        if (row !== undefined) row.stock = change.stock;
      }
    },

    async readAll() {
      return snapshot();
    },

    async close() {},

    rows: snapshot,
  };
}

function readOptions(options) {
  for (const name of Object.keys(options)) {
    if (name !== "failOnWrite") {
      throw syncError(
        "INVALID_CONFIG",
        `Unknown memory sink option "${name}"; known: failOnWrite.`,
      );
    }
  }
  const { failOnWrite } = options;
  if (
    failOnWrite !== undefined &&
    !(Number.isInteger(failOnWrite) && failOnWrite >= 1)
  ) {
    throw syncError(
      "INVALID_CONFIG",
      "failOnWrite must be a whole number ≥ 1 (which write call fails).",
    );
  }
  return { failOnWrite };
}

// A SKU alone and the same SKU at a warehouse are different rows.
function keyOf(key) {
  return JSON.stringify([key.sku, key.warehouseId ?? null]);
}

// Callers get copies, so mutating a result cannot change the sink behind its back.
function copy(row) {
  return row.warehouseId === undefined || row.warehouseId === null
    ? { sku: row.sku, stock: row.stock }
    : { sku: row.sku, warehouseId: row.warehouseId, stock: row.stock };
}
