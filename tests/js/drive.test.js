// The loop that does a core run's I/O (js/drive.js), against the real core with
// I/O of the test's own: what it hands back for each kind of outcome, and that
// every wait it holds ends.

import { test, before } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { drive } from "../../js/drive.js";
import * as core from "../../js/wasm/keycrm_stock_sync.js";

before(() => {
  const wasm = new URL("../../js/wasm/keycrm_stock_sync_bg.wasm", import.meta.url);
  core.initSync({ module: readFileSync(wasm) });
});

const QUICK = {
  apiUrl: "http://127.0.0.1:9/v1",
  rateLimitPerMinute: 60_000,
  backoffBaseMs: 1,
  backoffMaxMs: 2,
};

const onePage = JSON.stringify({
  current_page: 1,
  last_page: 1,
  per_page: 50,
  total: 1,
  next_page_url: null,
  data: [{ id: 1, sku: "a", quantity: 3, reserve: 1 }],
});

function siteOf(rows) {
  const written = [];
  return {
    written,
    read: async (keys) => keys.filter((k) => rows.has(k.sku)).map((k) => ({ sku: k.sku, stock: rows.get(k.sku) })),
    write: async (changes) => {
      for (const { sku, stock } of changes) written.push({ sku, stock });
    },
  };
}

test("outcomes of another shape, a throwing fetch and a rejecting one are network failures, retried", async () => {
  const bad = [
    () => ({ status: "200", body: onePage }),
    () => ({ failure: "lost" }),
    () => {
      throw new TypeError("fetch failed");
    },
    () => Promise.reject(new Error("refused")),
    () => null,
  ];
  let calls = 0;
  const site = siteOf(new Map([["a", 0]]));
  const report = await drive(core.startSync({ ...QUICK, maxRetries: 8 }, Date.now(), 0.5), {
    fetch: () => {
      calls += 1;
      return calls <= bad.length
        ? bad[calls - 1]()
        : { status: 200, retryAfter: null, body: new TextEncoder().encode(onePage) };
    },
    ...site,
  });
  assert.equal(report.complete, true, JSON.stringify(report.error));
  assert.equal(report.retries, bad.length);
  assert.deepEqual(site.written, [{ sku: "a", stock: 2 }]);
});

test("a body as text, as an ArrayBuffer or as bytes reads the same", async () => {
  for (const body of [
    onePage,
    new TextEncoder().encode(onePage).buffer,
    new TextEncoder().encode(`\ufeff${onePage}`),
  ]) {
    const site = siteOf(new Map([["a", 0]]));
    const report = await drive(core.startSync(QUICK, Date.now(), 0.5), {
      fetch: async () => ({ status: 200, retryAfter: null, body }),
      ...site,
    });
    assert.equal(report.complete, true, JSON.stringify(report.error));
    assert.deepEqual(site.written, [{ sku: "a", stock: 2 }]);
  }
});

test("a progress callback that throws does not stop the run, and sees every answer", async () => {
  let seen = 0;
  const site = siteOf(new Map([["a", 0]]));
  const report = await drive(core.startSync(QUICK, Date.now(), 0.5), {
    fetch: async () => ({ status: 200, retryAfter: null, body: onePage }),
    ...site,
    progress: (progress) => {
      seen = progress.pages;
      throw new Error("display broke");
    },
  });
  assert.equal(report.complete, true);
  assert.equal(seen, report.pages);
});

test("a sink read that never settles ends at the core's limit, and leaves no timer behind", async () => {
  const report = await drive(core.startSync({ ...QUICK, sinkTimeoutMs: 100 }, Date.now(), 0.5), {
    fetch: async () => ({ status: 200, retryAfter: null, body: onePage }),
    read: () => new Promise(() => {}),
    write: async () => {},
  });
  assert.equal(report.complete, false);
  assert.equal(report.error.code, "SINK_FAILED");
  // A timer left running would keep the event loop alive after the test.
  assert.deepEqual(
    process.getActiveResourcesInfo().filter((r) => r === "Timeout"),
    [],
  );
});

// Without the look every second, the wait would last the request's timeout (ten
// minutes) and the test would time out.
test("a run that may be stopped looks whether it was while it waits, and stops", { timeout: 60_000 }, async () => {
  let stop = false;
  setTimeout(() => (stop = true), 30);
  const options = { ...QUICK, requestTimeoutMs: 600_000, deadlineMs: 3_600_000 };
  const report = await drive(core.startSync(options, Date.now(), 0.5), {
    // An answer that never comes.
    fetch: () => new Promise(() => {}),
    read: async () => [],
    write: async () => {},
    shouldStop: () => stop,
  });
  assert.equal(report.complete, false);
  assert.equal(report.error.code, "DEADLINE_EXCEEDED");
  assert.match(report.error.message, /asked to stop/);
});

test("a run that must read every site row, with a sink that cannot, ends SINK_FAILED naming readAll()", async () => {
  const site = siteOf(new Map([["a", 0]]));
  const report = await drive(core.startSync({ ...QUICK, zeroMissing: true }, Date.now(), 0.5), {
    fetch: async () => ({ status: 200, retryAfter: null, body: onePage }),
    ...site,
  });
  assert.equal(report.complete, false);
  assert.equal(report.error.code, "SINK_FAILED");
  assert.match(report.error.message, /has no readAll\(\)/);
});
