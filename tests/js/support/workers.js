// Builds the example Worker the way a user does (`wrangler deploy --dry-run`,
// offline) and runs it in real workerd through miniflare, with D1 and a guard
// that lets the Worker reach loopback only.

import { execFile } from "node:child_process";
import {
  copyFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { Miniflare } from "miniflare";

const require = createRequire(import.meta.url);
export const root = fileURLToPath(new URL("../../..", import.meta.url));
export const exampleDir = join(root, "examples", "cloudflare-worker");

/**
 * Wrangler with no telemetry, no banner (whose update check would go online), no
 * account, and its config and logs kept in `dir` instead of the user's home.
 */
export function offlineWranglerEnv(dir) {
  const env = { ...process.env };
  for (const name of Object.keys(env)) {
    if (name.startsWith("CLOUDFLARE_") || name.startsWith("CF_")) delete env[name];
  }
  return {
    ...env,
    WRANGLER_SEND_METRICS: "false",
    WRANGLER_HIDE_BANNER: "true",
    WRANGLER_LOG_PATH: join(dir, "logs"),
    XDG_CONFIG_HOME: join(dir, "config"),
    NO_COLOR: "1",
  };
}

/**
 * Copies the example next to a node_modules that links this package (what
 * `npm install` of `file:../..` makes) and bundles it with
 * `wrangler deploy --dry-run --outdir`.
 * @returns {Promise<{ dir: string, app: string, outdir: string, output: string, config: any, dispose(): void }>}
 */
export async function buildExample() {
  const dir = mkdtempSync(join(tmpdir(), "keycrm-worker-"));
  const app = join(dir, "app");
  cpSync(exampleDir, app, {
    recursive: true,
    filter: (source) => !/[\\/](node_modules|\.wrangler|dist)$/.test(source),
  });
  mkdirSync(join(app, "node_modules"));
  symlinkSync(root, join(app, "node_modules", "keycrm-stock-sync"), "dir");
  const outdir = join(dir, "out");
  const wrangler = require.resolve("wrangler/bin/wrangler.js");
  const { stdout, stderr } = await promisify(execFile)(
    process.execPath,
    [wrangler, "deploy", "--dry-run", "--outdir", outdir],
    {
      cwd: app,
      env: offlineWranglerEnv(dir),
      encoding: "utf8",
      timeout: 120_000,
    },
  );
  const { unstable_readConfig } = require("wrangler");
  const config = unstable_readConfig({ config: join(app, "wrangler.toml") });
  return {
    dir,
    app,
    outdir,
    output: stdout + stderr,
    config,
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The gzip size of every file Wrangler would upload (source maps excluded), in bytes. */
export function bundleSize(outdir) {
  let raw = 0;
  let gzip = 0;
  const files = [];
  for (const name of readdirSync(outdir)) {
    if (name.endsWith(".map") || name.endsWith(".md")) continue;
    const bytes = readFileSync(join(outdir, name));
    raw += bytes.length;
    gzip += gzipSync(bytes, { level: 9 }).length;
    files.push(name);
  }
  return { raw, gzip, files };
}

// Where the counting entry hands out its records (kept in step with it).
const RECORDS = "/__test/invocations";

// The Worker's only way out: loopback, so no test can reach the internet even
// if a URL in the example's vars were left pointing at KeyCRM.
const LOOPBACK_GUARD = `export default {
  async fetch(request) {
    const { hostname } = new URL(request.url);
    if (hostname !== "127.0.0.1" && hostname !== "localhost" && hostname !== "[::1]") {
      return new Response("blocked: tests reach loopback only", { status: 599 });
    }
    return fetch(request);
  },
};`;

/**
 * Starts workerd with the bundled example behind the counting entry.
 * @param {{ outdir: string, config: any, bindings: Record<string, unknown> }} options
 */
export async function startWorker({ outdir, config, bindings }) {
  copyFileSync(
    fileURLToPath(new URL("./counting-entry.js", import.meta.url)),
    join(outdir, "counting-entry.js"),
  );
  const logs = [];
  const mf = new Miniflare({
    workers: [
      {
        name: "shop",
        modules: true,
        scriptPath: join(outdir, "counting-entry.js"),
        modulesRoot: outdir,
        modulesRules: [
          { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
          { type: "CompiledWasm", include: ["**/*.wasm"] },
        ],
        compatibilityDate: config.compatibility_date,
        compatibilityFlags: config.compatibility_flags,
        d1Databases: Object.fromEntries(
          config.d1_databases.map((d1) => [d1.binding, d1.database_id]),
        ),
        bindings: { ...config.vars, ...bindings },
        outboundService: "loopback-only",
      },
      {
        name: "loopback-only",
        modules: true,
        script: LOOPBACK_GUARD,
        compatibilityDate: config.compatibility_date,
      },
    ],
    handleRuntimeStdio(stdout, stderr) {
      stdout.on("data", (chunk) => logs.push(String(chunk)));
      stderr.on("data", (chunk) => logs.push(String(chunk)));
    },
  });
  await mf.ready;
  const worker = await mf.getWorker("shop");
  const db = await mf.getD1Database("DB", "shop");

  return {
    mf,
    db,
    logs,
    /** Fires the cron once; resolves with workerd's outcome and the invocation's D1 counts. */
    async cron() {
      const { outcome } = await worker.scheduled({
        cron: config.triggers.crons[0],
        scheduledTime: new Date(),
      });
      const [record] = await (await worker.fetch(`http://shop${RECORDS}`)).json();
      return { ...record, outcome };
    },
    /** Fires the cron several times at once. */
    async crons(count) {
      const outcomes = await Promise.all(
        Array.from({ length: count }, () =>
          worker.scheduled({ cron: config.triggers.crons[0] }),
        ),
      );
      const records = await (await worker.fetch(`http://shop${RECORDS}`)).json();
      return records.map((record, i) => ({ ...record, outcome: outcomes[i].outcome }));
    },
    dispose: () => mf.dispose(),
  };
}

/** Runs the example's migrations, as `wrangler d1 migrations apply` would. */
export async function migrate(db, app, config) {
  const { unstable_splitSqlQuery } = require("wrangler");
  const dir = join(app, config.d1_databases[0].migrations_dir ?? "migrations");
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".sql")).sort()) {
    for (const statement of unstable_splitSqlQuery(readFileSync(join(dir, file), "utf8"))) {
      await db.prepare(statement).run();
    }
  }
}

/** Inserts `rows` ({sku, stock}) with multi-row INSERTs in one batch. */
export async function insertRows(db, rows, table = "products") {
  const statements = [];
  for (let i = 0; i < rows.length; i += 50) {
    const chunk = rows.slice(i, i + 50);
    statements.push(
      db
        .prepare(`INSERT INTO ${table} (sku, stock) VALUES ${chunk.map(() => "(?, ?)").join(", ")}`)
        .bind(...chunk.flatMap((row) => [row.sku, row.stock])),
    );
  }
  for (let i = 0; i < statements.length; i += 200) {
    await db.batch(statements.slice(i, i + 200));
  }
}
