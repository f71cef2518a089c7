// A Node project's ES module using every entry point: the ES API is synchronous where
// the functions are, and the sink factories that connect return promises.
import {
  createPacing,
  createWebhookHandler,
  isSyncError,
  KeyCrmSyncError,
  syncStocks,
  toNodeListener,
  trackObservations,
  validateOptions,
  version,
  type StockSink,
  type SyncReport,
} from "keycrm-stock-sync";
import { createSampleDatabase, createSqliteSink, type SqliteSink } from "keycrm-stock-sync/sqlite";
import { createPostgresSink, type PostgresSink } from "keycrm-stock-sync/postgres";
import { createMysqlSink, type MysqlSink } from "keycrm-stock-sync/mysql";
import { createD1Sink, D1_MAX_PARAMETERS, type D1DatabaseLike } from "keycrm-stock-sync/d1";
import { createWorker, runScheduledSync, type ScheduledSyncEnv } from "keycrm-stock-sync/worker";
import { generateCatalogue, startEmulator } from "keycrm-stock-sync/testing";
import { createServer } from "node:http";

export async function useEverything(db: D1DatabaseLike, env: ScheduledSyncEnv): Promise<string> {
  const emulator = await startEmulator({ offers: generateCatalogue({ offers: 10 }) });
  createSampleDatabase("shop.sqlite", { skus: ["a"] });
  const sqlite: SqliteSink = createSqliteSink({ path: "shop.sqlite" });
  const postgres: PostgresSink = await createPostgresSink({ url: "postgres://u:p@localhost/shop" });
  const mysql: MysqlSink = await createMysqlSink({ url: "mysql://u:p@localhost/shop" });
  const d1 = createD1Sink({ database: db });
  const sink: StockSink = trackObservations(sqlite);
  const report: SyncReport = await syncStocks({ apiKey: "k", apiUrl: emulator.url, sink, pacing: createPacing() });
  const handler = createWebhookHandler({ token: "0123456789abcdef", sink: postgres });
  createServer(toNodeListener(handler)).listen(0);
  const middleware = toNodeListener(handler);
  createServer((req, res) => middleware(req, res, (error) => console.log(error))).listen(0);
  try {
    validateOptions({ batchSize: 0 });
  } catch (error) {
    if (error instanceof KeyCrmSyncError) console.log(error.code, error.status);
    if (isSyncError(error)) console.log(error.message);
  }
  const made: KeyCrmSyncError = new KeyCrmSyncError("SINK_FAILED", "down", { cause: new Error("x") });
  await runScheduledSync(env, { plan: "free" });
  const worker = createWorker();
  await worker.scheduled({}, env, { waitUntil: () => undefined });
  console.log(report.complete, made.code, mysql, d1, D1_MAX_PARAMETERS);
  return version();
}
