// `serve`'s HTTP side as a hostile client sees it: malformed request lines,
// headers, methods, targets and bodies over bare sockets, requests that stop
// halfway, and seeded random bytes. Whatever comes, an answer (or, for what
// Node's parser refuses, a 400 or a close) and the server stays up.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { createWebhookHandler } from "keycrm-stock-sync";
import { createSampleDatabase } from "keycrm-stock-sync/sqlite";
import { startEmulator, generateCatalogue } from "keycrm-stock-sync/testing";
import { createServeServer } from "../../js/cli/serve.js";
import { describe } from "../../js/log.js";
import { createMemorySink } from "../../js/sinks/memory.js";
import { exchange, request, seeded } from "./support/raw-http.js";
import { startServe } from "./support/serve-process.js";

const KEY = "sk-live-HOSTILE-8d2c";
const TOKEN = "whk-hostile-9c4e1a7b3f6d2e80";
const STOCK = `/webhooks/keycrm/stock?token=${TOKEN}`;
const ORDER = `/webhooks/keycrm/order?token=${TOKEN}`;
const DELIVERY = JSON.stringify([{ offer_id: 1, sku: "a", in_stock: 5, in_reserve: 1 }]);
/** Statuses an answer may have; a 500 would be a failure of the package itself. */
const ANSWERS = new Set([200, 202, 400, 401, 404, 405, 408, 413, 431, 501]);

let dir;
let emulator;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "keycrm-hostile-"));
  emulator = await startEmulator({ apiKey: KEY, offers: generateCatalogue({ offers: 5 }), rateLimitPerMinute: 6000 });
});

after(async () => {
  await emulator.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Fails unless what came back is answers of known statuses with a JSON error code, or a close. */
function assertAnswered(result, what, { status, code } = {}) {
  const context = `${what}\n  got: ${JSON.stringify(result.raw.subarray(0, 300).toString("latin1"))}`;
  if (status === undefined) {
    assert.ok(result.answers.length > 0 || result.closedByServer, `no answer and no close: ${context}`);
  } else {
    assert.equal(result.answers[0]?.status, status, context);
  }
  if (result.raw.length > 0) assert.ok(result.answers.length > 0, `bytes that are no HTTP answer: ${context}`);
  for (const answer of result.answers) {
    assert.ok(ANSWERS.has(answer.status), `status ${answer.status}: ${context}`);
    if (answer.status >= 400 && answer.complete && answer.body !== "") {
      assert.equal(typeof JSON.parse(answer.body).error.code, "string", context);
    }
  }
  if (code !== undefined) assert.equal(JSON.parse(result.answers[0].body).error.code, code, context);
}

async function assertHealthy(port, what) {
  const health = await exchange(port, request("GET", "/healthz"));
  assert.ok([200, 503].includes(health.answers[0]?.status), `/healthz after ${what}: ${health.raw}`);
}

/**
 * The corpus: [what, bytes, expected status (undefined: an answer or a close), options].
 * Each request is complete, or half-closed by the client, so that no case waits
 * for a server timeout.
 */
const CORPUS = [
  // Request lines Node's parser refuses.
  ["garbage", "GARBAGE\r\n\r\n", 400],
  ["no target", "GET\r\n\r\n", 400],
  ["HTTP/9.9", "GET / HTTP/9.9\r\nHost: a\r\n\r\n", 400],
  ["trailing words", "GET / HTTP/1.1 x\r\nHost: a\r\n\r\n", 400],
  ["NUL bytes", "\x00\x01\x02\x03\r\n\r\n", 400],
  ["binary", Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03]), 400, { end: true }],
  ["lower-case method", "get /healthz HTTP/1.1\r\nHost: a\r\n\r\n", 400],
  ["unknown method", "FROB /healthz HTTP/1.1\r\nHost: a\r\n\r\n", 400],
  ["HTTP/0.9", "GET /healthz\r\n\r\n", undefined],
  ["HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", undefined],
  ["space in target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400],
  ["bare LF", "GET /healthz HTTP/1.1\nHost: a\n\n", undefined],
  ["request line cut short", "GET /heal", 400, { end: true }],
  // Headers.
  ["no Host", "GET /healthz HTTP/1.1\r\n\r\n", 400, { code: "BAD_REQUEST" }],
  ["HTTP/1.0 without Host", "GET /healthz HTTP/1.0\r\n\r\n", 200],
  ["Host with a space", request("GET", "/healthz", { host: "a b" }), 400, { code: "BAD_REQUEST" }],
  ["Host port 99999", request("GET", "/healthz", { host: "a:99999" }), 400, { code: "BAD_REQUEST" }],
  ["Host with a path", request("POST", STOCK, { host: "a/b", body: DELIVERY }), 400, { code: "BAD_REQUEST" }],
  ["Host with a user", request("GET", "/healthz", { host: "u@a" }), 400, { code: "BAD_REQUEST" }],
  ["two Hosts", request("GET", "/healthz", { headers: { Host: ["a", "b"] } }), 400, { code: "BAD_REQUEST" }],
  ["empty Host", request("GET", "/healthz", { host: "" }), 400, { code: "BAD_REQUEST" }],
  ["header without colon", "GET /healthz HTTP/1.1\r\nHost: a\r\nnocolon\r\n\r\n", 400],
  ["space in a header name", "GET /healthz HTTP/1.1\r\nHost: a\r\nX Y: 1\r\n\r\n", 400],
  ["NUL in a header value", "GET /healthz HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", 400],
  ["obs-fold", "GET /healthz HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", undefined],
  ["latin-1 header value", Buffer.from("GET /healthz HTTP/1.1\r\nHost: a\r\nX: \xe9\xff\r\n\r\n", "latin1"), 200],
  ["headers of 64 KiB", request("GET", "/healthz", { headers: { "X-Big": "x".repeat(64 * 1024) } }), 431],
  ["3000 headers", request("GET", "/healthz", { headers: { "X-Many": Array(3000).fill("1") } }), undefined],
  ["negative Content-Length", request("POST", STOCK, { headers: { "Content-Length": "-1" } }), 400],
  ["Content-Length abc", request("POST", STOCK, { headers: { "Content-Length": "abc" } }), 400],
  ["two Content-Lengths", request("POST", STOCK, { headers: { "Content-Length": ["2", "3"] }, body: "[]" }), 400],
  ["Content-Length 1, 2", request("POST", STOCK, { headers: { "Content-Length": "1, 2" }, body: "[]" }), 400],
  [
    "Content-Length and chunked",
    request("POST", STOCK, { headers: { "Content-Length": "2", "Transfer-Encoding": "chunked" }, body: "0\r\n\r\n" }),
    400,
  ],
  ["gzip, chunked", request("POST", STOCK, { headers: { "Transfer-Encoding": "gzip, chunked" }, body: "0\r\n\r\n" }), 400, { code: "BAD_WEBHOOK" }],
  ["chunked, gzip", request("POST", STOCK, { headers: { "Transfer-Encoding": "chunked, gzip" }, body: "0\r\n\r\n" }), 400],
  ["Transfer-Encoding gzip alone", request("POST", STOCK, { headers: { "Transfer-Encoding": "gzip" } }), 400],
  ["Expect 100-continue, too large", request("POST", STOCK, { headers: { Expect: "100-continue", "Content-Length": "99999999" } }), undefined],
  ["Upgrade: websocket", request("GET", "/healthz", { headers: { Connection: "Upgrade", Upgrade: "websocket" } }), 200],
  // Methods.
  ["TRACE", request("TRACE", "/healthz"), 501, { code: "NOT_IMPLEMENTED" }],
  ["TRACE with a body", request("TRACE", STOCK, { body: DELIVERY }), 501, { code: "NOT_IMPLEMENTED" }],
  ["TRACK (unknown to the parser)", request("TRACK", STOCK, { body: DELIVERY }), 400],
  ["CONNECT", "CONNECT shop.test:443 HTTP/1.1\r\nHost: shop.test:443\r\n\r\n", 501, { code: "NOT_IMPLEMENTED" }],
  ["PROPFIND", request("PROPFIND", STOCK, { body: "" }), 405, { code: "METHOD_NOT_ALLOWED" }],
  ["DELETE", request("DELETE", "/healthz"), 405, { code: "METHOD_NOT_ALLOWED" }],
  ["HEAD", request("HEAD", "/healthz", { headers: { Connection: "close" } }), 405],
  ["OPTIONS *", request("OPTIONS", "*"), 404, { code: "NOT_FOUND" }],
  ["GET with a body", request("GET", "/healthz", { body: "x".repeat(100) }), 200],
  // Targets.
  ["absolute-form", request("GET", "http://elsewhere.test/healthz"), 200],
  ["absolute-form, another scheme", request("GET", "ftp://elsewhere.test/healthz"), 400, { code: "BAD_REQUEST" }],
  ["authority-form", request("GET", "shop.test:80"), 400, { code: "BAD_REQUEST" }],
  ["//x", request("GET", "//healthz"), 404, { code: "NOT_FOUND" }],
  ["%zz", request("GET", "/%zz?%zz"), 404, { code: "NOT_FOUND" }],
  ["dot segments", request("POST", `/webhooks/keycrm/x/../stock?token=${TOKEN}`, { body: "[]" }), 200],
  ["backslashes", request("GET", "/\\healthz"), 404],
  ["a target of 12 KB", request("GET", `/${"a".repeat(12_000)}`), 404, { code: "NOT_FOUND" }],
  ["a target over the header limit", request("GET", `/${"a".repeat(20_000)}`), 431],
  ["the token twice", request("POST", `${STOCK}&token=x`, { body: DELIVERY }), 200],
  // Bodies and tokens.
  ["a good delivery", request("POST", STOCK, { body: DELIVERY }), 200],
  ["a wrong token", request("POST", STOCK.replace(TOKEN, "x".repeat(24)), { body: DELIVERY }), 401],
  ["malformed JSON", request("POST", STOCK, { body: "[{" }), 400, { code: "BAD_WEBHOOK" }],
  ["bad UTF-8", request("POST", STOCK, { body: Buffer.from([0x5b, 0xff, 0xfe, 0x5d]).toString("latin1") }), 400],
  ["an unknown event", request("POST", ORDER, { body: '{"event":"x","context":{}}' }), 400],
  ["2 MB declared", request("POST", STOCK, { headers: { "Content-Length": String(2e6) } }), 413],
  [
    "4 MB written before reading",
    [request("POST", STOCK, { headers: { "Content-Length": String(4 * 2 ** 20) } }), Buffer.alloc(4 * 2 ** 20, 32)],
    413,
    { readAfterWriting: true, code: "BODY_TOO_LARGE" },
  ],
  ["chunk size not hex", request("POST", STOCK, { headers: { "Transfer-Encoding": "chunked" }, body: "zz\r\n[]\r\n0\r\n\r\n" }), 400],
  ["chunk size overflow", request("POST", STOCK, { headers: { "Transfer-Encoding": "chunked" }, body: "fffffffffffffffffff\r\n" }), 400],
  ["chunk without CRLF", request("POST", STOCK, { headers: { "Transfer-Encoding": "chunked" }, body: "2\r\n[]0\r\n\r\n" }), 400],
  ["body shorter than declared", request("POST", STOCK, { headers: { "Content-Length": "100" }, body: "[]" }), 400, { end: true }],
  ["body longer than declared", request("POST", STOCK, { headers: { "Content-Length": "2" }, body: "[]garbage\r\n\r\n" }), 200],
  ["chunked body cut short", request("POST", STOCK, { headers: { "Transfer-Encoding": "chunked" }, body: "10\r\n[" }), 400, { end: true }],
];

test("against the serve process, every malformed request gets an answer and serve stays up", async () => {
  const path = join(dir, "shop.sqlite");
  createSampleDatabase(path, { skus: ["a"] });
  const serve = await startServe(["--db", path, "--interval", "0", "--confirm-after", "0"], {
    KEYCRM_API_KEY: KEY,
    KEYCRM_WEBHOOK_TOKEN: TOKEN,
    KEYCRM_API_URL: emulator.url,
  });
  try {
    for (const [what, bytes, status, options = {}] of CORPUS) {
      const result = await exchange(serve.port, bytes, { end: options.end, readAfterWriting: options.readAfterWriting });
      assertAnswered(result, what, { status, code: options.code });
      if (options.readAfterWriting) assert.equal(result.error, undefined, `${what}: the sender saw a reset`);
      assert.equal(serve.child.exitCode, null, `serve exited after ${what}: ${serve.out.stderr}`);
      await assertHealthy(serve.port, what);
    }
  } finally {
    assert.equal(await serve.stop(), 0, serve.out.stderr);
  }
  assert.ok(!serve.out.stderr.includes(TOKEN), "the token is never logged");
  assert.ok(!serve.out.stderr.includes("token="), "nor its query");
  assert.match(serve.out.stderr, /refused TRACE \/healthz: 501 NOT_IMPLEMENTED/);
  assert.match(serve.out.stderr, /refused a malformed request: 400 HPE_/);
});

/** serve's HTTP server in this process, with timeouts small enough for a test. */
async function serveHere() {
  const lines = [];
  const handler = createWebhookHandler({ token: TOKEN, sink: createMemorySink([{ sku: "a", stock: 0 }]) });
  const server = createServeServer(handler, {
    log: (event) => lines.push(describe(event)),
    limits: {
      headersTimeoutMs: 200,
      requestTimeoutMs: 400,
      keepAliveTimeoutMs: 200,
      connectionsCheckingIntervalMs: 50,
    },
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: server.address().port,
    lines,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

test("requests that stop halfway are timed out with 408 by the server's own timeouts", async () => {
  const here = await serveHere();
  try {
    const slow = [
      ["a request line", "GET /heal"],
      ["headers", "GET /healthz HTTP/1.1\r\nHost: a\r\nX-Slow: "],
      ["a body", request("POST", STOCK, { headers: { "Content-Length": "100" }, body: "[" })],
      ["a chunked body", request("POST", STOCK, { headers: { "Transfer-Encoding": "chunked" }, body: "10\r\n[" })],
    ];
    for (const [what, bytes] of slow) {
      const result = await exchange(here.port, bytes);
      assertAnswered(result, `stops in ${what}`, { status: 408, code: "REQUEST_TIMEOUT" });
      await assertHealthy(here.port, what);
    }
    // An idle keep-alive connection is closed after keepAliveTimeoutMs.
    const idle = await exchange(here.port, request("HEAD", "/healthz"));
    assert.equal(idle.answers[0]?.status, 405);
    assert.ok(idle.closedByServer);
  } finally {
    await here.close();
  }
  assert.ok(here.lines.some((line) => line.includes("408 ERR_HTTP_REQUEST_TIMEOUT")), here.lines.join("\n"));
});

const METHODS = ["GET", "POST", "HEAD", "OPTIONS", "PUT", "TRACE", "CONNECT", "PRI", "get", "X", ""];
const TARGETS = ["/healthz", STOCK, ORDER, "*", "//x", "/%zz", "http://h/healthz", "", "/\u00ff", "?token=x"];
const HEADERS = [
  "Content-Length: 0",
  "Content-Length: 5",
  "Content-Length: -1",
  "Content-Length: 99999999999999999999",
  "Content-Length: 1, 1",
  "Transfer-Encoding: chunked",
  "Transfer-Encoding: gzip",
  "Host: a b",
  "Host: a:99999",
  "Host: [::1]:80",
  "Host:",
  "Expect: 100-continue",
  "Connection: close",
  "Connection: upgrade\r\nUpgrade: h2c",
  `X-Webhook-Token: ${TOKEN}`,
  `X-Long: ${"v".repeat(5000)}`,
];
const NOISE = "\r\n :;,/?#%\0\t\x7f\xff0123456789abcdefABCDEF-[]{}\"";

/** Templates the fuzzer mutates: requests the server takes as they are. */
const TEMPLATES = [
  request("GET", "/healthz"),
  request("POST", STOCK, { body: DELIVERY }),
  request("POST", ORDER, { body: '{"event":"lead.change_lead_status","context":{"id":1}}' }),
  request("POST", STOCK, { headers: { "Transfer-Encoding": "chunked" }, body: `${DELIVERY.length.toString(16)}\r\n${DELIVERY}\r\n0\r\n\r\n` }),
  request("OPTIONS", "*"),
];

/** One random request: a template with one to four mutations. */
function fuzzCase(random) {
  let text = random.pick(TEMPLATES);
  const mutations = 1 + random.below(4);
  for (let m = 0; m < mutations; m++) {
    const at = random.below(text.length + 1);
    switch (random.below(8)) {
      case 0: // a byte replaced
        text = text.slice(0, at) + random.pick(NOISE) + text.slice(at + 1);
        break;
      case 1: // noise inserted
        text = text.slice(0, at) + Array.from({ length: 1 + random.below(12) }, () => random.pick(NOISE)).join("") + text.slice(at);
        break;
      case 2: // a stretch deleted
        text = text.slice(0, at) + text.slice(at + 1 + random.below(20));
        break;
      case 3: // a stretch repeated
        text = text.slice(0, at) + text.slice(at, at + 1 + random.below(40)).repeat(2) + text.slice(at + 40);
        break;
      case 4: // cut short
        text = text.slice(0, at);
        break;
      case 5: // a header added
        text = text.replace("\r\n", `\r\n${random.pick(HEADERS)}\r\n`);
        break;
      case 6: // another method
        text = random.pick(METHODS) + text.slice(text.indexOf(" "));
        break;
      default: {
        // another target
        const [line, ...rest] = text.split("\r\n");
        const parts = line.split(" ");
        parts[1] = random.pick(TARGETS);
        text = [parts.join(" "), ...rest].join("\r\n");
      }
    }
  }
  return Buffer.from(text, "latin1");
}

test("seeded random request bytes always get an answer or a close, never a crash", async () => {
  const seed = Number(process.env.HOSTILE_SEED ?? 20261201);
  const cases = 300;
  const random = seeded(seed);
  const corpus = Array.from({ length: cases }, () => fuzzCase(random));
  const here = await serveHere();
  try {
    // A few at once: a case the server has to time out does not hold the rest.
    const parallel = 12;
    for (let start = 0; start < cases; start += parallel) {
      const batch = corpus.slice(start, start + parallel);
      const results = await Promise.all(batch.map((bytes) => exchange(here.port, bytes)));
      results.forEach((result, i) => {
        const what = `seed ${seed} (HOSTILE_SEED=${seed} to replay), case ${start + i}: ${JSON.stringify(batch[i].toString("latin1").slice(0, 300))}`;
        assertAnswered(result, what);
      });
      await assertHealthy(here.port, `seed ${seed}, cases ${start}–${start + batch.length - 1}`);
    }
  } finally {
    await here.close();
  }
  assert.ok(!here.lines.join("\n").includes(TOKEN), "the token is never logged");
});
