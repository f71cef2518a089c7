// `keycrm-stock-sync serve` as a user runs it: a real process, real HTTP, a
// SQLite file, the emulator as KeyCRM, and SIGTERM to stop it.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";

import { createSampleDatabase } from "keycrm-stock-sync/sqlite";
import { startEmulator, generateCatalogue, expectedAvailability } from "keycrm-stock-sync/testing";

const CLI = fileURLToPath(new URL("../../js/cli.js", import.meta.url));
const KEY = "sk-live-SERVE-5e8c1d";
const TOKEN = "whk-serve-3f9a7c2e6b1d4a8f";
let dir;
let emulator;
let offers;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "keycrm-serve-"));
  offers = generateCatalogue({ offers: 150, duplicateSkuEvery: 0, withoutSkuEvery: 0 });
  emulator = await startEmulator({
    apiKey: KEY,
    offers,
    rateLimitPerMinute: 6000,
    orders: [{ id: 7, products: [{ sku: offers[10].sku, quantity: 1, offer_id: offers[10].id }] }],
  });
});

after(async () => {
  await emulator.close();
  rmSync(dir, { recursive: true, force: true });
});

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts `serve` and resolves once it listens. */
async function serve(args) {
  const child = spawn(process.execPath, [CLI, "serve", ...args], {
    env: { ...process.env, KEYCRM_API_KEY: KEY, KEYCRM_WEBHOOK_TOKEN: TOKEN, KEYCRM_API_URL: emulator.url },
  });
  const out = { stdout: "", stderr: "" };
  child.stdout.on("data", (d) => (out.stdout += d));
  child.stderr.on("data", (d) => (out.stderr += d));
  const exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
  for (let i = 0; i < 2400 && !out.stderr.includes("listening on"); i++) {
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.match(out.stderr, /listening on/, out.stderr);
  return { child, out, exited };
}

function stockOf(path, sku) {
  const db = new Database(path, { readonly: true });
  const row = db.prepare("SELECT stock FROM products WHERE sku = ?").get(sku);
  db.close();
  return row?.stock;
}

async function until(check, what) {
  for (let i = 0; i < 2400; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`timed out waiting for ${what}`);
}

test("serve syncs at start, takes both webhooks, reports health, and stops cleanly on SIGTERM", async () => {
  const path = join(dir, "shop.sqlite");
  const expected = expectedAvailability(offers);
  createSampleDatabase(path, { skus: [...expected.keys(), "a001-56"] });
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const { child, out, exited } = await serve(["--db", path, "--port", String(port), "--rate-limit", "6000", "--confirm-after", "0"]);

  // The full sync at start.
  await until(async () => (await (await fetch(`${base}/healthz`)).json()).lastSync?.complete, "the first sync");
  const sku = offers[20].sku;
  assert.equal(stockOf(path, sku), expected.get(sku));

  // The stock webhook, applied before the reply.
  const stock = await fetch(`${base}/webhooks/keycrm/stock?token=${TOKEN}`, {
    method: "POST",
    body: JSON.stringify([{ offer_id: 130827, sku: "a001-56", in_stock: 16, in_reserve: 3 }]),
  });
  assert.equal(stock.status, 200);
  assert.equal(stockOf(path, "a001-56"), 13);
  const denied = await fetch(`${base}/webhooks/keycrm/stock?token=nope`, { method: "POST", body: "[]" });
  assert.equal(denied.status, 401);

  // The order webhook: 202, then that order's offer is read and written.
  emulator.reset();
  offers[10].quantity += 5;
  offers[10].warehouse[0].quantity += 5;
  const order = await fetch(`${base}/webhooks/keycrm/order?token=${TOKEN}`, {
    method: "POST",
    body: JSON.stringify({ event: "order.change_order_status", context: { id: 7 } }),
  });
  assert.equal(order.status, 202);
  const want = expectedAvailability(offers).get(offers[10].sku);
  await until(() => stockOf(path, offers[10].sku) === want, "the order's offer");
  assert.deepEqual(emulator.requests.map((r) => r.path), ["/v1/order/7", "/v1/offers/stocks"]);

  child.kill("SIGTERM");
  assert.equal(await exited, 0);
  assert.match(out.stderr, /stopped/);
  const everything = out.stdout + out.stderr;
  assert.ok(!everything.includes(KEY) && !everything.includes(TOKEN), "no secret in the output");
});

test("a webhook arriving during serve's full sync keeps its figure over the page on its way", async () => {
  const path = join(dir, "race.sqlite");
  const expected = expectedAvailability(offers);
  createSampleDatabase(path, { skus: [...expected.keys()] });
  const target = offers[5];
  const saved = { quantity: target.quantity, first: target.warehouse[0].quantity };
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  emulator.reset();
  // Every page arrives 600 ms after KeyCRM answered it.
  emulator.setLatency(600);
  let server;
  try {
    server = await serve(["--db", path, "--port", String(port), "--rate-limit", "6000", "--confirm-after", "0"]);
    await until(() => emulator.requests.some((r) => r.path === "/v1/offers/stocks"), "the first page request");
    // A sale in KeyCRM, and its stock webhook, while the page is on its way.
    target.quantity += 7;
    target.warehouse[0].quantity += 7;
    const now = expectedAvailability([target]).get(target.sku);
    const response = await fetch(`${base}/webhooks/keycrm/stock?token=${TOKEN}`, {
      method: "POST",
      body: JSON.stringify([
        { offer_id: target.id, sku: target.sku, in_stock: target.quantity, in_reserve: target.reserve },
      ]),
    });
    assert.equal(response.status, 200);
    assert.equal(stockOf(path, target.sku), now);

    let health;
    await until(async () => {
      health = await (await fetch(`${base}/healthz`)).json();
      return health.lastSync !== null;
    }, "the full sync");
    assert.equal(health.lastSync.complete, true);
    assert.equal(health.lastSync.keptNewer, 1);
    assert.equal(stockOf(path, target.sku), now, "the webhook's figure stays");
    assert.equal(stockOf(path, offers[6].sku), expected.get(offers[6].sku), "the rest is synced");
  } finally {
    emulator.setLatency(0);
    target.quantity = saved.quantity;
    target.warehouse[0].quantity = saved.first;
    server?.child.kill("SIGTERM");
    if (server) assert.equal(await server.exited, 0);
  }
});

test("an order webhook during serve's full sync keeps to the rate limit with it", async () => {
  const path = join(dir, "paced.sqlite");
  createSampleDatabase(path, { skus: [...expectedAvailability(offers).keys()] });
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  emulator.reset();
  // 300 a minute: starts at least 202 ms apart, whichever run makes them.
  const server = await serve(["--db", path, "--port", String(port), "--rate-limit", "300", "--confirm-after", "0"]);
  try {
    // The order arrives right after the full sync's first request.
    while (emulator.requests.length === 0) await new Promise((r) => setTimeout(r, 2));
    const order = await fetch(`${base}/webhooks/keycrm/order?token=${TOKEN}`, {
      method: "POST",
      body: JSON.stringify({ event: "order.change_order_status", context: { id: 7 } }),
    });
    assert.equal(order.status, 202);
    await until(async () => (await (await fetch(`${base}/healthz`)).json()).lastSync?.complete, "the full sync");
    await until(() => server.out.stderr.includes("webhook order: complete"), "the order's sync");
    const paths = emulator.requests.map((r) => r.path);
    assert.ok(paths.includes("/v1/order/7"), paths.join(" "));
    // One lookup of the order's offers, besides the key check and the full sync's pages.
    const lookups = emulator.requests.filter((r) => r.query["filter[offers_id]"] !== undefined);
    assert.equal(lookups.length, 1, paths.join(" "));
    // As the emulator saw them arrive, from the second on: the first is late by
    // its connection's set-up. Paced on its own, the order's lookup would arrive
    // between two pages, about 100 ms from each.
    const starts = emulator.requests.slice(1).map((r) => r.startedAt);
    const gaps = starts.slice(1).map((t, i) => t - starts[i]);
    assert.ok(Math.min(...gaps) >= 150, `gaps ${gaps}`);
  } finally {
    server.child.kill("SIGTERM");
    assert.equal(await server.exited, 0);
  }
});

test("serve reads the offers of stock webhooks again after --confirm-after, putting right deliveries out of order", async () => {
  const path = join(dir, "confirm.sqlite");
  const expected = expectedAvailability(offers);
  createSampleDatabase(path, { skus: [...expected.keys()] });
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const offer = offers[30];
  const deliver = (inStock) =>
    fetch(`${base}/webhooks/keycrm/stock?token=${TOKEN}`, {
      method: "POST",
      body: JSON.stringify([{ offer_id: offer.id, sku: offer.sku, in_stock: inStock, in_reserve: 0 }]),
    });
  const server = await serve([
    "--db", path, "--port", String(port), "--rate-limit", "6000", "--interval", "0", "--confirm-after", "0.3",
  ]);
  try {
    emulator.reset();
    // The newest delivery first, then a late older one.
    assert.equal((await deliver(expected.get(offer.sku))).status, 200);
    assert.equal((await deliver(expected.get(offer.sku) + 4)).status, 200);
    assert.equal(stockOf(path, offer.sku), expected.get(offer.sku) + 4);
    await until(() => stockOf(path, offer.sku) === expected.get(offer.sku), "the confirmation");
    assert.deepEqual(emulator.requests.map((r) => r.path), ["/v1/offers/stocks"]);
    assert.equal(emulator.requests[0].query["filter[offers_id]"], String(offer.id));
    await until(() => server.out.stderr.includes("webhook confirm: complete"), "its log line");
  } finally {
    server.child.kill("SIGTERM");
    assert.equal(await server.exited, 0);
  }
});

test("serve refuses bad deliveries with the right status, and a replay writes nothing", async () => {
  const path = join(dir, "refuse.sqlite");
  createSampleDatabase(path, { skus: ["a001-56"] });
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = await serve(["--db", path, "--port", String(port), "--interval", "0", "--confirm-after", "0"]);
  const post = (route, body, token = TOKEN) =>
    fetch(`${base}/webhooks/keycrm/${route}?token=${token}`, { method: "POST", body });
  try {
    const body = JSON.stringify([{ offer_id: 130827, sku: "a001-56", in_stock: 9, in_reserve: 2 }]);
    assert.equal((await post("stock", body, "wrong-token-0000000000")).status, 401);
    assert.equal(stockOf(path, "a001-56"), 0, "nothing written without the token");
    for (const bad of ["{", "{}", '[{"sku":"x","in_stock":1}]']) {
      const response = await post("stock", bad);
      assert.equal(response.status, 400, bad);
      assert.equal((await response.json()).error.code, "BAD_WEBHOOK");
    }
    const unknown = await post("order", JSON.stringify({ event: "order.deleted", context: { id: 7 } }));
    assert.equal(unknown.status, 400);
    assert.match((await unknown.json()).error.message, /unknown event/);
    const big = await post("stock", `[${" ".repeat(1_000_001)}]`);
    assert.equal(big.status, 413);

    const first = await (await post("stock", body)).json();
    assert.equal(first.updated, 1);
    const replay = await (await post("stock", body)).json();
    assert.equal(replay.updated, 0);
    assert.equal(replay.unchanged, 1);
    assert.equal(stockOf(path, "a001-56"), 7);
  } finally {
    server.child.kill("SIGTERM");
    assert.equal(await server.exited, 0);
  }
});

test("serve logs each refused delivery by path, status and code, never its token", async () => {
  const path = join(dir, "logged.sqlite");
  createSampleDatabase(path, { skus: ["a001-56"] });
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = await serve(["--db", path, "--port", String(port), "--interval", "0", "--confirm-after", "0"]);
  const wrong = "wrong-token-7d1e5a9c3b";
  try {
    const post = (body, token = TOKEN) => fetch(`${base}/webhooks/keycrm/stock?token=${token}`, { method: "POST", body });
    assert.equal((await post("[]", wrong)).status, 401);
    assert.equal((await post("{")).status, 400);
    assert.equal((await post(`[${" ".repeat(1_000_001)}]`)).status, 413);
    assert.equal((await fetch(`${base}/webhooks/keycrm/nowhere?token=${TOKEN}`)).status, 404);
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    await until(() => server.out.stderr.includes("refused GET /webhooks/keycrm/nowhere"), "the last line");
  } finally {
    server.child.kill("SIGTERM");
    assert.equal(await server.exited, 0);
  }
  const log = server.out.stderr;
  assert.match(log, /refused POST \/webhooks\/keycrm\/stock: 401 UNAUTHORIZED/);
  assert.match(log, /refused POST \/webhooks\/keycrm\/stock: 400 BAD_WEBHOOK/);
  assert.match(log, /refused POST \/webhooks\/keycrm\/stock: 413 BODY_TOO_LARGE/);
  assert.match(log, /refused GET \/webhooks\/keycrm\/nowhere: 404 NOT_FOUND/);
  assert.doesNotMatch(log, /refused GET \/healthz/);
  for (const secret of [TOKEN, TOKEN.slice(0, 8), TOKEN.slice(-8), wrong, wrong.slice(0, 8), "token=", "[redacted]"]) {
    assert.ok(!log.includes(secret), `${secret} in the log:\n${log}`);
  }
});

test("serve --catch-up-interval lists the orders changed since its last full sync between full syncs", async () => {
  const path = join(dir, "catch-up.sqlite");
  createSampleDatabase(path, { skus: [...expectedAvailability(offers).keys()] });
  const port = await freePort();
  emulator.reset();
  // A catch-up every 60 ms: only a complete full sync gives it a time to start from.
  const { child, exited } = await serve([
    "--db", path, "--port", String(port), "--rate-limit", "6000", "--confirm-after", "0",
    "--catch-up-interval", "0.001", "--stale-after", "2",
  ]);
  await until(() => emulator.requests.some((r) => r.path === "/v1/order"), "a catch-up");
  const listing = emulator.requests.find((r) => r.path === "/v1/order");
  assert.match(listing.query["filter[updated_between]"], /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,/);
  const firstListing = emulator.requests.indexOf(listing);
  assert.ok(
    emulator.requests.slice(0, firstListing).some((r) => r.path === "/v1/offers/stocks"),
    "the full sync came first",
  );
  child.kill("SIGTERM");
  assert.equal(await exited, 0);
});

test("serve --help lists --catch-up-interval and --stale-after; bad values are usage errors", async () => {
  const help = spawn(process.execPath, [CLI, "serve", "--help"]);
  let text = "";
  help.stdout.on("data", (d) => (text += d));
  await new Promise((resolve) => help.on("exit", resolve));
  assert.match(text, /--catch-up-interval MINUTES/);
  assert.match(text, /--stale-after N/);
  for (const bad of [["--catch-up-interval", "-1"], ["--stale-after", "0"]]) {
    const child = spawn(process.execPath, [CLI, "serve", "--db", join(dir, "x.sqlite"), ...bad], {
      env: { ...process.env, KEYCRM_API_KEY: KEY, KEYCRM_WEBHOOK_TOKEN: TOKEN },
    });
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    const code = await new Promise((resolve) => child.on("exit", resolve));
    assert.equal(code, 2, err);
    assert.match(err, new RegExp(bad[0]));
  }
});

test("serve refuses to start without a webhook token", async () => {
  const path = join(dir, "other.sqlite");
  createSampleDatabase(path, { skus: ["a"] });
  const run = (env, args) =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [CLI, "serve", "--db", path, ...args], {
        env: { ...process.env, KEYCRM_API_KEY: KEY, KEYCRM_API_URL: emulator.url, ...env },
      });
      let stderr = "";
      child.stderr.on("data", (d) => (stderr += d));
      child.on("exit", (code) => resolve({ code, stderr }));
    });
  const noToken = await run({ KEYCRM_WEBHOOK_TOKEN: "" }, []);
  assert.equal(noToken.code, 2);
  assert.match(noToken.stderr, /KEYCRM_WEBHOOK_TOKEN is not set/);
});
