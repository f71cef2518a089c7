// The Node.js entry: the .wasm is read from the package folder on first use.

import { readFileSync } from "node:fs";
import { makeApi } from "./api.js";
import { makeCreateSyncService } from "./service.js";

const wasmFile = new URL("./wasm/keycrm_stock_sync_bg.wasm", import.meta.url);

export const {
  /** Pulls every stock from KeyCRM and writes what can be sold into the sink. */
  syncStocks,
  /** Lists where the site and KeyCRM disagree, reading both and writing nothing. */
  checkStock,
  /** Writes one delivery of KeyCRM's stock webhook into the sink; no request to KeyCRM. */
  applyStockWebhook,
  /** A Request → Response handler for KeyCRM's stock and order webhooks. */
  createWebhookHandler,
  /** Pacing to share between runs of one process, so that together they keep to the rate limit. */
  createPacing,
  /** Throws a KeyCrmSyncError (INVALID_CONFIG) if the core options are invalid. */
  validateOptions,
  /** The package version. */
  version,
} = makeApi(
  () => readFileSync(wasmFile),
  "is js/wasm built? run `npm run build` in the package",
);

export { isSyncError, KeyCrmSyncError } from "./errors.js";
export { toNodeListener } from "./node-http.js";
export { trackObservations } from "./observations.js";

/**
 * What `serve` runs, for a site's own process: a full sync at an interval,
 * webhooks, health, logs and metrics. Node only (it serves Node's http too).
 */
export const createSyncService = makeCreateSyncService({
  syncStocks,
  createPacing,
  createWebhookHandler,
  validateOptions,
});
