// Where a stock page's JSON is parsed: serde_json on the body text inside wasm
// (the core's way), against JSON.parse of the same text in JS. JSON.parse alone is
// a lower bound of the JS route, which would still have to walk the parsed value
// into the core's structs across the boundary. Both parse the same real-sized page
// (50 rows with a two-warehouse breakdown, as the emulator serves it), interleaved
// round by round so machine noise hits both alike.
// Run: npm run bench:parse  (about 10 s).

import { readFileSync } from "node:fs";
import * as wasm from "../js/wasm/keycrm_stock_sync.js";
import { startEmulator, generateCatalogue } from "keycrm-stock-sync/testing";

wasm.initSync({
  module: readFileSync(new URL("../js/wasm/keycrm_stock_sync_bg.wasm", import.meta.url)),
});

const emulator = await startEmulator({ offers: generateCatalogue({ offers: 50 }) });
const response = await fetch(`${emulator.url}/offers/stocks?limit=50&page=1&filter[details]=true`, {
  headers: { Authorization: "Bearer test-api-key" },
});
const body = await response.text();
await emulator.close();

const ways = {
  "serde_json on text (in wasm)": () => wasm.parsePageText(body),
  "JSON.parse alone (in JS)": () => JSON.parse(body).data.length,
};
for (const parse of Object.values(ways)) {
  if (parse() !== 50) throw new Error("page did not parse to 50 rows");
}

const ROUNDS = 15;
const PER_ROUND = 2_000;
const samples = Object.fromEntries(Object.keys(ways).map((k) => [k, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, parse] of Object.entries(ways)) {
    const started = performance.now();
    for (let i = 0; i < PER_ROUND; i++) parse();
    samples[name].push(((performance.now() - started) * 1000) / PER_ROUND);
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const [text, value] = Object.keys(ways).map((k) => median(samples[k]));
console.log(`page of 50 rows with details: ${body.length} bytes`);
console.table(
  Object.keys(ways).map((k) => ({ way: k, "µs per page (median)": median(samples[k]).toFixed(1) })),
);
console.log(`JSON.parse alone / serde_json on text = ${(value / text).toFixed(2)}`);
