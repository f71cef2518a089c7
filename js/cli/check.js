// `keycrm-stock-sync check`: the mismatch report. The core scans the catalogue,
// reads the site once and decides every finding; this file only wires the
// options as `sync` does and prints the findings for people, as JSON, or as CSV.

import { writeFileSync } from "node:fs";
import { checkStock, validateOptions } from "../node.js";
import { EXIT, UsageError } from "./args.js";
import { resolveSettings } from "./config.js";
import { createProgress } from "./progress.js";
import { coreOptionsOf, databaseOf, statusOf, stderrReporter } from "./sync.js";

/** Lines of each kind the terminal summary shows; --json and --csv have all. */
const SHOWN = 10;

// Settings of `sync` that a check has no use for: it scans the whole catalogue,
// from page 1, and writes nothing. A shared environment or config file may set them.
const SYNC_ONLY = ["state", "zeroMissing", "skus", "offerIds", "dryRun"];

/**
 * The kinds of finding, in the order they are printed: the report's key, the
 * CSV `kind`, the summary's label, and how one finding reads in the summary.
 */
const KINDS = [
  {
    key: "stockDiffers",
    kind: "stockDiffers",
    label: "stock differs",
    line: (f) => `${where(f)}  site ${figure(f.site)} → KeyCRM ${figure(f.keycrm)}`,
  },
  {
    key: "missingInKeycrm",
    kind: "missingInKeycrm",
    label: "site SKUs KeyCRM lacks",
    line: (f) => `${where(f)}  site ${figure(f.site)}`,
  },
  {
    key: "notOnSite",
    kind: "notOnSite",
    label: "offers with no site row",
    line: (f) => `offer ${f.offerId}  ${where(f)}  KeyCRM ${figure(f.keycrm)}${productName(f)}`,
  },
  {
    key: "withoutSku",
    kind: "withoutSku",
    label: "offers without SKU",
    line: (offerId) => `offer ${offerId}`,
  },
  {
    key: "duplicateSkus",
    kind: "duplicateSku",
    label: "SKUs on several offers",
    line: (f) => `${sku(f.sku)}  offers ${f.offerIds.join(", ")}`,
  },
  {
    key: "nearMisses",
    kind: "nearMiss",
    label: "near misses (case, spaces)",
    line: (f) => `KeyCRM ${sku(f.sku)} (offers ${f.offerIds.join(", ")})  site ${sku(f.siteSku)}`,
  },
  {
    key: "invalidSkus",
    kind: "invalidSku",
    label: "invalid SKUs (U+0000)",
    line: (f) => `offer ${f.offerId}  ${sku(f.sku)}`,
  },
];

/** The CSV's columns, in order. */
export const CSV_COLUMNS = [
  "kind",
  "sku",
  "warehouse_id",
  "site_stock",
  "keycrm_stock",
  "offer_ids",
  "site_sku",
  "name",
];

/**
 * Runs `check` with parsed flags.
 * @param {Record<string, any>} typed from parseCommandLine
 * @param {{ env: Record<string, string | undefined>,
 *   stdout: NodeJS.WriteStream, stderr: NodeJS.WriteStream }} io
 * @returns {Promise<number>} the exit status
 * @throws {UsageError} for a flag combination that cannot work
 */
export async function runCheck(typed, { env, stdout, stderr }) {
  const apiKey = env.KEYCRM_API_KEY?.trim();
  if (!apiKey) {
    throw new UsageError(
      "KEYCRM_API_KEY is not set: export your KeyCRM API key in it (the key is never taken from a flag)",
      "check",
    );
  }
  // The environment and config file a sync reads serve the check too.
  const settings = resolveSettings("sync", withoutCheckFlags(typed), env);
  for (const option of SYNC_ONLY) delete settings[option];
  const flags = { ...settings, csv: typed.csv };
  const database = databaseOf(flags, "check");
  const coreOptions = { ...coreOptionsOf(flags, env), ...(typed.names ? { names: true } : {}) };
  const { hide, fail, warn } = stderrReporter(stderr, "check", [apiKey, ...database.secrets]);

  try {
    validateOptions(coreOptions);
  } catch (error) {
    return fail(error, EXIT.USAGE);
  }

  let sink;
  try {
    sink = await database.open();
  } catch (error) {
    return fail(error, statusOf(error, "open"));
  }
  const progress = createProgress(stderr, { quiet: Boolean(flags.quiet) });
  let report;
  try {
    report = await checkStock({
      ...coreOptions,
      apiKey,
      sink,
      onProgress: (p) => progress.update(hide(p)),
    });
  } catch (error) {
    return fail(error, statusOf(error));
  } finally {
    progress.finish(report);
    await sink.close().catch((error) => {
      warn(String(error?.message ?? error));
    });
  }

  report = hide(report);
  if (!report.complete || report.findings === undefined) {
    if (flags.json) stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return fail(report.error, statusOf(report.error));
  }
  // What the check could not do (product names it could not read), even under
  // --quiet and --json: the findings are complete, the names are not.
  for (const warning of report.findings.warnings ?? []) {
    warn(warning);
  }
  if (flags.csv !== undefined) {
    try {
      writeFileSync(flags.csv, findingsCsv(report.findings));
    } catch (error) {
      stderr.write(`error CSV: --csv ${flags.csv} could not be written (${error.code ?? error.message})\n`);
      return EXIT.FAILED;
    }
  }
  stdout.write(
    flags.json ? `${JSON.stringify(report, null, 2)}\n` : formatFindings(report, flags.csv),
  );
  return report.findings.stockDiffers.length > 0 ? EXIT.MISMATCH : EXIT.OK;
}

// The flags only `check` has stay out of the settings resolved as a sync's.
function withoutCheckFlags({ csv, names, ...flags }) {
  void csv, names;
  return flags;
}

/**
 * The findings as a few lines for people: a count per kind and its first lines.
 * @param {{ offers: number, pages: number, requests: number,
 *   findings: Record<string, any[]> }} report
 * @param {string} [csvFile] where every finding was written, if anywhere
 */
export function formatFindings(report, csvFile) {
  const { findings } = report;
  const width = Math.max(...KINDS.map(({ label }) => label.length));
  const lines = [
    `${"offers read".padEnd(width)}  ${report.offers} (${report.pages} pages, ${report.requests} requests)`,
  ];
  for (const { key, label, line } of KINDS) {
    const items = findings[key];
    lines.push(`${label.padEnd(width)}  ${items.length}`);
    for (const item of items.slice(0, SHOWN)) lines.push(`  ${line(item)}`);
    if (items.length > SHOWN) {
      lines.push(`  … and ${items.length - SHOWN} more (--json or --csv lists every one)`);
    }
  }
  const differ = findings.stockDiffers.length;
  lines.push(
    `${"result".padEnd(width)}  ${
      differ === 0
        ? "every stock on the site equals KeyCRM's"
        : `${differ} site ${differ === 1 ? "row differs" : "rows differ"} from KeyCRM; a sync would change ${differ === 1 ? "it" : "them"}`
    }`,
  );
  if (csvFile !== undefined) {
    lines.push(`${"csv".padEnd(width)}  every finding in ${csvFile}`);
  }
  return `${lines.join("\n")}\n`;
}

/**
 * Every finding as CSV (RFC 4180: comma-separated, CRLF line ends, a field
 * quoted when it holds a comma, a quote, a line break or surrounding
 * whitespace, quotes doubled), with a header row of CSV_COLUMNS.
 * @param {Record<string, any[]>} findings the report's `findings`
 * @returns {string}
 */
export function findingsCsv(findings) {
  const rows = [CSV_COLUMNS];
  for (const { key, kind } of KINDS) {
    for (const f of findings[key]) {
      // withoutSku lists bare offer ids.
      const item = typeof f === "number" ? { offerId: f } : f;
      rows.push([
        kind,
        item.sku ?? "",
        item.warehouseId ?? "",
        item.site ?? "",
        item.keycrm ?? "",
        (item.offerIds ?? (item.offerId === undefined ? [] : [item.offerId])).join(" "),
        item.siteSku ?? "",
        item.name ?? "",
      ]);
    }
  }
  return rows.map((row) => `${row.map(csvField).join(",")}\r\n`).join("");
}

function csvField(value) {
  // U+0000 has no place in a text file; it is written as the JSON escape.
  const text = String(value).replace(/\0/g, "\\u0000");
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

// A SKU for the terminal: quoted, so that spaces show and control characters
// cannot move the cursor.
function sku(text) {
  return JSON.stringify(text);
}

function where(f) {
  return f.warehouseId === undefined
    ? sku(f.sku)
    : `${sku(f.sku)} warehouse ${f.warehouseId}`;
}

// The product name of an offer with no site row, when names were asked for.
function productName(f) {
  if (f.name === undefined) return "";
  return f.name === null ? "  (no product name)" : `  ${JSON.stringify(f.name)}`;
}

function figure(value) {
  return value === null || value === undefined ? "NULL" : String(value);
}
