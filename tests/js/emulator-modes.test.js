// Full syncs over real HTTP against the emulator in each of its answer modes,
// the ways KeyCRM may answer that its description allows or leaves open: the
// description's own envelope (no last_page), rows not in id order, bare 429s
// without any rate-limit header, figures as decimal strings, archived offers
// left out of the stock list, and all of them at once. Each run must leave
// every site row equal to what KeyCRM holds, computed here from the catalogue on
// its own, and end complete — or, with rows not in id order, end
// CATALOGUE_CHANGED as documented; a second run must write nothing.
//
// The catalogues of the per-mode runs have no SKU on two offers: how such SKUs
// fare when their offers are pages apart is tested on its own, below.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { syncStocks } from "keycrm-stock-sync";
import { createSqliteSink, createSampleDatabase } from "keycrm-stock-sync/sqlite";
import { startEmulator, generateCatalogue } from "keycrm-stock-sync/testing";
import Database from "better-sqlite3";
import { freshShop, stockOf } from "./support/shop.js";

const API_KEY = "sk-modes-5d1e0b7a";
const FAST = { rateLimitPerMinute: 6000, backoffBaseMs: 5, backoffMaxMs: 20 };
const OFFERS = 330; // seven pages of 50, the last one short
const ARCHIVED_EVERY = 17;
// A live offer whose SKU an archived offer shares, the case the duplicate rule
// cannot resolve by itself (see the README's "Assumptions about KeyCRM").
const SHARED_WITH_ARCHIVED = { live: 40, archived: 41 };

let dir;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "keycrm-modes-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function catalogue({ shared = false } = {}) {
  const offers = generateCatalogue({
    offers: OFFERS,
    seed: 13,
    duplicateSkuEvery: shared ? 211 : 0,
  });
  for (const offer of offers) {
    if (offer.id % ARCHIVED_EVERY === 0) offer.is_archived = true;
  }
  if (!shared) return offers;
  const live = offers[SHARED_WITH_ARCHIVED.live - 1];
  const archived = offers[SHARED_WITH_ARCHIVED.archived - 1];
  live.sku = "shared-with-archived";
  live.quantity = 9;
  live.reserve = 2;
  live.warehouse = [{ id: 1, name: "Основний", quantity: 9, reserve: 2 }];
  archived.sku = "shared-with-archived";
  archived.is_archived = true;
  archived.quantity = 0;
  archived.reserve = 0;
  archived.warehouse = [{ id: 1, name: "Основний", quantity: 0, reserve: 0 }];
  return offers;
}

/**
 * What the site must hold after a sync, worked out without the emulator's or
 * the core's code: per SKU, quantity − reserve, clamped at 0, floored to whole
 * units; a SKU on several listed offers holds the smallest of their figures;
 * offers without a SKU are skipped.
 */
function siteAfterSync(offers, { archivedInStocks }) {
  const site = new Map();
  for (const offer of offers) {
    if (!archivedInStocks && offer.is_archived) continue;
    if (offer.sku === null || offer.sku === "") continue;
    // Hundred-thousandths first: 2.3 − 0.3 is 1.9999999999999998 in floats.
    const available = Math.round((offer.quantity - offer.reserve) * 1e5) / 1e5;
    const units = Math.max(0, Math.floor(available));
    site.set(offer.sku, Math.min(units, site.get(offer.sku) ?? Infinity));
  }
  return site;
}

// A clock for the emulator's rate limiter that moves 6 s at every request: with
// 5 requests a minute allowed, the limiter refuses at most 5 arrivals in a row
// and then admits again, whatever the machine's speed.
function steppingClock() {
  let now = Date.UTC(2026, 0, 1);
  return () => (now += 6000);
}

const BARE_429 = {
  rateLimitHeaders: false,
  rateLimitPerMinute: 5,
  clock: steppingClock,
};

// A whole-catalogue scan proves it saw every offer by a census of the largest id
// on the last page, which holds only when rows come by ascending id (the
// README's "Assumptions about KeyCRM"). Rows in another order, the catalogue
// unchanged, are all read and written right, yet every scan of more than one
// page ends `CATALOGUE_CHANGED`: complete false, no cursor, and nothing zeroed
// even with `zeroMissing`. That is the documented behaviour these runs assert.
const SHUFFLED = { shuffled: true };
// A site row KeyCRM has no offer for, which `zeroMissing` would set to 0 after a
// complete scan; shuffled runs ask for zeroing and must leave it alone.
const NOT_IN_KEYCRM = { sku: "not-in-keycrm", stock: 5 };

/** Asserts how a run over rows in id order, or `shuffled`, ends. */
function assertEnds(report, shuffled) {
  if (!shuffled) {
    assert.equal(report.complete, true, JSON.stringify(report.error));
    return;
  }
  assert.equal(report.complete, false);
  assert.equal(report.error?.code, "CATALOGUE_CHANGED", JSON.stringify(report.error));
  assert.equal(report.zeroed, 0, "nothing is zeroed after a scan that is not complete");
  assert.equal(report.cursor, undefined, "a fresh scan starts over");
}

/** A fresh shop holding `skus` at 0 and the row KeyCRM lacks at its stock. */
function shopWithExtraRow(skus) {
  const path = freshShop(dir, [...skus, NOT_IN_KEYCRM.sku]);
  const db = new Database(path);
  db.prepare("UPDATE products SET stock = ? WHERE sku = ?").run(
    NOT_IN_KEYCRM.stock,
    NOT_IN_KEYCRM.sku,
  );
  db.close();
  return path;
}

const ALL_BUT_ORDER = {
  envelope: "spec",
  figures: "string",
  archivedInStocks: false,
  ...BARE_429,
};

const MODES = [
  ["by default", {}],
  ["with the description's own envelope (no last_page)", { envelope: "spec" }],
  ["with rows in a fixed shuffled order (seed 7)", { shuffleSeed: 7 }, SHUFFLED],
  [
    "with rows in a fixed shuffled order (seed 2026)",
    { shuffleSeed: 2026 },
    SHUFFLED,
  ],
  ["with figures as decimal strings", { figures: "string" }],
  ["with bare 429s and no rate-limit headers", BARE_429],
  ["without archived offers in the stock list", { archivedInStocks: false }],
  ["with every mode but the row order at once", ALL_BUT_ORDER],
  [
    "with every mode at once (seed 11)",
    { ...ALL_BUT_ORDER, shuffleSeed: 11 },
    SHUFFLED,
  ],
];

async function startIn(mode, offers = catalogue()) {
  const { clock, ...rest } = mode;
  return startEmulator({
    apiKey: API_KEY,
    offers,
    rateLimitPerMinute: 0,
    ...rest,
    ...(clock ? { clock: clock() } : {}),
  });
}

async function syncInto(path, emulator, extra = {}) {
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

for (const [label, mode, { shuffled = false } = {}] of MODES) {
  const ends = shuffled ? "ends CATALOGUE_CHANGED with every row right" : "is complete and right";
  test(`a full sync ${label} ${ends}, then writes nothing`, async (t) => {
    const emulator = await startIn(mode);
    t.after(() => emulator.close());
    const { offers } = emulator;
    const expected = siteAfterSync(offers, emulator.mode);
    const skus = [...new Set(offers.map((o) => o.sku).filter(Boolean))];
    const path = shuffled ? shopWithExtraRow(skus) : freshShop(dir, skus);
    const extra = shuffled ? { zeroMissing: true } : {};
    const listed = emulator.mode.archivedInStocks
      ? offers.length
      : offers.filter((o) => !o.is_archived).length;

    const first = await syncInto(path, emulator, extra);
    assertEnds(first, shuffled);
    assert.equal(first.offers, listed);
    assert.deepEqual(first.duplicateSkus, []);
    const site = stockOf(path);
    for (const sku of skus) {
      // A SKU only archived offers carry is not listed: its row is left alone.
      assert.equal(site.get(sku), expected.get(sku) ?? 0, sku);
    }
    assert.ok(first.updated > 0);
    if (shuffled) assert.equal(site.get(NOT_IN_KEYCRM.sku), NOT_IN_KEYCRM.stock);

    const second = await syncInto(path, emulator, extra);
    assertEnds(second, shuffled);
    assert.equal(second.updated, 0);
    assert.deepEqual(stockOf(path), site);

    if (emulator.mode.rateLimitHeaders === false && mode.rateLimitPerMinute) {
      // The runs met bare 429s and waited them out by their own backoff.
      assert.ok(emulator.counts().byStatus[429] > 0, "no 429 was answered");
      assert.ok(first.rateLimited > 0 || second.rateLimited > 0);
    }
  });
}

test("a bare 429 carries no Retry-After and no X-RateLimit header", async (t) => {
  const emulator = await startIn(BARE_429);
  t.after(() => emulator.close());
  const statuses = [];
  for (let i = 0; i < 6; i += 1) {
    const response = await fetch(`${emulator.url}/offers/stocks`, {
      headers: { Authorization: `Bearer ${API_KEY}` },
    });
    await response.arrayBuffer();
    statuses.push(response.status);
    const names = [...response.headers.keys()];
    assert.deepEqual(
      names.filter((name) => /^(retry-after|x-ratelimit-)/.test(name)),
      [],
    );
  }
  assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429]);
});

test("rows in a shuffled order are all read and written right", async (t) => {
  const emulator = await startIn({ shuffleSeed: 7 });
  t.after(() => emulator.close());
  const { offers } = emulator;
  const skus = [...new Set(offers.map((o) => o.sku).filter(Boolean))];
  const path = freshShop(dir, skus);
  const report = await syncInto(path, emulator);
  assert.equal(report.offers, OFFERS);
  assert.equal(report.zeroed, 0);
  const expected = siteAfterSync(offers, emulator.mode);
  const site = stockOf(path);
  for (const sku of skus) assert.equal(site.get(sku), expected.get(sku), sku);
});

test("shuffled rows keep one order across pages and requests", async (t) => {
  const emulator = await startIn({ shuffleSeed: 7 });
  t.after(() => emulator.close());
  const page = async (n) => {
    const url = `${emulator.url}/offers/stocks?limit=50&page=${n}`;
    const response = await fetch(url, {
      headers: { Authorization: `Bearer ${API_KEY}` },
    });
    return (await response.json()).data.map((row) => row.id);
  };
  const scan = [];
  for (let n = 1; n <= 7; n += 1) scan.push(...(await page(n)));
  assert.equal(new Set(scan).size, OFFERS, "every offer exactly once");
  assert.notDeepEqual(scan, [...scan].sort((a, b) => a - b), "not in id order");
  assert.deepEqual(await page(3), scan.slice(100, 150), "the same page again");
});

test("an archived offer sharing a live offer's SKU pins it to the smaller figure", async (t) => {
  // Listed (the default): the SKU is a duplicate and holds the smaller of the
  // two figures, the archived offer's 0, although 7 can be sold.
  const listed = await startIn({}, catalogue({ shared: true }));
  t.after(() => listed.close());
  const path = freshShop(dir, ["shared-with-archived"]);
  const report = await syncInto(path, listed);
  assert.equal(report.complete, true, JSON.stringify(report.error));
  assert.ok(report.duplicateSkus.includes("shared-with-archived"));
  assert.equal(stockOf(path).get("shared-with-archived"), 0);

  // Where KeyCRM leaves archived offers out, the live figure is written.
  const hidden = await startIn(
    { archivedInStocks: false },
    catalogue({ shared: true }),
  );
  t.after(() => hidden.close());
  const again = await syncInto(path, hidden);
  assert.equal(again.complete, true, JSON.stringify(again.error));
  assert.ok(!again.duplicateSkus.includes("shared-with-archived"));
  assert.equal(stockOf(path).get("shared-with-archived"), 7);
});

// A SKU on two offers gets the smaller figure. When the larger figure comes
// pages earlier, it would raise the row: the core holds it until the run ends,
// when it knows the smaller one, so the row is written once and a second run
// writes nothing. Rows in id order meet this as well as shuffled ones, whenever
// the offers of one SKU are on different pages; shuffled ones also end
// CATALOGUE_CHANGED (see SHUFFLED above).
const PAGES_APART = [
  ["in id order", {}, (offers) => pagesApart(offers, 30, 80), {}],
  ["shuffled (seed 7)", { shuffleSeed: 7 }, (offers) => offers, SHUFFLED],
];

for (const [label, mode, arrange, { shuffled = false }] of PAGES_APART) {
  test(`a SKU on two offers pages apart, rows ${label}: a second run writes nothing`, async (t) => {
    const offers = arrange(catalogue({ shared: true }));
    const emulator = await startIn(mode, offers);
    t.after(() => emulator.close());
    const path = freshShop(dir, [...new Set(offers.map((o) => o.sku).filter(Boolean))]);
    const first = await syncInto(path, emulator);
    assertEnds(first, shuffled);
    assert.ok(first.duplicateSkus.length > 0);
    const expected = siteAfterSync(offers, emulator.mode);
    for (const [sku, stock] of expected) assert.equal(stockOf(path).get(sku), stock, sku);
    const second = await syncInto(path, emulator);
    assertEnds(second, shuffled);
    assert.equal(second.updated, 0, "rows rewritten by a run that changed nothing");
  });
}

// Gives offer `later` (page 2) the SKU of offer `earlier` (page 1), with the
// smaller figure on the later page.
function pagesApart(offers, earlier, later) {
  const first = offers[earlier - 1];
  const second = offers[later - 1];
  second.sku = first.sku;
  first.quantity = 12;
  first.reserve = 0;
  first.warehouse = [{ id: 1, name: "Основний", quantity: 12, reserve: 0 }];
  second.quantity = 5;
  second.reserve = 1;
  second.warehouse = [{ id: 1, name: "Основний", quantity: 5, reserve: 1 }];
  return offers;
}

// A scan stopped after a few pages and resumed after KeyCRM gained 40 offers and
// lost 30. With rows by id, new offers come after the cursor and the resumed run
// reads them. In any other order some land on pages before the cursor, which a
// resumed run must not count as read: it either reads every offer or does not
// call the scan complete.
const RESUMED = [
  ["in id order", {}],
  ["shuffled (seed 7)", { shuffleSeed: 7 }],
];

for (const [label, mode] of RESUMED) {
  test(`a scan resumed after offers were added, rows ${label}, reads every offer or is not complete`, async (t) => {
    const emulator = await startIn(mode);
    t.after(() => emulator.close());
    const added = Array.from({ length: 40 }, (_, i) => `added-${i}`);
    const skus = [...new Set(emulator.offers.map((o) => o.sku).filter(Boolean))];
    const path = join(dir, `resumed-${mode.shuffleSeed ?? "id"}.sqlite`);
    // A stock no figure can have: a row still holding it was never written.
    const UNWRITTEN = 99_999;
    createSampleDatabase(path, { skus: [...skus, ...added], stockValue: UNWRITTEN });
    const serial = { maxConcurrentRequests: 1 };

    const stopped = await syncInto(path, emulator, { ...serial, maxRequests: 5 });
    assert.equal(stopped.complete, false);
    assert.ok(stopped.cursor.page >= 3, `stopped on page ${stopped.cursor.page}`);

    const { offers } = emulator;
    offers.splice(0, 30);
    added.forEach((sku, i) => offers.push({ ...offers[100 + i], id: 5000 + i, sku }));
    const resumed = await syncInto(path, emulator, { ...serial, resumeFrom: stopped.cursor });
    if (!resumed.complete) {
      // Not claiming completeness is right too; the next scan from page 1 reads all.
      assert.ok(resumed.error?.code, "an incomplete run says why");
      return;
    }
    const site = stockOf(path);
    const unread = [...siteAfterSync(offers, emulator.mode).keys()].filter(
      (sku) => site.get(sku) === UNWRITTEN,
    );
    assert.deepEqual(unread, [], "offers never read by a scan reported complete");
  });
}
