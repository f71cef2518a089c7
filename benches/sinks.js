// How fast each sink moves rows, in the batches the core uses (500 keys a call).
//
// For SQLite, PostgreSQL and MySQL/MariaDB: a table of 100 000 products at stock
// 0; a first run reads every key and writes every row; then a re-sync reads every
// key again and writes the 1 % that changed. Prints rows per second per phase.
// The servers are the test ones (scripts/databases.sh, started if need be; the
// first time it installs them, as root). Run: npm run bench:sinks  (about a minute).

import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import mysql from "mysql2/promise";
import pg from "pg";
import { createMysqlSink } from "keycrm-stock-sync/mysql";
import { createPostgresSink } from "keycrm-stock-sync/postgres";
import {
  createSampleDatabase,
  createSqliteSink,
} from "keycrm-stock-sync/sqlite";

const ROWS = Number(process.env.BENCH_ROWS ?? 100_000);
const BATCH = 500; // the core's default batchSize
const CHANGED_EVERY = 100; // 1 %
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SCRATCH = `keycrm_bench_${process.pid}`;

const skus = Array.from(
  { length: ROWS },
  (_, i) => `SKU-${String(i).padStart(6, "0")}`,
);

/** Runs the four phases over a sink and returns one result row per phase. */
async function measure(database, sink) {
  const keys = skus.map((sku) => ({ sku }));
  const results = [];
  function record(name, rows, seconds) {
    results.push({
      database,
      phase: name,
      rows,
      seconds: seconds.toFixed(2),
      "rows/s": Math.round(rows / seconds).toLocaleString("en-US"),
    });
    return seconds;
  }
  async function phase(name, rows, work) {
    const started = performance.now();
    await work();
    return record(name, rows, (performance.now() - started) / 1000);
  }
  async function readAll() {
    let found = 0;
    for (let i = 0; i < keys.length; i += BATCH) {
      found += (await sink.read(keys.slice(i, i + BATCH))).length;
    }
    if (found !== ROWS)
      throw new Error(`${database}: read ${found} of ${ROWS}`);
  }
  async function writeAll(changes) {
    for (let i = 0; i < changes.length; i += BATCH) {
      await sink.write(changes.slice(i, i + BATCH));
    }
  }
  const first = skus.map((sku, i) => ({ sku, stock: (i % 50) + 1 }));
  const changed = first
    .filter((_, i) => i % CHANGED_EVERY === 0)
    .map((row) => ({ sku: row.sku, stock: row.stock + 1 }));

  await phase("first run: read", ROWS, readAll);
  await phase("first run: write all", ROWS, () => writeAll(first));
  const reading = await phase("re-sync: read", ROWS, readAll);
  const writing = await phase("re-sync: write 1 %", changed.length, () =>
    writeAll(changed),
  );
  record("re-sync: whole", ROWS, reading + writing);
  const check = await sink.read([{ sku: changed[1].sku }]);
  if (check[0]?.stock !== changed[1].stock) {
    throw new Error(`${database}: the re-sync did not land`);
  }
  return results;
}

async function sqlite() {
  const dir = mkdtempSync(join(tmpdir(), "keycrm-bench-sinks-"));
  try {
    const path = join(dir, "shop.sqlite");
    createSampleDatabase(path, { skus });
    const sink = createSqliteSink({ path });
    try {
      return await measure("SQLite", sink);
    } finally {
      await sink.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function postgres(url) {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`CREATE SCHEMA ${SCRATCH}`);
    await admin.query(`CREATE TABLE ${SCRATCH}.products
      (sku varchar(64) PRIMARY KEY, name text, stock integer NOT NULL DEFAULT 0)`);
    await admin.query(
      `INSERT INTO ${SCRATCH}.products (sku, name) SELECT s, 'Product ' || s FROM unnest($1::text[]) s`,
      [skus],
    );
    await admin.query(`VACUUM ANALYZE ${SCRATCH}.products`);
    const sink = await createPostgresSink({
      url,
      table: `${SCRATCH}.products`,
    });
    try {
      return await measure("PostgreSQL 15", sink);
    } finally {
      await sink.close();
    }
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS ${SCRATCH} CASCADE`);
    await admin.end();
  }
}

async function mariadb(url) {
  const admin = await mysql.createConnection(url);
  try {
    await admin.query(`CREATE DATABASE ${SCRATCH}`);
    const [[{ version }]] = await admin.query("SELECT VERSION() AS version");
    await admin.query(`CREATE TABLE ${SCRATCH}.products
      (sku varchar(64) PRIMARY KEY, name varchar(200), stock int NOT NULL DEFAULT 0)
      ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci`);
    for (let i = 0; i < ROWS; i += 10_000) {
      const part = skus
        .slice(i, i + 10_000)
        .map((sku) => [sku, `Product ${sku}`]);
      await admin.query(
        `INSERT INTO ${SCRATCH}.products (sku, name) VALUES ?`,
        [part],
      );
    }
    const sink = await createMysqlSink({ url, table: `${SCRATCH}.products` });
    try {
      const name = /mariadb/i.test(version)
        ? `MariaDB ${version.split(".").slice(0, 2).join(".")}`
        : `MySQL ${version}`;
      return await measure(name, sink);
    } finally {
      await sink.close();
    }
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${SCRATCH}`);
    await admin.end();
  }
}

/** The test servers' URLs, starting them when they are not given. */
function serverUrls() {
  let postgresUrl = process.env.KEYCRM_TEST_POSTGRES_URL;
  let mysqlUrl = process.env.KEYCRM_TEST_MYSQL_URL;
  if (!postgresUrl || !mysqlUrl) {
    const output = execFileSync("sh", ["scripts/databases.sh"], {
      cwd: ROOT,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    });
    const value = (name) =>
      new RegExp(`^export ${name}='([^']*)'$`, "m").exec(output)?.[1];
    postgresUrl ||= value("KEYCRM_TEST_POSTGRES_URL");
    mysqlUrl ||= value("KEYCRM_TEST_MYSQL_URL");
  }
  return { postgresUrl, mysqlUrl };
}

const { postgresUrl, mysqlUrl } = serverUrls();
const rows = [
  ...(await sqlite()),
  ...(await postgres(postgresUrl)),
  ...(await mariadb(mysqlUrl)),
];
console.log(
  `${ROWS.toLocaleString("en-US")} rows, ${BATCH} per read() or write() call, on loopback:`,
);
console.table(rows);
