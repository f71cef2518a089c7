// Filters against the emulator, which splits them as KeyCRM's Laravel backend
// does: SKUs holding commas, and the catch-up of orders changed since the last
// check.

import { test } from "node:test";
import assert from "node:assert/strict";

import { syncStocks } from "keycrm-stock-sync";
import { startEmulator } from "keycrm-stock-sync/testing";
import { createMemorySink } from "../../js/sinks/memory.js";

const API_KEY = "test-api-key";
const FAST = { rateLimitPerMinute: 6000, backoffBaseMs: 5, backoffMaxMs: 20 };

async function emulatorFor(t, options) {
  const emulator = await startEmulator({ rateLimitPerMinute: 0, ...options });
  t.after(() => emulator.close());
  return emulator;
}

const stockBySku = (sink) =>
  Object.fromEntries(sink.rows().map((row) => [row.sku, row.stock]));

const COMMA_OFFERS = [
  { id: 1, sku: "a", quantity: 5, reserve: 0 },
  { id: 2, sku: "b", quantity: 6, reserve: 0 },
  { id: 3, sku: "a,b", quantity: 7, reserve: 2 },
];

test("a SKU holding a comma is refused, never split into two", async (t) => {
  const emulator = await emulatorFor(t, { offers: COMMA_OFFERS });
  const sink = createMemorySink(
    ["a", "b", "a,b"].map((sku) => ({ sku, stock: 0 })),
  );
  await assert.rejects(
    syncStocks({ ...FAST, apiUrl: emulator.url, apiKey: API_KEY, sink, skus: ["a,b"] }),
    (error) => error.code === "INVALID_CONFIG" && /holds a comma/.test(error.message),
  );
  assert.equal(emulator.requests.length, 0);
  assert.deepEqual(stockBySku(sink), { a: 0, b: 0, "a,b": 0 });
});

test("an offer whose SKU holds a comma is synced by its offer id", async (t) => {
  const emulator = await emulatorFor(t, { offers: COMMA_OFFERS });
  const sink = createMemorySink(
    ["a", "b", "a,b"].map((sku) => ({ sku, stock: 0 })),
  );
  const report = await syncStocks({
    ...FAST,
    apiUrl: emulator.url,
    apiKey: API_KEY,
    sink,
    offerIds: [3],
  });
  assert.equal(report.complete, true);
  assert.deepEqual(stockBySku(sink), { a: 0, b: 0, "a,b": 5 });
});
