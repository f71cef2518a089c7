// What a page costs in CPU in the package (the wasm core and its JS shim)
// against a plain-JS implementation of the same rules (benches/reference.js),
// side by side in one process.
//
// Warm: rounds interleaved (package, reference; then the other way round),
// each a full scan of OFFERS offers served from memory into a Map sink, waits
// made free (timers fire on the next turn and move Date.now() on). Cases:
// totals, two warehouses summed by name, per-warehouse rows; each as a first
// sync (every row changed) and the steady state (nothing changed). Both sides
// compare full batches of 500 (the package with a subrequest budget), so they
// do the same sink calls. CPU is process.cpuUsage (the whole process, helper
// threads included): medians over rounds, per 1 000 offers, and the ratio of
// the medians (package / reference; below 1: the package is cheaper).
//
// Each side gets its pages as it takes them, made before the clock starts: the
// package the bytes (as the network gives them), the reference the text
// (BENCH_REFERENCE_BYTES=1: the bytes too, which it decodes as response.json()
// would).
//
// Cold: a fresh process per sample, once the harness has made its pages and
// site: import, compile and instantiate, and the first 12 pages of a first sync
// (totals), for each side.
//
// Run: npm run bench:core  (about 10 s on a quiet machine). BENCH_ROUNDS, BENCH_WARMUP,
// BENCH_COLD set the counts (BENCH_COLD=0: no cold samples); BENCH_CASES picks cases by name
// (comma-separated: totals, names, per-warehouse); BENCH_PER_PAGE sets the rows a
// page (50); BENCH_COLD_FLAGS passes flags to the cold processes' node (such as
// --liftoff-only); BENCH_TEXT=1 serves answers without arrayBuffer() (the body
// then crosses into wasm as a string). The machine may be busy: compare ratios of
// one run, not absolutes across runs.

import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { syncStocks } from "keycrm-stock-sync";
import { generateCatalogue } from "keycrm-stock-sync/testing";
import { referenceSync } from "./reference.js";
import { withFreeWaits } from "./free-waits.js";
import { mapSink, memoryFetch, siteOf, stockPages } from "./pages.js";

const OFFERS = Number(process.env.BENCH_OFFERS ?? 5_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
// Rounds before each case's counted ones. The first case measured is the
// process's first use of either side: with two rounds, the package's first
// sync of totals still carried V8 optimising its code, and measured 1.2–3.1×
// from one run to the next; with twelve, 1.44–1.65× in four runs.
const WARMUP = Number(process.env.BENCH_WARMUP ?? 12);
const COLD = Number(process.env.BENCH_COLD ?? 5);
const COLD_PAGES = 12;
const BUDGET = 100_000;

const PER_PAGE = Number(process.env.BENCH_PER_PAGE ?? 50);
const COLD_FLAGS = (process.env.BENCH_COLD_FLAGS ?? "").split(" ").filter(Boolean);

const ALL_CASES = [
  { key: "totals", name: "totals", options: {} },
  { key: "names", name: "2 warehouses by name", options: { warehouses: ["Київ", "Основний"] } },
  { key: "per-warehouse", name: "per warehouse", options: { perWarehouse: true } },
];
const chosen = process.env.BENCH_CASES?.split(",");
const CASES = ALL_CASES.filter((c) => chosen === undefined || chosen.includes(c.key));


function cpuMs(body) {
  return withFreeWaits(async () => {
    const before = process.cpuUsage();
    const out = await body();
    const used = process.cpuUsage(before);
    return { ms: (used.user + used.system) / 1000, out };
  });
}

async function runPackage(fetch, options, table) {
  const sink = mapSink(table);
  const { ms, out } = await cpuMs(() =>
    syncStocks({
      apiKey: "bench-key",
      apiUrl: "http://keycrm.invalid/v1",
      fetch,
      sink,
      rateLimitPerMinute: 60_000,
      maxSubrequests: BUDGET,
      ...options,
    }),
  );
  if (!out.complete) throw new Error(`${out.error.code}: ${out.error.message}`);
  return { ms, offers: out.offers, updated: out.updated };
}

async function runReference(pages, options, table) {
  const sink = mapSink(table);
  const { ms, out } = await cpuMs(() => referenceSync({ pages, sink, ...options }));
  return { ms, offers: out.offers, updated: out.updated };
}

const encoder = new TextEncoder();
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const offers = generateCatalogue({ offers: OFFERS });
const rows = [];
for (const { name, options } of CASES) {
  const perWarehouse = options.perWarehouse === true;
  const details = perWarehouse || options.warehouses !== undefined;
  const pages = stockPages(offers, { details, perPage: PER_PAGE });
  // Made once, outside the measured runs: it encodes every page to the bytes
  // the network would give.
  const fetch = memoryFetch(pages, { bytes: !process.env.BENCH_TEXT });
  // With BENCH_REFERENCE_BYTES=1 the reference is given the bytes too, and
  // decodes them as response.json() would.
  const referencePages = process.env.BENCH_REFERENCE_BYTES
    ? new Map([...pages].map(([n, text]) => [n, encoder.encode(text)]))
    : pages;
  // The site as a complete sync leaves it, for the steady state.
  const synced = siteOf(offers, perWarehouse, 9_999);
  await runReference(pages, options, synced);
  for (const [state, start] of [
    ["first sync", () => siteOf(offers, perWarehouse, 9_999)],
    ["steady state", () => new Map(synced)],
  ]) {
    const samples = { package: [], reference: [] };
    let seen = null;
    // Rounds to warm up, not counted.
    for (let round = -WARMUP; round < ROUNDS; round += 1) {
      const order = round % 2 === 0 ? ["package", "reference"] : ["reference", "package"];
      for (const side of order) {
        const result =
          side === "package"
            ? await runPackage(fetch, options, start())
            : await runReference(referencePages, options, start());
        if (round >= 0) samples[side].push(result.ms);
        seen ??= result;
      }
    }
    const pkg = median(samples.package);
    const ref = median(samples.reference);
    const per = (ms) => ((ms * 1000) / seen.offers).toFixed(2);
    rows.push({
      case: name,
      state,
      "package ms / 1 000 offers": per(pkg),
      "reference ms / 1 000 offers": per(ref),
      "package / reference": (pkg / ref).toFixed(2),
    });
  }
}

// A fresh process per sample: import (compile, instantiate), then the first
// 12 pages of a first sync.
const COLD_SCRIPT = (side) => `
  import { readFileSync } from "node:fs";
  import { mapSink, memoryFetch } from "./benches/pages.js";
  const data = JSON.parse(readFileSync(process.env.BENCH_DATA, "utf8"));
  // The harness's part (pages, their bytes, the site) is made before the clock
  // starts.
  const pages = new Map(data.pages);
  const fetch = memoryFetch(pages);
  const sink = mapSink(new Map(data.rows));
  const before = process.cpuUsage();
  ${
    side === "package"
      ? `const { syncStocks } = await import("keycrm-stock-sync");
  const report = await syncStocks({
    apiKey: "k",
    apiUrl: "http://keycrm.invalid/v1",
    fetch,
    sink,
    rateLimitPerMinute: 60000,
    maxSubrequests: ${BUDGET},
    maxRequests: ${COLD_PAGES},
  });`
      : `const { referenceSync } = await import("./benches/reference.js");
  const report = await referenceSync({ pages, sink, maxPages: ${COLD_PAGES} });`
  }
  const used = process.cpuUsage(before);
  console.log(JSON.stringify({ ms: (used.user + used.system) / 1000, offers: report.offers }));
`;

const root = fileURLToPath(new URL("..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "keycrm-bench-"));
const cold = { package: [], reference: [] };
try {
  const data = join(dir, "data.json");
  writeFileSync(
    data,
    JSON.stringify({
      pages: [...stockPages(offers)],
      rows: [...siteOf(offers, false, 9_999)],
    }),
  );
  for (let i = 0; i < COLD; i += 1) {
    for (const side of i % 2 === 0 ? ["package", "reference"] : ["reference", "package"]) {
      const out = execFileSync(
        process.execPath,
        [...COLD_FLAGS, "--input-type=module", "-e", COLD_SCRIPT(side)],
        { cwd: root, env: { ...process.env, BENCH_DATA: data }, encoding: "utf8" },
      );
      cold[side].push(JSON.parse(out).ms);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
if (COLD > 0) {
  const coldPkg = median(cold.package);
  const coldRef = median(cold.reference);
  rows.push({
    case: `cold: first ${COLD_PAGES} pages, totals`,
    state: "first sync",
    "package ms / 1 000 offers": `${coldPkg.toFixed(1)} ms in all`,
    "reference ms / 1 000 offers": `${coldRef.toFixed(1)} ms in all`,
    "package / reference": (coldPkg / coldRef).toFixed(2),
  });
}

console.log(
  `Node ${process.version}, V8 ${process.versions.v8}; ${OFFERS} offers in pages of ${PER_PAGE}; ` +
    `${ROUNDS} interleaved rounds (medians) after ${WARMUP}, ${COLD} cold processes each; process CPU`,
);
console.table(rows);
if (process.env.BENCH_JSON) console.log(JSON.stringify(rows));
