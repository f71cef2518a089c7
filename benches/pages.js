// Stock pages as KeyCRM serves them (Laravel's paginator, "/" and non-ASCII
// escaped), built in memory from a catalogue, and a fetch that serves them.

/**
 * @param {object[]} offers a catalogue (generateCatalogue)
 * @param {{ details?: boolean, perPage?: number }} [options]
 * @returns {Map<number, string>} page bodies by page number
 */
export function stockPages(offers, { details = false, perPage = 50 } = {}) {
  const path = "https:\\/\\/openapi.keycrm.app\\/v1\\/offers\\/stocks";
  const lastPage = Math.max(1, Math.ceil(offers.length / perPage));
  const pages = new Map();
  for (let page = 1; page <= lastPage; page += 1) {
    const start = (page - 1) * perPage;
    const data = offers.slice(start, start + perPage).map((offer) => {
      const row = {
        id: offer.id,
        sku: offer.sku ?? null,
        price: offer.price ?? 0,
        purchased_price: offer.purchased_price ?? 0,
        quantity: offer.quantity,
        reserve: offer.reserve,
      };
      if (details) {
        row.warehouse = offer.warehouse.map((w) => ({
          id: w.id,
          name: w.name,
          quantity: w.quantity,
          reserve: w.reserve,
        }));
      }
      return row;
    });
    const body = {
      current_page: page,
      data,
      first_page_url: `${path}?page=1`,
      from: data.length > 0 ? start + 1 : null,
      last_page: lastPage,
      last_page_url: `${path}?page=${lastPage}`,
      next_page_url: page < lastPage ? `${path}?page=${page + 1}` : null,
      path,
      per_page: perPage,
      prev_page_url: page > 1 ? `${path}?page=${page - 1}` : null,
      to: data.length > 0 ? start + data.length : null,
      total: offers.length,
    };
    pages.set(page, escaped(JSON.stringify(body)));
  }
  return pages;
}

function escaped(text) {
  return text.replace(
    /[\u0080-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** Each page's UTF-8 bytes, as the network hands them over, by page number. */
export function pageBytes(pages) {
  const encoder = new TextEncoder();
  return new Map([...pages].map(([n, body]) => [n, encoder.encode(body)]));
}

/**
 * A fetch answering from `pages` by the `page` query parameter; with
 * `bytes: false` its answers have text() only.
 */
export function memoryFetch(pages, { bytes: withBytes = true } = {}) {
  const headers = { get: () => null };
  // Bytes as they come off the network, encoded once here.
  const bytes = pageBytes(pages);
  // The page number by a pattern rather than a URL parser, whose cost would be
  // the harness's, not the package's.
  return async (url) => {
    const page = Number(/[?&]page=(\d+)/.exec(url)?.[1] ?? 1);
    const n = pages.has(page) ? page : pages.size;
    const response = { status: 200, headers, text: async () => pages.get(n) };
    if (withBytes) response.arrayBuffer = async () => bytes.get(n).buffer;
    return response;
  };
}

/**
 * The site's table for `offers` (a catalogue), every row holding `figure`, keyed
 * as mapSink keys it: the SKU, or the SKU and warehouse id joined by U+0000.
 */
export function siteOf(offers, perWarehouse, figure) {
  const table = new Map();
  for (const offer of offers) {
    if (offer.sku === null || offer.sku === "") continue;
    if (perWarehouse) {
      for (const w of offer.warehouse) table.set(`${offer.sku}\u0000${w.id}`, figure);
    } else {
      table.set(offer.sku, figure);
    }
  }
  return table;
}

/**
 * A site table in a Map, with the sink interface: `read(keys)`, `write(changes)`.
 * Keys are the SKU, or the SKU and warehouse id joined by U+0000.
 */
export function mapSink(table) {
  const keyOf = (row) =>
    row.warehouseId === undefined || row.warehouseId === null
      ? row.sku
      : `${row.sku}\u0000${row.warehouseId}`;
  return {
    table,
    writes: [],
    async read(keys) {
      const found = [];
      for (const key of keys) {
        const stock = table.get(keyOf(key));
        if (stock === undefined) continue;
        found.push(
          key.warehouseId === undefined
            ? { sku: key.sku, stock }
            : { sku: key.sku, warehouseId: key.warehouseId, stock },
        );
      }
      return found;
    },
    async write(changes) {
      for (const change of changes) {
        const key = keyOf(change);
        if (table.has(key)) table.set(key, change.stock);
      }
      this.writes.push(changes);
    },
  };
}
