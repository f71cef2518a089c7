// createSyncService as a site embeds it: the emulator as KeyCRM, a memory sink,
// a clock the test moves, and the service's own events to wait on.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";

import { createSyncService } from "keycrm-stock-sync";
import { startEmulator, generateCatalogue } from "keycrm-stock-sync/testing";
import { createMemorySink } from "../../js/sinks/memory.js";
import { manualClock } from "./support/manual-clock.js";

const KEY = "sk-live-SERVICE-71c3";
const TOKEN = "whk-service-4e9b2c7d1a6f";
const METRICS = "metrics-token-8f2a6c1e9d";
const INTERVAL = 60_000;
let emulator;
let offers;

before(async () => {
  offers = generateCatalogue({ offers: 120 });
  emulator = await startEmulator({ apiKey: KEY, offers, rateLimitPerMinute: 60_000 });
});

after(() => emulator.close());


function service(options = {}) {
  const clock = manualClock(1_800_000_000_000);
  const events = [];
  const s = createSyncService({
    apiKey: KEY,
    apiUrl: emulator.url,
    rateLimitPerMinute: 60_000,
    sink: createMemorySink(offers.filter((o) => o.sku).map((o) => ({ sku: o.sku, stock: 0 }))),
    intervalMs: INTERVAL,
    random: () => 0.5,
    clock,
    log: (event) => events.push(event),
    ...options,
  });
  const nextRun = () => new Promise((resolve) => s.on("run", resolve));
  return { s, clock, events, nextRun };
}

test("start fails fast with UNAUTHORIZED after one request when KeyCRM refuses the key, and health says why", async () => {
  emulator.reset();
  const { s, events } = service({ apiKey: "sk-wrong-key-0000" });
  await assert.rejects(s.start(), (error) => error.code === "UNAUTHORIZED");
  assert.equal(emulator.requests.length, 1);
  const health = s.health();
  assert.equal(health.status, 503);
  assert.equal(health.body.reason, "KEY_REJECTED");
  assert.equal(health.body.error.code, "UNAUTHORIZED");
  assert.ok(!JSON.stringify(events).includes("sk-wrong-key-0000"));
  await s.stop();
});

test("runs at start and every interval from the end of the last run, never two at once", async () => {
  const { s, clock } = service();
  await s.start();
  // The overlap guard: asked while the first run is in flight, the same run.
  const a = s.runNow();
  const b = s.runNow();
  assert.equal(a, b);
  assert.equal((await a).complete, true);
  assert.equal(s.status().lastSync.complete, true);
  // Event-loop turns, not time: the scheduling follows the run's end.
  for (let i = 0; i < 100 && clock.pending() === 0; i++) await new Promise(setImmediate);
  const nextRun = () => new Promise((resolve) => s.on("run", resolve));
  // The next scheduled run comes one interval (jitter 0.5 → none) after the first ended.
  const second = nextRun();
  clock.advance(INTERVAL - 1);
  assert.equal(clock.pending(), 1, "not yet");
  clock.advance(1);
  assert.equal((await second).kind, "full");
  await s.stop();
  assert.equal(clock.pending(), 0, "no timer left after stop");
});

test("health: 200 during the first intervals, 503 STALE after staleAfterIntervals without a complete sync, 503 for an error retrying won't fix", async () => {
  const { s, clock, nextRun } = service({ staleAfterIntervals: 2, warehouses: ["Nowhere"] });
  assert.equal(s.health().body.reason, "NOT_STARTED");
  const first = nextRun();
  await s.start();
  const report = await first;
  assert.equal(report.error.code, "UNKNOWN_WAREHOUSE");
  let health = s.health();
  assert.equal(health.status, 503);
  assert.equal(health.body.reason, "SYNC_FAILED");
  assert.equal(health.body.error.code, "UNKNOWN_WAREHOUSE");
  await s.stop();

  // A retryable failure: healthy until two intervals pass with no complete sync.
  // (Its request budget runs out before the last page: BUDGET_EXHAUSTED.)
  const other = service({ staleAfterIntervals: 2, maxRequests: 2 });
  try {
    const failed = other.nextRun();
    await other.s.start();
    assert.equal((await failed).complete, false);
    assert.equal(other.s.health().status, 200, "not stale yet");
    other.clock.advance(2 * INTERVAL + 1);
    health = other.s.health();
    assert.equal(health.status, 503);
    assert.equal(health.body.reason, "STALE");
    assert.equal(other.s.status().lastError.code, "BUDGET_EXHAUSTED");
  } finally {
    await other.s.stop();
  }
});

test("/metrics over HTTP: token required, families, types, labels and values after known runs and deliveries", async () => {
  const { s, events, nextRun } = service({ webhookToken: TOKEN, metricsToken: METRICS, confirmAfterMs: 0 });
  const server = createServer(s.listener);
  await once(server.listen(0, "127.0.0.1"), "listening");
  const base = `http://127.0.0.1:${server.address().port}/webhooks/keycrm`;
  try {
    const first = nextRun();
    await s.start();
    await first;
    await s.runNow();
    const sku = offers.find((o) => o.sku).sku;
    const post = (token) =>
      fetch(`${base}/stock?token=${token}`, {
        method: "POST",
        body: JSON.stringify([{ offer_id: 1, sku, in_stock: 5000, in_reserve: 0 }]),
      });
    assert.equal((await post(TOKEN)).status, 200);
    assert.equal((await post("wrong-token-0000000000")).status, 401);
    assert.equal((await fetch(`${base}/healthz`)).status, 200);

    assert.equal((await fetch(`${base}/metrics`)).status, 401);
    const response = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${METRICS}` } });
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type"), /^text\/plain; version=0\.0\.4/);
    const { types, samples } = parseExposition(await response.text());
    const p = "keycrm_stock_sync_";
    assert.deepEqual(types, {
      [`${p}runs_total`]: "counter",
      [`${p}rows_updated_total`]: "counter",
      [`${p}last_complete_sync_timestamp_seconds`]: "gauge",
      [`${p}webhook_deliveries_total`]: "counter",
      [`${p}keycrm_requests_total`]: "counter",
      [`${p}keycrm_rate_limited_total`]: "counter",
      [`${p}keycrm_retries_total`]: "counter",
      [`${p}run_duration_seconds`]: "histogram",
    });
    const value = (name, labels = {}) =>
      samples.find((x) => x.name === name && JSON.stringify(x.labels) === JSON.stringify(labels))?.value;
    assert.equal(value(`${p}runs_total`, { kind: "full", outcome: "complete" }), 2);
    assert.equal(value(`${p}webhook_deliveries_total`, { route: "stock", status: "200" }), 1);
    assert.equal(value(`${p}webhook_deliveries_total`, { route: "stock", status: "401" }), 1);
    assert.equal(value(`${p}rows_updated_total`, { kind: "stock" }), 1);
    assert.equal(value(`${p}run_duration_seconds_count`, { kind: "full" }), 2);
    assert.equal(value(`${p}run_duration_seconds_bucket`, { kind: "full", le: "+Inf" }), 2);
    assert.equal(value(`${p}last_complete_sync_timestamp_seconds`), Math.floor(1_800_000_000_000 / 1000));
    const fullRequests = events.filter((e) => e.event === "run").reduce((n, e) => n + e.requests, 0);
    assert.equal(value(`${p}keycrm_requests_total`, { kind: "full" }), fullRequests);
    assert.equal(value(`${p}keycrm_requests_total`, { kind: "keyCheck" }), 1);

    // One event per delivery, the refused one too, never a token.
    const deliveries = events.filter((e) => e.event === "delivery");
    assert.deepEqual(
      deliveries.map((e) => [e.route, e.status, e.code]),
      [["stock", 200, undefined], ["stock", 401, "UNAUTHORIZED"]],
    );
    const logged = JSON.stringify(events);
    for (const secret of [KEY, TOKEN, METRICS, "wrong-token-0000000000"]) assert.ok(!logged.includes(secret), secret);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await s.stop();
  }
});

test("the log option writes one JSON line per event, retries and 429s included", async () => {
  const lines = [];
  const { s, nextRun } = service({ log: "json", logStream: { write: (line) => lines.push(line) } });
  emulator.injectFault({ status: 429, count: 1, path: "/offers/stocks", page: 2, retryAfter: 0 });
  emulator.injectFault({ status: 503, count: 1, path: "/offers/stocks", page: 3 });
  try {
    const first = nextRun();
    await s.start();
    assert.equal((await first).complete, true);
  } finally {
    emulator.clearFaults();
    await s.stop();
  }
  const events = lines.map((line) => JSON.parse(line));
  assert.ok(lines.every((line) => line.endsWith("\n") && !line.slice(0, -1).includes("\n")));
  const run = events.find((e) => e.event === "run");
  assert.equal(run.level, "info");
  assert.equal(run.rateLimited, 1);
  assert.equal(run.retries, 2);
  assert.ok(events.some((e) => e.event === "rateLimited" && e.path === "/v1/offers/stocks" && e.level === "warn"));
  assert.ok(events.some((e) => e.event === "retry" && e.reason === "answered 503" && e.level === "warn"));
  assert.deepEqual(events.map((e) => e.event).slice(-2), ["stopping", "stopped"]);
  assert.ok(!lines.join("").includes(KEY));
});

/** Samples and types of a Prometheus text exposition. */
function parseExposition(text) {
  const types = {};
  const samples = [];
  for (const line of text.trimEnd().split("\n")) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      types[type[1]] = type[2];
      continue;
    }
    if (line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `not a sample line: ${line}`);
    const labels = {};
    for (const pair of (m[2] ?? "").match(/\w+="(?:[^"\\]|\\.)*"/g) ?? []) {
      const [, key, value] = /^(\w+)="(.*)"$/.exec(pair);
      labels[key] = value;
    }
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return { types, samples };
}
