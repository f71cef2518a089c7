// The PostgreSQL sink: stock rows live in one table, reached through pg. Keys and
// values travel as arrays, one bound parameter per column, so a batch is one
// statement however many rows it holds: `= ANY($1)` to read, and
// `UPDATE … FROM unnest($1, $2)` to write.

import { createHash } from "node:crypto";
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

const SINK = "PostgreSQL sink";

// Rows per statement. Arrays lift the 65 535-parameter limit, but a bounded
// statement keeps a huge batch from becoming one huge message.
const CHUNK = 1024;

// SQLSTATE classes that mean the URL is wrong, not that the server is down.
const SETUP_STATES = new Set(["28000", "28P01", "3D000"]);

// What the server says when statement_timeout (57014, query_canceled) or
// lock_timeout (55P03, lock_not_available) ends a statement.
const TIMEOUT_STATES = new Set(["57014", "55P03"]);

// Integer types, whose columns round a fraction to the nearest whole number.
const INTEGER_TYPES = new Set(["int2", "int4", "int8"]);

/**
 * Connects (or adopts a pool or client) and returns a StockSink over one table.
 * @param {import("./postgres.js").PostgresSinkOptions} options
 * @returns {Promise<import("./postgres.js").PostgresSink>}
 */
export async function createPostgresSink(options) {
  return createServerSink({
    sink: SINK,
    options,
    connections: {
      url: "a postgres:// connection string",
      pool: "a pg.Pool",
      client: "a connected pg.Client",
    },
    connect,
    checkSchema,
    dialect,
  });
}

/** The statements of one table: one per chunk, keys and values as arrays. */
function dialect(layout, perWarehouse) {
  const table = quoteIdentifier(layout.table);
  const sku = quoteIdentifier(layout.skuColumn);
  const stock = quoteIdentifier(layout.stockColumn);
  const warehouse = perWarehouse ? quoteIdentifier(layout.warehouseColumn) : "";
  const observed =
    layout.observedColumn === undefined
      ? ""
      : quoteIdentifier(layout.observedColumn);
  // Quoted aliases keep their case.
  const columns = siteStockColumns(layout, quoteIdentifier, (name) => `"${name}"`);

  // SKUs are tested in the column's collation, which its index serves, and
  // then exactly: by "C" in UPDATE, and by string equality after a SELECT.
  // Both matter only under a nondeterministic ICU collation, where 'abc' = 'ABC'.
  // Warehouse ids are compared as bigint whatever the column's integer type:
  // btree indexes serve integer comparisons across widths.
  const select = perWarehouse
    ? `SELECT ${columns} FROM ${table}
       WHERE (${sku}, ${warehouse}) IN (SELECT * FROM unnest($1::text[], $2::bigint[]))`
    : `SELECT ${columns} FROM ${table} WHERE ${sku} = ANY($1::text[])`;
  // Values go as numeric, the type that holds any JS number's decimal text
  // exactly; PostgreSQL then assigns it to whatever numeric type the column has.
  // With an observed column, a row observed later than the change (written
  // meanwhile by another process) is left as it is.
  const changeColumns = [
    ["sku", "text"],
    ...(perWarehouse ? [["warehouse", "bigint"]] : []),
    ["stock", "numeric"],
    ...(observed ? [["observed", "bigint"]] : []),
  ];
  const sets = [
    `${stock} = change.stock`,
    ...(observed
      ? [`${observed} = coalesce(change.observed, target.${observed})`]
      : []),
  ];
  const conditions = [
    `target.${sku} = change.sku`,
    `target.${sku} COLLATE "C" = change.sku`,
    ...(perWarehouse ? [`target.${warehouse} = change.warehouse`] : []),
    ...(observed
      ? [
          `(change.observed IS NULL OR target.${observed} IS NULL OR target.${observed} <= change.observed)`,
        ]
      : []),
  ];
  const arrays = changeColumns.map(([, type], i) => `$${i + 1}::${type}[]`);
  const update = `UPDATE ${table} AS target SET ${sets.join(", ")}
       FROM unnest(${arrays.join(", ")}) AS change(${changeColumns.map(([name]) => name).join(", ")})
       WHERE ${conditions.join(" AND ")}`;

  const keyColumns = (batch) =>
    perWarehouse
      ? [batch.map((k) => k.sku), batch.map((k) => k.warehouseId)]
      : [batch.map((k) => k.sku)];

  return {
    // PostgreSQL's text cannot hold U+0000: no row has such a SKU, and sending
    // one fails the whole statement (22021).
    storable: (sku) => !sku.includes("\u0000"),
    isTimeout: (cause) => TIMEOUT_STATES.has(cause?.code),
    chunk: (items) => chunks(items, CHUNK),
    select: async (db, keys) => (await db.query(select, keyColumns(keys))).rows,
    async update(run, changes) {
      const values = [...keyColumns(changes), changes.map((c) => c.stock)];
      if (observed) values.push(changes.map((c) => c.observedAt ?? null));
      await run(update, values);
    },
    selectAll: async (db) =>
      (await db.query(`SELECT ${columns} FROM ${table} WHERE ${sku} IS NOT NULL`)).rows,
  };
}

/**
 * One interface over the three ways in: `query(text, values)` for reads,
 * `transaction(fn)` for writes, `close()` that ends only what we opened.
 */
async function connect(kind, handle, { statementTimeoutMs }) {
  const begin = beginWithin(statementTimeoutMs);
  if (kind === "url") return openPool(handle, statementTimeoutMs, begin);
  if (kind === "pool") {
    if (typeof handle?.connect !== "function") {
      throw invalidConfig("The PostgreSQL sink's pool must be a pg.Pool.");
    }
    return overPool(handle, false, begin);
  }
  if (typeof handle?.query !== "function") {
    throw invalidConfig(
      "The PostgreSQL sink's client must be a connected pg.Client.",
    );
  }
  return {
    query: (text, values) => handle.query(statement(text, values)),
    transaction: (work) => inTransaction(handle, work, begin),
    async close() {},
  };
}

/**
 * The statement that opens the sink's transactions. With a time limit, every
 * statement of the transaction, and every wait for a lock a site transaction
 * holds, ends at it, on the server: SET LOCAL lasts until COMMIT or ROLLBACK,
 * so a pool or client the sink was given keeps its own settings otherwise.
 */
function beginWithin(timeoutMs) {
  if (timeoutMs === 0) return "BEGIN";
  return `BEGIN; SET LOCAL statement_timeout = ${timeoutMs}; SET LOCAL lock_timeout = ${timeoutMs}`;
}

async function openPool(url, timeoutMs, begin) {
  // Never echo the URL: it may carry a password.
  checkDatabaseUrl(url, ["postgres", "postgresql"], SINK);
  const pg = await importDriver("pg", "postgres:// databases");
  // The core reads and writes one batch at a time, so one connection serves it.
  // Its session has the time limits too, so reads outside a transaction end at them.
  const limits =
    timeoutMs === 0 ? {} : { statement_timeout: timeoutMs, lock_timeout: timeoutMs };
  const pool = new pg.Pool({
    connectionString: url,
    max: 1,
    connectionTimeoutMillis: 15_000,
    application_name: "keycrm-stock-sync",
    ...limits,
  });
  // An idle connection dropped by the server must not crash the process; the
  // next query reconnects or fails with the reason.
  pool.on("error", () => {});
  const db = overPool(pool, true, begin);
  try {
    await db.query("SELECT 1");
  } catch (cause) {
    await db.close();
    throw connectFailed(cause);
  }
  return db;
}

function overPool(pool, owned, begin) {
  let closed = false;
  return {
    query: (text, values) => pool.query(statement(text, values)),
    async transaction(work) {
      const client = await pool.connect();
      const state = { rollbackFailed: false };
      try {
        return await inTransaction(client, work, begin, state);
      } finally {
        // A connection whose ROLLBACK failed is in an unknown state: drop it.
        client.release(state.rollbackFailed ? true : undefined);
      }
    },
    async close() {
      if (!owned || closed) return;
      closed = true;
      try {
        await pool.end();
      } catch (cause) {
        throw sinkFailed("Could not close the PostgreSQL connection", cause);
      }
    },
  };
}

async function inTransaction(client, work, begin, state = {}) {
  const query = (text, values) => client.query(statement(text, values));
  await client.query(begin);
  try {
    const result = await work(query);
    await client.query("COMMIT");
    return result;
  } catch (error) {
    try {
      await client.query("ROLLBACK");
    } catch {
      state.rollbackFailed = true;
    }
    throw error;
  }
}

// Named statements are parsed and planned once per connection. The name is the
// text's hash, so two sinks sharing a pool never claim one name for two texts.
function statement(text, values) {
  if (values === undefined) return { text };
  return { name: statementName(text), text, values };
}

// A sink's statement texts are few and fixed: each is hashed once.
const names = new Map();
function statementName(text) {
  let name = names.get(text);
  if (name === undefined) {
    name = `keycrm_${createHash("sha256").update(text).digest("hex").slice(0, 24)}`;
    names.set(text, name);
  }
  return name;
}

function connectFailed(cause) {
  const failed = sinkFailed(
    "Could not connect to the PostgreSQL database",
    cause,
  );
  return SETUP_STATES.has(cause?.code)
    ? invalidConfig(
        `${failed.message}. Check the user, password and database name`,
        cause,
      )
    : failed;
}

/**
 * Throws INVALID_CONFIG unless the table and every configured column exist;
 * returns the stock column's type and whether it holds whole numbers only.
 */
async function checkSchema(db, layout) {
  let columns;
  try {
    // to_regclass resolves the name as the statements will, search_path included.
    const { rows } = await db.query(
      `SELECT a.attname AS name, t.typcategory AS category, t.typname AS type,
         a.atttypmod AS typmod
       FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
       WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
       ORDER BY a.attnum`,
      [quoteIdentifier(layout.table)],
    );
    columns = rows;
    if (columns.length === 0) {
      const tables = await db.query(
        `SELECT table_schema || '.' || table_name AS name FROM information_schema.tables
         WHERE table_schema NOT IN ('pg_catalog', 'information_schema')
         ORDER BY table_schema = current_schema() DESC, 1 LIMIT 30`,
      );
      const names = tables.rows.map((row) => row.name);
      throw invalidConfig(
        `Table "${layout.table}" (table, --table) does not exist; tables found: ${names.join(", ") || "none"}.`,
      );
    }
  } catch (error) {
    if (isSyncError(error)) throw error;
    throw sinkFailed(`Could not inspect table "${layout.table}"`, error);
  }
  const wanted = [
    ["skuColumn", "--sku-column", layout.skuColumn, "S", "text"],
    [
      "stockColumn",
      "--stock-column",
      layout.stockColumn,
      "NS",
      "numeric or text",
    ],
    [
      "warehouseColumn",
      "--warehouse-column",
      layout.warehouseColumn,
      "N",
      "numeric",
    ],
    [
      "observedColumn",
      "--observed-column",
      layout.observedColumn,
      "N",
      "bigint (times in ms)",
      // Unix ms need 41 bits: integer and real are too small.
      ["int8", "numeric", "float8"],
    ],
  ];
  const names = columns.map((c) => c.name);
  for (const [option, flag, name, categories, kind, types] of wanted) {
    if (name === undefined) continue;
    const column = columns.find((c) => c.name === name);
    if (column === undefined) {
      // Quoted names are case-sensitive: "Stock" is not stock.
      const near = names.find((n) => n.toLowerCase() === name.toLowerCase());
      const hint = near
        ? ` (names are case-sensitive: did you mean "${near}"?)`
        : "";
      throw invalidConfig(
        `Table "${layout.table}" has no column "${name}" (${option}, ${flag})${hint}; its columns are: ${names.join(", ")}.`,
      );
    }
    if (
      !categories.includes(column.category) ||
      (types !== undefined && !types.includes(column.type))
    ) {
      throw invalidConfig(
        `Column "${name}" of table "${layout.table}" (${option}, ${flag}) must have a ${kind} type.`,
      );
    }
  }
  const stock = columns.find((c) => c.name === layout.stockColumn);
  return { type: stock.type, whole: holdsWholeNumbers(stock) };
}

/** Integer types, and numeric(p, 0): a fraction is rounded to a whole number. */
function holdsWholeNumbers({ type, typmod }) {
  if (INTEGER_TYPES.has(type)) return true;
  // numeric's typmod is ((precision << 16) | scale) + 4; -1 when unconstrained.
  return type === "numeric" && typmod >= 4 && ((typmod - 4) & 0x7ff) === 0;
}
