// Pacing shared between runs of one process: a full sync and the order webhooks'
// syncs, say, whose requests go to one KeyCRM account and must keep to its limit
// together. The core keeps the shared state; this is the handle users pass around.
// It is created lazily, so that making one (at a Worker's top level, say) loads
// nothing until a run uses it.

import { syncError } from "./errors.js";

const CORE_PACING = Symbol("keycrm-stock-sync pacing");

/**
 * @param {() => typeof import("./wasm/keycrm_stock_sync.js")} core
 */
export function makeCreatePacing(core) {
  return function createPacing() {
    let shared;
    return Object.freeze({
      [CORE_PACING]: () => (shared ??= new (core().RequestPacing)()),
    });
  };
}

/** The core's pacing behind a handle from createPacing(), or undefined for none. */
export function corePacing(pacing) {
  if (pacing === undefined || pacing === null) return undefined;
  if (typeof pacing[CORE_PACING] !== "function") {
    throw syncError(
      "INVALID_CONFIG",
      "pacing must be a value returned by createPacing()",
    );
  }
  return pacing[CORE_PACING]();
}
