// The package as shipped: what `npm pack` puts in the tarball, and the tarball
// installed into a fresh project, where the README's Node examples run (as an ES
// module and as CommonJS) and every CommonJS entry loads without require() of ES
// modules, as on Node 20 before 20.19.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import Database from "better-sqlite3";

import { createSampleDatabase } from "keycrm-stock-sync/sqlite";
import { expectedAvailability, generateCatalogue, startEmulator } from "keycrm-stock-sync/testing";
import { installPacked, root } from "./support/packed.js";

const API_KEY = "packed-key-7f3a";
const readme = readFileSync(join(root, "README.md"), "utf8");
// Node 20.19 and later can require() an ES module; this flag turns that off, as it is on 20.0.
const NO_REQUIRE_ESM = "--no-experimental-require-module";

let packed;
let emulator;
let offers;

before(async () => {
  packed = await installPacked({ links: ["better-sqlite3"] });
  offers = generateCatalogue({ offers: 60 });
  emulator = await startEmulator({ apiKey: API_KEY, offers, rateLimitPerMinute: 6000 });
});

after(async () => {
  await emulator?.close();
  packed?.dispose();
});

/** The fenced `js` blocks of the README section with this heading. */
function blocks(heading) {
  const start = readme.indexOf(`\n## ${heading}\n`);
  assert.ok(start >= 0, `README has a "${heading}" section`);
  const end = readme.indexOf("\n## ", start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);
}

/** Runs a file with Node in the installed project; resolves with its output. */
async function runIn(file, code, flags = []) {
  writeFileSync(join(packed.app, file), code);
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [...flags, file], {
      cwd: packed.app,
      env: { ...process.env, KEYCRM_API_KEY: API_KEY, KEYCRM_API_URL: emulator.url },
      encoding: "utf8",
      timeout: 60_000,
    });
    return stdout;
  } catch (error) {
    assert.fail(`${file} failed:\n${error.stdout}${error.stderr}`);
  }
}

/** The stock column of shop.sqlite in the installed project, by SKU. */
function siteStock() {
  const db = new Database(join(packed.app, "shop.sqlite"), { readonly: true });
  try {
    return new Map(db.prepare("SELECT sku, stock FROM products").all().map((r) => [r.sku, r.stock]));
  } finally {
    db.close();
  }
}

function freshShop() {
  const skus = [...expectedAvailability(offers).keys()];
  createSampleDatabase(join(packed.app, "shop.sqlite"), { skus, stockValue: -1 });
}

test("the tarball holds every file the exports map names, the wasm and the CommonJS copy", () => {
  const files = new Set(packed.files);
  const targets = [];
  const walk = (value) =>
    typeof value === "string" ? targets.push(value) : Object.values(value).forEach(walk);
  walk(packed.manifest.exports);
  targets.push(packed.manifest.main, packed.manifest.types, ...Object.values(packed.manifest.bin));
  for (const list of Object.values(packed.manifest.typesVersions["*"])) targets.push(...list);
  for (const target of targets) {
    assert.ok(files.has(target.replace(/^\.\//, "")), `${target} is in the tarball`);
  }
  assert.ok(files.has("js/wasm/keycrm_stock_sync_bg.wasm"));
  assert.ok(files.has("js/cjs/errors.cjs"));
  assert.deepEqual(
    packed.files.filter((f) => /(^|\/)(\.dev\.vars|\.wrangler|node_modules)(\/|$)/.test(f)),
    [],
    "no local secrets, state or installed packages",
  );
});

test("everything the README links to or names under js/ and examples/ is in the tarball", () => {
  const files = packed.files;
  const linked = [...readme.matchAll(/\]\((?!https?:|#|mailto:)([^)\s]+)\)/g)].map((m) => m[1]);
  const named = [...readme.matchAll(/`((?:js|examples)\/[\w./-]*)`/g)].map((m) => m[1]);
  assert.ok(linked.length > 0 && named.length > 0);
  for (const path of [...linked, ...named]) {
    const found = path.endsWith("/")
      ? files.some((file) => file.startsWith(path))
      : files.includes(path);
    assert.ok(found, `${path} is shipped`);
  }
});

test("the README's Node example runs from the installed tarball", async () => {
  freshShop();
  const [example] = blocks("From Node");
  const output = await runIn("readme-node.mjs", example);
  assert.match(output, /\d+ rows updated, \d+ already right/);
  const site = siteStock();
  for (const [sku, stock] of expectedAvailability(offers, { warehouses: ["Основний"] })) {
    assert.equal(site.get(sku), stock, sku);
  }
});

test("the README's CommonJS example runs from the installed tarball without require() of ES modules", async () => {
  freshShop();
  const example = blocks("From Node").find((block) => block.includes("require("));
  assert.ok(example, "the README has a CommonJS example");
  const output = await runIn("readme-node.cjs", example, [NO_REQUIRE_ESM]);
  assert.match(output, /\d+ rows updated, \d+ already right/);
  const site = siteStock();
  for (const [sku, stock] of expectedAvailability(offers)) assert.equal(site.get(sku), stock, sku);
});

test("the README's testing example runs from the installed tarball", async () => {
  const [example] = blocks("Testing without an account");
  await runIn("readme-testing.mjs", example);
});

test("every CommonJS entry loads with require() on a Node without require() of ES modules", async () => {
  const output = await runIn(
    "entries.cjs",
    `const assert = require("node:assert/strict");
const kss = require("keycrm-stock-sync");
const sqlite = require("keycrm-stock-sync/sqlite");
const postgres = require("keycrm-stock-sync/postgres");
const mysql = require("keycrm-stock-sync/mysql");
const d1 = require("keycrm-stock-sync/d1");
const testing = require("keycrm-stock-sync/testing");
for (const [name, fn] of Object.entries({
  createSqliteSink: sqlite.createSqliteSink,
  createSampleDatabase: sqlite.createSampleDatabase,
  createPostgresSink: postgres.createPostgresSink,
  createMysqlSink: mysql.createMysqlSink,
  createD1Sink: d1.createD1Sink,
  startEmulator: testing.startEmulator,
  generateCatalogue: testing.generateCatalogue,
  sinkConformance: testing.sinkConformance,
  syncStocks: kss.syncStocks,
})) assert.equal(typeof fn, "function", name);
assert.equal(d1.D1_MAX_PARAMETERS, 100);
assert.equal(typeof kss.KeyCrmSyncError, "function");
(async () => {
  // The sink factories: those that connect return promises, the others the sink;
  // await gives the sink from either.
  const sink = await sqlite.createSqliteSink({ path: "shop.sqlite" });
  assert.equal(typeof sink.read, "function");
  await assert.rejects(postgres.createPostgresSink({ url: "not a url" }), kss.KeyCrmSyncError);
  await assert.rejects(mysql.createMysqlSink({ url: "not a url" }), kss.KeyCrmSyncError);
  // Errors of the ES module (syncStocks runs there) and of the CommonJS copy are instances.
  await assert.rejects(kss.syncStocks({ apiKey: "k", sink, batchSize: 0 }), (error) =>
    error instanceof kss.KeyCrmSyncError && error.code === "INVALID_CONFIG");
  assert.throws(() => d1.createD1Sink({}), (error) => error instanceof kss.KeyCrmSyncError);
  assert.ok(kss.isSyncError(new kss.KeyCrmSyncError("SINK_FAILED", "down")));
  await sink.close();
  console.log("entries ok");
})().catch((error) => { console.error(error); process.exitCode = 1; });
`,
    [NO_REQUIRE_ESM],
  );
  assert.match(output, /entries ok/);
});

test("KeyCrmSyncError is exported by the ES entry and catches the core's errors", async () => {
  const output = await runIn(
    "errors.mjs",
    `import assert from "node:assert/strict";
import { KeyCrmSyncError, applyStockWebhook, validateOptions } from "keycrm-stock-sync";
import { createSqliteSink } from "keycrm-stock-sync/sqlite";
assert.throws(() => validateOptions({ batchSize: 0 }), KeyCrmSyncError);
const sink = createSqliteSink({ path: "shop.sqlite" });
await assert.rejects(applyStockWebhook({ body: "{}", sink }), (error) =>
  error instanceof KeyCrmSyncError && error.constructor === KeyCrmSyncError && error.code === "BAD_WEBHOOK");
assert.throws(() => createSqliteSink({ path: "missing/shop.sqlite" }), KeyCrmSyncError);
assert.equal(new Error("other") instanceof KeyCrmSyncError, false);
await sink.close();
console.log("errors ok");
`,
  );
  assert.match(output, /errors ok/);
});
