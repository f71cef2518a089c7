// The Cloudflare D1 sink: stock rows live in one table of a D1 database, reached
// through its Worker binding. No driver and no dependency: only the binding's
// prepare() and batch().
//
// On Workers every D1 call is a subrequest and the free plan allows 50 per
// invocation, so each sink call is exactly one call to D1: a read is one batch()
// of SELECTs and a write one batch() of UPDATEs (a batch runs as one
// transaction, so a write is all or nothing). D1 binds at most 100 parameters
// per statement, which decides how many keys go into each statement.

import { quoteIdentifier } from "./identifiers.js";
import {
  chunks,
  invalidConfig,
  keyRules,
  readFailure,
  readLayout,
  sinkFailed,
  siteStockColumns,
  toSiteStock,
  writeFailure,
} from "./table.js";

/** D1's cap on bound parameters in one statement. */
export const D1_MAX_PARAMETERS = 100;

const SINK = "D1 sink";

/**
 * Returns a StockSink over one table of a D1 database.
 * @param {import("./d1.js").D1SinkOptions} options
 * @returns {import("./d1.js").D1Sink}
 */
export function createD1Sink(options) {
  const layout = readLayout(options, SINK, {
    database: "a D1 binding, e.g. env.DB",
  });
  const db = options.database;
  if (typeof db?.prepare !== "function" || typeof db.batch !== "function") {
    throw invalidConfig(
      "The D1 sink's database must be a D1 binding (e.g. env.DB), with prepare() and batch().",
    );
  }
  const rules = keyRules(layout, SINK);
  const { perWarehouse } = rules;

  const table = quoteIdentifier(layout.table);
  const skuName = quoteIdentifier(layout.skuColumn);
  const stock = quoteIdentifier(layout.stockColumn);
  const warehouse = perWarehouse ? quoteIdentifier(layout.warehouseColumn) : "";
  const observed =
    layout.observedColumn === undefined ? "" : quoteIdentifier(layout.observedColumn);
  const columns = siteStockColumns(layout, quoteIdentifier);
  // COLLATE BINARY keeps SKU matching exact even on a NOCASE column.
  const keyMatch = perWarehouse
    ? `(${skuName} COLLATE BINARY, ${warehouse})`
    : `${skuName} COLLATE BINARY`;
  const keyWidth = perWarehouse ? 2 : 1;
  const keysPerSelect = Math.floor(D1_MAX_PARAMETERS / keyWidth);
  // A change binds its key, the new value, and when it was observed if the
  // table keeps that.
  const changeWidth = keyWidth + (observed ? 2 : 1);
  const changesPerUpdate = Math.floor(D1_MAX_PARAMETERS / changeWidth);

  const selects = new Map();
  function selectFor(size) {
    let sql = selects.get(size);
    if (sql === undefined) {
      const list = perWarehouse
        ? `VALUES ${Array(size).fill("(?, ?)").join(", ")}`
        : Array(size).fill("?").join(", ");
      sql = `SELECT ${columns} FROM ${table} WHERE ${keyMatch} IN (${list})`;
      selects.set(size, sql);
    }
    return sql;
  }

  // One UPDATE sets many rows, each from its own row of a VALUES list (SQLite's
  // UPDATE … FROM), instead of one statement per row: fewer statements per batch
  // means less work in the Worker, whose CPU time is the scarce resource.
  // With an observed column, a row observed later than the change (a webhook
  // written by another invocation since this one read) is left as it is: the
  // check is in the UPDATE itself, so no interleaving of invocations escapes it.
  const updates = new Map();
  function updateFor(size) {
    let sql = updates.get(size);
    if (sql === undefined) {
      const row = `(${Array(changeWidth).fill("?").join(", ")})`;
      const values = Array(size).fill(row).join(", ");
      const match = perWarehouse
        ? `target.${skuName} COLLATE BINARY = v.column1 AND target.${warehouse} = v.column2`
        : `target.${skuName} COLLATE BINARY = v.column1`;
      const value = `v.column${keyWidth + 1}`;
      const at = `v.column${keyWidth + 2}`;
      sql = observed
        ? `UPDATE ${table} AS target SET ${stock} = ${value}, ` +
          `${observed} = COALESCE(${at}, target.${observed}) ` +
          `FROM (VALUES ${values}) AS v WHERE ${match} ` +
          `AND (${at} IS NULL OR target.${observed} IS NULL OR target.${observed} <= ${at})`
        : `UPDATE ${table} AS target SET ${stock} = ${value} ` +
          `FROM (VALUES ${values}) AS v WHERE ${match}`;
      updates.set(size, sql);
    }
    return sql;
  }

  // Plain loops: this runs for every row of every batch, on the Worker's CPU budget.
  function keyParameters(keys) {
    const values = [];
    for (const key of keys) {
      values.push(key.sku);
      if (perWarehouse) values.push(key.warehouseId);
    }
    return values;
  }

  function changeParameters(changes) {
    const values = [];
    for (const change of changes) {
      values.push(change.sku);
      if (perWarehouse) values.push(change.warehouseId);
      values.push(change.stock);
      if (observed) values.push(change.observedAt ?? null);
    }
    return values;
  }

  /** Runs statements as one D1 call; turns a schema mistake into INVALID_CONFIG. */
  async function run(statements, failure) {
    try {
      return await db.batch(statements);
    } catch (cause) {
      throw describe(cause, failure);
    }
  }

  function describe(cause, failure) {
    const text = String(cause?.message ?? cause);
    const missing = /no such (table|column)/i.exec(text);
    if (missing) {
      const columns = [
        `skuColumn "${layout.skuColumn}"`,
        `stockColumn "${layout.stockColumn}"`,
        ...(perWarehouse ? [`warehouseColumn "${layout.warehouseColumn}"`] : []),
        ...(observed ? [`observedColumn "${layout.observedColumn}"`] : []),
      ];
      const options =
        missing[1].toLowerCase() === "table"
          ? `table "${layout.table}" (table)`
          : `a column of "${layout.table}" (${columns.join(", ")})`;
      return invalidConfig(
        `The D1 database has no ${options}: ${text}. Apply the migration that creates it, or fix the option.`,
        cause,
      );
    }
    return sinkFailed(failure, cause);
  }

  return {
    async read(keys) {
      rules.checkKeys(keys);
      if (keys.length === 0) return [];
      const statements = chunks(keys, keysPerSelect).map((chunk) =>
        db.prepare(selectFor(chunk.length)).bind(...keyParameters(chunk)),
      );
      const results = await run(
        statements,
        readFailure(layout.table),
      );
      const found = [];
      for (const result of results) {
        for (const row of result.results ?? []) {
          found.push(toSiteStock(row, perWarehouse));
        }
      }
      return found;
    },

    async write(changes) {
      const distinct = rules.checkChanges(changes);
      if (distinct.length === 0) return;
      const statements = chunks(distinct, changesPerUpdate).map((chunk) =>
        db.prepare(updateFor(chunk.length)).bind(...changeParameters(chunk)),
      );
      await run(
        statements,
        writeFailure(layout.table, distinct.length),
      );
    },

    async readAll() {
      const statement = db.prepare(
        `SELECT ${columns} FROM ${table} WHERE ${skuName} IS NOT NULL`,
      );
      const [result] = await run(
        [statement],
        readFailure(layout.table),
      );
      return (result.results ?? []).map((row) =>
        toSiteStock(row, perWarehouse),
      );
    },
  };
}
