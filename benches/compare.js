// Two builds of the package side by side in one process: the CPU of a full scan
// through each one's syncStocks, rounds interleaved. This machine's noise moves
// whole runs by a fifth or more; within one process it moves both builds alike,
// so a change is measured here before it is judged against plain JS
// (bench:core). Both builds see the same harness, the same pages and the same
// garbage collector, which a package/reference comparison cannot give.
//
// Run: npm run bench:compare -- BEFORE AFTER
//   BEFORE, AFTER: package folders, each with a built js/ (for example a
//   worktree of an earlier commit after `npm run build`).
// BENCH_ROUNDS sets the rounds (default 20). Prints, per case, the median ms of
// each build and AFTER / BEFORE.

import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { generateCatalogue } from "keycrm-stock-sync/testing";
import { withFreeWaits } from "./free-waits.js";
import { mapSink, memoryFetch, siteOf, stockPages } from "./pages.js";

const [before, after] = process.argv.slice(2);
if (!before || !after) {
  console.error("usage: node benches/compare.js BEFORE AFTER (package folders with a built js/)");
  process.exit(2);
}
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);
const load = async (dir) => import(pathToFileURL(resolve(dir, "js/node.js")).href);
const builds = { before: await load(before), after: await load(after) };

const CASES = [
  { name: "totals", options: {} },
  { name: "2 warehouses by name", options: { warehouses: ["Київ", "Основний"] } },
  { name: "per warehouse", options: { perWarehouse: true } },
];

const offers = generateCatalogue({ offers: 5_000 });

async function cpuMs(build, fetch, options, table) {
  return withFreeWaits(async () => {
    const start = process.cpuUsage();
    const report = await build.syncStocks({
      apiKey: "bench-key",
      apiUrl: "http://keycrm.invalid/v1",
      fetch,
      sink: mapSink(table),
      rateLimitPerMinute: 60_000,
      maxSubrequests: 100_000,
      ...options,
    });
    const used = process.cpuUsage(start);
    if (!report.complete) throw new Error(`${report.error.code}: ${report.error.message}`);
    return (used.user + used.system) / 1000;
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = [];
for (const { name, options } of CASES) {
  const perWarehouse = options.perWarehouse === true;
  const fetch = memoryFetch(stockPages(offers, { details: name !== "totals" }));
  const synced = siteOf(offers, perWarehouse, 9_999);
  await cpuMs(builds.after, fetch, options, synced);
  for (const [state, start] of [
    ["first sync", () => siteOf(offers, perWarehouse, 9_999)],
    ["steady state", () => new Map(synced)],
  ]) {
    const samples = { before: [], after: [] };
    // Two rounds to warm up, not counted.
    for (let round = -2; round < ROUNDS; round += 1) {
      const order = round % 2 === 0 ? ["before", "after"] : ["after", "before"];
      for (const side of order) {
        const ms = await cpuMs(builds[side], fetch, options, start());
        if (round >= 0) samples[side].push(ms);
      }
    }
    const [b, a] = [median(samples.before), median(samples.after)];
    rows.push({
      case: name,
      state,
      "before ms": b.toFixed(2),
      "after ms": a.toFixed(2),
      "after / before": (a / b).toFixed(2),
    });
  }
}
console.log(`Node ${process.version}; 5000 offers in pages of 50; ${ROUNDS} interleaved rounds (medians); process CPU`);
console.table(rows);
