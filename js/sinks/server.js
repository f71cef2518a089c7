// What the PostgreSQL and MySQL sinks share: a database server reached through
// a driver, made into a StockSink. Each sink says how to connect, how to check
// its table, and how to run one chunk's SELECT and UPDATE in its dialect; this
// file does the rest the same way for both: the checks every batch goes through,
// chunking, keeping only the exact matches a query returns, one transaction per
// write, and failures that name the table.

import {
  SERVER_OPTIONS,
  checkWholeNumbers,
  keyRules,
  readFailure,
  readLayout,
  refuseFractionalInto,
  sinkFailed,
  timedOut,
  toSiteStock,
  writeFailure,
} from "./table.js";

/**
 * @typedef {object} ServerDatabase a connection or pool, as the sink uses it
 * @property {(work: (run: Function) => Promise<void>) => Promise<void>} transaction
 *   runs `work` in one transaction; `run` executes one statement in it
 * @property {() => Promise<void>} close ends only what the sink opened
 */

/**
 * @typedef {object} StockColumn what the schema check learnt of the stock column
 * @property {string} type its type, as the database names it
 * @property {boolean} whole whether it holds whole numbers only (integer types),
 *   where the database would round a fraction
 */

/**
 * @typedef {object} Dialect the statements of one table, for one layout
 * @property {(items: any[]) => any[][]} chunk splits keys or changes into statements' worth
 * @property {(db: ServerDatabase, keys: any[]) => Promise<object[]>} select the rows of
 *   these keys (a superset is fine: only exact matches are kept)
 * @property {(run: Function, changes: any[]) => Promise<void>} update writes these changes
 * @property {(db: ServerDatabase) => Promise<object[]>} selectAll every row with a SKU
 * @property {(sku: string) => boolean} [storable] whether a SKU can be in the table
 *   at all; keys that cannot are read as absent and their changes dropped
 * @property {(cause: unknown) => boolean} isTimeout whether a driver error is the
 *   database ending a statement at statementTimeoutMs
 */

/**
 * @param {{ sink: string, options: unknown, connections: Record<string, string>,
 *   connect: (kind: string, handle: unknown, layout: object) => Promise<ServerDatabase>,
 *   checkSchema: (db: ServerDatabase, layout: object) => Promise<StockColumn>,
 *   dialect: (layout: object, perWarehouse: boolean) => Dialect }} server
 */
export async function createServerSink({ sink, options, connections, connect, checkSchema, dialect }) {
  const layout = readLayout(options, sink, connections, SERVER_OPTIONS);
  const db = await connect(layout.connection, options[layout.connection], layout);
  let stockColumn;
  try {
    stockColumn = await checkSchema(db, layout);
    refuseFractionalInto(layout, stockColumn);
  } catch (error) {
    await db.close();
    throw error;
  }
  const keys = keyRules(layout, sink);
  const { perWarehouse, idOf } = keys;
  const statements = dialect(layout, perWarehouse);
  const storable = statements.storable ?? (() => true);
  /** The sink's error for a failed statement: a timeout says so. */
  const failed = (message, cause) =>
    statements.isTimeout(cause)
      ? timedOut(message, layout.statementTimeoutMs, cause)
      : sinkFailed(message, cause);

  return {
    async read(asked) {
      keys.checkKeys(asked);
      // A key the table cannot hold is absent; asking for it would fail the
      // whole batch.
      const requested = asked.filter((key) => storable(key.sku));
      const found = [];
      try {
        for (const batch of statements.chunk(requested)) {
          const rows = await statements.select(db, batch);
          // A query may match near-misses ('ABC ' for 'abc' under a PAD SPACE
          // collation, other pairings of the SKUs and warehouses asked for).
          const wanted = new Set(batch.map(idOf));
          for (const row of rows) {
            const site = toSiteStock(row, perWarehouse);
            if (wanted.has(idOf(site))) found.push(site);
          }
        }
      } catch (cause) {
        throw failed(readFailure(layout.table), cause);
      }
      return found;
    },

    async write(changes) {
      // A row the table cannot hold is not there to update.
      const batch = keys
        .checkChanges(changes)
        .filter((change) => storable(change.sku));
      checkWholeNumbers(batch, stockColumn, layout);
      if (batch.length === 0) return;
      try {
        await db.transaction(async (run) => {
          for (const part of statements.chunk(batch)) {
            await statements.update(run, part);
          }
        });
      } catch (cause) {
        throw failed(writeFailure(layout.table, batch.length), cause);
      }
    },

    async readAll() {
      try {
        const rows = await statements.selectAll(db);
        return rows.map((row) => toSiteStock(row, perWarehouse));
      } catch (cause) {
        throw failed(readFailure(layout.table), cause);
      }
    },

    async close() {
      await db.close();
    },
  };
}
