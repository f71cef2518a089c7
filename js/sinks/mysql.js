// The MySQL / MariaDB sink: stock rows live in one table, reached through mysql2.
//
// SKUs are compared exactly, whatever the column's collation. Sites usually have
// a case-insensitive, PAD SPACE one (utf8mb4_general_ci), where 'abc' = 'ABC ' —
// but KeyCRM's "abc" and "ABC " are different offers. So every statement filters
// twice: by the column as it is, which uses its index and finds a superset, and
// by the bytes of its UTF-8 text, which is exact. A batch is one statement:
// `IN (…)` to read, `UPDATE … SET stock = CASE … END` to write.

import { isSyncError } from "../errors.js";
import { checkDatabaseUrl } from "./database-url.js";
import { quoteIdentifier } from "./identifiers.js";
import { createServerSink } from "./server.js";
import {
  chunks,
  importDriver,
  invalidConfig,
  sinkFailed,
  siteStockColumns,
} from "./table.js";

const SINK = "MySQL sink";

// Rows per statement. A write binds 13 values a row at most, far below the
// 65 535 placeholders a prepared statement may have.
const CHUNK = 1024;

// Server errors that mean the URL is wrong, not that the server is down: access
// denied (user or password; database) and unknown database.
const SETUP_ERRORS = new Set([1044, 1045, 1049]);

// Server errors of a statement ended by a time limit: a lock wait past
// innodb_lock_wait_timeout (1205) or lock_wait_timeout (metadata locks, 1205 too),
// MariaDB's max_statement_time (1969) and MySQL's max_execution_time (3024).
const TIMEOUT_ERRORS = new Set([1205, 1969, 3024]);

const INTEGER_TYPES = ["tinyint", "smallint", "mediumint", "int", "bigint"];

const TEXT_TYPES = [
  "char",
  "varchar",
  "tinytext",
  "text",
  "mediumtext",
  "longtext",
];
const NUMBER_TYPES = [
  ...INTEGER_TYPES,
  "decimal",
  "float",
  "double",
];

/**
 * Connects (or adopts a pool or connection) and returns a StockSink over one table.
 * @param {import("./mysql.js").MysqlSinkOptions} options
 * @returns {Promise<import("./mysql.js").MysqlSink>}
 */
export async function createMysqlSink(options) {
  return createServerSink({
    sink: SINK,
    options,
    connections: {
      url: "a mysql:// or mariadb:// URL",
      pool: "a mysql2 pool",
      connection: "a mysql2 connection",
    },
    connect,
    checkSchema,
    dialect,
  });
}

/**
 * The statements of one table: one per chunk, each chunk padded to a power of
 * two so that few distinct texts are prepared.
 */
function dialect(layout, perWarehouse) {
  const table = quoteIdentifier(layout.table, "`");
  const sku = quoteIdentifier(layout.skuColumn, "`");
  const stock = quoteIdentifier(layout.stockColumn, "`");
  const warehouse = perWarehouse
    ? quoteIdentifier(layout.warehouseColumn, "`")
    : "";
  const exactSku = `CAST(CONVERT(${sku} USING utf8mb4) AS BINARY)`;
  const observed =
    layout.observedColumn === undefined
      ? ""
      : quoteIdentifier(layout.observedColumn, "`");
  const columns = siteStockColumns(layout, (name) => quoteIdentifier(name, "`"));

  const { within, select } = limits(layout.statementTimeoutMs);
  const list = (size, item = "?") => Array(size).fill(item).join(", ");
  const selectFor = bySize((size) =>
    perWarehouse
      ? `${within}${select} ${columns} FROM ${table} WHERE ${sku} IN (${list(size)}) AND ${warehouse} IN (${list(size)})`
      : `${within}${select} ${columns} FROM ${table} WHERE ${sku} IN (${list(size)})`,
  );
  // A CASE with one WHEN per change, matching its row exactly.
  const caseOf = (size, then) =>
    perWarehouse
      ? `CASE${` WHEN ${exactSku} = ? AND ${warehouse} = ? THEN ${then}`.repeat(size)} END`
      : `CASE ${exactSku}${` WHEN ? THEN ${then}`.repeat(size)} END`;
  // With an observed column, a row observed later than its change (written
  // meanwhile by another process) is left out of the UPDATE.
  const updateFor = bySize((size) => {
    const sets = [`${stock} = ${caseOf(size, "?")}`];
    const where = perWarehouse
      ? [
          `${sku} IN (${list(size)})`,
          `(${exactSku}, ${warehouse}) IN (${list(size, "(?, ?)")})`,
        ]
      : [`${sku} IN (${list(size)})`, `${exactSku} IN (${list(size)})`];
    if (observed) {
      sets.push(`${observed} = ${caseOf(size, `coalesce(?, ${observed})`)}`);
      where.push(
        caseOf(size, `(? IS NULL OR ${observed} IS NULL OR ${observed} <= ?)`),
      );
    }
    return `${within}UPDATE ${table} SET ${sets.join(", ")}\n         WHERE ${where.join(" AND ")}`;
  });

  const readParameters = (batch) =>
    perWarehouse
      ? [...batch.map((k) => k.sku), ...batch.map((k) => k.warehouseId)]
      : batch.map((k) => k.sku);
  const keyOf = perWarehouse ? (c) => [c.sku, c.warehouseId] : (c) => [c.sku];
  // In the order of the statement's placeholders: the SET clauses, then WHERE.
  const writeParameters = (batch) => {
    const at = (c) => c.observedAt ?? null;
    const values = batch.flatMap((c) => [...keyOf(c), c.stock]);
    if (observed) values.push(...batch.flatMap((c) => [...keyOf(c), at(c)]));
    values.push(...batch.map((c) => c.sku), ...batch.flatMap(keyOf));
    if (observed) {
      values.push(...batch.flatMap((c) => [...keyOf(c), at(c), at(c)]));
    }
    return values;
  };

  return {
    isTimeout: (cause) => TIMEOUT_ERRORS.has(cause?.errno),
    chunk: (items) => chunks(items, CHUNK).map(padded),
    select: async (db, keys) =>
      (await db.execute(selectFor(keys.length), readParameters(keys)))[0],
    update: (run, changes) =>
      run(updateFor(changes.length), writeParameters(changes)),
    selectAll: async (db) =>
      (await db.query(`${within}${select} ${columns} FROM ${table} WHERE ${sku} IS NOT NULL`))[0],
  };
}

/**
 * What bounds each statement of the sink, on a pool or connection it was given
 * as well as on its own: MariaDB runs a statement inside SET STATEMENT … FOR,
 * written in a comment only MariaDB executes; MySQL ends a SELECT at its
 * MAX_EXECUTION_TIME hint (a comment to MariaDB before 12).
 */
function limits(timeoutMs) {
  if (timeoutMs === 0) return { within: "", select: "SELECT" };
  const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
  return {
    within: `/*M!100300 SET STATEMENT max_statement_time = ${timeoutMs / 1000}, innodb_lock_wait_timeout = ${seconds}, lock_wait_timeout = ${seconds} FOR */ `,
    select: `SELECT /*+ MAX_EXECUTION_TIME(${timeoutMs}) */`,
  };
}

// mysql2 prepares each distinct statement text once per connection and keeps
// it. Rounding a batch up to a power of two, by repeating its last item (a
// repeat in IN or CASE changes nothing), bounds the texts to a dozen sizes.
function padded(batch) {
  const size = 2 ** Math.ceil(Math.log2(batch.length));
  const out = batch.slice();
  while (out.length < size) out.push(batch[batch.length - 1]);
  return out;
}

/** Builds each size's statement text once. */
function bySize(build) {
  const texts = new Map();
  return (size) => {
    if (!texts.has(size)) texts.set(size, build(size));
    return texts.get(size);
  };
}

/**
 * One interface over the three ways in: `execute(sql, values)` and `query(sql)`
 * for reads, `transaction(fn)` for writes, `close()` that ends only what we opened.
 */
async function connect(kind, given, { statementTimeoutMs }) {
  if (kind === "url") return openPool(given, statementTimeoutMs);
  // A callback-style pool or connection turns into its promise twin.
  const handle = typeof given?.promise === "function" ? given.promise() : given;
  if (kind === "pool") {
    if (typeof handle?.getConnection !== "function") {
      throw invalidConfig("The MySQL sink's pool must be a mysql2 pool.");
    }
    return overPool(handle, false);
  }
  if (typeof handle?.beginTransaction !== "function") {
    throw invalidConfig(
      "The MySQL sink's connection must be a mysql2 connection.",
    );
  }
  return {
    execute: (sql, values) => handle.execute(sql, values),
    query: (sql) => handle.query(sql),
    transaction: (work) => inTransaction(handle, work, {}),
    async close() {},
  };
}

async function openPool(url, timeoutMs) {
  // Never echo the URL: it may carry a password.
  checkDatabaseUrl(url, ["mysql", "mariadb"], SINK);
  const mysql = await importDriver("mysql2/promise", "mysql:// databases");
  // The core reads and writes one batch at a time, so one connection serves it.
  const pool = mysql.createPool({
    uri: url.replace(/^mariadb:/i, "mysql:"),
    connectionLimit: 1,
    connectTimeout: 15_000,
    // Stock is a number; SKUs need all of Unicode.
    charset: "utf8mb4_general_ci",
  });
  // Each connection the pool opens gets the time limits first: its queries
  // wait in line behind them.
  if (timeoutMs > 0) {
    pool.on("connection", (connection) => {
      connection.query(sessionLimits(timeoutMs), () => {});
    });
  }
  const db = overPool(pool, true);
  try {
    await db.query("SELECT 1");
  } catch (cause) {
    await db.close();
    const failed = sinkFailed("Could not connect to the MySQL database", cause);
    throw SETUP_ERRORS.has(cause?.errno)
      ? invalidConfig(
          `${failed.message}. Check the user, password and database name`,
          cause,
        )
      : failed;
  }
  return db;
}

/**
 * The SET statement of a connection's time limits. Lock waits are counted in
 * whole seconds, the least being one; MariaDB also ends any statement at
 * max_statement_time (seconds, fractions allowed), set in a comment only
 * MariaDB executes, and MySQL a SELECT at max_execution_time (ms), which
 * MariaDB lacks.
 */
function sessionLimits(timeoutMs) {
  const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
  return `SET SESSION innodb_lock_wait_timeout = ${seconds}, lock_wait_timeout = ${seconds} /*M!100108 , max_statement_time = ${timeoutMs / 1000} */`;
}

function overPool(pool, owned) {
  let closed = false;
  return {
    execute: (sql, values) => pool.execute(sql, values),
    query: (sql) => pool.query(sql),
    async transaction(work) {
      const connection = await pool.getConnection();
      const state = { rollbackFailed: false };
      try {
        return await inTransaction(connection, work, state);
      } finally {
        // A connection whose ROLLBACK failed is in an unknown state: drop it.
        if (state.rollbackFailed) connection.destroy();
        else connection.release();
      }
    },
    async close() {
      if (!owned || closed) return;
      closed = true;
      try {
        await pool.end();
      } catch (cause) {
        throw sinkFailed("Could not close the MySQL connection", cause);
      }
    },
  };
}

async function inTransaction(connection, work, state) {
  await connection.beginTransaction();
  try {
    const result = await work((sql, values) => connection.execute(sql, values));
    await connection.commit();
    return result;
  } catch (error) {
    try {
      await connection.rollback();
    } catch {
      state.rollbackFailed = true;
    }
    throw error;
  }
}

/**
 * Throws INVALID_CONFIG unless the table and every configured column exist;
 * returns the stock column's type and whether it holds whole numbers only.
 */
async function checkSchema(db, layout) {
  const [schema, name] = layout.table.includes(".")
    ? layout.table.split(".")
    : [null, layout.table];
  let columns;
  try {
    const [[{ current }]] = await db.query("SELECT DATABASE() AS current");
    const database = schema ?? current;
    if (database === null) {
      throw invalidConfig(
        `No database selected for table "${layout.table}": name it in the URL (mysql://user@host/shop) or write the table as database.table.`,
      );
    }
    [columns] = await db.execute(
      `SELECT COLUMN_NAME AS name, DATA_TYPE AS type, NUMERIC_SCALE AS scale
       FROM information_schema.COLUMNS
       WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
      [database, name],
    );
    if (columns.length === 0) {
      const [tables] = await db.execute(
        `SELECT TABLE_NAME AS name FROM information_schema.TABLES
         WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME LIMIT 30`,
        [database],
      );
      const names = tables.map((row) => row.name);
      throw invalidConfig(
        `Table "${layout.table}" (table, --table) does not exist in database "${database}"; tables found: ${names.join(", ") || "none"}.`,
      );
    }
  } catch (error) {
    if (isSyncError(error)) throw error;
    throw sinkFailed(`Could not inspect table "${layout.table}"`, error);
  }
  const wanted = [
    ["skuColumn", "--sku-column", layout.skuColumn, TEXT_TYPES, "text"],
    [
      "stockColumn",
      "--stock-column",
      layout.stockColumn,
      [...NUMBER_TYPES, ...TEXT_TYPES],
      "numeric or text",
    ],
    [
      "warehouseColumn",
      "--warehouse-column",
      layout.warehouseColumn,
      NUMBER_TYPES,
      "numeric",
    ],
    [
      "observedColumn",
      "--observed-column",
      layout.observedColumn,
      // Unix ms need 41 bits: INT and FLOAT are too small.
      ["bigint", "decimal", "double"],
      "BIGINT (times in ms)",
    ],
  ];
  for (const [option, flag, wantedName, types, kind] of wanted) {
    if (wantedName === undefined) continue;
    // MySQL resolves column names case-insensitively, so the check does too.
    const column = columns.find(
      (c) => c.name.toLowerCase() === wantedName.toLowerCase(),
    );
    if (column === undefined) {
      throw invalidConfig(
        `Table "${layout.table}" has no column "${wantedName}" (${option}, ${flag}); its columns are: ${columns.map((c) => c.name).join(", ")}.`,
      );
    }
    if (!types.includes(String(column.type).toLowerCase())) {
      throw invalidConfig(
        `Column "${column.name}" of table "${layout.table}" (${option}, ${flag}) must have a ${kind} type, not ${column.type}.`,
      );
    }
  }
  const stock = columns.find(
    (c) => c.name.toLowerCase() === layout.stockColumn.toLowerCase(),
  );
  const type = String(stock.type).toLowerCase();
  const whole =
    INTEGER_TYPES.includes(type) ||
    (type === "decimal" && Number(stock.scale) === 0);
  return { type, whole };
}
