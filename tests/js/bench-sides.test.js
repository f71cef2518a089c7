// The benchmarks' sides (benches/side.js): each in a process of its own, they
// scan the same catalogue and agree on what they did, so that bench:core and
// bench:compare compare like with like.

import { test } from "node:test";
import assert from "node:assert/strict";

import { sideBySide, startSide } from "../../benches/sides.js";

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
      const { medians } = await sideBySide(sides, "steady state", { warmup: 1, rounds: 2 });
      assert.deepEqual(Object.keys(medians), ["package", "reference"]);
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
