// What a page costs in CPU in the package (the wasm core and its JS shim)
// against a plain-JS implementation of the same rules (benches/reference.js),
// side by side in one run.
//
// Warm: each side in processes of its own (benches/side.js; several, as one
// process may settle at a speed of its own; see benches/sides.js), the two
// taking turns at full scans of OFFERS offers served from memory into a Map sink,
// waits made free (timers fire on the next turn and move Date.now() on). Cases:
// totals, two warehouses summed by name, per-warehouse rows; each as a first
// sync (every row changed) and the steady state (nothing changed), a round
// scanning both in one process of each side, so that they are measured in
// processes of the same age (a table after the results shows how the ratio
// moved while the processes warmed up). Both sides
// compare full batches of 500 (the package with a subrequest budget), so they
// do the same sink calls. CPU is process.cpuUsage (the side's whole process,
// helper threads included), each scan ending with a turn of the event loop so
// that the garbage collection it set off is counted in it: medians over rounds,
// per 1 000 offers, and the ratio of the medians (package / reference; below
// 1: the package is cheaper).
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
// Run: npm run bench:core  (about 30 s on a quiet machine). BENCH_ROUNDS (shared
// among a side's processes), BENCH_WARMUP (each process), BENCH_PROCESSES (a
// side's) and BENCH_COLD set the counts (BENCH_COLD=0: no cold samples); BENCH_CASES picks cases by name
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
import { generateCatalogue } from "keycrm-stock-sync/testing";
import { chosenCases, median, sideBySide, startSide } from "./sides.js";
import { siteOf, stockPages } from "./pages.js";

const OFFERS = Number(process.env.BENCH_OFFERS ?? 5_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 48);
// Rounds before each case's counted ones, in each of its sides' fresh processes:
// the package keeps getting faster for twenty to thirty scans of a process,
// plain JS for about ten. With two such rounds the package's first sync of
// totals measured 1.2–3.1× from one run to the next; the warming table shows
// where 20 leave them.
const WARMUP = Number(process.env.BENCH_WARMUP ?? 20);
const PROCESSES = Number(process.env.BENCH_PROCESSES ?? 4);
const COLD = Number(process.env.BENCH_COLD ?? 5);
const COLD_PAGES = 12;
const BUDGET = 100_000;

const PER_PAGE = Number(process.env.BENCH_PER_PAGE ?? 50);
const COLD_FLAGS = (process.env.BENCH_COLD_FLAGS ?? "").split(" ").filter(Boolean);

const CASES = chosenCases();

const offers = generateCatalogue({ offers: OFFERS });
const rows = [];
// How the ratio moves as the processes warm up, by case and state.
const warming = [];

/**
 * package / reference of a state's scans, by the age of the processes that made
 * them (rounds scanned before): the warm-up's, in spans, and the counted ones.
 */
function warmingRatios(scans, state) {
  const spans = [
    [0, 1],
    [1, 5],
    [5, 10],
    [10, 20],
    [20, 40],
  ].filter(([from]) => from < WARMUP);
  const ratio = (pick) => {
    const ms = (side) =>
      median(scans.filter((s) => s.state === state && s.side === side && pick(s)).map((s) => s.ms));
    return (ms("package") / ms("reference")).toFixed(2);
  };
  const out = {};
  for (const [from, to] of spans) {
    const end = Math.min(to, WARMUP);
    const label = end - from === 1 ? `round ${from + 1}` : `rounds ${from + 1}–${end}`;
    out[label] = ratio((s) => !s.counted && s.age >= from && s.age < end);
  }
  out.counted = ratio((s) => s.counted);
  return out;
}
for (const { name, options } of CASES) {
  const spec = { offers: OFFERS, perPage: PER_PAGE, options };
  const sides = {
    package: await startSide(
      { ...spec, side: "package", text: Boolean(process.env.BENCH_TEXT) },
      { processes: PROCESSES },
    ),
    reference: await startSide(
      { ...spec, side: "reference", bytes: Boolean(process.env.BENCH_REFERENCE_BYTES) },
      { processes: PROCESSES },
    ),
  };
  try {
    const states = ["first sync", "steady state"];
    const { medians, seen, scans } = await sideBySide(sides, states, {
      warmup: WARMUP,
      rounds: ROUNDS,
    });
    for (const state of states) {
      const { package: pkg, reference: ref } = medians[state];
      const per = (ms) => ((ms * 1000) / seen[state].offers).toFixed(2);
      rows.push({
        case: name,
        state,
        "package ms / 1 000 offers": per(pkg),
        "reference ms / 1 000 offers": per(ref),
        "package / reference": (pkg / ref).toFixed(2),
      });
      warming.push({ case: name, state, ...warmingRatios(scans, state) });
    }
  } finally {
    for (const side of Object.values(sides)) side.close();
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
    `${PROCESSES} processes a side, ${ROUNDS} rounds in turn (medians) after ${WARMUP} a process, ` +
    `${COLD} cold processes each; process CPU`,
);
console.table(rows);
console.log(
  "package / reference as the processes warm up (rounds of each process; a round scans both states):",
);
console.table(warming);
if (process.env.BENCH_JSON) console.log(JSON.stringify({ rows, warming }));
