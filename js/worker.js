// `keycrm-stock-sync/worker`: a cron-triggered sync into D1 in a few lines.
//
// One invocation runs one slice of the scan within the platform's budgets: the
// subrequests it may make (D1 calls count) and a wall time. When the budget
// ends, the core writes what it has read and returns a cursor; it is saved in
// D1 and the next cron resumes there, and a complete scan clears it so the cron
// after starts afresh. A lease in the same table keeps two overlapping
// invocations from scanning at once.
//
// With `catchUp`, each invocation first syncs the offers of the orders changed
// since the last check (kept beside the cursor), with at most half of the
// budget, then resumes the scan with what is left.

import { createD1Sink } from "./sinks/d1.js";
import { redact, syncError } from "./errors.js";
import { createPacing, createWebhookHandler, syncStocks, validateOptions } from "./workerd.js";
import { readScheduledConfig, readWebhookConfig, LEASE_MARGIN_MS } from "./worker-config.js";
import { STATE_CALLS, syncState } from "./worker-state.js";

/**
 * Runs one budgeted slice of the sync; call it from a Worker's `scheduled` handler.
 * @param {Record<string, unknown>} env
 * @param {import("./worker.js").ScheduledSyncOptions} [options]
 * @returns {Promise<import("./worker.js").ScheduledSyncResult>}
 */
export async function runScheduledSync(env, options = {}) {
  const config = readScheduledConfig(env, options);
  const startedAt = Date.now();
  const sink = d1SinkOf(config);
  // The core needs room for at least one request and the write after it.
  const maxSubrequests = config.subrequestBudget - STATE_CALLS;
  if (maxSubrequests < 3) {
    throw syncError(
      "INVALID_CONFIG",
      `A subrequest budget of ${config.subrequestBudget} leaves nothing for the sync: ${STATE_CALLS} go to its state in D1. Use at least ${STATE_CALLS + 3}.`,
    );
  }
  const filtered = (config.sync.offerIds?.length ?? 0) > 0 || (config.sync.skus?.length ?? 0) > 0;
  const { pacing } = options;

  const state = syncState(config.database, config.stateTable);
  // Random per invocation, never at module top level (Workers forbid it there).
  const token = crypto.randomUUID();
  const claim = await state.claim(token, startedAt, config.wallBudgetMs + LEASE_MARGIN_MS);
  if (!claim.acquired) {
    const result = {
      ran: false,
      report: null,
      resumedFrom: null,
      cursor: claim.cursor,
      subrequests: 1,
      leaseExpiresAt: claim.leaseExpiresAt,
    };
    if (config.log) config.log(logEntry(result));
    return result;
  }

  const resumeFrom = filtered ? null : claim.cursor;
  const wallLeft = () => Math.max(1, config.wallBudgetMs - (Date.now() - startedAt));
  let catchUp = null;
  let catchUpThrown;
  let scanThrown;
  if (config.catchUp && !filtered) {
    try {
      catchUp = await syncStocks({
        ...catchUpOptions(config.sync),
        apiKey: config.apiKey,
        sink,
        pacing,
        // With no check kept yet, from now on: the core reports where the next
        // one starts.
        ordersUpdatedSince: claim.ordersUpdatedSince ?? startedAt,
        maxSubrequests: Math.max(3, Math.floor(maxSubrequests / 2)),
        ...(config.sync.maxRequests === undefined
          ? {}
          : { maxRequests: Math.max(1, Math.ceil(config.sync.maxRequests / 2)) }),
        deadlineMs: wallLeft(),
      });
    } catch (error) {
      catchUpThrown = error;
    }
  }
  // The scan gets what the catch-up left of the budgets.
  const scanSubrequests = maxSubrequests - (catchUp?.subrequests ?? 0);
  const scanRequests =
    config.sync.maxRequests === undefined
      ? undefined
      : config.sync.maxRequests - (catchUp?.requests ?? 0);
  let report;
  if (catchUpThrown === undefined && scanSubrequests >= 3 && (scanRequests ?? 1) >= 1) {
    try {
      report = await syncStocks({
        ...config.sync,
        apiKey: config.apiKey,
        sink,
        pacing,
        maxSubrequests: scanSubrequests,
        ...(scanRequests === undefined ? {} : { maxRequests: scanRequests }),
        // The claim and the catch-up took some of the wall time already.
        deadlineMs: wallLeft(),
        ...(resumeFrom ? { resumeFrom } : {}),
      });
    } catch (error) {
      scanThrown = error;
    }
  }
  const thrown = catchUpThrown ?? scanThrown;
  // The next catch-up starts where the last complete run says, never earlier.
  const checks = [claim.ordersUpdatedSince, nextCheckOf(catchUp), nextCheckOf(report)].filter(
    (time) => Number.isSafeInteger(time),
  );
  const ordersUpdatedSince = config.catchUp && checks.length > 0 ? Math.max(...checks) : undefined;

  // A complete scan clears the cursor; an unfinished one saves where it got to;
  // a run that could not say (it failed before reading, or threw) keeps the old
  // one, so no page is ever skipped — unless the core refused that very cursor
  // (say, one saved by another version), which would fail every cron from now on.
  const cursor =
    filtered || report?.complete || cursorRefused(scanThrown, config.sync, resumeFrom)
      ? null
      : (report?.cursor ?? claim.cursor);
  const stored = redact(
    report ?? failureReport(thrown, Date.now() - startedAt, catchUp),
    config.apiKey,
  );
  const finishedAt = Date.now();
  const stillHeld = await state.finish(token, finishedAt, {
    cursor,
    ordersUpdatedSince,
    report: { ...stored, finishedAt: new Date(finishedAt).toISOString() },
  });
  const result = {
    ran: true,
    report: stored,
    catchUp: catchUp === null ? null : redact(catchUp, config.apiKey),
    resumedFrom: resumeFrom,
    cursor: stillHeld ? cursor : null,
    ordersUpdatedSince: stillHeld ? (ordersUpdatedSince ?? null) : null,
    subrequests: (report?.subrequests ?? 0) + (catchUp?.subrequests ?? 0) + STATE_CALLS,
    leaseExpiresAt: null,
  };
  if (config.log) config.log(logEntry(result, stillHeld));
  if (thrown) throw thrown;
  return result;
}

/**
 * A Worker whose cron runs {@link runScheduledSync} and whose `fetch` serves
 * KeyCRM's stock and order webhooks into the same D1 table:
 * `export default createWorker()`.
 * @param {import("./worker.js").ScheduledSyncOptions} [options]
 */
export function createWorker(options = {}) {
  // env is the same object for every request an isolate serves: its handler is
  // made once, and each request's ctx.waitUntil keeps that request's work alive
  // (an order's sync, a confirmation read).
  const handlers = new WeakMap();
  // An isolate may run a cron and order syncs at once: they share its pacing.
  const pacing = options.pacing ?? createPacing();
  return {
    async scheduled(_controller, env) {
      await runScheduledSync(env, { ...options, pacing });
    },

    async fetch(request, env, ctx) {
      let handle = handlers.get(env);
      if (!handle) {
        try {
          handle = createWebhookHandler(webhookOptions(readWebhookConfig(env, options), pacing));
        } catch (error) {
          if (error?.code !== "INVALID_CONFIG") throw error;
          // A deployment missing a secret or var answers so, instead of crashing.
          const message = redact(error.message, env?.KEYCRM_API_KEY);
          console.error(`keycrm-stock-sync: webhooks not configured: ${message}`);
          return Response.json({ error: { code: "INVALID_CONFIG", message } }, { status: 503 });
        }
        handlers.set(env, handle);
      }
      return handle(request, ctx);
    },
  };
}

/** The webhook handler's options, from the config. */
function webhookOptions(config, pacing) {
  const { apiKey, token, log, confirmAfterMs } = config;
  const sink = d1SinkOf(config);
  return {
    ...config.sync,
    token,
    apiKey,
    sink,
    pacing,
    confirmAfterMs,
    onResult: log
      ? (kind, result) => log(redact(webhookLogEntry(kind, result), apiKey, token))
      : undefined,
  };
}

const WEBHOOK_WORK = {
  stock: "stock webhook",
  order: "order webhook",
  confirm: "confirmation of stock webhooks",
};

/** The one line a webhook delivery (or the sync after it) logs. */
function webhookLogEntry(kind, result) {
  const { notOnSite, duplicateSkus, warehouses, cursor, ...figures } = result;
  return {
    message: `keycrm-stock-sync: ${WEBHOOK_WORK[kind]} ${result.complete ? "applied" : "failed"}`,
    kind,
    ...figures,
    notOnSite: notOnSite?.count ?? 0,
    duplicateSkus: duplicateSkus?.length ?? 0,
  };
}

/** Core options a catch-up leaves out: it syncs the offers of changed orders only. */
function catchUpOptions(sync) {
  const { zeroMissing, offerIds, skus, orderId, maxRequests, ...rest } = sync;
  return rest;
}

/** Where the next catch-up starts, from a complete report that says so. */
function nextCheckOf(report) {
  return report?.complete ? report.nextOrdersUpdatedSince : undefined;
}

/** Whether the core refused the options only because of the stored cursor. */
function cursorRefused(thrown, syncOptions, resumeFrom) {
  if (!resumeFrom || thrown?.code !== "INVALID_CONFIG") return false;
  try {
    validateOptions(syncOptions);
    return true;
  } catch {
    return false;
  }
}

/** The one line a run logs: the report's figures, never the API key. */
function logEntry(result, stillHeld = true) {
  const entry = {
    message: result.ran
      ? "keycrm-stock-sync: run finished"
      : "keycrm-stock-sync: skipped, another invocation holds the lease",
  };
  if (result.ran) {
    const { notOnSite, duplicateSkus, warehouses, ...figures } = result.report;
    Object.assign(entry, figures, {
      notOnSite: notOnSite?.count ?? 0,
      duplicateSkus: duplicateSkus?.length ?? 0,
      resumedFrom: result.resumedFrom,
      cursor: result.cursor,
      subrequests: result.subrequests,
    });
    if (result.catchUp) {
      const { complete, offers, updated, requests, error } = result.catchUp;
      entry.catchUp = { complete, offers, updated, requests, error: error?.code };
      entry.ordersUpdatedSince = result.ordersUpdatedSince;
    }
    if (!stillHeld) {
      entry.message += "; its lease had expired, so its cursor was not saved";
    }
  } else {
    entry.leaseExpiresAt = new Date(result.leaseExpiresAt ?? 0).toISOString();
  }
  return entry;
}

/**
 * A report-shaped record of a run that threw before the core could report, or
 * that the catch-up left no budget to start.
 */
function failureReport(error, durationMs, catchUp) {
  if (error === undefined && catchUp) {
    return {
      complete: false,
      durationMs,
      error: {
        code: "BUDGET_EXHAUSTED",
        message: "the catch-up of changed orders used the invocation's budget; the scan resumes in the next one",
      },
    };
  }
  return {
    complete: false,
    durationMs,
    error: {
      code: error?.code ?? "INTERNAL",
      message: String(error?.message ?? error),
    },
  };
}

/** The D1 sink over the configured table (options left undefined take their defaults). */
function d1SinkOf(config) {
  return createD1Sink({ database: config.database, ...config.sink });
}
