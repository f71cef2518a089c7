// Filters against the emulator, which splits them as KeyCRM's Laravel backend
// does: SKUs holding commas, and the catch-up of orders changed since the last
// check.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { createSyncService, syncStocks } from "keycrm-stock-sync";
import { startEmulator } from "keycrm-stock-sync/testing";
import { createMemorySink } from "../../js/sinks/memory.js";
import { manualClock } from "./support/manual-clock.js";
import { freshShop, stockOf } from "./support/shop.js";
import { buildExample, insertRows, migrate, startWorker } from "./support/workers.js";

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


/** KeyCRM's form of a UTC time. */
const keycrmTime = (ms) => new Date(ms).toISOString().slice(0, 19).replace("T", " ");

const updatedFrom = (request) =>
  request.query["filter[updated_between]"].split(",")[0];

test("the sync service catches up between full syncs, from the last check on", async (t) => {
  const emulator = await emulatorFor(t, {
    offers: structuredClone(OFFERS),
    orders: [
      orderAt(1, "2026-03-01 09:00:00", [1]),
      orderAt(2, "2026-03-01 10:30:00", [2]),
    ],
  });
  const clock = manualClock(Date.parse("2026-03-02T00:00:00Z"));
  const sink = shopSink();
  const s = createSyncService({
    ...FAST,
    apiUrl: emulator.url,
    apiKey: API_KEY,
    sink,
    intervalMs: 0,
    catchUpIntervalMs: 60_000,
    ordersUpdatedSince: CHECK,
    checkKey: false,
    clock,
    log: false,
  });
  t.after(() => s.stop());
  const nextRun = () => new Promise((resolve) => s.on("run", resolve));
  await s.start();
  assert.equal(emulator.requests.length, 0, "nothing before the first catch-up is due");
  const first = nextRun();
  clock.advance(60_000);
  const event = await first;
  assert.equal(event.kind, "catchUp");
  assert.equal(event.complete, true);
  assert.equal(updatedFrom(emulator.requests[0]), "2026-03-01 10:00:00");
  assert.deepEqual(stockBySku(sink), {
    "sku-1": 0, "sku-2": 11, "sku-3": 0, "sku-4": 0, "sku-5": 0, "sku-6": 0,
  });
  // The check advanced: to the first catch-up's start less the overlap.
  const checkedFrom = Date.parse(s.status().ordersCheckedFrom);
  assert.ok(checkedFrom > CHECK && checkedFrom <= Date.now() - 10 * 60_000);

  // An order changed now is caught by the next catch-up; the old ones are not
  // listed again.
  emulator.orders.push(orderAt(3, keycrmTime(Date.now()), [4]));
  emulator.requests.length = 0;
  for (let i = 0; i < 100 && clock.pending() === 0; i++) await new Promise(setImmediate);
  const second = nextRun();
  clock.advance(60_000);
  assert.equal((await second).complete, true);
  assert.equal(updatedFrom(emulator.requests[0]), keycrmTime(checkedFrom));
  const stock = emulator.requests.filter((r) => r.path === "/v1/offers/stocks");
  assert.deepEqual(stock.map((r) => r.query["filter[offers_id]"]), ["4"]);
  assert.equal(stockBySku(sink)["sku-4"], 13);
  await s.stop();
  assert.equal(clock.pending(), 0, "no timer left after stop");
});

test("a complete full sync sets the check the service's catch-up starts from", async (t) => {
  const emulator = await emulatorFor(t, { offers: structuredClone(OFFERS), orders: [] });
  const s = createSyncService({
    ...FAST,
    apiUrl: emulator.url,
    apiKey: API_KEY,
    sink: shopSink(),
    intervalMs: 0,
    checkKey: false,
    clock: manualClock(Date.parse("2026-03-02T00:00:00Z")),
    log: false,
  });
  t.after(() => s.stop());
  await s.start();
  assert.equal(await s.catchUpNow(), null, "no check time known yet: nothing to catch up from");
  const before = Date.now();
  assert.equal((await s.runNow()).complete, true);
  const checkedFrom = Date.parse(s.status().ordersCheckedFrom);
  assert.ok(checkedFrom >= before - 10 * 60_000 - 1000 && checkedFrom <= Date.now() - 10 * 60_000);
  emulator.requests.length = 0;
  const report = await s.catchUpNow();
  assert.equal(report.complete, true);
  assert.deepEqual(emulator.requests.map((r) => r.path), ["/v1/order"]);
  assert.equal(updatedFrom(emulator.requests[0]), keycrmTime(checkedFrom));
});

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** `node js/cli.js …` against the emulator; resolves with its exit and output. */
function cli(args, emulator) {
  const env = { ...process.env };
  for (const name of Object.keys(env)) {
    if (name.startsWith("KEYCRM_") || name === "DATABASE_URL") delete env[name];
  }
  Object.assign(env, { KEYCRM_API_KEY: API_KEY, KEYCRM_API_URL: emulator.url });
  const child = spawn(process.execPath, ["js/cli.js", ...args], { cwd: ROOT, env });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (text) => (stdout += text));
  child.stderr.setEncoding("utf8").on("data", (text) => (stderr += text));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

test("sync --catch-up starts from the check a full sync kept in --state, and advances it", async (t) => {
  const emulator = await emulatorFor(t, {
    offers: structuredClone(OFFERS),
    orders: [orderAt(1, "2026-03-01 09:00:00", [1])],
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keycrm-catchup-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const db = freshShop(dir, OFFERS.map((o) => o.sku));
  const stateFile = path.join(dir, "shop.state");
  const args = ["sync", "--db", db, "--state", stateFile, "--rate-limit", "6000", "--quiet"];

  const early = await cli([...args, "--catch-up"], emulator);
  assert.equal(early.code, 2, early.stderr);
  assert.match(early.stderr, /--catch-up needs the last check kept in --state .*run a full sync/);
  assert.equal(emulator.requests.length, 0);
  assert.equal((await cli(["sync", "--db", db, "--catch-up"], emulator)).code, 2);

  const before = Date.now();
  const full = await cli(args, emulator);
  assert.equal(full.code, 0, full.stderr);
  const kept = JSON.parse(fs.readFileSync(stateFile, "utf8"));
  assert.equal(kept.cursor, undefined, "a complete scan leaves no place");
  assert.ok(kept.ordersUpdatedSince >= before - 10 * 60_000 - 1000);
  assert.ok(kept.ordersUpdatedSince <= Date.now() - 10 * 60_000);

  // Stock moves in KeyCRM: by an order changed now (caught), and without one
  // (left to the next full scan).
  emulator.offers[1].reserve = 5; // sku-2, on the changed order
  emulator.offers[2].reserve = 5; // sku-3, on no order
  emulator.orders.push(orderAt(2, keycrmTime(Date.now()), [2]));
  emulator.requests.length = 0;
  const caught = await cli([...args, "--catch-up"], emulator);
  assert.equal(caught.code, 0, caught.stderr);
  assert.equal(updatedFrom(emulator.requests[0]), keycrmTime(kept.ordersUpdatedSince));
  assert.deepEqual(
    emulator.requests.map((r) => r.path),
    ["/v1/order", "/v1/offers/stocks"],
  );
  const stock = stockOf(db);
  assert.equal(stock.get("sku-2"), 7);
  assert.equal(stock.get("sku-3"), 12, "not on a changed order: left for the full scan");
  const after = JSON.parse(fs.readFileSync(stateFile, "utf8"));
  assert.ok(after.ordersUpdatedSince > kept.ordersUpdatedSince);
});

describe("the Worker's cron catches up before resuming the scan", () => {
  // 150 offers: three pages; a budget of 50 subrequests, two of them the state's.
  const offers = Array.from({ length: 150 }, (_, i) => ({
    id: i + 1,
    sku: `w-${i + 1}`,
    quantity: 20,
    reserve: 0,
  }));
  const BINDINGS = {
    KEYCRM_API_KEY: API_KEY,
    KEYCRM_PLAN: "paid",
    KEYCRM_SUBREQUEST_BUDGET: "50",
    KEYCRM_RATE_LIMIT: "6000",
    KEYCRM_CATCH_UP: "true",
  };
  let built;
  let emulator;
  let worker;

  before(async () => {
    built = await buildExample();
    emulator = await startEmulator({
      apiKey: API_KEY,
      offers: structuredClone(offers),
      orders: [orderAt(1, "2026-01-01 00:00:00", [1])],
      rateLimitPerMinute: 6000,
    });
    worker = await startWorker({
      outdir: built.outdir,
      config: built.config,
      bindings: { ...BINDINGS, KEYCRM_API_URL: emulator.url },
    });
    await migrate(worker.db, built.app, built.config);
    await insertRows(worker.db, offers.map((o) => ({ sku: o.sku, stock: 0 })));
  });

  after(async () => {
    await worker?.dispose();
    await emulator?.close();
    built?.dispose();
  });

  async function fire() {
    const from = emulator.requests.length;
    const record = await worker.cron();
    const requests = emulator.requests.slice(from);
    const { results } = await worker.db
      .prepare("SELECT key, value FROM keycrm_sync_state WHERE key = 'orders_updated_since'")
      .all();
    const check = results.length > 0 ? Number(results[0].value) : null;
    return { record, requests, subrequests: requests.length + record.d1Calls, check };
  }

  async function stockIn(skus) {
    const { results } = await worker.db.prepare("SELECT sku, stock FROM products").all();
    const bySku = new Map(results.map((row) => [row.sku, row.stock]));
    return skus.map((sku) => bySku.get(sku));
  }

  test("the first cron keeps a check time from its start; orders before it are not listed", async () => {
    const before = Date.now();
    const { record, requests, subrequests, check } = await fire();
    assert.equal(record.outcome, "ok");
    assert.ok(subrequests <= 50, `${subrequests} subrequests`);
    assert.equal(requests[0].path, "/v1/order");
    assert.equal(updatedFrom(requests[0]) >= keycrmTime(before - 1000), true);
    assert.ok(check !== null && check <= Date.now() - 10 * 60_000 && check >= before - 10 * 60_000 - 1000);
    // The scan ran after it, and completed.
    assert.ok(requests.slice(1).every((r) => r.path === "/v1/offers/stocks"));
    assert.deepEqual(await stockIn(["w-1", "w-150"]), [20, 20]);
  });

  test("an order changed since the check has its offers synced first, and the check advances", async () => {
    const { check: kept } = await fire();
    emulator.offers[9].reserve = 4; // w-10, on the changed order
    emulator.orders.push(orderAt(2, keycrmTime(Date.now()), [10]));
    const { record, requests, subrequests, check } = await fire();
    assert.equal(record.outcome, "ok");
    assert.ok(subrequests <= 50, `${subrequests} subrequests`);
    assert.equal(updatedFrom(requests[0]), keycrmTime(kept));
    assert.equal(requests[1].query["filter[offers_id]"], "10");
    assert.ok(requests.slice(2).every((r) => r.query["filter[offers_id]"] === undefined));
    assert.deepEqual(await stockIn(["w-10"]), [16]);
    assert.ok(check > kept, "the check advanced");
  });

  test("a catch-up larger than half the budget stops there; the scan gets the rest", async () => {
    const { check: kept } = await fire();
    // 1 300 orders changed now: 26 pages, more than the 24 subrequests a
    // catch-up may take.
    const now = keycrmTime(Date.now());
    for (let id = 100; id < 1400; id++) emulator.orders.push(orderAt(id, now, [1 + (id % 150)]));
    const { record, requests, subrequests, check } = await fire();
    assert.equal(record.outcome, "ok");
    assert.ok(subrequests <= 50, `${subrequests} subrequests`);
    const orderPages = requests.filter((r) => r.path === "/v1/order").length;
    assert.ok(orderPages >= 10 && orderPages <= 24, `${orderPages} pages of orders`);
    const stock = requests.filter((r) => r.path === "/v1/offers/stocks");
    assert.ok(stock.length > 0, "the scan had its share");
    assert.ok(
      stock.every((r) => r.query["filter[offers_id]"] === undefined),
      "the unfinished catch-up read no stock",
    );
    // The whole scan completed after it, so it saw every change before its
    // start: the check moves on by the scan, not by the catch-up.
    const { results } = await worker.db
      .prepare("SELECT value FROM keycrm_sync_state WHERE key = 'report'")
      .all();
    assert.equal(JSON.parse(results[0].value).complete, true);
    assert.ok(check > kept);
    emulator.orders.splice(2);
  });
});
