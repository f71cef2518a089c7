// The README's "Local development" steps for the Worker, run as written: the example
// Worker taken from the installed tarball, its migration applied to a local D1 with
// Wrangler, rows inserted, secrets in .dev.vars, `wrangler dev --local
// --test-scheduled`, one cron fired through its URL, syncing from the emulator.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { appendFileSync, cpSync, mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";

import { expectedAvailability, generateCatalogue, startEmulator } from "keycrm-stock-sync/testing";
import { installPacked, root } from "./support/packed.js";
import { offlineWranglerEnv } from "./support/workers.js";

const require = createRequire(import.meta.url);
const wrangler = require.resolve("wrangler/bin/wrangler.js");
const API_KEY = "local-dev-key-4b1d";

let packed;
let app;
let env;
let emulator;
let offers;
let dev;

/** The commands of the README's block, one per line, without comments. */
function readmeSteps() {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const start = readme.indexOf("\n### Local development\n");
  assert.ok(start >= 0, 'README has a "Local development" section');
  const block = readme.slice(start).match(/```sh\n([\s\S]*?)```/)[1];
  return block
    .split("\n")
    .map((line) => line.replace(/\s+#.*$/, "").trim())
    .filter(Boolean);
}

/** Runs one shell line in the app folder, `npx wrangler` being this repository's Wrangler. */
async function sh(line) {
  const command = line.replace(/^npx wrangler /, `"${process.execPath}" "${wrangler}" `);
  try {
    const { stdout } = await promisify(execFile)("sh", ["-c", command], {
      cwd: app,
      env,
      encoding: "utf8",
      timeout: 120_000,
    });
    return stdout;
  } catch (error) {
    assert.fail(`${line} failed:\n${error.stdout}${error.stderr}`);
  }
}

/** A port nothing listens on now. */
async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts `wrangler dev` as the README says, on `port`; resolves once it is ready. */
function startDev(line, port) {
  const args = line.replace(/^npx wrangler /, "").split(/\s+/);
  const child = spawn(process.execPath, [wrangler, ...args, "--port", String(port), "--ip", "127.0.0.1"], {
    cwd: app,
    env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  const ready = new Promise((resolve, reject) => {
    const onData = (chunk) => {
      output += chunk;
      if (/Ready on http/.test(output)) resolve();
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.once("exit", (code) => reject(new Error(`wrangler dev exited (${code}):\n${output}`)));
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  return {
    ready,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        // The group holds workerd, which wrangler started.
        process.kill(-child.pid, "SIGTERM");
        await exited;
      }
    },
  };
}

before(async () => {
  packed = await installPacked();
  // The example as shipped, next to the installed package.
  app = join(packed.app, "worker");
  cpSync(join(packed.installed, "examples", "cloudflare-worker"), app, { recursive: true });
  mkdirSync(join(packed.dir, "home"));
  env = { ...offlineWranglerEnv(join(packed.dir, "home")), KEYCRM_API_KEY: API_KEY };
  offers = generateCatalogue({ offers: 8, withoutSkuEvery: 0, duplicateSkuEvery: 0 });
  offers[0].sku = "A-1";
  offers[1].sku = "A-2";
  emulator = await startEmulator({ apiKey: API_KEY, offers, rateLimitPerMinute: 6000 });
});

after(async () => {
  await dev?.stop();
  await emulator?.close();
  packed?.dispose();
});

test("the README's local development steps sync the example Worker's local D1", async () => {
  const steps = readmeSteps();
  const step = (pattern) => {
    const line = steps.find((s) => pattern.test(s));
    assert.ok(line, `the README has a step matching ${pattern}`);
    return line;
  };
  const migrate = await sh(step(/d1 migrations apply shop --local$/));
  assert.match(migrate, /0001_products\.sql/);
  await sh(step(/--local --command "INSERT INTO products/));
  await sh(step(/> \.dev\.vars$/));
  assert.match(readFileSync(join(app, ".dev.vars"), "utf8"), new RegExp(`^KEYCRM_API_KEY=${API_KEY}$`, "m"));
  // The emulator in place of KeyCRM, as the README says .dev.vars may hold.
  appendFileSync(join(app, ".dev.vars"), `KEYCRM_API_URL=${emulator.url}\nKEYCRM_RATE_LIMIT=6000\n`);

  const port = await freePort();
  dev = startDev(step(/^npx wrangler dev --local --test-scheduled$/), port);
  await dev.ready;
  const curl = step(/^curl /).match(/"([^"]+)"/)[1].replace("localhost:8787", `127.0.0.1:${port}`);
  const answer = await fetch(curl);
  assert.equal(answer.status, 200, await answer.text());
  await dev.stop();
  assert.match(dev.output(), /keycrm-stock-sync: run finished/);
  assert.ok(emulator.requests.some((r) => r.status === 200), "the Worker read the emulator");

  const select = step(/--command "SELECT \* FROM products"$/);
  const [{ results }] = JSON.parse(await sh(`${select} --json`));
  const expected = expectedAvailability(offers);
  // The rows were inserted with stock 0; the catalogue holds other figures.
  assert.ok(expected.get("A-1") > 0 && expected.get("A-2") > 0);
  assert.deepEqual(
    results.map((row) => [row.sku, row.stock]).sort(),
    [
      ["A-1", expected.get("A-1")],
      ["A-2", expected.get("A-2")],
    ],
  );
  assert.ok(results.every((row) => Number.isInteger(row.observed_at)), "observed_at was written");
});
