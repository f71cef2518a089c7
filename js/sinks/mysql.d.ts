import type { SiteStock, StockSink } from "./sink.js";

export type { SiteStock, StockChange, StockKey, StockSink } from "./sink.js";

/** A value the sink binds: a SKU, a stock figure, a warehouse id, or NULL. */
export type MysqlValue = string | number | null;

/** A connection of mysql2's promise API (or anything that runs statements like one). */
export interface MysqlConnection {
  /** Runs a prepared statement with `?` placeholders; resolves to `[rows, fields]`. */
  execute(sql: string, values?: MysqlValue[]): Promise<[unknown, unknown]>;
  /** Runs a statement without parameters; resolves to `[rows, fields]`. */
  query(sql: string): Promise<[unknown, unknown]>;
  /** Starts a transaction. */
  beginTransaction(): Promise<void>;
  /** Commits the transaction. */
  commit(): Promise<void>;
  /** Rolls the transaction back. */
  rollback(): Promise<void>;
}

/** A connection checked out of a pool. */
export interface MysqlPoolConnection extends MysqlConnection {
  /** Returns the connection to the pool. */
  release(): void;
  /** Closes the connection instead of returning it (after a failed rollback). */
  destroy(): void;
}

/** A pool of mysql2's promise API (or anything that pools like one). */
export interface MysqlPool {
  /** Runs a prepared statement on any pooled connection; resolves to `[rows, fields]`. */
  execute(sql: string, values?: MysqlValue[]): Promise<[unknown, unknown]>;
  /** Runs a statement without parameters on any pooled connection. */
  query(sql: string): Promise<[unknown, unknown]>;
  /** Checks a connection out for a transaction. */
  getConnection(): Promise<MysqlPoolConnection>;
}

/** A callback-style mysql2 pool or connection; the sink uses its `.promise()` twin. */
export interface MysqlCallbackHandle<T> {
  /** The same pool or connection with the promise API. */
  promise(): T;
}

/** Where the stock lives: names are validated as identifiers, then quoted with backticks. */
interface MysqlTableOptions {
  /** Table holding the stock rows, optionally `database.table`; unqualified names are in the connection's database. Default `"products"`. */
  table?: string;
  /** Text column holding the SKU; matched exactly (by its UTF-8 bytes) whatever its collation. Default `"sku"`. */
  skuColumn?: string;
  /** Numeric (or text) column holding the stock in units; fractions are kept as the column's type allows. Default `"stock"`. */
  stockColumn?: string;
  /** Integer column holding the KeyCRM warehouse id; required for (and enables) per-warehouse keys. Default: none. */
  warehouseColumn?: string;
  /**
   * Integer column holding when each row's figure was observed in KeyCRM (Unix ms; BIGINT or wider). With it,
   * a figure observed earlier never overwrites a later one, even between processes: a full sync's page read
   * before a webhook arrived leaves the webhook's figure in place. NULL rows take any figure. Default: none.
   */
  observedColumn?: string;
  /**
   * Whether the sync writes fractional stock (its `fractional`, `--fractional`). With it, a stock column that keeps
   * whole numbers only (an integer type or DECIMAL(p, 0)) is refused with INVALID_CONFIG when the sink is made: the database would round
   * 35.575 to 36, more than can be sold. Whatever this says, a fraction is never sent to such a column: the write
   * rejects with SINK_FAILED and writes nothing. Default `false`.
   */
  fractional?: boolean;
  /**
   * Longest time, in ms, one statement may run or wait for a lock another transaction holds; past it the server ends
   * the statement and the call rejects with SINK_FAILED saying it timed out. Applied to the connections the sink opens
   * (`url`): `innodb_lock_wait_timeout` and `lock_wait_timeout` in whole seconds (at least 1), and MariaDB's
   * `max_statement_time` or MySQL's `max_execution_time` (SELECTs only). A pool or connection you give keeps its own
   * settings. `0`: no limit. Default `10000`.
   */
  statementTimeoutMs?: number;
}

/** Options of `createMysqlSink`: exactly one of `url`, `pool` or `connection`, plus the table layout. */
export type MysqlSinkOptions = MysqlTableOptions &
  (
    | {
        /** A `mysql://` or `mariadb://` URL naming the database; the sink opens one utf8mb4 connection (mysql2 must be installed) and `close()` ends it. A password holding `/ ? # @ :` or `%` must be percent-encoded (`/` as `%2F`); a URL that cannot be read as user:password@host/database is INVALID_CONFIG. */
        url: string;
        pool?: undefined;
        connection?: undefined;
      }
    | {
        /** Your mysql2 pool (promise or callback API); `close()` leaves it open. */
        pool: MysqlPool | MysqlCallbackHandle<MysqlPool>;
        url?: undefined;
        connection?: undefined;
      }
    | {
        /** Your mysql2 connection (promise or callback API), used for everything including transactions; `close()` leaves it open. */
        connection: MysqlConnection | MysqlCallbackHandle<MysqlConnection>;
        url?: undefined;
        pool?: undefined;
      }
  );

/** A StockSink over one MySQL or MariaDB table. */
export interface MysqlSink extends StockSink {
  /** Every row whose SKU is not NULL. */
  readAll(): Promise<SiteStock[]>;
  /** Ends the connection if the sink opened it (from `url`); idempotent. */
  close(): Promise<void>;
}

/**
 * Connects (or adopts a pool or connection), checks that the table and columns
 * exist, and returns a sink over the table. A batch is one transaction (atomic on
 * InnoDB; MyISAM tables have no transactions) and one statement per 1 024 rows.
 * Rejects with a KeyCrmSyncError "INVALID_CONFIG" for a bad option, a missing
 * table or column, a missing mysql2 package, or a wrong user, password or
 * database; "SINK_FAILED" when the server cannot be reached. Its methods reject
 * with "SINK_FAILED" when the database fails.
 */
export function createMysqlSink(options: MysqlSinkOptions): Promise<MysqlSink>;
