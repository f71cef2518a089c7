// A plain-JavaScript reference of the sync rules, for measuring the core
// against (npm run bench:core). Never shipped: benches/ is not in the package.
// tests/js/bench-reference.test.js checks that it writes exactly what the core
// writes on the same pages, so the comparison stays honest.
//
// The same rules as the core: figures summed over the chosen warehouses (by id
// or name; each reserve clamped at 0), or one row per warehouse, or KeyCRM's
// totals; available = max(0, quantity − reserve) rounded to a millionth, then
// floored unless fractional. Offers read twice are ignored; offers without a
// SKU are skipped, and so are SKUs holding U+0000; a SKU on several offers gets
// the smallest figure among them (a later offer writes only below the smallest
// so far). Rows are compared with the site in batches, and only changed rows
// are written; a change that raises a row is held until the last page is read,
// then written only if its figure is still the smallest read for the row.

/**
 * Syncs the pages in order into `sink`.
 *
 * @param {object} options
 * @param {Map<number, string | Uint8Array>} options.pages page bodies by page
 *   number (from 1): their text, or their UTF-8 bytes
 * @param {{ read(keys: object[]): Promise<object[]>, write(changes: object[]): Promise<unknown> }} options.sink
 * @param {(number|string)[]} [options.warehouses] chosen warehouses; default: all
 * @param {boolean} [options.perWarehouse] one row per (SKU, warehouse)
 * @param {boolean} [options.fractional] keep fractions of units
 * @param {boolean} [options.keepReserve] do not subtract the reserve
 * @param {number} [options.batchSize] rows compared per sink read; default 500
 * @param {number} [options.maxPages] stop after this many pages; default all
 * @returns {Promise<{ pages: number, offers: number, updated: number, unchanged: number }>}
 */
export async function referenceSync(options) {
  const {
    pages,
    sink,
    warehouses = [],
    perWarehouse = false,
    fractional = false,
    keepReserve = false,
    batchSize = 500,
    maxPages = Infinity,
  } = options;
  const byId = new Set(warehouses.filter((w) => typeof w === "number"));
  const byName = new Set(warehouses.filter((w) => typeof w === "string"));
  const all = warehouses.length === 0;
  const chosen = (w) => all || byId.has(w.id) || byName.has(w.name);

  const available = (quantity, reserve) => {
    const raw = keepReserve ? quantity : quantity - (reserve > 0 ? reserve : 0);
    const settled = Math.round(raw * 1e6) / 1e6;
    const value = fractional ? settled : Math.floor(settled);
    return value > 0 ? value : 0;
  };

  const offersSeen = new Set();
  // SKU → Map(warehouse id or null → smallest figure so far)
  const lowest = new Map();
  let pending = [];
  const report = { pages: 0, offers: 0, updated: 0, unchanged: 0 };

  // Raises held until the last page is read, by row.
  const held = new Map();
  let readingDone = false;

  const flush = async (batch) => {
    const site = await sink.read(
      batch.map((d) =>
        d.warehouseId === null ? { sku: d.sku } : { sku: d.sku, warehouseId: d.warehouseId },
      ),
    );
    const current = new Map();
    for (const row of site) current.set(keyOf(row.sku, row.warehouseId ?? null), row);
    const changes = [];
    for (const want of batch) {
      const row = current.get(keyOf(want.sku, want.warehouseId));
      if (row === undefined) continue;
      if (typeof row.stock === "number" && Math.abs(row.stock - want.stock) <= 1e-9) {
        report.unchanged += 1;
        continue;
      }
      if (!readingDone && typeof row.stock === "number" && want.stock > row.stock) {
        held.set(keyOf(want.sku, want.warehouseId), want);
        continue;
      }
      changes.push(
        want.warehouseId === null
          ? { sku: want.sku, stock: want.stock }
          : { sku: want.sku, warehouseId: want.warehouseId, stock: want.stock },
      );
    }
    if (changes.length > 0) {
      await sink.write(changes);
      report.updated += changes.length;
    }
  };

  const queue = (sku, warehouseId, stock, shared) => {
    let lows = lowest.get(sku);
    if (lows === undefined) {
      lows = new Map();
      lowest.set(sku, lows);
    }
    const low = lows.get(warehouseId);
    if (low !== undefined) {
      if (Math.abs(low - stock) <= 1e-9 || low < stock) return;
    }
    lows.set(warehouseId, stock);
    if (shared) {
      pending = pending.filter((q) => !(q.sku === sku && q.warehouseId === warehouseId));
    }
    pending.push({ sku, warehouseId, stock });
  };

  for (let number = 1; number <= pages.size && number <= maxPages; number += 1) {
    const body = pages.get(number);
    // Text, or the bytes as an answer's body holds them (what response.json() decodes).
    const page = JSON.parse(typeof body === "string" ? body : decoder.decode(body));
    report.pages += 1;
    for (const row of page.data) {
      if (offersSeen.has(row.id)) continue;
      offersSeen.add(row.id);
      report.offers += 1;
      const sku = skuOf(row.sku);
      if (sku === null || sku.includes("\u0000")) continue;
      const shared = lowest.has(sku);
      if (perWarehouse) {
        for (const w of row.warehouse) {
          if (chosen(w)) queue(sku, w.id, available(+w.quantity, +w.reserve), shared);
        }
      } else if (all) {
        queue(sku, null, available(+row.quantity, +row.reserve), shared);
      } else {
        let quantity = 0;
        let reserve = 0;
        for (const w of row.warehouse) {
          if (!chosen(w)) continue;
          quantity += +w.quantity;
          const r = +w.reserve;
          reserve += r > 0 ? r : 0;
        }
        queue(sku, null, available(quantity, reserve), shared);
      }
    }
    readingDone = number === pages.size || number === maxPages;
    while (pending.length >= batchSize) await flush(pending.splice(0, batchSize));
  }
  if (pending.length > 0) await flush(pending.splice(0));
  const released = [...held.values()]
    .filter((want) => lowest.get(want.sku).get(want.warehouseId) === want.stock)
    .sort((a, b) =>
      a.sku !== b.sku
        ? a.sku < b.sku ? -1 : 1
        : (a.warehouseId ?? -1) - (b.warehouseId ?? -1),
    )
    .map((want) =>
      want.warehouseId === null
        ? { sku: want.sku, stock: want.stock }
        : { sku: want.sku, warehouseId: want.warehouseId, stock: want.stock },
    );
  for (let i = 0; i < released.length; i += batchSize) {
    const changes = released.slice(i, i + batchSize);
    await sink.write(changes);
    report.updated += changes.length;
  }
  return report;
}

const decoder = new TextDecoder();

function skuOf(raw) {
  if (typeof raw === "number") return String(raw);
  if (typeof raw !== "string" || raw.trim() === "") return null;
  return raw;
}

function keyOf(sku, warehouseId) {
  return warehouseId === null ? sku : `${sku}\u0000${warehouseId}`;
}
