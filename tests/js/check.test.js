// `keycrm-stock-sync check` as a user types it: `node js/cli.js check …` in a
// child process, against the emulator over real HTTP and a SQLite site built to
// hold every kind of finding; and checkStock() from the library.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { checkStock, isSyncError } from "../../js/node.js";
import { generateCatalogue, startEmulator } from "../../js/testing/index.js";
import { userEnv as sharedUserEnv } from "./support/user-env.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SECRET = "sk-live-CHECK-123456";
const FAST = ["--rate-limit", "6000"];

/** An offer held in two warehouses: [quantity, reserve] in each. */
function offer(id, sku, [q1, r1], [q2, r2] = [0, 0]) {
  return {
    id,
    sku,
    quantity: q1 + q2,
    reserve: r1 + r2,
    warehouse: [
      { id: 1, name: "Київ", quantity: q1, reserve: r1 },
      { id: 2, name: "Львів", quantity: q2, reserve: r2 },
    ],
  };
}

const FORK_NAME = 'Виделка, "срібна"';

// Every kind of finding, each once or twice.
const OFFERS = [
  offer(1, "mug-red", [8, 2], [4, 0]), // 10; the site has 4
  offer(2, "plate", [3, 0]), // 3, as on the site
  offer(3, "bowl", [2, 0], [3, 0]), // 5; the site has NULL
  offer(4, null, [1, 0]), // without SKU
  offer(5, "", [1, 0]), // without SKU, spelled ""
  offer(6, "cup", [7, 0]), // cup on two offers: the smallest, 2, as on the site
  offer(7, "cup", [2, 0]),
  offer(8, "Spoon ", [1, 0]), // no row; the site has "spoon"
  offer(9, "a\u0000b", [1, 0]), // invalid
  // No row; its product's name needs quoting in CSV.
  { ...offer(10, "fork", [4, 1]), product_name: FORK_NAME },
];
const QUOTED = 'say "hi", ok';
const SITE = [
  ["mug-red", 4],
  ["plate", 3],
  ["bowl", null],
  ["cup", 2],
  ["spoon", 0],
  ["knife", 5],
  [QUOTED, 1],
];

const EXPECTED = {
  stockDiffers: [
    { sku: "bowl", site: null, keycrm: 5 },
    { sku: "mug-red", site: 4, keycrm: 10 },
  ],
  missingInKeycrm: [
    { sku: "knife", site: 5 },
    { sku: QUOTED, site: 1 },
    { sku: "spoon", site: 0 },
  ],
  notOnSite: [
    { offerId: 8, sku: "Spoon ", keycrm: 1 },
    { offerId: 10, sku: "fork", keycrm: 3 },
  ],
  withoutSku: [4, 5],
  duplicateSkus: [{ sku: "cup", offerIds: [6, 7] }],
  nearMisses: [{ sku: "Spoon ", siteSku: "spoon", offerIds: [8] }],
  invalidSkus: [{ offerId: 9, sku: "a\u0000b" }],
};

const EXPECTED_CSV = [
  "kind,sku,warehouse_id,site_stock,keycrm_stock,offer_ids,site_sku,name",
  "stockDiffers,bowl,,,5,,,",
  "stockDiffers,mug-red,,4,10,,,",
  "missingInKeycrm,knife,,5,,,,",
  'missingInKeycrm,"say ""hi"", ok",,1,,,,',
  "missingInKeycrm,spoon,,0,,,,",
  'notOnSite,"Spoon ",,,1,8,,',
  "notOnSite,fork,,,3,10,,",
  "withoutSku,,,,,4,,",
  "withoutSku,,,,,5,,",
  "duplicateSku,cup,,,,6 7,,",
  'nearMiss,"Spoon ",,,,8,spoon,',
  "invalidSku,a\\u0000b,,,,9,,",
  "",
].join("\r\n");

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keycrm-check-"));
let emulator;

before(async () => {
  emulator = await startEmulator({
    apiKey: SECRET,
    offers: OFFERS,
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

/** Runs the CLI; no output may carry the key. */
function cli(args, env = userEnv()) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["js/cli.js", ...args], { cwd: ROOT, env });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (text) => (stdout += text));
    child.stderr.setEncoding("utf8").on("data", (text) => (stderr += text));
    child.on("error", reject);
    child.on("close", (code) => {
      assert.ok(!stdout.includes(SECRET) && !stderr.includes(SECRET), "the key leaked");
      resolve({ code, stdout, stderr });
    });
  });
}

let files = 0;
/** A site database of `rows` ([sku, stock] or [sku, warehouse, stock]). */
function site(rows, { perWarehouse = false } = {}) {
  files += 1;
  const file = path.join(dir, `shop-${files}.sqlite`);
  const db = new Database(file);
  try {
    if (perWarehouse) {
      db.exec(
        "CREATE TABLE products (sku TEXT, warehouse_id INTEGER, stock REAL, PRIMARY KEY (sku, warehouse_id))",
      );
      const insert = db.prepare("INSERT INTO products VALUES (?, ?, ?)");
      for (const row of rows) insert.run(...row);
    } else {
      db.exec("CREATE TABLE products (sku TEXT PRIMARY KEY, stock REAL)");
      const insert = db.prepare("INSERT INTO products VALUES (?, ?)");
      for (const row of rows) insert.run(...row);
    }
  } finally {
    db.close();
  }
  return file;
}

function contentOf(file) {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare("SELECT * FROM products ORDER BY sku").all();
  } finally {
    db.close();
  }
}

test("check --json lists every finding of every kind, writes nothing, and exits 5", async () => {
  const db = site(SITE);
  const before = contentOf(db);
  // Settings only sync uses, from a shared environment, are ignored.
  const env = userEnv({ KEYCRM_STATE: path.join(dir, "never.state"), KEYCRM_ZERO_MISSING: "true" });
  const { code, stdout, stderr } = await cli(["check", "--db", db, "--json", ...FAST], env);
  assert.equal(code, 5, stderr);
  const report = JSON.parse(stdout);
  assert.equal(report.complete, true);
  assert.equal(report.dryRun, true);
  assert.equal(report.offers, OFFERS.length);
  assert.deepEqual(report.findings, EXPECTED);
  assert.deepEqual(contentOf(db), before, "a check writes nothing");
  assert.ok(!fs.existsSync(path.join(dir, "never.state")));
  assert.ok(!fs.existsSync(`${db}.lock`), "a check takes no lock");
});

test("check --csv writes one row per finding with a kind column; the terminal gets a summary", async () => {
  const db = site(SITE);
  const csv = path.join(dir, "findings.csv");
  const { code, stdout, stderr } = await cli(["check", "--db", db, "--csv", csv, "--quiet", ...FAST]);
  assert.equal(code, 5, stderr);
  assert.equal(stderr, "", "--quiet: nothing on stderr");
  assert.equal(fs.readFileSync(csv, "utf8"), EXPECTED_CSV);
  const lines = stdout.split("\n");
  const row = (label) => lines.find((line) => line.startsWith(label));
  assert.match(row("offers read"), /offers read\s+10 \(1 pages, \d+ requests\)/);
  assert.match(row("stock differs"), /stock differs\s+2$/);
  assert.ok(lines.includes('  "mug-red"  site 4 → KeyCRM 10'), stdout);
  assert.ok(lines.includes('  "bowl"  site NULL → KeyCRM 5'), stdout);
  assert.match(row("site SKUs KeyCRM lacks"), /\s3$/);
  assert.match(row("offers with no site row"), /\s2$/);
  assert.ok(lines.includes('  offer 8  "Spoon "  KeyCRM 1'), stdout);
  assert.match(row("offers without SKU"), /\s2$/);
  assert.ok(lines.includes('  "cup"  offers 6, 7'), stdout);
  assert.ok(lines.includes('  KeyCRM "Spoon " (offers 8)  site "spoon"'), stdout);
  assert.ok(lines.includes('  offer 9  "a\\u0000b"'), stdout);
  assert.match(row("result"), /2 site rows differ from KeyCRM; a sync would change them/);
  assert.match(row("csv"), /every finding in .*findings\.csv/);
});

test("check --names adds each offer's product name to the offers with no site row, for one request per 50 of them", async () => {
  const db = site(SITE);
  const csv = path.join(dir, "named.csv");
  const from = emulator.requests.length;
  const { code, stdout, stderr } = await cli(["check", "--db", db, "--names", "--json", "--csv", csv, ...FAST]);
  assert.equal(code, 5, stderr);
  const report = JSON.parse(stdout);
  assert.deepEqual(report.findings, {
    ...EXPECTED,
    notOnSite: [
      { offerId: 8, sku: "Spoon ", keycrm: 1, name: "Товар 8" },
      { offerId: 10, sku: "fork", keycrm: 3, name: FORK_NAME },
    ],
  });
  // Two offers with no site row: one more request, by their ids, after the scan.
  const asked = emulator.requests.slice(from).filter((r) => r.path === "/v1/offers");
  assert.deepEqual(
    asked.map((r) => r.query),
    [{ limit: "50", include: "product", "filter[id]": "8,10" }],
  );
  assert.equal(report.requests, emulator.requests.length - from);
  const rows = fs.readFileSync(csv, "utf8").split("\r\n");
  assert.equal(rows[0], EXPECTED_CSV.split("\r\n")[0]);
  assert.ok(rows.includes('notOnSite,"Spoon ",,,1,8,,Товар 8'), rows.join("\n"));
  assert.ok(rows.includes('notOnSite,fork,,,3,10,,"Виделка, ""срібна"""'), rows.join("\n"));
  assert.ok(rows.includes("stockDiffers,bowl,,,5,,,"), "other kinds have no name");

  const text = await cli(["check", "--db", db, "--names", "--quiet", ...FAST]);
  assert.equal(text.code, 5, text.stderr);
  const line = `  offer 10  "fork"  KeyCRM 3  ${JSON.stringify(FORK_NAME)}`;
  assert.ok(text.stdout.split("\n").includes(line), text.stdout);
});

test("check --names costs ceil(n / 50) requests for n offers with no site row", async () => {
  const offers = generateCatalogue({ offers: 120 });
  const big = await startEmulator({ apiKey: SECRET, offers, rateLimitPerMinute: 6000 });
  try {
    const db = site([]);
    const env = userEnv({ KEYCRM_API_URL: big.url });
    const { code, stdout, stderr } = await cli(["check", "--db", db, "--names", "--json", ...FAST], env);
    assert.equal(code, 0, stderr);
    const { findings, requests } = JSON.parse(stdout);
    // 120 offers, one without SKU: 119 with no site row, 3 requests of names.
    assert.equal(findings.notOnSite.length, 119);
    assert.ok(findings.notOnSite.every((f) => f.name === `Товар ${f.offerId}`));
    const asked = big.requests.filter((r) => r.path === "/v1/offers");
    assert.equal(asked.length, Math.ceil(119 / 50));
    const ids = asked.flatMap((r) => r.query["filter[id]"].split(",").map(Number));
    assert.deepEqual(ids, findings.notOnSite.map((f) => f.offerId));
    assert.ok(asked.every((r) => r.query.include === "product" && r.query.limit === "50"));
    assert.equal(requests, big.requests.length);
  } finally {
    await big.close();
  }
});

test("check --names with no request left for the names still reports every finding, without names, and warns", async () => {
  const db = site(SITE);
  const from = emulator.requests.length;
  // The one page of the scan takes the whole budget.
  const args = ["check", "--db", db, "--names", "--max-requests", "1", "--json", "--quiet", ...FAST];
  const { code, stdout, stderr } = await cli(args);
  assert.equal(code, 5, stderr);
  const { complete, findings } = JSON.parse(stdout);
  assert.equal(complete, true);
  assert.deepEqual(findings.notOnSite, EXPECTED.notOnSite.map((f) => ({ ...f, name: null })));
  const warning =
    "product names were not read for 2 of the 2 offers with no site row: the run's budget of 1 requests ran out";
  assert.deepEqual(findings.warnings, [warning]);
  assert.equal(stderr, `warning: ${warning}\n`, "a warning shows even under --quiet");
  assert.deepEqual(
    emulator.requests.slice(from).map((r) => r.path),
    ["/v1/offers/stocks"],
  );
});

test("check exits 0 when every stock equals KeyCRM's, and lists the rest", async () => {
  const db = site([
    ["mug-red", 10],
    ["plate", 3],
    ["bowl", 5],
    ["cup", 2],
    ["Spoon ", 1],
    ["fork", 3],
  ]);
  const { code, stdout, stderr } = await cli(["check", "--db", db, "--json", ...FAST]);
  assert.equal(code, 0, stderr);
  const { findings } = JSON.parse(stdout);
  assert.deepEqual(findings.stockDiffers, []);
  assert.deepEqual(findings.missingInKeycrm, []);
  assert.deepEqual(findings.notOnSite, []);
  assert.deepEqual(findings.nearMisses, []);
  assert.deepEqual(findings.withoutSku, [4, 5]);

  const text = await cli(["check", "--db", db, "--quiet", ...FAST]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /result\s+every stock on the site equals KeyCRM's/);
});

test("check --per-warehouse --warehouses compares the rows of the chosen warehouses", async () => {
  const db = site(
    [
      ["mug-red", 1, 6],
      ["mug-red", 2, 1],
      ["plate", 1, 3],
      ["old", 2, 4],
    ],
    { perWarehouse: true },
  );
  const args = ["check", "--db", db, "--per-warehouse", "--warehouse-column", "warehouse_id"];
  const all = await cli([...args, "--json", ...FAST]);
  assert.equal(all.code, 5, all.stderr);
  const { findings } = JSON.parse(all.stdout);
  assert.deepEqual(findings.stockDiffers, [{ sku: "mug-red", warehouseId: 2, site: 1, keycrm: 4 }]);
  assert.deepEqual(findings.missingInKeycrm, [{ sku: "old", warehouseId: 2, site: 4 }]);
  // plate has no row for warehouse 2, bowl none at all.
  assert.deepEqual(
    findings.notOnSite.filter((f) => f.sku === "plate" || f.sku === "bowl"),
    [
      { offerId: 2, sku: "plate", warehouseId: 2, keycrm: 0 },
      { offerId: 3, sku: "bowl", warehouseId: 1, keycrm: 2 },
      { offerId: 3, sku: "bowl", warehouseId: 2, keycrm: 3 },
    ],
  );

  const kyiv = await cli([...args, "--warehouses", "Київ", "--json", ...FAST]);
  assert.equal(kyiv.code, 0, kyiv.stderr);
  const chosen = JSON.parse(kyiv.stdout).findings;
  assert.deepEqual(chosen.stockDiffers, [], "mug-red in Київ: 8 − 2 = 6, as on the site");
  assert.ok(chosen.notOnSite.every((f) => f.warehouseId === 1));
});

test("a check that fails exits as sync does, with no findings", async () => {
  const db = site(SITE);
  const refused = await cli(["check", "--db", db, ...FAST], userEnv({ KEYCRM_API_KEY: "sk-wrong" }));
  assert.equal(refused.code, 3, refused.stderr);
  assert.match(refused.stderr, /error UNAUTHORIZED/);
  assert.equal(refused.stdout, "");

  const unknown = await cli(["check", "--db", db, "--warehouses", "Одеса", "--quiet", ...FAST]);
  assert.equal(unknown.code, 3, unknown.stderr);
  assert.match(unknown.stderr, /error UNKNOWN_WAREHOUSE/);

  const filtered = await cli(["check", "--db", db, "--skus", "a"]);
  assert.equal(filtered.code, 2);
  assert.match(filtered.stderr, /unknown option '--skus'.*see keycrm-stock-sync check --help/);

  const noDb = await cli(["check"]);
  assert.equal(noDb.code, 2);
  assert.match(noDb.stderr, /--db is required.*see keycrm-stock-sync check --help/);

  const unwritable = await cli(["check", "--db", db, "--quiet", "--csv", path.join(dir, "no", "such", "dir.csv"), ...FAST]);
  assert.equal(unwritable.code, 1);
  assert.match(unwritable.stderr, /error CSV: --csv .* could not be written \(ENOENT\)/);
});

test("check --help documents the findings, the CSV and exit status 5", async () => {
  const { code, stdout } = await cli(["check", "--help"]);
  assert.equal(code, 0);
  assert.match(stdout, /Usage: keycrm-stock-sync check --db FILE\|URL/);
  assert.match(stdout, /--csv FILE/);
  assert.match(stdout, /--names +also read the product name .*one more request to KeyCRM per 50 such offers/s);
  assert.match(stdout, /5 {2}the check completed and stocks differ/);
  assert.doesNotMatch(stdout, /--(state|zero-missing|dry-run|skus|offer-ids)\b/);
  const top = await cli(["--help"]);
  assert.match(top.stdout, /check\s+list where the site's stock and KeyCRM's disagree/);
});

test("checkStock() resolves with the findings; a sink without readAll() is INVALID_CONFIG", async () => {
  const rows = SITE.map(([sku, stock]) => ({ sku, stock }));
  const writes = [];
  const sink = {
    read: async () => assert.fail("a check reads no keys"),
    write: async (changes) => writes.push(changes),
    readAll: async () => rows,
  };
  const report = await checkStock({ apiKey: SECRET, apiUrl: emulator.url, rateLimitPerMinute: 6000, sink });
  assert.deepEqual(report.findings, EXPECTED);
  assert.deepEqual(writes, []);

  const { readAll, ...withoutReadAll } = sink;
  void readAll;
  await assert.rejects(
    checkStock({ apiKey: SECRET, apiUrl: emulator.url, sink: withoutReadAll }),
    (error) =>
      isSyncError(error) &&
      error.code === "INVALID_CONFIG" &&
      /checkStock needs a sink with readAll\(\)/.test(error.message),
  );
  await assert.rejects(
    checkStock({ apiKey: SECRET, apiUrl: emulator.url, sink, zeroMissing: true }),
    (error) => error.code === "INVALID_CONFIG" && /check compares the whole catalogue/.test(error.message),
  );
});
