// `keycrm-stock-sync serve`: the webhook endpoint and a periodic full sync in one
// long-lived process, for Node sites without a scheduler. Webhooks bring changes
// in seconds; the full sync catches whatever a webhook missed. It is
// createSyncService() plus the command line, an http server and signals.

import { createLog } from "../log.js";
import { createNodeServer, SERVER_LIMITS } from "../node-http.js";
import { RECOMMENDED_CONFIRM_AFTER_MS } from "../webhooks.js";
import { createSyncService, validateOptions } from "../node.js";
import { EXIT, UsageError } from "./args.js";
import { coreOptionsOf, databaseOf } from "./sync.js";

const BASE = "/webhooks/keycrm";

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
  const metricsToken = env.KEYCRM_METRICS_TOKEN?.trim() || undefined;
  const database = databaseOf(flags, "serve");
  const options = coreOptionsOf(flags, env);
  const secrets = [apiKey, token, metricsToken, ...database.secrets];
  const log = createLog({
    format: flags.logFormat ?? "text",
    write: (line) => stderr.write(line),
    secrets,
  });
  const fail = (error) => {
    log({ event: "error", code: error?.code ?? "INTERNAL", message: `error ${error?.code ?? "INTERNAL"}: ${error?.message ?? error}` });
  };

  let sink;
  let service;
  try {
    validateOptions(options);
    sink = await database.open();
    service = createSyncService({
      ...options,
      apiKey,
      sink,
      webhookToken: token,
      metricsToken,
      basePath: BASE,
      intervalMs: (flags.interval ?? 60) * 60_000,
      catchUpIntervalMs: (flags.catchUpInterval ?? 0) * 60_000,
      staleAfterIntervals: flags.staleAfter ?? 3,
      confirmAfterMs:
        flags.confirmAfter === undefined ? RECOMMENDED_CONFIRM_AFTER_MS : flags.confirmAfter * 1000,
      log,
      secrets: database.secrets,
    });
  } catch (error) {
    fail(error);
    await sink?.close?.().catch(() => {});
    return error?.code === "INVALID_CONFIG" ? EXIT.USAGE : EXIT.FAILED;
  }

  // Signals from now on: a stop during the key check ends the process cleanly too.
  let stopping = false;
  const stopped = new Promise((resolve) => {
    const stop = () => {
      stopping = true;
      resolve();
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });

  // The key is checked before anything listens: a wrong one ends serve at once.
  try {
    await Promise.race([service.start(), stopped]);
  } catch (error) {
    fail(error);
    await service.stop();
    await sink.close?.().catch(() => {});
    return EXIT.FAILED;
  }

  const server = createServeServer(service.handler, { basePath: BASE, log });
  const port = flags.port ?? 8080;
  const host = flags.host ?? "127.0.0.1";
  if (!stopping) {
    try {
      await new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, resolve);
      });
    } catch (error) {
      log({ event: "error", message: `error INVALID_CONFIG: cannot listen on ${host}:${port}: ${error.message}` });
      await service.stop();
      await sink.close?.().catch(() => {});
      return EXIT.USAGE;
    }
    log({
      event: "listening",
      url: `http://${host}:${server.address().port}`,
      endpoints: [
        `POST ${BASE}/stock`,
        `POST ${BASE}/order`,
        "GET /healthz",
        ...(metricsToken ? ["GET /metrics"] : []),
      ],
    });
  }

  await stopped;
  await Promise.all([
    server.listening ? new Promise((resolve) => server.close(resolve)) : undefined,
    service.stop(),
  ]);
  await sink.close?.().catch(() => {});
  return EXIT.OK;
}

/**
 * The http server of `serve`: `handler` (the service's, or a webhook handler)
 * under `basePath`, with `/healthz` and `/metrics` at the root too, Node's
 * timeouts and limits set explicitly (SERVER_LIMITS unless `limits` says
 * otherwise). Requests refused before they reach the handler, and requests
 * outside `basePath`, are logged by method, path (never the query, where the
 * token is), status and code; the service logs its own deliveries.
 * @param {(request: Request) => Promise<Response>} handler
 * @param {{ basePath?: string, log: (event: { event: string, [field: string]: unknown }) => void,
 *   limits?: Partial<typeof SERVER_LIMITS> }} options
 * @returns {import("node:http").Server}
 */
export function createServeServer(handler, { basePath = BASE, log, limits = {} }) {
  return createNodeServer(
    (request) => {
      const url = new URL(request.url);
      if (url.pathname === "/healthz" || url.pathname === "/metrics") {
        url.pathname = `${basePath}${url.pathname}`;
        return handler(new Request(url, request));
      }
      return handler(request);
    },
    {
      ...limits,
      onRejected: ({ method, path, status, code, byHandler }) => {
        const root = path === "/healthz" || path === "/metrics";
        if (byHandler && (root || path.startsWith(`${basePath}/`))) return;
        log({ event: "delivery", method, path, route: "other", status, code });
      },
    },
  );
}

function required(env, name, what) {
  const value = env[name]?.trim();
  if (!value) throw new UsageError(`${name} is not set: ${what}`, "serve");
  return value;
}
