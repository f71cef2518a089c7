// A deterministic stock catalogue shaped like KeyCRM's
// `/offers/stocks?filter[details]=true` rows, with the awkward cases a sync has
// to survive mixed in at fixed intervals, and `expectedAvailability`, the
// answer key a correct sync must reproduce from it.

/** Warehouses used when the caller names none: KeyCRM's default plus one. */
const DEFAULT_WAREHOUSES = Object.freeze([
  Object.freeze({ id: 1, name: "Основний" }),
  Object.freeze({ id: 2, name: "Київ" }),
]);

// Special stock shapes, at intervals coprime with the SKU-related ones so that
// every combination eventually occurs instead of the cases always hiding each
// other.
const ZERO_STOCK_EVERY = 19;
const OVER_RESERVED_EVERY = 23;
const FULLY_RESERVED_EVERY = 29;

// Every second duplicate copies a SKU from this many offers back: more than the
// API's largest page (50), so the two owners of that SKU never arrive in the
// same page.
const FAR_DUPLICATE_DISTANCE = 60;

// Fractions chosen to include ones binary floats cannot hold exactly (0.3,
// 0.1), so that naive `Math.floor(2.3 - 0.3)` comes out one unit short.
const QUANTITY_FRACTIONS = [0.5, 0.25, 0.75, 0.3, 0.1, 0.125];
const RESERVE_FRACTIONS = [0, 0.3, 0.75, 1.5, 0.1];

/**
 * Builds a catalogue of offers with per-warehouse stock.
 *
 * The same options always give the same catalogue (the PRNG is seeded), so a
 * failing test can be replayed. The returned array and its objects are fresh
 * and mutable.
 */
export function generateCatalogue(options = {}) {
  const {
    offers: count = 2000,
    warehouses = DEFAULT_WAREHOUSES,
    seed = 1,
    withoutSkuEvery = 97,
    duplicateSkuEvery = 211,
    fractionalEvery = 53,
    firstId = 1,
  } = options;
  const random = mulberry32(seed);
  const catalogue = [];
  let skuLessSoFar = 0;
  let duplicatesSoFar = 0;

  for (let n = 1; n <= count; n += 1) {
    const id = firstId + n - 1;
    let sku = `sku-${String(id).padStart(6, "0")}`;
    if (isNth(n, withoutSkuEvery)) {
      skuLessSoFar += 1;
      // KeyCRM sends both spellings of "no SKU"; alternate them.
      sku = skuLessSoFar % 2 === 1 ? null : "";
    } else if (isNth(n, duplicateSkuEvery)) {
      duplicatesSoFar += 1;
      const distance = duplicatesSoFar % 2 === 1 ? 1 : FAR_DUPLICATE_DISTANCE;
      sku = skuFromEarlierOffer(catalogue, distance) ?? sku;
    }

    const price = integerBetween(random, 1000, 500000) / 100;
    const purchasedPrice = round(price * (0.4 + 0.3 * random()), 2);
    const stock = warehouses.map((w) => ({
      id: w.id,
      name: w.name,
      ...warehouseStock(random, n, isNth(n, fractionalEvery)),
    }));
    if (isNth(n, OVER_RESERVED_EVERY) && stock.length > 0) {
      // More reserved than held in one warehouse only: the sum over warehouses
      // can stay positive, so clamping per warehouse gives a different (wrong)
      // answer than clamping the sum.
      stock[0].reserve = round(
        stock[0].quantity + integerBetween(random, 1, 3),
        6,
      );
    }

    catalogue.push({
      id,
      sku,
      price,
      purchased_price: purchasedPrice,
      quantity: round(sum(stock, "quantity"), 6),
      reserve: round(sum(stock, "reserve"), 6),
      warehouse: stock,
    });
  }
  return catalogue;
}

/**
 * What a correct sync writes for `offers`: `Map<sku, available>`.
 *
 * available = Σ quantity − Σ reserve over the chosen warehouses (Σ quantity
 * with `keepReserve`), clamped at 0, floored to whole units unless
 * `fractional`. Offers without a SKU are skipped. A SKU carried by more than
 * one offer gets the smallest availability among them: the site cannot tell
 * which offer it means, and the smallest figure is the one that cannot oversell.
 *
 * `warehouses` lists warehouse ids (numbers) and/or names (strings); `null` or
 * an empty list means all warehouses, read from the offer's top-level totals.
 */
export function expectedAvailability(offers, options = {}) {
  const {
    keepReserve = false,
    fractional = false,
    warehouses = null,
  } = options;
  const allWarehouses = warehouses == null || warehouses.length === 0;

  const availability = new Map();
  for (const offer of offers) {
    if (!hasSku(offer)) continue;
    const chosen = allWarehouses
      ? offer
      : chosenWarehouseTotals(offer.warehouse ?? [], warehouses);
    const raw = keepReserve
      ? chosen.quantity
      : chosen.quantity - chosen.reserve;
    const available = toAvailable(raw, fractional);
    const earlier = availability.get(offer.sku);
    availability.set(
      offer.sku,
      earlier === undefined ? available : Math.min(earlier, available),
    );
  }
  return availability;
}

function chosenWarehouseTotals(stock, selection) {
  const chosen = stock.filter((w) =>
    selection.some((s) => (typeof s === "number" ? s === w.id : s === w.name)),
  );
  return { quantity: sum(chosen, "quantity"), reserve: sum(chosen, "reserve") };
}

function toAvailable(raw, fractional) {
  // Rounding first absorbs float error (2.3 - 0.3 = 1.9999999999999998 must
  // give 2).
  const clamped = Math.max(0, round(raw, 6));
  return fractional ? clamped : Math.floor(clamped);
}

function warehouseStock(random, n, fractional) {
  if (isNth(n, ZERO_STOCK_EVERY)) return { quantity: 0, reserve: 0 };
  if (fractional) {
    const quantity =
      integerBetween(random, 0, 40) + pick(random, QUANTITY_FRACTIONS);
    const reserve = Math.min(quantity, pick(random, RESERVE_FRACTIONS));
    return { quantity: round(quantity, 3), reserve: round(reserve, 3) };
  }
  // A quarter of the warehouse slots are empty: most real offers are not
  // everywhere.
  if (random() < 0.25) return { quantity: 0, reserve: 0 };
  const quantity = integerBetween(random, 1, 120);
  if (isNth(n, FULLY_RESERVED_EVERY)) return { quantity, reserve: quantity };
  const reserve =
    random() < 0.6 ? 0 : integerBetween(random, 0, Math.min(quantity, 10));
  return { quantity, reserve };
}

// Walks back from `distance` offers ago to the nearest offer that has a SKU, so
// a duplicate never copies "no SKU". Null when there is nothing to copy.
function skuFromEarlierOffer(catalogue, distance) {
  for (let i = Math.max(0, catalogue.length - distance); i >= 0; i -= 1) {
    if (hasSku(catalogue[i])) return catalogue[i].sku;
  }
  return null;
}

function hasSku(offer) {
  return typeof offer.sku === "string" && offer.sku !== "";
}

function isNth(n, every) {
  return every > 0 && n % every === 0;
}

function sum(items, field) {
  return items.reduce((total, item) => total + item[field], 0);
}

function round(value, decimals) {
  const scale = 10 ** decimals;
  return Math.round(value * scale) / scale;
}

function integerBetween(random, min, max) {
  return min + Math.floor(random() * (max - min + 1));
}

function pick(random, choices) {
  return choices[Math.floor(random() * choices.length)];
}

// mulberry32: a 32-bit seeded PRNG, tiny and identical on every platform, which
// Math.random is not (it cannot be seeded at all).
function mulberry32(seed) {
  let state = seed >>> 0;
  return function next() {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
