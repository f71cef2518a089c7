// How close a full scan comes to the pacing floor.
//
// The floor is the least time a scan of N pages can take under a limit of L
// requests a minute: (N − 1) × 60 / L seconds, since N request starts need N − 1
// gaps. The emulator enforces the same limit and adds response latency; the
// benchmark syncs into a real SQLite file and prints wall time / floor and the
// 429s seen. Run: npm run bench:scan  (about 40 s).

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { syncStocks } from "keycrm-stock-sync";
import { createSqliteSink, createSampleDatabase } from "keycrm-stock-sync/sqlite";
import { startEmulator, generateCatalogue } from "keycrm-stock-sync/testing";

const LIMIT = Number(process.env.BENCH_LIMIT ?? 600);
const OFFERS = Number(process.env.BENCH_OFFERS ?? 5_050);
const KEY = "bench-key";

const cases = [
  { name: "no added latency", latencyMs: 0 },
  { name: "latency 40–120 ms", latencyMs: [40, 120] },
  { name: "latency 300 ms", latencyMs: 300 },
];

const dir = mkdtempSync(join(tmpdir(), "keycrm-bench-"));
const offers = generateCatalogue({ offers: OFFERS });
const skus = [...new Set(offers.map((o) => o.sku).filter(Boolean))];
const rows = [];
try {
  for (const c of cases) {
    const emulator = await startEmulator({
      apiKey: KEY,
      offers,
      rateLimitPerMinute: LIMIT,
      latencyMs: c.latencyMs,
    });
    const path = join(dir, `${rows.length}.sqlite`);
    createSampleDatabase(path, { skus });
    const sink = createSqliteSink({ path });
    const started = performance.now();
    const report = await syncStocks({
      apiKey: KEY,
      apiUrl: emulator.url,
      sink,
      rateLimitPerMinute: LIMIT,
    });
    const wallMs = performance.now() - started;
    await sink.close();
    await emulator.close();
    if (!report.complete) throw new Error(`run failed: ${report.error.message}`);
    const floorMs = ((report.pages - 1) * 60_000) / LIMIT;
    rows.push({
      case: c.name,
      pages: report.pages,
      "floor s": (floorMs / 1000).toFixed(2),
      "wall s": (wallMs / 1000).toFixed(2),
      "wall/floor": (wallMs / floorMs).toFixed(3),
      "429s": report.rateLimited,
      updated: report.updated,
    });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(`${OFFERS} offers, limit ${LIMIT}/min on both sides`);
console.table(rows);
