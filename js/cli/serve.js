// `keycrm-stock-sync serve`: the webhook endpoint and a periodic full sync in one
// long-lived process, for Node sites without a scheduler. Webhooks bring changes
// in seconds; the full sync catches whatever a webhook missed.

import { redact } from "../errors.js";
import { createNodeServer, SERVER_LIMITS } from "../node-http.js";
import { RECOMMENDED_CONFIRM_AFTER_MS } from "../webhooks.js";
import {
  createPacing,
  createWebhookHandler,
  syncStocks,
  trackObservations,
  validateOptions,
} from "../node.js";
import { EXIT, UsageError } from "./args.js";
import { coreOptionsOf, databaseOf } from "./sync.js";

/**
 * Runs `serve` until SIGTERM or SIGINT.
 * @param {Record<string, any>} flags from parseCommandLine
 * @param {{ env: Record<string, string | undefined>,
 *   stdout: NodeJS.WriteStream, stderr: NodeJS.WriteStream }} io
 * @returns {Promise<number>} the exit status
 */
export async function runServe(flags, { env, stderr }) {
  const apiKey = required(env, "KEYCRM_API_KEY", "your KeyCRM API key");
  const token = required(
    env,
    "KEYCRM_WEBHOOK_TOKEN",
    "a long random secret that the webhook URLs you give KeyCRM carry as ?token=",
  );
  const database = databaseOf(flags, "serve");
  const options = coreOptionsOf(flags, env);
  const secrets = [apiKey, token, ...database.secrets];
  const hide = (text) => redact(text, ...secrets);
  const log = (line) => stderr.write(`${new Date().toISOString()} ${hide(line)}\n`);

  let sink;
  try {
    validateOptions(options);
    // One sink for webhooks and full syncs alike, so that neither writes a figure
    // older than the other's.
    sink = trackObservations(await database.open());
  } catch (error) {
    stderr.write(`error ${error?.code ?? "INTERNAL"}: ${hide(String(error?.message ?? error))}\n`);
    return error?.code === "INVALID_CONFIG" ? EXIT.USAGE : EXIT.FAILED;
  }

  const work = new Set(); // order syncs still running after their reply
  // Order syncs and full syncs go to one account: they keep to its limit together.
  const pacing = createPacing();
  const stop = new AbortController();
  let lastSync = null;
  const handler = createWebhookHandler({
    ...options,
    token,
    apiKey,
    sink,
    pacing,
    confirmAfterMs:
      flags.confirmAfter === undefined
        ? RECOMMENDED_CONFIRM_AFTER_MS
        : flags.confirmAfter * 1000,
    signal: stop.signal,
    waitUntil: (promise) => {
      work.add(promise);
      promise.finally(() => work.delete(promise));
    },
    onResult: (kind, report) => log(`webhook ${kind}: ${outcome(report)}`),
  });
  const server = createServeServer(handler, {
    lastSync: () => lastSync,
    log,
  });
  const port = flags.port ?? 8080;
  const host = flags.host ?? "127.0.0.1";
  try {
    await new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, resolve);
    });
  } catch (error) {
    stderr.write(`error INVALID_CONFIG: cannot listen on ${host}:${port}: ${error.message}\n`);
    await sink.close?.();
    return EXIT.USAGE;
  }
  log(`listening on http://${host}:${server.address().port}: POST /webhooks/keycrm/stock, POST /webhooks/keycrm/order, GET /healthz`);

  const intervalMs = (flags.interval ?? 60) * 60_000;
  let timer;
  let running = null;
  async function fullSync() {
    running = syncStocks({ ...options, apiKey, sink, pacing, signal: stop.signal });
    const report = await running.catch((error) => ({ complete: false, error }));
    running = null;
    lastSync = {
      at: new Date().toISOString(),
      complete: report.complete,
      updated: report.updated,
      keptNewer: report.keptNewer,
      error: report.error?.code,
    };
    log(`full sync: ${outcome(report)}`);
    if (intervalMs > 0 && !stop.signal.aborted) timer = setTimeout(fullSync, intervalMs);
  }
  if (intervalMs > 0) fullSync();

  await new Promise((resolve) => {
    process.once("SIGTERM", resolve);
    process.once("SIGINT", resolve);
  });
  log("stopping: no new work; writing the batch in flight");
  stop.abort();
  clearTimeout(timer);
  await new Promise((resolve) => server.close(resolve));
  await running?.catch(() => {});
  await Promise.allSettled([...work]);
  await sink.close?.();
  log("stopped");
  return EXIT.OK;
}

/**
 * The http server of `serve`: `/healthz` with the last full sync, the webhook
 * handler for the rest, Node's timeouts and limits set explicitly
 * (SERVER_LIMITS unless `limits` says otherwise), and every refused request
 * logged by method, path (never the query, where the token is), status and code.
 * @param {(request: Request) => Promise<Response>} handler
 * @param {{ lastSync: () => unknown, log: (line: string) => void,
 *   limits?: Partial<typeof SERVER_LIMITS> }} options
 * @returns {import("node:http").Server}
 */
export function createServeServer(handler, { lastSync, log, limits = {} }) {
  return createNodeServer(
    async (request) => {
      if (new URL(request.url).pathname === "/healthz" && request.method === "GET") {
        return Response.json({ ok: true, lastSync: lastSync() });
      }
      return handler(request);
    },
    {
      ...limits,
      onRejected: ({ method, path, status, code }) =>
        log(method === "-" ? `refused a malformed request: ${status} ${code}` : `refused ${method} ${path}: ${status} ${code}`),
    },
  );
}

function required(env, name, what) {
  const value = env[name]?.trim();
  if (!value) throw new UsageError(`${name} is not set: ${what}`, "serve");
  return value;
}

function outcome(report) {
  if (report.complete) return `complete, ${report.updated} updated, ${report.unchanged} unchanged`;
  const error = report.error ?? {};
  return `not complete: ${error.code ?? "INTERNAL"} ${error.message ?? ""}`.trim();
}
