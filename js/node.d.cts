// Typings of the CommonJS entry: the same API, with every function async because the
// entry loads the ES module on first call. The types come from the CommonJS copy of
// the typings (js/cjs/, built by scripts/build-cjs.js).
import type {
  CheckOptions,
  CheckReport,
  CoreOptions,
  Pacing,
  StockSink,
  StockWebhookOptions,
  WebhookHandler,
  WebhookHandlerOptions,
  SyncOptions,
  SyncReport,
} from "./cjs/index.cjs";
import { KeyCrmSyncError } from "./cjs/index.cjs";
import type { NodeRequestLike, NodeResponseLike } from "./cjs/node.cjs";

export type * from "./cjs/index.cjs";
export type * from "./cjs/service.cjs";
export type { NodeRequestLike, NodeResponseLike } from "./cjs/node.cjs";
export { KeyCrmSyncError };

/** Pulls every stock from KeyCRM and writes what can be sold into the sink. */
export function syncStocks(options: SyncOptions): Promise<SyncReport>;
/** Lists where the site and KeyCRM disagree, reading both and writing nothing. */
export function checkStock(options: CheckOptions): Promise<CheckReport>;
/** Writes one delivery of KeyCRM's stock webhook into the sink; no request to KeyCRM. */
export function applyStockWebhook(options: StockWebhookOptions): Promise<SyncReport>;
/** A Request → Response handler for KeyCRM's webhooks. */
export function createWebhookHandler(options: WebhookHandlerOptions): Promise<WebhookHandler>;
/** Pacing to share between runs of one process, so that together they keep to the rate limit. */
export function createPacing(): Promise<Pacing>;
/** Serves a Request → Response handler from Node's `http` server. */
export function toNodeListener(
  handler: (request: Request) => Promise<Response>,
): Promise<(req: NodeRequestLike, res: NodeResponseLike, next?: (error?: unknown) => void) => void>;
/** Wraps a sink so that newer figures are never overwritten by older ones. */
export function trackObservations(sink: StockSink): Promise<StockSink>;
/** The periodic sync and the webhooks of one process, as `serve` runs them (see `createSyncService` in service.d.ts). */
export function createSyncService(
  options: import("./cjs/service.cjs").SyncServiceOptions,
): Promise<import("./cjs/service.cjs").SyncService>;
/** Rejects with a KeyCrmSyncError (`INVALID_CONFIG`) if the core options are invalid. */
export function validateOptions(options: CoreOptions): Promise<void>;
/** The package version. */
export function version(): Promise<string>;
/** Whether a thrown value is a KeyCrmSyncError; synchronous. */
export function isSyncError(value: unknown): value is KeyCrmSyncError;
