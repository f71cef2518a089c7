// The webhook endpoint: a standard Request → Response handler (native in Workers,
// global in Node ≥ 18) for KeyCRM's stock webhook and order trigger webhook. The
// core validates bodies and decides; this file routes, authenticates, limits the
// body size, and shapes the answers.

import { isSyncError, syncError } from "./errors.js";

const DEFAULT_BASE = "/webhooks/keycrm";
const DEFAULT_MAX_BODY = 1_000_000;
const MIN_TOKEN = 16;

/**
 * @param {{ core: () => any, applyStockWebhook: Function, syncStocks: Function,
 *   createPacing: Function }} api
 */
export function makeCreateWebhookHandler({ core, applyStockWebhook, syncStocks, createPacing }) {
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
      ...syncOptions
    } = options ?? {};
    if (typeof token !== "string" || token.length < MIN_TOKEN) {
      throw syncError(
        "INVALID_CONFIG",
        `token must be a random string of at least ${MIN_TOKEN} characters (KEYCRM_WEBHOOK_TOKEN)`,
      );
    }
    core().validateOptions(syncOptions);
    if (syncOptions.perWarehouse) {
      // Refused up front rather than on every delivery.
      throw syncError(
        "INVALID_CONFIG",
        "the stock webhook sends balances summed over warehouses, so it cannot keep per-warehouse rows; sync those with full scans",
      );
    }
    const report = (kind, result) => onResult?.(kind, result);

    async function stock(body) {
      try {
        const result = await applyStockWebhook({ ...syncOptions, body, sink, maxRows });
        report("stock", result);
        return json(result.complete ? 200 : 500, summary(result));
      } catch (error) {
        return failure(error);
      }
    }

    async function order(body) {
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
      const work = syncStocks({ ...syncOptions, apiKey, sink, pacing, orderId: trigger.orderId })
        .then((result) => report("order", result))
        .catch((error) => report("order", { complete: false, error: shape(error) }));
      if (waitUntil) waitUntil(work);
      return json(202, { accepted: true, event: trigger.event, orderId: trigger.orderId });
    }

    return async function handle(request) {
      const url = new URL(request.url);
      if (url.pathname === "/healthz") {
        return request.method === "GET" ? json(200, { ok: true }) : methodNotAllowed("GET");
      }
      const route = { [`${basePath}/stock`]: stock, [`${basePath}/order`]: order }[url.pathname];
      if (!route) return json(404, { error: { code: "NOT_FOUND", message: "no such endpoint" } });
      if (request.method !== "POST") return methodNotAllowed("POST");
      if (!core().tokenMatches(tokenOf(request, url), token)) {
        // The same answer for a missing and a wrong token.
        return json(401, { error: { code: "UNAUTHORIZED", message: "missing or wrong token" } });
      }
      const body = await readLimited(request, maxBodyBytes);
      if (body === null) {
        return json(413, { error: { code: "BODY_TOO_LARGE", message: `bodies are limited to ${maxBodyBytes} bytes` } });
      }
      return route(body);
    };
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

function failure(error) {
  const status = isSyncError(error) && error.code === "BAD_WEBHOOK" ? 400 : 500;
  return json(status, { error: shape(error) });
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
