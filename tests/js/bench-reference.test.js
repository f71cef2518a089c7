// The plain-JS reference of benches/ (what `npm run bench:core` measures the core
// against) writes exactly what the package writes on the same pages.

import { test } from "node:test";
import assert from "node:assert/strict";

import { syncStocks } from "keycrm-stock-sync";
import { generateCatalogue } from "keycrm-stock-sync/testing";
import { referenceSync } from "../../benches/reference.js";
import { mapSink, memoryFetch, stockPages } from "../../benches/pages.js";

/** A catalogue with every awkward case: duplicates near and far, no SKU, fractions, NUL, numeric SKUs. */
function catalogue() {
  const offers = generateCatalogue({
    offers: 1_230,
    warehouses: [
      { id: 1, name: "Основний" },
      { id: 2, name: "Київ" },
      { id: 7, name: "Львів" },
    ],
    duplicateSkuEvery: 41,
    withoutSkuEvery: 37,
    fractionalEvery: 13,
  });
  offers[100].sku = "bad\u0000sku";
  offers[101].sku = `${offers[5].sku}\u0000`;
  offers[102].sku = "   ";
  offers[103].sku = 777001;
  offers[104].sku = "777001"; // the same SKU as a string: a duplicate
  offers[105].quantity = -4; // oversold
  offers[106].reserve = -2; // a negative reserve is read as 0
  return offers;
}

const CASES = [
  { name: "totals", options: {} },
  { name: "totals, fractional", options: { fractional: true } },
  { name: "totals, keeping the reserve", options: { keepReserve: true } },
  { name: "warehouses by name", options: { warehouses: ["Київ", "Основний"] } },
  { name: "warehouses by id", options: { warehouses: [7, 1] } },
  { name: "warehouses by id and name, fractional", options: { warehouses: [2, "Львів"], fractional: true } },
  { name: "per warehouse", options: { perWarehouse: true } },
  { name: "per warehouse, chosen by name", options: { perWarehouse: true, warehouses: ["Київ"] } },
];

/** The site: every SKU's rows at a figure no offer has, plus rows no offer names. */
function site(offers, perWarehouse) {
  const table = new Map([["not-in-keycrm", 5]]);
  for (const offer of offers) {
    if (offer.sku === null) continue;
    const sku = String(offer.sku);
    if (sku.trim() === "") continue;
    if (perWarehouse) {
      for (const w of offer.warehouse) table.set(`${sku}\u0000${w.id}`, 9_999);
    } else {
      table.set(sku, 9_999);
    }
  }
  return table;
}

/** Each key's last written figure. */
function lastWritten(sink) {
  const out = new Map();
  for (const changes of sink.writes) {
    for (const c of changes) {
      const key = c.warehouseId === undefined ? c.sku : `${c.sku}\u0000${c.warehouseId}`;
      out.set(key, c.stock);
    }
  }
  return out;
}

/** A batch of changes without observedAt, which only the package stamps. */
function plain(changes) {
  return changes.map(({ observedAt, ...change }) => change);
}

async function both(pages, options, start) {
  const packageSink = mapSink(new Map(start));
  const report = await syncStocks({
    apiKey: "bench-key",
    apiUrl: "http://keycrm.invalid/v1",
    fetch: memoryFetch(pages),
    sink: packageSink,
    rateLimitPerMinute: 60_000,
    // With a subrequest budget the core compares full batches only, as the
    // reference does, so both write in the same batches.
    maxSubrequests: 10_000,
    ...options,
  });
  assert.equal(report.complete, true, report.error?.message);
  const referenceSink = mapSink(new Map(start));
  await referenceSync({ pages, sink: referenceSink, ...options });
  return { packageSink, referenceSink, report };
}

const offers = catalogue();

for (const { name, options } of CASES) {
  test(`the reference writes what the package writes: ${name}`, async () => {
    const details = options.warehouses !== undefined || options.perWarehouse === true;
    const pages = stockPages(offers, { details });
    const start = site(offers, options.perWarehouse === true);

    const first = await both(pages, options, start);
    const written = lastWritten(first.packageSink);
    assert.ok(written.size > 1_000, `only ${written.size} rows written`);
    assert.deepEqual(lastWritten(first.referenceSink), written);
    // Batch by batch, row by row (the reference's changes carry no observedAt).
    assert.deepEqual(first.referenceSink.writes, first.packageSink.writes.map(plain));
    assert.deepEqual(first.referenceSink.table, first.packageSink.table);
    // The rules the reference claims: NUL and blank SKUs are never written.
    for (const key of written.keys()) {
      assert.ok(!key.startsWith("bad\u0000"));
      assert.ok(key.trim() !== "");
    }
    assert.equal(first.packageSink.table.get("not-in-keycrm"), 5);

    // The steady state: from the synced site, both write the same (next to
    // nothing: a SKU whose offers fall into two batches is raised and lowered back).
    const again = await both(pages, options, first.packageSink.table);
    assert.deepEqual(again.referenceSink.writes, again.packageSink.writes.map(plain));
    assert.deepEqual(again.referenceSink.table, first.packageSink.table);
    assert.deepEqual(again.packageSink.table, first.packageSink.table);
  });
}

test("a page handed to the core as bytes reads as Response.text() would: BOM dropped, bad UTF-8 as U+FFFD", async () => {
  const page = (sku) =>
    `{"next_page_url":null,"data":[{"id":1,"sku":"${sku}","quantity":3,"reserve":1}]}`;
  const bom = [0xef, 0xbb, 0xbf];
  const body = new Uint8Array([...bom, ...new TextEncoder().encode(page("ab"))]);
  body[bom.length + page("ab").indexOf('"ab"') + 1] = 0xff; // "a" → an invalid byte
  const sink = mapSink(new Map([["\ufffdb", 0]]));
  const report = await syncStocks({
    apiKey: "bench-key",
    apiUrl: "http://keycrm.invalid/v1",
    fetch: async () => ({
      status: 200,
      headers: { get: () => null },
      text: async () => new TextDecoder().decode(body),
      arrayBuffer: async () => body.buffer,
    }),
    sink,
  });
  assert.equal(report.complete, true, report.error?.message);
  assert.deepEqual(plain(sink.writes.flat()), [{ sku: "\ufffdb", stock: 2 }]);
});
