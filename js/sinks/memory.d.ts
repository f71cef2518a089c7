import type { SiteStock, StockSink } from "./sink.js";

export type { SiteStock, StockChange, StockKey, StockSink } from "./sink.js";

/** Options of `createMemorySink`. */
export interface MemorySinkOptions {
  /** Makes the n-th `write()` call (counting from 1) reject with "SINK_FAILED" and write nothing. Default: never. */
  failOnWrite?: number;
}

/** A StockSink kept in memory. */
export interface MemorySink extends StockSink {
  /** Every row. */
  readAll(): Promise<SiteStock[]>;
  /** Does nothing; there is no connection. */
  close(): Promise<void>;
  /** A copy of every row, in the order they were first given. */
  rows(): SiteStock[];
}

/**
 * An in-memory sink holding `rows` (default none); writes update matching rows
 * and never add new ones. Throws "INVALID_CONFIG" on a malformed row or option.
 */
export function createMemorySink(
  rows?: SiteStock[],
  options?: MemorySinkOptions,
): MemorySink;
