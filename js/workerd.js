// The Cloudflare Workers entry (the `workerd` export condition). The .wasm is
// imported as a module, which Wrangler compiles at upload, and instantiated
// synchronously on first use: Workers forbid I/O, timers and randomness at
// module top level, so importing this file does no work at all.

import wasmModule from "./wasm/keycrm_stock_sync_bg.wasm";
import * as wasm from "./wasm/keycrm_stock_sync.js";
import { syncError } from "./errors.js";
import { makeSyncStocks } from "./sync.js";

let ready = false;

function core() {
  if (!ready) {
    try {
      wasm.initSync({ module: wasmModule });
    } catch (error) {
      throw syncError(
        "INTERNAL",
        "the wasm core could not be instantiated in this Worker",
        error,
      );
    }
    ready = true;
  }
  return wasm;
}

/** Pulls every stock from KeyCRM and writes what can be sold into the sink. */
export const syncStocks = makeSyncStocks(core);

/** Throws a KeyCrmSyncError (INVALID_CONFIG) if the core options are invalid. */
export function validateOptions(options) {
  core().validateOptions(options);
}

/** The package version. */
export function version() {
  return core().version();
}

export { isSyncError } from "./errors.js";
