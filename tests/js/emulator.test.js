// The KeyCRM emulator and its catalogue: every sync test downstream trusts
// them, so these tests pin the behaviour the sync depends on.

import { test } from "node:test";
import assert from "node:assert/strict";
import {
  startEmulator,
  generateCatalogue,
  expectedAvailability,
} from "../../js/testing/index.js";

const KEY = "test-api-key";
const ENVELOPE_KEYS = [
  ...["current_page", "data", "first_page_url", "from", "last_page"],
  ...["last_page_url", "next_page_url", "path", "per_page", "prev_page_url"],
  ...["to", "total"],
];

// The rate limit is off unless a test asks for it, so tests stay independent.
async function emulatorFor(t, options = {}) {
  const emulator = await startEmulator({ rateLimitPerMinute: 0, ...options });
  t.after(() => emulator.close());
  return emulator;
}

async function get(emulator, path, { key = KEY } = {}) {
  const headers = { Accept: "application/json" };
  if (key !== null) headers.Authorization = `Bearer ${key}`;
  const response = await fetch(`${emulator.url}${path}`, { headers });
  const text = await response.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    // Left null: some tests ask for malformed bodies on purpose.
  }
  return { status: response.status, headers: response.headers, text, body };
}

const statusOf = async (...args) => (await get(...args)).status;
const ids = (rows) => rows.map((row) => row.id);
const range = (from, to) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

test("pagination follows Laravel's envelope, past the end too", async (t) => {
  const emu = await emulatorFor(t, {
    offers: generateCatalogue({ offers: 120 }),
  });
  const path = `${emu.url}/offers/stocks`;
  const envelope = (page, from, to, next, prev) => ({
    current_page: page,
    // Like Laravel, page URLs keep only `page`: limit and filters are dropped.
    first_page_url: `${path}?page=1`,
    from,
    last_page: 3,
    last_page_url: `${path}?page=3`,
    next_page_url: next && `${path}?page=${next}`,
    path,
    per_page: 50,
    prev_page_url: prev && `${path}?page=${prev}`,
    to,
    total: 120,
  });

  const first = await get(emu, "/offers/stocks?limit=50&filter[details]=true");
  assert.equal(first.status, 200);
  assert.equal(first.headers.get("content-type"), "application/json");
  assert.deepEqual(Object.keys(first.body), ENVELOPE_KEYS);
  const { data: firstRows, ...firstEnvelope } = first.body;
  assert.deepEqual(ids(firstRows), range(1, 50));
  assert.deepEqual(firstEnvelope, envelope(1, 1, 50, 2, null));

  const { data: lastRows, ...lastEnvelope } = (
    await get(emu, "/offers/stocks?limit=50&page=3")
  ).body;
  assert.deepEqual(ids(lastRows), range(101, 120));
  assert.deepEqual(lastEnvelope, envelope(3, 101, 120, null, 2));

  const beyond = await get(emu, "/offers/stocks?limit=50&page=4");
  assert.equal(beyond.status, 200);
  const { data: noRows, ...beyondEnvelope } = beyond.body;
  assert.deepEqual(noRows, []);
  assert.deepEqual(beyondEnvelope, envelope(4, null, null, null, 3));

  const byDefault = await get(emu, "/offers/stocks?page=nonsense");
  assert.equal(byDefault.body.per_page, 15);
  assert.equal(byDefault.body.current_page, 1);
  assert.equal(byDefault.body.last_page, 8);
});

test("an empty catalogue still reports one page", async (t) => {
  const emu = await emulatorFor(t, { offers: [] });
  const { body } = await get(emu, "/offers/stocks?limit=50");
  assert.deepEqual(body.data, []);
  assert.equal(body.last_page, 1);
  assert.equal(body.total, 0);
  assert.equal(body.from, null);
  assert.equal(body.next_page_url, null);
});

test("limit is capped at 50 and refused below 1", async (t) => {
  const emu = await emulatorFor(t, {
    offers: generateCatalogue({ offers: 80 }),
  });
  const capped = await get(emu, "/offers/stocks?limit=500");
  assert.equal(capped.body.per_page, 50);
  assert.equal(capped.body.data.length, 50);
  assert.equal(capped.body.last_page, 2);

  for (const limit of ["0", "-3", "abc"]) {
    const refused = await get(emu, `/offers/stocks?limit=${limit}`);
    assert.equal(refused.status, 422, `limit=${limit}`);
    assert.equal(typeof refused.body.message, "string");
    assert.equal(refused.body.errors.limit.length, 1);
  }
});

test("offers_id and offers_sku filters, alone and together", async (t) => {
  const emu = await emulatorFor(t, {
    offers: generateCatalogue({ offers: 30 }),
  });
  const rows = async (filters) =>
    (await get(emu, `/offers/stocks?${new URLSearchParams(filters)}`)).body;

  const byId = await rows({ "filter[offers_id]": "7,1,3" });
  assert.deepEqual(ids(byId.data), [1, 3, 7]);
  assert.equal(byId.total, 3);
  const bySku = await rows({ "filter[offers_sku]": "sku-000005,sku-000002,x" });
  assert.deepEqual(ids(bySku.data), [2, 5]);
  const both = await rows({
    "filter[offers_id]": "2,3",
    "filter[offers_sku]": "sku-000002,sku-000005",
  });
  assert.deepEqual(ids(both.data), [2]);
});

test("a comma in a filter splits it after decoding, as in Laravel", async (t) => {
  const emu = await emulatorFor(t, {
    offers: [
      { id: 1, sku: "a", quantity: 1, reserve: 0 },
      { id: 2, sku: "b", quantity: 2, reserve: 0 },
      { id: 3, sku: "a,b", quantity: 3, reserve: 0 },
    ],
  });
  for (const query of ["filter%5Boffers_sku%5D=a%2Cb", "filter[offers_sku]=a,b"]) {
    const { body } = await get(emu, `/offers/stocks?${query}`);
    assert.deepEqual(ids(body.data), [1, 2], query);
  }
});

test("warehouse breakdown only with filter[details]=true", async (t) => {
  const offers = generateCatalogue({ offers: 5 });
  const emu = await emulatorFor(t, { offers });
  const plain = await get(emu, "/offers/stocks");
  const rowKeys = ["id", "sku", "price", "purchased_price", "quantity"];
  for (const row of plain.body.data) {
    assert.deepEqual(Object.keys(row), [...rowKeys, "reserve"]);
  }
  const detailed = await get(emu, "/offers/stocks?filter[details]=true");
  assert.deepEqual(detailed.body.data, offers);
  // Laravel escapes "/" and non-ASCII; parsers must not care.
  assert.match(detailed.text, /http:\\\/\\\/127\.0\.0\.1/);
  assert.match(detailed.text, /\\u041e/);
  assert.equal(detailed.body.data[0].warehouse[0].name, "Основний");
});

test("live changes to the offers array show up, sorted by id", async (t) => {
  const offers = generateCatalogue({ offers: 4, firstId: 10 });
  const emu = await emulatorFor(t, { offers });
  emu.offers.push({ ...offers[0], id: 2, sku: "late" });
  emu.offers.splice(1, 1); // removes id 11
  emu.offers[0].quantity = 999;
  const { body } = await get(emu, "/offers/stocks");
  assert.deepEqual(ids(body.data), [2, 10, 12, 13]);
  assert.equal(body.data[1].quantity, 999);
});

test("a missing or wrong key gets 401 and uses no rate slot", async (t) => {
  const emu = await emulatorFor(t, { rateLimitPerMinute: 1 });
  for (const key of [null, "wrong"]) {
    const denied = await get(emu, "/offers/stocks", { key });
    assert.equal(denied.status, 401);
    assert.equal(denied.headers.get("content-type"), "application/json");
    assert.deepEqual(denied.body, { message: "Unauthenticated." });
  }
  assert.equal(await statusOf(emu, "/offers/stocks"), 200);
});

test("unknown routes answer 404 and wrong methods 405, as JSON", async (t) => {
  const emu = await emulatorFor(t);
  const missing = await get(emu, "/products");
  assert.equal(missing.status, 404);
  assert.equal(typeof missing.body.message, "string");
  const response = await fetch(`${emu.url}/offers/stocks`, {
    method: "POST",
    headers: { Authorization: `Bearer ${KEY}` },
  });
  assert.equal(response.status, 405);
  assert.equal(typeof (await response.json()).message, "string");
});

test("rate limit: 429 with Retry-After, refusals uncounted, reset recovers", async (t) => {
  const emu = await emulatorFor(t, { rateLimitPerMinute: 5 });
  for (let i = 1; i <= 5; i += 1) {
    const ok = await get(emu, "/offers/stocks");
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get("x-ratelimit-limit"), "5");
    assert.equal(ok.headers.get("x-ratelimit-remaining"), String(5 - i));
  }
  const refused = await get(emu, "/offers/stocks");
  assert.equal(refused.status, 429);
  assert.deepEqual(refused.body, { message: "Too Many Attempts." });
  const retryAfter = Number(refused.headers.get("retry-after"));
  assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
  assert.ok(Number.isInteger(retryAfter));
  assert.equal(refused.headers.get("x-ratelimit-remaining"), "0");
  assert.equal(await statusOf(emu, "/offers/stocks"), 429);

  // The two refusals did not enter the window: one more slot admits one more.
  emu.setRateLimit(6);
  assert.equal(await statusOf(emu, "/offers/stocks"), 200);
  assert.equal(await statusOf(emu, "/offers/stocks"), 429);

  emu.reset();
  assert.equal(emu.requests.length, 0);
  assert.equal(await statusOf(emu, "/offers/stocks"), 200);
  emu.setRateLimit(0);
  for (let i = 0; i < 10; i += 1) {
    assert.equal(await statusOf(emu, "/offers/stocks"), 200);
  }
});

test("a fault answers once, then the normal page comes back", async (t) => {
  const emu = await emulatorFor(t);
  emu.injectFault({ status: 500 });
  const failed = await get(emu, "/offers/stocks");
  assert.equal(failed.status, 500);
  assert.equal(typeof failed.body.message, "string");
  assert.equal(await statusOf(emu, "/offers/stocks"), 200);
});

test("faults match path and page, in order, and use rate slots", async (t) => {
  const emu = await emulatorFor(t, { rateLimitPerMinute: 5 });
  emu.injectFault({ status: 503, page: 2, count: 2 });
  emu.injectFault({ status: 429, retryAfter: 7 });
  emu.injectFault({ status: 429 });
  assert.equal(await statusOf(emu, "/offers"), 200, "other path untouched");
  assert.equal(await statusOf(emu, "/offers/stocks?page=2"), 503);
  const withHeader = await get(emu, "/offers/stocks?page=1");
  assert.equal(withHeader.status, 429);
  assert.equal(withHeader.headers.get("retry-after"), "7");
  assert.equal(await statusOf(emu, "/offers/stocks?page=2"), 503, "count 2");
  const bare = await get(emu, "/offers/stocks");
  assert.equal(bare.status, 429);
  assert.equal(bare.headers.get("retry-after"), null);
  // Five requests so far, faulted or not, fill the window.
  const limited = await get(emu, "/offers/stocks");
  assert.equal(limited.status, 429);
  assert.ok(limited.headers.get("retry-after"));
});

test("a fault can send a malformed 200 page", async (t) => {
  const emu = await emulatorFor(t);
  emu.injectFault({ status: 200, body: '{"data": [' });
  const broken = await get(emu, "/offers/stocks");
  assert.equal(broken.status, 200);
  assert.equal(broken.text, '{"data": [');
  assert.equal(broken.body, null);
  assert.equal((await get(emu, "/offers/stocks")).body.current_page, 1);
});

test("a fault can drop the connection without an answer", async (t) => {
  const emu = await emulatorFor(t);
  emu.injectFault({ dropConnection: true, path: null });
  await assert.rejects(get(emu, "/offers"));
  assert.equal(emu.requests.at(-1).status, 0);
  assert.equal(await statusOf(emu, "/offers"), 200);
  assert.equal(emu.counts().byStatus[0], 1);
});

test("a delay-only fault answers normally, late; latency slows all", async (t) => {
  const emu = await emulatorFor(t);
  emu.injectFault({ delayMs: 150 });
  let started = Date.now();
  const slow = await get(emu, "/offers/stocks");
  assert.equal(slow.status, 200);
  assert.equal(slow.body.current_page, 1);
  assert.ok(Date.now() - started >= 140);

  emu.setLatency([60, 80]);
  started = Date.now();
  assert.equal(await statusOf(emu, "/offers", { key: "wrong" }), 401);
  assert.ok(Date.now() - started >= 55);
});

test("clearFaults drops queued faults; bad faults are refused", async (t) => {
  const emu = await emulatorFor(t);
  emu.injectFault({ status: 500, count: Infinity, path: null });
  assert.equal(await statusOf(emu, "/offers"), 500);
  assert.equal(await statusOf(emu, "/order/1"), 500);
  emu.clearFaults();
  assert.equal(await statusOf(emu, "/offers"), 200);
  assert.throws(() => emu.injectFault({ status: 42 }), TypeError);
  assert.throws(() => emu.injectFault({ status: 500, count: 0 }), TypeError);
});

test("the log records every request with raw query and status", async (t) => {
  const emu = await emulatorFor(t, { rateLimitPerMinute: 1 });
  const before = Date.now();
  await get(emu, "/offers/stocks?limit=50&filter[details]=true&page=2");
  await get(emu, "/offers/stocks");
  await get(emu, "/offers/stocks", { key: null });
  assert.deepEqual(
    emu.requests.map(({ method, path, status }) => [method, path, status]),
    [
      ["GET", "/v1/offers/stocks", 200],
      ["GET", "/v1/offers/stocks", 429],
      ["GET", "/v1/offers/stocks", 401],
    ],
  );
  const { query, startedAt } = emu.requests[0];
  assert.deepEqual(query, {
    limit: "50",
    "filter[details]": "true",
    page: "2",
  });
  assert.ok(startedAt >= before && startedAt <= Date.now());
  assert.deepEqual(emu.counts(), {
    total: 3,
    byStatus: { 200: 1, 429: 1, 401: 1 },
    byPath: { "/v1/offers/stocks": 3 },
  });
});

test("/offers calls the reserve in_reserve and filters by id, sku", async (t) => {
  const offers = generateCatalogue({ offers: 20 });
  const emu = await emulatorFor(t, { offers });
  const { body } = await get(emu, "/offers?limit=50");
  assert.deepEqual(Object.keys(body), ENVELOPE_KEYS);
  assert.equal(body.path, `${emu.url}/offers`);
  const row = body.data[3];
  assert.deepEqual(Object.keys(row), [
    ...["id", "product_id", "sku", "barcode", "price", "quantity"],
    ...["in_reserve", "is_archived", "updated_at"],
  ]);
  assert.equal(row.in_reserve, offers[3].reserve);
  assert.equal(row.quantity, offers[3].quantity);
  const byId = await get(emu, "/offers?filter[id]=4,6");
  assert.deepEqual(ids(byId.body.data), [4, 6]);
  const bySku = await get(emu, "/offers?filter[sku]=sku-000011");
  assert.deepEqual(ids(bySku.body.data), [11]);
});

test("/order/{id} serves lines only when included", async (t) => {
  const lines = [
    { sku: "sku-000002", quantity: 2, offer: { id: 2, sku: "sku-000002" } },
    { sku: "sku-000004", quantity: 1.5, offer_id: 4 },
  ];
  const emu = await emulatorFor(t, {
    offers: generateCatalogue({ offers: 5 }),
    orders: [{ id: 501, status_id: 3, products: lines }],
  });
  const full = await get(emu, "/order/501?include=products.offer");
  assert.equal(full.status, 200);
  assert.equal(full.body.status_id, 3);
  assert.deepEqual(full.body.products, [
    lines[0],
    { ...lines[1], offer: { id: 4, sku: "sku-000004" } },
  ]);
  assert.deepEqual((await get(emu, "/order/501")).body, {
    id: 501,
    // Required by KeyCRM's description; fixtures without one get 1.
    source_id: 1,
    status_id: 3,
  });
  const missing = await get(emu, "/order/999?include=products.offer");
  assert.equal(missing.status, 404);
  assert.equal(typeof missing.body.message, "string");
});

test("/order lists the orders changed within updated_between, by page", async (t) => {
  const line = (id) => ({ sku: `sku-00000${id}`, quantity: 1, offer_id: id });
  const emu = await emulatorFor(t, {
    offers: generateCatalogue({ offers: 5 }),
    orders: [
      { id: 3, updated_at: "2026-03-01 12:00:00", products: [line(3)] },
      { id: 1, updated_at: "2026-03-01 09:59:59", products: [line(1)] },
      { id: 2, updated_at: "2026-03-01 10:00:00", products: [line(2), line(4)] },
      { id: 4, updated_at: "2026-03-02 00:00:00", products: [] },
    ],
  });
  const list = async (query) => (await get(emu, `/order?${query}`)).body;
  const window = encodeURIComponent("2026-03-01 10:00:00,2026-03-01 23:59:59");
  const first = await list(
    `filter%5Bupdated_between%5D=${window}&include=products.offer&limit=1`,
  );
  assert.deepEqual(ids(first.data), [2]);
  assert.equal(first.total, 2);
  assert.deepEqual(first.data[0].products[1].offer, { id: 4, sku: "sku-000004" });
  assert.equal(first.next_page_url, `${emu.url}/order?page=2`);
  const second = await list(
    `filter%5Bupdated_between%5D=${window}&include=products.offer&limit=1&page=2`,
  );
  assert.deepEqual(ids(second.data), [3]);
  assert.equal(second.next_page_url, null);
  // A bare date ends with its last second; without include there are no lines.
  const days = await list("filter[updated_between]=2026-03-01,2026-03-01");
  assert.deepEqual(ids(days.data), [1, 2, 3]);
  assert.equal(days.data[0].products, undefined);
  assert.deepEqual(ids((await list("sort=-id")).data), [4, 3, 2, 1]);
  const refused = await get(emu, "/order?filter[updated_between]=yesterday");
  assert.equal(refused.status, 422);
});

test(
  "close() is prompt with idle and in-flight connections",
  { timeout: 5000 },
  async () => {
    const emu = await startEmulator();
    await get(emu, "/offers/stocks");
    emu.injectFault({ delayMs: 10_000 });
    const inFlight = get(emu, "/offers/stocks");
    while (emu.requests.length < 2) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const started = Date.now();
    await emu.close();
    assert.ok(Date.now() - started < 1000);
    await assert.rejects(inFlight);
    await assert.rejects(fetch(`${emu.url}/offers/stocks`));
  },
);

test("catalogue: totals, awkward offers, determinism", () => {
  const catalogue = generateCatalogue();
  assert.deepEqual(ids(catalogue), range(1, 2000));
  const round = (x) => Math.round(x * 1e6) / 1e6;
  const total = (offer, field) =>
    round(offer.warehouse.reduce((sum, w) => sum + w[field], 0));
  for (const offer of catalogue) {
    const warehouses = offer.warehouse.map((w) => `${w.id}:${w.name}`);
    assert.deepEqual(warehouses, ["1:Основний", "2:Київ"]);
    assert.equal(offer.quantity, total(offer, "quantity"));
    assert.equal(offer.reserve, total(offer, "reserve"));
    if (offer.sku) assert.match(offer.sku, /^sku-\d{6}$/);
  }
  const some = (predicate) => assert.ok(catalogue.some(predicate));
  some((o) => o.sku === null);
  some((o) => o.sku === "");
  some((o) => !Number.isInteger(o.quantity));
  some((o) => o.warehouse.some((w) => !Number.isInteger(w.reserve)));
  some((o) => o.quantity === 0);
  some((o) => o.warehouse.some((w) => w.reserve > w.quantity));

  const positions = new Map();
  catalogue.forEach((o, i) => {
    if (o.sku) positions.set(o.sku, [...(positions.get(o.sku) ?? []), i]);
  });
  const duplicates = [...positions.values()].filter((p) => p.length > 1);
  const pageOf = (i) => Math.floor(i / 50);
  assert.ok(duplicates.some((p) => pageOf(p[0]) === pageOf(p[1])));
  assert.ok(duplicates.some((p) => pageOf(p[0]) !== pageOf(p[1])));

  const seeded = (seed) => generateCatalogue({ offers: 300, seed });
  assert.deepEqual(seeded(7), seeded(7));
  assert.notDeepEqual(seeded(7), seeded(8));
});

test("catalogue: intervals switch off at 0, ids and warehouses follow", () => {
  const plain = generateCatalogue({
    offers: 500,
    withoutSkuEvery: 0,
    duplicateSkuEvery: 0,
    fractionalEvery: 0,
    firstId: 1001,
    warehouses: [
      { id: 9, name: "A" },
      { id: 4, name: "B" },
      { id: 5, name: "C" },
    ],
  });
  assert.equal(plain[0].id, 1001);
  assert.equal(plain[0].sku, "sku-001001");
  assert.equal(new Set(plain.map((o) => o.sku)).size, 500);
  for (const o of plain) {
    assert.ok(o.sku);
    assert.ok(Number.isInteger(o.quantity) && Number.isInteger(o.reserve));
    assert.deepEqual(ids(o.warehouse), [9, 4, 5]);
  }
});

test("expectedAvailability on a hand-made catalogue", () => {
  const offer = (sku, q1, r1, q2, r2) => ({
    sku,
    quantity: q1 + q2,
    reserve: r1 + r2,
    warehouse: [
      { id: 1, name: "Основний", quantity: q1, reserve: r1 },
      { id: 2, name: "Київ", quantity: q2, reserve: r2 },
    ],
  });
  const offers = [
    offer("a", 10, 3, 5, 1), // 15 − 4
    offer("b", 2.3, 0.3, 0.75, 0), // float trap: 2.3 − 0.3 is 2, not 1
    offer("c", 1, 4, 2, 0), // over-reserved: negative, clamped
    offer(null, 5, 0, 5, 0),
    offer("", 5, 0, 5, 0),
    // Three offers, one SKU: the smallest figure, neither the first nor the last.
    offer("dup", 5, 0, 0, 0),
    offer("dup", 1, 0, 0.5, 0),
    offer("dup", 3, 0, 2, 0),
    offer("z", 0, 0, 0, 0),
  ];
  const cases = [
    [undefined, { a: 11, b: 2, c: 0, dup: 1, z: 0 }],
    [{ fractional: true }, { a: 11, b: 2.75, c: 0, dup: 1.5, z: 0 }],
    [{ keepReserve: true }, { a: 15, b: 3, c: 3, dup: 1, z: 0 }],
    [{ warehouses: [1] }, { a: 7, b: 2, c: 0, dup: 1, z: 0 }],
    [{ warehouses: ["Київ"] }, { a: 4, b: 0, c: 2, dup: 0, z: 0 }],
    [{ warehouses: [1, "Київ"] }, { a: 11, b: 2, c: 0, dup: 1, z: 0 }],
    [{ warehouses: [] }, { a: 11, b: 2, c: 0, dup: 1, z: 0 }],
    [
      { warehouses: ["Київ"], fractional: true, keepReserve: true },
      { a: 5, b: 0.75, c: 2, dup: 0, z: 0 },
    ],
  ];
  for (const [options, expected] of cases) {
    const availability = expectedAvailability(offers, options);
    assert.ok(availability instanceof Map);
    assert.deepEqual(
      Object.fromEntries(availability),
      expected,
      JSON.stringify(options),
    );
  }
});

test("expectedAvailability skips the SKU-less; a shared SKU gets its smallest", () => {
  const catalogue = generateCatalogue();
  const owners = new Map();
  for (const offer of catalogue) {
    if (offer.sku) owners.set(offer.sku, [...(owners.get(offer.sku) ?? []), offer]);
  }
  const expected = expectedAvailability(catalogue);
  assert.deepEqual([...expected.keys()].sort(), [...owners.keys()].sort());
  let shared = 0;
  for (const [sku, offers] of owners) {
    const alone = offers.map((o) => expectedAvailability([o]).get(sku));
    assert.equal(expected.get(sku), Math.min(...alone), sku);
    if (new Set(alone).size > 1) shared += 1;
  }
  assert.ok(shared > 0, "some shared SKU has offers of different figures");
  for (const value of expected.values()) {
    assert.ok(Number.isInteger(value) && value >= 0);
  }
});

test("answer modes are checked when the emulator starts", async (t) => {
  const wrong = [
    { envelope: "links" },
    { shuffleSeed: 1.5 },
    { shuffleSeed: "7" },
    { figures: "strings" },
    { rateLimitHeaders: "no" },
    { archivedInStocks: 0 },
  ];
  for (const options of wrong) {
    await assert.rejects(startEmulator(options), TypeError, JSON.stringify(options));
  }
  const emu = await emulatorFor(t, { envelope: "spec", shuffleSeed: 0 });
  assert.deepEqual(emu.mode, {
    envelope: "spec",
    shuffleSeed: 0,
    rateLimitHeaders: true,
    figures: "number",
    archivedInStocks: true,
  });
});

test("the rate limiter and the log follow the emulator's clock", async (t) => {
  let now = 1_000_000;
  const emu = await emulatorFor(t, {
    rateLimitPerMinute: 2,
    clock: () => now,
  });
  assert.equal(await statusOf(emu, "/offers/stocks"), 200);
  assert.equal(await statusOf(emu, "/offers/stocks"), 200);
  const refused = await get(emu, "/offers/stocks");
  assert.equal(refused.status, 429);
  assert.equal(refused.headers.get("retry-after"), "60");
  now += 60_000; // the window has passed, whatever the real time
  assert.equal(await statusOf(emu, "/offers/stocks"), 200);
  assert.deepEqual(
    emu.requests.map((r) => r.startedAt),
    [1_000_000, 1_000_000, 1_000_000, 1_060_000],
  );
});
