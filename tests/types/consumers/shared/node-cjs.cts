// A Node project's CommonJS module using every entry point with require(): the "."
// entry's functions are all async; the subpaths are the same as the ES modules'.
import kss = require("keycrm-stock-sync");
import sqlite = require("keycrm-stock-sync/sqlite");
import postgres = require("keycrm-stock-sync/postgres");
import mysql = require("keycrm-stock-sync/mysql");
import d1 = require("keycrm-stock-sync/d1");
import worker = require("keycrm-stock-sync/worker");
import testing = require("keycrm-stock-sync/testing");
import http = require("node:http");

export async function useEverything(db: d1.D1DatabaseLike, env: worker.ScheduledSyncEnv): Promise<string> {
  const emulator = await testing.startEmulator({ offers: testing.generateCatalogue({ offers: 10 }) });
  sqlite.createSampleDatabase("shop.sqlite", { skus: ["a"] });
  const local: sqlite.SqliteSink = sqlite.createSqliteSink({ path: "shop.sqlite" });
  const server: postgres.PostgresSink = await postgres.createPostgresSink({ url: "postgres://u:p@localhost/shop" });
  const maria: mysql.MysqlSink = await mysql.createMysqlSink({ url: "mysql://u:p@localhost/shop" });
  const edge = d1.createD1Sink({ database: db });
  const sink: kss.StockSink = await kss.trackObservations(local);
  const report: kss.SyncReport = await kss.syncStocks({
    apiKey: "k",
    apiUrl: emulator.url,
    sink,
    pacing: await kss.createPacing(),
  });
  const handler = await kss.createWebhookHandler({ token: "0123456789abcdef", sink: server });
  http.createServer(await kss.toNodeListener(handler)).listen(0);
  try {
    await kss.validateOptions({ batchSize: 0 });
  } catch (error) {
    if (error instanceof kss.KeyCrmSyncError) console.log(error.code, error.status);
    if (kss.isSyncError(error)) console.log(error.message);
  }
  await worker.createWorker().scheduled({}, env, { waitUntil: () => undefined });
  console.log(report.complete, maria, edge, d1.D1_MAX_PARAMETERS);
  const service: kss.SyncService = await kss.createSyncService({ apiKey: "k", sink });
  console.log(service);
  return kss.version();
}
