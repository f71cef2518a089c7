// The command line as a user types it: `node js/cli.js …` in a child process,
// against the emulator over real HTTP and real SQLite files.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import mysql from "mysql2/promise";
import pg from "pg";
import { createSampleDatabase } from "../../js/sinks/sqlite.js";
import {
  expectedAvailability,
  generateCatalogue,
  startEmulator,
} from "../../js/testing/index.js";
import { passwordOf, scratchName, serverUrl } from "./support/databases.js";
import { userEnv as sharedUserEnv } from "./support/user-env.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SECRET = "sk-live-SECRET-123456";
const WRONG_KEY = "sk-live-WRONG-654321";
const FAST = ["--rate-limit", "6000"];
/** Database passwords the CLI is given; no output may contain them. */
const DB_SECRETS = [];

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keycrm-cli-"));
const offers = generateCatalogue({ offers: 300 });
const skus = [...new Set(offers.map((o) => o.sku).filter(Boolean))];
let emulator;

before(async () => {
  emulator = await startEmulator({
    apiKey: SECRET,
    offers,
    rateLimitPerMinute: 6000,
  });
});

after(async () => {
  await emulator?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function userEnv(extra = {}) {
  return sharedUserEnv(SECRET, emulator.url, extra);
}

/**
 * Runs the CLI and checks, for every run, that no API key leaks into its output.
 * @returns {Promise<{ code: number, stdout: string, stderr: string }>}
 */
function cli(args, env = userEnv()) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["js/cli.js", ...args], {
      cwd: ROOT,
      env,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (text) => (stdout += text));
    child.stderr.setEncoding("utf8").on("data", (text) => (stderr += text));
    child.on("error", reject);
    child.on("close", (code) => {
      for (const key of [SECRET, WRONG_KEY, ...DB_SECRETS]) {
        assert.ok(!stdout.includes(key), `secret on stdout:\n${stdout}`);
        assert.ok(!stderr.includes(key), `secret on stderr:\n${stderr}`);
      }
      resolve({ code, stdout, stderr });
    });
  });
}

let files = 0;
/** A fresh site database: every catalogue SKU at stock 0, plus one KeyCRM lacks. */
function siteDatabase(options = {}) {
  files += 1;
  const file = path.join(dir, `shop-${files}.sqlite`);
  createSampleDatabase(file, { skus: [...skus, "not-in-keycrm"], ...options });
  return file;
}

function stockOf(file) {
  const db = new Database(file, { readonly: true });
  try {
    const rows = db.prepare("SELECT sku, stock FROM products").all();
    return new Map(rows.map((row) => [row.sku, row.stock]));
  } finally {
    db.close();
  }
}

/** Asserts every row holds the expected figure; rows not expected stay at 0. */
function assertStock(file, expected) {
  const stock = stockOf(file);
  for (const [sku, value] of stock) {
    assert.equal(value, expected.get(sku) ?? 0, `stock of ${sku}`);
  }
  assert.equal(stock.size, skus.length + 1);
}

test("sync writes the stock KeyCRM can sell, then finds nothing to change", async () => {
  const db = siteDatabase();
  const first = await cli(["sync", "--db", db, ...FAST]);
  assert.equal(first.code, 0, first.stderr);
  assertStock(db, expectedAvailability(offers));
  assert.match(first.stdout, /result\s+complete/);
  assert.match(first.stdout, /duplicate SKUs\s+1\s+e\.g\. sku-000210 \(each given its offers. smallest figure\)/);

  const second = await cli(["sync", "--db", db, "--json", ...FAST]);
  assert.equal(second.code, 0, second.stderr);
  const report = JSON.parse(second.stdout);
  assert.equal(report.updated, 0);
  assert.equal(report.complete, true);
  assert.equal(report.unchanged, expectedAvailability(offers).size);
});

test("--json prints only the report on stdout", async () => {
  const db = siteDatabase();
  const { code, stdout, stderr } = await cli([
    "sync",
    "--db",
    db,
    "--json",
    ...FAST,
  ]);
  assert.equal(code, 0, stderr);
  const report = JSON.parse(stdout);
  for (const field of [
    "complete",
    "dryRun",
    "offers",
    "updated",
    "unchanged",
    "notOnSite",
    "withoutSku",
    "duplicateSkus",
    "requests",
    "retries",
    "rateLimited",
    "durationMs",
  ]) {
    assert.ok(field in report, `report has ${field}`);
  }
  assert.equal(report.offers, offers.length);
  assert.equal(report.withoutSku, offers.filter((o) => !o.sku).length);
  assert.deepEqual(report.duplicateSkus, ["sku-000210"]);
  assert.equal(report.error, undefined);
});

test("--dry-run reports the changes and writes nothing", async () => {
  const db = siteDatabase();
  const before = fs.readFileSync(db);
  const { code, stdout, stderr } = await cli([
    "sync",
    "--db",
    db,
    "--dry-run",
    "--json",
    ...FAST,
  ]);
  assert.equal(code, 0, stderr);
  const report = JSON.parse(stdout);
  assert.equal(report.dryRun, true);
  assert.ok(report.updated > 0);
  for (const value of stockOf(db).values()) assert.equal(value, 0);
  assert.deepEqual(fs.readFileSync(db), before);
});

test("--warehouses by name writes that warehouse's stock", async () => {
  const db = siteDatabase();
  const { code, stderr } = await cli([
    "sync",
    "--db",
    db,
    "--warehouses",
    "Київ",
    ...FAST,
  ]);
  assert.equal(code, 0, stderr);
  const kyiv = expectedAvailability(offers, { warehouses: ["Київ"] });
  assert.notDeepEqual(kyiv, expectedAvailability(offers));
  assertStock(db, kyiv);
});

test("--per-warehouse writes one row per warehouse", async () => {
  const db = siteDatabase({ warehouseIds: [1, 2] });
  const { code, stderr } = await cli([
    "sync",
    "--db",
    db,
    "--per-warehouse",
    "--warehouse-column",
    "warehouse_id",
    ...FAST,
  ]);
  assert.equal(code, 0, stderr);
  const site = new Database(db, { readonly: true });
  try {
    for (const id of [1, 2]) {
      const expected = expectedAvailability(offers, { warehouses: [id] });
      const rows = site
        .prepare("SELECT sku, stock FROM products WHERE warehouse_id = ?")
        .all(id);
      assert.equal(rows.length, skus.length + 1);
      for (const row of rows) {
        assert.equal(row.stock, expected.get(row.sku) ?? 0, row.sku);
      }
    }
  } finally {
    site.close();
  }
});

test("--observed-column records when each figure was seen, and keeps a figure seen later", async () => {
  const db = siteDatabase();
  const later = Date.now() + 3_600_000;
  const [kept] = skus;
  const setup = new Database(db);
  setup.exec("ALTER TABLE products ADD COLUMN observed_at INTEGER");
  // As another process would leave it: a webhook's figure, observed after this run.
  setup.prepare("UPDATE products SET stock = 99, observed_at = ? WHERE sku = ?").run(later, kept);
  setup.close();

  const started = Date.now();
  const { code, stdout, stderr } = await cli([
    "sync", "--db", db, "--observed-column", "observed_at", "--json", ...FAST,
  ]);
  assert.equal(code, 0, stderr);
  const report = JSON.parse(stdout);
  assert.equal(report.keptNewer, 1);
  const expected = expectedAvailability(offers);
  expected.set(kept, 99);
  assertStock(db, expected);
  const check = new Database(db, { readonly: true });
  const times = check.prepare("SELECT sku, observed_at AS at FROM products").all();
  check.close();
  for (const { sku, at } of times) {
    if (sku === kept) assert.equal(at, later, "the later figure keeps its time");
    else if (expected.has(sku) && expected.get(sku) !== 0) {
      assert.ok(at >= started && at <= Date.now(), `${sku} observed at ${at}`);
    }
  }
});

test("an unknown warehouse fails the run with exit 3 and lists the ones KeyCRM has", async () => {
  const db = siteDatabase();
  const { code, stderr } = await cli([
    "sync",
    "--db",
    db,
    "--warehouses",
    "1,Харків",
    ...FAST,
  ]);
  assert.equal(code, 3);
  assert.match(stderr, /^error UNKNOWN_WAREHOUSE: .*Харків/m);
  assert.match(stderr, /Основний/);
  assert.match(stderr, /Київ/);
  for (const value of stockOf(db).values()) assert.equal(value, 0);
});

test("a wrong API key exits 3 with UNAUTHORIZED", async () => {
  const db = siteDatabase();
  const { code, stderr } = await cli(
    ["sync", "--db", db, ...FAST],
    userEnv({ KEYCRM_API_KEY: WRONG_KEY }),
  );
  assert.equal(code, 3);
  assert.match(stderr, /^error UNAUTHORIZED: /m);
});

test("a run failing midway on a 4xx exits 3, and --json still reports it", async () => {
  emulator.injectFault({ status: 404, page: 3, count: Infinity });
  try {
    const db = siteDatabase();
    const { code, stdout, stderr } = await cli([
      "sync",
      "--db",
      db,
      "--json",
      ...FAST,
    ]);
    assert.equal(code, 3);
    const report = JSON.parse(stdout);
    assert.equal(report.complete, false);
    assert.equal(report.error.code, "CRM_HTTP");
    assert.match(report.error.message, /^KeyCRM answered HTTP 404 for \/v1\/offers\/stocks/);
    assert.match(stderr, new RegExp(`^error ${report.error.code}: `, "m"));
  } finally {
    emulator.clearFaults();
  }
});

test("SIGTERM ends a stalled sync: the rows read are written, the report and cursor printed, exit 1", { timeout: 30_000 }, async () => {
  // Page 3 is held, so the run can go no further than pages 1 and 2; their rows
  // in the database show that both were taken (the rows start above every
  // figure, so each one lowers its row and is written with its page rather than
  // held to the end of the run as a raise). Only the signal can end the run.
  emulator.reset();
  emulator.injectFault({ page: 3, delayMs: 600_000 });
  const ABOVE = 99_999;
  const db = siteDatabase({ stockValue: ABOVE });
  const child = spawn(
    process.execPath,
    ["js/cli.js", "sync", "--db", db, "--json", "--quiet", ...FAST],
    { cwd: ROOT, env: userEnv() },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (text) => (stdout += text));
  child.stderr.setEncoding("utf8").on("data", (text) => (stderr += text));
  const exited = new Promise((resolve) => child.on("close", (code, signal) => resolve({ code, signal })));
  try {
    const sortedIds = [...offers].sort((a, b) => a.id - b.id);
    const firstTwo = expectedAvailability(sortedIds.slice(0, 100));
    const laterSkus = new Set(sortedIds.slice(100).map((o) => o.sku));
    const written = () => {
      const stock = stockOf(db);
      return [...firstTwo].every(([sku, value]) => laterSkus.has(sku) || stock.get(sku) === value);
    };
    await until(written);
    child.kill("SIGTERM");
    const { code, signal } = await exited;
    assert.equal(signal, null, stderr);
    assert.equal(code, 1, stderr);
    const report = JSON.parse(stdout);
    assert.equal(report.complete, false);
    assert.equal(report.error.code, "DEADLINE_EXCEEDED");
    assert.match(report.error.message, /asked to stop/);
    // Page 1 is read twice: before and after the scan's census (page 6).
    assert.equal(report.pages, 3);
    assert.equal(report.cursor?.page, 3, "the next run continues at the held page");
    assert.match(stderr, /SIGTERM: stopping after the batch in flight/);
    assert.match(stderr, /^error DEADLINE_EXCEEDED: /m);
    // Pages 1 and 2 are written; nothing after them is.
    const sorted = [...offers].sort((a, b) => a.id - b.id);
    const read = expectedAvailability(sorted.slice(0, 100));
    const later = new Set(sorted.slice(100).map((o) => o.sku).filter(Boolean));
    const stock = stockOf(db);
    for (const [sku, value] of read) {
      if (!later.has(sku)) assert.equal(stock.get(sku), value, `stock of ${sku}`);
    }
    for (const sku of later) if (!read.has(sku)) assert.equal(stock.get(sku), ABOVE, `stock of ${sku}`);
    for (const key of [SECRET, ...DB_SECRETS]) assert.ok(!stdout.includes(key) && !stderr.includes(key));
  } finally {
    child.kill("SIGKILL");
    emulator.clearFaults();
  }
});

/** Resolves once `condition()` holds, looking again after each turn of the event loop's timers. */
async function until(condition) {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}

test("the API key comes from KEYCRM_API_KEY only", async () => {
  const db = siteDatabase();
  const env = userEnv();
  delete env.KEYCRM_API_KEY;
  const missing = await cli(["sync", "--db", db, ...FAST], env);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /KEYCRM_API_KEY is not set/);

  const flag = await cli(["sync", "--db", db, `--api-key=${SECRET}`], env);
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /--api-key.*KEYCRM_API_KEY/);
});

test("mistakes in the command line exit 2 with a pointer to --help", async () => {
  const db = siteDatabase();
  const cases = [
    [["sync", "--db", db, "--frobnicate"], /unknown option '--frobnicate'/],
    [["sync", ...FAST], /--db is required/],
    [["sync", "--db", db, "--rate-limit", "fast"], /--rate-limit needs/],
    [["sync", "--db", db, "--per-warehouse"], /--warehouse-column/],
    [["sync", "--db", "http://shop/db"], /http:\/\/ is not a database/],
    [["sync", "--db", "sqlite://shop.db"], /postgres:\/\/.*mysql:\/\//],
  ];
  for (const [args, reason] of cases) {
    const { code, stdout, stderr } = await cli(args);
    assert.equal(code, 2, args.join(" "));
    assert.match(stderr, reason);
    assert.match(stderr, /see keycrm-stock-sync sync --help/);
    assert.equal(stderr.trim().split("\n").length, 1, stderr);
    assert.equal(stdout, "");
  }
});

test("a table name that is not an identifier is refused before any request", async () => {
  const db = siteDatabase();
  emulator.reset();
  const { code, stderr } = await cli([
    "sync",
    "--db",
    db,
    "--table",
    "x; drop",
    ...FAST,
  ]);
  assert.equal(code, 2);
  assert.match(stderr, /^error INVALID_CONFIG: /m);
  assert.equal(emulator.counts().total, 0);
});

test("sync --help lists every flag and says where the key comes from", async () => {
  const { code, stdout } = await cli(["sync", "--help"]);
  assert.equal(code, 0);
  for (const flag of [
    "--db",
    "--api-url",
    "--table",
    "--sku-column",
    "--stock-column",
    "--warehouse-column",
    "--observed-column",
    "--warehouses",
    "--per-warehouse",
    "--keep-reserve",
    "--fractional",
    "--zero-missing",
    "--rate-limit",
    "--deadline",
    "--max-requests",
    "--skus",
    "--offer-ids",
    "--state",
    "--sink-timeout",
    "--statement-timeout",
    "--config",
    "--dry-run",
    "--json",
    "--quiet",
    "--help",
  ]) {
    assert.match(stdout, new RegExp(`^\\s+(-h, )?${flag}\\b`, "m"), flag);
  }
  assert.match(stdout, /KEYCRM_API_KEY/);
  assert.match(stdout, /shell history/);
});

test("demo syncs a sample catalogue twice and verifies the database", async () => {
  const db = path.join(dir, "demo.sqlite");
  const { code, stdout, stderr } = await cli(
    ["demo", "--offers", "300", "--db", db, ...FAST],
    userEnv({ KEYCRM_API_KEY: "" }),
  );
  assert.equal(code, 0, stderr);
  assert.match(stdout, /^Verified: /m);
  assert.match(stdout, /only the 20 changed/);
  assert.match(stdout, /KEYCRM_API_KEY=\.\.\. keycrm-stock-sync sync --db/);
  assert.ok(fs.existsSync(db));

  // Run again over its own file: replaced, not refused.
  const again = await cli(["demo", "--offers", "300", "--db", db, ...FAST]);
  assert.equal(again.code, 0, again.stderr);

  // Never over a file it did not make.
  const site = siteDatabase();
  const refused = await cli(["demo", "--db", site, ...FAST]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /not made by the demo/);
});

/**
 * Runs the same syncs into a server database: the first writes every figure,
 * the second finds nothing to change, and no output shows the password.
 * @param {{ url: string, table: string, stockOf: () => Promise<Map<string, number>> }} site
 */
async function syncTwiceInto({ url, table, stockOf: stored }) {
  const db = ["--db", url, "--table", table];
  const first = await cli(["sync", ...db, ...FAST]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /result\s+complete/);
  const expected = expectedAvailability(offers);
  const stock = await stored();
  assert.equal(stock.size, skus.length + 1);
  for (const [sku, value] of stock) {
    assert.equal(value, expected.get(sku) ?? 0, `stock of ${sku}`);
  }
  const second = await cli(["sync", ...db, "--json", ...FAST]);
  assert.equal(second.code, 0, second.stderr);
  const report = JSON.parse(second.stdout);
  assert.equal(report.updated, 0);
  assert.equal(report.unchanged, expected.size);
}

/** The same URL with another password. */
function withPassword(url, password) {
  const wrong = new URL(url);
  wrong.password = password;
  return String(wrong);
}

test("sync into PostgreSQL from a postgres:// URL", async () => {
  const url = serverUrl("postgres");
  DB_SECRETS.push(...passwordOf(url), "wrong-Pa55word");
  const schema = scratchName("keycrm_cli");
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.query(`CREATE TABLE ${schema}.products
      (sku varchar(64) PRIMARY KEY, stock integer NOT NULL DEFAULT 0)`);
    await admin.query(
      `INSERT INTO ${schema}.products (sku) SELECT unnest($1::text[])`,
      [[...skus, "not-in-keycrm"]],
    );
    await syncTwiceInto({
      url: url.replace(/^postgres:/, "postgresql:"),
      table: `${schema}.products`,
      async stockOf() {
        const { rows } = await admin.query(
          `SELECT sku, stock FROM ${schema}.products`,
        );
        return new Map(rows.map((row) => [row.sku, row.stock]));
      },
    });
    const wrong = await cli([
      "sync",
      "--db",
      withPassword(url, "wrong-Pa55word"),
      ...FAST,
    ]);
    assert.equal(wrong.code, 2);
    assert.match(
      wrong.stderr,
      /^error INVALID_CONFIG: .*password authentication failed/m,
    );
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  }
});

test("sync into MariaDB from a mysql:// URL, per warehouse", async () => {
  const url = serverUrl("mysql");
  DB_SECRETS.push(...passwordOf(url), "wrong-Pa55word");
  const database = scratchName("keycrm_cli");
  const admin = await mysql.createConnection(url);
  try {
    await admin.query(`CREATE DATABASE ${database}`);
    await admin.query(`CREATE TABLE ${database}.stock_levels (
      code varchar(64) NOT NULL, depot int NOT NULL, qty int NOT NULL DEFAULT 0,
      PRIMARY KEY (code, depot))`);
    await admin.query(
      `INSERT INTO ${database}.stock_levels (code, depot) VALUES ?`,
      [
        [...skus, "not-in-keycrm"].flatMap((sku) => [
          [sku, 1],
          [sku, 2],
        ]),
      ],
    );
    const { code, stderr } = await cli([
      "sync",
      "--db",
      url.replace(/^mysql:/, "mariadb:"),
      "--table",
      `${database}.stock_levels`,
      "--sku-column",
      "code",
      "--stock-column",
      "qty",
      "--per-warehouse",
      "--warehouse-column",
      "depot",
      ...FAST,
    ]);
    assert.equal(code, 0, stderr);
    const [rows] = await admin.query(
      `SELECT code, depot, qty FROM ${database}.stock_levels`,
    );
    assert.equal(rows.length, 2 * (skus.length + 1));
    for (const depot of [1, 2]) {
      const expected = expectedAvailability(offers, { warehouses: [depot] });
      for (const row of rows.filter((r) => r.depot === depot)) {
        assert.equal(row.qty, expected.get(row.code) ?? 0, row.code);
      }
    }

    await admin.query(`CREATE TABLE ${database}.products
      (sku varchar(64) PRIMARY KEY, stock decimal(10,3) NOT NULL DEFAULT 0)`);
    await admin.query(`INSERT INTO ${database}.products (sku) VALUES ?`, [
      [...skus, "not-in-keycrm"].map((sku) => [sku]),
    ]);
    await syncTwiceInto({
      url,
      table: `${database}.products`,
      async stockOf() {
        const [stock] = await admin.query(
          `SELECT sku, stock FROM ${database}.products`,
        );
        return new Map(stock.map((row) => [row.sku, Number(row.stock)]));
      },
    });

    const wrong = await cli([
      "sync",
      "--db",
      withPassword(url, "wrong-Pa55word"),
      ...FAST,
    ]);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /^error INVALID_CONFIG: .*Access denied/m);
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${database}`);
    await admin.end();
  }
});

/** The environment of a user who has not installed these packages. */
function withoutPackages(names) {
  // A resolve hook that makes them look uninstalled.
  const hook = `export async function resolve(specifier, context, next) {
    const name = specifier.split("/")[0];
    if (${JSON.stringify(names)}.includes(name)) {
      const error = new Error("Cannot find package '" + name + "' imported from here");
      error.code = "ERR_MODULE_NOT_FOUND";
      throw error;
    }
    return next(specifier, context);
  }`;
  const register = `import { register } from "node:module";
    register("data:text/javascript," + ${JSON.stringify(encodeURIComponent(hook))});`;
  return userEnv({
    NODE_OPTIONS: `--import=data:text/javascript,${encodeURIComponent(register)}`,
  });
}

test("a database URL without its driver installed says which to install", async () => {
  const env = withoutPackages(["pg", "mysql2"]);
  for (const [url, name] of [
    ["postgres://shop:pw@127.0.0.1:9/shop", "pg"],
    ["mysql://shop:pw@127.0.0.1:9/shop", "mysql2"],
  ]) {
    const { code, stderr } = await cli(["sync", "--db", url, ...FAST], env);
    assert.equal(code, 2, stderr);
    assert.match(
      stderr,
      new RegExp(`^error INVALID_CONFIG: install ${name} to use`, "m"),
    );
  }
});

test("without better-sqlite3, SQLite files and the demo say to install it, and PostgreSQL works", async () => {
  const env = withoutPackages(["better-sqlite3"]);
  const db = siteDatabase();
  for (const args of [["sync", "--db", db, ...FAST], ["demo", "--db", path.join(dir, "demo-x.sqlite")]]) {
    const { code, stderr } = await cli(args, env);
    assert.equal(code, 2, stderr);
    assert.match(
      stderr,
      /^error INVALID_CONFIG: install better-sqlite3 to use SQLite files \(npm install better-sqlite3\)/m,
    );
  }
  const url = serverUrl("postgres");
  DB_SECRETS.push(...passwordOf(url));
  const schema = scratchName("keycrm_nosqlite");
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.query(`CREATE TABLE ${schema}.products (sku text PRIMARY KEY, stock integer)`);
    await admin.query(`INSERT INTO ${schema}.products (sku) SELECT unnest($1::text[])`, [skus]);
    const { code, stderr } = await cli(
      ["sync", "--db", url, "--table", `${schema}.products`, ...FAST],
      env,
    );
    assert.equal(code, 0, stderr);
    const { rows } = await admin.query(`SELECT sku, stock FROM ${schema}.products`);
    const expected = expectedAvailability(offers);
    for (const row of rows) assert.equal(row.stock, expected.get(row.sku) ?? null, row.sku);
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  }
});

