// The benchmarks' sides (benches/side.js): each in a process of its own, they
// scan the same catalogue and agree on what they did, so that bench:core and
// bench:compare compare like with like.

import { test } from "node:test";
import assert from "node:assert/strict";

import { chosenCases, sideBySide, startSide } from "../../benches/sides.js";

for (const options of [{}, { perWarehouse: true }]) {
  test(`the package and plain JS scan alike, each in its own process (${JSON.stringify(options)})`, async () => {
    const spec = { offers: 300, perPage: 50, options };
    const sides = {
      package: await startSide({ ...spec, side: "package" }),
      reference: await startSide({ ...spec, side: "reference", bytes: true }),
    };
    try {
      for (const [state, changed] of [["first sync", true], ["steady state", false]]) {
        const scans = {
          package: await sides.package.scan(state),
          reference: await sides.reference.scan(state),
        };
        assert.equal(scans.package.offers, 300);
        assert.deepEqual(
          { offers: scans.reference.offers, updated: scans.reference.updated },
          { offers: scans.package.offers, updated: scans.package.updated },
        );
        assert.equal(scans.package.updated > 0, changed, `${state}: ${scans.package.updated} updated`);
        for (const { ms } of Object.values(scans)) assert.ok(Number.isFinite(ms) && ms >= 0, `${ms} ms`);
      }
      const { medians } = await sideBySide(sides, ["steady state"], { warmup: 1, rounds: 2 });
      assert.deepEqual(Object.keys(medians["steady state"]), ["package", "reference"]);
    } finally {
      for (const side of Object.values(sides)) side.close();
    }
  });
}

test("a side that fails says so instead of leaving its caller waiting", async () => {
  const side = await startSide({ side: "package", offers: 10, perPage: 50, dir: "/nonexistent" }).catch(
    (error) => error,
  );
  assert.ok(side instanceof Error);
  assert.match(side.message, /exited/);
});

test("a side in several processes scans in each of them in turn", async () => {
  const side = await startSide({ side: "reference", offers: 60, perPage: 50 }, { processes: 2 });
  try {
    const pids = [];
    for (let i = 0; i < 4; i += 1) {
      const scan = await side.scan("first sync");
      assert.equal(scan.offers, 60);
      pids.push(scan.pid);
    }
    assert.notEqual(pids[0], pids[1]);
    assert.deepEqual(pids.slice(2), pids.slice(0, 2));
    // Each process warms up, then the rounds are shared among them.
    const scanned = [];
    const counting = {
      processes: 2,
      async scan(state) {
        const scan = await side.scan(state);
        scanned.push(scan.pid);
        return scan;
      },
    };
    await sideBySide({ counting }, ["steady state"], { warmup: 1, rounds: 2 });
    assert.equal(scanned.length, 4);
    assert.equal(new Set(scanned.slice(0, 2)).size, 2);
  } finally {
    side.close();
  }
});

test("BENCH_CASES naming no case is refused, with the cases there are", () => {
  const before = process.env.BENCH_CASES;
  try {
    process.env.BENCH_CASES = "totals,by-name";
    assert.throws(chosenCases, /no case by-name \(the cases: totals, names, per-warehouse\)/);
    process.env.BENCH_CASES = "per-warehouse";
    assert.deepEqual(chosenCases().map((c) => c.key), ["per-warehouse"]);
  } finally {
    if (before === undefined) delete process.env.BENCH_CASES;
    else process.env.BENCH_CASES = before;
  }
});

test("a round scans every state in one process of each side, states measured alike", async () => {
  // Two sides of two processes each, answering from a script: a scan's ms is
  // its process's age, plus 100 for the first state.
  const calls = [];
  const fake = (side) => {
    const next = new Map();
    const scansOf = [0, 0];
    return {
      processes: 2,
      async scan(state) {
        const at = next.get(state) ?? 0;
        next.set(state, (at + 1) % 2);
        calls.push({ side, state, process: at });
        const age = Math.floor(scansOf[at] / 2);
        scansOf[at] += 1;
        return { ms: age + (state === "first" ? 100 : 0), offers: 1, updated: 0, pid: at };
      },
    };
  };
  const { medians, scans } = await sideBySide({ a: fake("a"), b: fake("b") }, ["first", "then"], {
    warmup: 2,
    rounds: 4,
  });
  // Each round: both states, in the same process of a side.
  for (let i = 0; i < calls.length; i += 4) {
    const round = calls.slice(i, i + 4);
    assert.deepEqual(round.map((c) => c.state), ["first", "first", "then", "then"]);
    for (const side of ["a", "b"]) {
      assert.equal(new Set(round.filter((c) => c.side === side).map((c) => c.process)).size, 1);
    }
  }
  // Who goes first alternates by round and by state.
  assert.deepEqual(calls.slice(0, 8).map((c) => c.side), ["a", "b", "b", "a", "b", "a", "a", "b"]);
  // 2 warm-up rounds in each of 2 processes, then 4 counted: ages 0–3.
  assert.deepEqual(
    scans.filter((s) => s.side === "a" && s.state === "then").map((s) => [s.age, s.counted]),
    [[0, false], [0, false], [1, false], [1, false], [2, true], [2, true], [3, true], [3, true]],
  );
  assert.deepEqual(medians, { first: { a: 103, b: 103 }, then: { a: 3, b: 3 } });
});
