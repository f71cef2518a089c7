// A CommonJS project written with import statements (compiled to require()), as
// with moduleResolution node10: the "." entry's functions are all async.
import {
  createPacing,
  createWebhookHandler,
  KeyCrmSyncError,
  syncStocks,
  toNodeListener,
  version,
  type SyncReport,
} from "keycrm-stock-sync";
import { createSqliteSink } from "keycrm-stock-sync/sqlite";
import { createPostgresSink } from "keycrm-stock-sync/postgres";
import { createMysqlSink } from "keycrm-stock-sync/mysql";
import { createD1Sink, type D1DatabaseLike } from "keycrm-stock-sync/d1";
import { createWorker, type ScheduledSyncEnv } from "keycrm-stock-sync/worker";
import { generateCatalogue, startEmulator } from "keycrm-stock-sync/testing";
import { createServer } from "node:http";

export async function useEverything(db: D1DatabaseLike, env: ScheduledSyncEnv): Promise<string> {
  const emulator = await startEmulator({ offers: generateCatalogue({ offers: 10 }) });
  const sink = createSqliteSink({ path: "shop.sqlite" });
  const report: SyncReport = await syncStocks({ apiKey: "k", apiUrl: emulator.url, sink, pacing: await createPacing() });
  const handler = await createWebhookHandler({ token: "0123456789abcdef", sink: await createPostgresSink({ url: "postgres://u:p@h/db" }) });
  createServer(await toNodeListener(handler)).listen(0);
  const error: unknown = new KeyCrmSyncError("INVALID_CONFIG", "bad");
  if (error instanceof KeyCrmSyncError) console.log(error.code);
  await createWorker().scheduled({}, env);
  console.log(report.complete, await createMysqlSink({ url: "mysql://u:p@h/db" }), createD1Sink({ database: db }));
  return version();
}
