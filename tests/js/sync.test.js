// The built package end to end on Node: syncStocks over real HTTP against the
// emulator, into real SQLite files.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";
import Database from "better-sqlite3";

import {
  applyStockWebhook,
  createPacing,
  syncStocks,
  validateOptions,
  isSyncError,
} from "keycrm-stock-sync";
import { createSqliteSink } from "keycrm-stock-sync/sqlite";
import { freshShop, stockOf } from "./support/shop.js";
import { collectGarbage, startStallingServer } from "./support/stalling.js";
import { createMemorySink } from "../../js/sinks/memory.js";
import {
  startEmulator,
  generateCatalogue,
  expectedAvailability,
} from "keycrm-stock-sync/testing";

const API_KEY = "sk-live-SECRET-7f3a9c21";
const FAST = { rateLimitPerMinute: 6000, backoffBaseMs: 5, backoffMaxMs: 20 };

let dir;
let emulator;
let offers;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "keycrm-sync-"));
  offers = generateCatalogue({ offers: 600 });
  emulator = await startEmulator({
    apiKey: API_KEY,
    offers,
    rateLimitPerMinute: 6000,
  });
});

after(async () => {
  await emulator.close();
  rmSync(dir, { recursive: true, force: true });
});

function freshDatabase(skus = [...new Set(offers.map((o) => o.sku).filter(Boolean))]) {
  return freshShop(dir, skus);
}

function assertMatches(path, expected, label = "") {
  const site = stockOf(path);
  for (const [sku, stock] of expected) {
    assert.equal(site.get(sku), stock, `${label}${sku}`);
  }
}

async function run(path, extra = {}) {
  const sink = createSqliteSink({ path });
  try {
    return await syncStocks({
      apiKey: API_KEY,
      apiUrl: emulator.url,
      sink,
      ...FAST,
      ...extra,
    });
  } finally {
    await sink.close();
  }
}

test("a full sync writes what can be sold, and a second writes nothing", async () => {
  emulator.reset();
  const path = freshDatabase();
  const progress = [];
  const report = await run(path, { onProgress: (p) => progress.push(p) });
  assert.equal(report.complete, true, JSON.stringify(report.error));
  assert.equal(report.offers, 600);
  // 12 pages, and page 1 twice: before and after the scan's census.
  assert.equal(report.pages, 13);
  assert.ok(report.withoutSku > 0);
  assert.ok(report.duplicateSkus.length > 0);
  assertMatches(path, expectedAvailability(offers));
  // A SKU on several offers holds the smallest of their figures.
  for (const sku of report.duplicateSkus) {
    const figures = offers.filter((o) => o.sku === sku).map((o) => expectedAvailability([o]).get(sku));
    assert.equal(stockOf(path).get(sku), Math.min(...figures), sku);
  }
  const pages = progress.map((p) => p.pages);
  assert.deepEqual(pages, [...pages].sort((a, b) => a - b), "progress only moves forward");
  assert.equal(pages.at(-1), 13);
  assert.equal(progress.at(-1).pagesLeft, 0);
  assert.equal(progress.at(-1).updated, report.updated, "the last progress agrees with the report");
  assert.ok(emulator.requests.every((r) => r.query.limit === "50"));

  const again = await run(path);
  assert.equal(again.complete, true);
  assert.equal(again.updated, 0);
  assert.equal(again.unchanged, report.updated + report.unchanged);
});

test("warehouses by name, reserve kept, fractional output", async () => {
  const path = freshDatabase();
  const options = { warehouses: ["київ"], keepReserve: true, fractional: true };
  const report = await run(path, options);
  assert.equal(report.complete, true, JSON.stringify(report.error));
  assert.deepEqual(
    report.warehouses.map((w) => w.name),
    ["Основний", "Київ"],
  );
  assertMatches(path, expectedAvailability(offers, { ...options, warehouses: ["Київ"] }));
  assert.ok(
    emulator.requests.at(-1).query["filter[details]"] === "true",
    "details were asked for",
  );
});

test("an unknown warehouse fails the run and writes nothing", async () => {
  const path = freshDatabase();
  const report = await run(path, { warehouses: ["Kyiv"] });
  assert.equal(report.complete, false);
  assert.equal(report.error.code, "UNKNOWN_WAREHOUSE");
  assert.match(report.error.message, /1 "Основний", 2 "Київ"/);
  assert.ok([...stockOf(path).values()].every((v) => v === 0));
});

test("429 with and without Retry-After, and 5xx, are waited out", async () => {
  emulator.reset();
  emulator.injectFault({ status: 429, page: 2, retryAfter: "1" });
  emulator.injectFault({ status: 429, page: 3 });
  emulator.injectFault({ status: 503, page: 4, count: 2 });
  emulator.injectFault({ status: 200, page: 5, body: '{"data": [' });
  const path = freshDatabase();
  const started = Date.now();
  const report = await run(path);
  assert.equal(report.complete, true, JSON.stringify(report.error));
  assert.equal(report.rateLimited, 2);
  assert.equal(report.retries, 5);
  assert.ok(Date.now() - started >= 1000, "Retry-After: 1 was honoured");
  assertMatches(path, expectedAvailability(offers));
});

test("a permanent failure midway leaves unreached rows untouched; the next run finishes", async () => {
  emulator.reset();
  emulator.injectFault({ status: 404, page: 4, body: '{"message":"Not found"}' });
  const path = freshDatabase();
  const broken = await run(path);
  assert.equal(broken.complete, false);
  assert.equal(broken.error.code, "CRM_HTTP");
  assert.equal(broken.error.status, 404);

  const expected = expectedAvailability(offers);
  const site = stockOf(path);
  const reached = new Set(offers.slice(0, 150).map((o) => o.sku));
  for (const [sku, stock] of expected) {
    if (reached.has(sku)) assert.equal(site.get(sku), stock, sku);
    else assert.equal(site.get(sku), 0, `${sku} was not reached and must be untouched`);
  }
  const next = await run(path);
  assert.equal(next.complete, true);
  assertMatches(path, expected);
});

test("pacing keeps a matched limit free of 429s", async () => {
  emulator.reset();
  emulator.setRateLimit(1200);
  emulator.setLatency([5, 120]);
  const starts = [];
  const timedFetch = (url, init) => {
    starts.push(performance.now());
    return fetch(url, init);
  };
  try {
    const path = freshDatabase();
    const report = await run(path, { rateLimitPerMinute: 1200, fetch: timedFetch });
    assert.equal(report.complete, true);
    assert.equal(report.rateLimited, 0);
    assert.equal(emulator.counts().byStatus[429] ?? 0, 0);
    assertMatches(path, expectedAvailability(offers));
    // 60 000 / 1 200 = 50 ms between starts (+1 %), whatever the latency. The
    // engine spaces its decisions exactly (tests/resilience.rs); between a decision
    // and the fetch call the event loop adds a few ms of jitter either way.
    const gaps = starts.slice(1).map((t, i) => t - starts[i]);
    assert.ok(Math.min(...gaps) >= 45, `gaps ${gaps.map(Math.round)}`);
    const mean = (starts.at(-1) - starts[0]) / gaps.length;
    assert.ok(mean >= 50, `mean gap ${mean}`);
  } finally {
    emulator.setRateLimit(6000);
    emulator.setLatency(0);
  }
});

test("runs sharing one pacing space their requests together, as one run", async () => {
  const together = async (pacing) => {
    const starts = [];
    const timedFetch = (url, init) => {
      starts.push(performance.now());
      return fetch(url, init);
    };
    const options = { rateLimitPerMinute: 1200, fetch: timedFetch, pacing };
    const [full, filtered] = await Promise.all([
      run(freshDatabase(), options),
      run(freshDatabase(), { ...options, offerIds: offers.slice(0, 300).map((o) => o.id) }),
    ]);
    assert.equal(full.complete && filtered.complete, true);
    const gaps = starts.slice(1).map((t, i) => t - starts[i]);
    return { gaps, requests: full.requests + filtered.requests };
  };
  emulator.reset();
  const shared = await together(createPacing());
  assert.equal(shared.gaps.length + 1, shared.requests);
  // 50 ms between starts (+1 %), less a few ms of event-loop jitter.
  assert.ok(Math.min(...shared.gaps) >= 45, `gaps ${shared.gaps.map(Math.round)}`);
  // Each with its own pacing, the two runs start requests side by side.
  const apart = await together(undefined);
  assert.ok(Math.min(...apart.gaps) < 20, `gaps ${apart.gaps.map(Math.round)}`);

  await assert.rejects(
    run(freshDatabase(), { pacing: {} }),
    (error) => error.code === "INVALID_CONFIG" && /createPacing/.test(error.message),
  );
});

test("dry run writes nothing and says what it would write", async () => {
  const path = freshDatabase();
  const report = await run(path, { dryRun: true });
  assert.equal(report.complete, true);
  assert.equal(report.dryRun, true);
  assert.ok(report.updated > 400);
  assert.ok([...stockOf(path).values()].every((v) => v === 0));
});

test("the API key appears in no report, error or progress", async () => {
  emulator.reset();
  const seen = [];
  const path = freshDatabase();
  const reports = [
    await run(path, { onProgress: (p) => seen.push(p) }),
    await syncStocks({ apiKey: "wrong-" + API_KEY, apiUrl: emulator.url, sink: createSqliteSink({ path }), ...FAST }),
    await syncStocks({ apiKey: API_KEY, apiUrl: "http://127.0.0.1:9/v1", sink: createSqliteSink({ path }), ...FAST, maxRetries: 1 }),
  ];
  assert.equal(reports[1].error.code, "UNAUTHORIZED");
  assert.equal(reports[2].error.code, "CRM_UNAVAILABLE");
  await assert.rejects(
    syncStocks({ apiKey: API_KEY, apiUrl: emulator.url, sink: createSqliteSink({ path }), [API_KEY]: 1 }),
    (error) => {
      assert.equal(error.code, "INVALID_CONFIG");
      seen.push(error.message, error.stack);
      return true;
    },
  );
  const text = JSON.stringify([reports, seen]);
  assert.ok(!text.includes(API_KEY), text.slice(0, 400));
  assert.ok(!text.includes("SECRET"));
});

test("bad options reject with a coded error before any request", async () => {
  emulator.reset();
  const sink = createSqliteSink({ path: freshDatabase() });
  for (const [options, pattern] of [
    [{ rateLimit: 60 }, /rateLimit/],
    [{ rateLimitPerMinute: 0 }, /rateLimitPerMinute/],
    [{ offerIds: [1], skus: ["a"] }, /offerIds and skus/],
  ]) {
    await assert.rejects(
      syncStocks({ apiKey: API_KEY, apiUrl: emulator.url, sink, ...options }),
      (error) => isSyncError(error) && error.code === "INVALID_CONFIG" && pattern.test(error.message),
    );
  }
  await assert.rejects(syncStocks({ sink }), /apiKey is required/);
  await assert.rejects(syncStocks({ apiKey: API_KEY, sink: {} }), /sink must be/);
  assert.throws(() => validateOptions({ warehouses: [" "] }), { code: "INVALID_CONFIG" });
  assert.equal(emulator.requests.length, 0);
  await sink.close();
});

test("zeroMissing sets rows KeyCRM lacks to 0 after a complete scan", async () => {
  const path = freshDatabase([...expectedAvailability(offers).keys(), "retired-1", "retired-2"]);
  const db = new Database(path);
  db.prepare("UPDATE products SET stock = 7 WHERE sku LIKE 'retired-%'").run();
  db.close();
  const report = await run(path, { zeroMissing: true });
  assert.equal(report.complete, true);
  assert.equal(report.zeroed, 2);
  assert.equal(stockOf(path).get("retired-1"), 0);
});

test("the CommonJS entry runs the same sync", async () => {
  const require = createRequire(import.meta.url);
  const cjs = require("keycrm-stock-sync");
  const path = freshDatabase();
  const sink = createSqliteSink({ path });
  const report = await cjs.syncStocks({ apiKey: API_KEY, apiUrl: emulator.url, sink, ...FAST });
  await sink.close();
  assert.equal(report.complete, true);
  assertMatches(path, expectedAvailability(offers));
  assert.match(await cjs.version(), /^\d+\.\d+\.\d+$/);
});

// Answers that never end. Each test's server or callback never settles, so the
// only thing that can end the run is a timer: the tests are quick because the
// timeouts are small, and deterministic because nothing else can happen. A test
// that would hang fails on its own timeout instead.
const STALL = { timeout: 20_000 };
// One request at a time: while it stalls, the run can only wait for it.
const ONE_TRY = { maxRetries: 0, maxConcurrentRequests: 1, backoffBaseMs: 5, backoffMaxMs: 20 };

async function stalledRun(mode, options) {
  const server = await startStallingServer(mode);
  const sink = createMemorySink([{ sku: "a", stock: 1 }]);
  let answered;
  const headers = new Promise((resolve) => {
    answered = resolve;
  });
  try {
    const running = syncStocks({
      apiKey: API_KEY,
      apiUrl: server.url,
      sink,
      // Node's own fetch, telling when the headers have come.
      fetch: async (url, init) => {
        const response = await fetch(url, init);
        answered();
        return response;
      },
      ...ONE_TRY,
      ...options,
    });
    await (mode === "trickle" ? headers : server.requested);
    // A timeout held only weakly would be collected here and never fire.
    collectGarbage();
    return { report: await running, server, sink };
  } finally {
    await server.close();
  }
}

test("headers that never come time the request out", STALL, async () => {
  const { report } = await stalledRun("silent", { requestTimeoutMs: 200 });
  assert.equal(report.complete, false);
  assert.equal(report.error.code, "CRM_UNAVAILABLE");
  assert.match(report.error.message, /did not answer in time/);
  assert.equal(report.requests, 1);
});

test("a body trickling a byte at a time times out with its request", STALL, async () => {
  const { report, sink } = await stalledRun("trickle", { requestTimeoutMs: 200 });
  assert.equal(report.error.code, "CRM_UNAVAILABLE");
  assert.match(report.error.message, /did not answer in time/);
  assert.deepEqual(sink.rows(), [{ sku: "a", stock: 1 }], "nothing written");
});

test("a stalled answer ends at the run's deadline, not the request timeout", STALL, async () => {
  const { report } = await stalledRun("silent", { deadlineMs: 300, maxRetries: 5 });
  assert.equal(report.complete, false);
  assert.equal(report.error.code, "DEADLINE_EXCEEDED");
});

test("a run asked to stop while KeyCRM stalls ends without waiting for the request", STALL, async () => {
  const server = await startStallingServer("silent");
  const stop = new AbortController();
  try {
    const running = syncStocks({
      apiKey: API_KEY,
      apiUrl: server.url,
      sink: createMemorySink(),
      requestTimeoutMs: 600_000,
      ...ONE_TRY,
      signal: stop.signal,
    });
    await server.requested;
    stop.abort();
    const report = await running;
    assert.equal(report.error.code, "DEADLINE_EXCEEDED");
    assert.match(report.error.message, /asked to stop/);
  } finally {
    await server.close();
  }
});

test("a request still in flight when the run ends is aborted; answered ones are not", async () => {
  // Page 1 and the census (page 4) answer; pages 2 and 3 start together, 2 is
  // refused (the run fails) while 3 waits for its signal.
  const page = (n) =>
    JSON.stringify({
      current_page: n,
      last_page: 4,
      per_page: 1,
      total: 4,
      next_page_url: n < 4 ? `x?page=${n + 1}` : null,
      data: [{ id: n, sku: `s${n}`, quantity: 1, reserve: 0 }],
    });
  const signals = new Map();
  let thirdStarted;
  const third = new Promise((resolve) => (thirdStarted = resolve));
  const report = await syncStocks({
    apiKey: API_KEY,
    apiUrl: "http://127.0.0.1:9/v1",
    sink: createMemorySink(),
    rateLimitPerMinute: 60_000,
    maxRetries: 0,
    fetch: (url, init) => {
      const n = Number(/[?&]page=(\d+)/.exec(url)[1]);
      signals.set(n, init.signal);
      if (n === 2) return third.then(() => new Response("{}", { status: 401 }));
      if (n === 3) {
        thirdStarted();
        return new Promise((_, reject) =>
          init.signal.addEventListener("abort", () => reject(init.signal.reason)),
        );
      }
      return Promise.resolve(new Response(page(n)));
    },
  });
  assert.equal(report.error.code, "UNAUTHORIZED");
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(signals.get(3)?.aborted, true, "the request left in flight is aborted");
  for (const n of [1, 2, 4]) assert.equal(signals.get(n)?.aborted, false, `page ${n}`);
});

test("a fetch that never settles and ignores its signal still times out", STALL, async () => {
  let calls = 0;
  const report = await syncStocks({
    apiKey: API_KEY,
    apiUrl: "http://127.0.0.1:9/v1",
    sink: createMemorySink(),
    fetch: () => {
      calls += 1;
      return new Promise(() => {});
    },
    requestTimeoutMs: 200,
    ...ONE_TRY,
  });
  assert.equal(report.error.code, "CRM_UNAVAILABLE");
  assert.match(report.error.message, /did not answer in time/);
  assert.equal(calls, 1);
});

test("a sink write that never settles ends the run with SINK_FAILED after sinkTimeoutMs", STALL, async () => {
  emulator.reset();
  const rows = [...expectedAvailability(offers).keys()].map((sku) => ({ sku, stock: 0 }));
  const memory = createMemorySink(rows);
  let writes = 0;
  const sink = {
    read: (keys) => memory.read(keys),
    write: () => {
      writes += 1;
      return new Promise(() => {});
    },
  };
  const report = await syncStocks({
    apiKey: API_KEY,
    apiUrl: emulator.url,
    sink,
    ...FAST,
    sinkTimeoutMs: 200,
  });
  assert.equal(report.complete, false);
  assert.equal(report.error.code, "SINK_FAILED");
  assert.match(report.error.message, /write\(\) timed out after 200 ms/);
  assert.equal(writes, 1, "no call after the one that timed out");
  assert.ok(!report.cursor, "no cursor: the batch in flight may or may not be written");
  assert.ok(memory.rows().every((row) => row.stock === 0), "rows not reached stay untouched");
});

test("a stock webhook whose write never settles ends with SINK_FAILED after sinkTimeoutMs", STALL, async () => {
  const body = JSON.stringify([{ offer_id: 1, sku: "a", in_stock: 5, in_reserve: 0 }]);
  const memory = createMemorySink([{ sku: "a", stock: 0 }]);
  const report = await applyStockWebhook({
    body,
    sink: { read: (keys) => memory.read(keys), write: () => new Promise(() => {}) },
    sinkTimeoutMs: 150,
  });
  assert.equal(report.complete, false);
  assert.equal(report.error.code, "SINK_FAILED");
  assert.match(report.error.message, /write\(\) timed out after 150 ms/);
});

test("sinkTimeoutMs is checked like every option", () => {
  assert.throws(() => validateOptions({ sinkTimeoutMs: 10 }), {
    code: "INVALID_CONFIG",
    message: /sinkTimeoutMs must be between 100 and 600000/,
  });
});
