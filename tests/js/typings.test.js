// The typings as every kind of consumer reads them: the packed package installed in
// a fresh project, and `tsc --noEmit` with `strict` and `skipLibCheck: false` over
// each consumer project in tests/types/consumers/ (moduleResolution node16,
// nodenext, bundler and node10; .ts, .mts and .cts; a Worker with
// @cloudflare/workers-types and no @types/node). Node projects have no
// @types/better-sqlite3 unless they ask for it.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { promisify } from "node:util";

import { installPacked, root } from "./support/packed.js";

const consumers = join(root, "tests", "types", "consumers");
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");

let packed;

before(async () => {
  packed = await installPacked({ links: ["@types/node", "@cloudflare/workers-types"] });
});

after(() => packed?.dispose());

/** Copies one consumer project next to the installed package; returns its folder. */
function consumer(name) {
  const dir = join(packed.app, "consumers", name);
  mkdirSync(dir, { recursive: true });
  const { links = [], ...sources } = JSON.parse(
    readFileSync(join(consumers, name, "sources.json"), "utf8"),
  );
  for (const file of readdirSync(join(consumers, name))) {
    if (file !== "sources.json") copyFileSync(join(consumers, name, file), join(dir, file));
  }
  for (const [file, source] of Object.entries(sources)) {
    copyFileSync(join(consumers, "shared", source), join(dir, file));
  }
  for (const link of links) {
    const target = join(dir, "node_modules", link);
    mkdirSync(dirname(target), { recursive: true });
    symlinkSync(join(root, "node_modules", link), target, "dir");
  }
  return dir;
}

/** Runs tsc over the project; resolves with the files it read. */
async function typeCheck(dir) {
  try {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [tsc, "-p", dir, "--listFiles", "--pretty", "false"],
      { encoding: "utf8", timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
    );
    return stdout.split("\n").filter(Boolean);
  } catch (error) {
    assert.fail(`tsc -p ${dir} failed:\n${error.stdout}${error.stderr}`);
  }
}

const read = (files, pattern) => files.filter((file) => pattern.test(file));

for (const name of ["node16", "nodenext", "bundler", "node10"]) {
  test(`a Node project with moduleResolution ${name} type-checks every entry point`, async () => {
    const files = await typeCheck(consumer(name));
    // Each entry point was read from the installed package, not from the repository.
    for (const typing of [
      /keycrm-stock-sync\/js\/.*node\.d\.c?ts$/,
      /keycrm-stock-sync\/js\/(cjs\/)?sinks\/sqlite\.d\.c?ts$/,
      /keycrm-stock-sync\/js\/(cjs\/)?sinks\/postgres\.d\.c?ts$/,
      /keycrm-stock-sync\/js\/(cjs\/)?sinks\/mysql\.d\.c?ts$/,
      /keycrm-stock-sync\/js\/(cjs\/)?sinks\/d1\.d\.c?ts$/,
      /keycrm-stock-sync\/js\/(cjs\/)?worker\.d\.c?ts$/,
      /keycrm-stock-sync\/js\/(cjs\/)?testing\/index\.d\.c?ts$/,
    ]) {
      assert.ok(read(files, typing).length > 0, `${typing} was read`);
      assert.ok(read(files, typing).every((file) => file.startsWith(packed.app)));
    }
    assert.deepEqual(read(files, /better-sqlite3/), [], "no better-sqlite3 types were needed");
  });
}

test("the .cts of a node16 project reads the CommonJS typings of every entry", async () => {
  const files = await typeCheck(consumer("node16"));
  for (const typing of ["node.d.cts", "cjs/sinks/sqlite.d.cts", "cjs/worker.d.cts", "cjs/testing/index.d.cts"]) {
    assert.ok(
      files.some((file) => file.endsWith(`keycrm-stock-sync/js/${typing}`)),
      `${typing} was read`,
    );
  }
});

for (const name of ["worker", "worker-workerd"]) {
  test(`a Worker project (${name}) type-checks with @cloudflare/workers-types and no @types/node`, async () => {
    const files = await typeCheck(consumer(name));
    assert.ok(read(files, /@cloudflare\/workers-types/).length > 0);
    assert.deepEqual(read(files, /@types\/node\//), [], "no Node types were read");
    assert.ok(read(files, /keycrm-stock-sync\/js\/worker\.d\.ts$/).length > 0);
  });
}

test("with @types/better-sqlite3 installed, an open Database fits the sqlite sink", async () => {
  const files = await typeCheck(consumer("sqlite-types"));
  assert.ok(read(files, /@types\/better-sqlite3\//).length > 0);
});
