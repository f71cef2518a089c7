// What a sink is called with and what it may answer: the objects of the sink
// interface, exactly (fields absent when they have no value), whatever the SKUs
// hold, and rows of the wrong shape refused as SINK_FAILED.

import { test } from "node:test";
import assert from "node:assert/strict";
import { syncStocks } from "keycrm-stock-sync";

// SKUs that are not plain ASCII: Cyrillic, a character outside the BMP (two
// UTF-16 units), a tab, an escaped quote, a number-like SKU.
const SKUS = ["ключ-1", "😀x", "a\tb", 'say "hi"', "42", "ж😀ж"];

const pageOf = (offers) =>
  JSON.stringify({
    total: offers.length,
    current_page: 1,
    per_page: 50,
    last_page: 1,
    next_page_url: null,
    data: offers,
  });

const offers = SKUS.map((sku, i) => ({
  id: i + 1,
  sku,
  quantity: 10 + i,
  reserve: 1,
  warehouse: [
    { id: 7, name: "A", quantity: 6 + i, reserve: 1 },
    { id: 9, name: "B", quantity: 4, reserve: 0 },
  ],
}));

function pageFetch(body) {
  return async () => ({
    status: 200,
    headers: { get: () => null },
    arrayBuffer: async () => new TextEncoder().encode(body).buffer,
  });
}

/** A sink that records its calls and answers `answer(keys)`. */
function recordingSink(answer) {
  const calls = { read: [], write: [] };
  return {
    calls,
    async read(keys) {
      calls.read.push(structuredClone(keys));
      return answer(keys);
    },
    async write(changes) {
      calls.write.push(structuredClone(changes));
    },
  };
}

const run = (sink, options = {}) =>
  syncStocks({
    apiKey: "k",
    apiUrl: "http://keycrm.invalid/v1",
    fetch: pageFetch(pageOf(offers)),
    sink,
    rateLimitPerMinute: 60_000,
    ...options,
  });

test("keys and changes are the documented objects, whatever the SKUs hold", async () => {
  const sink = recordingSink((keys) =>
    keys.map((key) => ({ sku: key.sku, stock: 1000 })),
  );
  const report = await run(sink);
  assert.equal(report.complete, true, JSON.stringify(report.error));
  assert.deepEqual(sink.calls.read, [SKUS.map((sku) => ({ sku }))]);
  const written = sink.calls.write.flat();
  assert.deepEqual(
    written.map((change) => Object.keys(change)),
    SKUS.map(() => ["sku", "stock", "observedAt"]),
  );
  assert.deepEqual(
    written.map(({ sku, stock }) => ({ sku, stock })),
    SKUS.map((sku, i) => ({ sku, stock: 9 + i })),
  );
  for (const change of written) assert.equal(typeof change.observedAt, "number");
});

test("per-warehouse keys and changes carry the warehouse id", async () => {
  const sink = recordingSink((keys) =>
    keys.map((key) => ({ ...key, stock: 1000 })),
  );
  const report = await run(sink, { perWarehouse: true });
  assert.equal(report.complete, true, JSON.stringify(report.error));
  const keys = SKUS.flatMap((sku) => [
    { sku, warehouseId: 7 },
    { sku, warehouseId: 9 },
  ]);
  assert.deepEqual(sink.calls.read, [keys]);
  const written = sink.calls.write.flat();
  assert.deepEqual(
    written.map(({ sku, warehouseId, stock }) => ({ sku, warehouseId, stock })),
    SKUS.flatMap((sku, i) => [
      { sku, warehouseId: 7, stock: 5 + i },
      { sku, warehouseId: 9, stock: 4 },
    ]),
  );
});

test("rows read back are matched by their exact SKU, and a figure that is not finite reads as none", async () => {
  const sink = recordingSink((keys) =>
    keys.map((key, i) => ({
      sku: key.sku,
      // The row of SKU i holds what its offer sells, but for three rows.
      stock: i === 0 ? NaN : i === 1 ? Infinity : i === 2 ? null : 9 + i,
      observedAt: undefined,
    })),
  );
  const report = await run(sink);
  assert.equal(report.complete, true, JSON.stringify(report.error));
  assert.deepEqual(
    sink.calls.write.flat().map((change) => change.sku),
    SKUS.slice(0, 3),
  );
  assert.equal(report.unchanged, SKUS.length - 3);
});

test("rows of the wrong shape fail the run as SINK_FAILED, naming the fault", async () => {
  for (const [answer, fault] of [
    [() => undefined, "expected an array of rows"],
    [() => [null], "row 0 is not an object"],
    [() => [{ stock: 1 }], "row 0 has no `sku` string"],
    [() => [{ sku: 5, stock: 1 }], "row 0 has no `sku` string"],
    [() => [{ sku: "42", stock: "lots" }], "row 0: `stock` is not a number"],
    [() => [{ sku: "42", stock: 1, warehouseId: "7" }], "`warehouseId` is not a number"],
    [() => [{ sku: "42", stock: 1, warehouseId: 7.5 }], "`warehouseId` 7.5 is not a whole number"],
    [() => [{ sku: "42", stock: 1, observedAt: -3 }], "`observedAt` -3 is not a whole number"],
    [() => [{ sku: "\ud800", stock: 1 }], "lone surrogate"],
  ]) {
    const sink = recordingSink(answer);
    const report = await run(sink);
    assert.equal(report.complete, false);
    assert.equal(report.error.code, "SINK_FAILED");
    assert.match(report.error.message, /read\(\) returned rows of the wrong shape/);
    assert.ok(report.error.message.includes(fault), report.error.message);
    assert.deepEqual(sink.calls.write, [], "nothing is written");
  }
});

test("changes carry the core's SKUs, whatever the sink did to the keys it read", async () => {
  const sink = recordingSink((keys) => {
    const rows = keys.map((key) => ({ sku: key.sku, stock: 1000 }));
    // The keys are the sink's to keep or change; the core's SKUs are its own.
    for (const key of keys) key.sku = "changed by the sink";
    return rows;
  });
  const report = await run(sink);
  assert.equal(report.complete, true, JSON.stringify(report.error));
  assert.deepEqual(
    sink.calls.write.flat().map(({ sku, stock }) => ({ sku, stock })),
    SKUS.map((sku, i) => ({ sku, stock: 9 + i })),
  );
});

test("a write of rows read in earlier batches carries each row's own SKU", async () => {
  // Two pages of three offers, compared in batches of three: the rows that
  // rise are held until the last page is read, then written after the rest.
  const pages = [offers.slice(0, 3), offers.slice(3)].map((data, i) =>
    JSON.stringify({
      total: offers.length,
      current_page: i + 1,
      per_page: 3,
      last_page: 2,
      next_page_url: i === 0 ? "http://keycrm.invalid/v1/offers/stocks?page=2" : null,
      data,
    }),
  );
  const fetch = async (url) => {
    const page = Number(new URL(url).searchParams.get("page") ?? 1);
    return {
      status: 200,
      headers: { get: () => null },
      arrayBuffer: async () => new TextEncoder().encode(pages[page - 1]).buffer,
    };
  };
  const rises = (sku) => sku.includes("😀");
  const sink = recordingSink((keys) =>
    keys.map((key) => ({ sku: key.sku, stock: rises(key.sku) ? 0 : 1000 })),
  );
  const report = await run(sink, { fetch, batchSize: 3 });
  assert.equal(report.complete, true, JSON.stringify(report.error));
  assert.deepEqual(sink.calls.read.map((keys) => keys.length), [3, 3]);
  assert.deepEqual(
    sink.calls.write.map((changes) => changes.map(({ sku }) => sku)),
    [
      SKUS.slice(0, 3).filter((sku) => !rises(sku)),
      SKUS.slice(3).filter((sku) => !rises(sku)),
      SKUS.filter(rises),
    ],
  );
  const figure = new Map(SKUS.map((sku, i) => [sku, 9 + i]));
  for (const change of sink.calls.write.flat()) assert.equal(change.stock, figure.get(change.sku));
});
