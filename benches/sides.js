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
  const unknown = chosen?.filter((key) => !CASES.some((c) => c.key === key)) ?? [];
  if (unknown.length > 0) {
    const known = CASES.map((c) => c.key).join(", ");
    throw new Error(`BENCH_CASES: no case ${unknown.join(", ")} (the cases: ${known})`);
  }
  return CASES.filter((c) => chosen === undefined || chosen.includes(c.key));
}

/**
 * Starts a side (see benches/side.js for `spec`) in `processes` processes, and
 * resolves once each has made its pages and site. Its scans go to them in turn.
 *
 * Why several: two processes of one build, taking turns in the same minute, can
 * settle at speeds far apart (a build against itself measured 0.70 once), so a
 * build measured in one process is measured at one draw of that. With
 * an even number of processes a side, half of each side's go first in their
 * rounds and half second.
 * @returns {Promise<{ processes: number, scan(state: string): Promise<{ ms: number, offers: number, updated: number, pid: number }>, close(): void }>}
 */
export async function startSide(spec, { processes = 1 } = {}) {
  const children = [];
  try {
    for (let i = 0; i < processes; i += 1) {
      const child = fork(SIDE, [JSON.stringify(spec)], { stdio: "inherit" });
      children.push(child);
      await answer(child);
    }
  } catch (error) {
    for (const child of children) child.kill();
    throw error;
  }
  let next = 0;
  return {
    processes,
    scan(state) {
      const child = children[next];
      next = (next + 1) % children.length;
      child.send(state);
      return answer(child);
    },
    close: () => children.forEach((child) => child.kill()),
  };
}

/**
 * CPU ms of each side's scans of `state`: the median of `rounds` rounds, after
 * `warmup` rounds not counted, for each of a side's processes. The sides take
 * turns, and turns at going first.
 * @param {Record<string, { processes?: number, scan(state: string): Promise<{ ms: number }> }>} sides
 * @returns {Promise<{ medians: Record<string, number>, seen: { offers: number, updated: number } }>}
 */
export async function sideBySide(sides, state, { warmup, rounds }) {
  const names = Object.keys(sides);
  const processes = Math.max(...names.map((name) => sides[name].processes ?? 1));
  const samples = Object.fromEntries(names.map((name) => [name, []]));
  let seen = null;
  const turns = Math.max(rounds, processes);
  for (let round = -warmup * processes; round < turns; round += 1) {
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
