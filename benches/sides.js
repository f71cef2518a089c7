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
  // The process each state's next scan goes to: each state in turn through all
  // of them, so that a round of several states is scanned in one process.
  const next = new Map();
  return {
    processes,
    scan(state) {
      const at = next.get(state) ?? 0;
      next.set(state, (at + 1) % children.length);
      const child = children[at];
      child.send(state);
      return answer(child);
    },
    close: () => children.forEach((child) => child.kill()),
  };
}

/**
 * CPU ms of each side's scans of each of `states`: the median of `rounds`
 * rounds, after `warmup` rounds not counted in each of a side's processes. A
 * round scans every state in turn in one process of each side, so that the
 * states are measured at the same age of the processes (a process keeps getting
 * faster for dozens of scans, the package's longer than plain JS's). The sides
 * take turns, and turns at going first.
 *
 * `scans` holds every scan, warm-up ones included: its state, side, the
 * process's age (the rounds it had scanned before), its ms, and whether it counts.
 * @param {Record<string, { processes?: number, scan(state: string): Promise<{ ms: number }> }>} sides
 * @param {string[]} states
 * @returns {Promise<{
 *   medians: Record<string, Record<string, number>>,
 *   seen: Record<string, { offers: number, updated: number }>,
 *   scans: { state: string, side: string, age: number, ms: number, counted: boolean }[],
 * }>} medians and the first scan's result, by state, then by side
 */
export async function sideBySide(sides, states, { warmup, rounds }) {
  const names = Object.keys(sides);
  const processes = Math.max(...names.map((name) => sides[name].processes ?? 1));
  const scans = [];
  const seen = {};
  const turns = Math.max(rounds, processes);
  // Scans so far, by state and side.
  const done = new Map();
  for (let round = -warmup * processes; round < turns; round += 1) {
    for (const [i, state] of states.entries()) {
      const first = Math.abs(round + i) % 2 === 0;
      for (const side of first ? names : [...names].reverse()) {
        const key = `${state}\u0000${side}`;
        const before = done.get(key) ?? 0;
        done.set(key, before + 1);
        const age = Math.floor(before / (sides[side].processes ?? 1));
        const result = await sides[side].scan(state);
        scans.push({ state, side, age, ms: result.ms, counted: round >= 0 });
        seen[state] ??= result;
      }
    }
  }
  const medians = {};
  for (const state of states) {
    medians[state] = {};
    for (const side of names) {
      const counted = scans.filter((s) => s.state === state && s.side === side && s.counted);
      medians[state][side] = median(counted.map((s) => s.ms));
    }
  }
  return { medians, seen, scans };
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
