// The sink conformance suite: what every StockSink must do, as node:test tests.
// Each test asks the caller's `setup` for a fresh store holding given rows, drives
// the sink through read/write/readAll, and checks the store afterwards (through
// `stored()` when the harness can look without the sink, else through the sink).

import assert from "node:assert/strict";
import { describe, test } from "node:test";

// SKUs that a collation, a trim or a careless query would confuse.
const LOOKALIKES = ["abc", "ABC", "abc ", "Abc", " abc"];
const UNICODE = [
  "Київ-001",
  "київ-001",
  "café",
  "cafe",
  "straße",
  "strasse",
  "日本-1",
  "emoji-😀",
];
const HOSTILE = [
  "a'b",
  'a"b',
  "x'); DROP TABLE products; --",
  "semi;colon",
  "back\\slash",
  "50%_off",
  "tab\there",
  "`tick`",
];

/**
 * Registers the suite for one sink with node:test.
 * @param {import("./index.js").SinkConformanceOptions} options
 */
export function sinkConformance(options) {
  const {
    name,
    setup,
    perWarehouse = true,
    observed = false,
    integerStock = false,
  } = checkOptions(options);

  /** Runs `body` with a fresh fixture, then closes and disposes of it. */
  function withStore(title, rows, body, layout = {}) {
    test(title, async () => {
      const given = {
        rows: rows.map(copy),
        perWarehouse: false,
        observed: false,
        integerStock: false,
        ...layout,
      };
      const fixture = await setup(given);
      assert.ok(
        typeof fixture?.sink?.read === "function" &&
          typeof fixture.sink.write === "function",
        "setup must resolve to { sink, stored?, dispose? } with a StockSink",
      );
      try {
        await body(fixture.sink, (probes = []) =>
          snapshot(fixture, given.rows, probes),
        );
      } finally {
        try {
          await fixture.sink.close?.();
        } finally {
          await fixture.dispose?.();
        }
      }
    });
  }

  /** For sinks that keep when each figure was observed (`observedAt`). */
  function observedTimes() {
    // Unix ms of late 2026: beyond 32 bits, as real times are.
    const T = 1_795_000_000_000;
    const seen = (code, stock, observedAt) => ({ sku: code, stock, observedAt });
    withStore(
      "with observation times, a figure observed earlier never overwrites a later one",
      [sku("A", 1), sku("B", 1), sku("C", 1)],
      async (sink, stored) => {
        const keys = [{ sku: "A" }, { sku: "B" }, { sku: "C" }];
        // Rows never written with a time have none.
        assert.deepEqual(sorted(await sink.read(keys)), [
          sku("A", 1),
          sku("B", 1),
          sku("C", 1),
        ]);
        await sink.write([seen("A", 5, T), seen("B", 6, T), sku("C", 7)]);
        assert.deepEqual(sorted(await sink.read(keys)), [
          seen("A", 5, T),
          seen("B", 6, T),
          sku("C", 7),
        ]);
        // Older than the stored figure: left alone; as old: taken; a row
        // without a time takes any.
        await sink.write([
          seen("A", 9, T - 1),
          seen("B", 8, T),
          seen("C", 3, T - 5000),
        ]);
        assert.deepEqual(sorted(await sink.read(keys)), [
          seen("A", 5, T),
          seen("B", 8, T),
          seen("C", 3, T - 5000),
        ]);
        // A change without a time (a restore) is written and keeps the time.
        await sink.write([sku("A", 2), seen("C", 4, T + 1)]);
        assert.deepEqual(sorted(await sink.read(keys)), [
          seen("A", 2, T),
          seen("B", 8, T),
          seen("C", 4, T + 1),
        ]);
        assert.deepEqual(await stored(), [sku("A", 2), sku("B", 8), sku("C", 4)]);
        if (typeof sink.readAll === "function") {
          assert.deepEqual(sorted(await sink.readAll()), [
            seen("A", 2, T),
            seen("B", 8, T),
            seen("C", 4, T + 1),
          ]);
        }
      },
      { observed: true },
    );

    if (!perWarehouse) return;
    withStore(
      "per warehouse, observation times are kept per SKU and warehouse",
      [1, 2].map((warehouseId) => ({ sku: "A", warehouseId, stock: 0 })),
      async (sink) => {
        const cell = (warehouseId, stock, observedAt) => ({
          sku: "A",
          warehouseId,
          stock,
          observedAt,
        });
        await sink.write([cell(1, 3, T), cell(2, 4, T)]);
        await sink.write([cell(1, 9, T - 1), cell(2, 7, T + 1)]);
        const keys = [1, 2].map((warehouseId) => ({ sku: "A", warehouseId }));
        assert.deepEqual(sorted(await sink.read(keys)), [
          cell(1, 3, T),
          cell(2, 7, T + 1),
        ]);
      },
      { perWarehouse: true, observed: true },
    );
  }

  /** For stores whose stock column can be made to hold whole numbers only. */
  function integerColumn() {
    withStore(
      "a stock column of whole numbers never gets a fraction rounded up",
      [sku("A", 0), sku("B", 0)],
      async (sink, stored) => {
        // A fraction is refused, or written at most as large as it is: 35.575
        // kilograms stored as 36 would sell one that is not there.
        let refused = false;
        try {
          await sink.write([sku("A", 35.575), sku("B", 7)]);
        } catch (error) {
          assertSinkFailure(error);
          refused = true;
        }
        const [a, b] = await stored();
        assert.ok(a.stock <= 35.575, `A holds ${a.stock}, more than 35.575`);
        if (refused) {
          assert.deepEqual([a, b], [sku("A", 0), sku("B", 0)], "all or nothing");
        } else {
          assert.equal(b.stock, 7);
        }
        await sink.write([sku("A", 35), sku("B", 8)]);
        assert.deepEqual(await stored(), [sku("A", 35), sku("B", 8)]);
      },
      { integerStock: true },
    );
  }

  describe(`${name}: sink conformance`, () => {
    withStore(
      "read returns the rows of existing keys and nothing else",
      [sku("A-1", 4), sku("A-2", 0), sku("B-1", null)],
      async (sink) => {
        const found = await sink.read([
          { sku: "A-1" },
          { sku: "missing" },
          { sku: "B-1" },
          { sku: "a-1" },
        ]);
        assert.deepEqual(sorted(found), [sku("A-1", 4), sku("B-1", null)]);
        assert.deepEqual(await sink.read([]), []);
      },
    );

    // Each SKU has a twin differing only in case, 600 keys further on: a sink that
    // splits the keys into statements must not mix up (or repeat) the twins.
    const many = Array.from({ length: 1200 }, (_, i) =>
      sku(
        `${i < 600 ? "SKU" : "sku"}-${String(i % 600).padStart(4, "0")}`,
        i % 7,
      ),
    );
    const present = many.filter((_, i) => i % 3 !== 0);
    withStore("read of 1 200 keys in one call", present, async (sink) => {
      const found = await sink.read(many.map(({ sku }) => ({ sku })));
      assert.equal(found.length, present.length, "rows found");
      assert.deepEqual(sorted(found), sorted(present));
    });

    withStore(
      "write updates existing rows and never inserts",
      [sku("A", 1), sku("B", 1)],
      async (sink, stored) => {
        await sink.write([sku("A", 5), sku("unknown", 7)]);
        await sink.write([]);
        assert.deepEqual(await stored([{ sku: "unknown" }]), [
          sku("A", 5),
          sku("B", 1),
        ]);
      },
    );

    withStore(
      "write of 1 200 changes in one call",
      many.map((row) => ({ ...row, stock: 0 })),
      async (sink, stored) => {
        const changes = many.map((row, i) => ({ ...row, stock: i }));
        await sink.write(changes);
        assert.deepEqual(await stored(), sorted(changes));
      },
    );

    withStore(
      "write is all or nothing: a value the store rejects midway leaves every row as it was",
      many,
      async (sink, stored) => {
        const changes = many.map((row) => ({ ...row, stock: row.stock + 10 }));
        changes[changes.length >> 1].stock = -7.5;
        await assert.rejects(sink.write(changes), (error) => {
          assertSinkFailure(error);
          assert.doesNotMatch(
            error.message,
            /\b(UPDATE|INSERT|SELECT)\b/,
            "the message carries no SQL",
          );
          return true;
        });
        assert.deepEqual(await stored(), sorted(many));
        // The sink stays usable after a failed batch.
        await sink.write([sku(many[0].sku, 3)]);
        assert.deepEqual(await sink.read([{ sku: many[0].sku }]), [
          sku(many[0].sku, 3),
        ]);
      },
    );

    const fractions = [2.375, 0.1, 12.5, 0.001, 1000000.25];
    withStore(
      "fractional stock round-trips",
      fractions.map((_, i) => sku(`kg-${i}`, 0)),
      async (sink, stored) => {
        const changes = fractions.map((stock, i) => sku(`kg-${i}`, stock));
        await sink.write(changes);
        assert.deepEqual(await stored(), changes);
        assert.deepEqual(sorted(await sink.read(changes)), changes);
      },
    );

    withStore(
      "null stock is written and read back as null",
      [sku("A", 5), sku("B", null)],
      async (sink, stored) => {
        await sink.write([sku("A", null), sku("B", 2)]);
        assert.deepEqual(await stored(), [sku("A", null), sku("B", 2)]);
        assert.deepEqual(sorted(await sink.read([{ sku: "A" }])), [
          sku("A", null),
        ]);
        await sink.write([sku("A", 2)]);
        assert.deepEqual(await stored(), [sku("A", 2), sku("B", 2)]);
      },
    );

    withStore(
      "SKUs that differ only in case or surrounding spaces are different rows",
      LOOKALIKES.map((code, i) => sku(code, i + 1)),
      async (sink, stored) => {
        for (const [i, code] of LOOKALIKES.entries()) {
          assert.deepEqual(await sink.read([{ sku: code }]), [
            sku(code, i + 1),
          ]);
        }
        assert.deepEqual(
          await sink.read([{ sku: "aBc" }, { sku: "abc  " }, { sku: "ABC " }]),
          [],
        );
        await sink.write([sku("ABC", 20), sku("abc ", 30), sku("aBc", 99)]);
        const expected = LOOKALIKES.map((code, i) => sku(code, i + 1));
        expected[1].stock = 20;
        expected[2].stock = 30;
        assert.deepEqual(await stored([{ sku: "aBc" }]), sorted(expected));
      },
    );

    withStore(
      "Unicode SKUs are matched exactly",
      UNICODE.map((code) => sku(code, 1)),
      async (sink, stored) => {
        const changes = UNICODE.map((code, i) => sku(code, i + 10));
        assert.deepEqual(
          sorted(await sink.read(changes)),
          sorted(UNICODE.map((code) => sku(code, 1))),
        );
        await sink.write(changes.filter((_, i) => i % 2 === 0));
        const expected = UNICODE.map((code, i) =>
          sku(code, i % 2 === 0 ? i + 10 : 1),
        );
        assert.deepEqual(await stored(), sorted(expected));
        assert.deepEqual(await sink.read([{ sku: "КИЇВ-001" }]), []);
      },
    );

    withStore(
      "SKUs with quotes, semicolons and backslashes are data, not SQL",
      HOSTILE.map((code) => sku(code, 1)),
      async (sink, stored) => {
        const found = await sink.read(HOSTILE.map((code) => ({ sku: code })));
        assert.deepEqual(
          sorted(found),
          sorted(HOSTILE.map((code) => sku(code, 1))),
        );
        const changes = HOSTILE.map((code, i) => sku(code, i + 2));
        await sink.write(changes);
        assert.deepEqual(await stored(), sorted(changes));
      },
    );

    withStore(
      "a SKU holding U+0000 is read as absent and blocks nothing else in its batch",
      [sku("A", 1), sku("B", 2)],
      async (sink, stored) => {
        // Some stores cannot hold U+0000 in text at all (PostgreSQL): such a
        // key cannot name a row there, and must not fail the keys beside it.
        const odd = "bad\u0000sku";
        assert.deepEqual(
          sorted(await sink.read([{ sku: "A" }, { sku: odd }, { sku: "B" }])),
          [sku("A", 1), sku("B", 2)],
        );
        await sink.write([sku("A", 5), sku(odd, 3), sku("B", 6)]);
        assert.deepEqual(await stored([{ sku: odd }]), [sku("A", 5), sku("B", 6)]);
      },
    );

    withStore(
      "readAll returns every row, if the sink has it",
      [sku("A", 1), sku("B", null), sku("C", 2.5)],
      async (sink) => {
        if (typeof sink.readAll !== "function") return;
        assert.deepEqual(sorted(await sink.readAll()), [
          sku("A", 1),
          sku("B", null),
          sku("C", 2.5),
        ]);
      },
    );

    if (observed) observedTimes();
    if (integerStock) integerColumn();
    if (!perWarehouse) return;
    const at = (code, warehouseId, stock) => ({
      sku: code,
      warehouseId,
      stock,
    });
    const grid = ["A", "B"].flatMap((code) =>
      [1, 2].map((w) => at(code, w, 3)),
    );
    withStore(
      "per warehouse, a row is keyed by SKU and warehouse id",
      grid,
      async (sink, stored) => {
        const found = await sink.read([
          { sku: "A", warehouseId: 2 },
          { sku: "B", warehouseId: 1 },
          { sku: "A", warehouseId: 9 },
        ]);
        assert.deepEqual(sorted(found), [at("A", 2, 3), at("B", 1, 3)]);
        await sink.write([at("A", 2, 8), at("A", 9, 8), at("b", 1, 8)]);
        const expected = grid.map((row) => ({ ...row }));
        expected[1].stock = 8;
        assert.deepEqual(
          await stored([{ sku: "A", warehouseId: 9 }]),
          expected,
        );
        if (typeof sink.readAll === "function") {
          assert.deepEqual(sorted(await sink.readAll()), expected);
        }
      },
      { perWarehouse: true },
    );

    const cells = Array.from({ length: 400 }, (_, i) => `S-${i}`).flatMap(
      (code) => [1, 2, 3].map((w) => at(code, w, w)),
    );
    withStore(
      "per warehouse, 1 200 keys are read and written in one call each",
      cells,
      async (sink, stored) => {
        assert.deepEqual(sorted(await sink.read(cells)), sorted(cells));
        const changes = cells.map((row, i) => ({ ...row, stock: i }));
        await sink.write(changes);
        assert.deepEqual(await stored(), sorted(changes));
      },
      { perWarehouse: true },
    );
  });
}

function checkOptions(options) {
  if (
    typeof options?.name !== "string" ||
    typeof options.setup !== "function"
  ) {
    throw new TypeError(
      "sinkConformance needs { name: string, setup(layout) => { sink, stored?, dispose? } }",
    );
  }
  return options;
}

/** The store's rows, sorted: from the harness if it can tell, else via the sink. */
async function snapshot(fixture, rows, probes) {
  if (typeof fixture.stored === "function") {
    return sorted(await fixture.stored());
  }
  if (typeof fixture.sink.readAll === "function") {
    return sorted(await fixture.sink.readAll());
  }
  const keys = [...rows, ...probes].map(({ sku, warehouseId }) =>
    warehouseId === undefined ? { sku } : { sku, warehouseId },
  );
  return sorted(await fixture.sink.read(keys));
}

function assertSinkFailure(error) {
  assert.ok(error instanceof Error, "rejects with an Error");
  // A custom sink may reject with any Error (the sync reports it as
  // SINK_FAILED); one of this package's errors must carry that code itself.
  if (error.name === "KeyCrmSyncError") assert.equal(error.code, "SINK_FAILED");
  return true;
}

function sku(code, stock) {
  return { sku: code, stock };
}

function copy(row) {
  return { ...row };
}

/** Rows in a stable order, with only the fields a sink returns. */
function sorted(rows) {
  return rows
    .map(({ sku, warehouseId, stock, observedAt }) => {
      const row =
        warehouseId === undefined || warehouseId === null
          ? { sku, stock }
          : { sku, warehouseId, stock };
      if (observedAt !== undefined) row.observedAt = observedAt;
      return row;
    })
    .sort((a, b) =>
      a.sku < b.sku
        ? -1
        : a.sku > b.sku
          ? 1
          : (a.warehouseId ?? 0) - (b.warehouseId ?? 0),
    );
}
