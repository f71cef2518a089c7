// What the SQL sinks share: the table layout options, the checks every batch of
// keys and changes goes through, and turning the database's rows into SiteStock.
// Each sink keeps its own SQL; only the rules around it are common.

import { syncError } from "../errors.js";
import { assertIdentifier, assertTableName } from "./identifiers.js";

/** Options naming where the stock lives, common to every SQL sink. */
const LAYOUT_OPTIONS = [
  "table",
  "skuColumn",
  "stockColumn",
  "warehouseColumn",
  "observedColumn",
];

/** Options of the SQLite, PostgreSQL and MySQL sinks beyond the layout. */
export const SERVER_OPTIONS = ["fractional", "statementTimeoutMs"];

/** How long one statement, or one wait for a lock, may take by default. */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 10_000;

// PostgreSQL's statement_timeout is a 32-bit count of ms.
const MAX_STATEMENT_TIMEOUT_MS = 2_147_483_647;

/**
 * Checks an options bag: no unknown names, exactly one way to reach the
 * database, valid identifiers. Returns the layout plus the connection option.
 * @param {unknown} options
 * @param {string} sink e.g. "PostgreSQL sink"
 * @param {Record<string, string>} connections option name → what it is, e.g.
 *   `{ url: "a postgres:// URL", pool: "a pg.Pool" }`
 * @param {string[]} [extra] further option names this sink knows, e.g. SERVER_OPTIONS
 */
export function readLayout(options, sink, connections, extra = []) {
  const ways = Object.keys(connections);
  const choices = ways
    .map((name) => `${name} (${connections[name]})`)
    .join(", ");
  if (options === null || typeof options !== "object") {
    throw invalidConfig(
      `The ${sink} needs an options object with one of: ${choices}.`,
    );
  }
  const known = [...ways, ...LAYOUT_OPTIONS, ...extra];
  for (const name of Object.keys(options)) {
    if (!known.includes(name)) {
      throw invalidConfig(
        `Unknown ${sink} option "${name}"; known: ${known.join(", ")}.`,
      );
    }
  }
  const given = ways.filter((name) => options[name] !== undefined);
  if (given.length !== 1) {
    throw invalidConfig(`Give the ${sink} exactly one of: ${choices}.`);
  }
  const { warehouseColumn, observedColumn } = options;
  return {
    connection: given[0],
    ...(extra.includes("fractional") ? { fractional: readFractional(options) } : {}),
    ...(extra.includes("statementTimeoutMs")
      ? { statementTimeoutMs: readStatementTimeout(options) }
      : {}),
    table: assertTableName(options.table ?? "products", "table"),
    skuColumn: assertIdentifier(options.skuColumn ?? "sku", "skuColumn"),
    stockColumn: assertIdentifier(
      options.stockColumn ?? "stock",
      "stockColumn",
    ),
    warehouseColumn:
      warehouseColumn === undefined
        ? undefined
        : assertIdentifier(warehouseColumn, "warehouseColumn"),
    observedColumn:
      observedColumn === undefined
        ? undefined
        : assertIdentifier(observedColumn, "observedColumn"),
  };
}

function readFractional({ fractional = false }) {
  if (typeof fractional === "boolean") return fractional;
  throw invalidConfig(
    `fractional (--fractional) must be true or false, not ${JSON.stringify(fractional)}.`,
  );
}

function readStatementTimeout({
  statementTimeoutMs = DEFAULT_STATEMENT_TIMEOUT_MS,
}) {
  if (
    Number.isInteger(statementTimeoutMs) &&
    statementTimeoutMs >= 0 &&
    statementTimeoutMs <= MAX_STATEMENT_TIMEOUT_MS
  ) {
    return statementTimeoutMs;
  }
  throw invalidConfig(
    `statementTimeoutMs must be a whole number of milliseconds from 0 (no limit) to ${MAX_STATEMENT_TIMEOUT_MS}, not ${JSON.stringify(statementTimeoutMs)}.`,
  );
}

/**
 * Refuses `fractional` for a stock column that keeps whole numbers only: the
 * database would round 35.575 to 36, more than can be sold.
 * @param {{ fractional?: boolean, table: string, stockColumn: string }} layout
 * @param {import("./server.js").StockColumn} column
 */
export function refuseFractionalInto(layout, column) {
  if (!layout.fractional || !column.whole) return;
  throw invalidConfig(
    `Column "${layout.stockColumn}" of table "${layout.table}" (stockColumn, --stock-column) is ${column.type} and holds whole numbers only, so fractional stock (fractional, --fractional) would be rounded, at times up. Give the column a type that keeps fractions (e.g. numeric(14,3)), or sync whole units.`,
  );
}

/**
 * Refuses a batch holding a fraction for a column of whole numbers, before any
 * statement: the database would round it, at times up.
 * @param {import("./sink.js").StockChange[]} changes
 * @param {import("./server.js").StockColumn} column
 * @param {{ table: string, stockColumn: string }} layout
 */
export function checkWholeNumbers(changes, column, layout) {
  if (!column.whole) return;
  for (const { sku, stock } of changes) {
    if (stock === null || Number.isInteger(stock)) continue;
    throw sinkFailed(
      `Stock ${stock} for SKU "${sku}" has a fraction, and column "${layout.stockColumn}" of table "${layout.table}" holds whole numbers only: the database would round it, at times up; nothing was written. Give the column a type that keeps fractions, or sync whole units`,
    );
  }
}

/**
 * SINK_FAILED for a statement the database ended because it ran, or waited for
 * a lock, longer than statementTimeoutMs.
 * @param {string} message what failed, e.g. from readFailure()
 * @param {number} timeoutMs
 * @param {unknown} cause the driver's error
 */
export function timedOut(message, timeoutMs, cause) {
  return sinkFailed(
    `${message}: timed out: the database gave up after ${timeoutMs} ms (statementTimeoutMs) running the statement or waiting for a lock another transaction holds`,
    cause,
  );
}

/**
 * The checks every read and write starts with, and the key rules of one table.
 * @param {{ warehouseColumn?: string }} layout
 * @param {string} sink e.g. "PostgreSQL sink"
 */
export function keyRules(layout, sink) {
  const perWarehouse = layout.warehouseColumn !== undefined;
  /** A string naming a key, equal for equal keys. */
  const idOf = perWarehouse
    ? (key) => `${key.warehouseId}\u0000${key.sku}`
    : (key) => key.sku;

  return {
    perWarehouse,
    idOf,

    /** Throws INVALID_CONFIG when keys and the warehouse column disagree. */
    checkKeys(keys) {
      for (const key of keys) {
        const hasWarehouse =
          key.warehouseId !== undefined && key.warehouseId !== null;
        if (hasWarehouse === perWarehouse) continue;
        throw invalidConfig(
          perWarehouse
            ? `The ${sink} has warehouseColumn "${layout.warehouseColumn}", so every key needs a warehouseId; SKU "${key.sku}" has none.`
            : "Per-warehouse keys need the warehouseColumn option (--warehouse-column) naming the table's warehouse id column.",
        );
      }
    },

    /**
     * Checks the keys and the values of a batch and returns it with one change
     * per key, the last one given winning, as if the changes were applied in order.
     * @param {import("./sink.js").StockChange[]} changes
     * @returns {import("./sink.js").StockChange[]}
     */
    checkChanges(changes) {
      this.checkKeys(changes);
      for (const change of changes) {
        if (change.stock !== null && !Number.isFinite(change.stock)) {
          throw sinkFailed(
            `Stock for SKU "${change.sku}" is neither a finite number nor null; nothing was written`,
          );
        }
      }
      const last = new Map();
      for (const change of changes) last.set(idOf(change), change);
      return last.size === changes.length ? changes : [...last.values()];
    },
  };
}

/** Splits `items` into arrays of at most `size`. */
export function chunks(items, size) {
  const out = [];
  for (let start = 0; start < items.length; start += size) {
    out.push(items.slice(start, start + size));
  }
  return out;
}

/**
 * The SELECT list that reads a row as {@link toSiteStock} takes it: `sku`,
 * `stock`, and `warehouseId` and `observedAt` where the layout has those columns.
 * @param {{ skuColumn: string, stockColumn: string, warehouseColumn?: string,
 *   observedColumn?: string }} layout
 * @param {(name: string) => string} quote the dialect's identifier quoting
 * @param {(alias: string) => string} [alias] how an alias keeps its case
 */
export function siteStockColumns(layout, quote, alias = (name) => name) {
  return [
    [layout.skuColumn, "sku"],
    [layout.warehouseColumn, "warehouseId"],
    [layout.stockColumn, "stock"],
    [layout.observedColumn, "observedAt"],
  ]
    .filter(([column]) => column !== undefined)
    .map(([column, name]) => `${quote(column)} AS ${alias(name)}`)
    .join(", ");
}

/**
 * A database row (`sku`, `stock`, `warehouseId` per warehouse, `observedAt` where
 * the table keeps it) as SiteStock. A row never written with a time has none.
 */
export function toSiteStock(row, perWarehouse) {
  const site = perWarehouse
    ? {
        sku: String(row.sku),
        warehouseId: Number(row.warehouseId),
        stock: toStock(row.stock),
      }
    : { sku: String(row.sku), stock: toStock(row.stock) };
  const observedAt = toStock(row.observedAt);
  if (observedAt !== null) site.observedAt = observedAt;
  return site;
}

// A stock column may hold whatever the site put there; anything that is not a
// number reads as null, so the next write replaces it. Drivers return DECIMAL,
// NUMERIC and BIGINT as strings (or bigints) to keep their precision; stock fits
// a double.
function toStock(value) {
  const number =
    typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  if (typeof number === "bigint") return Number(number);
  return typeof number === "number" && Number.isFinite(number) ? number : null;
}

export function invalidConfig(message, cause) {
  return syncError("INVALID_CONFIG", message, cause);
}

/** What a failed read says, before the driver's reason. */
export function readFailure(table) {
  return `Could not read stock from table "${table}"`;
}

/** What a failed write says: a write is one transaction, so nothing of it stayed. */
export function writeFailure(table, count) {
  return `Could not write ${count} stock changes to table "${table}"; none of them were written`;
}

/** SINK_FAILED with the driver's reason appended (its code and message, no SQL). */
export function sinkFailed(message, cause) {
  const reason =
    cause === undefined ? "" : `: ${codeOf(cause)}: ${cause?.message ?? cause}`;
  return syncError("SINK_FAILED", message + reason, cause);
}

// mysql2 names a server error after MySQL's list, which MariaDB's numbers do not
// always follow (its CHECK failure, 4025, reads as an InnoDB error there); the
// SQLSTATE and number are the same everywhere.
function codeOf(cause) {
  if (typeof cause?.sqlMessage === "string" && cause.sqlState) {
    return `SQLSTATE ${cause.sqlState} (error ${cause.errno})`;
  }
  return cause?.code ?? cause?.name;
}

/**
 * Imports an optional driver, or explains how to get it.
 * @param {string} specifier e.g. "pg"
 * @param {string} uses e.g. "postgres:// databases"
 */
export async function importDriver(specifier, uses) {
  try {
    const module = await import(specifier);
    return module.default ?? module;
  } catch (cause) {
    const name = specifier.split("/")[0];
    const missing =
      cause?.code === "ERR_MODULE_NOT_FOUND" &&
      String(cause.message).includes(`'${name}`);
    throw invalidConfig(
      missing
        ? `install ${name} to use ${uses} (npm install ${name})`
        : `Could not load ${name}: ${cause?.message ?? cause}`,
      cause,
    );
  }
}
