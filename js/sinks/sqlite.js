// The SQLite sink: stock rows live in one table of a better-sqlite3 database.
// better-sqlite3 is synchronous; the sink's methods are async only to honour the
// StockSink contract, so every failure surfaces as a rejection.

import Database from "better-sqlite3";
import { isSyncError } from "../errors.js";
import { assertTableName, quoteIdentifier } from "./identifiers.js";
import {
  SERVER_OPTIONS,
  checkWholeNumbers,
  invalidConfig,
  keyRules,
  readFailure,
  readLayout,
  refuseFractionalInto,
  sinkFailed,
  siteStockColumns,
  timedOut,
  toSiteStock,
  writeFailure,
} from "./table.js";

// SQLite accepts far more bound parameters than this, but a few hundred keys
// per statement already amortise the per-statement cost.
const MAX_PARAMETERS = 500;

/**
 * Opens (or adopts) a SQLite database and returns a StockSink over one table.
 * @param {import("./sqlite.js").SqliteSinkOptions} options
 * @returns {import("./sqlite.js").SqliteSink}
 */
export function createSqliteSink(options) {
  const config = readOptions(options);
  const ownsDatabase = config.database === undefined;
  const db = config.database ?? openFile(config.path, config.statementTimeoutMs);
  // The journal mode is left as the file has it. WAL would let the site read
  // while a batch is written, but it is a lasting property of the file (a dry
  // run must change nothing) with costs of its own: -wal and -shm files beside
  // it, no network file systems. Whether to use it is the site's choice.
  let stockColumn;
  try {
    stockColumn = checkSchema(db, config);
    refuseFractionalInto(config, stockColumn);
  } catch (error) {
    if (ownsDatabase) db.close();
    throw isSyncError(error)
      ? error
      : sinkFailed(`Could not inspect table "${config.table}"`, error);
  }

  const rules = keyRules(config, "SQLite sink");
  const { perWarehouse } = rules;
  const table = quoteIdentifier(config.table);
  const stock = quoteIdentifier(config.stockColumn);
  const warehouse = perWarehouse ? quoteIdentifier(config.warehouseColumn) : "";
  const skuName = quoteIdentifier(config.skuColumn);
  // COLLATE BINARY keeps SKU matching exact even on a NOCASE column.
  const sku = `${skuName} COLLATE BINARY`;
  const keyMatch = perWarehouse ? `(${sku}, ${warehouse})` : sku;
  const observed =
    config.observedColumn === undefined
      ? ""
      : quoteIdentifier(config.observedColumn);
  const columns = siteStockColumns(config, quoteIdentifier);
  // A lock held past the busy timeout fails the call with SQLITE_BUSY. On a
  // handle the sink was given, the timeout is the handle's own.
  const failed = (message, cause) =>
    ownsDatabase && String(cause?.code).startsWith("SQLITE_BUSY")
      ? timedOut(message, config.statementTimeoutMs, cause)
      : sinkFailed(message, cause);
  const parametersPerKey = perWarehouse ? 2 : 1;
  const chunkSize = Math.floor(MAX_PARAMETERS / parametersPerKey);

  /** @type {Map<number, import("better-sqlite3").Statement>} */
  const selects = new Map();
  function selectFor(size) {
    let statement = selects.get(size);
    if (statement === undefined) {
      const placeholder = perWarehouse ? "(?, ?)" : "(?)";
      const list = Array(size).fill(placeholder).join(", ");
      statement = db.prepare(
        `SELECT ${columns} FROM ${table} WHERE ${keyMatch} IN (VALUES ${list})`,
      );
      selects.set(size, statement);
    }
    return statement;
  }

  /** @type {((changes: import("./sink.js").StockChange[]) => void) | undefined} */
  let writeAll;
  function prepareWrite() {
    const where = perWarehouse
      ? `${sku} = ? AND ${warehouse} = ?`
      : `${sku} = ?`;
    // With an observed column, a row observed later than the change (written
    // meanwhile by another process) is left as it is. Positional parameters
    // (the time bound three times): named ones cost a fifth more per row.
    const update = observed
      ? db.prepare(
          `UPDATE ${table} SET ${stock} = ?, ${observed} = coalesce(?, ${observed})
           WHERE ${where} AND (? IS NULL OR ${observed} IS NULL OR ${observed} <= ?)`,
        )
      : db.prepare(`UPDATE ${table} SET ${stock} = ? WHERE ${where}`);
    const run = db.transaction((changes) => {
      for (const change of changes) {
        if (observed) {
          const at = change.observedAt ?? null;
          update.run(change.stock, at, ...keyParameters(change), at, at);
        } else {
          update.run(change.stock, ...keyParameters(change));
        }
      }
    });
    // IMMEDIATE takes the write lock up front, so a concurrent writer makes us
    // wait (busy timeout) instead of failing halfway through upgrading a read lock.
    return run.immediate;
  }

  function keyParameters(key) {
    return perWarehouse ? [key.sku, key.warehouseId] : [key.sku];
  }

  return {
    async read(keys) {
      rules.checkKeys(keys);
      const found = [];
      try {
        for (let start = 0; start < keys.length; start += chunkSize) {
          const chunk = keys.slice(start, start + chunkSize);
          // Round the statement size up to a power of two, padding with the last
          // key (a repeat in IN changes nothing), so a handful of cached
          // statements serves every batch size.
          const size = Math.min(
            chunkSize,
            2 ** Math.ceil(Math.log2(chunk.length)),
          );
          while (chunk.length < size) chunk.push(chunk[chunk.length - 1]);
          for (const row of selectFor(size).all(chunk.flatMap(keyParameters))) {
            found.push(toSiteStock(row, perWarehouse));
          }
        }
      } catch (cause) {
        throw failed(readFailure(config.table), cause);
      }
      return found;
    },

    async write(changes) {
      const distinct = rules.checkChanges(changes);
      checkWholeNumbers(distinct, stockColumn, config);
      if (distinct.length === 0) return;
      try {
        writeAll ??= prepareWrite();
        writeAll(distinct);
      } catch (cause) {
        throw failed(writeFailure(config.table, changes.length), cause);
      }
    },

    async readAll() {
      try {
        const all = db
          .prepare(
            `SELECT ${columns} FROM ${table} WHERE ${skuName} IS NOT NULL`,
          )
          .all();
        return all.map((row) => toSiteStock(row, perWarehouse));
      } catch (cause) {
        throw failed(readFailure(config.table), cause);
      }
    },

    async close() {
      if (!ownsDatabase || !db.open) return;
      try {
        db.close();
      } catch (cause) {
        throw sinkFailed("Could not close the SQLite database", cause);
      }
    },
  };
}

/**
 * Creates the sample table if missing and sets the given SKUs to `stockValue`
 * (inserting them, or resetting them if they are already there).
 * @param {string} path
 * @param {import("./sqlite.js").SampleDatabaseOptions} options
 */
export function createSampleDatabase(
  path,
  { skus, table = "products", stockValue = 0, warehouseIds = null },
) {
  const name = quoteIdentifier(assertTableName(table));
  if (!Array.isArray(skus)) {
    throw invalidConfig("createSampleDatabase needs skus: an array of SKUs.");
  }
  const perWarehouse = warehouseIds !== null;
  const rows = perWarehouse
    ? skus.flatMap((sku) => warehouseIds.map((id) => [sku, id, stockValue]))
    : skus.map((sku) => [sku, stockValue]);
  const db = new Database(path);
  try {
    db.pragma("journal_mode = WAL");
    if (perWarehouse) {
      db.exec(`CREATE TABLE IF NOT EXISTS ${name}
        (sku TEXT, warehouse_id INTEGER, stock REAL, PRIMARY KEY (sku, warehouse_id))`);
    } else {
      db.exec(
        `CREATE TABLE IF NOT EXISTS ${name} (sku TEXT PRIMARY KEY, name TEXT, stock REAL)`,
      );
    }
    const upsert = perWarehouse
      ? db.prepare(`INSERT INTO ${name} (sku, warehouse_id, stock) VALUES (?, ?, ?)
          ON CONFLICT (sku, warehouse_id) DO UPDATE SET stock = excluded.stock`)
      : db.prepare(`INSERT INTO ${name} (sku, stock) VALUES (?, ?)
          ON CONFLICT (sku) DO UPDATE SET stock = excluded.stock`);
    db.transaction(() => rows.forEach((row) => upsert.run(row)))();
  } finally {
    db.close();
  }
}

function readOptions(options) {
  const layout = readLayout(
    options,
    "SQLite sink",
    {
      path: "a database file",
      database: "an open better-sqlite3 Database",
    },
    SERVER_OPTIONS,
  );
  const { path, database } = options;
  if (path !== undefined && (typeof path !== "string" || path === "")) {
    throw invalidConfig(
      `The SQLite sink's path must be a file path, not ${JSON.stringify(path)}.`,
    );
  }
  if (database !== undefined && typeof database?.prepare !== "function") {
    throw invalidConfig(
      "The SQLite sink's database must be an open better-sqlite3 Database.",
    );
  }
  return { ...layout, path, database };
}

function openFile(path, timeoutMs) {
  try {
    // fileMustExist: a mistyped path should fail here, not leave an empty
    // database behind and then report a missing table. timeout: how long a
    // statement waits for a lock the site holds (SQLite's busy timeout); 0 waits
    // not at all, so "no limit" is the largest SQLite takes.
    return new Database(path, {
      fileMustExist: true,
      timeout: timeoutMs === 0 ? 2_147_483_647 : timeoutMs,
    });
  } catch (cause) {
    throw invalidConfig(
      `Cannot open the SQLite database ${JSON.stringify(path)}: ${cause.message}.`,
      cause,
    );
  }
}

/**
 * Throws INVALID_CONFIG unless the table and every configured column exist;
 * returns the stock column's declared type and whether it holds whole numbers only.
 */
function checkSchema(db, config) {
  const [schema, table] = config.table.includes(".")
    ? config.table.split(".")
    : ["main", config.table];
  const schemas = db
    .prepare("SELECT name FROM pragma_database_list")
    .pluck()
    .all();
  if (!schemas.some((name) => name.toLowerCase() === schema.toLowerCase())) {
    throw invalidConfig(
      `No attached database "${schema}" for table "${config.table}" (table, --table); attached: ${schemas.join(", ")}.`,
    );
  }
  const declared = db
    .prepare("SELECT name, type FROM pragma_table_info(?, ?)")
    .all(table, schema);
  const columns = declared.map((column) => column.name);
  if (columns.length === 0) {
    const tables = db
      .prepare(
        `SELECT name FROM ${quoteIdentifier(schema)}.sqlite_master
         WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name`,
      )
      .pluck()
      .all();
    throw invalidConfig(
      `Table "${config.table}" (table, --table) does not exist; tables found: ${tables.join(", ") || "none"}.`,
    );
  }
  const wanted = [
    ["skuColumn", "--sku-column", config.skuColumn],
    ["stockColumn", "--stock-column", config.stockColumn],
    ["warehouseColumn", "--warehouse-column", config.warehouseColumn],
    ["observedColumn", "--observed-column", config.observedColumn],
  ];
  for (const [option, flag, column] of wanted) {
    // SQLite resolves names case-insensitively, so the check does too.
    if (
      column === undefined ||
      columns.some((name) => name.toLowerCase() === column.toLowerCase())
    ) {
      continue;
    }
    throw invalidConfig(
      `Table "${config.table}" has no column "${column}" (${option}, ${flag}); its columns are: ${columns.join(", ")}.`,
    );
  }
  const stock = declared.find(
    (column) => column.name.toLowerCase() === config.stockColumn.toLowerCase(),
  );
  const whole = /^INT(EGER)?$/i.test(stock.type) && isStrict(db, schema, table);
  return { type: stock.type, whole };
}

// In an ordinary table a column's type is only an affinity, and a REAL that is
// not a whole number stays a REAL even in an INTEGER column: nothing is
// rounded. Only a STRICT table's INTEGER column keeps whole numbers alone (and
// refuses the rest).
function isStrict(db, schema, table) {
  const row = db
    .prepare(
      "SELECT strict FROM pragma_table_list(?) WHERE schema = ? COLLATE NOCASE",
    )
    .get(table, schema);
  return row?.strict === 1;
}
