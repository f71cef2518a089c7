// The webhook building blocks end to end: a stock-webhook delivery written into a
// SQLite file with no request to KeyCRM, and a sync of one order's offers over
// HTTP against the emulator.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { applyStockWebhook, syncStocks, trackObservations } from "keycrm-stock-sync";
import { createSqliteSink } from "keycrm-stock-sync/sqlite";
import { freshShop, stockOf } from "./support/shop.js";
import { startEmulator, generateCatalogue, expectedAvailability } from "keycrm-stock-sync/testing";

let dir;
let emulator;
let offers;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "keycrm-webhooks-"));
  offers = generateCatalogue({ offers: 200, duplicateSkuEvery: 0, withoutSkuEvery: 0 });
  const line = (offer) => ({ sku: offer.sku, quantity: 1, offer_id: offer.id });
  emulator = await startEmulator({
    apiKey: "key",
    offers,
    rateLimitPerMinute: 6000,
    orders: [
      { id: 42, status_id: 3, products: [line(offers[6]), line(offers[149]), { sku: "custom", quantity: 1 }] },
    ],
  });
});

after(async () => {
  await emulator.close();
  rmSync(dir, { recursive: true, force: true });
});

const shop = (skus) => freshShop(dir, skus);

test("a stock-webhook delivery is written as a sync would write it, with no request", async () => {
  emulator.reset();
  const path = shop(["a001-56", "b", "c"]);
  const sink = createSqliteSink({ path });
  const body = JSON.stringify([
    { offer_id: 130827, sku: "a001-56", in_stock: 16, in_reserve: 3 },
    { offer_id: 2, sku: "b", in_stock: 2.5, in_reserve: 0 },
    { offer_id: 3, sku: "unknown", in_stock: 1, in_reserve: 0 },
  ]);
  const report = await applyStockWebhook({ body, sink });
  assert.equal(report.complete, true);
  assert.equal(report.updated, 2);
  assert.deepEqual(report.notOnSite.sample, ["unknown"]);
  assert.equal(stockOf(path).get("a001-56"), 13);
  assert.equal(stockOf(path).get("b"), 2);
  const again = await applyStockWebhook({ body, sink, fractional: true });
  assert.equal(stockOf(path).get("b"), 2.5, "options apply as in a sync");
  assert.equal(again.updated, 1);
  await sink.close();
  assert.equal(emulator.requests.length, 0);
});

test("a body that is not a stock webhook is refused and nothing is written", async () => {
  const path = shop(["a"]);
  const sink = createSqliteSink({ path });
  for (const body of ["{", "{}", '[{"sku":"a","in_stock":1}]', '[{"offer_id":1,"in_stock":"x"}]']) {
    await assert.rejects(applyStockWebhook({ body, sink }), { name: "KeyCrmSyncError", code: "BAD_WEBHOOK" });
  }
  const many = JSON.stringify([{ offer_id: 1, sku: "a", in_stock: 1 }, { offer_id: 2, sku: "b", in_stock: 1 }]);
  await assert.rejects(applyStockWebhook({ body: many, sink, maxRows: 1 }), { code: "BAD_WEBHOOK" });
  await assert.rejects(
    applyStockWebhook({ body: "[]", sink, perWarehouse: true }),
    { code: "INVALID_CONFIG", message: /per-warehouse/ },
  );
  await sink.close();
  assert.equal(stockOf(path).get("a"), 0);
});

test("orderId syncs just the offers on the order's lines", async () => {
  emulator.reset();
  const expected = expectedAvailability(offers);
  const path = shop([...expected.keys()]);
  const sink = createSqliteSink({ path });
  const report = await syncStocks({ apiKey: "key", apiUrl: emulator.url, sink, orderId: 42, rateLimitPerMinute: 6000 });
  await sink.close();
  assert.equal(report.complete, true, JSON.stringify(report.error));
  assert.equal(report.offers, 2);
  assert.deepEqual(
    emulator.requests.map((r) => r.path),
    ["/v1/order/42", "/v1/offers/stocks"],
  );
  assert.equal(emulator.requests[1].query["filter[offers_id]"], `${offers[6].id},${offers[149].id}`);
  const site = stockOf(path);
  assert.equal(site.get(offers[6].sku), expected.get(offers[6].sku));
  assert.equal(site.get(offers[149].sku), expected.get(offers[149].sku));
  assert.equal(site.get(offers[7].sku), 0, "offers not on the order are untouched");
});

test("a webhook during a full scan wins over the older figure of a page on its way", async () => {
  const expected = expectedAvailability(offers);
  const target = offers[5];
  const race = async (wrap) => {
    const path = shop([...expected.keys()]);
    const sink = wrap(createSqliteSink({ path }));
    emulator.reset();
    emulator.setLatency(400);
    const saved = { quantity: target.quantity, first: target.warehouse[0].quantity };
    try {
      // Page 1 is answered with KeyCRM as it is now, and arrives 400 ms later.
      const scan = syncStocks({
        apiKey: "key",
        apiUrl: emulator.url,
        sink,
        rateLimitPerMinute: 6000,
        maxConcurrentRequests: 1,
      });
      await new Promise((r) => setTimeout(r, 150));
      // Meanwhile a sale: KeyCRM changes, and its stock webhook arrives.
      target.quantity += 7;
      target.warehouse[0].quantity += 7;
      const now = expectedAvailability([target]).get(target.sku);
      await applyStockWebhook({
        sink,
        body: JSON.stringify([{ offer_id: target.id, sku: target.sku, in_stock: target.quantity, in_reserve: target.reserve }]),
      });
      const report = await scan;
      return { stock: stockOf(path).get(target.sku), now, report };
    } finally {
      emulator.setLatency(0);
      target.quantity = saved.quantity;
      target.warehouse[0].quantity = saved.first;
      await sink.close();
    }
  };
  const tracked = await race(trackObservations);
  assert.equal(tracked.stock, tracked.now, "the webhook's figure stays");
  assert.equal(tracked.report.keptNewer, 1);
  // Without tracking, the page read before the sale writes its older figure.
  const untracked = await race((sink) => sink);
  assert.notEqual(untracked.stock, untracked.now);
});

test("trackObservations reports the later of its own time and the sink's", async () => {
  const rows = new Map([
    ["a", { sku: "a", stock: 1, observedAt: 500 }],
    ["b", { sku: "b", stock: 1 }],
  ]);
  // A sink keeping times itself, as one with an observed column does.
  const inner = {
    async read(keys) {
      return keys.filter((k) => rows.has(k.sku)).map((k) => ({ ...rows.get(k.sku) }));
    },
    async write(changes) {
      for (const c of changes) rows.set(c.sku, { ...c, observedAt: c.observedAt ?? rows.get(c.sku).observedAt });
    },
  };
  const sink = trackObservations(inner);
  await sink.write([{ sku: "b", stock: 2, observedAt: 300 }]);
  // Another process writes "a" later than this one ever saw it.
  await sink.write([{ sku: "a", stock: 3, observedAt: 200 }]);
  rows.set("a", { sku: "a", stock: 4, observedAt: 900 });
  const read = await sink.read([{ sku: "a" }, { sku: "b" }]);
  assert.deepEqual(read, [
    { sku: "a", stock: 4, observedAt: 900 },
    { sku: "b", stock: 2, observedAt: 300 },
  ]);
});
