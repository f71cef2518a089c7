// `keycrm-stock-sync demo`: the whole thing working in one command, with no
// account. A local KeyCRM emulator serves a sample catalogue; two syncs fill a
// fresh SQLite file, before and after a few simulated sales; the result is
// checked against the catalogue's answer key.

import { randomUUID } from "node:crypto";
import { existsSync, rmSync } from "node:fs";
import { resolve } from "node:path";
import Database from "better-sqlite3";
import { syncStocks } from "../node.js";
import { createSampleDatabase, createSqliteSink } from "../sinks/sqlite.js";
import {
  expectedAvailability,
  generateCatalogue,
  startEmulator,
} from "../testing/index.js";
import { EXIT, PROGRAM, UsageError } from "./args.js";
import { createProgress, formatReport } from "./progress.js";

const DEFAULTS = { offers: 2000, db: "keycrm-demo.sqlite", rateLimit: 600 };
const SALES = 20;
const NOT_IN_KEYCRM = ["demo-discontinued-1", "demo-discontinued-2"];
// Marks the files the demo creates, so it never replaces anything else: "KCRM".
const DEMO_APPLICATION_ID = 0x4b43524d;
const REAL_RATE_LIMIT = 60;

/**
 * Runs the demo with parsed flags.
 * @returns {Promise<number>} the exit status
 */
export async function runDemo(flags, { stdout, stderr }) {
  const offers = flags.offers ?? DEFAULTS.offers;
  const rateLimit = flags.rateLimit ?? DEFAULTS.rateLimit;
  const path = resolve(flags.db ?? DEFAULTS.db);
  const say = flags.json ? () => {} : (text = "") => stdout.write(`${text}\n`);

  const catalogue = generateCatalogue({ offers });
  const skus = [...new Set(catalogue.map((o) => o.sku).filter(Boolean))];
  freshDatabase(path, [...skus, ...NOT_IN_KEYCRM]);

  // A throwaway key: the emulator checks it like KeyCRM would.
  const apiKey = `demo-${randomUUID()}`;
  const emulator = await startEmulator({
    apiKey,
    offers: catalogue,
    rateLimitPerMinute: rateLimit,
  });
  try {
    const warehouseCount = catalogue[0]?.warehouse.length ?? 0;
    say(
      `KeyCRM emulator  ${emulator.url}: ${offers} offers in ${warehouseCount} warehouses, ${rateLimit} requests/minute`,
    );
    say(
      `Shop database    ${path}: table products with ${skus.length} SKUs at stock 0, plus ${NOT_IN_KEYCRM.length} KeyCRM does not have`,
    );

    const run = async (title) => {
      say(`\n${title}`);
      const report = await syncOnce({
        apiKey,
        url: emulator.url,
        path,
        rateLimit,
        stderr,
      });
      say(formatReport(report).trimEnd());
      return report;
    };
    const first = await run("First sync: every product gets its stock");
    if (!first.complete) return failed(first, stderr);

    const sold = simulateSales(emulator.offers);
    say(
      `\nMeanwhile in KeyCRM: ${sold} offers sold a unit or got a new reservation`,
    );
    const second = await run("Second sync: only the changed rows are written");
    if (!second.complete) return failed(second, stderr);

    const check = await verify(path, emulator.offers, sold, second);
    if (flags.json) {
      const result = {
        database: path,
        firstSync: first,
        sold,
        secondSync: second,
        ...check,
      };
      stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    }
    if (!check.verified) {
      stderr.write(`Verification failed: ${check.problems.join("; ")}\n`);
      return EXIT.FAILED;
    }
    say(
      `\nVerified: all ${check.rows} rows equal what KeyCRM says can be sold, and the second sync wrote only the ${sold} changed ones.`,
    );
    say(
      `\nThe demo database is ${path}. A real run reads your KeyCRM account:`,
    );
    say(`  KEYCRM_API_KEY=... ${PROGRAM} sync --db path/to/shop.sqlite`);
    say(
      `Real KeyCRM allows ${REAL_RATE_LIMIT} requests a minute, and sync keeps to that by default; the demo raised its emulator to ${rateLimit} to be quick.`,
    );
    return EXIT.OK;
  } finally {
    await emulator.close();
  }
}

function freshDatabase(path, skus) {
  if (existsSync(path)) {
    if (!madeByDemo(path)) {
      throw new UsageError(
        `--db: ${path} exists and was not made by the demo; it is left alone, give another path`,
        "demo",
      );
    }
    for (const suffix of ["", "-wal", "-shm", "-journal"]) {
      rmSync(path + suffix, { force: true });
    }
  }
  createSampleDatabase(path, { skus });
  const db = new Database(path);
  try {
    db.pragma(`application_id = ${DEMO_APPLICATION_ID}`);
  } finally {
    db.close();
  }
}

function madeByDemo(path) {
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      return (
        db.pragma("application_id", { simple: true }) === DEMO_APPLICATION_ID
      );
    } finally {
      db.close();
    }
  } catch {
    return false; // not a SQLite file at all
  }
}

async function syncOnce({ apiKey, url, path, rateLimit, stderr }) {
  const sink = createSqliteSink({ path });
  const progress = createProgress(stderr);
  let report;
  try {
    report = await syncStocks({
      apiKey,
      apiUrl: url,
      rateLimitPerMinute: rateLimit,
      sink,
      onProgress: (p) => progress.update(p),
    });
    return report;
  } finally {
    progress.finish(report);
    await sink.close();
  }
}

// Changes the KeyCRM side of some offers that have a single owner and stock to
// sell, spread over the catalogue: every one must change exactly one site row.
function simulateSales(offers) {
  const before = expectedAvailability(offers);
  const owners = new Map();
  for (const o of offers) owners.set(o.sku, (owners.get(o.sku) ?? 0) + 1);
  const candidates = offers.filter(
    (o) => owners.get(o.sku) === 1 && before.get(o.sku) >= 1,
  );
  const count = Math.min(SALES, candidates.length);
  const step = Math.floor(candidates.length / Math.max(count, 1));
  for (let i = 0; i < count; i += 1) {
    const offer = candidates[i * step];
    if (i % 2 === 0) {
      const stock = offer.warehouse.find((w) => w.quantity >= 1);
      stock.quantity = round(stock.quantity - 1);
    } else {
      offer.warehouse[0].reserve = round(offer.warehouse[0].reserve + 1);
    }
    // The emulator serves the totals as stored: keep them equal to the sums.
    offer.quantity = round(sum(offer.warehouse, "quantity"));
    offer.reserve = round(sum(offer.warehouse, "reserve"));
  }
  return count;
}

async function verify(path, offers, sold, secondReport) {
  const expected = expectedAvailability(offers);
  const sink = createSqliteSink({ path });
  let rows;
  try {
    rows = await sink.readAll();
  } finally {
    await sink.close();
  }
  // Rows the sync must not touch (SKUs KeyCRM lacks) stay at 0.
  const wrong = rows.filter(
    (row) => row.stock !== (expected.get(row.sku) ?? 0),
  );
  const onSite = new Set(rows.map((row) => row.sku));
  const missing = [...expected.keys()].filter((sku) => !onSite.has(sku));
  const problems = [];
  if (wrong.length > 0) {
    const example = wrong[0];
    problems.push(
      `${wrong.length} rows differ, e.g. ${example.sku}: ${example.stock} instead of ${expected.get(example.sku) ?? 0}`,
    );
  }
  if (missing.length > 0) {
    problems.push(`${missing.length} SKUs missing, e.g. ${missing[0]}`);
  }
  if (secondReport.updated !== sold) {
    problems.push(
      `the second sync updated ${secondReport.updated} rows, not the ${sold} that changed`,
    );
  }
  return { verified: problems.length === 0, rows: rows.length, problems };
}

function failed(report, stderr) {
  stderr.write(`error ${report.error?.code}: ${report.error?.message}\n`);
  return EXIT.FAILED;
}

function sum(items, field) {
  return items.reduce((total, item) => total + item[field], 0);
}

// Sums of fractional stock pick up float error (0.1 + 0.2); three decimals is
// the precision the catalogue itself uses.
function round(value) {
  return Math.round(value * 1000) / 1000;
}
