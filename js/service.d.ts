// Typings of createSyncService (Node entry): what `serve` runs, as a library.

import type { CoreOptions, Pacing, ReportError, StockSink, SyncReport } from "./index.js";
import type { NodeRequestLike, NodeResponseLike } from "./node.js";

/** Options of {@link createSyncService}: the core options of every sync, plus these. */
export interface SyncServiceOptions extends Omit<CoreOptions, "offerIds" | "skus" | "orderId" | "resumeFrom" | "ordersUpdatedSince"> {
  /** Where the site's stock is read and written; wrapped with `trackObservations`. Not closed by `stop()`. Required. */
  sink: StockSink;
  /** The KeyCRM API key. Required; never logged. */
  apiKey: string;
  /** Enables the webhooks `POST {basePath}/stock` and `/order` with this token (at least 16 characters). Default: none (no webhooks). */
  webhookToken?: string;
  /** Time between full syncs, from the end of one to the start of the next, in ms; `0`: webhooks only. Default `3600000`. */
  intervalMs?: number;
  /**
   * Time between catch-ups, in ms: syncs of the offers of the orders changed since the last check, between full
   * syncs (never during one). `0`: none. Default `0`.
   */
  catchUpIntervalMs?: number;
  /**
   * The first catch-up's check time (Unix ms); later ones start where the last complete catch-up or full sync
   * says (`nextOrdersUpdatedSince`). Default: none, so catch-ups wait for the first complete full sync.
   */
  ordersUpdatedSince?: number;
  /** Each wait is `intervalMs` × (1 ± `jitter`), at random. Default `0.1`. */
  jitter?: number;
  /** `/healthz` answers 503 `STALE` when no full sync completed within this many intervals (counted from start until the first one). Default `3`. */
  staleAfterIntervals?: number;
  /** Ms after a stock webhook before its offers are read again from KeyCRM; `0`: never. Default `10000`. */
  confirmAfterMs?: number;
  /** Checks the API key at `start()` with one paced request that writes nothing. Default `true`. */
  checkKey?: boolean;
  /** Path prefix of the webhooks, `{basePath}/healthz` and `{basePath}/metrics`. Default `"/webhooks/keycrm"`. */
  basePath?: string;
  /** Enables `GET {basePath}/metrics` (Prometheus text) for requests carrying this token as `Authorization: Bearer` or `?token=` (at least 16 characters). Default: none (no metrics endpoint). */
  metricsToken?: string;
  /** Log events as `"text"` lines or `"json"` lines on `logStream`, to a function, or `false` for none. Default `"text"`. */
  log?: "text" | "json" | false | ((event: SyncServiceEvent) => void);
  /** Where text and JSON lines go. Default `process.stderr`. */
  logStream?: { write(line: string): unknown };
  /** More strings never to log (a database password). Default `[]`. */
  secrets?: string[];
  /** Largest webhook body accepted, in bytes. Default `1000000`. */
  maxBodyBytes?: number;
  /** Longest one webhook delivery is handled, in ms. Default `20000`. */
  handlerTimeoutMs?: number;
  /** Most rows one stock delivery may carry. Default `1000`. */
  maxRows?: number;
  /** Pacing shared by the full syncs, order syncs and confirmations. Default: the service's own. */
  pacing?: Pacing;
  /** Aborting it stops the service as `stop()` does. Default: none. */
  signal?: AbortSignal;
  /** The fetch KeyCRM is called with. Default: `globalThis.fetch`. */
  fetch?: typeof globalThis.fetch;
  /** Time and timers, for tests. Default: `Date.now`, `setTimeout`, `clearTimeout`. */
  clock?: { now(): number; setTimeout(fn: () => void, ms: number): unknown; clearTimeout(id: unknown): void };
  /** Random numbers in [0, 1) for the jitter. Default `Math.random`. */
  random?: () => number;
}

/** One log event; `event` names it. Never carries the API key or a token. */
export type SyncServiceEvent =
  | { event: "run"; kind: "full" | "order" | "confirm" | "catchUp"; complete: boolean; updated: number; unchanged: number; keptNewer: number; requests: number; retries: number; rateLimited: number; durationMs: number; error?: ReportError }
  | { event: "delivery"; method: string; path: string; route: "stock" | "order" | "other"; status: number; code?: string; updated?: number; unchanged?: number; orderId?: number }
  | { event: "retry"; kind: string; path: string; reason: string }
  | { event: "rateLimited"; kind: string; path: string; retryAfter?: string }
  | { event: "keyCheck"; ok: boolean; error?: ReportError }
  | { event: "start"; intervalMs: number }
  | { event: "stopping" }
  | { event: "stopped" };

/** What `/healthz` answers: status 200 or 503, and why. */
export interface SyncServiceHealth {
  /** 200, or 503 for the reasons below. */
  status: 200 | 503;
  body: {
    ok: boolean;
    /** Why it is not ok: the key was refused at start, the last full sync failed with a code retrying won't fix (`UNAUTHORIZED`, `INVALID_CONFIG`, `UNKNOWN_WAREHOUSE`, `CRM_HTTP`), no complete sync for `staleAfterIntervals` intervals, not started, or stopped. */
    reason?: "KEY_REJECTED" | "SYNC_FAILED" | "STALE" | "NOT_STARTED" | "STOPPED";
    message?: string;
    error?: ReportError;
    startedAt: string | null;
    lastSync: { at: string; complete: boolean; updated: number; unchanged: number; keptNewer: number; durationMs: number; error?: string } | null;
    lastCompleteSyncAt: string | null;
  };
}

/** A running sync service. */
export interface SyncService {
  /** Checks the key (rejects with `UNAUTHORIZED` if KeyCRM refuses it), then runs a full sync at once and every interval. */
  start(): Promise<void>;
  /** No new work; waits for the batch in flight and accepted webhook work. Does not close the sink. */
  stop(): Promise<void>;
  /** A full sync now, or the one already running. */
  runNow(): Promise<SyncReport | { complete: false; error: ReportError; durationMs: number }>;
  /** A catch-up now (or the one running); `null` while a full sync runs or no check time is known yet. */
  catchUpNow(): Promise<SyncReport | { complete: false; error: ReportError; durationMs: number } | null>;
  /** State, health, last sync, last complete sync time, last error, next run, where the next catch-up starts. */
  status(): SyncServiceHealth["body"] & {
    state: string;
    lastError: (ReportError & { at: string }) | null;
    nextRunAt: string | null;
    ordersCheckedFrom: string | null;
  };
  /** What `{basePath}/healthz` answers. */
  health(): SyncServiceHealth;
  /** The metrics in Prometheus' text format. */
  metrics(): string;
  /** `Request` → `Response`: webhooks, health and metrics under `basePath`; 404 otherwise. */
  handler(request: Request, context?: { waitUntil(work: Promise<unknown>): void }): Promise<Response>;
  /** The handler as a Node listener and Express-style middleware (404s go to `next()`). */
  listener: (req: NodeRequestLike, res: NodeResponseLike, next?: (error?: unknown) => void) => void;
  /** Calls `listener` with each event of that name; returns a function that stops it. */
  on<E extends SyncServiceEvent["event"]>(name: E, listener: (event: Extract<SyncServiceEvent, { event: E }>) => void): () => void;
}

/** `serve` as a library: a full sync at an interval, webhooks, health, logs and metrics (Node only). */
export function createSyncService(options: SyncServiceOptions): SyncService;
