// Two builds of the package side by side: the CPU of a full scan through each
// one's syncStocks, each build in processes of its own (benches/side.js), the
// two taking turns. This machine's noise moves whole runs by a fifth or more,
// but moves both builds alike when they take turns, so a change is measured
// here before it is judged against plain JS (bench:core). Each build runs in
// several processes, as one process may settle at a speed of its own (see
// benches/sides.js).
//
// Run: npm run bench:compare -- BEFORE AFTER
//   BEFORE, AFTER: package folders, each with a built js/ (for example a
//   worktree of an earlier commit after `npm run build`).
// BENCH_ROUNDS sets the rounds (default 96, shared among a build's processes),
// BENCH_WARMUP the rounds before them (default 20, each process),
// BENCH_PROCESSES the processes a build (default 8), BENCH_CASES the cases (as
// for bench:core). Prints, per case, the median ms of each build and AFTER /
// BEFORE.

import { chosenCases, sideBySide, startSide } from "./sides.js";

const [before, after] = process.argv.slice(2);
if (!before || !after) {
  console.error("usage: node benches/compare.js BEFORE AFTER (package folders with a built js/)");
  process.exit(2);
}
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 96);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 20);
const PROCESSES = Number(process.env.BENCH_PROCESSES ?? 8);
const OFFERS = 5_000;

const CASES = chosenCases();

const rows = [];
for (const { name, options } of CASES) {
  const spec = { side: "package", offers: OFFERS, perPage: 50, options };
  const builds = {
    before: await startSide({ ...spec, dir: before }, { processes: PROCESSES }),
    after: await startSide({ ...spec, dir: after }, { processes: PROCESSES }),
  };
  try {
    const states = ["first sync", "steady state"];
    const { medians } = await sideBySide(builds, states, { warmup: WARMUP, rounds: ROUNDS });
    for (const state of states) {
      const { before: was, after: is } = medians[state];
      rows.push({
        case: name,
        state,
        "before ms": was.toFixed(2),
        "after ms": is.toFixed(2),
        "after / before": (is / was).toFixed(2),
      });
    }
  } finally {
    for (const build of Object.values(builds)) build.close();
  }
}
console.log(
  `Node ${process.version}; ${OFFERS} offers in pages of 50; ${PROCESSES} processes a build; ` +
    `${ROUNDS} rounds in turn (medians) after ${WARMUP} a process; process CPU`,
);
console.table(rows);
