import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import {
  createSampleDatabase,
  createSqliteSink,
} from "../../js/sinks/sqlite.js";
import { createMemorySink } from "../../js/sinks/memory.js";
import {
  assertIdentifier,
  assertTableName,
  quoteIdentifier,
} from "../../js/sinks/identifiers.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keycrm-sqlite-sink-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

let files = 0;
function freshFile() {
  files += 1;
  return path.join(dir, `site-${files}.db`);
}

/** A database file built from raw SQL, for layouts the sample helper does not make. */
function databaseWith(sql) {
  const file = freshFile();
  const db = new Database(file);
  db.exec(sql);
  db.close();
  return file;
}

function stockOf(file, sql = "SELECT sku, stock FROM products ORDER BY sku") {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare(sql).all();
  } finally {
    db.close();
  }
}

function rejectsWith(code, pattern) {
  return (error) => {
    assert.equal(error.name, "KeyCrmSyncError");
    assert.equal(error.code, code);
    if (pattern) assert.match(error.message, pattern);
    return true;
  };
}

function bySku(a, b) {
  return a.sku < b.sku
    ? -1
    : a.sku > b.sku
      ? 1
      : (a.warehouseId ?? 0) - (b.warehouseId ?? 0);
}

describe("identifiers", () => {
  test("accept plain names and reject anything that could carry SQL", () => {
    assert.equal(assertIdentifier("stock_2", "stockColumn"), "stock_2");
    assert.equal(
      assertIdentifier("a".repeat(63), "stockColumn"),
      "a".repeat(63),
    );
    for (const bad of [
      "products; DROP TABLE x",
      "1abc",
      "",
      "a-b",
      'a"b',
      "a".repeat(64),
      null,
      7,
    ]) {
      assert.throws(
        () => assertIdentifier(bad, "skuColumn"),
        rejectsWith("INVALID_CONFIG", /skuColumn/),
      );
    }
    assert.throws(
      () => assertIdentifier("x.y", "skuColumn"),
      rejectsWith("INVALID_CONFIG"),
    );
  });

  test("table names may carry one schema qualifier", () => {
    assert.equal(assertTableName("shop.products"), "shop.products");
    assert.throws(
      () => assertTableName("a.b.c"),
      rejectsWith("INVALID_CONFIG", /--table/),
    );
    assert.throws(
      () => assertTableName(".products"),
      rejectsWith("INVALID_CONFIG"),
    );
  });

  test("quoting doubles the quote character and quotes each part", () => {
    assert.equal(quoteIdentifier("order"), '"order"');
    assert.equal(quoteIdentifier("shop.products"), '"shop"."products"');
    assert.equal(quoteIdentifier("stock", "`"), "`stock`");
    assert.equal(quoteIdentifier('a"b'), '"a""b"');
    assert.equal(quoteIdentifier("a`b", "`"), "`a``b`");
  });
});

describe("SQLite sink", () => {
  test("read returns only the keys the site has", async () => {
    const file = freshFile();
    createSampleDatabase(file, { skus: ["A-1", "A-2", "B-1"], stockValue: 4 });
    const sink = createSqliteSink({ path: file });
    const found = await sink.read([
      { sku: "A-1" },
      { sku: "missing" },
      { sku: "B-1" },
      { sku: "a-1" },
    ]);
    assert.deepEqual(found.sort(bySku), [
      { sku: "A-1", stock: 4 },
      { sku: "B-1", stock: 4 },
    ]);
    assert.deepEqual(await sink.read([]), []);
    await sink.close();
  });

  test("matches SKUs exactly even on a case-insensitive column", async () => {
    const file = databaseWith(`
      CREATE TABLE products (sku TEXT COLLATE NOCASE, stock REAL);
      INSERT INTO products VALUES ('abc', 1);`);
    const sink = createSqliteSink({ path: file });
    assert.deepEqual(await sink.read([{ sku: "ABC" }]), []);
    await sink.write([{ sku: "ABC", stock: 9 }]);
    assert.deepEqual(stockOf(file), [{ sku: "abc", stock: 1 }]);
    await sink.close();
  });

  test("reads 1 200 keys across several statements", async () => {
    const file = freshFile();
    const skus = Array.from(
      { length: 1200 },
      (_, i) => `SKU-${String(i).padStart(4, "0")}`,
    );
    createSampleDatabase(file, {
      skus: skus.filter((_, i) => i % 3 !== 0),
      stockValue: 2,
    });
    const sink = createSqliteSink({ path: file });
    const found = await sink.read(skus.map((sku) => ({ sku })));
    assert.equal(found.length, 800);
    assert.deepEqual(
      found.map((row) => row.sku).sort(),
      skus.filter((_, i) => i % 3 !== 0),
    );
    assert.ok(found.every((row) => row.stock === 2));
    await sink.close();
  });

  test("no statement binds more than 500 values, and statements are reused", async () => {
    const file = freshFile();
    createSampleDatabase(file, { skus: ["A"] });
    const db = new Database(file);
    const prepared = [];
    const prepare = db.prepare.bind(db);
    db.prepare = (sql) => {
      prepared.push(sql);
      return prepare(sql);
    };
    const sink = createSqliteSink({ database: db });
    prepared.length = 0;
    const keys = Array.from({ length: 1200 }, (_, i) => ({ sku: `K${i}` }));
    keys[700] = { sku: "A" };
    assert.deepEqual(await sink.read(keys), [{ sku: "A", stock: 0 }]);
    const placeholders = prepared.map((sql) => sql.split("?").length - 1);
    assert.ok(placeholders.length >= 2, "1 200 keys need several statements");
    assert.ok(Math.max(...placeholders) <= 500);
    const count = prepared.length;
    await sink.read(keys);
    await sink.read(keys.slice(0, 499));
    assert.equal(prepared.length, count, "statements are cached per size");
    db.close();
  });

  test("write updates existing rows and never inserts", async () => {
    const file = freshFile();
    createSampleDatabase(file, { skus: ["A", "B"] });
    const sink = createSqliteSink({ path: file });
    await sink.write([
      { sku: "A", stock: 5 },
      { sku: "unknown", stock: 7 },
    ]);
    await sink.write([]);
    await sink.close();
    assert.deepEqual(stockOf(file), [
      { sku: "A", stock: 5 },
      { sku: "B", stock: 0 },
    ]);
  });

  test("write is all or nothing", async () => {
    const file = databaseWith(`
      CREATE TABLE products (sku TEXT PRIMARY KEY, stock REAL CHECK (stock >= 0));
      INSERT INTO products VALUES ('A', 1), ('B', 1), ('C', 1);`);
    const sink = createSqliteSink({ path: file });
    await assert.rejects(
      sink.write([
        { sku: "A", stock: 10 },
        { sku: "B", stock: -1 },
        { sku: "C", stock: 10 },
      ]),
      (error) => {
        rejectsWith("SINK_FAILED", /none of them were written/)(error);
        assert.equal(error.cause.code, "SQLITE_CONSTRAINT_CHECK");
        assert.doesNotMatch(error.message, /UPDATE|-1/);
        return true;
      },
    );
    assert.deepEqual(stockOf(file), [
      { sku: "A", stock: 1 },
      { sku: "B", stock: 1 },
      { sku: "C", stock: 1 },
    ]);
    // The sink stays usable after a failed batch.
    await sink.write([{ sku: "C", stock: 3 }]);
    assert.deepEqual(await sink.read([{ sku: "C" }]), [{ sku: "C", stock: 3 }]);
    await sink.close();
  });

  test("rejects non-finite stock before touching the database", async () => {
    const file = freshFile();
    createSampleDatabase(file, { skus: ["A"], stockValue: 1 });
    const sink = createSqliteSink({ path: file });
    await assert.rejects(
      sink.write([{ sku: "A", stock: Number.NaN }]),
      rejectsWith("SINK_FAILED"),
    );
    assert.deepEqual(await sink.read([{ sku: "A" }]), [{ sku: "A", stock: 1 }]);
    await sink.close();
  });

  test("custom table and column names, including keywords, are quoted", async () => {
    const file = databaseWith(`
      CREATE TABLE "order" ("select" TEXT PRIMARY KEY, "group" REAL, other TEXT);
      INSERT INTO "order" VALUES ('X', 1, 'kept'), ('Y', NULL, 'kept');`);
    const sink = createSqliteSink({
      path: file,
      table: "order",
      skuColumn: "select",
      stockColumn: "group",
    });
    assert.deepEqual(
      (await sink.read([{ sku: "X" }, { sku: "Y" }])).sort(bySku),
      [
        { sku: "X", stock: 1 },
        { sku: "Y", stock: null },
      ],
    );
    await sink.write([{ sku: "Y", stock: 4 }]);
    await sink.close();
    assert.deepEqual(
      stockOf(
        file,
        'SELECT "select" AS sku, "group" AS stock, other FROM "order" ORDER BY 1',
      ),
      [
        { sku: "X", stock: 1, other: "kept" },
        { sku: "Y", stock: 4, other: "kept" },
      ],
    );
  });

  test("a schema-qualified table name works", async () => {
    const file = freshFile();
    createSampleDatabase(file, { skus: ["A"], stockValue: 1 });
    const sink = createSqliteSink({ path: file, table: "main.products" });
    await sink.write([{ sku: "A", stock: 2 }]);
    assert.deepEqual(await sink.read([{ sku: "A" }]), [{ sku: "A", stock: 2 }]);
    await sink.close();
    const db = new Database(file);
    assert.throws(
      () => createSqliteSink({ database: db, table: "shop.products" }),
      rejectsWith("INVALID_CONFIG", /"shop"/),
    );
    db.close();
  });

  test("invalid identifiers are refused at creation", () => {
    const file = freshFile();
    createSampleDatabase(file, { skus: ["A"] });
    const cases = [
      [{ table: "products; DROP TABLE x" }, /--table/],
      [{ skuColumn: "1abc" }, /--sku-column/],
      [{ stockColumn: "" }, /--stock-column/],
      [{ warehouseColumn: "w h" }, /--warehouse-column/],
    ];
    for (const [options, flag] of cases) {
      assert.throws(
        () => createSqliteSink({ path: file, ...options }),
        rejectsWith("INVALID_CONFIG", flag),
      );
    }
    assert.deepEqual(stockOf(file), [{ sku: "A", stock: 0 }]);
  });

  test("bad option bags are refused at creation", () => {
    const file = freshFile();
    createSampleDatabase(file, { skus: ["A"] });
    const db = new Database(file);
    for (const options of [
      undefined,
      {},
      { path: file, database: db },
      { path: file, tabel: "x" },
      { path: "" },
    ]) {
      assert.throws(
        () => createSqliteSink(options),
        rejectsWith("INVALID_CONFIG"),
      );
    }
    db.close();
  });

  test("a missing file is a configuration error and is not created", () => {
    const file = path.join(dir, "does-not-exist.db");
    assert.throws(
      () => createSqliteSink({ path: file }),
      rejectsWith("INVALID_CONFIG", /does-not-exist/),
    );
    assert.equal(fs.existsSync(file), false);
  });

  test("a missing table or column names what exists", () => {
    const file = databaseWith(
      "CREATE TABLE items (code TEXT, qty REAL, name TEXT);",
    );
    assert.throws(
      () => createSqliteSink({ path: file }),
      rejectsWith("INVALID_CONFIG", /"products".*items/),
    );
    assert.throws(
      () => createSqliteSink({ path: file, table: "items", skuColumn: "code" }),
      rejectsWith(
        "INVALID_CONFIG",
        /no column "stock".*--stock-column.*code, qty, name/,
      ),
    );
    assert.throws(
      () =>
        createSqliteSink({
          path: file,
          table: "items",
          skuColumn: "code",
          stockColumn: "qty",
          warehouseColumn: "wh",
        }),
      rejectsWith("INVALID_CONFIG", /no column "wh".*code, qty, name/),
    );
    // Column names resolve case-insensitively, as in SQLite itself.
    const sink = createSqliteSink({
      path: file,
      table: "ITEMS",
      skuColumn: "Code",
      stockColumn: "QTY",
    });
    return sink.close();
  });

  test("per-warehouse rows are keyed by SKU and warehouse", async () => {
    const file = freshFile();
    createSampleDatabase(file, {
      skus: ["A", "B"],
      warehouseIds: [1, 2],
      stockValue: 3,
    });
    const sink = createSqliteSink({
      path: file,
      warehouseColumn: "warehouse_id",
    });
    const found = await sink.read([
      { sku: "A", warehouseId: 2 },
      { sku: "B", warehouseId: 1 },
      { sku: "A", warehouseId: 9 },
    ]);
    assert.deepEqual(found.sort(bySku), [
      { sku: "A", warehouseId: 2, stock: 3 },
      { sku: "B", warehouseId: 1, stock: 3 },
    ]);
    await sink.write([
      { sku: "A", warehouseId: 2, stock: 8 },
      { sku: "A", warehouseId: 9, stock: 8 },
    ]);
    assert.deepEqual((await sink.readAll()).sort(bySku), [
      { sku: "A", warehouseId: 1, stock: 3 },
      { sku: "A", warehouseId: 2, stock: 8 },
      { sku: "B", warehouseId: 1, stock: 3 },
      { sku: "B", warehouseId: 2, stock: 3 },
    ]);
    await assert.rejects(
      sink.read([{ sku: "A" }]),
      rejectsWith("INVALID_CONFIG", /warehouseId/),
    );
    await sink.close();
  });

  test("per-warehouse reads chunk 1 200 keys too", async () => {
    const file = freshFile();
    const skus = Array.from({ length: 400 }, (_, i) => `S${i}`);
    createSampleDatabase(file, { skus, warehouseIds: [1, 2, 3] });
    const sink = createSqliteSink({
      path: file,
      warehouseColumn: "warehouse_id",
    });
    const keys = skus.flatMap((sku) =>
      [1, 2, 3].map((warehouseId) => ({ sku, warehouseId })),
    );
    assert.equal((await sink.read(keys)).length, 1200);
    await sink.close();
  });

  test("per-warehouse keys without warehouseColumn are a configuration error", async () => {
    const file = freshFile();
    createSampleDatabase(file, { skus: ["A"], warehouseIds: [1] });
    const sink = createSqliteSink({ path: file });
    await assert.rejects(
      sink.read([{ sku: "A", warehouseId: 1 }]),
      rejectsWith("INVALID_CONFIG", /--warehouse-column/),
    );
    await assert.rejects(
      sink.write([{ sku: "A", warehouseId: 1, stock: 2 }]),
      rejectsWith("INVALID_CONFIG"),
    );
    await sink.close();
    assert.deepEqual(stockOf(file), [{ sku: "A", stock: 0 }]);
  });

  test("readAll returns every row with a SKU", async () => {
    const file = databaseWith(`
      CREATE TABLE products (sku TEXT, stock REAL);
      INSERT INTO products VALUES ('A', 1), ('B', NULL), (NULL, 5), ('C', 'lots');`);
    const sink = createSqliteSink({ path: file });
    assert.deepEqual((await sink.readAll()).sort(bySku), [
      { sku: "A", stock: 1 },
      { sku: "B", stock: null },
      { sku: "C", stock: null },
    ]);
    await sink.close();
  });

  test("fractional stock round-trips", async () => {
    const file = freshFile();
    createSampleDatabase(file, { skus: ["kg-1", "kg-2"] });
    const sink = createSqliteSink({ path: file });
    await sink.write([
      { sku: "kg-1", stock: 2.375 },
      { sku: "kg-2", stock: 0.1 },
    ]);
    assert.deepEqual(
      (await sink.read([{ sku: "kg-1" }, { sku: "kg-2" }])).sort(bySku),
      [
        { sku: "kg-1", stock: 2.375 },
        { sku: "kg-2", stock: 0.1 },
      ],
    );
    await sink.close();
  });

  test("an adopted handle stays open; an opened file is closed", async () => {
    const file = freshFile();
    createSampleDatabase(file, { skus: ["A"] });
    const db = new Database(file);
    const adopted = createSqliteSink({ database: db });
    await adopted.write([{ sku: "A", stock: 6 }]);
    await adopted.close();
    assert.equal(db.open, true);
    assert.equal(db.prepare("SELECT stock FROM products").pluck().get(), 6);
    db.close();

    const owned = createSqliteSink({ path: file });
    await owned.close();
    await owned.close();
    await assert.rejects(
      owned.read([{ sku: "A" }]),
      rejectsWith("SINK_FAILED"),
    );
  });

  test("the journal mode of a file is left as it was, in a dry run and a real one", async () => {
    const file = databaseWith(
      "CREATE TABLE products (sku TEXT, stock REAL); INSERT INTO products VALUES ('A', 1)",
    );
    const journal = () => stockOf(file, "PRAGMA journal_mode")[0].journal_mode;
    assert.equal(journal(), "delete");
    // A dry run only reads; a run writes too. Neither may change the file's mode.
    const sink = createSqliteSink({ path: file });
    assert.deepEqual(await sink.read([{ sku: "A" }]), [{ sku: "A", stock: 1 }]);
    await sink.close();
    assert.equal(journal(), "delete");
    const writer = createSqliteSink({ path: file });
    await writer.write([{ sku: "A", stock: 2 }]);
    await writer.close();
    assert.equal(journal(), "delete");
    assert.deepEqual(stockOf(file), [{ sku: "A", stock: 2 }]);

    const wal = databaseWith(
      "PRAGMA journal_mode = WAL; CREATE TABLE products (sku TEXT, stock REAL)",
    );
    createSqliteSink({ path: wal }).close();
    assert.equal(stockOf(wal, "PRAGMA journal_mode")[0].journal_mode, "wal");
  });

  test("a write blocked by the site's transaction fails at statementTimeoutMs, saying it timed out", async () => {
    const file = databaseWith(
      "CREATE TABLE products (sku TEXT, stock REAL); INSERT INTO products VALUES ('A', 1)",
    );
    const site = new Database(file);
    site.exec("BEGIN IMMEDIATE");
    site.prepare("UPDATE products SET stock = 9").run();
    const sink = createSqliteSink({ path: file, statementTimeoutMs: 20 });
    try {
      // Only the busy timeout can end the wait: the site's transaction stays open.
      await assert.rejects(
        sink.write([{ sku: "A", stock: 2 }]),
        rejectsWith("SINK_FAILED", /timed out.*20 ms \(statementTimeoutMs\).*SQLITE_BUSY/),
      );
    } finally {
      site.exec("ROLLBACK");
      site.close();
    }
    await sink.write([{ sku: "A", stock: 2 }]);
    await sink.close();
    assert.deepEqual(stockOf(file), [{ sku: "A", stock: 2 }]);
  });

  test("statementTimeoutMs and fractional are checked", () => {
    const file = freshFile();
    createSampleDatabase(file, { skus: ["A"] });
    for (const statementTimeoutMs of [-1, 1.5, "10", 2 ** 31]) {
      assert.throws(
        () => createSqliteSink({ path: file, statementTimeoutMs }),
        rejectsWith("INVALID_CONFIG", /statementTimeoutMs must be a whole number/),
      );
    }
    assert.throws(
      () => createSqliteSink({ path: file, fractional: "yes" }),
      rejectsWith("INVALID_CONFIG", /fractional/),
    );
    createSqliteSink({ path: file, statementTimeoutMs: 0, fractional: true }).close();
  });

  test("fractional stock is refused for a STRICT table's INTEGER column, and never rounded", async () => {
    const strict = databaseWith(
      "CREATE TABLE products (sku TEXT, stock INTEGER) STRICT; INSERT INTO products VALUES ('A', 1), ('B', 1)",
    );
    assert.throws(
      () => createSqliteSink({ path: strict, fractional: true }),
      rejectsWith("INVALID_CONFIG", /"stock".*holds whole numbers only.*--fractional/),
    );
    // Told nothing, the sink still sends no fraction into it.
    const sink = createSqliteSink({ path: strict });
    await assert.rejects(
      sink.write([{ sku: "B", stock: 2 }, { sku: "A", stock: 35.575 }]),
      rejectsWith("SINK_FAILED", /35\.575 .*has a fraction.*whole numbers only.*nothing was written/),
    );
    await sink.write([{ sku: "A", stock: 35 }]);
    await sink.close();
    assert.deepEqual(stockOf(strict), [
      { sku: "A", stock: 35 },
      { sku: "B", stock: 1 },
    ]);

    // The CLI says so before it asks KeyCRM for anything.
    const cli = fileURLToPath(new URL("../../js/cli.js", import.meta.url));
    await assert.rejects(
      promisify(execFile)(
        process.execPath,
        [cli, "sync", "--db", strict, "--fractional"],
        { env: { ...process.env, KEYCRM_API_KEY: "key-for-tests" } },
      ),
      (failed) => {
        assert.equal(failed.code, 2, failed.stderr);
        assert.match(failed.stderr, /INVALID_CONFIG.*whole numbers only/);
        return true;
      },
    );

    // Elsewhere an INTEGER column is an affinity only: the fraction is kept.
    const loose = databaseWith(
      "CREATE TABLE products (sku TEXT, stock INTEGER); INSERT INTO products VALUES ('A', 1)",
    );
    const kept = createSqliteSink({ path: loose, fractional: true });
    await kept.write([{ sku: "A", stock: 35.575 }]);
    await kept.close();
    assert.deepEqual(stockOf(loose), [{ sku: "A", stock: 35.575 }]);
  });

  test("a database failure at runtime becomes SINK_FAILED with its cause", async () => {
    const file = freshFile();
    createSampleDatabase(file, { skus: ["A"] });
    const db = new Database(file);
    const sink = createSqliteSink({ database: db });
    db.exec("DROP TABLE products");
    await assert.rejects(sink.read([{ sku: "A" }]), (error) => {
      rejectsWith("SINK_FAILED", /products/)(error);
      assert.ok(error.cause instanceof Error);
      return true;
    });
    db.close();
  });

  test("createSampleDatabase resets stock when run again", () => {
    const file = freshFile();
    createSampleDatabase(file, { skus: ["A", "B"], stockValue: 1 });
    createSampleDatabase(file, { skus: ["B", "C"], stockValue: 2 });
    assert.deepEqual(stockOf(file), [
      { sku: "A", stock: 1 },
      { sku: "B", stock: 2 },
      { sku: "C", stock: 2 },
    ]);
  });
});

describe("memory sink", () => {
  const start = () => [
    { sku: "A", stock: 1 },
    { sku: "B", stock: null },
    { sku: "A", warehouseId: 2, stock: 5 },
  ];

  test("reads existing keys and updates without inserting", async () => {
    const sink = createMemorySink(start());
    assert.deepEqual(
      await sink.read([
        { sku: "A" },
        { sku: "Z" },
        { sku: "A" },
        { sku: "A", warehouseId: 2 },
      ]),
      [
        { sku: "A", stock: 1 },
        { sku: "A", warehouseId: 2, stock: 5 },
      ],
    );
    await sink.write([
      { sku: "B", stock: 2.5 },
      { sku: "Z", stock: 9 },
      { sku: "A", warehouseId: 3, stock: 9 },
    ]);
    assert.deepEqual(sink.rows(), [
      { sku: "A", stock: 1 },
      { sku: "B", stock: 2.5 },
      { sku: "A", warehouseId: 2, stock: 5 },
    ]);
    assert.deepEqual(await sink.readAll(), sink.rows());
    await sink.close();
  });

  test("results are copies", async () => {
    const rows = start();
    const sink = createMemorySink(rows);
    rows[0].stock = 100;
    (await sink.read([{ sku: "A" }]))[0].stock = 100;
    sink.rows()[0].stock = 100;
    assert.deepEqual(sink.rows()[0], { sku: "A", stock: 1 });
  });

  test("failOnWrite makes exactly the n-th write fail and write nothing", async () => {
    const sink = createMemorySink(start(), { failOnWrite: 2 });
    await sink.write([{ sku: "A", stock: 2 }]);
    await assert.rejects(
      sink.write([{ sku: "A", stock: 3 }]),
      rejectsWith("SINK_FAILED"),
    );
    assert.deepEqual(sink.rows()[0], { sku: "A", stock: 2 });
    await sink.write([{ sku: "A", stock: 4 }]);
    assert.deepEqual(sink.rows()[0], { sku: "A", stock: 4 });
  });

  test("a batch with a bad value writes nothing", async () => {
    const sink = createMemorySink(start());
    await assert.rejects(
      sink.write([
        { sku: "A", stock: 7 },
        { sku: "B", stock: Number.POSITIVE_INFINITY },
      ]),
      rejectsWith("SINK_FAILED"),
    );
    assert.deepEqual(sink.rows(), start());
  });

  test("bad rows and options are configuration errors", () => {
    assert.throws(
      () => createMemorySink([{ sku: 1, stock: 0 }]),
      rejectsWith("INVALID_CONFIG"),
    );
    assert.throws(
      () => createMemorySink([], { failOnWrite: 0 }),
      rejectsWith("INVALID_CONFIG"),
    );
    assert.throws(
      () => createMemorySink([], { failOnWirte: 1 }),
      rejectsWith("INVALID_CONFIG"),
    );
    assert.deepEqual(createMemorySink().rows(), []);
  });
});
