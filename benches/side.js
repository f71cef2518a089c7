// One side of a side-by-side benchmark (benches/core.js, benches/compare.js),
// in a process of its own: the package at a folder, or the plain-JS reference.
// The parent asks for one full scan at a time, alternating between its sides,
// and each answers with the CPU the scan took.
//
// Why a process each: V8 collects the young generation in a task that runs at
// the next turn of the event loop. Plain JS's sink calls resolve without one,
// so in a process shared with the package every collection of plain JS's
// garbage ran in the package's next scan (and was billed to it). Here each side
// pays for its own garbage, and each scan ends with a turn of the event loop on
// its clock, so that the collection its garbage set off is counted in it.
//
// Started as: node benches/side.js SPEC, SPEC a JSON object:
//   side       "package" or "reference"
//   dir        the package folder (with a built js/), for "package"; default the
//              installed package
//   offers     the catalogue's size; perPage, the rows a page
//   options    syncStocks options of the case (warehouses, perWarehouse)
//   bytes      give plain JS the bytes, decoded as response.json() would
//   text       serve the package answers without arrayBuffer()
// Messages in: "first sync" or "steady state"; out: { ms, offers, updated, pid }.

import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { generateCatalogue } from "keycrm-stock-sync/testing";
import { referenceSync } from "./reference.js";
import { withFreeWaits } from "./free-waits.js";
import { mapSink, memoryFetch, pageBytes, siteOf, stockPages } from "./pages.js";

const spec = JSON.parse(process.argv[2]);
const options = spec.options ?? {};
const perWarehouse = options.perWarehouse === true;
const details = perWarehouse || options.warehouses !== undefined;

const offers = generateCatalogue({ offers: spec.offers });
const pages = stockPages(offers, { details, perPage: spec.perPage });
const scan = spec.side === "package" ? await packageScan() : referenceScan();

// The site as a complete sync leaves it, for the steady state: made by this
// side's own scan, so that a process runs no code of the other side (whose
// objects would reach the Map sink's code, and whose functions V8 would
// compile here). tests/js/bench-reference.test.js checks that both sides write
// the same rows.
const synced = siteOf(offers, perWarehouse, 9_999);
await withFreeWaits(() => scan(mapSink(synced)));

/** A full scan by the package; made before any clock starts. */
async function packageScan() {
  const entry = spec.dir ? pathToFileURL(resolve(spec.dir, "js/node.js")).href : "keycrm-stock-sync";
  const { syncStocks } = await import(entry);
  // Every page's bytes are made here, once: they are the network's work.
  const fetch = memoryFetch(pages, { bytes: !spec.text });
  return async (sink) => {
    const report = await syncStocks({
      apiKey: "bench-key",
      apiUrl: "http://keycrm.invalid/v1",
      fetch,
      sink,
      rateLimitPerMinute: 60_000,
      maxSubrequests: 100_000,
      ...options,
    });
    if (!report.complete) throw new Error(`${report.error.code}: ${report.error.message}`);
    return report;
  };
}

/** A full scan by plain JS: given the text, or with `bytes` the bytes. */
function referenceScan() {
  const given = spec.bytes ? pageBytes(pages) : pages;
  return (sink) => referenceSync({ pages: given, sink, ...options });
}

process.on("message", async (state) => {
  const table = state === "first sync" ? siteOf(offers, perWarehouse, 9_999) : new Map(synced);
  const sink = mapSink(table);
  const { ms, report } = await withFreeWaits(async () => {
    const before = process.cpuUsage();
    const report = await scan(sink);
    await new Promise((resolve) => setImmediate(resolve));
    const used = process.cpuUsage(before);
    return { ms: (used.user + used.system) / 1000, report };
  });
  process.send({ ms, offers: report.offers, updated: report.updated, pid: process.pid });
});
process.send("ready");
