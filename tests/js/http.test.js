// The fetcher every KeyCRM request goes through (js/http.js): its signals and
// how it settles.

import { test } from "node:test";
import assert from "node:assert/strict";
import { keycrmFetcher } from "../../js/http.js";

const answer = () => new Response("{}", { status: 200 });

test("requests in flight never share a signal; an answered request's serves a later one", async () => {
  const signals = [];
  let release;
  const held = new Promise((resolve) => (release = resolve));
  const fetcher = keycrmFetcher({
    apiKey: "k",
    fetch: async (url, init) => {
      signals.push(init.signal);
      if (url.endsWith("held")) await held;
      return answer();
    },
  });
  const first = fetcher({ url: "http://x/held", timeoutMs: 10_000 });
  const second = fetcher({ url: "http://x/b", timeoutMs: 10_000 });
  assert.notEqual(signals[0], signals[1], "two requests in flight, two signals");
  assert.equal((await second).status, 200);
  release();
  assert.equal((await first).status, 200);
  await fetcher({ url: "http://x/c", timeoutMs: 10_000 });
  assert.ok(signals.slice(0, 2).includes(signals[2]), "a signal of an answered request");
  assert.ok(signals.every((signal) => !signal.aborted));
  fetcher.close();
});

test("a request that timed out has its signal aborted, and the signal is not used again", async () => {
  const signals = [];
  let calls = 0;
  const fetcher = keycrmFetcher({
    apiKey: "k",
    fetch: (url, init) => {
      signals.push(init.signal);
      calls += 1;
      return calls === 1 ? new Promise(() => {}) : Promise.resolve(answer());
    },
  });
  assert.deepEqual(await fetcher({ url: "http://x/a", timeoutMs: 20 }), { failure: "timeout" });
  assert.equal(signals[0].aborted, true);
  for (let i = 0; i < 3; i += 1) await fetcher({ url: "http://x/b", timeoutMs: 10_000 });
  assert.ok(signals.slice(1).every((signal) => signal !== signals[0] && !signal.aborted));
  fetcher.close();
});

test("a failed request's signal is aborted and not used again", async () => {
  const signals = [];
  let calls = 0;
  const fetcher = keycrmFetcher({
    apiKey: "k",
    fetch: async (url, init) => {
      signals.push(init.signal);
      calls += 1;
      if (calls === 1) throw new TypeError("fetch failed");
      return answer();
    },
  });
  assert.equal((await fetcher({ url: "http://x/a", timeoutMs: 10_000 })).failure, "network");
  assert.equal(signals[0].aborted, true);
  await fetcher({ url: "http://x/b", timeoutMs: 10_000 });
  assert.notEqual(signals[1], signals[0]);
  fetcher.close();
});

test("with Node's fetch, a signal serves a bounded number of requests and gathers no leak warning", async () => {
  const { createServer } = await import("node:http");
  const { getEventListeners } = await import("node:events");
  const server = createServer((request, response) => response.end("{}"));
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const warnings = [];
  const onWarning = (warning) => warnings.push(warning.name);
  process.on("warning", onWarning);
  const signals = new Set();
  const fetcher = keycrmFetcher({
    apiKey: "k",
    fetch: (url, init) => {
      signals.add(init.signal);
      return fetch(url, init);
    },
  });
  try {
    const url = `http://127.0.0.1:${server.address().port}/v1/offers/stocks`;
    let most = 0;
    for (let i = 0; i < 200; i += 1) {
      assert.equal((await fetcher({ url, timeoutMs: 10_000 })).status, 200);
      for (const signal of signals) most = Math.max(most, getEventListeners(signal, "abort").length);
    }
    // Each request leaves a listener until it is collected: a signal used
    // without end would gather all 200.
    assert.ok(most <= 32, `${most} listeners on one signal`);
    assert.ok(signals.size >= 200 / 32, `${signals.size} signals`);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(warnings, []);
  } finally {
    process.off("warning", onWarning);
    fetcher.close();
    await new Promise((resolve) => server.close(resolve));
  }
});
