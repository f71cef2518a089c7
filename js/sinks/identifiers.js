// Table and column names come from configuration and end up inside SQL text,
// where values can be bound but names cannot. So a name is accepted only if it
// is a plain identifier, and it is still quoted when used: a valid name may be
// a keyword (`order`), and quoting keeps it a name.

import { syncError } from "../errors.js";

// 63 is PostgreSQL's limit (longer names are silently truncated there); the
// same cap everywhere keeps one configuration valid for every database.
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * Returns `name` if it is a plain SQL identifier, else throws INVALID_CONFIG.
 * @param {unknown} name
 * @param {string} what the option that supplied it, e.g. "skuColumn"
 * @returns {string}
 */
export function assertIdentifier(name, what) {
  if (typeof name === "string" && IDENTIFIER.test(name)) return name;
  throw invalidName(name, what, "an identifier");
}

/**
 * Like `assertIdentifier`, but also accepts one schema qualifier: `schema.table`.
 * @param {unknown} name
 * @param {string} [what] the option that supplied it; defaults to "table"
 * @returns {string}
 */
export function assertTableName(name, what = "table") {
  const parts = typeof name === "string" ? name.split(".") : [];
  if (
    parts.length >= 1 &&
    parts.length <= 2 &&
    parts.every((part) => IDENTIFIER.test(part))
  ) {
    return /** @type {string} */ (name);
  }
  throw invalidName(name, what, "a table name (optionally schema.table)");
}

/**
 * Quotes a validated identifier or `schema.table` for use in SQL text.
 * Embedded quote characters are doubled: validation already forbids them, but
 * quoting should be safe on its own rather than rely on a check made elsewhere.
 * @param {string} name
 * @param {string} [quote] `"` for SQLite and PostgreSQL, a backtick for MySQL
 * @returns {string}
 */
export function quoteIdentifier(name, quote = '"') {
  return name
    .split(".")
    .map((part) => quote + part.replaceAll(quote, quote + quote) + quote)
    .join(".");
}

/** Turns an option name into its command-line flag: skuColumn → --sku-column. */
function flagOf(option) {
  return (
    "--" + option.replace(/[A-Z]/g, (letter) => "-" + letter.toLowerCase())
  );
}

function invalidName(name, what, expected) {
  const shown = typeof name === "string" ? JSON.stringify(name) : String(name);
  const message =
    `Invalid ${what} (${flagOf(what)}): ${shown} is not ${expected}. ` +
    "Use letters, digits and underscores, not starting with a digit, at most 63 characters.";
  return syncError("INVALID_CONFIG", message);
}
