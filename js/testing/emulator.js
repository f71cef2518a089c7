// A local HTTP server that answers like KeyCRM's API, for the parts a stock
// sync touches. KeyCRM's quirks are kept on purpose: Laravel's paginator
// envelope without `links`, page URLs that drop every query parameter but
// `page`, `reserve` on /offers/stocks but `in_reserve` on /offers, a per-key
// rate limit answered with 429. Tests can make it fail on demand (injectFault)
// and slow it down (latencyMs).
//
// Its default answers conform to KeyCRM's published API description (checked
// by tests/js/emulator-spec.test.js). Where the description is silent, the
// default is what live answers are believed to carry, and a mode serves the
// other possibility: the description's bare envelope (`envelope: "spec"`),
// rows in an order other than by id (`shuffleSeed`), 429 without any
// rate-limit header (`rateLimitHeaders: false`), figures as decimal strings
// (`figures: "string"`), archived offers left out of the stock list
// (`archivedInStocks: false`).

import { once } from "node:events";
import { createServer, STATUS_CODES } from "node:http";
import { generateCatalogue } from "./catalogue.js";

const BASE_PATH = "/v1";
const RATE_WINDOW_MS = 60_000;
const DEFAULT_LIMIT = 15;
const MAX_LIMIT = 50;
const DEFAULT_UPDATED_AT = "2026-01-01 00:00:00";
const DEFAULT_SOURCE_ID = 1;
// The envelope fields KeyCRM's API description lists; Laravel adds the rest.
const SPEC_ENVELOPE = new Set([
  ...["total", "current_page", "per_page", "data", "first_page_url"],
  ...["last_page_url", "next_page_url"],
]);

const ROUTES = [
  { pattern: /^\/offers\/stocks$/, answer: listStocks },
  { pattern: /^\/offers$/, answer: listOffers },
  { pattern: /^\/order$/, answer: listOrders },
  { pattern: /^\/order\/([^/]+)$/, answer: showOrder },
];

/** Starts the emulator and resolves once it listens. */
export async function startEmulator(options = {}) {
  const { apiKey = "test-api-key", host = "127.0.0.1", port = 0 } = options;
  const mode = readMode(options);
  const clock = options.clock ?? Date.now;
  let rateLimitPerMinute =
    options.rateLimitPerMinute === undefined ? 60 : options.rateLimitPerMinute;
  let latencyMs = options.latencyMs ?? 0;
  const arrivalsByKey = new Map(); // key → arrival times (ms) of admitted ones
  const faults = []; // { fault, remaining }, consumed front to back
  const timers = new Set(); // delayed answers, cancelled by close()
  const requests = [];

  const emulator = {
    url: "",
    mode,
    offers: options.offers ?? generateCatalogue(),
    orders: options.orders ?? [],
    requests,
    counts,
    injectFault,
    clearFaults,
    setRateLimit,
    setLatency,
    reset,
    close,
  };

  const server = createServer((req, res) => {
    // Split by hand: `new URL` would read a target like "//x/y" as a host name.
    const [pathname, search = ""] = (req.url ?? "/").split(/\?(.*)/s);
    const entry = {
      method: req.method ?? "GET",
      path: pathname,
      query: Object.fromEntries(new URLSearchParams(search)),
      status: null,
      startedAt: clock(),
    };
    requests.push(entry);
    try {
      handle(req, res, entry);
    } catch {
      // A bug in the emulator must look like a server error, not a hang.
      reply(res, entry, 500, json({ message: "Server Error" }));
    }
  });

  function handle(req, res, entry) {
    const { path: pathname, query, startedAt: arrivedAt } = entry;

    const match = matchRoute(pathname);
    if (!match) return reply(res, entry, 404, json({ message: "Not found" }));
    if (req.method !== "GET" && req.method !== "HEAD") {
      const message = `The ${req.method} method is not supported for this route.`;
      return reply(res, entry, 405, json({ message }), { Allow: "GET, HEAD" });
    }

    const key = bearerToken(req.headers.authorization);
    if (key !== apiKey) {
      return reply(res, entry, 401, json({ message: "Unauthenticated." }));
    }

    const { admitted, headers } = admit(key, arrivedAt);
    if (!admitted) {
      const body = json({ message: "Too Many Attempts." });
      return reply(res, entry, 429, body, headers);
    }

    // Faults come after the rate limiter, like failures behind KeyCRM's front
    // door: a faulted request has used up a slot of the window, and a request
    // refused with 429 never consumes a fault.
    const fault = takeFault(match.path, resolvePage(query.page));
    const delayMs = fault?.delayMs ?? 0;
    if (fault?.dropConnection) {
      return later(delayMs, () => {
        entry.status = 0;
        req.socket.destroy();
      });
    }
    if (fault && (fault.status != null || fault.body != null)) {
      // A faulted answer carries only what the fault asks for, so tests control
      // the exact headers (e.g. a 429 without Retry-After).
      const status = fault.status ?? 200;
      const body = fault.body ?? json({ message: faultMessage(status) });
      const { retryAfter } = fault;
      const only =
        retryAfter === undefined ? {} : { "Retry-After": retryAfter };
      return reply(res, entry, status, body, only, delayMs);
    }

    const { params } = match;
    const answer = match.route.answer({ query, params, emulator });
    reply(res, entry, answer.status, json(answer.body), headers, delayMs);
  }

  // Sliding window, per key. Refused requests are not recorded: Laravel's
  // limiter only counts hits it lets through, so a client hammering through
  // 429s does not extend its own ban.
  function admit(key, now) {
    const limit = rateLimitPerMinute;
    if (!limit) return { admitted: true, headers: {} };
    const withHeaders = mode.rateLimitHeaders;
    const arrivals = arrivalsByKey.get(key) ?? [];
    arrivalsByKey.set(key, arrivals);
    while (arrivals[0] <= now - RATE_WINDOW_MS) arrivals.shift();
    if (arrivals.length >= limit) {
      // When the next slot frees; not simply the oldest arrival, because the
      // limit may have been lowered below the window's size.
      const freesAt = arrivals[arrivals.length - limit] + RATE_WINDOW_MS;
      const retryAfter = Math.max(1, Math.ceil((freesAt - now) / 1000));
      const headers = withHeaders
        ? { "Retry-After": retryAfter, ...limitHeaders(limit, 0) }
        : {};
      return { admitted: false, headers };
    }
    arrivals.push(now);
    const headers = withHeaders
      ? limitHeaders(limit, limit - arrivals.length)
      : {};
    return { admitted: true, headers };
  }

  function takeFault(path, page) {
    const index = faults.findIndex(
      ({ fault }) =>
        (fault.path == null || path.startsWith(fault.path)) &&
        (fault.page == null || fault.page === page),
    );
    if (index === -1) return null;
    const queued = faults[index];
    queued.remaining -= 1;
    if (queued.remaining <= 0) faults.splice(index, 1);
    return queued.fault;
  }

  function reply(res, entry, status, body, headers = {}, extraDelayMs = 0) {
    later(extraDelayMs + sampleLatency(latencyMs), () => {
      if (res.destroyed || res.writableEnded) return;
      entry.status = status;
      res.writeHead(status, {
        "Content-Type": "application/json",
        "Content-Length": Buffer.byteLength(body),
        ...headers,
      });
      res.end(body);
    });
  }

  function later(delayMs, action) {
    if (delayMs <= 0) return action();
    const timer = setTimeout(() => {
      timers.delete(timer);
      action();
    }, delayMs);
    timers.add(timer);
  }

  function counts() {
    const byStatus = {};
    const byPath = {};
    for (const { status, path } of requests) {
      if (status !== null) byStatus[status] = (byStatus[status] ?? 0) + 1;
      byPath[path] = (byPath[path] ?? 0) + 1;
    }
    return { total: requests.length, byStatus, byPath };
  }

  function injectFault(fault) {
    const { status, count = 1, path = "/offers/stocks", page = null } = fault;
    if (status != null && !(status >= 100 && status <= 599)) {
      throw new TypeError(`injectFault: ${status} is not an HTTP status`);
    }
    if (!(count >= 1)) throw new TypeError("injectFault: count must be ≥ 1");
    faults.push({ fault: { ...fault, path, page }, remaining: count });
  }

  function clearFaults() {
    faults.length = 0;
  }

  function setRateLimit(perMinute) {
    rateLimitPerMinute = perMinute;
  }

  function setLatency(ms) {
    latencyMs = ms;
  }

  function reset() {
    requests.length = 0; // in place: callers may hold the array
    arrivalsByKey.clear();
  }

  function close() {
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
    return new Promise((resolve, reject) => {
      server.close((error) => (error ? reject(error) : resolve()));
      // Open sockets (keep-alive, delayed answers) would hold the process.
      server.closeAllConnections();
    });
  }

  server.listen(port, host);
  await once(server, "listening"); // rejects on "error", e.g. port in use
  const address = server.address();
  const urlHost =
    address.family === "IPv6" ? `[${address.address}]` : address.address;
  emulator.url = `http://${urlHost}:${address.port}${BASE_PATH}`;
  return emulator;
}

function listStocks({ query, emulator }) {
  const { mode } = emulator;
  const details = isTrue(query["filter[details]"]);
  const rows = selectOffers(emulator.offers, mode, {
    ids: listFilter(query["filter[offers_id]"]),
    skus: listFilter(query["filter[offers_sku]"]),
    archived: mode.archivedInStocks ? null : false,
  });
  const path = `${emulator.url}/offers/stocks`;
  return paginate(rows, query, path, mode, (offer) =>
    stockRow(offer, details, mode),
  );
}

function stockRow(offer, details, mode) {
  const row = {
    id: offer.id,
    sku: offer.sku ?? null,
    price: money(offer.price ?? 0, mode),
    purchased_price: money(offer.purchased_price ?? 0, mode),
    quantity: figure(offer.quantity ?? 0, mode),
    reserve: figure(offer.reserve ?? 0, mode),
  };
  if (!details) return row;
  const warehouse = (offer.warehouse ?? []).map((w) => ({
    id: w.id,
    name: w.name,
    quantity: figure(w.quantity, mode),
    reserve: figure(w.reserve, mode),
  }));
  return { ...row, warehouse };
}

function listOffers({ query, emulator }) {
  const { mode } = emulator;
  const archived = query["filter[is_archived]"];
  const rows = selectOffers(emulator.offers, mode, {
    ids: listFilter(query["filter[id]"]),
    skus: listFilter(query["filter[sku]"]),
    productIds: listFilter(query["filter[product_id]"]),
    archived: archived === undefined || archived === "" ? null : isTrue(archived),
    sort: query.sort,
  });
  const path = `${emulator.url}/offers`;
  const withProduct = includesOf(query).has("product");
  return paginate(rows, query, path, mode, (offer) => {
    const row = offerRow(offer, mode);
    return withProduct ? { ...row, product: productOf(offer) } : row;
  });
}

// The associations `include` asks for, comma-separated.
function includesOf(query) {
  return new Set((query.include ?? "").split(",").map((name) => name.trim()));
}

// The offer's product, as `include=product` attaches it: its id and name.
function productOf(offer) {
  const id = productIdOf(offer);
  return { id, name: offer.product_name ?? `Товар ${id}` };
}

function offerRow(offer, mode) {
  return {
    id: offer.id,
    product_id: productIdOf(offer),
    sku: offer.sku ?? null,
    // The description types it as a string; an offer without one gets "".
    barcode: offer.barcode ?? "",
    price: money(offer.price ?? 0, mode),
    quantity: figure(offer.quantity ?? 0, mode),
    in_reserve: figure(offer.reserve ?? 0, mode),
    is_archived: offer.is_archived ?? false,
    updated_at: offer.updated_at ?? DEFAULT_UPDATED_AT,
  };
}

// Catalogue offers have no product of their own: one product per offer.
function productIdOf(offer) {
  return offer.product_id ?? offer.id;
}

// Offers in the mode's order, narrowed by comma-separated id, SKU and product
// id filters and by the archive flag (`null` keeps both kinds). `sort` is
// /offers' own: `id` or `-id`.
function selectOffers(offers, mode, filters) {
  const { ids = null, skus = null, productIds = null, archived = null } =
    filters;
  let ordered = inServedOrder(offers, mode.shuffleSeed);
  if (filters.sort === "id" || filters.sort === "-id") {
    ordered = [...offers].sort((a, b) => a.id - b.id);
    if (filters.sort === "-id") ordered.reverse();
  }
  const unfiltered =
    ids === null && skus === null && productIds === null && archived === null;
  // No copy for a plain scan: benchmarks page through 100 000-offer catalogues.
  if (unfiltered) return ordered;
  return ordered.filter(
    (offer) =>
      (ids === null || ids.has(String(offer.id))) &&
      (skus === null || skus.has(offer.sku)) &&
      (productIds === null || productIds.has(String(productIdOf(offer)))) &&
      (archived === null || (offer.is_archived ?? false) === archived),
  );
}

function showOrder({ query, params, emulator }) {
  const found = emulator.orders.find(
    (candidate) => String(candidate.id) === params[0],
  );
  if (!found) return { status: 404, body: { message: "Not found" } };
  return { status: 200, body: orderBody(found, query, emulator) };
}

// GET /order: the orders by id (`sort=-id` reverses), narrowed by
// `filter[updated_between]=<from>,<to>` (UTC, `YYYY-MM-DD HH:MM:SS` or a bare
// date, both ends included; split on the comma after decoding, as Laravel
// does), paginated, each served as /order/{id} serves it.
function listOrders({ query, emulator }) {
  const window = updatedWindow(query["filter[updated_between]"]);
  if (typeof window === "string") {
    return {
      status: 422,
      body: { message: window, errors: { "filter.updated_between": [window] } },
    };
  }
  let rows = [...emulator.orders].sort((a, b) => a.id - b.id);
  if (query.sort === "-id") rows.reverse();
  if (window) {
    rows = rows.filter((order) => {
      const at = utcMs(order.updated_at ?? DEFAULT_UPDATED_AT, false);
      return at >= window.from && at <= window.to;
    });
  }
  const path = `${emulator.url}/order`;
  return paginate(rows, query, path, emulator.mode, (order) =>
    orderBody(order, query, emulator),
  );
}

// `{from, to}` in Unix ms, null without a filter, or the validation message.
function updatedWindow(raw) {
  if (raw === undefined || raw.trim() === "") return null;
  const ends = raw.split(",").map((end) => end.trim());
  const message = "The updated_between filter takes two dates: from,to.";
  if (ends.length !== 2) return message;
  const from = utcMs(ends[0], false);
  const to = utcMs(ends[1], true);
  return Number.isNaN(from) || Number.isNaN(to) ? message : { from, to };
}

// A KeyCRM UTC time (`YYYY-MM-DD HH:MM:SS`) in Unix ms; a bare date is the
// start of its day, or its last second for the end of a range.
function utcMs(text, endOfDay) {
  const found = /^(\d{4}-\d{2}-\d{2})(?: (\d{2}:\d{2}:\d{2}))?$/.exec(text);
  if (!found) return Number.NaN;
  const time = found[2] ?? (endOfDay ? "23:59:59" : "00:00:00");
  return Date.parse(`${found[1]}T${time}Z`);
}

// An order as the API serves it, with its lines (and their offers) when
// `include` asks for them.
function orderBody(found, query, emulator) {
  const includes = new Set(
    (query.include ?? "").split(",").map((name) => name.trim()),
  );
  // The description makes `source_id` required: fixtures may leave it out.
  const { id, source_id = DEFAULT_SOURCE_ID, ...others } = found;
  const { products, ...rest } = { id, source_id, ...others };
  if (!includes.has("products") && !includes.has("products.offer")) {
    return rest;
  }
  const lines = (products ?? []).map(({ offer, ...line }) => {
    if (!includes.has("products.offer")) return line;
    return {
      ...line,
      offer: offer ?? offerById(emulator.offers, line.offer_id),
    };
  });
  return { ...rest, products: lines };
}

function offerById(offers, id) {
  const offer = offers.find((candidate) => candidate.id === id);
  return offer ? { id: offer.id, sku: offer.sku ?? null } : null;
}

// Laravel's LengthAwarePaginator, field for field and in its key order. Its
// page URLs carry only `page`: a client following next_page_url loses its
// limit and filters. Only the page's rows go through `toRow`, which keeps big
// catalogues cheap.
function paginate(rows, query, path, mode, toRow) {
  const perPage = resolveLimit(query.limit);
  if (typeof perPage === "string") {
    return {
      status: 422,
      body: { message: perPage, errors: { limit: [perPage] } },
    };
  }
  const page = resolvePage(query.page);
  const lastPage = Math.max(1, Math.ceil(rows.length / perPage));
  const start = (page - 1) * perPage;
  const data = rows.slice(start, start + perPage).map(toRow);
  const pageUrl = (n) => `${path}?page=${n}`;
  const body = {
    current_page: page,
    data,
    first_page_url: pageUrl(1),
    from: data.length > 0 ? start + 1 : null,
    last_page: lastPage,
    last_page_url: pageUrl(lastPage),
    next_page_url: page < lastPage ? pageUrl(page + 1) : null,
    path,
    per_page: perPage,
    prev_page_url: page > 1 ? pageUrl(page - 1) : null,
    to: data.length > 0 ? start + data.length : null,
    total: rows.length,
  };
  if (mode.envelope === "spec") {
    for (const key of Object.keys(body)) {
      if (!SPEC_ENVELOPE.has(key)) delete body[key];
    }
  }
  return { status: 200, body };
}

// The page size, or the validation message when the value is refused.
function resolveLimit(raw) {
  if (raw === undefined || raw === "") return DEFAULT_LIMIT;
  if (!/^[+-]?\d+$/.test(raw)) return "The limit must be an integer.";
  const limit = Number(raw);
  if (limit < 1) return "The limit must be at least 1.";
  return Math.min(limit, MAX_LIMIT);
}

// Laravel falls back to page 1 for anything that is not an integer ≥ 1.
function resolvePage(raw) {
  if (raw === undefined || !/^\+?\d+$/.test(raw)) return 1;
  const page = Number(raw);
  return page >= 1 && Number.isSafeInteger(page) ? page : 1;
}

// A comma-separated filter, split as Laravel splits it: after the query is
// decoded, so `a%2Cb` is the two values `a` and `b` (a SKU holding a comma
// cannot be filtered on).
function listFilter(raw) {
  if (raw === undefined || raw.trim() === "") return null;
  return new Set(raw.split(",").map((value) => value.trim()));
}

function isTrue(raw) {
  return raw === "true" || raw === "1";
}

// Sorted per request: tests push and splice the live array between pages.
function inServedOrder(offers, shuffleSeed) {
  if (shuffleSeed == null) return sortedById(offers);
  // A fixed permutation: each id's place depends on the seed and the id only,
  // so every request (and every page of a scan) sees the same order, and an
  // offer added or removed leaves the others in their places.
  const rank = (offer) => mix32(shuffleSeed, offer.id);
  return [...offers].sort((a, b) => rank(a) - rank(b) || a.id - b.id);
}

function sortedById(offers) {
  for (let i = 1; i < offers.length; i += 1) {
    if (offers[i - 1].id > offers[i].id) {
      return [...offers].sort((a, b) => a.id - b.id);
    }
  }
  return offers;
}

// A 32-bit hash of (seed, id), well spread (murmur3's finaliser).
function mix32(seed, id) {
  let h = (Math.imul(seed >>> 0, 0x9e3779b1) ^ id) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

// Stock figures as the mode serves them: JSON numbers, or the decimal strings
// a Laravel `decimal:3` cast gives ("12.000"). A value with more decimals than
// the cast keeps is served in full, so the string never changes the figure.
function figure(value, mode) {
  return mode.figures === "string" ? decimalString(value, 3) : value;
}

function money(value, mode) {
  return mode.figures === "string" ? decimalString(value, 2) : value;
}

function decimalString(value, decimals) {
  const fixed = value.toFixed(decimals);
  return Number(fixed) === value ? fixed : String(value);
}

// The answer modes, checked once so that a typo fails at start, not as a
// silently different emulator.
function readMode(options) {
  const {
    envelope = "laravel",
    shuffleSeed = null,
    rateLimitHeaders = true,
    figures = "number",
    archivedInStocks = true,
  } = options;
  if (envelope !== "laravel" && envelope !== "spec") {
    throw new TypeError(`startEmulator: envelope must be "laravel" or "spec"`);
  }
  if (shuffleSeed !== null && !Number.isSafeInteger(shuffleSeed)) {
    throw new TypeError("startEmulator: shuffleSeed must be an integer or null");
  }
  if (figures !== "number" && figures !== "string") {
    throw new TypeError(`startEmulator: figures must be "number" or "string"`);
  }
  if (typeof rateLimitHeaders !== "boolean") {
    throw new TypeError("startEmulator: rateLimitHeaders must be a boolean");
  }
  if (typeof archivedInStocks !== "boolean") {
    throw new TypeError("startEmulator: archivedInStocks must be a boolean");
  }
  return Object.freeze({
    envelope,
    shuffleSeed,
    rateLimitHeaders,
    figures,
    archivedInStocks,
  });
}

function matchRoute(pathname) {
  if (!pathname.startsWith(`${BASE_PATH}/`)) return null;
  const path = pathname.slice(BASE_PATH.length);
  for (const route of ROUTES) {
    const found = route.pattern.exec(path);
    if (found) return { route, path, params: found.slice(1) };
  }
  return null;
}

function bearerToken(header) {
  const found = /^Bearer\s+(.+)$/i.exec(header ?? "");
  return found ? found[1].trim() : null;
}

function sampleLatency(latency) {
  if (Array.isArray(latency)) {
    const [min, max] = latency;
    return min + Math.random() * (max - min);
  }
  return latency ?? 0;
}

function limitHeaders(limit, remaining) {
  return { "X-RateLimit-Limit": limit, "X-RateLimit-Remaining": remaining };
}

function faultMessage(status) {
  if (status === 429) return "Too Many Attempts.";
  if (status >= 500) return "Server Error";
  return STATUS_CODES[status] ?? "Error";
}

// Laravel's JsonResponse escapes "/" and all non-ASCII (PHP's json_encode
// defaults): real pages read `https:\/\/…` and `\u041e…`. Served the same way
// so that code scanning raw text instead of parsing JSON fails in tests, not on
// the site. "/" and non-ASCII occur only inside JSON strings, so the global
// replaces are safe.
function json(value) {
  return JSON.stringify(value)
    .replace(/\//g, "\\/")
    .replace(
      /[\u0080-\uffff]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
    );
}
