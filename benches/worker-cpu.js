// What one cron invocation of the Workers sync costs in CPU, and how big the
// Worker is.
//
// CPU: the core path of an invocation — the JS shim's fetch wrapper, parsing each
// page in wasm, deciding availability, diffing against the site, and the D1
// sink building its statements — for one free-plan invocation (48 subrequests:
// 50 less the 2 state calls), with KeyCRM's answers and D1 replaced by in-memory
// fakes so that only CPU remains. workerd freezes its clocks while code runs (a
// Spectre mitigation), so the CPU is measured in Node (process.cpuUsage, the
// whole process, so a slight overestimate) running the same JS and wasm on V8,
// the engine workerd embeds. Two cases: every row changed (a first sync) and
// nothing changed (the steady state); and the scheduled sync's free-plan default
// of 20 pages, without and with an observed column (as the example Worker has).
// Cold = the first invocation of a fresh isolate (instantiating the precompiled
// .wasm, and unoptimised JS), of 48 subrequests, of 20 pages and of 1 page. Waits
// (the pacing) are made free, as workerd does not bill them.
//
// Size: the example Worker bundled by `wrangler deploy --dry-run` (offline), each
// uploaded file gzipped.
//
// Run: npm run bench:worker  (about 20 s). Targets: one free-plan invocation's
// work within 10 ms CPU; the bundle ≤ 1 MB gzip.

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { syncStocks } from "keycrm-stock-sync";
import { createD1Sink } from "keycrm-stock-sync/d1";
import { generateCatalogue, startEmulator } from "keycrm-stock-sync/testing";
import { PLANS } from "../js/worker-config.js";
import { withFreeWaits } from "./free-waits.js";
import { memoryFetch } from "./pages.js";
import { STATE_CALLS } from "../js/worker-state.js";
import { buildExample, bundleSize } from "../tests/js/support/workers.js";

const OFFERS = 5_000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 25);
// What the scheduled sync leaves the core on the free plan: 50 subrequests less
// the 2 of its state, and its default page cap.
const FREE_PLAN_CORE_SUBREQUESTS = PLANS.free.subrequestBudget - STATE_CALLS;
const FREE_PLAN_REQUESTS = PLANS.free.maxRequests;
const KEY = "bench-key";
const CPU_TARGET_MS = 10;
const SIZE_TARGET = 1024 * 1024;

/** Page bodies exactly as the emulator serves them, by page number. */
async function recordPages(offers, details) {
  const emulator = await startEmulator({ apiKey: KEY, offers, rateLimitPerMinute: 0 });
  const pages = new Map();
  try {
    for (let page = 1; ; page += 1) {
      const query = `limit=50&page=${page}${details ? "&filter[details]=true" : ""}`;
      const response = await fetch(`${emulator.url}/offers/stocks?${query}`, {
        headers: { Authorization: `Bearer ${KEY}` },
      });
      pages.set(page, await response.text());
      if (JSON.parse(pages.get(page)).next_page_url === null) break;
    }
  } finally {
    await emulator.close();
  }
  return pages;
}

/**
 * A D1 binding over a Map, understanding just the D1 sink's statements; with
 * `observed`, those of a sink with an observed column (times read back as NULL).
 */
function memoryD1(rows, observed = false) {
  const width = observed ? 3 : 2;
  return {
    prepare: (sql) => ({ bind: (...values) => ({ sql, values }) }),
    async batch(statements) {
      return statements.map(({ sql, values }) => {
        if (sql.startsWith("SELECT")) {
          const results = [];
          for (const sku of values) {
            if (!rows.has(sku)) continue;
            results.push(
              observed
                ? { sku, stock: rows.get(sku), observedAt: null }
                : { sku, stock: rows.get(sku) },
            );
          }
          return { results };
        }
        for (let i = 0; i < values.length; i += width) {
          if (rows.has(values[i])) rows.set(values[i], values[i + 1]);
        }
        return { results: [], meta: { changes: values.length / width } };
      });
    },
  };
}


async function invocation({ pages, rows, warehouses, maxRequests, observed, budget = FREE_PLAN_CORE_SUBREQUESTS }) {
  const sink = createD1Sink({
    database: memoryD1(rows, observed),
    ...(observed ? { observedColumn: "observed_at" } : {}),
  });
  return withFreeWaits(() => measured({ pages, sink, warehouses, maxRequests, budget }));
}

async function measured({ pages, sink, warehouses, maxRequests, budget }) {
  // Made before the clock starts: it encodes every page, which the network
  // would have done.
  const fetch = memoryFetch(pages);
  const before = process.cpuUsage();
  const report = await syncStocks({
    apiKey: KEY,
    apiUrl: "http://keycrm.invalid/v1",
    fetch,
    sink,
    rateLimitPerMinute: 60_000,
    ...(budget === null ? {} : { maxSubrequests: budget }),
    ...(warehouses ? { warehouses } : {}),
    ...(maxRequests ? { maxRequests } : {}),
  });
  const used = process.cpuUsage(before);
  if (report.error && report.error.code !== "BUDGET_EXHAUSTED") {
    throw new Error(`${report.error.code}: ${report.error.message}`);
  }
  return { cpuMs: (used.user + used.system) / 1000, report };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// The main thread's CPU in ms (Linux), or null: V8 compiles and collects garbage
// on helper threads as well, which process.cpuUsage() adds in. Updated at
// scheduler ticks, so only sums over many runs are precise.
function mainThreadMs() {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/schedstat`, "utf8");
    return Number(stat.split(" ")[0]) / 1e6;
  } catch {
    return null;
  }
}

async function measure(label, { details, warehouses, maxRequests, observed }) {
  const offers = generateCatalogue({ offers: OFFERS });
  const pages = await recordPages(offers, details);
  const skus = [...new Set(offers.map((o) => o.sku).filter(Boolean))];
  // The site as a complete sync leaves it, for the steady-state case.
  const synced = new Map(skus.map((sku) => [sku, 0]));
  await invocation({ pages, rows: synced, warehouses, budget: null });
  const changed = [];
  const unchanged = [];
  const mainThread = { changed: 0, unchanged: 0 };
  for (let round = 0; round < ROUNDS; round += 1) {
    const start = mainThreadMs();
    const first = await invocation({
      pages,
      rows: new Map(skus.map((sku) => [sku, 0])),
      warehouses,
      maxRequests,
      observed,
    });
    const middle = mainThreadMs();
    const again = await invocation({ pages, rows: new Map(synced), warehouses, maxRequests, observed });
    if (start !== null) {
      mainThread.changed += middle - start;
      mainThread.unchanged += mainThreadMs() - middle;
    }
    // Only SKUs on two offers in different batches are written (and put back).
    if (again.report.updated > again.report.duplicateSkus.length * 2) {
      throw new Error(`the steady-state run wrote ${again.report.updated} rows`);
    }
    changed.push(first);
    unchanged.push(again);
  }
  const summary = (runs, main) => ({
    ms: median(runs.map((run) => run.cpuMs)),
    // Includes building each round's fake site, a small part.
    mainMs: mainThreadMs() === null ? null : main / ROUNDS,
    report: runs[0].report,
  });
  return [
    { label, case: "every row changed", ...summary(changed, mainThread.changed) },
    { label, case: "nothing changed", ...summary(unchanged, mainThread.unchanged) },
  ];
}

// A fresh process per sample, set up as workerd runs the Worker: the .wasm is
// compiled beforehand (Workers compile it at upload), and the first invocation
// instantiates it — as js/workerd.js does — and runs with cold JIT.
const COLD_SCRIPT = `
  import { readFileSync } from "node:fs";
  import { makeApi } from "./js/api.js";
  import { createD1Sink } from "./js/sinks/d1.js";
  import { memoryFetch } from "./benches/pages.js";
  const compiled = new WebAssembly.Module(readFileSync("./js/wasm/keycrm_stock_sync_bg.wasm"));
  // As js/workerd.js does: a module compiled ahead, instantiated on first use.
  const { syncStocks } = makeApi(() => compiled, "bench");
  const data = JSON.parse(readFileSync(process.env.BENCH_DATA, "utf8"));
  const pages = new Map(data.pages);
  const rows = new Map(data.rows);
  const database = {
    prepare: (sql) => ({ bind: (...values) => ({ sql, values }) }),
    async batch(statements) {
      return statements.map(({ sql, values }) => {
        if (sql.startsWith("SELECT")) {
          return { results: values.filter((s) => rows.has(s)).map((sku) => ({ sku, stock: rows.get(sku) })) };
        }
        for (let i = 0; i < values.length; i += 2) if (rows.has(values[i])) rows.set(values[i], values[i + 1]);
        return { results: [], meta: { changes: values.length / 2 } };
      });
    },
  };
  const fetch = memoryFetch(pages);
  // The main thread's CPU (Linux): V8 compiles and collects garbage on other
  // threads too, which process.cpuUsage() would add in.
  const stat = "/proc/self/task/" + process.pid + "/schedstat";
  const mainThreadMs = () => {
    try {
      return Number(readFileSync(stat, "utf8").split(" ")[0]) / 1e6;
    } catch {
      return null;
    }
  };
  const mainBefore = mainThreadMs();
  const before = process.cpuUsage();
  const report = await syncStocks({
    apiKey: "k",
    apiUrl: "http://keycrm.invalid/v1",
    sink: createD1Sink({ database }),
    fetch,
    rateLimitPerMinute: 60000,
    maxSubrequests: ${FREE_PLAN_CORE_SUBREQUESTS},
    maxRequests: Number(process.env.BENCH_MAX_REQUESTS) || undefined,
  });
  const used = process.cpuUsage(before);
  const mainMs = mainBefore === null ? null : mainThreadMs() - mainBefore;
  console.log(JSON.stringify({ ms: (used.user + used.system) / 1000, mainMs, offers: report.offers }));
`;

async function coldSamples(count, maxRequests) {
  const offers = generateCatalogue({ offers: OFFERS });
  const pages = await recordPages(offers, false);
  const rows = [...new Set(offers.map((o) => o.sku).filter(Boolean))].map((sku) => [sku, 0]);
  const dir = mkdtempSync(join(tmpdir(), "keycrm-bench-"));
  const data = join(dir, "data.json");
  writeFileSync(data, JSON.stringify({ pages: [...pages], rows }));
  try {
    return Array.from({ length: count }, () =>
      JSON.parse(
        execFileSync(process.execPath, [...(process.env.BENCH_NODE_FLAGS ?? "").split(" ").filter(Boolean), "--input-type=module", "-e", COLD_SCRIPT], {
          cwd: fileURLToPath(new URL("..", import.meta.url)),
          env: { ...process.env, BENCH_DATA: data, BENCH_MAX_REQUESTS: String(maxRequests ?? "") },
          encoding: "utf8",
        }),
      ),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const results = [
  ...(await measure("totals", { details: false })),
  ...(await measure("2 warehouses by name", { details: true, warehouses: ["Київ", "Основний"] })),
  ...(await measure(`totals, ${FREE_PLAN_REQUESTS} pages (free plan default)`, {
    details: false,
    maxRequests: FREE_PLAN_REQUESTS,
  })),
  ...(await measure(`totals, ${FREE_PLAN_REQUESTS} pages, observed column (the example)`, {
    details: false,
    maxRequests: FREE_PLAN_REQUESTS,
    observed: true,
  })),
];

const cold = await coldSamples(5);
const coldFree = await coldSamples(5, FREE_PLAN_REQUESTS);
// One page: what a fresh isolate costs before its pages do.
const coldOne = await coldSamples(5, 1);

const built = await buildExample();
const size = bundleSize(built.outdir);
built.dispose();

console.log(
  `Node ${process.version}, V8 ${process.versions.v8}; ${ROUNDS} rounds; process CPU: median, main thread: mean; ` +
    `an invocation: ${FREE_PLAN_CORE_SUBREQUESTS} core subrequests`,
);
console.table(
  results.map((r) => ({
    run: r.label,
    case: r.case,
    pages: r.report.pages,
    offers: r.report.offers,
    "process CPU ms": r.ms.toFixed(2),
    "main thread ms": r.mainMs?.toFixed(2) ?? "n/a",
    "main thread ms / 1 000 offers": r.mainMs === null ? "n/a" : ((r.mainMs * 1000) / r.report.offers).toFixed(2),
    [`≤ ${CPU_TARGET_MS} ms`]: (r.mainMs ?? r.ms) <= CPU_TARGET_MS ? "yes" : "NO",
  })),
);
for (const [label, samples] of [
  ["48 subrequests", cold],
  [`${FREE_PLAN_REQUESTS} pages`, coldFree],
  ["1 page", coldOne],
]) {
  const main = samples.every((c) => c.mainMs !== null)
    ? `, ${median(samples.map((c) => c.mainMs)).toFixed(1)} ms on the main thread`
    : "";
  console.log(
    `cold first invocation, ${label} (fresh isolate: instantiation and cold JIT, every row changed): ` +
      `median ${median(samples.map((c) => c.ms)).toFixed(1)} ms CPU${main}, ${samples[0].offers} offers`,
  );
}
console.log(
  `bundle: ${size.files.join(", ")} — ${(size.raw / 1024).toFixed(1)} KiB, ${(size.gzip / 1024).toFixed(1)} KiB gzip ` +
    `(${size.gzip <= SIZE_TARGET ? "within" : "OVER"} the 1 MB target)`,
);
