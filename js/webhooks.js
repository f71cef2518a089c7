// The webhook endpoint: a standard Request → Response handler (native in Workers,
// global in Node ≥ 18) for KeyCRM's stock webhook and order trigger webhook. The
// core validates bodies and decides; this file routes, authenticates, limits the
// body size, and shapes the answers.

import { isSyncError, syncError } from "./errors.js";
import { corePacing } from "./pacing.js";

const DEFAULT_BASE = "/webhooks/keycrm";
const DEFAULT_MAX_BODY = 1_000_000;
const MIN_TOKEN = 16;
/** Most offers one confirmation reads (20 requests); a larger burst is left to the full sync. */
const MAX_CONFIRMED_OFFERS = 1000;
/** Longest a delivery is handled, body read included, before it is answered 408 or 503 (ms). */
const DEFAULT_HANDLER_TIMEOUT_MS = 20_000;
/** What a 503 asks the sender to wait before trying again (s). */
export const RETRY_AFTER_SECONDS = 30;
/** Deliveries past their timeout and still waiting for the database: more get 503 at once. */
const MAX_OVERDUE_DELIVERIES = 8;
/** Codes of a database that failed or did not answer in time: the sender should try again later. */
const DATABASE_CODES = new Set(["SINK_FAILED", "SINK_TIMEOUT"]);
/** The confirmation delay `serve` and the Worker use unless told otherwise (ms). */
export const RECOMMENDED_CONFIRM_AFTER_MS = 10_000;

/**
 * @param {{ core: () => any, applyStockDelivery: Function, syncStocks: Function,
 *   createPacing: Function }} api
 */
export function makeCreateWebhookHandler({ core, applyStockDelivery, syncStocks, createPacing }) {
  return function createWebhookHandler(options) {
    const {
      token,
      sink,
      apiKey,
      basePath = DEFAULT_BASE,
      maxBodyBytes = DEFAULT_MAX_BODY,
      maxRows,
      waitUntil,
      onResult,
      // The order syncs of one handler keep to the rate limit together; share
      // this with the process's full syncs too.
      pacing = createPacing(),
      confirmAfterMs = 0,
      handlerTimeoutMs = DEFAULT_HANDLER_TIMEOUT_MS,
      signal,
      ...syncOptions
    } = options ?? {};
    if (typeof basePath !== "string" || !/^(\/[^/?#]+)*$/.test(basePath)) {
      throw syncError(
        "INVALID_CONFIG",
        'basePath must be "" or a path like "/webhooks/keycrm": a leading slash, no trailing one, no query',
      );
    }
    if (typeof token !== "string" || token.length < MIN_TOKEN) {
      throw syncError(
        "INVALID_CONFIG",
        `token must be a random string of at least ${MIN_TOKEN} characters (KEYCRM_WEBHOOK_TOKEN)`,
      );
    }
    // Refused up front rather than on every delivery.
    core().validateStockWebhookOptions(syncOptions);
    corePacing(pacing);
    if (!(Number.isFinite(confirmAfterMs) && confirmAfterMs >= 0)) {
      throw syncError("INVALID_CONFIG", "confirmAfterMs must be a number of ms ≥ 0 (0: no confirmation)");
    }
    if (confirmAfterMs > 0 && (typeof apiKey !== "string" || apiKey.trim() === "")) {
      throw syncError("INVALID_CONFIG", "confirmAfterMs needs apiKey: a confirmation reads the offers' stock from KeyCRM");
    }
    if (!(Number.isFinite(handlerTimeoutMs) && handlerTimeoutMs > 0)) {
      throw syncError("INVALID_CONFIG", "handlerTimeoutMs must be a number of ms > 0");
    }
    const report = (kind, result) => onResult?.(kind, result);
    /** Syncs offers from KeyCRM in the background; reports under `kind`. */
    const syncLater = (kind, extra) =>
      syncStocks({ ...syncOptions, apiKey, sink, pacing, ...extra })
        .then((result) => report(kind, result))
        .catch((error) => report(kind, { complete: false, error: shape(error) }));
    const confirmations =
      confirmAfterMs > 0
        ? confirmationQueue(confirmAfterMs, signal, (offerIds) => syncLater("confirm", { offerIds }))
        : null;

    let overdue = 0;

    async function stock(body, keepAlive) {
      try {
        const { report: result, offerIds } = await applyStockDelivery({
          ...syncOptions,
          body,
          sink,
          maxRows,
        });
        report("stock", result);
        if (confirmations && result.complete) {
          const confirmed = confirmations.add(offerIds);
          keepAlive?.(confirmed);
        }
        if (result.complete) return json(200, summary(result));
        return DATABASE_CODES.has(result.error?.code) ? unavailable(summary(result)) : json(500, summary(result));
      } catch (error) {
        return failure(error);
      }
    }

    async function order(body, keepAlive) {
      let trigger;
      try {
        trigger = core().parseTriggerWebhook(body);
      } catch (error) {
        return failure(error);
      }
      if (trigger.orderId === undefined) {
        return json(202, { accepted: false, ignored: trigger.event });
      }
      // KeyCRM waits for the answer; the order's stock may take several paced
      // requests, so it is fetched after replying.
      const work = syncLater("order", { orderId: trigger.orderId });
      keepAlive?.(work);
      return json(202, { accepted: true, event: trigger.event, orderId: trigger.orderId });
    }

    /**
     * @param {Request} request
     * @param {{ waitUntil?(work: Promise<unknown>): void }} [context] a Worker's
     *   `ctx`: its waitUntil keeps this request's work alive, over the option's
     */
    return async function handle(request, context) {
      const keepAlive = context?.waitUntil
        ? (work) => context.waitUntil(work)
        : waitUntil;
      const url = new URL(request.url);
      if (url.pathname === `${basePath}/healthz`) {
        return request.method === "GET" ? json(200, { ok: true }) : methodNotAllowed("GET");
      }
      const route = { [`${basePath}/stock`]: stock, [`${basePath}/order`]: order }[url.pathname];
      if (!route) return json(404, { error: { code: "NOT_FOUND", message: "no such endpoint" } });
      if (request.method !== "POST") return methodNotAllowed("POST");
      if (!core().tokenMatches(tokenOf(request, url), token)) {
        // The same answer for a missing and a wrong token.
        return json(401, { error: { code: "UNAUTHORIZED", message: "missing or wrong token" } });
      }
      if (request.bodyUsed) {
        // Reading it would throw; waiting on it would never end.
        return json(500, {
          error: {
            code: "BODY_ALREADY_READ",
            message:
              "the request's body was already read (by a body parser before this handler): pass a Request with its body unread, e.g. new Request(request, { body: bytesTheParserKept })",
          },
        });
      }
      if (route === stock && overdue >= MAX_OVERDUE_DELIVERIES) {
        return databaseTimeout(`${overdue} earlier deliveries are still waiting for the site database`);
      }
      // Everything from here is bounded: a body that stops coming, a database
      // call that never settles.
      const deadline = timeLimit(handlerTimeoutMs);
      try {
        const body = await Promise.race([readLimited(request, maxBodyBytes), deadline.expired]);
        if (body === TIMED_OUT) {
          return json(408, { error: { code: "REQUEST_TIMEOUT", message: `the body did not arrive within ${handlerTimeoutMs} ms` } });
        }
        if (body === null) {
          return json(413, { error: { code: "BODY_TOO_LARGE", message: `bodies are limited to ${maxBodyBytes} bytes` } });
        }
        const work = route(body, keepAlive);
        const answer = await Promise.race([work, deadline.expired]);
        if (answer !== TIMED_OUT) return answer;
        overdue += 1;
        work.finally(() => (overdue -= 1));
        return databaseTimeout(`the site database did not answer within ${handlerTimeoutMs} ms`);
      } finally {
        deadline.clear();
      }
    };
  };
}

/**
 * Offers whose webhook figures are read again from KeyCRM `delayMs` after the
 * first of them arrived, in one sync: KeyCRM's webhooks carry no event time, so
 * two deliveries that arrive out of order leave the older figure, and only a
 * read made after both can put the newer one back. Deliveries within one delay
 * share the read. Once `signal` aborts, nothing more is read.
 */
function confirmationQueue(delayMs, signal, confirm) {
  let pending = new Set();
  let due = null;
  return {
    /** Queues offer ids; resolves when their confirmation has run. */
    add(offerIds) {
      if (signal?.aborted) return Promise.resolve();
      for (const id of offerIds) {
        if (pending.size >= MAX_CONFIRMED_OFFERS) break;
        pending.add(id);
      }
      due ??= new Promise((resolve) => {
        const stop = () => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          signal?.removeEventListener("abort", stop);
          resolve();
        }, delayMs);
        signal?.addEventListener("abort", stop, { once: true });
      }).then(() => {
        const offerIds = [...pending];
        pending = new Set();
        due = null;
        if (signal?.aborted || offerIds.length === 0) return undefined;
        return confirm(offerIds);
      });
      return due;
    },
  };
}

/** The token from `?token=`, an `X-Webhook-Token` header, or `Authorization: Bearer`. */
function tokenOf(request, url) {
  const bearer = request.headers.get("authorization")?.match(/^Bearer\s+(.+)$/i)?.[1];
  return url.searchParams.get("token") ?? request.headers.get("x-webhook-token") ?? bearer ?? "";
}

/** The body as text, or null once it passes `limit` bytes (read no further). */
async function readLimited(request, limit) {
  const declared = Number(request.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > limit) return null;
  if (!request.body) return "";
  const reader = request.body.getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}

const TIMED_OUT = Symbol("timed out");

/** `expired` resolves to TIMED_OUT after `ms`, unless cleared first. */
function timeLimit(ms) {
  let timer;
  const expired = new Promise((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), ms);
  });
  return { expired, clear: () => clearTimeout(timer) };
}

function failure(error) {
  if (isSyncError(error) && DATABASE_CODES.has(error.code)) return unavailable({ error: shape(error) });
  const status = isSyncError(error) && error.code === "BAD_WEBHOOK" ? 400 : 500;
  return json(status, { error: shape(error) });
}

/** 503 with Retry-After: the site database failed or is stuck; the delivery may be sent again. */
function unavailable(body) {
  return json(503, body, { "retry-after": String(RETRY_AFTER_SECONDS) });
}

function databaseTimeout(message) {
  return unavailable({ error: { code: "SINK_TIMEOUT", message } });
}

function shape(error) {
  return isSyncError(error)
    ? { code: error.code, message: error.message }
    : { code: "INTERNAL", message: String(error?.message ?? error) };
}

function summary(result) {
  const { complete, updated, unchanged, notOnSite, withoutSku, duplicateSkus, error } = result;
  return { complete, updated, unchanged, notOnSite: notOnSite.count, withoutSku, duplicateSkus, error };
}

function methodNotAllowed(allow) {
  return json(405, { error: { code: "METHOD_NOT_ALLOWED", message: `use ${allow}` } }, { allow });
}

function json(status, body, headers = {}) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}
