// `keycrm-stock-sync/worker`: a cron-triggered sync into D1 on Cloudflare Workers.

import type { CoreOptions, ScanCursor, SyncReport } from "./index.js";
import type { D1DatabaseLike } from "./sinks/d1.js";

export type { D1DatabaseLike } from "./sinks/d1.js";

/** Core options a scheduled sync may be given; it sets the budget, deadline and cursor itself. */
export type ScheduledCoreOptions = Omit<
  CoreOptions,
  "maxSubrequests" | "resumeFrom" | "deadlineMs" | "ordersUpdatedSince"
>;

/**
 * The Worker's `env` as the scheduled sync reads it: the secret, vars from
 * `wrangler.toml` (strings, or numbers and booleans where noted) and the D1 binding.
 */
export interface ScheduledSyncEnv {
  /** The KeyCRM API key. Required; a secret: `wrangler secret put KEYCRM_API_KEY`. Never logged. */
  KEYCRM_API_KEY?: string;
  /** The webhooks' secret, at least 16 random characters, sent by KeyCRM as `?token=`. Required by `fetch` (else 503); a secret: `wrangler secret put KEYCRM_WEBHOOK_TOKEN`. Never logged. */
  KEYCRM_WEBHOOK_TOKEN?: string;
  /** KeyCRM API base URL. Default `"https://openapi.keycrm.app/v1"`. */
  KEYCRM_API_URL?: string;
  /** D1 table holding the stock. Default `"products"`. */
  KEYCRM_TABLE?: string;
  /** Column holding the SKU. Default `"sku"`. */
  KEYCRM_SKU_COLUMN?: string;
  /** Column the stock is written to. Default `"stock"`. */
  KEYCRM_STOCK_COLUMN?: string;
  /** Warehouse id column; when set, one row per (SKU, warehouse). Default: none. */
  KEYCRM_WAREHOUSE_COLUMN?: string;
  /** Warehouses to sum: comma-separated ids (digits) or names, e.g. `"1,Київ"`. Default: all. */
  KEYCRM_WAREHOUSES?: string;
  /** Write `quantity`, not `quantity − reserve`: `"true"` or `"false"`. Default `"false"`. */
  KEYCRM_KEEP_RESERVE?: string | boolean;
  /** Keep fractional stock instead of flooring: `"true"` or `"false"`. Default `"false"`. */
  KEYCRM_FRACTIONAL?: string | boolean;
  /** Requests per minute to KeyCRM. Default `60` (KeyCRM's limit). */
  KEYCRM_RATE_LIMIT?: string | number;
  /** The Workers plan, which sets the defaults of the two budgets below: `"free"` or `"paid"`. Default `"free"`. */
  KEYCRM_PLAN?: string;
  /** Subrequests one invocation may make, D1 calls included. Default `50` on `"free"`, `10000` on `"paid"`. */
  KEYCRM_SUBREQUEST_BUDGET?: string | number;
  /** KeyCRM requests (pages, retries included) one invocation may make: the free plan's 10 ms of CPU. Default `20` on `"free"`, none on `"paid"`. */
  KEYCRM_MAX_REQUESTS?: string | number;
  /** Wall time one invocation spends, in ms; keep it below the cron interval. Default `50000`. */
  KEYCRM_WALL_BUDGET_MS?: string | number;
  /** D1 table for the cursor, the last check of changed orders, the last reports and the lease; created if missing. Default `"keycrm_sync_state"`. */
  KEYCRM_STATE_TABLE?: string;
  /** `"true"`: each invocation first syncs the offers of the orders changed since the last check, with at most half its budgets, then resumes the scan. Default `"false"`. */
  KEYCRM_CATCH_UP?: string | boolean;
  /** Further core options, as a JSON string or a `[vars]` table, e.g. `{"zeroMissing": true}`. Default: none. */
  KEYCRM_SYNC_OPTIONS?: string | ScheduledCoreOptions;
  /** The D1 database, bound as `DB` in `wrangler.toml`; used unless `options.database` is given. */
  DB?: D1DatabaseLike;
}

/** What a run logs (one object per invocation, to `console.log`, or `console.error` when it failed). */
export interface ScheduledSyncLogEntry {
  /** `"keycrm-stock-sync: run finished"`, why the invocation did not run, or `"keycrm-stock-sync: stock webhook applied"` (`order`, `failed`). */
  message: string;
  /** The report's figures (its lists replaced by their lengths), `resumedFrom`, `cursor` and `subrequests`. Never the API key. */
  [field: string]: unknown;
}

/** Options of {@link runScheduledSync}; each wins over its `env` counterpart. */
export interface ScheduledSyncOptions {
  /** The Workers plan, setting the budgets' defaults. Default: `env.KEYCRM_PLAN`, else `"free"`. */
  plan?: "free" | "paid";
  /** The D1 database holding the stock and the state. Default: `env.DB`. */
  database?: D1DatabaseLike;
  /** Table holding the stock. Default: `env.KEYCRM_TABLE`, else `"products"`. */
  table?: string;
  /** Column holding the SKU. Default: `env.KEYCRM_SKU_COLUMN`, else `"sku"`. */
  skuColumn?: string;
  /** Column the stock is written to. Default: `env.KEYCRM_STOCK_COLUMN`, else `"stock"`. */
  stockColumn?: string;
  /** Warehouse id column; enables per-warehouse rows. Default: `env.KEYCRM_WAREHOUSE_COLUMN`, else none. */
  warehouseColumn?: string;
  /** Integer column keeping when each figure was seen in KeyCRM (Unix ms), so a cron's page read before a webhook arrived never overwrites the webhook's figure. Default: `env.KEYCRM_OBSERVED_COLUMN`, else none. */
  observedColumn?: string;
  /** Table for the cursor, reports and lease. Default: `env.KEYCRM_STATE_TABLE`, else `"keycrm_sync_state"`. */
  stateTable?: string;
  /** Subrequests per invocation, D1 calls included (2 go to the state). Default: `env.KEYCRM_SUBREQUEST_BUDGET`, else the plan's (`50` or `10000`). */
  subrequestBudget?: number;
  /** Wall time per invocation, in ms. Default: `env.KEYCRM_WALL_BUDGET_MS`, else `50000`. */
  wallBudgetMs?: number;
  /** For the webhooks: how long after a stock webhook its offers are read again from KeyCRM, so deliveries out of order cannot leave an older figure; 0 never, at most 20 000. Default: `env.KEYCRM_CONFIRM_AFTER_MS`, else `10000`. */
  confirmAfterMs?: number;
  /** Catch up on orders changed since the last check (kept beside the cursor) before resuming the scan, with at most half the budgets. Default: `env.KEYCRM_CATCH_UP`, else `false`. */
  catchUp?: boolean;
  /** Pacing shared with the isolate's other runs (from `createPacing()`). Default: `createWorker` shares one between its cron and its order syncs. */
  pacing?: import("./index.js").Pacing;
  /** Core options (`maxRequests` among them); they win over `env.KEYCRM_SYNC_OPTIONS` and the other vars. Default: none. */
  sync?: ScheduledCoreOptions;
  /** Where the run's one log entry goes, and each webhook delivery's; `false` for nowhere. Default: `console.log` (`console.error` on failure). */
  log?: ((entry: ScheduledSyncLogEntry) => void) | false;
}

/** What one invocation did. */
export interface ScheduledSyncResult {
  /** Whether it ran; `false` when another invocation held the lease. */
  ran: boolean;
  /** The run's report; `null` when it did not run. */
  report: SyncReport | null;
  /** The cursor it resumed from; `null` for a scan from page 1. */
  resumedFrom: ScanCursor | null;
  /** The cursor saved for the next invocation; `null` after a complete scan (the next starts afresh). */
  cursor: ScanCursor | null;
  /** The catch-up's report, when `catchUp` is on and it ran; `null` otherwise. Absent when the invocation did not run. */
  catchUp?: SyncReport | null;
  /** Where the next catch-up starts (Unix ms), as saved; `null` when none is kept. Absent when the invocation did not run. */
  ordersUpdatedSince?: number | null;
  /** Subrequests the core counted (catch-up and scan) plus the state's D1 calls; an upper bound of what was made. */
  subrequests: number;
  /** When the other invocation's lease expires (ms since the epoch), if it did not run. */
  leaseExpiresAt: number | null;
}

/**
 * Runs one slice of the sync within the invocation's subrequest and wall-time
 * budgets: takes the lease, resumes from the saved cursor, saves the new one (or
 * clears it after a complete scan), stores and logs the report.
 * Resolves also when the run failed midway (`report.complete: false`; the next
 * cron continues). Rejects with a KeyCrmSyncError for a configuration mistake
 * (`INVALID_CONFIG`; one found by the core is stored as the last report first),
 * or when D1 cannot hold the state (`SINK_FAILED`).
 */
export function runScheduledSync(
  env: ScheduledSyncEnv,
  options?: ScheduledSyncOptions,
): Promise<ScheduledSyncResult>;

/** The part of a Worker's `ctx` the webhooks use. */
export interface WorkerContextLike {
  /** Keeps the invocation alive for work after the response: an order's sync. */
  waitUntil(work: Promise<unknown>): void;
}

/**
 * A Worker whose cron runs {@link runScheduledSync} and whose `fetch` serves KeyCRM's
 * webhooks into the same D1 table: `export default createWorker()`.
 */
export function createWorker(options?: ScheduledSyncOptions): {
  /** The cron handler; `controller` and `ctx` are the platform's and are not used. */
  scheduled(controller: unknown, env: ScheduledSyncEnv, ctx?: WorkerContextLike): Promise<void>;
  /**
   * The webhook endpoint, as `createWebhookHandler` on the Node side: `POST /webhooks/keycrm/stock`
   * (applied to D1 before replying), `POST /webhooks/keycrm/order` (202, then the order's offers
   * synced in `ctx.waitUntil`), `GET /webhooks/keycrm/healthz`; each POST needs `?token=` equal to
   * `KEYCRM_WEBHOOK_TOKEN`. Uses the cron's table, columns, warehouses and core options, and logs
   * one entry a delivery through `options.log`. Answers 503 (`INVALID_CONFIG`, naming the
   * variable) while a secret, var or the D1 binding is missing or wrong.
   */
  fetch(request: Request, env: ScheduledSyncEnv, ctx: WorkerContextLike): Promise<Response>;
};
