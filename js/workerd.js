// The Cloudflare Workers entry (the `workerd` export condition). The .wasm is
// imported as a module, which Wrangler compiles at upload, and instantiated
// synchronously on first use: Workers forbid I/O, timers and randomness at
// module top level, so importing this file does no work at all.

import wasmModule from "./wasm/keycrm_stock_sync_bg.wasm";
import { makeApi } from "./api.js";

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
} = makeApi(() => wasmModule, "instantiating it in this Worker failed");

export { isSyncError, KeyCrmSyncError } from "./errors.js";
export { trackObservations } from "./observations.js";
