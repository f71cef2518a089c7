// The emulator against KeyCRM's published API description: every answer a
// sync relies on is fetched over HTTP, as the sync fetches it, and validated
// against the copy of the description in tests/spec/ (see the list of mended
// defects at its top). A contradiction here means the emulator teaches the
// sync something KeyCRM does not promise.

import { test } from "node:test";
import assert from "node:assert/strict";
import { startEmulator, generateCatalogue } from "../../js/testing/index.js";
import { documentsStatus, specErrors } from "../spec/validate.js";

const KEY = "test-api-key";

// Every awkward offer the catalogue has (no SKU as null and as "", shared
// SKUs, fractions, over-reservation), plus archived offers, offers of one
// product and offers with a barcode.
function awkwardCatalogue() {
  const offers = generateCatalogue({ offers: 130, withoutSkuEvery: 7 });
  for (const offer of offers) {
    if (offer.id % 11 === 0) offer.is_archived = true;
    if (offer.id % 5 === 0) offer.product_id = 1000 + Math.floor(offer.id / 10);
    if (offer.id % 3 === 0) offer.barcode = `48200${offer.id}`;
  }
  return offers;
}

const ORDERS = [
  {
    id: 501,
    status_id: 3,
    products: [
      { sku: "sku-000002", quantity: 2, offer: { id: 2, sku: "sku-000002" } },
      { sku: "sku-000004", quantity: 1.5, offer_id: 4 },
      // An offer without a SKU: the line still names it by id.
      { sku: "", quantity: 1, offer_id: 7 },
    ],
  },
  { id: 502, source_id: 4, products: [] },
];

async function emulatorFor(t, options = {}) {
  const emulator = await startEmulator({
    rateLimitPerMinute: 0,
    offers: awkwardCatalogue(),
    orders: structuredClone(ORDERS),
    ...options,
  });
  t.after(() => emulator.close());
  return emulator;
}

// Fetches `path` and checks the answer against the description's operation
// `template`; returns the parsed body.
async function conforming(emulator, template, path) {
  const response = await fetch(`${emulator.url}${path}`, {
    headers: { Authorization: `Bearer ${KEY}`, Accept: "application/json" },
  });
  assert.ok(
    documentsStatus(template, response.status),
    `${path}: status ${response.status} is not in the description`,
  );
  assert.equal(response.headers.get("content-type"), "application/json");
  const body = await response.json();
  assert.deepEqual(specErrors(template, response.status, body), [], path);
  return body;
}

const STOCK_QUERIES = [
  "",
  "?limit=50",
  "?limit=50&filter[details]=true",
  "?limit=1",
  "?limit=1&page=130&filter[details]=true",
  "?limit=500",
  "?limit=50&page=3",
  "?limit=50&page=3&filter[details]=true",
  // Past the end: no rows, no next page.
  "?limit=50&page=4",
  "?limit=50&page=99&filter[details]=true",
  "?filter[offers_id]=1,7,14,22,999",
  "?filter[offers_sku]=sku-000002,sku-000005,nothing",
  "?filter[offers_id]=2,3&filter[offers_sku]=sku-000002&filter[details]=true",
  "?filter[offers_sku]=nothing",
];

const OFFER_QUERIES = [
  "",
  "?limit=50&page=2",
  "?limit=50&page=3",
  "?limit=50&page=9",
  "?filter[id]=3,6,9",
  "?filter[sku]=sku-000010",
  "?filter[product_id]=1001,1002",
  "?filter[is_archived]=true",
  "?filter[is_archived]=false&limit=50",
  "?sort=-id&limit=5",
  "?include=product",
  // As a check asks for the product names of offers with no site row.
  "?limit=50&include=product&filter%5Bid%5D=3,6,9,10,999",
];

const ORDER_QUERIES = [
  "",
  "?include=products.offer",
  "?limit=1&page=2&include=products.offer",
  "?sort=-id&include=products",
  "?filter[updated_between]=2025-12-31 00:00:00, 2026-01-01 00:00:00&include=products.offer",
  "?filter[updated_between]=2026-01-02,2026-01-03&limit=50&include=products.offer",
  // Past the end: no rows, no next page.
  "?limit=50&page=9&include=products.offer",
];

// The modes whose answers stay within the description; figures as strings do
// not (see below).
const SPEC_MODES = [
  ["by default", {}],
  ["with the description's own envelope", { envelope: "spec" }],
  ["with rows not in id order", { shuffleSeed: 7 }],
  ["without rate-limit headers", { rateLimitHeaders: false }],
  ["without archived offers in the stock list", { archivedInStocks: false }],
];

for (const [label, mode] of SPEC_MODES) {
  test(`/offers/stocks conforms ${label}`, async (t) => {
    const emu = await emulatorFor(t, mode);
    for (const query of STOCK_QUERIES) {
      await conforming(emu, "/offers/stocks", `/offers/stocks${query}`);
    }
  });

  test(`/offers conforms ${label}`, async (t) => {
    const emu = await emulatorFor(t, mode);
    for (const query of OFFER_QUERIES) {
      await conforming(emu, "/offers", `/offers${query}`);
    }
  });

  test(`/order conforms ${label}`, async (t) => {
    const emu = await emulatorFor(t, mode);
    for (const query of ORDER_QUERIES) {
      await conforming(emu, "/order", `/order${query}`);
    }
  });

  test(`/order/{orderId} conforms ${label}`, async (t) => {
    const emu = await emulatorFor(t, mode);
    for (const path of [
      "/order/501?include=products.offer",
      "/order/501?include=products",
      "/order/501",
      "/order/502?include=products.offer",
    ]) {
      await conforming(emu, "/order/{orderId}", path);
    }
  });
}

test("the stock list's rows carry what the description lists", async (t) => {
  const emu = await emulatorFor(t);
  const plain = await conforming(emu, "/offers/stocks", "/offers/stocks");
  const detailed = await conforming(
    emu,
    "/offers/stocks",
    "/offers/stocks?filter[details]=true",
  );
  const fields = ["id", "sku", "price", "purchased_price", "quantity"];
  for (const row of plain.data) {
    assert.deepEqual(Object.keys(row), [...fields, "reserve"]);
  }
  for (const row of detailed.data) {
    assert.deepEqual(Object.keys(row), [...fields, "reserve", "warehouse"]);
  }
});

test("the description's envelope mode sends only its seven fields", async (t) => {
  const emu = await emulatorFor(t, { envelope: "spec" });
  const body = await conforming(emu, "/offers/stocks", "/offers/stocks?limit=50");
  assert.deepEqual(Object.keys(body).sort(), [
    "current_page",
    "data",
    "first_page_url",
    "last_page_url",
    "next_page_url",
    "per_page",
    "total",
  ]);
  assert.equal(body.total, 130);
  assert.equal(body.next_page_url, `${emu.url}/offers/stocks?page=2`);
  const last = await conforming(emu, "/offers/stocks", "/offers/stocks?limit=50&page=3");
  assert.equal(last.next_page_url, null);
  assert.equal(last.data.length, 30);
});

test("/offers serves a barcode as a string, empty when there is none", async (t) => {
  const emu = await emulatorFor(t);
  const body = await conforming(emu, "/offers", "/offers?filter[id]=1,3");
  assert.deepEqual(
    body.data.map((row) => row.barcode),
    ["", "482003"],
  );
});

test("/offers attaches each offer's product, with its name, only with include=product", async (t) => {
  const emu = await emulatorFor(t);
  const path = "/offers?limit=50&include=product&filter%5Bid%5D=3,10,999";
  const body = await conforming(emu, "/offers", path);
  // Offer 10 belongs to product 1001 (see awkwardCatalogue); 3 is its own
  // product. A product given no name is named after its id.
  assert.deepEqual(
    body.data.map((row) => [row.id, row.product]),
    [
      [3, { id: 3, name: "Товар 3" }],
      [10, { id: 1001, name: "Товар 1001" }],
    ],
  );
  emu.offers.find((offer) => offer.id === 3).product_name = "Чашка, 330 мл";
  const renamed = await conforming(emu, "/offers", "/offers?filter[id]=3&include=product");
  assert.equal(renamed.data[0].product.name, "Чашка, 330 мл");
  const without = await conforming(emu, "/offers", "/offers?filter[id]=3,10");
  assert.ok(without.data.every((row) => !("product" in row)));
});

test("/order/{orderId} always carries source_id, the one required field", async (t) => {
  const emu = await emulatorFor(t);
  const defaulted = await conforming(emu, "/order/{orderId}", "/order/501");
  assert.equal(defaulted.source_id, 1);
  const given = await conforming(emu, "/order/{orderId}", "/order/502");
  assert.equal(given.source_id, 4);
});

test("/offers filters by product_id and is_archived", async (t) => {
  const emu = await emulatorFor(t);
  const ids = (body) => body.data.map((row) => row.id);
  const byProduct = await conforming(
    emu,
    "/offers",
    "/offers?filter[product_id]=1001,1002&limit=50",
  );
  assert.deepEqual(ids(byProduct), [10, 15, 20, 25]);
  assert.ok(byProduct.data.every((row) => [1001, 1002].includes(row.product_id)));
  // An offer without a product of its own is its own product.
  const own = await conforming(emu, "/offers", "/offers?filter[product_id]=7");
  assert.deepEqual(ids(own), [7]);

  const archived = await conforming(
    emu,
    "/offers",
    "/offers?filter[is_archived]=true&limit=50",
  );
  assert.deepEqual(ids(archived), [11, 22, 33, 44, 55, 66, 77, 88, 99, 110, 121]);
  assert.ok(archived.data.every((row) => row.is_archived === true));
  const live = await conforming(
    emu,
    "/offers",
    "/offers?filter[is_archived]=false&limit=50&page=3",
  );
  assert.equal(live.total, 130 - 11);
  assert.ok(live.data.every((row) => row.is_archived === false));
  // Combined with the other filters, and absent or empty means both kinds.
  const both = await conforming(
    emu,
    "/offers",
    "/offers?filter[id]=10,11,12&filter[is_archived]=",
  );
  assert.deepEqual(ids(both), [10, 11, 12]);
  const one = await conforming(
    emu,
    "/offers",
    "/offers?filter[id]=10,11,12&filter[is_archived]=1",
  );
  assert.deepEqual(ids(one), [11]);
});

test("/offers sorts by id either way when asked, like the description says", async (t) => {
  const emu = await emulatorFor(t, { shuffleSeed: 3 });
  const ids = (body) => body.data.map((row) => row.id);
  const up = await conforming(emu, "/offers", "/offers?sort=id&limit=4");
  assert.deepEqual(ids(up), [1, 2, 3, 4]);
  const down = await conforming(emu, "/offers", "/offers?sort=-id&limit=4");
  assert.deepEqual(ids(down), [130, 129, 128, 127]);
});

// The validator itself must be able to fail, or every test above proves
// nothing: answers that contradict the description are caught.
test("the validator catches answers that contradict the description", () => {
  const page = (row) => ({ total: 1, current_page: 1, per_page: 50, data: [row] });
  const row = { id: 1, sku: "a", price: 1, purchased_price: 1, quantity: 2, reserve: 0 };
  assert.deepEqual(specErrors("/offers/stocks", 200, page(row)), []);
  const contradictions = [
    ["/offers/stocks", page({ ...row, quantity: "2.000" }), /quantity must be number/],
    ["/offers/stocks", page({ ...row, reserve: null }), /reserve must be number/],
    ["/offers/stocks", page({ ...row, id: "1" }), /id must be integer/],
    [
      "/offers/stocks",
      page({ ...row, warehouse: [{ id: 1, name: "A", quantity: 1, reserve: "0" }] }),
      /warehouse\/0\/reserve must be number/,
    ],
    ["/offers/stocks", { ...page(row), total: "1" }, /total must be integer/],
    ["/offers", page({ id: 1, barcode: null }), /barcode must be string/],
    ["/offers", page({ id: 1, product: { id: 1, name: 7 } }), /product\/name must be string/],
    ["/order/{orderId}", { id: 1 }, /must have required property 'source_id'/],
    [
      "/order/{orderId}",
      { id: 1, source_id: 1, products: [{ quantity: 1, offer: { id: "2" } }] },
      /offer\/id must be integer/,
    ],
  ];
  for (const [path, body, error] of contradictions) {
    assert.match(specErrors(path, 200, body).join("\n"), error);
  }
});

// Figures as strings are what some Laravel setups send (decimal casts), and
// the sync accepts them, but the description types figures as numbers: the
// mode is outside it on purpose.
test("figures as strings are outside the description, on purpose", async (t) => {
  const emu = await emulatorFor(t, { figures: "string" });
  const response = await fetch(`${emu.url}/offers/stocks?filter[details]=true`, {
    headers: { Authorization: `Bearer ${KEY}` },
  });
  const body = await response.json();
  const errors = specErrors("/offers/stocks", 200, body).join("\n");
  assert.match(errors, /quantity must be number/);
  assert.match(errors, /reserve must be number/);
  assert.match(errors, /warehouse\/0\/quantity must be number/);
  assert.ok(body.data.every((row) => /^-?\d+\.\d{3}$/.test(row.quantity)));
});
