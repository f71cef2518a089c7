// The MySQL sink against a real MariaDB 10.11 server (scripts/databases.sh), whose
// tables use the usual case-insensitive, PAD SPACE collation: the conformance
// suite, then what is particular to MySQL and MariaDB.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import mysql from "mysql2/promise";
import mysqlCallbacks from "mysql2";
import { createMysqlSink } from "../../js/sinks/mysql.js";
import { sinkConformance } from "../../js/testing/index.js";
import { passwordOf, scratchName, serverUrl } from "./support/databases.js";

const URL_ = serverUrl("mysql");
const CLI = fileURLToPath(new URL("../../js/cli.js", import.meta.url));
const DB = scratchName("keycrm_my");
const admin = mysql.createPool({ uri: URL_, connectionLimit: 2 });
const pool = mysql.createPool({ uri: URL_, connectionLimit: 2 });

before(async () => {
  await admin.query(
    `CREATE DATABASE ${DB} CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci`,
  );
});

after(async () => {
  await admin.query(`DROP DATABASE IF EXISTS ${DB}`);
  await admin.end();
  await pool.end();
});

let tables = 0;
/** A fresh InnoDB table in the scratch database, filled with `rows`. */
async function tableWith(
  rows,
  {
    perWarehouse = false,
    collation = "utf8mb4_general_ci",
    observed = false,
    stock = "decimal(14,3)",
  } = {},
) {
  tables += 1;
  const table = `${DB}.stock_${tables}`;
  await admin.query(`CREATE TABLE ${table} (
    id int AUTO_INCREMENT PRIMARY KEY,
    sku varchar(100) COLLATE ${collation} NOT NULL,
    ${perWarehouse ? "warehouse_id int NOT NULL," : ""}
    stock ${stock} NULL CHECK (stock >= 0),
    ${observed ? "observed_at bigint NULL," : ""}
    KEY (sku${perWarehouse ? ", warehouse_id" : ""})) ENGINE=InnoDB`);
  if (rows.length > 0) {
    await admin.query(
      perWarehouse
        ? `INSERT INTO ${table} (sku, warehouse_id, stock) VALUES ?`
        : `INSERT INTO ${table} (sku, stock) VALUES ?`,
      [
        rows.map((r) =>
          perWarehouse ? [r.sku, r.warehouseId, r.stock] : [r.sku, r.stock],
        ),
      ],
    );
  }
  return table;
}

async function rowsOf(table, perWarehouse = false) {
  const [rows] = await admin.query(
    `SELECT sku, ${perWarehouse ? "warehouse_id AS warehouseId," : ""} stock
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
  name: "MySQL sink",
  observed: true,
  integerStock: true,
  async setup({ rows, perWarehouse, observed, integerStock }) {
    const table = await tableWith(rows, {
      perWarehouse,
      observed,
      stock: integerStock ? "int" : undefined,
    });
    return {
      sink: await createMysqlSink({
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

describe("MySQL sink", () => {
  test("from a mysql:// or mariadb:// URL: connects, works, closes its own pool", async () => {
    const table = await tableWith([{ sku: "A", stock: 1 }]);
    for (const url of [URL_, URL_.replace(/^mysql:/, "mariadb:")]) {
      const sink = await createMysqlSink({ url, table });
      await sink.write([{ sku: "A", stock: 4 }]);
      assert.deepEqual(await sink.read([{ sku: "A" }]), [
        { sku: "A", stock: 4 },
      ]);
      await sink.close();
      await sink.close();
    }
  });

  test("a connection, promise or callback style, is used as is and left open", async () => {
    const table = await tableWith([{ sku: "A", stock: 1 }]);
    const connection = await mysql.createConnection(URL_);
    const callbacks = mysqlCallbacks.createConnection(URL_);
    try {
      for (const [handle, stock] of [
        [connection, 2],
        [callbacks, 3],
      ]) {
        const sink = await createMysqlSink({ connection: handle, table });
        await sink.write([{ sku: "A", stock }]);
        await sink.close();
        const [rows] = await connection.query(`SELECT stock FROM ${table}`);
        assert.equal(Number(rows[0].stock), stock);
      }
    } finally {
      await connection.end();
      await callbacks.promise().end();
    }
  });

  test("a batch is one statement, not one per row", async () => {
    const rows = Array.from({ length: 500 }, (_, i) => ({
      sku: `S${i}`,
      stock: 0,
    }));
    const table = await tableWith(rows);
    const connection = await mysql.createConnection(URL_);
    const statements = [];
    for (const method of ["execute", "query"]) {
      const original = connection[method].bind(connection);
      connection[method] = (sql, ...rest) => {
        // The first word after the comment that bounds MariaDB's statements.
        statements.push(sql.replace(/^\s*\/\*[^]*?\*\/\s*/, "").split(/\s/)[0]);
        return original(sql, ...rest);
      };
    }
    try {
      const sink = await createMysqlSink({ connection, table });
      statements.length = 0;
      assert.equal((await sink.read(rows)).length, 500);
      await sink.write(rows.map((row, i) => ({ ...row, stock: i })));
      assert.deepEqual(statements, ["SELECT", "UPDATE"]);
      assert.deepEqual(
        (await rowsOf(table)).map((row) => row.stock),
        rows.map((_, i) => i),
      );
    } finally {
      await connection.end();
    }
  });

  test("an observed column too narrow for times in ms is refused when the sink is made", async () => {
    const table = await tableWith([{ sku: "A", stock: 1 }]);
    await admin.query(`ALTER TABLE ${table} ADD COLUMN narrow int, ADD COLUMN wide bigint`);
    await assert.rejects(
      createMysqlSink({ pool, table, observedColumn: "narrow" }),
      rejectsWith("INVALID_CONFIG", /"narrow".*--observed-column.*bigint/i),
    );
    const sink = await createMysqlSink({ pool, table, observedColumn: "wide" });
    await sink.write([{ sku: "A", stock: 2, observedAt: 1_795_000_000_000 }]);
    assert.deepEqual(await sink.read([{ sku: "A" }]), [{ sku: "A", stock: 2, observedAt: 1_795_000_000_000 }]);
    await sink.close();
  });

  test("stock that is not a finite number is refused before any statement", async () => {
    const table = await tableWith([
      { sku: "A", stock: 1 },
      { sku: "B", stock: 1 },
    ]);
    const sink = await createMysqlSink({ pool, table });
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
    const sink = await createMysqlSink({ pool, table });
    await sink.write([
      { sku: "A", stock: 5 },
      { sku: "A", stock: null },
      { sku: "A", stock: 7 },
    ]);
    assert.deepEqual(await rowsOf(table), [{ sku: "A", stock: 7 }]);
  });

  test("exact matching holds under utf8mb4_unicode_ci too (ß = ss there)", async () => {
    const rows = ["straße", "strasse", "abc", "ABC "].map((sku, i) => ({
      sku,
      stock: i,
    }));
    const table = await tableWith(rows, { collation: "utf8mb4_unicode_ci" });
    const sink = await createMysqlSink({ pool, table });
    assert.deepEqual(await sink.read([{ sku: "strasse" }, { sku: "abc" }]), [
      { sku: "strasse", stock: 1 },
      { sku: "abc", stock: 2 },
    ]);
    await sink.write([
      { sku: "strasse", stock: 9 },
      { sku: "ABC", stock: 9 },
    ]);
    assert.deepEqual(
      (await rowsOf(table)).map((row) => row.stock),
      [0, 9, 2, 3],
    );
  });

  test("int, double and bigint columns: numbers in, numbers out", async () => {
    await admin.query(`CREATE TABLE ${DB}.typed (
      code varchar(40), qty int, weight double, depot bigint)`);
    await admin.query(
      `INSERT INTO ${DB}.typed VALUES ('A', 1, 0.5, 9007199254740991), ('B', NULL, NULL, 2)`,
    );
    const byQty = await createMysqlSink({
      pool,
      table: `${DB}.typed`,
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
    const byWeight = await createMysqlSink({
      pool,
      table: `${DB}.typed`,
      skuColumn: "code",
      stockColumn: "weight",
    });
    await byWeight.write([{ sku: "B", stock: 2.25 }]);
    assert.deepEqual(await byWeight.readAll(), [
      { sku: "A", stock: 0.5 },
      { sku: "B", stock: 2.25 },
    ]);
  });

  test("keyword names are quoted; database.table is resolved", async () => {
    await admin.query(
      `CREATE TABLE ${DB}.\`order\` (\`select\` varchar(20), \`group\` int)`,
    );
    await admin.query(`INSERT INTO ${DB}.\`order\` VALUES ('X', 1)`);
    const sink = await createMysqlSink({
      pool,
      table: `${DB}.order`,
      skuColumn: "select",
      stockColumn: "group",
    });
    await sink.write([{ sku: "X", stock: 3 }]);
    assert.deepEqual(await sink.readAll(), [{ sku: "X", stock: 3 }]);
  });

  test("set-up mistakes are INVALID_CONFIG and name what exists", async () => {
    const table = await tableWith([]);
    const noDatabase = new URL(URL_);
    noDatabase.pathname = "/";
    const cases = [
      [
        { pool, table: `${DB}.missing` },
        /does not exist in database.*tables found: .*stock_/,
      ],
      [{ url: String(noDatabase), table: "products" }, /No database selected/],
      [{ pool, table, stockColumn: "qty" }, /no column "qty".*id, sku, stock/],
      [{ pool, table, warehouseColumn: "sku" }, /"sku".*numeric type/],
      [{ pool, table, skuColumn: "stock" }, /"stock".*text type/],
      [{ pool, table: "x; DROP TABLE y" }, /--table/],
      [{ pool, connection: pool, table }, /exactly one of/],
      [{ pool: {}, table }, /mysql2 pool/],
      [{ url: "postgres://localhost/x", table }, /mysql:\/\//],
    ];
    for (const [options, pattern] of cases) {
      await assert.rejects(
        createMysqlSink(options),
        rejectsWith("INVALID_CONFIG", pattern),
      );
    }
    // Column names are case-insensitive in MySQL, so the check is too.
    const sink = await createMysqlSink({ pool, table, stockColumn: "STOCK" });
    await sink.close();
  });

  test("a wrong password is INVALID_CONFIG and the password is never shown", async () => {
    const url = new URL(URL_);
    url.password = "not-the-Pa55word";
    await assert.rejects(createMysqlSink({ url: String(url) }), (error) => {
      rejectsWith("INVALID_CONFIG", /Access denied/)(error);
      for (const secret of [...passwordOf(URL_), "not-the-Pa55word"]) {
        assert.ok(!error.message.includes(secret), error.message);
      }
      return true;
    });
  });

  test("a server that does not answer is SINK_FAILED", async () => {
    await assert.rejects(
      createMysqlSink({ url: "mysql://keycrm:pw@127.0.0.1:9/keycrm_test" }),
      rejectsWith("SINK_FAILED", /Could not connect.*ECONNREFUSED/),
    );
  });

  test("a failure after creation is SINK_FAILED, and the sink recovers", async () => {
    const table = await tableWith([{ sku: "A", stock: 1 }]);
    const sink = await createMysqlSink({ pool, table });
    await admin.query(`RENAME TABLE ${table} TO ${DB}.gone`);
    await assert.rejects(
      sink.write([{ sku: "A", stock: 2 }]),
      rejectsWith("SINK_FAILED", /none of them were written.*42S02/),
    );
    await admin.query(`RENAME TABLE ${DB}.gone TO ${table}`);
    await sink.write([{ sku: "A", stock: 2 }]);
    assert.deepEqual(await rowsOf(table), [{ sku: "A", stock: 2 }]);
  });

  test("per-warehouse keys need warehouseColumn, and it needs them", async () => {
    const table = await tableWith([{ sku: "A", warehouseId: 1, stock: 1 }], {
      perWarehouse: true,
    });
    const plain = await createMysqlSink({ pool, table });
    await assert.rejects(
      plain.write([{ sku: "A", warehouseId: 1, stock: 2 }]),
      rejectsWith("INVALID_CONFIG", /--warehouse-column/),
    );
    const split = await createMysqlSink({
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
    for (const type of ["int", "bigint", "smallint", "decimal(10,0)"]) {
      const table = await tableWith([{ sku: "A", stock: 1 }], { stock: type });
      await assert.rejects(
        createMysqlSink({ pool, table, fractional: true }),
        rejectsWith(
          "INVALID_CONFIG",
          /Column "stock" .* holds whole numbers only.*--fractional/,
        ),
      );
      // Without it, whole units are written as ever, and a fraction never is.
      const sink = await createMysqlSink({ pool, table });
      await assert.rejects(
        sink.write([{ sku: "A", stock: 35.575 }]),
        rejectsWith("SINK_FAILED", /35\.575 .*has a fraction.*nothing was written/),
      );
      await sink.write([{ sku: "A", stock: 7 }]);
      assert.deepEqual(await rowsOf(table), [{ sku: "A", stock: 7 }]);
    }
    const table = await tableWith([{ sku: "A", stock: 1 }]);
    const sink = await createMysqlSink({ pool, table, fractional: true });
    await sink.write([{ sku: "A", stock: 35.575 }]);
    assert.deepEqual(await rowsOf(table), [{ sku: "A", stock: 35.575 }]);
  });

  /** Runs `body` while another session holds a row lock on every row of `table`. */
  async function whileLocked(table, body) {
    const site = await mysql.createConnection({ uri: URL_ });
    try {
      await site.query("BEGIN");
      await site.query(`SELECT * FROM ${table} FOR UPDATE`);
      await body();
    } finally {
      await site.query("ROLLBACK");
      await site.end();
    }
  }

  // The lock is held until the assertion is done: only the server's limit can
  // end the write's wait (MariaDB's max_statement_time). The test's own timeout
  // only turns a regression into a failure instead of a hang.
  test("a write waiting on a site's row lock ends at statementTimeoutMs, on a URL's connection", { timeout: 60_000 }, async () => {
    const table = await tableWith([{ sku: "A", stock: 1 }]);
    const sink = await createMysqlSink({ url: URL_, table, statementTimeoutMs: 50 });
    try {
      await whileLocked(table, () =>
        assert.rejects(
          sink.write([{ sku: "A", stock: 2 }]),
          rejectsWith(
            "SINK_FAILED",
            /none of them were written: timed out: .*50 ms \(statementTimeoutMs\).*error 1969/,
          ),
        ),
      );
      await sink.write([{ sku: "A", stock: 3 }]);
      assert.deepEqual(await rowsOf(table), [{ sku: "A", stock: 3 }]);
    } finally {
      await sink.close();
    }
  });

  test("so does one on a given pool, whose session is left alone", { timeout: 60_000 }, async () => {
    const table = await tableWith([{ sku: "A", stock: 1 }]);
    const given = mysql.createPool({ uri: URL_, connectionLimit: 1 });
    try {
      const [[before]] = await given.query(
        "SELECT @@max_statement_time AS statement, @@innodb_lock_wait_timeout AS wait",
      );
      const sink = await createMysqlSink({ pool: given, table, statementTimeoutMs: 50 });
      await whileLocked(table, () =>
        assert.rejects(
          sink.write([{ sku: "A", stock: 2 }]),
          rejectsWith("SINK_FAILED", /timed out/),
        ),
      );
      const [[after]] = await given.query(
        "SELECT @@max_statement_time AS statement, @@innodb_lock_wait_timeout AS wait",
      );
      assert.deepEqual(after, before);
    } finally {
      await given.end();
    }
  });

  test("a URL whose password holds / or # is INVALID_CONFIG, and the password is never shown", async () => {
    for (const url of [
      "mysql://shop:s3cr/et@127.0.0.1/shop",
      "mysql://shop:s3cr#et@127.0.0.1/shop",
      "mariadb://shop:12#s3cret@127.0.0.1/shop",
    ]) {
      await assert.rejects(createMysqlSink({ url }), (error) => {
        rejectsWith("INVALID_CONFIG", /percent-encode/)(error);
        assert.doesNotMatch(error.message, /s3c/);
        return true;
      });
    }
  });

  test("the CLI exits 2 for such a URL and never prints the password", async () => {
    for (const db of [
      "mysql://shop:s3cr#et@127.0.0.1/shop",
      "mariadb://shop:s3cr/et@127.0.0.1/shop",
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
