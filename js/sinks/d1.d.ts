import type { SiteStock, StockSink } from "./sink.js";

export type { SiteStock, StockChange, StockKey, StockSink } from "./sink.js";

/** A value D1 binds to a `?` placeholder. */
export type D1Value = string | number | boolean | null | ArrayBuffer;

/**
 * A prepared D1 statement, as far as this package uses it. Structural, so the
 * binding's own type from `@cloudflare/workers-types` fits without depending on it.
 */
export interface D1PreparedStatementLike {
  /** Returns the statement with these values bound to its placeholders, in order. */
  bind(...values: D1Value[]): D1PreparedStatementLike;
}

/** One statement's outcome in a `batch()`. */
export interface D1ResultLike {
  /** Rows a SELECT returned; empty for other statements. */
  results?: unknown[];
}

/**
 * A D1 database binding (`env.DB`), as far as this package uses it; the
 * `D1Database` of `@cloudflare/workers-types` satisfies it.
 */
export interface D1DatabaseLike {
  /** Prepares a statement; no call to D1 until it runs. */
  prepare(query: string): D1PreparedStatementLike;
  /** Runs statements in order as one transaction: one call to D1 (one subrequest). */
  batch(statements: D1PreparedStatementLike[]): Promise<D1ResultLike[]>;
}

/** Options of {@link createD1Sink}. Names are validated as identifiers, then quoted. */
export interface D1SinkOptions {
  /** The D1 binding, e.g. `env.DB`. Required. */
  database: D1DatabaseLike;
  /** Table holding the stock rows. Default `"products"`. */
  table?: string;
  /** Column holding the SKU, matched exactly (binary), even on a NOCASE column. Default `"sku"`. */
  skuColumn?: string;
  /** Column holding the stock in units. Default `"stock"`. */
  stockColumn?: string;
  /** Column holding the KeyCRM warehouse id; required for (and enables) per-warehouse keys. Default: none. */
  warehouseColumn?: string;
  /**
   * Integer column holding when each row's figure was observed in KeyCRM (Unix ms). With it, a figure
   * observed earlier never overwrites a later one, even across invocations: a cron page read before a
   * webhook arrived leaves the webhook's figure in place. NULL rows take any figure. Default: none.
   */
  observedColumn?: string;
}

/** A StockSink over one D1 table. Each call is one D1 call (one subrequest on Workers). */
export interface D1Sink extends StockSink {
  /** Every row whose SKU is not NULL. */
  readAll(): Promise<SiteStock[]>;
}

/** D1's cap on bound parameters in one statement: `100`. */
export const D1_MAX_PARAMETERS: number;

/**
 * Returns a sink over one table of a D1 database: `read` is one `batch()` of
 * SELECTs, `write` one `batch()` of UPDATEs (one transaction, all or nothing,
 * never inserting), at most 100 bound parameters per statement.
 * Throws a KeyCrmSyncError coded "INVALID_CONFIG" for an invalid option; its
 * methods reject with "INVALID_CONFIG" when the table or a column is missing and
 * "SINK_FAILED" when D1 fails.
 */
export function createD1Sink(options: D1SinkOptions): D1Sink;
