// The contract between the sync core and the site's database. The core reads
// the current stock of a batch of keys, computes the difference itself, and
// asks the sink to write only what changed. Implement this to sync into any
// store; the package ships SQLite and in-memory sinks.
//
// Errors: reject with an Error whose `name` is "KeyCrmSyncError" and whose
// `code` is "SINK_FAILED" (the database failed; the run stops and a later run
// retries) or "INVALID_CONFIG" (the sink is set up wrongly; retrying won't help).

/** Identifies one stock row on the site. */
export interface StockKey {
  /** The product variant's SKU, compared exactly (case-sensitive, as stored). */
  sku: string;
  /** KeyCRM warehouse id; present only in per-warehouse mode, where each SKU has one row per warehouse. */
  warehouseId?: number;
}

/** A row as the site has it. */
export interface SiteStock extends StockKey {
  /** Stock in units (may be fractional); `null` when the column is NULL or not a number. */
  stock: number | null;
  /** When the stored figure was observed in KeyCRM (Unix ms), for sinks that keep track; a figure observed earlier never replaces it. */
  observedAt?: number;
}

/** A value to write to an existing row. */
export interface StockChange extends StockKey {
  /**
   * New stock in units (may be fractional): always a finite number ≥ 0. Typed as
   * nullable like `SiteStock.stock`; the core never writes null.
   */
  stock: number | null;
  /** When KeyCRM's figure was observed (Unix ms): the request that read it, or the webhook that carried it. Absent for restores and zeroing. */
  observedAt?: number;
}

/** Where stock is read from and written to. */
export interface StockSink {
  /**
   * Current stock of those keys that exist on the site; keys the site lacks are
   * simply absent from the result. Called with at most a few hundred keys.
   */
  read(keys: StockKey[]): Promise<SiteStock[]>;
  /**
   * Writes all changes in one transaction (all or nothing). Only updates
   * existing rows, never inserts. Rejects on failure.
   */
  write(changes: StockChange[]): Promise<void>;
  /**
   * Every stock row on the site; needed only for the opt-in zeroing of rows
   * KeyCRM lacks, which runs after a complete scan.
   */
  readAll?(): Promise<SiteStock[]>;
  /** Releases the connection if the sink opened it. */
  close?(): Promise<void>;
}
