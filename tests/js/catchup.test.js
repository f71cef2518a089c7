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

// Orders at fixed times around a last check; the catalogue's offers 1..6.
const CHECK = Date.parse("2026-03-01T10:00:00Z");
const OFFERS = [1, 2, 3, 4, 5, 6].map((id) => ({
  id,
  sku: `sku-${id}`,
  quantity: 10 + id,
  reserve: 1,
}));
const orderAt = (id, updatedAt, offerIds) => ({
  id,
  updated_at: updatedAt,
  products: offerIds.map((offerId) => ({
    sku: `sku-${offerId}`,
    quantity: 1,
    offer_id: offerId,
  })),
});

function shopSink() {
  return createMemorySink(OFFERS.map((o) => ({ sku: o.sku, stock: 0 })));
}

test("a catch-up syncs the offers of orders changed after the last check only", async (t) => {
  const emulator = await emulatorFor(t, {
    offers: structuredClone(OFFERS),
    orders: [
      orderAt(1, "2026-03-01 09:00:00", [1]),
      orderAt(2, "2026-03-01 10:00:05", [2, 3]),
      orderAt(3, "2026-03-01 11:30:00", [3, 5]),
    ],
  });
  const sink = shopSink();
  const report = await syncStocks({
    ...FAST,
    apiUrl: emulator.url,
    apiKey: API_KEY,
    sink,
    ordersUpdatedSince: CHECK,
  });
  assert.equal(report.complete, true, report.error?.message);
  assert.deepEqual(stockBySku(sink), {
    "sku-1": 0,
    "sku-2": 11,
    "sku-3": 12,
    "sku-4": 0,
    "sku-5": 14,
    "sku-6": 0,
  });
  const paths = emulator.requests.map((r) => r.path);
  assert.deepEqual(paths, ["/v1/order", "/v1/offers/stocks"]);
  assert.equal(
    emulator.requests[0].query["filter[updated_between]"].split(",")[0],
    "2026-03-01 10:00:00",
  );
  // The next check starts a little before this run did, never later.
  assert.ok(report.nextOrdersUpdatedSince <= Date.now() - 10 * 60_000);
  assert.ok(report.nextOrdersUpdatedSince > CHECK);
});
