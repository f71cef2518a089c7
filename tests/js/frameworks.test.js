// The webhook handler mounted in real frameworks, over real HTTP on 127.0.0.1:
// Express 4 and 5 (with express.json() before and after the mount), Fastify
// (with @fastify/middie) and Hono (Request → Response). Each site keeps its own
// routes working around the handler.

import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";

import express4 from "express4";
import express5 from "express5";
import Fastify from "fastify";
import middie from "@fastify/middie";
import { Hono } from "hono";
import { serve as serveHono } from "@hono/node-server";

import { createWebhookHandler, toNodeListener } from "keycrm-stock-sync";
import { createMemorySink } from "../../js/sinks/memory.js";

const TOKEN = "whk-frameworks-5d8e2a1c9b7f";
const delivery = (inStock) => JSON.stringify([{ offer_id: 1, sku: "a", in_stock: inStock, in_reserve: 1 }]);

function site() {
  const sink = createMemorySink([{ sku: "a", stock: 0 }]);
  const handler = createWebhookHandler({ token: TOKEN, sink });
  return { sink, handler, listener: toNodeListener(handler) };
}

async function listen(server) {
  if (!server.listening) await once(server.listen(0, "127.0.0.1"), "listening");
  return { base: `http://127.0.0.1:${server.address().port}`, close: () => closeServer(server) };
}

function closeServer(server) {
  server.closeAllConnections?.();
  return new Promise((resolve) => server.close(resolve));
}

const postJson = (url, body) =>
  fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body });

/** The checks every mount passes: the delivery is written, health answers, a wrong token is refused, the site's own route still works. */
async function assertWebhooksWork(base, sink, { ownRoute = true } = {}) {
  const ok = await postJson(`${base}/webhooks/keycrm/stock?token=${TOKEN}`, delivery(9));
  assert.equal(ok.status, 200, await ok.clone().text());
  assert.equal((await ok.json()).updated, 1);
  assert.equal((await sink.read([{ sku: "a" }]))[0].stock, 8);
  const denied = await postJson(`${base}/webhooks/keycrm/stock?token=wrong-wrong-wrong-1`, delivery(3));
  assert.equal(denied.status, 401);
  const health = await fetch(`${base}/webhooks/keycrm/healthz`);
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { ok: true });
  if (ownRoute) {
    // The site's route after the handler gets its request, body and all.
    const echo = await postJson(`${base}/api/echo`, '{"cart":[1,2]}');
    assert.equal(echo.status, 200);
    assert.deepEqual(await echo.json(), { got: { cart: [1, 2] } });
  }
}

for (const [name, express] of [
  ["Express 4", express4],
  ["Express 5", express5],
]) {
  test(`${name}: mounted with app.use(path, …) after express.json(), under its mount path`, async () => {
    const { sink, listener } = site();
    const app = express();
    app.use(express.json());
    app.use("/webhooks/keycrm", listener);
    app.post("/api/echo", (req, res) => res.json({ got: req.body }));
    const server = await listen(app.listen(0, "127.0.0.1"));
    try {
      await assertWebhooksWork(server.base, sink);
    } finally {
      await server.close();
    }
  });

  test(`${name}: app.use(listener) before express.json() passes other routes to next() with their bodies unread`, async () => {
    const { sink, listener } = site();
    const app = express();
    app.use(listener);
    app.use(express.json());
    app.post("/api/echo", (req, res) => res.json({ got: req.body }));
    app.get("/healthz", (req, res) => res.json({ site: true }));
    const server = await listen(app.listen(0, "127.0.0.1"));
    try {
      await assertWebhooksWork(server.base, sink);
      // The site's own /healthz stays the site's.
      assert.deepEqual(await (await fetch(`${server.base}/healthz`)).json(), { site: true });
    } finally {
      await server.close();
    }
  });

  test(`${name}: app.all(route, listener) after express.text() and express.raw() takes the parser's string or Buffer`, async () => {
    for (const parser of [express.text({ type: "*/*" }), express.raw({ type: "*/*" })]) {
      const { sink, listener } = site();
      const app = express();
      app.use(parser);
      app.all("/webhooks/keycrm/:route", listener);
      const server = await listen(app.listen(0, "127.0.0.1"));
      try {
        await assertWebhooksWork(server.base, sink, { ownRoute: false });
      } finally {
        await server.close();
      }
    }
  });

  test(`${name}: a body read by a parser that kept nothing gets 500 BODY_ALREADY_READ at once`, async () => {
    const { listener } = site();
    const app = express();
    // A parser that reads the stream and keeps nothing in req.body.
    app.use((req, res, next) => {
      req.on("data", () => {});
      req.on("end", () => next());
    });
    app.use(listener);
    const server = await listen(app.listen(0, "127.0.0.1"));
    try {
      const response = await postJson(`${server.base}/webhooks/keycrm/stock?token=${TOKEN}`, delivery(5));
      assert.equal(response.status, 500);
      const { error } = await response.json();
      assert.equal(error.code, "BODY_ALREADY_READ");
      assert.match(error.message, /body parser/);
    } finally {
      await server.close();
    }
  });
}

test("Fastify: the listener as @fastify/middie middleware, Fastify's own JSON parser for its routes", async () => {
  const { sink, listener } = site();
  const app = Fastify();
  await app.register(middie);
  app.use("/webhooks/keycrm", listener);
  app.post("/api/echo", async (request) => ({ got: request.body }));
  await app.listen({ port: 0, host: "127.0.0.1" });
  try {
    await assertWebhooksWork(`http://127.0.0.1:${app.server.address().port}`, sink);
  } finally {
    await app.close();
  }
});

test("Hono: a route hands c.req.raw to the handler; a body a middleware read is passed on from Hono's cache", async () => {
  const { sink, handler } = site();
  const app = new Hono();
  // A middleware that reads every JSON body first, as a validator would.
  app.use("/webhooks/*", async (c, next) => {
    await c.req.json().catch(() => undefined);
    await next();
  });
  app.on(["GET", "POST"], "/webhooks/keycrm/*", async (c) => {
    const request = c.req.raw.bodyUsed ? new Request(c.req.raw, { body: await c.req.arrayBuffer() }) : c.req.raw;
    return handler(request);
  });
  app.post("/api/echo", async (c) => c.json({ got: await c.req.json() }));
  const server = serveHono({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
  const { base, close } = await listen(server);
  try {
    await assertWebhooksWork(base, sink);
    // Without the cache, the handler says so instead of waiting.
    const bare = new Hono();
    bare.use("*", async (c, next) => {
      await c.req.json().catch(() => undefined);
      await next();
    });
    bare.post("/webhooks/keycrm/:kind", (c) => handler(c.req.raw));
    const response = await bare.request(`/webhooks/keycrm/stock?token=${TOKEN}`, { method: "POST", body: delivery(1) });
    assert.equal(response.status, 500);
    assert.equal((await response.json()).error.code, "BODY_ALREADY_READ");
  } finally {
    await close();
  }
});
