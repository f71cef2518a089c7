// Webhook-to-database latency: how long a stock-webhook delivery takes from the
// request leaving the client to the answer, which the endpoint sends only after
// the rows are committed. Node's http server, the SQLite sink over a file of
// 10 000 products, deliveries of 1 and of 100 rows, each changing its rows.
// Run: npm run bench:webhook  (about 20 s). Target: p99 under 20 ms for one row.

import { createServer } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createWebhookHandler, toNodeListener } from "keycrm-stock-sync";
import { createSqliteSink, createSampleDatabase } from "keycrm-stock-sync/sqlite";

const TOKEN = "bench-token-0123456789abcdef";
const PRODUCTS = 10_000;
const DELIVERIES = Number(process.env.BENCH_DELIVERIES ?? 1_000);

const dir = mkdtempSync(join(tmpdir(), "keycrm-webhook-bench-"));
const path = join(dir, "shop.sqlite");
const skus = Array.from({ length: PRODUCTS }, (_, i) => `sku-${i}`);
createSampleDatabase(path, { skus });
const sink = createSqliteSink({ path });
const server = createServer(toNodeListener(createWebhookHandler({ token: TOKEN, sink })));
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const url = `http://127.0.0.1:${server.address().port}/webhooks/keycrm/stock?token=${TOKEN}`;

async function deliveries(rows) {
  const times = [];
  for (let n = 0; n < DELIVERIES; n++) {
    const body = JSON.stringify(
      Array.from({ length: rows }, (_, i) => {
        const offer = (n * rows + i) % PRODUCTS;
        return { offer_id: offer + 1, sku: skus[offer], in_stock: 10 + (n % 7), in_reserve: 1 };
      }),
    );
    const started = performance.now();
    const response = await fetch(url, { method: "POST", body });
    const answer = await response.json();
    times.push(performance.now() - started);
    if (response.status !== 200 || answer.updated + answer.unchanged !== rows) {
      throw new Error(`delivery ${n}: ${response.status} ${JSON.stringify(answer)}`);
    }
  }
  return times.slice(Math.floor(DELIVERIES / 10)); // the first tenth warms up
}

const quantile = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];
const rows = [];
try {
  for (const size of [1, 100]) {
    const times = await deliveries(size);
    rows.push({
      "rows per delivery": size,
      deliveries: times.length,
      "p50 ms": quantile(times, 0.5).toFixed(2),
      "p99 ms": quantile(times, 0.99).toFixed(2),
      "max ms": Math.max(...times).toFixed(2),
    });
  }
} finally {
  await new Promise((resolve) => server.close(resolve));
  await sink.close();
  rmSync(dir, { recursive: true, force: true });
}
console.log(`stock webhook → SQLite (${PRODUCTS} products), Node ${process.version}, keep-alive HTTP on loopback`);
console.table(rows);
