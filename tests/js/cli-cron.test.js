// `sync` as cron runs it: --state carries the scan across runs, a lock keeps two
// runs on one database apart, settings come from the environment and a config
// file, exit codes tell "fix the setup" from "try again", and failures say what
// happened as they happen. Every run is `node js/cli.js …` in a child process
// against the emulator over real HTTP and a real SQLite file.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { createSampleDatabase } from "../../js/sinks/sqlite.js";
import { validateOptions } from "../../js/node.js";
import { userEnv as sharedUserEnv } from "./support/user-env.js";
import {
  expectedAvailability,
  generateCatalogue,
  startEmulator,
} from "../../js/testing/index.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SECRET = "sk-live-CRON-SECRET-778899";
const FAST = ["--rate-limit", "6000"];

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keycrm-cron-"));
// 620 offers: 13 pages, far more than one run of --max-requests 4 reads.
const offers = generateCatalogue({ offers: 620 });
const skus = [...new Set(offers.map((o) => o.sku).filter(Boolean))];
let emulator;
let other;

before(async () => {
  emulator = await startEmulator({ apiKey: SECRET, offers, rateLimitPerMinute: 6000 });
  other = await startEmulator({
    apiKey: SECRET,
    offers: generateCatalogue({ offers: 120 }),
    rateLimitPerMinute: 6000,
  });
});

after(async () => {
  await emulator?.close();
  await other?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function userEnv(extra = {}) {
  return sharedUserEnv(SECRET, emulator.url, extra);
}

/** Starts the CLI; `done` resolves with its exit and output, checked for the key. */
function start(args, env = userEnv()) {
  const child = spawn(process.execPath, ["js/cli.js", ...args], { cwd: ROOT, env });
  const run = { child, stdout: "", stderr: "" };
  child.stdout.setEncoding("utf8").on("data", (text) => (run.stdout += text));
  child.stderr.setEncoding("utf8").on("data", (text) => (run.stderr += text));
  run.done = new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => {
      assert.ok(!run.stdout.includes(SECRET) && !run.stderr.includes(SECRET), "the key leaked");
      resolve({ code, signal, stdout: run.stdout, stderr: run.stderr });
    });
  });
  return run;
}

const cli = (args, env) => start(args, env).done;

/** Resolves once `condition()` holds, looking again after each turn of the timers. */
async function until(condition) {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}

let files = 0;
function siteDatabase() {
  files += 1;
  const file = path.join(dir, `shop-${files}.sqlite`);
  createSampleDatabase(file, { skus });
  return file;
}

function stockOf(file) {
  const db = new Database(file, { readonly: true });
  try {
    return new Map(db.prepare("SELECT sku, stock FROM products").all().map((r) => [r.sku, r.stock]));
  } finally {
    db.close();
  }
}

function assertStock(file, expected) {
  for (const [sku, value] of stockOf(file)) {
    assert.equal(value, expected.get(sku) ?? 0, `stock of ${sku}`);
  }
}

/** The page numbers of the stock list the emulator was asked for since `from`. */
function pagesAsked(from, server = emulator) {
  return server.requests
    .slice(from)
    .filter((r) => r.path === "/v1/offers/stocks")
    .map((r) => Number(r.query.page));
}

test("cron: runs shorter than the scan, with --state, complete it and every row is right", async () => {
  emulator.reset();
  const db = siteDatabase();
  const state = path.join(dir, "cron.state");
  const args = ["sync", "--db", db, "--state", state, "--max-requests", "4", "--json", "--quiet", ...FAST];
  const cursors = [];
  let last;
  for (let run = 1; run <= 20; run += 1) {
    const from = emulator.requests.length;
    last = await cli(args);
    const report = JSON.parse(last.stdout);
    if (last.code === 0) {
      assert.equal(report.complete, true);
      break;
    }
    assert.equal(last.code, 1, last.stderr);
    assert.equal(report.error.code, "BUDGET_EXHAUSTED");
    assert.match(last.stderr, /^error BUDGET_EXHAUSTED: /m);
    // The state holds the report's cursor, and the next run asks from there.
    const saved = JSON.parse(fs.readFileSync(state, "utf8"));
    assert.deepEqual(saved.cursor, report.cursor);
    if (cursors.length > 0) {
      // A resumed run reads from its cursor (and the page before, to see where
      // the last run stopped is still there), never from page 1.
      const asked = pagesAsked(from);
      assert.ok(!asked.includes(1), `a resumed run does not start over: ${asked}`);
      assert.ok(Math.min(...asked) >= cursors.at(-1) - 1, `${asked} from ${cursors.at(-1)}`);
    }
    cursors.push(report.cursor.page);
  }
  assert.equal(last.code, 0, last.stderr);
  assert.ok(cursors.length >= 3, `the scan took several runs: ${cursors}`);
  assert.ok(
    cursors.every((page, i) => i === 0 || page > cursors[i - 1]),
    `each run went further: ${cursors}`,
  );
  assert.equal(fs.existsSync(state), false, "a complete scan removes the state");
  assertStock(db, expectedAvailability(offers));
});

test("a state file of another catalogue, version or shape is refused, and the scan starts from page 1", async () => {
  const db = siteDatabase();
  const state = path.join(dir, "other.state");
  // A state left by a scan of the other emulator's catalogue into this database.
  const first = await cli(
    ["sync", "--db", db, "--state", state, "--max-requests", "2", "--quiet", ...FAST],
    userEnv({ KEYCRM_API_URL: other.url }),
  );
  assert.equal(first.code, 1, first.stderr);
  assert.ok(fs.existsSync(state));
  const saved = fs.readFileSync(state, "utf8");

  const cases = [
    [saved, /another scan \(api "127\.0\.0\.1:\d+\/v1" there, "127\.0\.0\.1:\d+\/v1" here\)/],
    [saved.replace(/"version": "[^"]*"/, '"version": "0.0.0-old"'), /written by version 0\.0\.0-old/],
    ["{ half a state", /not JSON/],
    ['{"page": 3}', /not a state file of this program/],
  ];
  for (const [text, reason] of cases) {
    fs.writeFileSync(state, text);
    const from = emulator.requests.length;
    const run = await cli(["sync", "--db", db, "--state", state, "--quiet", ...FAST]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, new RegExp(`^warning: --state ${state.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} is not used: `, "m"));
    assert.match(run.stderr, reason);
    assert.match(run.stderr, /the scan starts from page 1/);
    assert.equal(pagesAsked(from)[0], 1);
    // The complete scan replaced it: no place, only the time of its check.
    const replaced = JSON.parse(fs.readFileSync(state, "utf8"));
    assert.equal(replaced.cursor, undefined);
    assert.equal(typeof replaced.ordersUpdatedSince, "number");
  }
  assertStock(db, expectedAvailability(offers));
});

test("a second run while the first holds the lock exits 4 at once and asks KeyCRM nothing", { timeout: 60_000 }, async () => {
  emulator.reset();
  other.reset();
  emulator.injectFault({ page: 3, delayMs: 600_000 });
  const db = siteDatabase();
  const first = start(["sync", "--db", db, "--json", "--quiet", ...FAST]);
  try {
    // Page 3 is asked for, and held: the first run is inside its scan.
    await until(() => emulator.requests.some((r) => r.query.page === "3"));
    // The second run is pointed at the other emulator, so its requests, if it
    // made any, would not mix with the first run's.
    const second = await cli(["sync", "--db", db, "--quiet", ...FAST], userEnv({ KEYCRM_API_URL: other.url }));
    assert.equal(second.code, 4, second.stderr);
    assert.match(
      second.stderr,
      new RegExp(`^error LOCKED: another sync of this database is running \\(pid ${first.child.pid}, since [^)]+\\); lock file ${db.replace(/[.\\]/g, "\\$&")}\\.lock`, "m"),
    );
    assert.equal(second.stdout, "");
    assert.equal(other.requests.length, 0, "the second run made no request");

    first.child.kill("SIGTERM");
    const ended = await first.done;
    assert.equal(ended.code, 1, ended.stderr);
  } finally {
    first.child.kill("SIGKILL");
    emulator.clearFaults();
  }
  assert.equal(fs.existsSync(`${db}.lock`), false, "the lock is released");
  const third = await cli(["sync", "--db", db, "--quiet", ...FAST]);
  assert.equal(third.code, 0, third.stderr);
});

test("the lock of a run that is gone is taken over", async () => {
  const db = siteDatabase();
  // A pid that existed and no longer does: a child that has exited.
  const gone = spawn(process.execPath, ["-e", ""]);
  const pid = gone.pid;
  await new Promise((resolve) => gone.on("close", resolve));
  fs.writeFileSync(
    `${db}.lock`,
    JSON.stringify({
      pid,
      host: os.hostname(),
      startedAt: new Date().toISOString(),
      expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
      token: "left-behind",
    }),
  );
  const run = await cli(["sync", "--db", db, "--quiet", ...FAST]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, new RegExp(`^warning: took over the lock .*: its run \\(pid ${pid}\\) is gone`, "m"));
  assert.equal(fs.existsSync(`${db}.lock`), false);
  assertStock(db, expectedAvailability(offers));

  // One past its bound is taken over too, whatever its pid.
  fs.writeFileSync(
    `${db}.lock`,
    JSON.stringify({ pid: process.pid, host: os.hostname(), expiresAt: "2000-01-01T00:00:00.000Z" }),
  );
  const late = await cli(["sync", "--db", db, "--quiet", ...FAST]);
  assert.equal(late.code, 0, late.stderr);
  assert.match(late.stderr, /took over the lock .*: it was past its bound/);
});

test("exit 3 when retrying will not help: a wrong key, an unknown warehouse, a missing table, a 404 API base", async () => {
  const db = siteDatabase();
  const cases = [
    [["sync", "--db", db], userEnv({ KEYCRM_API_KEY: "sk-wrong-key-000" }), /^error UNAUTHORIZED: /m],
    [["sync", "--db", db, "--warehouses", "Харків"], userEnv(), /^error UNKNOWN_WAREHOUSE: .*Харків/m],
    [["sync", "--db", db, "--table", "goods"], userEnv(), /^error INVALID_CONFIG: Table "goods" .*does not exist/m],
    [["sync", "--db", db, "--sku-column", "code"], userEnv(), /^error INVALID_CONFIG: .*has no column "code"/m],
    [
      ["sync", "--db", db, "--api-url", emulator.url.replace(/\/v1$/, "")],
      userEnv(),
      /^error CRM_HTTP: KeyCRM answered HTTP 404 for \/offers\/stocks.*try http:\/\/127\.0\.0\.1:\d+\/v1$/m,
    ],
  ];
  for (const [args, env, reason] of cases) {
    const run = await cli([...args, "--quiet", ...FAST], env);
    assert.equal(run.code, 3, `${args.join(" ")}\n${run.stderr}`);
    assert.match(run.stderr, reason);
    assert.ok(!run.stderr.includes("sk-wrong-key-000"));
  }
  for (const value of stockOf(db).values()) assert.equal(value, 0);
});

test("a network failure names its cause and host at once, even under --quiet", { timeout: 60_000 }, async () => {
  // A port that was just free: nothing listens there.
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));

  const db = siteDatabase();
  const run = start(["sync", "--db", db, "--quiet", "--api-url", `http://127.0.0.1:${port}/v1`, ...FAST]);
  try {
    // The first failed attempt is reported while the run waits for its retry.
    await until(() => run.stderr.includes("warning: "));
    assert.match(
      run.stderr,
      new RegExp(
        `^warning: page 1 failed: KeyCRM could not be reached: 127\\.0\\.0\\.1:${port}: ECONNREFUSED, the connection was refused \\(nothing listens on that port\\); retry 1 of 5 in \\d+ s$`,
        "m",
      ),
    );
    run.child.kill("SIGTERM");
    const ended = await run.done;
    assert.equal(ended.code, 1);
  } finally {
    run.child.kill("SIGKILL");
  }
});

test("settings come from the environment (the Worker's names) and flags win", async () => {
  const db = siteDatabase();
  const env = userEnv({
    KEYCRM_DB: db,
    KEYCRM_WAREHOUSES: "Київ",
    KEYCRM_TABLE: "products",
    KEYCRM_SKU_COLUMN: "sku",
    KEYCRM_RATE_LIMIT: "6000",
    KEYCRM_QUIET: "true",
  });
  const run = await cli(["sync"], env);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stderr, "", "KEYCRM_QUIET silences progress");
  assertStock(db, expectedAvailability(offers, { warehouses: ["Київ"] }));

  // A flag wins over its variable; DATABASE_URL stands in for KEYCRM_DB.
  const second = siteDatabase();
  const flagged = await cli(
    ["sync", "--warehouses", "Основний", "--quiet"],
    userEnv({ DATABASE_URL: second, KEYCRM_WAREHOUSES: "Київ", KEYCRM_RATE_LIMIT: "6000" }),
  );
  assert.equal(flagged.code, 0, flagged.stderr);
  assertStock(second, expectedAvailability(offers, { warehouses: ["Основний"] }));

  // A variable is checked as its flag is, and named.
  const bad = await cli(["sync", "--db", db], userEnv({ KEYCRM_RATE_LIMIT: "fast" }));
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^error: KEYCRM_RATE_LIMIT needs a whole number of at least 1, got "fast"; see keycrm-stock-sync sync --help$/m);
  const flag = await cli(["sync", "--db", db], userEnv({ KEYCRM_KEEP_RESERVE: "maybe" }));
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /KEYCRM_KEEP_RESERVE must be true or false, got "maybe"/);
});

test("a JSON config file sets options, checked with the flags' messages, with 'did you mean'", async () => {
  const db = siteDatabase();
  const config = path.join(dir, "keycrm.json");
  fs.writeFileSync(config, JSON.stringify({ db, warehouses: ["Київ"], "rate-limit": 6000, quiet: true }));
  const run = await cli(["sync", "--config", config]);
  assert.equal(run.code, 0, run.stderr);
  assertStock(db, expectedAvailability(offers, { warehouses: ["Київ"] }));

  // The environment wins over the file, flags over both.
  const second = siteDatabase();
  const env = await cli(["sync", "--config", config], userEnv({ KEYCRM_DB: second, KEYCRM_WAREHOUSES: "Основний" }));
  assert.equal(env.code, 0, env.stderr);
  assertStock(second, expectedAvailability(offers, { warehouses: ["Основний"] }));

  const cases = [
    [{ db, "rate-limt": 5 }, /^error: unknown option "rate-limt" in .*keycrm\.json \(did you mean "rate-limit"\?\)/m],
    [{ db, "rate-limit": "fast" }, /"rate-limit" in .*keycrm\.json needs a whole number of at least 1, got "fast"/],
    [{ db, "api-key": "x" }, /KEYCRM_API_KEY environment variable only/],
    [[db], /must hold one JSON object of options/],
  ];
  for (const [content, reason] of cases) {
    fs.writeFileSync(config, JSON.stringify(content));
    const bad = await cli(["sync", "--config", config]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, reason);
    assert.match(bad.stderr, /see keycrm-stock-sync sync --help/);
  }
  fs.writeFileSync(config, "{ not json");
  const broken = await cli(["sync", "--config", config]);
  assert.equal(broken.code, 2);
  assert.match(broken.stderr, /keycrm\.json is not JSON/);
});

test("--skus and --offer-ids sync only those offers", async () => {
  const sorted = [...offers].filter((o) => o.sku).sort((a, b) => a.id - b.id);
  const picked = sorted.slice(5, 8);
  const db = siteDatabase();
  const bySku = await cli(["sync", "--db", db, "--skus", picked.map((o) => o.sku).join(", "), "--json", "--quiet", ...FAST]);
  assert.equal(bySku.code, 0, bySku.stderr);
  assert.equal(JSON.parse(bySku.stdout).offers, picked.length);
  const expected = expectedAvailability(offers);
  const stock = stockOf(db);
  for (const sku of skus) {
    const want = picked.some((o) => o.sku === sku) ? expected.get(sku) : 0;
    assert.equal(stock.get(sku), want, sku);
  }

  const other = siteDatabase();
  const byId = await cli(["sync", "--db", other, "--offer-ids", picked.map((o) => o.id).join(","), "--json", "--quiet", ...FAST]);
  assert.equal(byId.code, 0, byId.stderr);
  assert.equal(JSON.parse(byId.stdout).offers, picked.length);
  assert.deepEqual(stockOf(other), stock);

  const cases = [
    [["--offer-ids", "1,x"], /--offer-ids needs comma-separated offer ids/],
    [["--skus", "a,,b"], /--skus needs comma-separated SKUs/],
    [["--skus", "a", "--offer-ids", "1"], /offerIds \(--offer-ids\) and skus \(--skus\) cannot be combined/],
    [["--skus", "a", "--state", path.join(dir, "x.state")], /--state keeps the place of a whole-catalogue scan/],
    [["--skus", "a", "--zero-missing"], /zeroMissing \(--zero-missing\) needs a scan of the whole catalogue/],
    [["--sink-timeout", "0.05"], /sinkTimeoutMs \(--sink-timeout\) must be between 100 and/],
    [["--statement-timeout", "soon"], /--statement-timeout needs a number of seconds/],
  ];
  for (const [args, reason] of cases) {
    const bad = await cli(["sync", "--db", db, ...args]);
    assert.equal(bad.code, 2, `${args.join(" ")}: ${bad.stderr}`);
    assert.match(bad.stderr, reason);
  }
  const timeouts = await cli(["sync", "--db", other, "--sink-timeout", "5", "--statement-timeout", "2", "--quiet", ...FAST]);
  assert.equal(timeouts.code, 0, timeouts.stderr);
});

test("unknown options say 'did you mean', and never a parser's position", async () => {
  const db = siteDatabase();
  const flag = await cli(["sync", "--db", db, "--dryrun"]);
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /^error: unknown option '--dryrun' \(did you mean --dry-run\?\); see keycrm-stock-sync sync --help$/m);

  // The same in code: the core's own option names.
  assert.throws(
    () => validateOptions({ rateLimit: 30 }),
    (error) =>
      error.code === "INVALID_CONFIG" &&
      /unknown option `rateLimit`; did you mean `rateLimitPerMinute`\?/.test(error.message) &&
      !/line \d+ column/.test(error.message),
  );
});
