// The rows a run hands to the sink and takes back, packed for the crossing
// between the core and JS: one string of every SKU, back to back, and one array
// of numbers, a fixed number per row. Building the sink's objects here, where
// V8 makes objects cheaply, costs a fraction of serialising them as JSON text
// and parsing it again.
//
// A read's SKUs are also kept, out of the sink's reach: a change for one of the
// keys read last names its SKU by the key's index instead of carrying it. The
// string then crosses once, and a sink that looks it up again in a write finds
// its hash already computed (a first sync writes every row it reads).
//
// Numbers per row, as the core writes them:
//   key:    the SKU's length in UTF-16 code units, the warehouse id (-1: none)
//   change: the SKU's length, or -1 - i for the SKU of the last read's key i;
//           the warehouse id, the figure, when it was observed (-1: not given)
// and as this module gives them back for a site row:
//   the SKU's length, the warehouse id (-1: none), the figure (NaN: none),
//   when it was observed (-1: none).
//
// Each builder makes objects of one shape per loop, so V8 keeps them monomorphic;
// the shapes equal what the sink interface documents (absent fields absent).

/**
 * The keys of a read, `{ sku }` or `{ sku, warehouseId }`, and their SKUs.
 * @param {string} skus @param {Float64Array} numbers
 * @returns {[object[], string[]]}
 */
export function keysOf(skus, numbers) {
  const keys = [];
  const read = [];
  let at = 0;
  for (let i = 0; i < numbers.length; i += 2) {
    const end = at + numbers[i];
    const sku = skus.slice(at, end);
    at = end;
    const warehouseId = numbers[i + 1];
    read.push(sku);
    keys.push(warehouseId < 0 ? { sku } : { sku, warehouseId });
  }
  return [keys, read];
}

/**
 * The changes of a write: `{ sku, warehouseId?, stock, observedAt? }`.
 * @param {string} skus @param {Float64Array} numbers
 * @param {string[] | undefined} read the SKUs of the last read (keysOf's)
 */
export function changesOf(skus, numbers, read) {
  const changes = [];
  let at = 0;
  for (let i = 0; i < numbers.length; i += 4) {
    let sku;
    if (numbers[i] < 0) {
      sku = read[-1 - numbers[i]];
    } else {
      const end = at + numbers[i];
      sku = skus.slice(at, end);
      at = end;
    }
    const warehouseId = numbers[i + 1];
    const stock = numbers[i + 2];
    const observedAt = numbers[i + 3];
    if (warehouseId < 0) {
      changes.push(observedAt < 0 ? { sku, stock } : { sku, stock, observedAt });
    } else {
      changes.push(
        observedAt < 0
          ? { sku, warehouseId, stock }
          : { sku, warehouseId, stock, observedAt },
      );
    }
  }
  return changes;
}

/**
 * The rows a sink's `read()` or `readAll()` resolved with, packed: the UTF-8
 * bytes of their SKUs back to back, and four numbers a row. Throws a message
 * (a string) naming what is wrong with a row of another shape.
 *
 * What is taken is what JSON would carry: a figure or id that is not a finite
 * number (NaN, ±∞) counts as absent, as `JSON.stringify` makes it null.
 * @param {unknown} rows
 * @returns {[Uint8Array, Float64Array]}
 */
export function packRows(rows) {
  if (!Array.isArray(rows)) throw "expected an array of rows";
  const numbers = new Float64Array(rows.length * 4);
  let skus = "";
  for (let i = 0; i < rows.length; i += 1) {
    const row = rows[i];
    if (row === null || typeof row !== "object") throw `row ${i} is not an object`;
    const sku = row.sku;
    if (typeof sku !== "string") throw `row ${i} has no \`sku\` string`;
    skus += sku;
    const at = i * 4;
    numbers[at] = sku.length;
    numbers[at + 1] = wholeOrNone(row.warehouseId, "warehouseId", i);
    numbers[at + 2] = figureOrNone(row.stock, i);
    numbers[at + 3] = wholeOrNone(row.observedAt, "observedAt", i);
  }
  if (!skus.isWellFormed()) throw "a `sku` is not well-formed text (a lone surrogate)";
  return [encoder.encode(skus), numbers];
}

const encoder = new TextEncoder();

function wholeOrNone(value, field, i) {
  if (value === undefined || value === null) return -1;
  if (typeof value !== "number") throw `row ${i}: \`${field}\` is not a number`;
  if (!Number.isFinite(value)) return -1;
  if (!Number.isInteger(value) || value < 0) {
    throw `row ${i}: \`${field}\` ${value} is not a whole number >= 0`;
  }
  return value;
}

function figureOrNone(value, i) {
  if (value === undefined || value === null) return NaN;
  if (typeof value !== "number") throw `row ${i}: \`stock\` is not a number`;
  return value;
}
