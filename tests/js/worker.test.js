// Cloudflare Workers in real workerd: the example Worker, bundled by Wrangler as a
// user would, fired by cron through miniflare, syncing from the emulator (over
// real HTTP on loopback) into D1. Every invocation is held to the subrequest
// budget, counted at the emulator (HTTP) and at the D1 binding.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";

import {
  expectedAvailability,
  generateCatalogue,
  startEmulator,
} from "keycrm-stock-sync/testing";
import {
  buildExample,
  bundleSize,
  exampleDir,
  insertRows,
  migrate,
  root,
  startWorker,
} from "./support/workers.js";

const API_KEY = "sk-live-WORKER-SECRET-51c0e";
const PAGE = 50;
const BUDGET = 50;
// The free plan's CPU guard: pages (requests) per invocation.
const FREE_REQUESTS = 20;
// The subrequest budget alone bounding a run: a paid plan held to 50.
const FIFTY = { KEYCRM_PLAN: "paid", KEYCRM_SUBREQUEST_BUDGET: "50" };
// Emulator and client at 6 000 a minute (10 ms apart) keep the suite quick;
// pacing itself is tested elsewhere.
const FAST = { KEYCRM_RATE_LIMIT: "6000" };

let built;
let emulator;

before(async () => {
  built = await buildExample();
  emulator = await startEmulator({ apiKey: API_KEY, offers: [], rateLimitPerMinute: 6000 });
});

after(async () => {
  await emulator?.close();
  built?.dispose();
});

/** A fresh workerd with a migrated D1 holding a 0-stock row for each SKU. */
async function shop({ offers, bindings = {}, extraSkus = [] }) {
  emulator.offers = offers;
  emulator.clearFaults();
  emulator.reset();
  const worker = await startWorker({
    outdir: built.outdir,
    config: built.config,
    bindings: {
      KEYCRM_API_KEY: API_KEY,
      KEYCRM_API_URL: emulator.url,
      ...FAST,
      ...bindings,
    },
  });
  await migrate(worker.db, built.app, built.config);
  const skus = new Set([...offers.map((o) => o.sku), ...extraSkus].filter(Boolean));
  await insertRows(worker.db, [...skus].map((sku) => ({ sku, stock: 0 })));
  return worker;
}

/**
 * Fires one cron and returns what it did: workerd's outcome, its D1 calls, the
 * HTTP requests the emulator saw, the ids the answered pages carried, and the
 * state it left in D1.
 */
async function fire(worker) {
  const from = emulator.requests.length;
  const served = new Map(); // page → ids, as the catalogue stands during the run
  const sorted = [...emulator.offers].sort((a, b) => a.id - b.id);
  const duplicateSkus = duplicatesOf(sorted);
  const record = await worker.cron();
  const requests = emulator.requests.slice(from);
  for (const request of requests) {
    if (request.status !== 200) continue;
    const page = Number(request.query.page ?? 1);
    served.set(page, sorted.slice((page - 1) * PAGE, page * PAGE).map((o) => o.id));
  }
  const state = await stateOf(worker);
  return {
    ...record,
    http: requests.length,
    pages: requests.map((r) => Number(r.query.page ?? 1)),
    servedIds: new Set([...served.values()].flat()),
    servedPages: served,
    duplicateSkus,
    subrequests: requests.length + record.d1Calls,
    ...state,
  };
}

/** SKUs carried by more than one offer. */
function duplicatesOf(offers) {
  const count = new Map();
  for (const o of offers) if (o.sku) count.set(o.sku, (count.get(o.sku) ?? 0) + 1);
  return new Set([...count].filter(([, n]) => n > 1).map(([sku]) => sku));
}

async function stateOf(worker) {
  const { results } = await worker.db
    .prepare("SELECT key, value FROM keycrm_sync_state")
    .all();
  const rows = new Map(results.map((row) => [row.key, row.value]));
  const json = (key) => (rows.has(key) ? JSON.parse(rows.get(key)) : null);
  return {
    report: json("report"),
    cursor: json("cursor"),
    lease: rows.get("lease") ?? null,
  };
}

/** The budgets hold for every invocation, by the emulator's and the binding's count. */
function assertWithinBudget(run, budget = BUDGET, requests = FREE_REQUESTS) {
  assert.ok(run.http <= requests, `${run.http} HTTP requests > ${requests}`);
  assert.ok(
    run.subrequests <= budget,
    `${run.http} HTTP requests + ${run.d1Calls} D1 calls = ${run.subrequests} > ${budget}`,
  );
  assert.ok(run.mostParameters <= 100, `a statement bound ${run.mostParameters} parameters`);
  if (requests === FREE_REQUESTS) {
    // Should D1 count the statements of a batch against the free plan's 50
    // queries an invocation, the free defaults still fit.
    assert.ok(run.statements <= 50, `${run.statements} D1 statements`);
  }
  if (run.report?.subrequests !== undefined) {
    // The core's own count (plus the state's two calls) never undercounts.
    assert.ok(
      run.report.subrequests + 2 >= run.subrequests,
      `core counted ${run.report.subrequests} + 2, workerd made ${run.subrequests}`,
    );
  }
}

/** Fires crons until one reports a complete scan; returns every run. */
async function untilComplete(worker, { most = 15, budget = BUDGET, requests = FREE_REQUESTS } = {}) {
  const runs = [];
  while (runs.length < most) {
    const run = await fire(worker);
    assert.equal(run.outcome, "ok", run.error);
    assertWithinBudget(run, budget, requests);
    runs.push(run);
    if (run.report?.complete) return runs;
  }
  assert.fail(`no complete scan in ${most} crons: ${JSON.stringify(runs.at(-1).report?.error)}`);
}

async function siteStock(worker) {
  const { results } = await worker.db.prepare("SELECT sku, stock FROM products").all();
  return new Map(results.map((row) => [row.sku, row.stock]));
}

/** Every SKU KeyCRM has exactly once holds its available stock. */
async function assertSiteMatches(worker, offers, label = "") {
  const site = await siteStock(worker);
  const expected = expectedAvailability(offers);
  let wrong = [];
  for (const [sku, stock] of expected) {
    if (site.get(sku) !== stock) wrong.push(`${sku}: ${site.get(sku)} ≠ ${stock}`);
  }
  assert.deepEqual(wrong.slice(0, 10), [], `${label}${wrong.length} rows wrong`);
}

function assertNoKeyInLogs(worker) {
  const output = worker.logs.join("");
  assert.ok(!output.includes(API_KEY), "the API key never reaches the logs");
}

/** The offers on `page` of the catalogue as the emulator lists it. */
function offersOnPage(offers, page) {
  return [...offers].sort((a, b) => a.id - b.id).slice((page - 1) * PAGE, page * PAGE);
}

describe("the example Worker", () => {
  test("bundles offline with Wrangler, on the workerd entry, well under 1 MB gzip", () => {
    assert.equal(built.config.triggers.crons.length, 1, "one cron trigger");
    assert.equal(built.config.d1_databases[0].binding, "DB");
    assert.ok(!("KEYCRM_API_KEY" in built.config.vars), "the key is a secret, not a var");
    const migration = readFileSync(
      join(built.app, built.config.d1_databases[0].migrations_dir, "0001_products.sql"),
      "utf8",
    );
    assert.match(migration, /CREATE TABLE IF NOT EXISTS products \(\s*sku TEXT PRIMARY KEY,\s*stock INTEGER/);
    const index = readFileSync(join(built.outdir, "index.js"), "utf8");
    assert.match(index, /^import \w+ from "\.\/[0-9a-f]+-keycrm_stock_sync_bg\.wasm";$/m, "the wasm is a module");
    assert.doesNotMatch(index, /node:|readFileSync|better-sqlite3/, "nothing of the Node entry");
    const size = bundleSize(built.outdir);
    assert.ok(size.files.some((name) => name.endsWith(".wasm")));
    assert.ok(size.gzip < 1024 * 1024, `${size.gzip} bytes gzip`);
    assert.match(built.output, /env\.DB \(shop\)\s+D1 Database/);
  });
});

describe("the README's Workers section", () => {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const start = readme.indexOf("\n## Cloudflare Workers\n");
  const end = readme.indexOf("\n## ", start + 1);
  const section = start < 0 ? "" : readme.slice(start, end < 0 ? undefined : end);
  const skip = start < 0 && "the README has no Cloudflare Workers section yet";
  const fenced = (lang) =>
    [...section.matchAll(new RegExp("```" + lang + "\\n([\\s\\S]*?)```", "g"))].map((m) => m[1]);

  test("shows the example's wrangler.toml, Worker and migration as they are", { skip }, () => {
    const example = (path) => readFileSync(join(exampleDir, path), "utf8");
    assert.ok(fenced("toml").includes(example("wrangler.toml")), "wrangler.toml");
    assert.ok(fenced("js").includes(example("src/index.js")), "src/index.js");
    assert.ok(fenced("sql").includes(example("migrations/0001_products.sql")), "the migration");
  });

  test("lists every variable the scheduled sync reads", { skip }, () => {
    const source = readFileSync(join(root, "js/worker-config.js"), "utf8");
    const read = new Set([...source.matchAll(/\bKEYCRM_[A-Z_]+\b/g)].map((m) => m[0]));
    const listed = new Set(
      section
        .split("\n")
        .filter((line) => line.startsWith("| `KEYCRM_"))
        .flatMap((line) => [...line.split("|")[1].matchAll(/KEYCRM_[A-Z_]+/g)].map((m) => m[0])),
    );
    assert.deepEqual([...listed].sort(), [...read].sort());
  });
});

describe("cron-triggered sync into D1 in workerd", () => {
  test("crons over a catalogue larger than one invocation's budget end with D1 equal to KeyCRM; then a fresh scan starts", async () => {
    const offers = generateCatalogue({ offers: 3000, seed: 11 });
    const worker = await shop({ offers });
    try {
      const runs = await untilComplete(worker);
      // Each invocation reads its pages, one of them again (the overlap).
      const least = Math.ceil(60 / (FREE_REQUESTS - 1));
      assert.ok(runs.length >= least, `${runs.length} invocations for 60 pages`);
      await assertSiteMatches(worker, offers);
      // Each run but the first resumed one page before where the last stopped.
      for (let i = 1; i < runs.length; i += 1) {
        assert.equal(runs[i].pages[0], runs[i - 1].cursor.page - 1, `run ${i + 1} starts with one page of overlap`);
      }
      assert.ok(runs.slice(0, -1).every((run) => run.report.error.code === "BUDGET_EXHAUSTED"));
      assert.ok(runs.slice(0, -1).every((run) => run.http === FREE_REQUESTS), "each run used its pages");
      assert.equal(runs.at(-1).cursor, null, "a complete scan clears the cursor");

      const fresh = await fire(worker);
      assertWithinBudget(fresh);
      assert.equal(fresh.pages[0], 1, "the scan after a complete one starts afresh");
      // Nothing changed, so nothing is written — except that a SKU on two offers read
      // by different invocations was written by one of them; a scan that sees both
      // puts the site's value back.
      assert.ok(
        fresh.report.updated <= duplicatesOf(offers).size,
        `${fresh.report.updated} rows written by a scan with nothing changed`,
      );
      await assertSiteMatches(worker, offers, "after the fresh scan: ");
      assertNoKeyInLogs(worker);
      assert.match(worker.logs.join(""), /keycrm-stock-sync: run finished/);
    } finally {
      await worker.dispose();
    }
  });

  test("the subrequest budget alone: 50 a run, D1 calls included, the rows read written before it ends", async () => {
    const offers = generateCatalogue({ offers: 5000, seed: 21 });
    const worker = await shop({ offers, bindings: FIFTY });
    try {
      const runs = await untilComplete(worker, { requests: Infinity });
      assert.ok(runs.length >= 3, `${runs.length} invocations for 100 pages`);
      // Nearly the whole budget goes to pages: 2 to the state, 1 read and 1 write a batch.
      assert.ok(runs[0].http >= 35, `the first run read ${runs[0].http} pages`);
      assert.ok(runs.every((run) => run.subrequests >= 40 || run.report.complete));
      await assertSiteMatches(worker, offers);
    } finally {
      await worker.dispose();
    }
  });

  test("a 429 midway is waited out within the budget", async () => {
    const offers = generateCatalogue({ offers: 1500, seed: 12 });
    const worker = await shop({ offers });
    try {
      emulator.injectFault({ status: 429, page: 7, retryAfter: "1" });
      const started = Date.now();
      const [run] = await untilComplete(worker);
      assert.ok(Date.now() - started >= 1000, "Retry-After: 1 was honoured");
      assert.equal(run.report.rateLimited, 1);
      assert.equal(run.pages.filter((page) => page === 7).length, 2);
      await assertSiteMatches(worker, offers);
      assertNoKeyInLogs(worker);
    } finally {
      await worker.dispose();
    }
  });

  test("KeyCRM failing midway leaves D1 consistent; a later cron completes", async () => {
    const offers = generateCatalogue({ offers: 3000, seed: 13 });
    const worker = await shop({
      offers,
      // Few retries, short backoff: the 503s below outlast them quickly.
      bindings: {
        KEYCRM_SYNC_OPTIONS: JSON.stringify({ maxRetries: 2, backoffBaseMs: 10, backoffMaxMs: 20 }),
      },
    });
    try {
      emulator.injectFault({ status: 404, page: 8 });
      const broken = await fire(worker);
      assert.equal(broken.outcome, "ok");
      assertWithinBudget(broken);
      assert.equal(broken.report.complete, false);
      assert.equal(broken.report.error.code, "CRM_HTTP");
      const expected = expectedAvailability(offers);
      const site = await siteStock(worker);
      for (const page of [1, 4, 7]) {
        for (const offer of offersOnPage(offers, page)) {
          if (expected.has(offer.sku)) assert.equal(site.get(offer.sku), expected.get(offer.sku), `page ${page}: ${offer.sku}`);
        }
      }
      for (let page = 9; page <= 60; page += 1) {
        for (const offer of offersOnPage(offers, page)) {
          if (offer.sku) assert.equal(site.get(offer.sku), 0, `page ${page} is untouched: ${offer.sku}`);
        }
      }
      assert.ok(broken.cursor.page <= 8, `resumes at page ${broken.cursor.page}, not past the failure`);

      // Then 503s past the retries, in the resumed run.
      emulator.injectFault({ status: 503, page: 12, count: 3 });
      const unavailable = await fire(worker);
      assertWithinBudget(unavailable);
      assert.equal(unavailable.report.error.code, "CRM_UNAVAILABLE");
      assert.ok(unavailable.cursor.page <= 12);

      await untilComplete(worker);
      await assertSiteMatches(worker, offers);
    } finally {
      await worker.dispose();
    }
  });

  test("D1 failing midway rolls back that batch only; a later cron completes", async () => {
    const offers = generateCatalogue({ offers: 2500, seed: 14 });
    // With 50 subrequests a run reads some 38 pages, written in batches of 500
    // rows: page 16 is in the second.
    const victim = offersOnPage(offers, 16).find((o) => o.sku && expectedAvailability(offers).get(o.sku) > 0);
    const worker = await shop({ offers, bindings: FIFTY });
    try {
      await worker.db
        .prepare(
          `CREATE TRIGGER refuse_one BEFORE UPDATE OF stock ON products WHEN NEW.sku = '${victim.sku}'
           BEGIN SELECT RAISE(ABORT, 'the site refuses this row'); END`,
        )
        .run();
      const broken = await fire(worker);
      assertWithinBudget(broken, BUDGET, Infinity);
      assert.equal(broken.report.error.code, "SINK_FAILED");
      const expected = expectedAvailability(offers);
      const site = await siteStock(worker);
      assert.equal(site.get(victim.sku), 0, "the refused row is as it was");
      const sorted = [...offers].sort((a, b) => a.id - b.id);
      const at = sorted.indexOf(victim);
      // The batch holding the victim was rolled back as a whole: its page-mates too.
      for (const offer of offersOnPage(offers, 16)) {
        if (offer.sku) assert.equal(site.get(offer.sku), 0, `${offer.sku} rolled back with the batch`);
      }
      for (const [i, offer] of sorted.entries()) {
        if (!expected.has(offer.sku)) continue;
        const value = site.get(offer.sku);
        if (i > at) assert.equal(value, 0, `${offer.sku} after the failure is untouched`);
        else assert.ok(value === 0 || value === expected.get(offer.sku), `${offer.sku}: ${value}`);
      }
      assert.ok(
        offersOnPage(offers, 1).some((o) => expected.get(o.sku) > 0 && site.get(o.sku) === expected.get(o.sku)),
        "batches before the failure were written",
      );

      await worker.db.prepare("DROP TRIGGER refuse_one").run();
      await untilComplete(worker, { requests: Infinity });
      await assertSiteMatches(worker, offers);
    } finally {
      await worker.dispose();
    }
  });

  test("offers added and removed between invocations are neither skipped nor counted twice", async () => {
    // Ids from 101, so that offers with lower ids can appear later.
    const offers = generateCatalogue({ offers: 5000, firstId: 101, seed: 15 });
    const low = generateCatalogue({ offers: 40, firstId: 1, seed: 16, duplicateSkuEvery: 0 });
    const high = generateCatalogue({ offers: 150, firstId: 5101, seed: 17, duplicateSkuEvery: 0 });
    const original = new Set(offers.map((o) => o.id));
    const worker = await shop({ offers, extraSkus: [...low, ...high].map((o) => o.sku) });
    try {
      const runs = [await fire(worker)];
      const cursor = runs[0].cursor.page;
      assert.ok(cursor >= 10, `the first run stopped at page ${cursor}`);

      // 120 offers vanish from pages 7–9, before the cursor: everything after moves
      // back 2.4 pages, so the page the next run starts on now holds offers the
      // last run never saw. 150 new ones arrive at the end meanwhile, so `total`
      // grows and cannot tell.
      const removed = new Set(offers.slice(300, 420).map((o) => o.id));
      offers.splice(300, 120);
      offers.push(...high);
      runs.push(await fire(worker));
      assert.ok(runs[1].cursor, "the scan is still unfinished");

      // New offers with ids lower than any so far (they push everything one page
      // and a bit forward).
      offers.unshift(...low);
      runs.push(...(await untilComplete(worker, { most: 20 })));

      for (const run of runs) {
        assertWithinBudget(run);
        // The last page, asked for right after page 1 as the scan's census, is not
        // read yet when the run stops before it.
        const census = run.pages[0] === 1 ? run.pages[1] : undefined;
        const unread =
          census !== undefined &&
          run.cursor &&
          run.cursor.page <= census &&
          run.pages.filter((p) => p === census).length === 1
            ? census
            : undefined;
        const read = new Set(
          [...run.servedPages].filter(([page]) => page !== unread).flatMap(([, ids]) => ids),
        );
        assert.equal(run.report.offers, read.size, "an offer read twice counts once");
        for (const sku of run.report.duplicateSkus) {
          assert.ok(run.duplicateSkus.has(sku), `${sku} is reported ambiguous but is on one offer`);
        }
      }
      const site = await siteStock(worker);
      const expected = expectedAvailability(offers);
      // Left for the next scan: offers added before the cursor, and SKUs that were
      // on two offers until one of those was removed (ambiguous when last read).
      const untouched = new Set([
        ...low.map((o) => o.sku),
        ...runs.flatMap((run) => [...run.duplicateSkus]),
      ]);
      const wrong = offers
        .filter((o) => expected.has(o.sku) && !untouched.has(o.sku))
        .filter((o) => site.get(o.sku) !== expected.get(o.sku))
        .map((o) => `${o.id} ${o.sku}: ${site.get(o.sku)} ≠ ${expected.get(o.sku)}`);
      assert.deepEqual(wrong, [], "offers present throughout, and those added at the end");
      for (const o of low) {
        if (o.sku) assert.equal(site.get(o.sku), 0, "added before the cursor: left for the next scan");
      }
      assert.equal(removed.size, 120);
      assert.ok([...removed].every((id) => original.has(id)));

      // The next scan starts afresh and picks up the offers added at the front.
      await untilComplete(worker, { most: 20 });
      await assertSiteMatches(worker, offers);
    } finally {
      await worker.dispose();
    }
  });

  test("overlapping invocations: one scans, the other leaves at once; an expired lease is taken over", async () => {
    const offers = generateCatalogue({ offers: 600, seed: 18 });
    const worker = await shop({ offers });
    try {
      const pair = await worker.crons(2);
      assert.deepEqual(pair.map((r) => r.outcome), ["ok", "ok"]);
      const [scanned, skipped] = [...pair].sort((a, b) => b.d1Calls - a.d1Calls);
      assert.equal(skipped.d1Calls, 1, "the second invocation only tried the lease");
      assert.ok(scanned.d1Calls > 2);
      const pages = emulator.requests.map((r) => r.query.page);
      // Page 1 is read twice: before and after the scan's census.
      assert.equal(pages.filter((p) => p === "1").length, 2);
      assert.equal(new Set(pages).size, pages.length - 1, "no other page was read twice");
      assert.match(worker.logs.join(""), /skipped, another invocation holds the lease/);

      // A lease left by an invocation that died is taken over once it expires.
      const now = Date.now();
      const lease = (expiresAt) =>
        worker.db
          .prepare(
            "INSERT INTO keycrm_sync_state (key, value, updated_at, expires_at) VALUES ('lease', 'dead', ?, ?) " +
              "ON CONFLICT (key) DO UPDATE SET value = 'dead', expires_at = excluded.expires_at",
          )
          .bind(now, expiresAt)
          .run();
      await lease(now + 60_000);
      emulator.reset();
      const blocked = await fire(worker);
      assert.equal(blocked.http, 0, "a live lease is respected");
      await lease(now - 1);
      const taken = await fire(worker);
      assert.ok(taken.http > 0, "an expired lease is taken over");
      assert.equal(taken.lease, null, "and released at the end");
      assert.equal(taken.report.complete, true);
    } finally {
      await worker.dispose();
    }
  });

  test("the budgets come from env: a smaller subrequest budget, and a paid plan's bounded by wall time", async () => {
    const offers = generateCatalogue({ offers: 2000, seed: 19 });
    const small = await shop({ offers, bindings: { KEYCRM_PLAN: "paid", KEYCRM_SUBREQUEST_BUDGET: "20" } });
    try {
      const runs = await untilComplete(small, { budget: 20, requests: Infinity });
      assert.ok(runs.length >= 3, `${runs.length} invocations of 20 subrequests for 40 pages`);
      await assertSiteMatches(small, offers);
    } finally {
      await small.dispose();
    }

    // How many pages fit in a wall budget depends on the machine, so the test does
    // not count on it: the emulator holds the answer to a page past the free
    // plan's count until long after the budget, so the first invocation reads
    // every page before it (a few hundred ms of work in a budget many times that)
    // and only its wall time can end it there, on any machine.
    const held = FREE_REQUESTS + 3;
    const paid = await shop({
      offers,
      bindings: { KEYCRM_PLAN: "paid", KEYCRM_WALL_BUDGET_MS: "5000" },
    });
    emulator.injectFault({ page: held, delayMs: 600_000 });
    try {
      const runs = await untilComplete(paid, { budget: 10_000, requests: Infinity });
      assert.ok(runs.length >= 2, "the wall time ended the first invocation");
      assert.equal(runs[0].report.error.code, "DEADLINE_EXCEEDED");
      assert.equal(runs[0].cursor.page, held, "more pages than the free plan's, up to the held one");
      assert.equal(runs[1].pages[0], held - 1, "the next invocation resumes there");
      await assertSiteMatches(paid, offers);
    } finally {
      await paid.dispose();
    }
  });

  test("a stored cursor the core refuses is dropped, and the next cron scans afresh", async () => {
    const offers = generateCatalogue({ offers: 300, seed: 20 });
    const worker = await shop({ offers });
    try {
      await worker.cron(); // creates the state table
      await worker.db
        .prepare("INSERT INTO keycrm_sync_state (key, value, updated_at) VALUES ('cursor', ?, 0)")
        .bind(JSON.stringify({ page: 2, total: 300, fromAnotherVersion: true }))
        .run();
      const refused = await fire(worker);
      assert.equal(refused.outcome, "exception");
      assert.equal(refused.report.error.code, "INVALID_CONFIG");
      assert.equal(refused.cursor, null);
      assert.equal(refused.lease, null, "the lease is released after a throw too");
      const next = await fire(worker);
      assert.equal(next.report.complete, true);
      assert.equal(next.pages[0], 1);
    } finally {
      await worker.dispose();
    }
  });

  test("a missing secret fails the invocation with a message naming it", async () => {
    const worker = await startWorker({
      outdir: built.outdir,
      config: built.config,
      bindings: { KEYCRM_API_URL: emulator.url },
    });
    try {
      const run = await worker.cron();
      assert.equal(run.outcome, "exception");
      assert.match(run.error, /KEYCRM_API_KEY is not set/);
      assert.equal(run.d1Calls, 0);
    } finally {
      await worker.dispose();
    }
  });
});

describe("KeyCRM webhooks into D1 in workerd", () => {
  const TOKEN = "whk-WORKER-TOKEN-9d3a71c4e0b2";
  const offers = generateCatalogue({ offers: 120, seed: 30, duplicateSkuEvery: 0, withoutSkuEvery: 0 });
  const ordered = offers[3];
  let worker;

  before(async () => {
    emulator.orders = [{ id: 42, products: [{ sku: ordered.sku, quantity: 1, offer_id: ordered.id }] }];
    // Confirmations have a test of their own.
    worker = await shop({ offers, bindings: { KEYCRM_WEBHOOK_TOKEN: TOKEN, KEYCRM_CONFIRM_AFTER_MS: "0" } });
  });

  after(async () => {
    await worker?.dispose();
    emulator.orders = [];
  });

  const post = (route, body, { token = TOKEN } = {}) =>
    worker.mf.dispatchFetch(
      `http://shop.example/webhooks/keycrm/${route}${token === null ? "" : `?token=${token}`}`,
      { method: "POST", headers: { "content-type": "application/json" }, body },
    );

  test("the stock webhook writes in_stock − in_reserve, floored, before replying; a replay writes nothing", async () => {
    const [a, b] = offers;
    const body = JSON.stringify([
      { offer_id: a.id, sku: a.sku, in_stock: 16, in_reserve: 3.5 },
      { offer_id: b.id, sku: b.sku, in_stock: 7, in_reserve: 0 },
    ]);
    const response = await post("stock", body);
    assert.equal(response.status, 200);
    const answer = await response.json();
    assert.equal(answer.complete, true, JSON.stringify(answer.error));
    assert.equal(answer.updated, 2);
    const site = await siteStock(worker);
    assert.equal(site.get(a.sku), 12);
    assert.equal(site.get(b.sku), 7);

    const replay = await post("stock", body);
    assert.equal(replay.status, 200);
    assert.equal((await replay.json()).updated, 0);
    assert.match(worker.logs.join(""), /stock webhook applied/);
  });

  test("a missing or wrong token is 401 and writes nothing; oversized bodies 413, malformed ones and unknown events 400", async () => {
    const [a] = offers;
    const before = (await siteStock(worker)).get(a.sku);
    const body = JSON.stringify([{ offer_id: a.id, sku: a.sku, in_stock: 99, in_reserve: 0 }]);
    for (const token of [null, `${TOKEN}x`, "short"]) {
      const response = await post("stock", body, { token });
      assert.equal(response.status, 401, String(token));
      assert.equal((await response.json()).error.code, "UNAUTHORIZED");
    }
    assert.equal((await siteStock(worker)).get(a.sku), before, "nothing written");

    const big = await post("stock", `[${" ".repeat(1_000_001)}]`);
    assert.equal(big.status, 413);
    assert.equal((await big.json()).error.code, "BODY_TOO_LARGE");
    for (const malformed of ["{", "{}", '[{"sku":"x","in_stock":1}]']) {
      const response = await post("stock", malformed);
      assert.equal(response.status, 400, malformed);
      assert.equal((await response.json()).error.code, "BAD_WEBHOOK");
    }
    const unknown = await post("order", JSON.stringify({ event: "order.deleted", context: { id: 42 } }));
    assert.equal(unknown.status, 400);
    assert.match((await unknown.json()).error.message, /unknown event/);
    assert.equal((await siteStock(worker)).get(a.sku), before, "still nothing written");
    const health = await worker.mf.dispatchFetch("http://shop.example/webhooks/keycrm/healthz");
    assert.deepEqual(await health.json(), { ok: true });
  });

  test("the order webhook answers 202 at once, then syncs the order's offers in waitUntil", async () => {
    const from = emulator.requests.length;
    const response = await post(
      "order",
      JSON.stringify({ event: "order.change_order_status", context: { id: 42, status_id: 3 } }),
    );
    assert.equal(response.status, 202);
    assert.deepEqual(await response.json(), { accepted: true, event: "order.change_order_status", orderId: 42 });

    const expected = expectedAvailability(offers).get(ordered.sku);
    assert.notEqual(expected, 0, "the ordered offer has stock to write");
    let stock;
    for (let i = 0; i < 100; i++) {
      stock = (await siteStock(worker)).get(ordered.sku);
      if (stock === expected) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(stock, expected, "the ordered offer's row has its stock");
    const requests = emulator.requests.slice(from);
    assert.deepEqual(requests.map((r) => r.path), ["/v1/order/42", "/v1/offers/stocks"]);
    assert.equal(String(requests[1].query["filter[offers_id]"]), String(ordered.id));
    for (let i = 0; i < 40 && !/order webhook applied/.test(worker.logs.join("")); i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.match(worker.logs.join(""), /order webhook applied/);
    assertNoKeyInLogs(worker);
    assert.ok(!worker.logs.join("").includes(TOKEN), "the token never reaches the logs");
  });

  test("deliveries out of order are put right by a confirmation read in waitUntil", async () => {
    const confirming = await shop({
      offers,
      bindings: { KEYCRM_WEBHOOK_TOKEN: TOKEN, KEYCRM_CONFIRM_AFTER_MS: "300" },
    });
    try {
      const offer = offers[40];
      const now = expectedAvailability(offers).get(offer.sku);
      const deliver = (inStock) =>
        confirming.mf.dispatchFetch(`http://shop.example/webhooks/keycrm/stock?token=${TOKEN}`, {
          method: "POST",
          body: JSON.stringify([{ offer_id: offer.id, sku: offer.sku, in_stock: inStock, in_reserve: 0 }]),
        });
      const from = emulator.requests.length;
      // The newest delivery first, then a late older one.
      assert.equal((await deliver(now)).status, 200);
      assert.equal((await deliver(now + 6)).status, 200);
      assert.equal((await siteStock(confirming)).get(offer.sku), now + 6);
      let stock;
      for (let i = 0; i < 100; i++) {
        stock = (await siteStock(confirming)).get(offer.sku);
        if (stock === now) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal(stock, now, "KeyCRM's figure, read after both deliveries");
      const requests = emulator.requests.slice(from);
      assert.deepEqual(requests.map((r) => r.path), ["/v1/offers/stocks"]);
      assert.equal(String(requests[0].query["filter[offers_id]"]), String(offer.id));
      for (let i = 0; i < 40 && !/confirmation of stock webhooks applied/.test(confirming.logs.join("")); i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.match(confirming.logs.join(""), /confirmation of stock webhooks applied/);
    } finally {
      await confirming.dispose();
    }
  });

  test("a missing or short token secret is 503 naming it, not a crash", async () => {
    for (const bindings of [{}, { KEYCRM_WEBHOOK_TOKEN: "short" }]) {
      const bare = await startWorker({
        outdir: built.outdir,
        config: built.config,
        bindings: { KEYCRM_API_KEY: API_KEY, KEYCRM_API_URL: emulator.url, ...bindings },
      });
      try {
        const response = await bare.mf.dispatchFetch(
          `http://shop.example/webhooks/keycrm/stock?token=${TOKEN}`,
          { method: "POST", body: "[]" },
        );
        assert.equal(response.status, 503);
        const { error } = await response.json();
        assert.equal(error.code, "INVALID_CONFIG");
        assert.match(error.message, /KEYCRM_WEBHOOK_TOKEN/);
        assert.ok(!error.message.includes(API_KEY));
      } finally {
        await bare.dispose();
      }
    }
  });
});

describe("a webhook during a cron's scan, in workerd", () => {
  const TOKEN = "whk-WORKER-RACE-TOKEN-5e1f08";
  const offers = generateCatalogue({ offers: 60, seed: 31, duplicateSkuEvery: 0, withoutSkuEvery: 0 });
  const target = offers.find((o) => expectedAvailability([o]).get(o.sku) > 0);

  /**
   * Fires a cron whose first page takes 400 ms to arrive, and meanwhile a sale:
   * KeyCRM's figure changes and its stock webhook reaches the Worker.
   */
  async function race(bindings) {
    const worker = await shop({
      offers,
      bindings: { KEYCRM_WEBHOOK_TOKEN: TOKEN, KEYCRM_CONFIRM_AFTER_MS: "0", ...bindings },
    });
    const saved = { quantity: target.quantity, first: target.warehouse[0].quantity };
    try {
      emulator.setLatency(400);
      const cron = worker.cron();
      await new Promise((resolve) => setTimeout(resolve, 150));
      target.quantity += 7;
      target.warehouse[0].quantity += 7;
      const now = expectedAvailability([target]).get(target.sku);
      const response = await worker.mf.dispatchFetch(
        `http://shop.example/webhooks/keycrm/stock?token=${TOKEN}`,
        {
          method: "POST",
          body: JSON.stringify([
            { offer_id: target.id, sku: target.sku, in_stock: target.quantity, in_reserve: target.reserve },
          ]),
        },
      );
      assert.equal(response.status, 200);
      assert.equal((await response.json()).updated, 1, "the webhook wrote its figure");
      const run = await cron;
      assert.equal(run.outcome, "ok", run.error);
      const { report } = await stateOf(worker);
      return { stock: (await siteStock(worker)).get(target.sku), now, report };
    } finally {
      emulator.setLatency(0);
      target.quantity = saved.quantity;
      target.warehouse[0].quantity = saved.first;
      await worker.dispose();
    }
  }

  test("with the observed column, the webhook's figure stays; the page's older one is not written", async () => {
    assert.equal(built.config.vars.KEYCRM_OBSERVED_COLUMN, "observed_at", "the example keeps the times");
    const { stock, now, report } = await race({});
    assert.equal(stock, now);
    assert.equal(report.complete, true);
    assert.equal(report.keptNewer, 1);
  });

  test("without it, the page read before the sale overwrites the webhook's figure", async () => {
    const { stock, now, report } = await race({ KEYCRM_OBSERVED_COLUMN: "" });
    assert.notEqual(stock, now);
    assert.equal(stock, now - 7, "the pre-sale figure");
    assert.equal(report.keptNewer ?? 0, 0);
  });
});
