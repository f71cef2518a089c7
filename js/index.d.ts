// keycrm-stock-sync: keep a website's stock equal to what KeyCRM says can be sold.
// The API of every runtime, and the typings of the Workers build: nothing here needs
// Node's types. The Node entry adds what only Node has (node.d.ts).

import type { SiteStock, StockSink } from "./sinks/sink.js";

export type {
  SiteStock,
  StockChange,
  StockKey,
  StockSink,
} from "./sinks/sink.js";

/** A warehouse chosen by its KeyCRM id, or by its name (matched ignoring case and surrounding spaces). */
export type WarehouseRef = number | string;

/** Where an unfinished whole-catalogue scan stopped. */
export interface ScanCursor {
  /** The first page not yet applied (1-based). */
  page: number;
  /** KeyCRM's `total` when the scan stopped, to notice offers deleted meanwhile. */
  total?: number | null;
  /** The id of the last offer applied, to find the place again however the catalogue changed. */
  lastOfferId?: number | null;
  /**
   * The SKUs the scan applied before the cursor, so that a resumed run gives a SKU shared by offers on both sides
   * the smallest figure: 64-bit hashes, sorted little-endian in unpadded base64url, about 10.7 KB per 1 000 SKUs.
   * Pass it back unchanged. Default: absent (nothing known, as in cursors of earlier versions); text not in that
   * form is refused (`INVALID_CONFIG` naming `resumeFrom.skus`).
   */
  skus?: string | null;
  /**
   * The pass's census: what KeyCRM had when the scan started (`ceiling`, its largest offer id, and `total`), and how
   * many of those offers the runs before counted (`counted`, ids up to `countedTo`). Pass it back unchanged. Default:
   * absent (a cursor of an earlier version): the resumed pass ends with `CATALOGUE_CHANGED`.
   */
  census?: { ceiling: number; total: number; counted?: number; countedTo?: number } | null;
}

/** What the core decides with. Every field is optional; unknown fields are refused (INVALID_CONFIG). */
export interface CoreOptions {
  /** KeyCRM API base URL. Default `"https://openapi.keycrm.app/v1"`. */
  apiUrl?: string;
  /** Requests per minute the scan may start, measured start-to-start. Default `60` (KeyCRM's limit); 1–60 000. */
  rateLimitPerMinute?: number;
  /** Most requests in flight at once; starts stay paced, more only lets slow answers overlap. Default `4`; 1–16. */
  maxConcurrentRequests?: number;
  /** Write `quantity` instead of `quantity − reserve`. Default `false`. */
  keepReserve?: boolean;
  /** Write fractional stock as is instead of flooring to whole units. Default `false`. */
  fractional?: boolean;
  /** Warehouses whose stock is summed. Default `[]`: KeyCRM's totals over all warehouses. */
  warehouses?: WarehouseRef[];
  /** One site row per (SKU, warehouse) instead of one per SKU; needs a sink with a warehouse column. Default `false`. */
  perWarehouse?: boolean;
  /** Only these offer (variant) ids. Default `[]`: all offers. Not with `skus`. */
  offerIds?: number[];
  /** Only these SKUs. Default `[]`: all offers. Not with `offerIds`. */
  skus?: string[];
  /** After a complete, unfiltered scan, set site rows whose SKU KeyCRM lacks to 0. Default `false`. */
  zeroMissing?: boolean;
  /** Read and compare everything, write nothing. Default `false`. */
  dryRun?: boolean;
  /** Most rows per sink call (one transaction each). Default `500`; 1–10 000. */
  batchSize?: number;
  /** Retries of one request after 5xx, timeouts, network errors or malformed pages. Default `5`; 0–50. */
  maxRetries?: number;
  /** Retries of one request after 429 answers. Default `10`; 0–100. */
  maxRateLimitRetries?: number;
  /** Longest wait a `Retry-After` header may impose, in ms. Default `120000`. */
  maxRetryAfterMs?: number;
  /** First backoff delay in ms, doubled per attempt, with jitter in [d/2, d]. Default `1000`. */
  backoffBaseMs?: number;
  /** Longest backoff delay in ms. Default `30000`. */
  backoffMaxMs?: number;
  /** Abort one request after this many ms, counting until its whole body has arrived; never past `deadlineMs`. Default `30000`; 100–600 000. */
  requestTimeoutMs?: number;
  /**
   * Give up on one sink call (`read`, `write`, `readAll`) after this many ms: the run ends with `SINK_FAILED`
   * ("… timed out after N ms"); a write given up on may still commit. With `deadlineMs`, the run ends by
   * `deadlineMs + sinkTimeoutMs` at the latest. Default `30000`; 100–600 000.
   */
  sinkTimeoutMs?: number;
  /** Stop the run this many ms after its start; nothing sleeps past it. Default: none. */
  deadlineMs?: number;
  /** Stop the run after this many requests. Default: none. */
  maxRequests?: number;
  /**
   * Budget of HTTP requests plus sink calls (each read/write/readAll is one), as Cloudflare Workers count
   * subrequests. The run stops starting pages while it can still write what it read, ends with
   * `BUDGET_EXHAUSTED` and a `cursor`, and batches sink calls by `batchSize` rows. Default: none; at least 3.
   */
  maxSubrequests?: number;
  /** Resume an unfinished whole-catalogue scan from a previous report's `cursor`. Default: start at page 1. */
  resumeFrom?: ScanCursor;
  /** Sync only the offers on this order's lines (looked up with `include=products.offer`). Default: none. */
  orderId?: number;
  /**
   * Catch up on missed order webhooks: sync only the offers on the lines of the orders changed since this time
   * (Unix ms, UTC), listed by `GET /order?filter[updated_between]` 50 a request. Pass the previous report's
   * `nextOrdersUpdatedSince`. Not with the filters, `orderId`, `resumeFrom` or `zeroMissing`. Default: none.
   */
  ordersUpdatedSince?: number;
}


/** Options of {@link syncStocks}: the core options plus what only the shim holds. */
export interface SyncOptions extends CoreOptions {
  /** The KeyCRM API key. Required. Sent only in the Authorization header; never in reports, errors or logs. */
  apiKey: string;
  /** Where the site's stock is read and written. Required. */
  sink: StockSink;
  /** Called after every page with how far the run has got. Default: none. */
  onProgress?: (progress: Progress) => void;
  /** The fetch implementation. Default: `globalThis.fetch`. */
  fetch?: typeof globalThis.fetch;
  /** Aborting it stops the run: no request starts any more, rows already read are written, the report has a `cursor`. Default: none. */
  signal?: AbortSignal;
  /** Pacing shared with other runs of this process (from {@link createPacing}): their requests together keep to the rate limit. Default: the run's own. */
  pacing?: Pacing;
}

/** How far a run has got. */
export interface Progress {
  /** Pages read. */
  pages: number;
  /** Pages still to read, as far as KeyCRM has said. */
  pagesLeft: number;
  /** Distinct offers read. */
  offers: number;
  /** Site rows changed so far. */
  updated: number;
  /** HTTP requests made, retries included. */
  requests: number;
  /** Estimated ms to the end of the scan at the paced rate. */
  etaMs: number;
  /** A request that failed and waits to be repeated; absent when none does. */
  retry?: RetryNotice;
}

/** A failed request about to be repeated (`Progress.retry`). */
export interface RetryNotice {
  /** Failed attempts of the run so far, this one included: a new number is a new failure. */
  failure: number;
  /** What was asked for, e.g. "page 3". */
  request: string;
  /** Which retry of that request comes next (1 for the first). */
  retry: number;
  /** The most retries it gets after failures of this kind (`maxRetries` or `maxRateLimitRetries`). */
  maxRetries: number;
  /** Ms from the failure to the retry's start. */
  waitMs: number;
  /** Why it failed, e.g. "KeyCRM answered HTTP 503 for /v1/offers/stocks". */
  reason: string;
}

/** Stable error codes; see the README's error table. */
export type ErrorCode =
  | "INVALID_CONFIG"
  | "UNAUTHORIZED"
  | "CRM_HTTP"
  | "CRM_UNAVAILABLE"
  | "RATE_LIMITED"
  | "BAD_PAGE"
  | "CATALOGUE_CHANGED"
  | "BAD_WEBHOOK"
  | "UNKNOWN_WAREHOUSE"
  | "SINK_FAILED"
  | "DEADLINE_EXCEEDED"
  | "BUDGET_EXHAUSTED"
  | "INTERNAL";

/** Why a run is not complete. */
export interface ReportError {
  /** Stable machine code. */
  code: ErrorCode;
  /** What happened, for people. Never contains the API key. */
  message: string;
  /** KeyCRM's HTTP status, when an answer caused the error. */
  status?: number;
}

/** The outcome of a run (what the CLI's `--json` prints). */
export interface SyncReport {
  /** Every offer was read and every figure written; `false` on any error. */
  complete: boolean;
  /** Nothing was written; `updated` and `zeroed` say what would have been. */
  dryRun: boolean;
  /** Distinct offers (rows) read from KeyCRM. */
  offers: number;
  /** Stock-list pages read. */
  pages: number;
  /** Site rows whose stock changed. */
  updated: number;
  /** Site rows that already had the right stock. */
  unchanged: number;
  /** Site rows left alone because their figure was observed after this run's (a webhook that came meanwhile). */
  keptNewer: number;
  /** Site rows KeyCRM lacks that were set to 0 (`zeroMissing` only). */
  zeroed: number;
  /** KeyCRM rows the site has no row for. */
  notOnSite: {
    /** How many. */
    count: number;
    /** Up to 20 of their SKUs. */
    sample: string[];
  };
  /** Offers skipped for having no SKU. */
  withoutSku: number;
  /** SKUs found on more than one offer; each row holds the smallest figure among those offers. */
  duplicateSkus: string[];
  /** Offer ids of offers skipped because their SKU contains U+0000 (no database stores it); never written. */
  invalidSkus: number[];
  /** Warehouses seen in KeyCRM's rows (only when a per-warehouse breakdown was read). */
  warehouses: { id: number; name: string }[];
  /** HTTP requests made, retries included. */
  requests: number;
  /** Requests repeated after a 429, 5xx, timeout, network error or malformed page. */
  retries: number;
  /** 429 answers seen. */
  rateLimited: number;
  /** Requests plus sink calls, the unit of `maxSubrequests`. */
  subrequests: number;
  /** Wall time of the run, in ms. */
  durationMs: number;
  /** Why the run is not complete; absent when it is. */
  error?: ReportError;
  /** Where an unfinished whole-catalogue scan can resume (pass as `resumeFrom`); absent after a complete scan. */
  cursor?: ScanCursor;
  /**
   * Where the next catch-up starts (pass as `ordersUpdatedSince`, Unix ms): this run's start less a 10-minute
   * overlap. Given by a complete catch-up and by a complete whole-catalogue scan that was not resumed; absent otherwise.
   */
  nextOrdersUpdatedSince?: number;
  /** A complete check's findings ({@link checkStock}); absent for a sync and for a check that did not complete. */
  findings?: CheckFindings;
}

/**
 * The errors this package throws and rejects with: a real `Error` with a stable `code`. `instanceof KeyCrmSyncError`
 * holds for every error of that shape (an `Error` named `"KeyCrmSyncError"` with a string `code`): those the wasm
 * core raises, and those of the package's other module copy (its CommonJS build and its ES modules are two copies).
 */
export class KeyCrmSyncError extends Error {
  /**
   * @param code the stable code
   * @param message what happened, for people
   * @param options `cause`: the underlying error; `status`: KeyCRM's HTTP status. Default: neither.
   */
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; status?: number });
  /** Always `"KeyCrmSyncError"`. */
  name: "KeyCrmSyncError";
  /** Stable machine code. */
  code: ErrorCode;
  /** KeyCRM's HTTP status, when an answer caused the error. */
  status?: number;
}

/**
 * Pulls every stock from KeyCRM and writes what can be sold into the sink.
 * Resolves with the report, also when the run fails midway (`complete: false`, `error`);
 * rejects only for invalid options, with a {@link KeyCrmSyncError} coded `INVALID_CONFIG`.
 */
export function syncStocks(options: SyncOptions): Promise<SyncReport>;

/**
 * Options of {@link checkStock}: those of {@link syncStocks} but the filters, `resumeFrom`, `zeroMissing`, `dryRun`
 * (a check is always one) and `pacing`.
 */
export interface CheckOptions
  extends Omit<SyncOptions, "offerIds" | "skus" | "orderId" | "resumeFrom" | "zeroMissing" | "dryRun" | "pacing" | "sink"> {
  /** The site's rows, read once with `readAll()` (every bundled sink has it) and never written. Required. */
  sink: StockSink & { readAll(): Promise<SiteStock[]> };
  /**
   * Also read the product name of each offer with no site row (`notOnSite[].name`), after the scan: one more request
   * per 50 such offers (`GET /offers?filter[id]=…&include=product`), paced, retried and within `maxRequests`,
   * `maxSubrequests` and `deadlineMs` like the scan's. A lookup that fails for good leaves the names it did not get
   * `null` and adds to `findings.warnings`; the check still completes. Default: `false`.
   */
  names?: boolean;
}

/** The report of {@link checkStock}: a dry run's report, with `findings` when the check completed. */
export interface CheckReport extends SyncReport {
  /** Always `true`: a check writes nothing. */
  dryRun: true;
}

/** Where the site and KeyCRM disagree: every finding of every kind, each list complete and in a stable order. */
export interface CheckFindings {
  /** Site rows a sync would change (the same comparison as a sync), by SKU then warehouse. */
  stockDiffers: {
    /** The row's SKU. */
    sku: string;
    /** The row's warehouse id; only with `perWarehouse`. */
    warehouseId?: number;
    /** The site's figure; `null` for NULL. */
    site: number | null;
    /** The figure a sync would write, in units. */
    keycrm: number;
  }[];
  /** Site rows whose SKU no KeyCRM offer has, by SKU then warehouse. */
  missingInKeycrm: {
    /** The row's SKU. */
    sku: string;
    /** The row's warehouse id; only with `perWarehouse`. */
    warehouseId?: number;
    /** The site's figure; `null` for NULL. */
    site: number | null;
  }[];
  /** Offers with a figure for a row the site lacks (with `perWarehouse`, one per missing warehouse row), by offer id. */
  notOnSite: {
    /** The offer's id in KeyCRM. */
    offerId: number;
    /** The offer's SKU. */
    sku: string;
    /** The missing row's warehouse id; only with `perWarehouse`. */
    warehouseId?: number;
    /** The figure a sync would write into the row, were it there, in units. */
    keycrm: number;
    /** The offer's product name; only with `names: true`, `null` when KeyCRM gave none or the lookup failed. */
    name?: string | null;
  }[];
  /** Ids of the offers without a SKU, ascending. */
  withoutSku: number[];
  /** SKUs on several offers (each row gets the smallest figure among them), by SKU. */
  duplicateSkus: {
    /** The SKU. */
    sku: string;
    /** Its offers' ids, ascending. */
    offerIds: number[];
  }[];
  /**
   * KeyCRM SKUs equal to a site SKU but for letter case or surrounding whitespace, where one of the two has no exact
   * counterpart: the usual reason a row "does not sync". By KeyCRM's SKU, then the site's.
   */
  nearMisses: {
    /** KeyCRM's SKU. */
    sku: string;
    /** The site's SKU. */
    siteSku: string;
    /** The ids of the offers with KeyCRM's SKU, ascending. */
    offerIds: number[];
  }[];
  /** Offers skipped because their SKU holds U+0000 (no database stores it), by offer id. */
  invalidSkus: {
    /** The offer's id. */
    offerId: number;
    /** The SKU as KeyCRM has it. */
    sku: string;
  }[];
  /** What the check could not do although the findings are complete (product names not read, and why); absent when none. */
  warnings?: string[];
}

/**
 * Lists where the site and KeyCRM disagree: scans the whole catalogue as {@link syncStocks} would, reads the sink once
 * with `readAll()`, and writes nothing. Resolves with the report (`findings` when complete; `complete: false` and
 * `error` otherwise); rejects with a {@link KeyCrmSyncError} coded `INVALID_CONFIG` for invalid options or a sink
 * without `readAll()`.
 */
export function checkStock(options: CheckOptions): Promise<CheckReport>;

/** Options of {@link applyStockWebhook}. */
export interface StockWebhookOptions
  extends Omit<CoreOptions, "perWarehouse" | "offerIds" | "skus" | "orderId" | "resumeFrom" | "zeroMissing"> {
  /** The delivery's raw body: a JSON array of `{offer_id, sku, in_stock, in_reserve}`. Required. */
  body: string;
  /** Where the site's stock is read and written. Required. */
  sink: StockSink;
  /** Most rows one delivery may carry. Default `1000`. */
  maxRows?: number;
}

/**
 * Writes one delivery of KeyCRM's stock webhook into the sink, with the same availability, SKU rules
 * and diff as a sync, and no request to KeyCRM. Rejects with `BAD_WEBHOOK` for a body of another shape,
 * `INVALID_CONFIG` for options a webhook cannot honour (per-warehouse rows: the webhook sends sums).
 */
export function applyStockWebhook(options: StockWebhookOptions): Promise<SyncReport>;

/** Options of {@link createWebhookHandler}: the core options used for every delivery, plus these. */
export interface WebhookHandlerOptions extends Omit<CoreOptions, "offerIds" | "skus" | "orderId" | "resumeFrom" | "zeroMissing"> {
  /** The secret KeyCRM puts in the webhook URL (`?token=`), or sends as `X-Webhook-Token` or `Authorization: Bearer`. Required; at least 16 characters. */
  token: string;
  /** Where the site's stock is read and written. Required. */
  sink: StockSink;
  /** The KeyCRM API key, for the order webhook's lookups. Required for order webhooks. */
  apiKey?: string;
  /** Path prefix of the two endpoints, `{basePath}/stock` and `{basePath}/order`. Default `"/webhooks/keycrm"`. */
  basePath?: string;
  /** Largest body accepted, in bytes; larger ones get 413. Default `1000000`. */
  maxBodyBytes?: number;
  /** Most rows one stock delivery may carry. Default `1000`. */
  maxRows?: number;
  /** Keeps the runtime alive for work done after replying (Workers: `ctx.waitUntil`). Default: none. */
  waitUntil?: (work: Promise<unknown>) => void;
  /** Pacing of the order syncs (from {@link createPacing}); give the process's full syncs the same one. Default: one of the handler's own, shared by its order syncs. */
  pacing?: Pacing;
  /**
   * Reads the offers of stock webhooks again from KeyCRM this many ms after they arrived, in one sync per
   * such delay (at most 1 000 offers), so that deliveries arriving out of order cannot leave the older
   * figure. Needs `apiKey`; costs one request per 50 offers. `0`: never. Default `0` (`serve`: 10 s; the
   * Worker helper: `KEYCRM_CONFIRM_AFTER_MS`, else 10 s).
   */
  confirmAfterMs?: number;
  /**
   * Longest one delivery is handled, from its token check to its answer, in ms: a body that stops arriving gets
   * 408 (`REQUEST_TIMEOUT`), a site database that does not answer 503 with `Retry-After: 30` (`SINK_TIMEOUT`; the
   * call is not cancelled and may still commit). While eight such calls are pending, stock deliveries get that
   * 503 at once. Default `20000`.
   */
  handlerTimeoutMs?: number;
  /** Once aborted, no confirmation is started any more (the pending ones are left to the next full sync). Default: none. */
  signal?: AbortSignal;
  /** Called with each delivery's report, including the syncs after the reply (order webhooks, confirmations). Default: none. */
  onResult?: (kind: "stock" | "order" | "confirm", report: SyncReport | { complete: false; error: ReportError }) => void;
}

/**
 * A `Request` → `Response` handler: `POST {basePath}/stock` (the stock webhook, applied before replying),
 * `POST {basePath}/order` (trigger webhooks; 202 at once, the order's offers synced after), `GET /healthz`.
 * 401 for a missing or wrong token (compared in constant time), 413 for oversized bodies, 400 for bad ones,
 * 503 with `Retry-After` when the site database fails (`SINK_FAILED`) or does not answer in time (`SINK_TIMEOUT`).
 */
export function createWebhookHandler(options: WebhookHandlerOptions): WebhookHandler;

/**
 * A webhook handler. `context` is a Worker's `ctx` (or anything with `waitUntil`): it keeps this request's
 * later work alive, in place of the `waitUntil` option.
 */
export type WebhookHandler = (
  request: Request,
  context?: { waitUntil(work: Promise<unknown>): void },
) => Promise<Response>;

/** A handle on pacing shared by runs; opaque. */
export interface Pacing {
  readonly __keycrmPacing?: never;
}

/**
 * Pacing to share between the runs of one process (a full sync and the order webhooks' syncs, say): their
 * requests to one KeyCRM account are spaced as one run's would be, and a 429 seen by one holds them all.
 * Nothing is loaded until a run uses it, so it may be made at a Worker's top level.
 */
export function createPacing(): Pacing;

/**
 * Wraps a sink so that it remembers when each figure it wrote was observed in KeyCRM and reports it on read
 * (`observedAt`): share the wrapped sink between the webhook handler and the full syncs of one process, and a
 * page read before a webhook arrived never writes its older figure over the webhook's.
 */
export function trackObservations(sink: StockSink): StockSink;

/** Throws a {@link KeyCrmSyncError} (`INVALID_CONFIG`) if the core options are invalid. */
export function validateOptions(options: CoreOptions): void;

/** The package version. */
export function version(): string;

/** Whether a thrown value is a {@link KeyCrmSyncError}. */
export function isSyncError(value: unknown): value is KeyCrmSyncError;
