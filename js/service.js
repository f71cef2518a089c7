// createSyncService(): what `serve` does, as a library for a site's own process.
// A full sync at an interval (never two at once, with jitter), webhooks sharing
// its pacing and its sink, a check of the API key at start, health that says
// when retrying will not help, log events and Prometheus metrics.

import { redact, isSyncError, syncError } from "./errors.js";
import { createLog } from "./log.js";
import { createMetrics, DURATION_BUCKETS, METRICS_CONTENT_TYPE } from "./metrics.js";
import { toNodeListener } from "./node-http.js";
import { trackObservations } from "./observations.js";
import { RECOMMENDED_CONFIRM_AFTER_MS } from "./webhooks.js";

const DEFAULT_BASE = "/webhooks/keycrm";
const DEFAULT_INTERVAL_MS = 60 * 60_000;
const DEFAULT_JITTER = 0.1;
const DEFAULT_STALE_AFTER_INTERVALS = 3;
const MIN_TOKEN = 16;
/** Codes of a failed sync that the next one will fail the same way. */
export const PERMANENT_CODES = Object.freeze(["UNAUTHORIZED", "INVALID_CONFIG", "UNKNOWN_WAREHOUSE", "CRM_HTTP"]);
/** Core options a key check leaves out: it reads one page and writes nothing. */
const NOT_FOR_THE_CHECK = ["zeroMissing", "deadlineMs", "maxRequests", "cursor", "offerIds", "orderId", "dryRun"];
/** Core options a catch-up leaves out: it syncs the offers of changed orders only. */
const NOT_FOR_THE_CATCH_UP = ["zeroMissing", "resumeFrom", "offerIds", "skus", "orderId"];

const REAL_CLOCK = Object.freeze({
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id),
});

/**
 * @param {{ syncStocks: Function, createPacing: Function, createWebhookHandler: Function,
 *   validateOptions: Function }} api
 */
export function makeCreateSyncService({ syncStocks, createPacing, createWebhookHandler, validateOptions }) {
  return function createSyncService(options) {
    const {
      sink: givenSink,
      apiKey,
      webhookToken,
      intervalMs = DEFAULT_INTERVAL_MS,
      catchUpIntervalMs = 0,
      ordersUpdatedSince,
      jitter = DEFAULT_JITTER,
      staleAfterIntervals = DEFAULT_STALE_AFTER_INTERVALS,
      confirmAfterMs = RECOMMENDED_CONFIRM_AFTER_MS,
      checkKey = true,
      basePath = DEFAULT_BASE,
      metricsToken,
      log = "text",
      logStream,
      secrets = [],
      maxBodyBytes,
      handlerTimeoutMs,
      maxRows,
      pacing = createPacing(),
      signal,
      fetch: givenFetch,
      clock = REAL_CLOCK,
      random = Math.random,
      ...coreOptions
    } = options ?? {};

    if (typeof apiKey !== "string" || apiKey.trim() === "") {
      throw syncError("INVALID_CONFIG", "apiKey is required (serve reads it from KEYCRM_API_KEY)");
    }
    if (!(Number.isFinite(intervalMs) && intervalMs >= 0)) {
      throw syncError("INVALID_CONFIG", "intervalMs must be a number of ms ≥ 0 (0: webhooks only, no full sync)");
    }
    if (!(Number.isFinite(catchUpIntervalMs) && catchUpIntervalMs >= 0)) {
      throw syncError("INVALID_CONFIG", "catchUpIntervalMs must be a number of ms ≥ 0 (0: no catch-up)");
    }
    if (ordersUpdatedSince !== undefined && !(Number.isSafeInteger(ordersUpdatedSince) && ordersUpdatedSince >= 0)) {
      throw syncError("INVALID_CONFIG", "ordersUpdatedSince must be a time in Unix ms");
    }
    if (!(Number.isFinite(jitter) && jitter >= 0 && jitter < 1)) {
      throw syncError("INVALID_CONFIG", "jitter must be a fraction of the interval ≥ 0 and < 1");
    }
    if (!(Number.isFinite(staleAfterIntervals) && staleAfterIntervals > 0)) {
      throw syncError("INVALID_CONFIG", "staleAfterIntervals must be a number > 0");
    }
    if (metricsToken !== undefined && (typeof metricsToken !== "string" || metricsToken.length < MIN_TOKEN)) {
      throw syncError("INVALID_CONFIG", `metricsToken must be a random string of at least ${MIN_TOKEN} characters`);
    }
    validateOptions(coreOptions);
    const hidden = [apiKey, webhookToken, metricsToken, ...secrets];
    const emitLog = logOf(log, logStream, hidden, clock);

    // One sink for webhooks and full syncs alike, so that neither writes a figure
    // older than the other's.
    const sink = trackObservations(givenSink);
    const stop = new AbortController();
    const listeners = new Map();
    const metrics = serviceMetrics();
    const work = new Set(); // webhook work still running after its answer
    let state = "new";
    let startedAt = null;
    let timer = null;
    let nextRunAt = null;
    let running = null;
    let lastSync = null;
    let lastCompleteAt = null;
    let lastError = null;
    let keyError = null;
    // The time the next catch-up lists changed orders from (Unix ms): given, or
    // set by the last complete full sync or catch-up.
    let lastOrdersCheck = ordersUpdatedSince ?? null;
    let catchUpTimer = null;
    let catchingUp = null;

    function emit(event) {
      emitLog(event);
      for (const listener of listeners.get(event.event) ?? []) {
        try {
          listener(event);
        } catch {
          // A listener's mistake is not the service's.
        }
      }
    }

    /** The fetch of one kind of run, telling of each 429 and each failed attempt. */
    const fetchOf = (kind) => observedFetch(givenFetch ?? globalThis.fetch, kind, emit);

    /** Counts and logs a finished sync (full, order or confirm). */
    function record(kind, report) {
      const error = report.error ? { code: report.error.code, message: report.error.message } : undefined;
      const counts = {
        updated: report.updated ?? 0,
        unchanged: report.unchanged ?? 0,
        keptNewer: report.keptNewer ?? 0,
        requests: report.requests ?? 0,
        retries: report.retries ?? 0,
        rateLimited: report.rateLimited ?? 0,
        durationMs: report.durationMs ?? 0,
      };
      metrics.runs.inc({ kind, outcome: report.complete ? "complete" : (error?.code ?? "INTERNAL") });
      metrics.rowsUpdated.inc({ kind }, counts.updated);
      metrics.requests.inc({ kind }, counts.requests);
      metrics.retries.inc({ kind }, counts.retries);
      metrics.rateLimited.inc({ kind }, counts.rateLimited);
      metrics.duration.observe({ kind }, counts.durationMs / 1000);
      emit(redact({ event: "run", kind, complete: Boolean(report.complete), ...counts, error }, ...hidden));
    }

    /** Takes the next check time a complete run reports; never moves it back. */
    function noteOrdersCheck(report) {
      const next = report.complete ? report.nextOrdersUpdatedSince : undefined;
      if (typeof next === "number" && (lastOrdersCheck === null || next > lastOrdersCheck)) {
        lastOrdersCheck = next;
      }
    }

    /**
     * Syncs the offers of the orders changed since the last check, unless a run is
     * going on or no check time is known yet (none given, no full sync complete).
     */
    function catchUpNow() {
      if (stop.signal.aborted) return Promise.reject(syncError("INVALID_CONFIG", "the service is stopped"));
      if (catchingUp !== null) return catchingUp;
      if (running !== null || lastOrdersCheck === null) return Promise.resolve(null);
      const options = Object.fromEntries(
        Object.entries(coreOptions).filter(([name]) => !NOT_FOR_THE_CATCH_UP.includes(name)),
      );
      const run = (async () => {
        const started = clock.now();
        let report;
        try {
          report = await syncStocks({
            ...options,
            ordersUpdatedSince: lastOrdersCheck,
            apiKey,
            sink,
            pacing,
            signal: stop.signal,
            fetch: fetchOf("catchUp"),
          });
        } catch (error) {
          report = { complete: false, error: shape(error), durationMs: clock.now() - started };
        }
        noteOrdersCheck(report);
        catchingUp = null;
        record("catchUp", report);
        return report;
      })();
      catchingUp = run;
      return run;
    }

    /** A scheduled catch-up, then the next one scheduled. */
    async function catchUpTick() {
      catchUpTimer = null;
      await catchUpNow().catch(() => {});
      if (stop.signal.aborted) return;
      catchUpTimer = clock.setTimeout(catchUpTick, catchUpIntervalMs);
    }

    async function fullSync() {
      // A catch-up under way ends first: the two never run at once.
      await catchingUp?.catch(() => {});
      const started = clock.now();
      let report;
      try {
        report = await syncStocks({
          ...coreOptions,
          apiKey,
          sink,
          pacing,
          signal: stop.signal,
          fetch: fetchOf("full"),
        });
      } catch (error) {
        report = { complete: false, error: shape(error), durationMs: clock.now() - started };
      }
      const at = clock.now();
      lastSync = {
        at: new Date(at).toISOString(),
        complete: Boolean(report.complete),
        updated: report.updated ?? 0,
        unchanged: report.unchanged ?? 0,
        keptNewer: report.keptNewer ?? 0,
        durationMs: report.durationMs ?? 0,
        error: report.error?.code,
      };
      noteOrdersCheck(report);
      if (report.complete) {
        lastCompleteAt = at;
        metrics.lastComplete.set({}, Math.floor(at / 1000));
      } else {
        lastError = { at: lastSync.at, ...shape(report.error) };
      }
      // Over before it is told of: a listener's runNow() starts a new run.
      running = null;
      record("full", report);
      return report;
    }

    /** Runs a full sync now, or joins the one running. */
    function runNow() {
      if (stop.signal.aborted) return Promise.reject(syncError("INVALID_CONFIG", "the service is stopped"));
      if (running === null) {
        const run = fullSync();
        // fullSync clears `running` itself, unless it ended before this line.
        running = run;
        run.finally(() => {
          if (running === run) running = null;
        });
      }
      return running;
    }

    /** A scheduled full sync, then the next one scheduled. */
    async function tick() {
      timer = null;
      nextRunAt = null;
      await runNow().catch(() => {});
      if (stop.signal.aborted) return;
      // From the end of a run: a run longer than the interval never overlaps the next.
      const delayMs = intervalMs * (1 + jitter * (2 * random() - 1));
      nextRunAt = clock.now() + delayMs;
      timer = clock.setTimeout(tick, delayMs);
    }

    /** One paced request for one page, writing nothing: fails on a key KeyCRM refuses. */
    async function checkTheKey() {
      const check = Object.fromEntries(
        Object.entries(coreOptions).filter(([name]) => !NOT_FOR_THE_CHECK.includes(name)),
      );
      const report = await syncStocks({
        ...check,
        apiKey,
        sink,
        pacing,
        dryRun: true,
        maxRequests: 1,
        signal: stop.signal,
        fetch: fetchOf("keyCheck"),
      });
      metrics.requests.inc({ kind: "keyCheck" }, report.requests ?? 0);
      if (!report.complete && report.error?.code === "UNAUTHORIZED") {
        keyError = { at: new Date(clock.now()).toISOString(), ...shape(report.error) };
        emit({ event: "keyCheck", ok: false, error: keyError });
        throw syncError("UNAUTHORIZED", redact(report.error.message, ...hidden));
      }
      emit({ event: "keyCheck", ok: true });
    }

    const webhooks =
      webhookToken === undefined
        ? null
        : createWebhookHandler({
            ...coreOptions,
            ...defined({ maxBodyBytes, handlerTimeoutMs, maxRows }),
            token: webhookToken,
            apiKey,
            sink,
            pacing,
            basePath,
            confirmAfterMs,
            signal: stop.signal,
            fetch: fetchOf("webhook"),
            waitUntil: (promise) => {
              work.add(promise);
              promise.finally(() => work.delete(promise));
            },
            onResult: (kind, report) => {
              if (kind === "stock") {
                metrics.rowsUpdated.inc({ kind }, report.updated ?? 0);
              } else {
                record(kind, report);
              }
            },
          });

    function health() {
      const now = clock.now();
      const base = {
        startedAt: startedAt === null ? null : new Date(startedAt).toISOString(),
        lastSync,
        lastCompleteSyncAt: lastCompleteAt === null ? null : new Date(lastCompleteAt).toISOString(),
      };
      const failing = (reason, message, extra = {}) => ({
        status: 503,
        body: { ok: false, reason, message, ...extra, ...base },
      });
      if (keyError) return failing("KEY_REJECTED", "KeyCRM refused the API key at start", { error: keyError });
      if (state === "stopped") return failing("STOPPED", "the service is stopped");
      if (intervalMs > 0) {
        if (state === "new") return failing("NOT_STARTED", "start() has not been called");
        if (lastSync && !lastSync.complete && PERMANENT_CODES.includes(lastSync.error)) {
          return failing("SYNC_FAILED", "the last full sync failed in a way retrying does not fix", {
            error: lastError,
          });
        }
        const since = lastCompleteAt ?? startedAt;
        const allowed = staleAfterIntervals * intervalMs;
        if (now - since > allowed) {
          return failing(
            "STALE",
            `no complete full sync in ${Math.round(allowed / 1000)} s (${staleAfterIntervals} intervals)`,
            { error: lastError },
          );
        }
      }
      return { status: 200, body: { ok: true, ...base } };
    }

    function status() {
      return {
        state: state === "started" ? (running ? "running" : "idle") : state,
        ...health().body,
        lastError,
        nextRunAt: nextRunAt === null ? null : new Date(nextRunAt).toISOString(),
        ordersCheckedFrom: lastOrdersCheck === null ? null : new Date(lastOrdersCheck).toISOString(),
      };
    }

    /** The service's Request → Response handler: webhooks, health and metrics under basePath. */
    async function handler(request, context) {
      const url = new URL(request.url);
      const path = url.pathname;
      if (path === `${basePath}/healthz`) {
        if (request.method !== "GET") return methodNotAllowed();
        const { status: code, body } = health();
        return json(code, body);
      }
      if (metricsToken !== undefined && path === `${basePath}/metrics`) {
        if (request.method !== "GET") return methodNotAllowed();
        if (!sameToken(tokenOf(request, url), metricsToken)) {
          return json(401, { error: { code: "UNAUTHORIZED", message: "missing or wrong token" } });
        }
        return new Response(metrics.registry.text(), { headers: { "content-type": METRICS_CONTENT_TYPE } });
      }
      if (webhooks === null || !path.startsWith(`${basePath}/`)) {
        return json(404, { error: { code: "NOT_FOUND", message: "no such endpoint" } });
      }
      const response = await webhooks(request, context);
      await tellDelivery(request.method, path, response);
      return response;
    }

    async function tellDelivery(method, path, response) {
      const route = { [`${basePath}/stock`]: "stock", [`${basePath}/order`]: "order" }[path] ?? "other";
      metrics.deliveries.inc({ route, status: String(response.status) });
      let answer = {};
      try {
        answer = await response.clone().json();
      } catch {
        // Not JSON: the status says it.
      }
      const event = { event: "delivery", method, path, route, status: response.status };
      if (response.status >= 400) event.code = answer?.error?.code ?? String(response.status);
      if (route === "stock" && typeof answer?.updated === "number") {
        event.updated = answer.updated;
        event.unchanged = answer.unchanged;
      }
      if (route === "order" && answer?.orderId !== undefined) event.orderId = answer.orderId;
      emit(event);
    }

    async function stopService() {
      if (state === "stopped") return;
      const was = state;
      state = "stopped";
      if (was !== "new") emit({ event: "stopping" });
      stop.abort();
      if (timer !== null) clock.clearTimeout(timer);
      if (catchUpTimer !== null) clock.clearTimeout(catchUpTimer);
      timer = null;
      catchUpTimer = null;
      nextRunAt = null;
      await running?.catch(() => {});
      await catchingUp?.catch(() => {});
      await Promise.allSettled([...work]);
      emit({ event: "stopped" });
    }
    signal?.addEventListener("abort", () => stopService(), { once: true });

    return {
      /**
       * Checks the API key (one paced request), then runs a full sync at once and
       * every `intervalMs` after. Rejects with UNAUTHORIZED if KeyCRM refuses the key.
       */
      async start() {
        if (state !== "new") throw syncError("INVALID_CONFIG", "start() was called already");
        state = "starting";
        startedAt = clock.now();
        if (checkKey) {
          try {
            await checkTheKey();
          } catch (error) {
            state = "failed";
            throw error;
          }
        }
        if (stop.signal.aborted) return;
        state = "started";
        emit({ event: "start", intervalMs });
        if (intervalMs > 0) tick();
        if (catchUpIntervalMs > 0) catchUpTimer = clock.setTimeout(catchUpTick, catchUpIntervalMs);
      },
      stop: stopService,
      runNow,
      catchUpNow,
      status,
      health,
      metrics: () => metrics.registry.text(),
      handler,
      listener: toNodeListener(handler),
      /** Emits to `listener` every event of that name; returns a function that stops it. */
      on(name, listener) {
        if (!listeners.has(name)) listeners.set(name, new Set());
        listeners.get(name).add(listener);
        return () => listeners.get(name).delete(listener);
      },
      /** Logs an event of the caller's through the service's log (serve's own). */
      log: emit,
    };
  };
}

function serviceMetrics() {
  const registry = createMetrics();
  const p = "keycrm_stock_sync_";
  return {
    registry,
    runs: registry.counter(`${p}runs_total`, "Syncs from KeyCRM by kind (full, order, confirm, catchUp) and outcome (complete, or the error code)."),
    rowsUpdated: registry.counter(`${p}rows_updated_total`, "Site rows whose stock was changed, by kind (full, order, confirm, stock)."),
    lastComplete: registry.gauge(`${p}last_complete_sync_timestamp_seconds`, "Unix time the last complete full sync finished."),
    deliveries: registry.counter(`${p}webhook_deliveries_total`, "Webhook requests answered, by route (stock, order, other) and status."),
    requests: registry.counter(`${p}keycrm_requests_total`, "Requests made to KeyCRM, by kind of run."),
    rateLimited: registry.counter(`${p}keycrm_rate_limited_total`, "KeyCRM answers of 429, by kind of run."),
    retries: registry.counter(`${p}keycrm_retries_total`, "Requests to KeyCRM tried again, by kind of run."),
    duration: registry.histogram(`${p}run_duration_seconds`, "How long syncs from KeyCRM took, by kind.", DURATION_BUCKETS),
  };
}

/** A fetch that tells of each 429 and each answer or failure that will be tried again. */
function observedFetch(fetch, kind, emit) {
  return async (url, init) => {
    const path = pathOf(url);
    let response;
    try {
      response = await fetch(url, init);
    } catch (error) {
      // A request the run no longer needs is aborted on purpose: nothing to tell.
      if (!init?.signal?.aborted) emit({ event: "retry", kind, path, reason: `failed: ${error?.name ?? "network error"}` });
      throw error;
    }
    if (response.status === 429) {
      emit({ event: "rateLimited", kind, path, retryAfter: response.headers.get("retry-after") ?? undefined });
    } else if (response.status >= 500) {
      emit({ event: "retry", kind, path, reason: `answered ${response.status}` });
    }
    return response;
  };
}

/** The path of a KeyCRM URL, without its query. */
function pathOf(url) {
  try {
    return new URL(String(url)).pathname;
  } catch {
    return "-";
  }
}

function logOf(log, stream, secrets, clock) {
  if (log === false || log === null) return () => {};
  if (typeof log === "function") return (event) => log(redact(event, ...secrets));
  const out = stream ?? globalThis.process?.stderr;
  try {
    return createLog({ format: log, write: (line) => out?.write(line), secrets, now: () => clock.now() });
  } catch (error) {
    throw syncError("INVALID_CONFIG", `log must be "text", "json", false or a function: ${error.message}`);
  }
}

/** The token from `?token=` or `Authorization: Bearer`. */
function tokenOf(request, url) {
  const bearer = request.headers.get("authorization")?.match(/^Bearer\s+(.+)$/i)?.[1];
  return url.searchParams.get("token") ?? bearer ?? "";
}

/** Compares in time that depends on the expected token's length only. */
function sameToken(given, expected) {
  const a = new TextEncoder().encode(given);
  const b = new TextEncoder().encode(expected);
  let difference = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) difference |= (a[i] ?? 0) ^ b[i];
  return difference === 0;
}

function shape(error) {
  if (error === undefined || error === null) return { code: "INTERNAL", message: "unknown" };
  if (isSyncError(error) || (typeof error.code === "string" && typeof error.message === "string")) {
    return { code: error.code, message: error.message };
  }
  return { code: "INTERNAL", message: String(error?.message ?? error) };
}

function defined(object) {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined));
}

function methodNotAllowed() {
  return json(405, { error: { code: "METHOD_NOT_ALLOWED", message: "use GET" } }, { allow: "GET" });
}

function json(status, body, headers = {}) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}
