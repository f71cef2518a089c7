// syncStocks(), the same on every runtime: splits the options into what the core
// decides with and what only the shim may hold (the key, the sink, callbacks), and
// runs the core with callbacks that do the I/O.

import { adoptError, redact, redactError, syncError } from "./errors.js";
import { drive } from "./drive.js";
import { keycrmFetcher } from "./http.js";
import { corePacing } from "./pacing.js";

/**
 * @param {() => typeof import("./wasm/keycrm_stock_sync.js")} core
 *   returns the initialised wasm module, or throws if it cannot be loaded
 */
export function makeSyncStocks(core) {
  return runWith(core, (wasm) => wasm.startSync);
}

/**
 * checkStock(): a read-only scan with the options of syncStocks (but the
 * filters, resumeFrom and zeroMissing) that reads the sink once with readAll()
 * and resolves with the report and its `findings`. Nothing is written.
 * @param {() => typeof import("./wasm/keycrm_stock_sync.js")} core
 */
export function makeCheckStock(core) {
  const run = runWith(core, (wasm) => wasm.startCheck);
  return async function checkStock(options) {
    if (typeof options?.sink?.readAll !== "function") {
      throw syncError(
        "INVALID_CONFIG",
        "checkStock needs a sink with readAll(), which every bundled sink has: a custom sink must list all its rows to be compared",
      );
    }
    const { pacing, ...rest } = options;
    if (pacing !== undefined) {
      throw syncError("INVALID_CONFIG", "checkStock takes no pacing");
    }
    return run(rest);
  };
}

// A run of the core entry `entryOf` picks, with the shim's I/O around it.
function runWith(core, entryOf) {
  return async function syncStocks(options) {
    const { apiKey, sink, onProgress, fetch, signal, pacing, ...coreOptions } =
      options ?? {};
    if (typeof apiKey !== "string" || apiKey.trim() === "") {
      throw syncError(
        "INVALID_CONFIG",
        "apiKey is required (the CLI reads it from KEYCRM_API_KEY)",
      );
    }
    if (onProgress !== undefined && typeof onProgress !== "function") {
      throw syncError("INVALID_CONFIG", "onProgress must be a function");
    }
    assertSink(sink);
    const wasm = core();
    const shared = corePacing(pacing);
    const fetcher = keycrmFetcher({ apiKey, fetch: fetch ?? globalThis.fetch });
    const io = {
      fetch: fetcher,
      read: (keys) => sink.read(keys),
      write: (changes) => sink.write(changes),
      readAll:
        typeof sink.readAll === "function" ? () => sink.readAll() : undefined,
      progress: onProgress,
      // Checked between steps: a stop lets the batch in flight be written.
      shouldStop: signal ? () => signal.aborted : undefined,
    };
    try {
      // Shared pacing has a sync entry only; checkStock takes none.
      const run = shared
        ? shared.startSync(coreOptions, Date.now(), Math.random())
        : entryOf(wasm)(coreOptions, Date.now(), Math.random());
      return redact(await drive(run, io), apiKey);
    } catch (error) {
      throw redactError(error, apiKey);
    } finally {
      // Requests the core started ahead and no longer needs are aborted, so
      // they cannot keep the process alive.
      fetcher.close();
    }
  };
}

/**
 * Writes one delivery of KeyCRM's stock webhook through the same rules as a sync,
 * with no request to KeyCRM; resolves with `{ report, offerIds }` (the delivery's
 * offers, each once, for the webhook handler's confirmations).
 * @param {() => typeof import("./wasm/keycrm_stock_sync.js")} core
 */
export function makeApplyStockDelivery(core) {
  return async function applyStockDelivery(options) {
    const { body, sink, maxRows = 1000, ...coreOptions } = options ?? {};
    if (typeof body !== "string") {
      throw syncError("INVALID_CONFIG", "body must be the webhook's raw text");
    }
    assertSink(sink);
    const io = {
      fetch: () => {
        throw new Error("a stock webhook makes no request to KeyCRM");
      },
      read: (keys) => sink.read(keys),
      write: (changes) => sink.write(changes),
    };
    try {
      const run = core().startStockWebhook(coreOptions, body, maxRows, Date.now());
      const offerIds = run.offerIds();
      return { report: await drive(run, io), offerIds: [...offerIds] };
    } catch (error) {
      throw adoptError(error);
    }
  };
}

function assertSink(sink) {
  if (
    sink === null ||
    typeof sink !== "object" ||
    typeof sink.read !== "function" ||
    typeof sink.write !== "function"
  ) {
    throw syncError(
      "INVALID_CONFIG",
      "sink must be an object with read(keys) and write(changes)",
    );
  }
}
