// The public functions over the wasm core, the same on every runtime. The core is
// instantiated on first use, never at import: importing the package costs nothing
// until a sync runs, and Workers forbid work at module top level.

import * as wasm from "./wasm/keycrm_stock_sync.js";
import { syncError } from "./errors.js";
import {
  makeApplyStockDelivery,
  makeCheckStock,
  makeSyncStocks,
} from "./sync.js";
import { makeCreatePacing } from "./pacing.js";
import { makeCreateWebhookHandler } from "./webhooks.js";

/**
 * @param {() => BufferSource | WebAssembly.Module} source the runtime's way to
 *   get the .wasm: its bytes, or a module compiled ahead
 * @param {string} hint what to tell the user if that fails
 */
export function makeApi(source, hint) {
  let ready = false;
  function core() {
    if (!ready) {
      try {
        wasm.initSync({ module: source() });
      } catch (error) {
        throw syncError("INTERNAL", `the wasm core could not be loaded: ${hint}`, error);
      }
      ready = true;
    }
    return wasm;
  }
  const syncStocks = makeSyncStocks(core);
  const applyStockDelivery = makeApplyStockDelivery(core);
  const createPacing = makeCreatePacing(core);
  return {
    syncStocks,
    checkStock: makeCheckStock(core),
    /** Writes one stock-webhook delivery; resolves with its report. */
    applyStockWebhook: async (options) => (await applyStockDelivery(options)).report,
    createPacing,
    createWebhookHandler: makeCreateWebhookHandler({
      core,
      applyStockDelivery,
      syncStocks,
      createPacing,
    }),
    validateOptions(options) {
      core().validateOptions(options);
    },
    version: () => core().version(),
  };
}
