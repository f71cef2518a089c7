// Where a stock page's JSON is parsed: in the wasm core from the answer's bytes,
// as a sync does (the fast page reader, the complete one where it steps aside),
// against the complete reader alone on the same bytes, and against a JS route's
// first step: decoding the bytes and JSON.parse. The JS route would still have to walk the
// parsed value into the core's structs across the boundary, so it is a lower
// bound. Pages as the emulator serves them (50 rows, "/" and non-ASCII escaped),
// with and without the warehouse breakdown; ways interleaved round by round so
// machine noise hits them alike.
// Run: npm run bench:parse  (about 15 s).

import { readFileSync } from "node:fs";
import * as wasm from "../js/wasm/keycrm_stock_sync.js";
import { startEmulator, generateCatalogue } from "keycrm-stock-sync/testing";

wasm.initSync({
  module: readFileSync(new URL("../js/wasm/keycrm_stock_sync_bg.wasm", import.meta.url)),
});

const emulator = await startEmulator({ offers: generateCatalogue({ offers: 50 }) });
const page = async (details) => {
  const query = details ? "&filter[details]=true" : "";
  const response = await fetch(`${emulator.url}/offers/stocks?limit=50&page=1${query}`, {
    headers: { Authorization: "Bearer test-api-key" },
  });
  return new Uint8Array(await response.arrayBuffer());
};
const pages = { totals: await page(false), "with the warehouse breakdown": await page(true) };
await emulator.close();

const decoder = new TextDecoder();
const ways = {
  "the core's reader (in wasm)": (bytes) => wasm.parsePage(bytes, false),
  "the complete reader alone (in wasm)": (bytes) => wasm.parsePage(bytes, true),
  "decode + JSON.parse (in JS)": (bytes) => JSON.parse(decoder.decode(bytes)).data.length,
};

const ROUNDS = 15;
const PER_ROUND = 1_000;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = [];
for (const [name, bytes] of Object.entries(pages)) {
  for (const parse of Object.values(ways)) {
    if (parse(bytes) !== 50) throw new Error("page did not parse to 50 rows");
  }
  const samples = Object.fromEntries(Object.keys(ways).map((k) => [k, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [way, parse] of Object.entries(ways)) {
      const started = process.cpuUsage();
      for (let i = 0; i < PER_ROUND; i++) parse(bytes);
      const used = process.cpuUsage(started);
      samples[way].push((used.user + used.system) / PER_ROUND);
    }
  }
  const js = median(samples["decode + JSON.parse (in JS)"]);
  for (const way of Object.keys(ways)) {
    rows.push({
      page: `${name}, ${(bytes.length / 1024).toFixed(1)} KB`,
      way,
      "µs per page (median)": median(samples[way]).toFixed(1),
      "/ JS": (median(samples[way]) / js).toFixed(2),
    });
  }
}
console.log(`Node ${process.version}; ${ROUNDS} interleaved rounds of ${PER_ROUND} parses; process CPU`);
console.table(rows);
