// The webhook endpoint over real HTTP: Node's http server with toNodeListener,
// a SQLite file, and the emulator for the order webhook's lookups.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { createServer } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";

import { createWebhookHandler, toNodeListener } from "keycrm-stock-sync";
import { createSqliteSink, createSampleDatabase } from "keycrm-stock-sync/sqlite";
import { startEmulator, generateCatalogue, expectedAvailability } from "keycrm-stock-sync/testing";
import { createMemorySink } from "../../js/sinks/memory.js";
import { exchange, request } from "./support/raw-http.js";

const TOKEN = "whk-6b1f0e9a4c2d8e7f3a5b";
let dir;
let emulator;
let offers;
let server;
let base;
let path;
let sink;
const results = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "keycrm-endpoint-"));
  offers = generateCatalogue({ offers: 120, duplicateSkuEvery: 0, withoutSkuEvery: 0 });
  emulator = await startEmulator({
    apiKey: "api-key",
    offers,
    rateLimitPerMinute: 6000,
    orders: [{ id: 42, products: [{ sku: offers[3].sku, quantity: 1, offer_id: offers[3].id }] }],
  });
  path = join(dir, "shop.sqlite");
  createSampleDatabase(path, { skus: [...expectedAvailability(offers).keys(), "a001-56"] });
  sink = createSqliteSink({ path });
  const handler = createWebhookHandler({
    token: TOKEN,
    sink,
    apiKey: "api-key",
    apiUrl: emulator.url,
    rateLimitPerMinute: 6000,
    maxBodyBytes: 10_000,
    onResult: (kind, result) => results.push({ kind, result }),
  });
  server = createServer(toNodeListener(handler));
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${server.address().port}`;
});

after(async () => {
  await new Promise((resolve) => server.close(resolve));
  await sink.close();
  await emulator.close();
  rmSync(dir, { recursive: true, force: true });
});

const post = (route, body, { token = TOKEN, headers = {} } = {}) =>
  fetch(`${base}/webhooks/keycrm/${route}${token === null ? "" : `?token=${token}`}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });

function stockOf(sku) {
  const db = new Database(path, { readonly: true });
  const row = db.prepare("SELECT stock FROM products WHERE sku = ?").get(sku);
  db.close();
  return row?.stock;
}

test("the stock webhook updates rows, and a replay changes nothing", async () => {
  const body = JSON.stringify([{ offer_id: 130827, sku: "a001-56", in_stock: 16, in_reserve: 3 }]);
  const response = await post("stock", body);
  assert.equal(response.status, 200);
  const answer = await response.json();
  assert.equal(answer.updated, 1);
  assert.equal(stockOf("a001-56"), 13);
  const replay = await (await post("stock", body)).json();
  assert.equal(replay.updated, 0);
});

test("a missing or wrong token is 401, with the same answer either way", async () => {
  const body = JSON.stringify([{ offer_id: 1, sku: "a001-56", in_stock: 99, in_reserve: 0 }]);
  const missing = await post("stock", body, { token: null });
  const wrong = await post("stock", body, { token: `${TOKEN}x` });
  assert.equal(missing.status, 401);
  assert.equal(wrong.status, 401);
  assert.deepEqual(await missing.json(), await wrong.json());
  assert.equal(stockOf("a001-56"), 13, "nothing written");
  const header = await post("stock", body, { token: null, headers: { "x-webhook-token": TOKEN } });
  assert.equal(header.status, 200);
  assert.equal(stockOf("a001-56"), 99);
});

test("bad bodies are 400, oversized ones 413, unknown routes 404, wrong methods 405", async () => {
  for (const body of ["{", "{}", '[{"sku":"x","in_stock":1}]']) {
    const response = await post("stock", body);
    assert.equal(response.status, 400, body);
    assert.equal((await response.json()).error.code, "BAD_WEBHOOK");
  }
  const unknown = await post("order", JSON.stringify({ event: "order.deleted", context: { id: 1 } }));
  assert.equal(unknown.status, 400);
  assert.match((await unknown.json()).error.message, /unknown event/);
  const big = await post("stock", `[${" ".repeat(20_000)}]`);
  assert.equal(big.status, 413);
  assert.equal((await fetch(`${base}/webhooks/keycrm/other?token=${TOKEN}`, { method: "POST" })).status, 404);
  assert.equal((await fetch(`${base}/webhooks/keycrm/stock?token=${TOKEN}`)).status, 405);
  assert.deepEqual(await (await fetch(`${base}/webhooks/keycrm/healthz`)).json(), { ok: true });
});

test("the order webhook answers at once, then syncs that order's offers", async () => {
  emulator.reset();
  results.length = 0;
  const response = await post(
    "order",
    JSON.stringify({ event: "order.change_order_status", context: { id: 42, status_id: 3 } }),
  );
  assert.equal(response.status, 202);
  assert.deepEqual(await response.json(), { accepted: true, event: "order.change_order_status", orderId: 42 });
  for (let i = 0; i < 100 && results.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(results[0]?.kind, "order");
  assert.equal(results[0].result.complete, true, JSON.stringify(results[0].result.error));
  assert.deepEqual(emulator.requests.map((r) => r.path), ["/v1/order/42", "/v1/offers/stocks"]);
  assert.equal(stockOf(offers[3].sku), expectedAvailability(offers).get(offers[3].sku));

  const lead = await post("order", JSON.stringify({ event: "lead.change_lead_status", context: { id: 1 } }));
  assert.equal(lead.status, 202);
  assert.deepEqual(await lead.json(), { accepted: false, ignored: "lead.change_lead_status" });
});

test("a short token, or per-warehouse rows, are refused when the handler is made", () => {
  assert.throws(() => createWebhookHandler({ token: "short", sink }), { code: "INVALID_CONFIG" });
  assert.throws(() => createWebhookHandler({ token: TOKEN, sink, perWarehouse: true }), {
    code: "INVALID_CONFIG",
    message: /summed over warehouses/,
  });
});

test("deliveries out of order are put right by a confirmation read, one for all within its delay", async () => {
  const [a, b, c] = offers.slice(10, 13);
  const expected = expectedAvailability(offers);
  const confirmed = [];
  const make = (confirmAfterMs) =>
    createWebhookHandler({
      token: TOKEN,
      sink,
      apiKey: "api-key",
      apiUrl: emulator.url,
      rateLimitPerMinute: 6000,
      confirmAfterMs,
      waitUntil: (work) => confirmed.push(work),
      onResult: (kind, result) => results.push({ kind, result }),
    });
  const deliver = (handler, offer, inStock) =>
    handler(
      new Request(`http://shop.test/webhooks/keycrm/stock?token=${TOKEN}`, {
        method: "POST",
        body: JSON.stringify([{ offer_id: offer.id, sku: offer.sku, in_stock: inStock, in_reserve: 0 }]),
      }),
    );
  // KeyCRM holds `expected`; its newest webhook for `a` came first, then an
  // older one that had been delayed: the site is left with the older figure.
  const stale = expected.get(a.sku) + 5;
  const outOfOrder = async (handler) => {
    emulator.reset();
    results.length = 0;
    confirmed.length = 0;
    await deliver(handler, a, expected.get(a.sku));
    await deliver(handler, a, stale);
    await deliver(handler, b, 0);
    await deliver(handler, c, 1);
    assert.equal(stockOf(a.sku), stale);
  };

  await outOfOrder(make(0));
  assert.equal(confirmed.length, 0);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(stockOf(a.sku), stale, "without confirmation the older figure stays");
  assert.equal(emulator.requests.length, 0);

  await outOfOrder(make(150));
  assert.equal(confirmed.length, 4, "each delivery's work is kept alive");
  assert.equal(new Set(confirmed).size, 1, "all four share one confirmation");
  await Promise.all(confirmed);
  for (const offer of [a, b, c]) assert.equal(stockOf(offer.sku), expected.get(offer.sku), offer.sku);
  assert.deepEqual(emulator.requests.map((r) => r.path), ["/v1/offers/stocks"]);
  assert.equal(emulator.requests[0].query["filter[offers_id]"], [a.id, b.id, c.id].join(","));
  const confirmation = results.find((r) => r.kind === "confirm");
  assert.equal(confirmation?.result.complete, true);

  assert.throws(() => make(-1), { code: "INVALID_CONFIG" });
  assert.throws(() => createWebhookHandler({ token: TOKEN, sink, pacing: {} }), {
    code: "INVALID_CONFIG",
    message: /createPacing/,
  });
  assert.throws(() => createWebhookHandler({ token: TOKEN, sink, confirmAfterMs: 100 }), {
    code: "INVALID_CONFIG",
    message: /needs apiKey/,
  });
});

test("once its signal aborts, a waiting confirmation reads nothing", async () => {
  const stop = new AbortController();
  const kept = [];
  const handler = createWebhookHandler({
    token: TOKEN,
    sink,
    apiKey: "api-key",
    apiUrl: emulator.url,
    confirmAfterMs: 60_000,
    signal: stop.signal,
    waitUntil: (work) => kept.push(work),
  });
  emulator.reset();
  const offer = offers[20];
  await handler(
    new Request(`http://shop.test/webhooks/keycrm/stock?token=${TOKEN}`, {
      method: "POST",
      body: JSON.stringify([{ offer_id: offer.id, sku: offer.sku, in_stock: 3, in_reserve: 0 }]),
    }),
  );
  assert.equal(kept.length, 1);
  stop.abort();
  await kept[0];
  assert.equal(emulator.requests.length, 0);
});

test("a confirmation that ran leaves no listener on the handler's signal", async () => {
  const stop = new AbortController();
  const kept = [];
  const handler = createWebhookHandler({
    token: TOKEN,
    sink,
    apiKey: "api-key",
    apiUrl: emulator.url,
    rateLimitPerMinute: 6000,
    confirmAfterMs: 20,
    signal: stop.signal,
    waitUntil: (work) => kept.push(work),
  });
  const offer = offers[21];
  for (let window = 0; window < 3; window++) {
    await handler(
      new Request(`http://shop.test/webhooks/keycrm/stock?token=${TOKEN}`, {
        method: "POST",
        body: JSON.stringify([{ offer_id: offer.id, sku: offer.sku, in_stock: 3, in_reserve: 0 }]),
      }),
    );
    await kept.at(-1);
  }
  assert.equal(kept.length, 3);
  assert.equal(getEventListeners(stop.signal, "abort").length, 0);
});

test("an oversized body gets its 413 over HTTP, whether its length is declared or streamed", async () => {
  const chunk = new TextEncoder().encode(" ".repeat(1024));
  const streamed = new ReadableStream({
    start(controller) {
      controller.enqueue(new TextEncoder().encode("["));
      for (let i = 0; i < 60; i++) controller.enqueue(chunk);
      controller.enqueue(new TextEncoder().encode("]"));
      controller.close();
    },
  });
  const chunked = await fetch(`${base}/webhooks/keycrm/stock?token=${TOKEN}`, {
    method: "POST",
    body: streamed,
    duplex: "half",
  });
  assert.equal(chunked.status, 413);
  assert.equal((await chunked.json()).error.code, "BODY_TOO_LARGE");
  const declared = await post("stock", `[${" ".repeat(200_000)}]`);
  assert.equal(declared.status, 413);
  // The server goes on serving.
  assert.deepEqual(await (await fetch(`${base}/webhooks/keycrm/healthz`)).json(), { ok: true });
});

test("a body written in full before anything is read gets its 413, not a reset", async () => {
  const { port } = server.address();
  const target = `/webhooks/keycrm/stock?token=${TOKEN}`;
  const size = 4 * 1024 * 1024;
  const declared = request("POST", target, { headers: { "content-length": String(size) } });
  const chunked = request("POST", target, { headers: { "transfer-encoding": "chunked" } });
  const piece = Buffer.alloc(64 * 1024, 32);
  const chunks = Array.from({ length: size / piece.length }, () =>
    Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from("\r\n")]),
  );
  for (const [what, bytes] of [
    ["declared", [declared, Buffer.alloc(size, 32)]],
    ["chunked", [chunked, ...chunks, "0\r\n\r\n"]],
  ]) {
    const result = await exchange(port, bytes, { readAfterWriting: true });
    assert.equal(result.error, undefined, `${what}: the sender saw ${result.error}`);
    assert.ok(result.written, `${what}: the whole body was taken`);
    assert.equal(result.answers[0]?.status, 413, what);
    assert.ok(result.answers[0].complete, what);
    assert.equal(result.answers[0].headers.connection, "close", what);
    assert.equal(JSON.parse(result.answers[0].body).error.code, "BODY_TOO_LARGE", what);
  }
  assert.deepEqual(await (await fetch(`${base}/webhooks/keycrm/healthz`)).json(), { ok: true });
});

test("a bad Host, a method Request refuses, or an odd target gets an answer, and the server stays up", async () => {
  const { port } = server.address();
  const stock = `/webhooks/keycrm/stock?token=${TOKEN}`;
  const cases = [
    [request("GET", "/healthz", { host: "a b" }), 400, "BAD_REQUEST"],
    [request("GET", "/healthz", { host: "shop.test:99999" }), 400, "BAD_REQUEST"],
    [request("POST", stock, { host: "a/b", body: "[]" }), 400, "BAD_REQUEST"],
    [request("GET", "/healthz", { headers: { host: ["a", "b"] } }), 400, "BAD_REQUEST"],
    [request("TRACE", "/healthz"), 501, "NOT_IMPLEMENTED"],
    [request("TRACE", stock, { body: "[]" }), 501, "NOT_IMPLEMENTED"],
    [request("OPTIONS", "*"), 404, "NOT_FOUND"],
    [request("GET", "//healthz"), 404, "NOT_FOUND"],
    [request("GET", "/%zz"), 404, "NOT_FOUND"],
    [request("GET", `/${"a".repeat(8000)}`), 404, "NOT_FOUND"],
    [request("GET", "http://other.test/webhooks/keycrm/healthz"), 200, undefined],
    [request("PATCH", stock, { body: "[]" }), 405, "METHOD_NOT_ALLOWED"],
  ];
  for (const [bytes, status, code] of cases) {
    const { answers } = await exchange(port, bytes);
    const what = bytes.split("\r\n")[0].slice(0, 60);
    assert.equal(answers[0]?.status, status, what);
    if (code) assert.equal(JSON.parse(answers[0].body).error.code, code, what);
  }
  assert.deepEqual(await (await fetch(`${base}/webhooks/keycrm/healthz`)).json(), { ok: true });
});

/** A webhook handler over a sink, served on a fresh port; `close` ends both. */
async function serving(handlerOptions) {
  const own = createServer(toNodeListener(createWebhookHandler({ token: TOKEN, ...handlerOptions })));
  await new Promise((resolve) => own.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${own.address().port}`;
  return { url, close: () => new Promise((resolve) => own.close(resolve)) };
}

test("a site database that does not answer gets 503 with Retry-After after handlerTimeoutMs", async () => {
  let writes = 0;
  const stuck = {
    read: async (keys) => keys.map((key) => ({ sku: key.sku, stock: 0 })),
    write: () => {
      writes += 1;
      return new Promise(() => {});
    },
  };
  const own = await serving({ sink: stuck, handlerTimeoutMs: 50 });
  try {
    const deliver = () =>
      fetch(`${own.url}/webhooks/keycrm/stock?token=${TOKEN}`, {
        method: "POST",
        body: JSON.stringify([{ offer_id: 1, sku: "a", in_stock: 4, in_reserve: 0 }]),
      });
    const answer = await deliver();
    assert.equal(answer.status, 503);
    assert.equal(answer.headers.get("retry-after"), "30");
    assert.equal((await answer.json()).error.code, "SINK_TIMEOUT");
    // The server goes on answering; the stuck call is not waited for.
    assert.deepEqual(await (await fetch(`${own.url}/webhooks/keycrm/healthz`)).json(), { ok: true });
    // Once eight deliveries are still waiting, more are refused without a database call.
    for (let i = 0; i < 8; i++) assert.equal((await deliver()).status, 503);
    const before = writes;
    assert.ok(before >= 1 && before <= 8, `${before} writes`);
    const refused = await deliver();
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get("retry-after"), "30");
    assert.match((await refused.json()).error.message, /8 earlier deliveries are still waiting/);
    assert.equal(writes, before);
  } finally {
    await own.close();
  }
  assert.throws(() => createWebhookHandler({ token: TOKEN, sink, handlerTimeoutMs: 0 }), {
    code: "INVALID_CONFIG",
  });
});

test("a site database that fails gets 503 with Retry-After, not 500", async () => {
  const failing = createMemorySink([{ sku: "a", stock: 0 }], { failOnWrite: 1 });
  const own = await serving({ sink: failing });
  try {
    const answer = await fetch(`${own.url}/webhooks/keycrm/stock?token=${TOKEN}`, {
      method: "POST",
      body: JSON.stringify([{ offer_id: 1, sku: "a", in_stock: 4, in_reserve: 0 }]),
    });
    assert.equal(answer.status, 503);
    assert.equal(answer.headers.get("retry-after"), "30");
    assert.equal((await answer.json()).error.code, "SINK_FAILED");
  } finally {
    await own.close();
  }
});
