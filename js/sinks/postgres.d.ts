import type { SiteStock, StockSink } from "./sink.js";

export type { SiteStock, StockChange, StockKey, StockSink } from "./sink.js";

/** A query as the sink sends it: pg's query config object. */
export interface PostgresQuery {
  /** SQL text with `$1`-style placeholders. */
  text: string;
  /** Bound values; arrays travel as PostgreSQL arrays. */
  values?: unknown[];
  /** Prepared-statement name, derived from the text, so it is planned once per connection. */
  name?: string;
}

/** The part of a pg query result the sink reads. */
export interface PostgresResult {
  /** Result rows as objects keyed by column name. */
  rows: Array<Record<string, unknown>>;
}

/** A connected pg.Client (or anything that queries like one). */
export interface PostgresClient {
  /** Runs one statement. */
  query(query: PostgresQuery): Promise<PostgresResult>;
}

/** A client checked out of a pool. */
export interface PostgresPoolClient extends PostgresClient {
  /** Returns the client to the pool; `true` (or an Error) discards it instead. */
  release(discard?: boolean | Error): void;
}

/** A pg.Pool (or anything that pools like one). */
export interface PostgresPool extends PostgresClient {
  /** Checks a client out for a transaction. */
  connect(): Promise<PostgresPoolClient>;
}

/** Where the stock lives: names are validated as identifiers, then double-quoted, so they are case-sensitive. */
interface PostgresTableOptions {
  /** Table holding the stock rows, optionally `schema.table`; unqualified names follow the search_path. Default `"products"`. */
  table?: string;
  /** Text column holding the SKU, matched exactly. Default `"sku"`. */
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
   * whole numbers only (integer, smallint, bigint or numeric(p, 0)) is refused with INVALID_CONFIG when the sink is made: the database would round
   * 35.575 to 36, more than can be sold. Whatever this says, a fraction is never sent to such a column: the write
   * rejects with SINK_FAILED and writes nothing. Default `false`.
   */
  fractional?: boolean;
  /**
   * Longest time, in ms, one statement may run or wait for a row or table lock another transaction holds; past it the server
   * ends the statement and the call rejects with SINK_FAILED saying it timed out. Set as `statement_timeout` and
   * `lock_timeout`: for the sink's whole session when it opens the connection (`url`), else with SET LOCAL in each
   * of its transactions (writes), leaving your pool's or client's settings as they are. `0`: no limit. Default `10000`.
   */
  statementTimeoutMs?: number;
}

/** Options of `createPostgresSink`: exactly one of `url`, `pool` or `client`, plus the table layout. */
export type PostgresSinkOptions = PostgresTableOptions &
  (
    | {
        /** A `postgres://` or `postgresql://` connection string; the sink opens one connection (pg must be installed) and `close()` ends it. A password holding `/ ? # @ :` or `%` must be percent-encoded (`/` as `%2F`); a URL that cannot be read as user:password@host/database is INVALID_CONFIG. */
        url: string;
        pool?: undefined;
        client?: undefined;
      }
    | {
        /** Your pg.Pool; each batch is written on a client checked out of it, and `close()` leaves the pool open. */
        pool: PostgresPool;
        url?: undefined;
        client?: undefined;
      }
    | {
        /** Your connected pg.Client, used for everything including transactions; don't share it with concurrent work. `close()` leaves it open. */
        client: PostgresClient;
        url?: undefined;
        pool?: undefined;
      }
  );

/** A StockSink over one PostgreSQL table. */
export interface PostgresSink extends StockSink {
  /** Every row whose SKU is not NULL. */
  readAll(): Promise<SiteStock[]>;
  /** Ends the connection if the sink opened it (from `url`); idempotent. */
  close(): Promise<void>;
}

/**
 * Connects (or adopts a pool or client), checks that the table and columns exist,
 * and returns a sink over the table. A batch is one transaction and one statement
 * per 1 024 rows. Rejects with a KeyCrmSyncError "INVALID_CONFIG" for a bad
 * option, a missing table or column, a missing pg package, or a wrong user,
 * password or database; "SINK_FAILED" when the server cannot be reached.
 * Its methods reject with "SINK_FAILED" when the database fails.
 */
export function createPostgresSink(
  options: PostgresSinkOptions,
): Promise<PostgresSink>;
