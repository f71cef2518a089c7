// Sides of a benchmark in processes of their own (benches/side.js), taking
// turns at full scans.

import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";

const SIDE = fileURLToPath(new URL("./side.js", import.meta.url));

const CASES = [
  { key: "totals", name: "totals", options: {} },
  { key: "names", name: "2 warehouses by name", options: { warehouses: ["Київ", "Основний"] } },
  { key: "per-warehouse", name: "per warehouse", options: { perWarehouse: true } },
];

/**
 * The cases of a full scan that the benchmarks measure, or those BENCH_CASES
 * names (comma-separated keys: totals, names, per-warehouse).
 */
export function chosenCases() {
  const chosen = process.env.BENCH_CASES?.split(",");
  return CASES.filter((c) => chosen === undefined || chosen.includes(c.key));
}

/**
 * Starts a side (see benches/side.js for `spec`) and resolves once it has made
 * its pages and site.
 * @returns {Promise<{ scan(state: string): Promise<{ ms: number, offers: number, updated: number }>, close(): void }>}
 */
export async function startSide(spec) {
  const child = fork(SIDE, [JSON.stringify(spec)], { stdio: "inherit" });
  await answer(child);
  return {
    scan(state) {
      child.send(state);
      return answer(child);
    },
    close: () => child.kill(),
  };
}

/**
 * CPU ms of each side's scans of `state`, the median of `rounds` after `warmup`
 * not counted; the sides take turns, and turns at going first.
 * @param {Record<string, { scan(state: string): Promise<{ ms: number }> }>} sides
 * @returns {Promise<{ medians: Record<string, number>, seen: { offers: number, updated: number } }>}
 */
export async function sideBySide(sides, state, { warmup, rounds }) {
  const names = Object.keys(sides);
  const samples = Object.fromEntries(names.map((name) => [name, []]));
  let seen = null;
  for (let round = -warmup; round < rounds; round += 1) {
    for (const name of round % 2 === 0 ? names : [...names].reverse()) {
      const result = await sides[name].scan(state);
      if (round >= 0) samples[name].push(result.ms);
      seen ??= result;
    }
  }
  const medians = Object.fromEntries(names.map((name) => [name, median(samples[name])]));
  return { medians, seen };
}

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The side's next message; rejects if it exits first. */
function answer(child) {
  return new Promise((resolve, reject) => {
    const done = () => {
      child.off("message", onMessage);
      child.off("exit", onExit);
    };
    const onMessage = (message) => {
      done();
      resolve(message);
    };
    const onExit = (code, signal) => {
      done();
      reject(new Error(`a benchmark side exited (${signal ?? code}) before answering`));
    };
    child.on("message", onMessage);
    child.on("exit", onExit);
  });
}
