// Typed uses of the public API. `tsc --noEmit` fails if a typing drifts from how the
// package is meant to be used; each @ts-expect-error fails if a mistake stops being one.
import {
  isSyncError,
  syncStocks,
  validateOptions,
  type StockSink,
  type SyncReport,
} from "keycrm-stock-sync";
import { createSqliteSink, createSampleDatabase } from "keycrm-stock-sync/sqlite";
import {
  expectedAvailability,
  generateCatalogue,
  startEmulator,
} from "keycrm-stock-sync/testing";

export async function example(): Promise<void> {
  const offers = generateCatalogue({ offers: 100 });
  const emulator = await startEmulator({ offers, rateLimitPerMinute: 600 });
  createSampleDatabase("shop.sqlite", { skus: ["a", "b"] });
  const sink = createSqliteSink({ path: "shop.sqlite", table: "products" });
  const report: SyncReport = await syncStocks({
    apiKey: "key",
    apiUrl: emulator.url,
    sink,
    warehouses: [1, "Київ"],
    rateLimitPerMinute: 600,
    onProgress: (p) => console.log(p.pages, p.pagesLeft, p.etaMs),
  });
  if (!report.complete && report.error) {
    const code: "UNAUTHORIZED" | string = report.error.code;
    console.log(code, report.notOnSite.sample, report.duplicateSkus);
  }
  const expected: Map<string, number> = expectedAvailability(offers);
  console.log(expected.size);
  await sink.close();
  await emulator.close();

  // @ts-expect-error the API key is required
  await syncStocks({ sink });
  // @ts-expect-error options are checked by name
  validateOptions({ rateLimit: 60 });
  // @ts-expect-error warehouses are ids or names
  validateOptions({ warehouses: [true] });
  // @ts-expect-error a path or a database, not both
  createSqliteSink({});

  try {
    validateOptions({ rateLimitPerMinute: 0 });
  } catch (error) {
    if (isSyncError(error)) console.log(error.code, error.message);
  }
}

export const customSink: StockSink = {
  async read(keys) {
    return keys.map((k) => ({ sku: k.sku, stock: null }));
  },
  async write(changes) {
    for (const change of changes) console.log(change.sku, change.stock);
  },
};
