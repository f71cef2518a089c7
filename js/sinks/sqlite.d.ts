import type { SiteStock, StockSink } from "./sink.js";

export type { SiteStock, StockChange, StockKey, StockSink } from "./sink.js";

/**
 * An open better-sqlite3 `Database`, as far as the sink uses it. Structural, so these typings need no
 * `@types/better-sqlite3`; a `Database` of those types fits it.
 */
export interface SqliteDatabaseLike {
  /** Whether the database is open. */
  readonly open: boolean;
  /** Compiles a statement. */
  prepare(source: string): unknown;
  /** Wraps a function so that it runs in one transaction. */
  transaction(fn: (...args: any[]) => unknown): unknown;
}

/** Where the stock lives: table and column names (validated as identifiers, then quoted). */
interface SqliteTableOptions {
  /** Table holding the stock rows, optionally `schema.table`. Default `"products"`. */
  table?: string;
  /** Column holding the SKU, matched exactly. Default `"sku"`. */
  skuColumn?: string;
  /** Column holding the stock in units. Default `"stock"`. */
  stockColumn?: string;
  /** Column holding the KeyCRM warehouse id; required for (and enables) per-warehouse keys. Default: none. */
  warehouseColumn?: string;
  /**
   * Integer column holding when each row's figure was observed in KeyCRM (Unix ms; BIGINT or wider). With it,
   * a figure observed earlier never overwrites a later one, even between processes: a full sync's page read
   * before a webhook arrived leaves the webhook's figure in place. NULL rows take any figure. Default: none.
   */
  observedColumn?: string;
  /**
   * Whether the sync writes fractional stock (its `fractional`, `--fractional`). With it, a stock column that keeps
   * whole numbers only (INTEGER in a STRICT table (in other tables SQLite keeps a fraction even in an INTEGER column)) is refused with INVALID_CONFIG when the sink is made: the database would round
   * 35.575 to 36, more than can be sold. Whatever this says, a fraction is never sent to such a column: the write
   * rejects with SINK_FAILED and writes nothing. Default `false`.
   */
  fractional?: boolean;
  /**
   * Longest time, in ms, a statement waits for a lock another connection holds (SQLite's busy timeout); past it the
   * call rejects with SINK_FAILED saying it timed out. For a file the sink opens (`path`); a `database` you give keeps
   * its own. `0`: no limit. Default `10000`.
   */
  statementTimeoutMs?: number;
}

/** Options of `createSqliteSink`: exactly one of `path` or `database`, plus the table layout. */
export type SqliteSinkOptions = SqliteTableOptions &
  (
    | {
        /** Path of an existing database file; the sink opens it, leaves its journal mode as it is, and `close()` closes it. */
        path: string;
        database?: undefined;
      }
    | {
        /** An already-open better-sqlite3 handle (`new Database(file)`); `close()` leaves it open. */
        database: SqliteDatabaseLike;
        path?: undefined;
      }
  );

/** A StockSink over one SQLite table. */
export interface SqliteSink extends StockSink {
  /** Every row whose SKU is not NULL. */
  readAll(): Promise<SiteStock[]>;
  /** Closes the database if the sink opened it (from `path`); idempotent. */
  close(): Promise<void>;
}

/**
 * Opens (or adopts) a SQLite database and returns a sink over one table.
 * Throws a KeyCrmSyncError with code "INVALID_CONFIG" if an option is invalid,
 * the file cannot be opened, or the table or a column does not exist.
 * Its methods reject with "SINK_FAILED" when the database fails. Synchronous, as better-sqlite3 is
 * (`createPostgresSink` and `createMysqlSink` return promises); `await` of it gives the same sink.
 */
export function createSqliteSink(options: SqliteSinkOptions): SqliteSink;

/** Options of `createSampleDatabase`. */
export interface SampleDatabaseOptions {
  /** SKUs to insert (or reset, if already there). */
  skus: string[];
  /** Table to create if missing. Default `"products"`. */
  table?: string;
  /** Initial stock of every row, in units. Default `0`. */
  stockValue?: number;
  /** When given, one row per SKU and warehouse id, in a `(sku, warehouse_id, stock)` table. Default `null`. */
  warehouseIds?: number[] | null;
}

/**
 * Creates (if missing) a sample table `(sku TEXT PRIMARY KEY, name TEXT, stock REAL)`,
 * or `(sku, warehouse_id, stock)` with `warehouseIds`, in the file at `path`,
 * and sets each SKU's stock to `stockValue`. For demos and tests.
 */
export function createSampleDatabase(
  path: string,
  options: SampleDatabaseOptions,
): void;
