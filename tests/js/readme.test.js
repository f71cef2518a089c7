// The README's examples and tables, checked against the package so they cannot
// drift: the Node example runs against the emulator, and the option, flag and
// error-code tables are compared with the typings and the CLI's help.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";

import { createSampleDatabase } from "keycrm-stock-sync/sqlite";
import { startEmulator, generateCatalogue, expectedAvailability } from "keycrm-stock-sync/testing";

const root = fileURLToPath(new URL("../..", import.meta.url));
const readme = readFileSync(join(root, "README.md"), "utf8");

/** The fenced code blocks of the README section with this heading. */
function blocks(heading, lang) {
  const start = readme.indexOf(`\n## ${heading}\n`);
  assert.ok(start >= 0, `README has a "${heading}" section`);
  const end = readme.indexOf("\n## ", start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(new RegExp("```" + lang + "\\n([\\s\\S]*?)```", "g"))].map((m) => m[1]);
}

/** The first column of the README table in the section with this heading. */
function firstColumn(heading) {
  const start = readme.indexOf(`\n## ${heading}\n`);
  const end = readme.indexOf("\n## ", start + 1);
  return readme
    .slice(start, end)
    .split("\n")
    .filter((line) => line.startsWith("| ") && !line.startsWith("| ---"))
    .slice(1)
    .map((line) => line.split("|")[1].trim());
}

let dir;
let emulator;
let offers;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "keycrm-readme-"));
  mkdirSync(join(dir, "node_modules"));
  symlinkSync(root, join(dir, "node_modules", "keycrm-stock-sync"), "dir");
  offers = generateCatalogue({ offers: 80 });
  emulator = await startEmulator({ apiKey: "readme-key", offers, rateLimitPerMinute: 600 });
});

after(async () => {
  await emulator.close();
  rmSync(dir, { recursive: true, force: true });
});

// Asynchronous, so that the emulator in this process keeps answering.
async function runExample(name, code) {
  const file = join(dir, name);
  writeFileSync(file, code);
  const { stdout } = await promisify(execFile)(process.execPath, [file], {
    cwd: dir,
    env: { ...process.env, KEYCRM_API_KEY: "readme-key", KEYCRM_API_URL: emulator.url },
    encoding: "utf8",
    timeout: 60_000,
  });
  return stdout;
}

test("the Node example syncs into shop.sqlite as it says", async () => {
  const [example] = blocks("From Node", "js");
  const skus = [...expectedAvailability(offers).keys()];
  createSampleDatabase(join(dir, "shop.sqlite"), { skus });
  const output = await runExample("node-example.mjs", example);
  assert.match(output, /\d+ pages, ~\d+ s left/);
  assert.match(output, /\d+ rows updated, \d+ already right/);
  const db = new Database(join(dir, "shop.sqlite"), { readonly: true });
  const site = new Map(db.prepare("SELECT sku, stock FROM products").all().map((r) => [r.sku, r.stock]));
  db.close();
  for (const [sku, stock] of expectedAvailability(offers, { warehouses: ["Основний"] })) {
    assert.equal(site.get(sku), stock, sku);
  }
});

test("the testing example runs", async () => {
  const [example] = blocks("Testing without an account", "js");
  await runExample("testing-example.mjs", example);
});

test("the options table lists every core option of the typings", () => {
  const typings = readFileSync(join(root, "js/index.d.ts"), "utf8");
  const core = typings.slice(typings.indexOf("export interface CoreOptions"), typings.indexOf("export interface SyncOptions"));
  const typed = [...core.matchAll(/^ {2}(\w+)\?:/gm)].map((m) => m[1]).sort();
  const documented = firstColumn("Options of `syncStocks`")
    .flatMap((cell) => [...cell.matchAll(/`(\w+)`/g)].map((m) => m[1]))
    .sort();
  assert.deepEqual(documented, typed);
});

test("the command-line table lists every flag of sync --help", () => {
  const help = execFileSync(process.execPath, [join(root, "js/cli.js"), "sync", "--help"], { encoding: "utf8" });
  const flags = [...help.matchAll(/^ {2}(?:-\w, )?\s*(--[\w-]+)/gm)].map((m) => m[1]).filter((f) => f !== "--help");
  const documented = firstColumn("Command line").map((cell) => cell.match(/`(--[\w-]+)/)[1]);
  assert.deepEqual(documented.sort(), flags.sort());
});

test("the error table lists every error code", () => {
  const typings = readFileSync(join(root, "js/index.d.ts"), "utf8");
  const union = typings.slice(typings.indexOf("export type ErrorCode"), typings.indexOf(";", typings.indexOf("export type ErrorCode")));
  const typed = [...union.matchAll(/"(\w+)"/g)].map((m) => m[1]).sort();
  const rust = readFileSync(join(root, "src/error.rs"), "utf8");
  const core = [...rust.matchAll(/=> "(\w+)",/g)].map((m) => m[1]).sort();
  const documented = firstColumn("Error codes").map((cell) => cell.replace(/`/g, "")).sort();
  assert.deepEqual(typed, core, "typings and core agree");
  assert.deepEqual(documented, core, "README and core agree");
});
