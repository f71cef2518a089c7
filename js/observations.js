// Remembers, for each row a sink wrote, when KeyCRM's figure in it was observed,
// and reports it back on read, so the core can tell a newer figure from an older
// one. Wrap one sink and share it between the webhook endpoint and the full sync
// of the same process: a page read before a webhook arrived then cannot write its
// older figure over the webhook's.

const MAX_ENTRIES = 200_000;

/**
 * @param {import("./sinks/sink.js").StockSink} sink
 * @returns {import("./sinks/sink.js").StockSink}
 */
export function trackObservations(sink) {
  const observed = new Map();
  const keyOf = (row) =>
    row.warehouseId === undefined || row.warehouseId === null
      ? row.sku
      : `${row.sku}\u0000${row.warehouseId}`;
  const wrapped = {
    async read(keys) {
      const rows = await sink.read(keys);
      return rows.map((row) => {
        const at = observed.get(keyOf(row));
        if (at === undefined || row.observedAt >= at) return row;
        return { ...row, observedAt: at };
      });
    },
    async write(changes) {
      await sink.write(changes);
      for (const change of changes) {
        if (typeof change.observedAt !== "number") continue;
        const key = keyOf(change);
        const at = Math.max(observed.get(key) ?? 0, change.observedAt);
        // Re-inserted, so the Map's order is the order of last writes.
        observed.delete(key);
        observed.set(key, at);
      }
      // Only figures newer than a page still on its way matter; the oldest are
      // the first to go.
      for (const key of observed.keys()) {
        if (observed.size <= MAX_ENTRIES) break;
        observed.delete(key);
      }
    },
  };
  if (typeof sink.readAll === "function") wrapped.readAll = () => sink.readAll();
  if (typeof sink.close === "function") wrapped.close = () => sink.close();
  return wrapped;
}
