// The PostgreSQL sink against a real PostgreSQL 15 server (scripts/databases.sh):
// the conformance suite, then what is particular to PostgreSQL.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import pg from "pg";
import { createPostgresSink } from "../../js/sinks/postgres.js";
import { sinkConformance } from "../../js/testing/index.js";
import { passwordOf, scratchName, serverUrl } from "./support/databases.js";

const URL_ = serverUrl("postgres");
const CLI = fileURLToPath(new URL("../../js/cli.js", import.meta.url));
const SCHEMA = scratchName("keycrm_pg");
const admin = new pg.Pool({ connectionString: URL_, max: 2 });
const pool = new pg.Pool({ connectionString: URL_, max: 2 });

before(async () => {
  await admin.query(`CREATE SCHEMA ${SCHEMA}`);
});

after(async () => {
  await admin.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
  await admin.end();
  await pool.end();
});

let tables = 0;
/** A fresh table in the scratch schema, filled with `rows`. */
async function tableWith(
  rows,
  { perWarehouse = false, stock = "numeric(14,3)", observed = false } = {},
) {
  tables += 1;
  const table = `${SCHEMA}.stock_${tables}`;
  await admin.query(`CREATE TABLE ${table} (
    id serial PRIMARY KEY,
    sku text NOT NULL,
    ${perWarehouse ? "warehouse_id integer NOT NULL," : ""}
    stock ${stock} CHECK (stock >= 0)
    ${observed ? ", observed_at bigint" : ""})`);
  await admin.query(
    perWarehouse
      ? `INSERT INTO ${table} (sku, warehouse_id, stock)
         SELECT * FROM unnest($1::text[], $2::int[], $3::numeric[])`
      : `INSERT INTO ${table} (sku, stock) SELECT * FROM unnest($1::text[], $3::numeric[])
         WHERE $2::int[] IS NULL`,
    [
      rows.map((r) => r.sku),
      perWarehouse ? rows.map((r) => r.warehouseId) : null,
      rows.map((r) => r.stock),
    ],
  );
  await admin.query(
    `CREATE INDEX ON ${table} (sku${perWarehouse ? ", warehouse_id" : ""})`,
  );
  return table;
}

async function rowsOf(table, perWarehouse = false) {
  const { rows } = await admin.query(
    `SELECT sku, ${perWarehouse ? 'warehouse_id AS "warehouseId",' : ""} stock
     FROM ${table} ORDER BY id`,
  );
  return rows.map((row) => ({
    ...row,
    stock: row.stock === null ? null : Number(row.stock),
  }));
}

function rejectsWith(code, pattern) {
  return (error) => {
    assert.equal(error.name, "KeyCrmSyncError");
    assert.equal(error.code, code);
    if (pattern) assert.match(error.message, pattern);
    return true;
  };
}

sinkConformance({
  name: "PostgreSQL sink",
  observed: true,
  integerStock: true,
  async setup({ rows, perWarehouse, observed, integerStock }) {
    const table = await tableWith(rows, {
      perWarehouse,
      observed,
      stock: integerStock ? "integer" : undefined,
    });
    return {
      sink: await createPostgresSink({
        pool,
        table,
        warehouseColumn: perWarehouse ? "warehouse_id" : undefined,
        observedColumn: observed ? "observed_at" : undefined,
      }),
      stored: () => rowsOf(table, perWarehouse),
      dispose: () => admin.query(`DROP TABLE ${table}`).then(() => {}),
    };
  },
});

describe("PostgreSQL sink", () => {
  test("from a URL: connects, works, and closes its own pool", async () => {
    const table = await tableWith([{ sku: "A", stock: 1 }]);
    const sink = await createPostgresSink({ url: URL_, table });
    await sink.write([{ sku: "A", stock: 4 }]);
    assert.deepEqual(await sink.read([{ sku: "A" }]), [{ sku: "A", stock: 4 }]);
    await sink.close();
    await sink.close();
  });

  test("a connected client is used as is and left open", async () => {
    const table = await tableWith([{ sku: "A", stock: 1 }]);
    const client = new pg.Client({ connectionString: URL_ });
    await client.connect();
    try {
      const sink = await createPostgresSink({ client, table });
      await sink.write([{ sku: "A", stock: 2 }]);
      await sink.close();
      const { rows } = await client.query(`SELECT stock FROM ${table}`);
      assert.equal(Number(rows[0].stock), 2);
    } finally {
      await client.end();
    }
  });

  test("a batch is one statement, not one per row", async () => {
    const rows = Array.from({ length: 500 }, (_, i) => ({
      sku: `S${i}`,
      stock: 0,
    }));
    const table = await tableWith(rows);
    const client = new pg.Client({ connectionString: URL_ });
    await client.connect();
    const texts = [];
    const query = client.query.bind(client);
    client.query = (config, ...rest) => {
      texts.push(typeof config === "string" ? config : config.text);
      return query(config, ...rest);
    };
    try {
      const sink = await createPostgresSink({ client, table });
      texts.length = 0;
      assert.equal((await sink.read(rows)).length, 500);
      await sink.write(rows.map((row, i) => ({ ...row, stock: i })));
      assert.deepEqual(
        texts.map((text) => text.trim().split(/[\s;]/)[0]),
        ["SELECT", "BEGIN", "UPDATE", "COMMIT"],
      );
      assert.deepEqual(
        (await rowsOf(table)).map((row) => row.stock),
        rows.map((_, i) => i),
      );
    } finally {
      await client.end();
    }
  });

  test("an observed column too narrow for times in ms is refused when the sink is made", async () => {
    const table = await tableWith([{ sku: "A", stock: 1 }]);
    await admin.query(`ALTER TABLE ${table} ADD COLUMN narrow integer, ADD COLUMN wide bigint`);
    await assert.rejects(
      createPostgresSink({ pool, table, observedColumn: "narrow" }),
      rejectsWith("INVALID_CONFIG", /"narrow".*--observed-column.*bigint/i),
    );
    const sink = await createPostgresSink({ pool, table, observedColumn: "wide" });
    await sink.write([{ sku: "A", stock: 2, observedAt: 1_795_000_000_000 }]);
    assert.deepEqual(await sink.read([{ sku: "A" }]), [{ sku: "A", stock: 2, observedAt: 1_795_000_000_000 }]);
    await sink.close();
  });

  test("stock that is not a finite number is refused before any statement", async () => {
    const table = await tableWith([
      { sku: "A", stock: 1 },
      { sku: "B", stock: 1 },
    ]);
    const sink = await createPostgresSink({ pool, table });
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, undefined]) {
      await assert.rejects(
        sink.write([
          { sku: "A", stock: 2 },
          { sku: "B", stock: bad },
        ]),
        rejectsWith("SINK_FAILED", /"B".*nothing was written/),
      );
    }
    assert.deepEqual(await rowsOf(table), [
      { sku: "A", stock: 1 },
      { sku: "B", stock: 1 },
    ]);
  });

  test("a key given twice in one batch takes its last value", async () => {
    const table = await tableWith([{ sku: "A", stock: 1 }]);
    const sink = await createPostgresSink({ pool, table });
    await sink.write([
      { sku: "A", stock: 5 },
      { sku: "A", stock: null },
      { sku: "A", stock: 7 },
    ]);
    assert.deepEqual(await rowsOf(table), [{ sku: "A", stock: 7 }]);
  });

  test("SKUs match exactly even under a case-insensitive ICU collation", async () => {
    await admin.query(`CREATE COLLATION ${SCHEMA}.nocase
      (provider = icu, locale = 'und-u-ks-level2', deterministic = false)`);
    await admin.query(`CREATE TABLE ${SCHEMA}.icu
      (sku text COLLATE ${SCHEMA}.nocase, warehouse_id int, stock int)`);
    await admin.query(`INSERT INTO ${SCHEMA}.icu VALUES
      ('abc', 1, 1), ('ABC', 1, 2), ('abc', 2, 3)`);
    const table = `${SCHEMA}.icu`;
    const sink = await createPostgresSink({ pool, table });
    assert.deepEqual(await sink.read([{ sku: "ABC" }]), [
      { sku: "ABC", stock: 2 },
    ]);
    await sink.write([{ sku: "ABC", stock: 20 }]);
    const split = await createPostgresSink({
      pool,
      table,
      warehouseColumn: "warehouse_id",
    });
    assert.deepEqual(await split.read([{ sku: "abc", warehouseId: 1 }]), [
      { sku: "abc", warehouseId: 1, stock: 1 },
    ]);
    await split.write([{ sku: "abc", warehouseId: 2, stock: 30 }]);
    const { rows } = await admin.query(`SELECT stock FROM ${table} ORDER BY 1`);
    assert.deepEqual(
      rows.map((row) => row.stock),
      [1, 20, 30],
    );
  });

  test("integer, real and bigint columns: numbers in, numbers out", async () => {
    await admin.query(`CREATE TABLE ${SCHEMA}.typed (
      code varchar(40), qty integer, weight real, depot bigint)`);
    await admin.query(
      `INSERT INTO ${SCHEMA}.typed VALUES ('A', 1, 0.5, 9007199254740991), ('B', NULL, NULL, 2)`,
    );
    const byQty = await createPostgresSink({
      pool,
      table: `${SCHEMA}.typed`,
      skuColumn: "code",
      stockColumn: "qty",
      warehouseColumn: "depot",
    });
    const keys = [
      { sku: "A", warehouseId: 9007199254740991 },
      { sku: "B", warehouseId: 2 },
    ];
    await byQty.write([{ ...keys[1], stock: 12 }]);
    assert.deepEqual(await byQty.read(keys), [
      { ...keys[0], stock: 1 },
      { ...keys[1], stock: 12 },
    ]);
    const byWeight = await createPostgresSink({
      pool,
      table: `${SCHEMA}.typed`,
      skuColumn: "code",
      stockColumn: "weight",
    });
    await byWeight.write([{ sku: "B", stock: 2.25 }]);
    assert.deepEqual(await byWeight.readAll(), [
      { sku: "A", stock: 0.5 },
      { sku: "B", stock: 2.25 },
    ]);
  });

  test("keyword and mixed-case names are quoted; schema.table is resolved", async () => {
    await admin.query(
      `CREATE TABLE ${SCHEMA}."order" ("select" text, "Group" numeric)`,
    );
    await admin.query(`INSERT INTO ${SCHEMA}."order" VALUES ('X', 1)`);
    const sink = await createPostgresSink({
      pool,
      table: `${SCHEMA}.order`,
      skuColumn: "select",
      stockColumn: "Group",
    });
    await sink.write([{ sku: "X", stock: 3 }]);
    assert.deepEqual(await sink.readAll(), [{ sku: "X", stock: 3 }]);
  });

  test("set-up mistakes are INVALID_CONFIG and name what exists", async () => {
    const table = await tableWith([]);
    const cases = [
      [
        { pool, table: `${SCHEMA}.missing` },
        /does not exist; tables found: .*stock_/,
      ],
      [{ pool, table: "nope.products" }, /"nope.products"/],
      [{ pool, table, stockColumn: "qty" }, /no column "qty".*id, sku, stock/],
      [{ pool, table, stockColumn: "STOCK" }, /did you mean "stock"/],
      [{ pool, table, warehouseColumn: "sku" }, /"sku".*numeric type/],
      [{ pool, table, skuColumn: "stock" }, /"stock".*text type/],
      [{ pool, table: "x; DROP TABLE y" }, /--table/],
      [{ pool, url: URL_, table }, /exactly one of/],
      [{ pool, tabel: "x" }, /Unknown PostgreSQL sink option "tabel"/],
      [{ pool: {}, table }, /pg.Pool/],
      [{ url: "mysql://localhost/x", table }, /postgres:\/\//],
      [undefined, /options object/],
    ];
    for (const [options, pattern] of cases) {
      await assert.rejects(
        createPostgresSink(options),
        rejectsWith("INVALID_CONFIG", pattern),
      );
    }
  });

  test("a wrong password is INVALID_CONFIG and the password is never shown", async () => {
    const url = new URL(URL_);
    url.password = "not-the-Pa55word";
    await assert.rejects(createPostgresSink({ url: String(url) }), (error) => {
      rejectsWith("INVALID_CONFIG", /password authentication failed/)(error);
      for (const secret of [...passwordOf(URL_), "not-the-Pa55word"]) {
        assert.ok(!error.message.includes(secret), error.message);
      }
      return true;
    });
  });

  test("a server that does not answer is SINK_FAILED", async () => {
    await assert.rejects(
      createPostgresSink({
        url: "postgres://keycrm:pw@127.0.0.1:9/keycrm_test",
      }),
      rejectsWith("SINK_FAILED", /Could not connect.*ECONNREFUSED/),
    );
  });

  test("a failure after creation is SINK_FAILED, and the sink recovers", async () => {
    const table = await tableWith([{ sku: "A", stock: 1 }]);
    const sink = await createPostgresSink({ pool, table });
    await admin.query(`ALTER TABLE ${table} RENAME TO gone_${tables}`);
    await assert.rejects(
      sink.read([{ sku: "A" }]),
      rejectsWith("SINK_FAILED", /Could not read stock.*42P01/),
    );
    await admin.query(
      `ALTER TABLE ${SCHEMA}.gone_${tables} RENAME TO stock_${tables}`,
    );
    assert.deepEqual(await sink.read([{ sku: "A" }]), [{ sku: "A", stock: 1 }]);
  });

  test("per-warehouse keys need warehouseColumn, and it needs them", async () => {
    const table = await tableWith([{ sku: "A", warehouseId: 1, stock: 1 }], {
      perWarehouse: true,
    });
    const plain = await createPostgresSink({ pool, table });
    await assert.rejects(
      plain.write([{ sku: "A", warehouseId: 1, stock: 2 }]),
      rejectsWith("INVALID_CONFIG", /--warehouse-column/),
    );
    const split = await createPostgresSink({
      pool,
      table,
      warehouseColumn: "warehouse_id",
    });
    await assert.rejects(
      split.read([{ sku: "A" }]),
      rejectsWith("INVALID_CONFIG", /warehouseId/),
    );
    assert.deepEqual(await rowsOf(table, true), [
      { sku: "A", warehouseId: 1, stock: 1 },
    ]);
  });

  test("fractional stock is refused for a column of whole numbers when the sink is made", async () => {
    for (const type of ["integer", "bigint", "smallint", "numeric(10,0)"]) {
      const table = await tableWith([{ sku: "A", stock: 1 }], { stock: type });
      await assert.rejects(
        createPostgresSink({ pool, table, fractional: true }),
        rejectsWith(
          "INVALID_CONFIG",
          /Column "stock" .* holds whole numbers only.*--fractional/,
        ),
      );
      // Without it, whole units are written as ever, and a fraction never is.
      const sink = await createPostgresSink({ pool, table });
      await assert.rejects(
        sink.write([{ sku: "A", stock: 35.575 }]),
        rejectsWith("SINK_FAILED", /35\.575 .*has a fraction.*nothing was written/),
      );
      await sink.write([{ sku: "A", stock: 7 }]);
      assert.deepEqual(await rowsOf(table), [{ sku: "A", stock: 7 }]);
    }
    const table = await tableWith([{ sku: "A", stock: 1 }]);
    const sink = await createPostgresSink({ pool, table, fractional: true });
    await sink.write([{ sku: "A", stock: 35.575 }]);
    assert.deepEqual(await rowsOf(table), [{ sku: "A", stock: 35.575 }]);
  });

  test("a SKU holding U+0000 is absent, and the rest of its batch is read and written", async () => {
    const table = await tableWith([{ sku: "A", stock: 1 }]);
    const sink = await createPostgresSink({ url: URL_, table });
    try {
      const keys = [{ sku: "A" }, { sku: "x\u0000y" }];
      assert.deepEqual(await sink.read(keys), [{ sku: "A", stock: 1 }]);
      await sink.write([
        { sku: "x\u0000y", stock: 3 },
        { sku: "A", stock: 2 },
      ]);
      assert.deepEqual(await rowsOf(table), [{ sku: "A", stock: 2 }]);
    } finally {
      await sink.close();
    }
  });

  /** Runs `body` while another session holds a row lock on every row of `table`. */
  async function whileLocked(table, body) {
    const site = new pg.Client({ connectionString: URL_ });
    await site.connect();
    try {
      await site.query("BEGIN");
      await site.query(`SELECT * FROM ${table} FOR UPDATE`);
      await body();
    } finally {
      await site.query("ROLLBACK");
      await site.end();
    }
  }

  // The lock is held until the assertion is done: only the server's timeout
  // can end the write's wait. The test's own timeout only turns a regression
  // into a failure instead of a hang.
  test("a write waiting on a site's row lock ends at statementTimeoutMs, on a URL's connection", { timeout: 60_000 }, async () => {
    const table = await tableWith([{ sku: "A", stock: 1 }]);
    const sink = await createPostgresSink({ url: URL_, table, statementTimeoutMs: 50 });
    try {
      await whileLocked(table, () =>
        assert.rejects(
          sink.write([{ sku: "A", stock: 2 }]),
          rejectsWith(
            "SINK_FAILED",
            /none of them were written: timed out: .*50 ms \(statementTimeoutMs\).*(55P03|57014)/,
          ),
        ),
      );
      await sink.write([{ sku: "A", stock: 3 }]);
      assert.deepEqual(await rowsOf(table), [{ sku: "A", stock: 3 }]);
    } finally {
      await sink.close();
    }
  });

  test("so does one on a given pool, whose own settings are left alone", { timeout: 60_000 }, async () => {
    const table = await tableWith([{ sku: "A", stock: 1 }]);
    const given = new pg.Pool({ connectionString: URL_, max: 1 });
    try {
      const sink = await createPostgresSink({ pool: given, table, statementTimeoutMs: 50 });
      await whileLocked(table, () =>
        assert.rejects(
          sink.write([{ sku: "A", stock: 2 }]),
          rejectsWith("SINK_FAILED", /timed out/),
        ),
      );
      const { rows } = await given.query(
        "SELECT current_setting('statement_timeout') AS s, current_setting('lock_timeout') AS l",
      );
      assert.deepEqual(rows, [{ s: "0", l: "0" }]);
    } finally {
      await given.end();
    }
  });

  test("a URL whose password holds / or # is INVALID_CONFIG, and the password is never shown", async () => {
    for (const url of [
      "postgres://shop:s3cr/et@127.0.0.1/shop",
      "postgresql://shop:s3cr#et@127.0.0.1/shop",
      "postgres://shop:12/s3cret@127.0.0.1/shop",
      "postgres://shop:s3cr%zzet@127.0.0.1/shop",
    ]) {
      await assert.rejects(createPostgresSink({ url }), (error) => {
        rejectsWith("INVALID_CONFIG", /percent-encode/)(error);
        assert.doesNotMatch(error.message, /s3c/);
        return true;
      });
    }
  });

  test("the CLI exits 2 for such a URL and never prints the password", async () => {
    for (const db of [
      "postgres://shop:s3cr/et@127.0.0.1/shop",
      "postgres://shop:s3cr#et@127.0.0.1/shop",
    ]) {
      const run = promisify(execFile)(
        process.execPath,
        [CLI, "sync", "--db", db],
        { env: { ...process.env, KEYCRM_API_KEY: "key-for-tests" } },
      );
      await assert.rejects(run, (failed) => {
        assert.equal(failed.code, 2, failed.stderr);
        assert.match(failed.stderr, /INVALID_CONFIG.*percent-encode/);
        assert.doesNotMatch(failed.stdout + failed.stderr, /s3c/);
        return true;
      });
    }
  });
});
