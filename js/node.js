// The Node.js entry. The wasm core is loaded on first use, not at import, so that
// importing the package costs nothing until a sync runs.

import { readFileSync } from "node:fs";
import * as wasm from "./wasm/keycrm_stock_sync.js";
import { syncError } from "./errors.js";
import { makeSyncStocks } from "./sync.js";

const wasmFile = new URL("./wasm/keycrm_stock_sync_bg.wasm", import.meta.url);
let ready = false;

function core() {
  if (!ready) {
    let bytes;
    try {
      bytes = readFileSync(wasmFile);
    } catch (error) {
      throw syncError(
        "INTERNAL",
        "the wasm core is not built: run `npm run build` in the package",
        error,
      );
    }
    wasm.initSync({ module: bytes });
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
