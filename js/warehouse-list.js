// A list of warehouses as people write it, in a flag or a variable: "1, Київ" is
// [1, "Київ"]. An item of digits only is an id, anything else a name.

/**
 * @param {string} raw
 * @param {string} name the flag or variable, for messages
 * @param {(message: string) => Error} fail makes the caller's kind of error
 * @returns {(number | string)[]}
 */
export function warehouseList(raw, name, fail) {
  const items = raw.split(",").map((item) => item.trim());
  if (items.some((item) => item === "")) {
    throw fail(`${name} needs comma-separated warehouse ids or names, got ${JSON.stringify(raw)}`);
  }
  return items.map((item) => {
    if (!/^\d+$/.test(item)) return item;
    if (!Number.isSafeInteger(Number(item))) throw fail(`${name}: ${item} is too large for an id`);
    return Number(item);
  });
}
