// The D1 sink against D1 as workerd runs it (miniflare's local D1, real SQLite
// with D1's limits): the conformance suite, then what is particular to D1 — one
// D1 call per sink call, at most 100 bound parameters per statement.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Miniflare } from "miniflare";
import { createD1Sink } from "keycrm-stock-sync/d1";
import { sinkConformance } from "keycrm-stock-sync/testing";

let mf;
let db;

before(async () => {
  mf = new Miniflare({
    modules: true,
    script: "export default {}",
    compatibilityDate: "2026-04-01",
    d1Databases: { DB: "d1-sink-test" },
  });
  db = await mf.getD1Database("DB");
});

after(async () => {
  await mf?.dispose();
});

let tables = 0;
/** A fresh table holding `rows`; NOCASE so the sink must match exactly itself. */
async function tableWith(
  rows,
  perWarehouse = false,
  observed = false,
  stock = "REAL",
) {
  tables += 1;
  const table = `stock_${tables}`;
  await db.exec(
    `CREATE TABLE ${table} (sku TEXT COLLATE NOCASE NOT NULL, ${perWarehouse ? "warehouse_id INTEGER NOT NULL, " : ""}stock ${stock} CHECK (stock >= 0)${observed ? ", observed_at INTEGER" : ""})`,
  );
  // Multi-row INSERTs within D1's 100 parameters: each statement is a round
  // trip through miniflare's proxy, so fewer statements keep the suite quick.
  const width = perWarehouse ? 3 : 2;
  const statements = [];
  for (let i = 0; i < rows.length; i += Math.floor(100 / width)) {
    const chunk = rows.slice(i, i + Math.floor(100 / width));
    const placeholders = chunk.map(() => `(${Array(width).fill("?").join(", ")})`);
    const values = chunk.flatMap((row) =>
      perWarehouse ? [row.sku, row.warehouseId, row.stock] : [row.sku, row.stock],
    );
    const columns = perWarehouse ? "sku, warehouse_id, stock" : "sku, stock";
    statements.push(
      db
        .prepare(`INSERT INTO ${table} (${columns}) VALUES ${placeholders.join(", ")}`)
        .bind(...values),
    );
  }
  if (statements.length > 0) await db.batch(statements);
  return table;
}

async function rowsOf(table, perWarehouse = false) {
  const columns = perWarehouse ? "sku, warehouse_id AS warehouseId" : "sku";
  const { results } = await db
    .prepare(`SELECT ${columns}, stock FROM ${table}`)
    .all();
  return results;
}

/**
 * The binding as the sink sees it, counting D1 calls and the parameters each
 * statement binds.
 */
function counted(database) {
  const calls = [];
  const parameters = [];
  return {
    calls,
    parameters,
    binding: {
      prepare(sql) {
        const statement = database.prepare(sql);
        return {
          bind(...values) {
            parameters.push(values.length);
            return statement.bind(...values);
          },
        };
      },
      async batch(statements) {
        calls.push({ kind: "batch", statements: statements.length });
        return database.batch(statements);
      },
    },
  };
}

sinkConformance({
  name: "D1 sink",
  observed: true,
  // An INTEGER column keeps a fraction in D1, as in any SQLite table that is not STRICT.
  integerStock: true,
  async setup({ rows, perWarehouse, observed, integerStock }) {
    const table = await tableWith(
      rows,
      perWarehouse,
      observed,
      integerStock ? "INTEGER" : "REAL",
    );
    return {
      sink: createD1Sink({
        database: db,
        table,
        warehouseColumn: perWarehouse ? "warehouse_id" : undefined,
        observedColumn: observed ? "observed_at" : undefined,
      }),
      stored: () => rowsOf(table, perWarehouse),
      dispose: () => db.exec(`DROP TABLE ${table}`),
    };
  },
});

describe("D1 sink: what is particular to D1", () => {
  const many = Array.from({ length: 1234 }, (_, i) => ({
    sku: `sku-${i}`,
    stock: i % 5,
  }));

  test("a read and a write are one D1 call each, with at most 100 parameters a statement", async () => {
    const table = await tableWith(many);
    const { binding, calls, parameters } = counted(db);
    const sink = createD1Sink({ database: binding, table });
    const found = await sink.read(many.map(({ sku }) => ({ sku })));
    assert.equal(found.length, many.length);
    assert.deepEqual(calls, [{ kind: "batch", statements: 13 }]);
    await sink.write(many.map((row) => ({ ...row, stock: row.stock + 1 })));
    assert.deepEqual(calls[1], { kind: "batch", statements: 25 });
    assert.ok(Math.max(...parameters) <= 100, `most parameters: ${Math.max(...parameters)}`);
    assert.deepEqual(
      (await rowsOf(table)).map((row) => row.stock),
      many.map((row) => row.stock + 1),
    );
  });

  test("per warehouse, statements stay within 100 parameters too", async () => {
    const cells = many.slice(0, 300).flatMap(({ sku }) =>
      [1, 2].map((warehouseId) => ({ sku, warehouseId, stock: 1 })),
    );
    const table = await tableWith(cells, true);
    const { binding, calls, parameters } = counted(db);
    const sink = createD1Sink({ database: binding, table, warehouseColumn: "warehouse_id" });
    assert.equal((await sink.read(cells)).length, cells.length);
    await sink.write(cells.map((cell) => ({ ...cell, stock: 2 })));
    assert.equal(calls.length, 2);
    assert.ok(Math.max(...parameters) <= 100, `most parameters: ${Math.max(...parameters)}`);
    assert.ok((await rowsOf(table, true)).every((row) => row.stock === 2));
  });

  test("an empty read or write makes no D1 call", async () => {
    const { binding, calls } = counted(db);
    const sink = createD1Sink({ database: binding, table: "anything" });
    assert.deepEqual(await sink.read([]), []);
    await sink.write([]);
    assert.equal(calls.length, 0);
  });

  test("a missing table or column is a configuration error that names the option", async () => {
    const table = await tableWith([{ sku: "a", stock: 1 }]);
    const missingTable = createD1Sink({ database: db, table: "no_such_table" });
    await assert.rejects(missingTable.read([{ sku: "a" }]), (error) => {
      assert.equal(error.code, "INVALID_CONFIG");
      assert.match(error.message, /no_such_table.*\(table\)/);
      return true;
    });
    const missingColumn = createD1Sink({ database: db, table, stockColumn: "qty" });
    await assert.rejects(missingColumn.write([{ sku: "a", stock: 2 }]), (error) => {
      assert.equal(error.code, "INVALID_CONFIG");
      assert.match(error.message, /stockColumn "qty"/);
      return true;
    });
  });

  test("options are checked: identifiers, the binding, unknown names", () => {
    const invalid = (options, pattern) =>
      assert.throws(() => createD1Sink(options), (error) => {
        assert.equal(error.code, "INVALID_CONFIG");
        assert.match(error.message, pattern);
        return true;
      });
    invalid({ database: db, table: "products; DROP TABLE x" }, /table/);
    invalid({ database: db, skuColumn: "sku code" }, /skuColumn/);
    invalid({ database: {} }, /D1 binding/);
    invalid({ db }, /Unknown D1 sink option "db"/);
    invalid({}, /exactly one of: database/);
  });
});
