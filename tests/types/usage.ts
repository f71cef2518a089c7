// Typed uses of the public API. `tsc --noEmit` fails if a typing drifts from how the
// package is meant to be used; each @ts-expect-error fails if a mistake stops being one.
import {
  applyStockWebhook,
  checkStock,
  createPacing,
  createWebhookHandler,
  toNodeListener,
  isSyncError,
  syncStocks,
  validateOptions,
  type StockSink,
  type SyncReport,
} from "keycrm-stock-sync";
import { createSqliteSink, createSampleDatabase } from "keycrm-stock-sync/sqlite";
import { createPostgresSink } from "keycrm-stock-sync/postgres";
import { createMysqlSink, type MysqlSink } from "keycrm-stock-sync/mysql";
import {
  expectedAvailability,
  generateCatalogue,
  sinkConformance,
  startEmulator,
} from "keycrm-stock-sync/testing";
import { createD1Sink, D1_MAX_PARAMETERS, type D1Sink } from "keycrm-stock-sync/d1";
import {
  createWorker,
  runScheduledSync,
  type ScheduledSyncResult,
} from "keycrm-stock-sync/worker";
import pg from "pg";
import mysql from "mysql2/promise";
import mysqlCallbacks from "mysql2";

export async function example(): Promise<void> {
  const offers = generateCatalogue({ offers: 100 });
  const emulator = await startEmulator({ offers, rateLimitPerMinute: 600 });
  createSampleDatabase("shop.sqlite", { skus: ["a", "b"] });
  const sink = createSqliteSink({ path: "shop.sqlite", table: "products", observedColumn: "observed_at" });
  const report: SyncReport = await syncStocks({
    apiKey: "key",
    apiUrl: emulator.url,
    sink,
    warehouses: [1, "Київ"],
    rateLimitPerMinute: 600,
    onProgress: (p) => console.log(p.pages, p.pagesLeft, p.etaMs, p.retry?.reason, p.retry?.waitMs),
  });
  if (!report.complete && report.error) {
    const code: "UNAUTHORIZED" | string = report.error.code;
    console.log(code, report.notOnSite.sample, report.duplicateSkus);
  }
  const expected: Map<string, number> = expectedAvailability(offers);
  console.log(expected.size);
  await sink.close();
  await emulator.close();

  const checked = await checkStock({ apiKey: "key", sink, perWarehouse: false, keepReserve: true });
  for (const differs of checked.findings?.stockDiffers ?? []) {
    const site: number | null = differs.site;
    console.log(differs.sku, differs.warehouseId, site, differs.keycrm);
  }
  console.log(checked.findings?.nearMisses[0]?.siteSku, checked.findings?.duplicateSkus[0]?.offerIds);
  // @ts-expect-error a check compares the whole catalogue
  await checkStock({ apiKey: "key", sink, skus: ["a"] });
  // @ts-expect-error a check needs a sink with readAll()
  await checkStock({ apiKey: "key", sink: { read: async () => [], write: async () => {} } });
  const delivered: SyncReport = await applyStockWebhook({ body: "[]", sink, keepReserve: true });
  console.log(delivered.updated);
  // @ts-expect-error a stock webhook cannot keep per-warehouse rows
  await applyStockWebhook({ body: "[]", sink, perWarehouse: true });
  const pacing = createPacing();
  await syncStocks({ apiKey: "key", sink, orderId: 42, pacing });
  const handler = createWebhookHandler({ token: "a-long-random-token-1234", sink, apiKey: "key", pacing, confirmAfterMs: 10_000 });
  // @ts-expect-error pacing comes from createPacing()
  await syncStocks({ apiKey: "key", sink, pacing: 60 });
  const served = toNodeListener(handler);
  console.log(typeof served, (await handler(new Request("http://x/healthz"), { waitUntil: () => {} })).status);

  // @ts-expect-error the API key is required
  await syncStocks({ sink });
  // @ts-expect-error options are checked by name
  validateOptions({ rateLimit: 60 });
  // @ts-expect-error warehouses are ids or names
  validateOptions({ warehouses: [true] });
  // @ts-expect-error a path or a database, not both
  createSqliteSink({});

  try {
    validateOptions({ rateLimitPerMinute: 0 });
  } catch (error) {
    if (isSyncError(error)) console.log(error.code, error.message);
  }
}

export const customSink: StockSink = {
  async read(keys) {
    return keys.map((k) => ({ sku: k.sku, stock: null }));
  },
  async write(changes) {
    for (const change of changes) console.log(change.sku, change.stock);
  },
};

export async function serverSinks(): Promise<void> {
  const fromUrl = await createPostgresSink({
    url: "postgres://shop:secret@localhost/shop",
    table: "catalog.variants",
    stockColumn: "quantity",
  });
  const pool = new pg.Pool({ connectionString: "postgres://localhost/shop" });
  const fromPool = await createPostgresSink({ pool, warehouseColumn: "depot" });
  const client = new pg.Client();
  await client.connect();
  const fromClient = await createPostgresSink({ client });
  const rows = await fromPool.readAll();
  console.log(rows.map((row) => row.warehouseId ?? row.stock));
  await Promise.all([fromUrl.close(), fromPool.close(), fromClient.close()]);

  const mysqlPool = mysql.createPool({ uri: "mysql://shop@localhost/shop" });
  const sinks: MysqlSink[] = [
    await createMysqlSink({ url: "mariadb://shop:secret@localhost/shop" }),
    await createMysqlSink({ pool: mysqlPool, table: "shop.products" }),
    await createMysqlSink({ pool: mysqlCallbacks.createPool({}) }),
    await createMysqlSink({
      connection: await mysql.createConnection({ database: "shop" }),
    }),
    await createMysqlSink({ connection: mysqlCallbacks.createConnection({}) }),
  ];
  await Promise.all(sinks.map((sink) => sink.write([{ sku: "a", stock: 1 }])));

  // @ts-expect-error one way in, not two
  await createPostgresSink({ url: "postgres://x", pool });
  // @ts-expect-error the MySQL sink takes a connection, not a client
  await createMysqlSink({ client });
  // @ts-expect-error column options are names
  await createPostgresSink({ pool, stockColumn: 3 });
}

sinkConformance({
  name: "a custom sink",
  perWarehouse: false,
  async setup({ rows }) {
    const table = new Map(rows.map((row) => [row.sku, row.stock]));
    return {
      sink: {
        async read(keys) {
          return keys.flatMap(({ sku }) => {
            const stock = table.get(sku);
            return stock === undefined ? [] : [{ sku, stock }];
          });
        },
        async write(changes) {
          for (const { sku, stock } of changes) {
            if (table.has(sku)) table.set(sku, stock);
          }
        },
      },
      stored: async () => [...table].map(([sku, stock]) => ({ sku, stock })),
    };
  },
});

// Cloudflare Workers: the D1 sink and the scheduled sync, over a structural D1 binding.
interface D1Statement {
  bind(...values: (string | number | boolean | null | ArrayBuffer)[]): D1Statement;
  first(): Promise<unknown>;
}
declare const DB: {
  prepare(query: string): D1Statement;
  batch(statements: D1Statement[]): Promise<{ results?: unknown[]; meta: object }[]>;
  exec(query: string): Promise<unknown>;
};
interface Env {
  DB: typeof DB;
  KEYCRM_API_KEY: string;
  KEYCRM_API_URL: string;
}

export async function worker(env: Env): Promise<void> {
  const sink: D1Sink = createD1Sink({ database: env.DB, table: "products", stockColumn: "qty", observedColumn: "observed_at" });
  await sink.write(await sink.read([{ sku: "a" }]));
  const rows = await sink.readAll();
  console.log(rows.length, D1_MAX_PARAMETERS);

  const result: ScheduledSyncResult = await runScheduledSync(env, {
    subrequestBudget: 1000,
    wallBudgetMs: 290_000,
    sync: { keepReserve: true, warehouses: ["Київ"] },
    log: (entry) => console.log(entry.message),
  });
  if (result.ran && result.report && !result.report.complete) {
    console.log(result.report.error?.code, result.cursor?.page, result.subrequests);
  }
  const handler = createWorker({ log: false });
  await handler.scheduled({}, { ...env, KEYCRM_SUBREQUEST_BUDGET: "50", KEYCRM_SYNC_OPTIONS: { zeroMissing: true } });
  const response: Response = await handler.fetch(
    new Request("https://shop.example/webhooks/keycrm/stock?token=0123456789abcdef", { method: "POST", body: "[]" }),
    { ...env, KEYCRM_WEBHOOK_TOKEN: "0123456789abcdef" },
    { waitUntil: (work) => void work.catch(() => undefined) },
  );
  console.log(response.status);

  // @ts-expect-error the sink needs a D1 binding
  createD1Sink({ table: "products" });
  // @ts-expect-error the scheduled sync sets the cursor itself
  await runScheduledSync(env, { sync: { resumeFrom: { page: 2 } } });
  // @ts-expect-error budgets are numbers in code
  await runScheduledSync(env, { subrequestBudget: "50" });
  // @ts-expect-error fetch needs the invocation's ctx, for waitUntil
  await handler.fetch(new Request("https://shop.example/healthz"), env);
}
