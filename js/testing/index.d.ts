// `keycrm-stock-sync/testing`: a local KeyCRM emulator and the catalogue it serves.

/** A KeyCRM warehouse as it appears in stock rows. */
export interface Warehouse {
  /** Warehouse id. */
  id: number;
  /** Warehouse name as typed in KeyCRM's settings. */
  name: string;
}

/** One warehouse's stock of one offer (`warehouse[]` of a detailed stock row). */
export interface WarehouseStock extends Warehouse {
  /** Units in this warehouse; fractional for goods sold by weight or length. */
  quantity: number;
  /** Units reserved by orders in this warehouse; may exceed `quantity`. */
  reserve: number;
}

/**
 * An offer (a product variant) as the emulator stores it. The emulator serves the
 * top-level `quantity`/`reserve` as stored: when a test changes warehouse figures it
 * must update the totals too (they are meant to equal the sums over `warehouse`).
 */
export interface CatalogueOffer {
  /** Offer (variant) id; the emulator lists offers by ascending id (unless `shuffleSeed` is set). */
  id: number;
  /** Variant SKU; `null` or `""` when the offer has none. */
  sku: string | null;
  /** Selling price, in the account's currency. */
  price: number;
  /** Purchase price, in the account's currency. */
  purchased_price: number;
  /** Total units over all warehouses. */
  quantity: number;
  /** Total reserved units over all warehouses. */
  reserve: number;
  /** Stock per warehouse; generated offers list every warehouse, with zeros where none. */
  warehouse: WarehouseStock[];
  /** Product id on `/offers`. Default: the offer's `id`. */
  product_id?: number;
  /** The product's `name` on `/offers?include=product`. Default: `"Товар <product_id>"`. */
  product_name?: string;
  /** Barcode on `/offers`. Default: `""` (KeyCRM's description types it as a string). */
  barcode?: string;
  /** Archive flag on `/offers` (and its `filter[is_archived]`); archived offers leave `/offers/stocks` only with `archivedInStocks: false`. Default: `false`. */
  is_archived?: boolean;
  /** `updated_at` on `/offers`, UTC `YYYY-MM-DD hh:mm:ss`. Default: `"2026-01-01 00:00:00"`. */
  updated_at?: string;
}

/** Options of {@link generateCatalogue}; every interval counts offers from 1, 0 turns it off. */
export interface CatalogueOptions {
  /** Number of offers. Default: `2000`. */
  offers?: number;
  /** Warehouses every offer lists. Default: `[{ id: 1, name: "Основний" }, { id: 2, name: "Київ" }]`. */
  warehouses?: ReadonlyArray<Warehouse>;
  /** PRNG seed; the same seed and options give the same catalogue. Default: `1`. */
  seed?: number;
  /** Every Nth offer has no SKU, alternately `null` and `""`. Default: `97`. */
  withoutSkuEvery?: number;
  /** Every Nth offer repeats an earlier SKU: alternately the previous offer's, and one 60 offers back (always on an earlier page). Default: `211`. */
  duplicateSkuEvery?: number;
  /** Every Nth offer has fractional quantity and reserve (sold by weight). Default: `53`. */
  fractionalEvery?: number;
  /** Id of the first offer; ids then rise by 1. Default: `1`. */
  firstId?: number;
}

/** Options of {@link expectedAvailability}, mirroring the sync's own. */
export interface AvailabilityOptions {
  /** Count reserved units as available (Σ quantity instead of Σ quantity − Σ reserve). Default: `false`. */
  keepReserve?: boolean;
  /** Keep fractional availability instead of flooring to whole units. Default: `false`. */
  fractional?: boolean;
  /** Warehouses to sum: ids (numbers) and/or names (strings); `null` or `[]` means all. Default: `null`. */
  warehouses?: ReadonlyArray<number | string> | null;
}

/**
 * Builds a deterministic catalogue with SKU-less offers, duplicate SKUs and
 * fractional stock mixed in at the intervals above; besides, every 19th offer has
 * no stock, every 23rd reserves more than its first warehouse holds, and every
 * 29th whole-unit offer is fully reserved. Returns a fresh, mutable array.
 */
export function generateCatalogue(options?: CatalogueOptions): CatalogueOffer[];

/** The fields of an offer that availability depends on. */
export type AvailabilityInput = Pick<
  CatalogueOffer,
  "sku" | "quantity" | "reserve"
> & {
  /** Stock per warehouse; needed only when `warehouses` selects some. */
  warehouse?: ReadonlyArray<WarehouseStock>;
};

/**
 * What a correct sync writes for `offers`: available units per SKU, clamped at 0,
 * floored unless `fractional` (after rounding to 6 decimals). Skips offers without a
 * SKU; a SKU carried by more than one offer gets the smallest availability among them.
 */
export function expectedAvailability(
  offers: ReadonlyArray<AvailabilityInput>,
  options?: AvailabilityOptions,
): Map<string, number>;

/** The offer attached to an order line with `include=products.offer`. */
export interface EmulatorOrderOffer {
  /** Offer (variant) id. */
  id: number;
  /** Offer SKU; `null` or `""` when none. */
  sku: string | null;
  /** Any further fields are served as given. */
  [field: string]: unknown;
}

/** One line of an order. */
export interface EmulatorOrderLine {
  /** SKU as written on the order line. */
  sku: string | null;
  /** Units ordered; fractional for goods sold by weight. */
  quantity: number;
  /** Served with `include=products.offer`. Default: looked up from `offer_id` in the live offers. */
  offer?: EmulatorOrderOffer;
  /** Offer id used to find `offer` when it is not given. */
  offer_id?: number;
  /** Any further fields are served as given. */
  [field: string]: unknown;
}

/** An order served by `GET /v1/order/{id}`. */
export interface EmulatorOrder {
  /** Order id. */
  id: number;
  /** Source id, required by KeyCRM's description. Default: `1`. */
  source_id?: number;
  /** Order status id. */
  status_id?: number;
  /** Lines; served only with `include=products` or `include=products.offer`. */
  products?: EmulatorOrderLine[];
  /** Any further fields are served as given. */
  [field: string]: unknown;
}

/** Delay in milliseconds, or `[min, max]` milliseconds for a uniformly random delay. */
export type Latency = number | [min: number, max: number];

/** Options of {@link startEmulator}. */
export interface EmulatorOptions {
  /** The only key accepted in `Authorization: Bearer <key>`. Default: `"test-api-key"`. */
  apiKey?: string;
  /** Offers served; the array is used live, not copied. Default: `generateCatalogue()`. */
  offers?: CatalogueOffer[];
  /** Orders served by `/order/{id}`; used live. Default: `[]`. */
  orders?: EmulatorOrder[];
  /** Requests per sliding 60 s window per key; `0` or `null` disables the limit. Default: `60`. */
  rateLimitPerMinute?: number | null;
  /** Interface to listen on; keep it loopback. Default: `"127.0.0.1"`. */
  host?: string;
  /** TCP port; `0` picks a free one. Default: `0`. */
  port?: number;
  /** Delay added to every answer, in ms. Default: `0`. */
  latencyMs?: Latency;
  /**
   * Paginator envelope of the lists. `"laravel"`: Laravel's full envelope, with
   * `last_page`, `from`, `to`, `path` and `prev_page_url`, as live answers carry it.
   * `"spec"`: only the seven fields KeyCRM's description lists (`total`,
   * `current_page`, `per_page`, `data`, `first_page_url`, `last_page_url`,
   * `next_page_url`), so no `last_page`. Default: `"laravel"`.
   */
  envelope?: "laravel" | "spec";
  /**
   * Serve list rows in a fixed order permuted by this seed instead of by ascending
   * id (the description promises no order). The order depends only on the seed and
   * the ids, so it is the same for every request and every page, and offers added or
   * removed leave the others in place. `/offers?sort=id` or `sort=-id` still sorts.
   * Default: `null` (ascending id).
   */
  shuffleSeed?: number | null;
  /**
   * Send `X-RateLimit-Limit`/`X-RateLimit-Remaining` on admitted answers and
   * `Retry-After` (whole seconds) with them on 429. `false`: no rate-limit header at
   * all, a bare 429 (the description documents none). Faults send only what they ask
   * for either way. Default: `true`.
   */
  rateLimitHeaders?: boolean;
  /**
   * Stock figures (`quantity`, `reserve`, a warehouse's figures, `/offers`'
   * `in_reserve`) and prices as JSON numbers, or as the decimal strings a Laravel
   * decimal cast gives: `"12.000"` for figures, `"123.50"` for prices (a value with
   * more decimals is sent in full). Strings are outside the description.
   * Default: `"number"`.
   */
  figures?: "number" | "string";
  /**
   * Whether `/offers/stocks` lists offers with `is_archived: true` (the description
   * does not say). `/offers` lists them either way, filtered by
   * `filter[is_archived]`. Default: `true`.
   */
  archivedInStocks?: boolean;
  /** Time source of the rate limiter and the request log, in ms since the epoch; a test can step it to make 429s deterministic. Default: `Date.now`. */
  clock?: () => number;
}

/** The answer modes a running emulator was started with, defaults filled in. */
export interface EmulatorMode {
  /** See {@link EmulatorOptions.envelope}. */
  readonly envelope: "laravel" | "spec";
  /** See {@link EmulatorOptions.shuffleSeed}. */
  readonly shuffleSeed: number | null;
  /** See {@link EmulatorOptions.rateLimitHeaders}. */
  readonly rateLimitHeaders: boolean;
  /** See {@link EmulatorOptions.figures}. */
  readonly figures: "number" | "string";
  /** See {@link EmulatorOptions.archivedInStocks}. */
  readonly archivedInStocks: boolean;
}

/**
 * A failure to serve instead of the normal answer. It applies to authenticated
 * requests the rate limiter let through (so it uses up a slot of the window); it never
 * hits a request answered 401, 404, 405 or 429.
 */
export interface Fault {
  /** Status to answer with; with only `delayMs` set, the normal answer follows the delay. Default: none (`200` when `body` is set). */
  status?: number;
  /** How many matching requests it affects (`Infinity` for all). Default: `1`. */
  count?: number;
  /** Path prefix relative to the API base, e.g. `"/offers"`; `null` matches every route. Default: `"/offers/stocks"`. */
  path?: string | null;
  /** Only requests for this page number (absent or invalid `page` counts as 1). Default: `null` (any). */
  page?: number | null;
  /** Wait before answering or dropping, in ms, on top of the latency. Default: `0`. */
  delayMs?: number;
  /** Raw body sent instead of `{"message": ...}`, e.g. malformed JSON. Default: `null`. */
  body?: string | null;
  /** `Retry-After` header value; the header is omitted when undefined. Default: `undefined`. */
  retryAfter?: number | string;
  /** Destroy the socket without answering. Default: `false`. */
  dropConnection?: boolean;
}

/** One logged request; rejected and faulted requests are logged too. */
export interface LoggedRequest {
  /** HTTP method. */
  method: string;
  /** Pathname as requested, including the base, e.g. `"/v1/offers/stocks"`. */
  path: string;
  /** Raw query parameters, e.g. `{ "filter[details]": "true", page: "2" }`. */
  query: Record<string, string>;
  /** Status answered; `0` when the connection was dropped, `null` while pending. */
  status: number | null;
  /** Arrival time, ms since the epoch, by the emulator's `clock`. */
  startedAt: number;
}

/** Tallies over the request log. */
export interface RequestCounts {
  /** All logged requests, pending ones included. */
  total: number;
  /** Answered requests per status (`0` = dropped connection). */
  byStatus: Record<number, number>;
  /** Requests per logged `path`. */
  byPath: Record<string, number>;
}

/** A running emulator. */
export interface Emulator {
  /** API base URL, e.g. `"http://127.0.0.1:41234/v1"`. */
  readonly url: string;
  /** The answer modes, fixed when it started. */
  readonly mode: EmulatorMode;
  /** The live offers; mutate or replace between and during scans. */
  offers: CatalogueOffer[];
  /** The live orders. */
  orders: EmulatorOrder[];
  /** Request log in arrival order; cleared in place by `reset()`. */
  readonly requests: LoggedRequest[];
  /** Tallies the request log. */
  counts(): RequestCounts;
  /** Queues a fault; faults are consumed in order, each matching request using one count. */
  injectFault(fault: Fault): void;
  /** Drops every queued fault. */
  clearFaults(): void;
  /** Changes the limit, in requests per minute; `0` or `null` disables it. The window is kept. */
  setRateLimit(perMinute: number | null): void;
  /** Changes the latency of later answers. */
  setLatency(latencyMs: Latency): void;
  /** Clears the request log and the rate-limit window; faults, offers and orders stay. */
  reset(): void;
  /** Stops listening and drops open connections; pending delayed answers are abandoned. */
  close(): Promise<void>;
}

/** Starts a KeyCRM emulator on loopback; resolves once it listens. Throws a `TypeError` on an unknown mode value. */
export function startEmulator(options?: EmulatorOptions): Promise<Emulator>;

/** What the conformance suite asks a harness to build for one test. */
export interface ConformanceLayout {
  /** Rows the fresh store must hold, exactly as given: SKUs of up to 40 characters of any Unicode text, stock `null` or a number with at most 3 decimals. */
  rows: import("../sinks/sink.js").SiteStock[];
  /** Whether rows and keys carry `warehouseId`: the sink must then be set up with its warehouse column. */
  perWarehouse: boolean;
  /** Whether the store keeps observation times: the sink must then be set up with an integer observed column (e.g. `observedColumn`), NULL in every row given. */
  observed: boolean;
  /** Whether the stock column must hold whole numbers only (e.g. `integer`), to check that no fraction is rounded up into it. */
  integerStock: boolean;
}

/** A fresh store with a sink over it, made by the harness for one test. */
export interface ConformanceFixture {
  /** The sink under test. The suite calls its `close()`, if any, after the test. */
  sink: import("../sinks/sink.js").StockSink;
  /** Every row of the store read without the sink, to check writes independently. Default: the sink's `readAll()`, else `read()` of the known keys. */
  stored?(): Promise<import("../sinks/sink.js").SiteStock[]>;
  /** Drops what `setup` made; called after the sink is closed, even when the test failed. Default: nothing. */
  dispose?(): Promise<void>;
}

/** Options of {@link sinkConformance}. */
export interface SinkConformanceOptions {
  /** Names the suite in the test report, e.g. `"my CMS sink"`. */
  name: string;
  /**
   * Makes a fresh store holding exactly `layout.rows` and a sink over it. The store
   * must refuse a negative stock (e.g. `CHECK (stock >= 0)`), so the suite can make
   * a batch fail midway and check that none of it was written.
   */
  setup(
    layout: ConformanceLayout,
  ): ConformanceFixture | Promise<ConformanceFixture>;
  /** Run the per-warehouse tests (keys with `warehouseId`). Default: `true`. */
  perWarehouse?: boolean;
  /** Run the tests of observation times (`observedAt` on read and write), for sinks that keep them. Default: `false`. */
  observed?: boolean;
  /** Run the test of a whole-number stock column (a fraction is refused or written no larger than it is), for stores that can make one. Default: `false`. */
  integerStock?: boolean;
}

/**
 * Registers the sink conformance suite with `node:test` (a `describe` block of
 * tests): reads of present and missing keys, 1 200 keys in one call, writes that
 * update and never insert, all-or-nothing batches, fractional and null stock,
 * exact SKU matching (case, spaces, Unicode, quotes), a SKU holding U+0000 that
 * blocks nothing else, `readAll`, per-warehouse keys, and observation times and
 * whole-number stock columns where the sink has them.
 * Call it at the top level of a test file run by `node --test`.
 */
export function sinkConformance(options: SinkConformanceOptions): void;
