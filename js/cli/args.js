// The command line's grammar: which commands exist, which flags each takes, how a
// flag's text becomes a value, and the help generated from the same table, so
// `--help` cannot forget a flag the parser accepts.

import { parseArgs } from "node:util";
import { warehouseList } from "../warehouse-list.js";
import { nearest } from "./suggest.js";

export const PROGRAM = "keycrm-stock-sync";

/**
 * Exit statuses, as `sync --help` documents them: OK the run completed; FAILED
 * it did not, and a later run may (an outage, a deadline); USAGE the command
 * line or configuration is wrong; FATAL it failed in a way retrying will not
 * fix (the key refused, an unknown warehouse, a missing table); LOCKED another
 * run on the same database holds the lock, so this one did nothing; MISMATCH
 * (`check` only) the check completed and stocks on the site differ from KeyCRM's.
 */
export const EXIT = Object.freeze({
  OK: 0,
  FAILED: 1,
  USAGE: 2,
  FATAL: 3,
  LOCKED: 4,
  MISMATCH: 5,
});

/** A mistake in the command line itself; the CLI exits 2 with `hint`. */
export class UsageError extends Error {
  constructor(message, command) {
    super(message);
    this.name = "UsageError";
    this.hint = `see ${PROGRAM} ${command ? `${command} ` : ""}--help`;
  }
}

const HELP_FLAG = { type: "boolean", short: "h", help: "show this help" };

const SYNC_FLAGS = {
  db: {
    type: "string",
    value: "FILE|URL",
    help: "the site database (required): a SQLite file, or a postgres:// or mysql:// (mariadb://) URL; its password is never printed",
  },
  "api-url": {
    type: "string",
    value: "URL",
    help: "KeyCRM API base. Default: $KEYCRM_API_URL, else https://openapi.keycrm.app/v1",
  },
  table: {
    type: "string",
    value: "NAME",
    help: "table holding the stock, or schema.table. Default: products",
  },
  "sku-column": {
    type: "string",
    value: "NAME",
    help: "column matched against KeyCRM's SKU. Default: sku",
  },
  "stock-column": {
    type: "string",
    value: "NAME",
    help: "column the stock is written to. Default: stock",
  },
  "warehouse-column": {
    type: "string",
    value: "NAME",
    help: "column holding the KeyCRM warehouse id; needed with --per-warehouse",
  },
  "observed-column": {
    type: "string",
    value: "NAME",
    help: "integer column keeping when each figure was seen in KeyCRM, so an older one never overwrites a newer one",
  },
  warehouses: {
    type: "string",
    value: "LIST",
    parse: warehouses,
    help: "sum only these warehouses: comma-separated ids (digits only) or names. Default: all",
  },
  "per-warehouse": {
    type: "boolean",
    help: "write one row per SKU and warehouse instead of one per SKU",
  },
  "keep-reserve": {
    type: "boolean",
    help: "count reserved units as available (write quantity, not quantity - reserve)",
  },
  fractional: {
    type: "boolean",
    help: "keep fractional stock (goods sold by weight) instead of whole units",
  },
  "zero-missing": {
    type: "boolean",
    help: "set to 0 the site rows whose SKU KeyCRM does not have (after a complete scan only)",
  },
  "rate-limit": {
    type: "string",
    value: "N",
    parse: positiveInteger,
    help: "requests per minute to KeyCRM. Default: 60, KeyCRM's own limit",
  },
  deadline: {
    type: "string",
    value: "SECONDS",
    parse: positiveSeconds,
    help: "stop the run after this many seconds. Default: none",
  },
  "max-requests": {
    type: "string",
    value: "N",
    parse: positiveInteger,
    help: "stop the run after this many requests. Default: none",
  },
  skus: {
    type: "string",
    value: "LIST",
    parse: skuList,
    help: "sync only these SKUs, comma-separated. Default: all",
  },
  "offer-ids": {
    type: "string",
    value: "LIST",
    parse: idList,
    help: "sync only these KeyCRM offer ids, comma-separated. Default: all",
  },
  state: {
    type: "string",
    value: "FILE",
    help: "keep the scan's place in this file: a run that stops early (deadline, budget, signal) is continued by the next one; a complete scan clears it, and keeps the time --catch-up starts from",
  },
  "catch-up": {
    type: "boolean",
    help: "with --state: sync only the offers of the orders changed since the last check kept there (a complete full sync or catch-up sets it), instead of a full scan",
  },
  "sink-timeout": {
    type: "string",
    value: "SECONDS",
    parse: positiveSeconds,
    help: "give up on one database call after this long (SINK_FAILED). Default: 30",
  },
  "statement-timeout": {
    type: "string",
    value: "SECONDS",
    parse: nonNegative("seconds"),
    help: "PostgreSQL/MySQL: the server ends a statement after this long; 0 for no limit. Default: the sink's",
  },
  config: {
    type: "string",
    value: "FILE",
    help: "read options from this JSON file ({\"db\": \"shop.sqlite\", \"rate-limit\": 30, …}); flags and the environment win",
  },
  "dry-run": {
    type: "boolean",
    help: "read and compare everything, write nothing; the report says what would change",
  },
  json: {
    type: "boolean",
    help: "print the report as JSON on stdout, and nothing else there",
  },
  quiet: {
    type: "boolean",
    help: "no progress on stderr (warnings and errors are still printed)",
  },
  help: HELP_FLAG,
};

const SERVE_FLAGS = {
  ...Object.fromEntries(
    Object.entries(SYNC_FLAGS).filter(
      ([name]) =>
        ![
          "json",
          "quiet",
          "dry-run",
          "zero-missing",
          "deadline",
          "max-requests",
          "skus",
          "offer-ids",
          "state",
          "catch-up",
          "sink-timeout",
          "statement-timeout",
          "config",
          "help",
        ].includes(name),
    ),
  ),
  "confirm-after": {
    type: "string",
    value: "SECONDS",
    parse: nonNegative("seconds"),
    help: "seconds after a stock webhook before its offers are read again from KeyCRM, which puts right deliveries out of order; 0 for never. Default: 10",
  },
  port: {
    type: "string",
    value: "N",
    parse: positiveInteger,
    help: "port of the webhook endpoint. Default: 8080",
  },
  host: {
    type: "string",
    value: "ADDRESS",
    help: "address to listen on; 0.0.0.0 for every interface. Default: 127.0.0.1 (behind a reverse proxy)",
  },
  interval: {
    type: "string",
    value: "MINUTES",
    parse: nonNegative("minutes"),
    help: "minutes between full syncs, the first at start; 0 for webhooks only. Default: 60",
  },
  "catch-up-interval": {
    type: "string",
    value: "MINUTES",
    parse: nonNegative("minutes"),
    help: "minutes between catch-ups of the orders changed since the last check (their offers synced), run between full syncs; 0 for none. Default: 0",
  },
  "stale-after": {
    type: "string",
    value: "N",
    parse: positiveInteger,
    help: "/healthz answers 503 STALE when no full sync completed within N intervals. Default: 3",
  },
  "log-format": {
    type: "string",
    value: "text|json",
    parse: logFormat,
    help: "log lines on stderr as text, or as JSON lines (one object per event). Default: text",
  },
  help: HELP_FLAG,
};

// `check` reads as `sync` does, writes nothing, and covers the whole catalogue.
const SYNC_ONLY_FLAGS = ["zero-missing", "skus", "offer-ids", "state", "catch-up", "dry-run"];
const CHECK_FLAGS = {
  ...Object.fromEntries(
    Object.entries(SYNC_FLAGS).filter(
      ([name]) => ![...SYNC_ONLY_FLAGS, "json", "quiet", "help"].includes(name),
    ),
  ),
  json: {
    type: "boolean",
    help: "print the report with every finding as JSON on stdout, and nothing else there",
  },
  csv: {
    type: "string",
    value: "FILE",
    help: "also write every finding to FILE as CSV, one row each (columns in the README)",
  },
  names: {
    type: "boolean",
    help: "also read the product name of each offer with no site row, after the scan: one more request to KeyCRM per 50 such offers (GET /offers?filter[id]=…&include=product), paced, retried and within --max-requests like the scan's; if they fail, the names stay empty and a warning says so, the check still completes",
  },
  quiet: SYNC_FLAGS.quiet,
  help: HELP_FLAG,
};

const DEMO_FLAGS = {
  offers: {
    type: "string",
    value: "N",
    parse: positiveInteger,
    help: "offers in the sample catalogue. Default: 2000",
  },
  db: {
    type: "string",
    value: "FILE",
    help: "SQLite file to create; replaced only if an earlier demo made it. Default: ./keycrm-demo.sqlite",
  },
  "rate-limit": {
    type: "string",
    value: "N",
    parse: positiveInteger,
    help: "requests per minute, for the emulator and the sync alike. Default: 600",
  },
  json: {
    type: "boolean",
    help: "print both reports and the verification as one JSON document on stdout",
  },
  help: HELP_FLAG,
};

const COMMANDS = {
  sync: {
    flags: SYNC_FLAGS,
    usage: `${PROGRAM} sync --db FILE|URL [options]`,
    summary: "pull every stock from KeyCRM and write it to the site database",
    notes: [
      "Environment:",
      "  KEYCRM_API_KEY   your KeyCRM API key (required). It is read from the",
      "                   environment only, never from a flag: flags end up in",
      "                   shell history and in process lists. It is never printed.",
      "  KEYCRM_DB        the database, when --db is not given (else DATABASE_URL)",
      "  KEYCRM_*         every other option: KEYCRM_ and its name in capitals,",
      "                   e.g. KEYCRM_API_URL, KEYCRM_TABLE, KEYCRM_SKU_COLUMN,",
      "                   KEYCRM_KEEP_RESERVE=true, KEYCRM_STATE. Flags win over",
      "                   the environment, which wins over --config.",
      "",
      "Exit status:",
      "  0  the run completed: every offer was read and every figure written",
      "  1  the run failed, and a later run may succeed (KeyCRM or the database",
      "     unavailable, a deadline, a budget; with --state it continues there)",
      "  2  the command line or the configuration is wrong",
      "  3  the run failed, and retrying will not help until something is fixed:",
      "     the API key refused (UNAUTHORIZED), an unknown warehouse, another",
      "     4xx from KeyCRM (CRM_HTTP), a missing table or column",
      "  4  another run on this database holds its lock; this one did nothing",
      "The reason is printed as `error CODE: message`. A failed attempt is",
      "reported at once as a `warning:` line, even under --quiet.",
      "",
      "Lock: a sync takes a lock file beside a SQLite database, or in the",
      "system's temporary directory for a database URL (it guards runs on one",
      "machine). The lock of a run that died is taken over.",
      "",
      "PostgreSQL and MySQL/MariaDB need their driver installed next to this",
      "package: npm install pg, or npm install mysql2.",
      "",
      "Examples:",
      `  KEYCRM_API_KEY=... ${PROGRAM} sync --db shop.sqlite --warehouses 1,Київ`,
      `  KEYCRM_API_KEY=... ${PROGRAM} sync --db shop.sqlite --state /var/lib/keycrm/shop.state --deadline 240 --quiet`,
      `  KEYCRM_API_KEY=... ${PROGRAM} sync --db postgres://shop:PASSWORD@localhost/shop --table catalog.variants`,
    ],
  },
  check: {
    flags: CHECK_FLAGS,
    usage: `${PROGRAM} check --db FILE|URL [options]`,
    summary:
      "list where the site's stock and KeyCRM's disagree, reading both and writing nothing",
    notes: [
      "Reads the whole catalogue with the options of sync, then every row of the",
      "site, and lists every finding: stocks that differ (site → KeyCRM), site rows",
      "whose SKU KeyCRM lacks, offers with no site row, offers without SKU, SKUs",
      "on several offers, SKUs that differ from a site SKU only in letter case or",
      "surrounding spaces, and SKUs skipped as invalid. Environment and --config",
      "as for sync (settings only sync uses, such as KEYCRM_STATE, are ignored).",
      "It takes no lock: it writes nothing.",
      "",
      "Exit status:",
      "  0  the check completed and every stock on the site equals KeyCRM's",
      "     (other findings may still be listed)",
      "  5  the check completed and stocks differ: a sync would change them",
      "  1, 2, 3  as for sync: the check failed (retry later / fix the command",
      "     line / fix the setup), and no findings are printed",
      "",
      "Examples:",
      `  KEYCRM_API_KEY=... ${PROGRAM} check --db shop.sqlite`,
      `  KEYCRM_API_KEY=... ${PROGRAM} check --db shop.sqlite --csv mismatches.csv --quiet`,
      `  KEYCRM_API_KEY=... ${PROGRAM} check --db shop.sqlite --names   # +1 request per 50 offers with no site row`,
    ],
  },
  serve: {
    flags: SERVE_FLAGS,
    usage: `${PROGRAM} serve --db FILE|URL [options]`,
    summary:
      "receive KeyCRM's webhooks and run a full sync at an interval, in one process",
    notes: [
      "Endpoints: POST /webhooks/keycrm/stock (KeyCRM's stock webhook),",
      "POST /webhooks/keycrm/order (order trigger webhooks), GET /healthz.",
      "Put the token in the URLs you give KeyCRM: …/webhooks/keycrm/stock?token=TOKEN",
      "",
      "Environment:",
      "  KEYCRM_API_KEY         your KeyCRM API key (required); never printed",
      "  KEYCRM_WEBHOOK_TOKEN   a long random secret the webhook URLs carry (required)",
      "  KEYCRM_API_URL         KeyCRM API base, when --api-url is not given",
      "",
      "SIGTERM or SIGINT stops it cleanly: no new work, the batch in flight is",
      "written, then it exits with status 0.",
    ],
  },
  demo: {
    flags: DEMO_FLAGS,
    usage: `${PROGRAM} demo [options]`,
    summary:
      "sync a sample catalogue from a local KeyCRM emulator into a SQLite file; no account needed",
    notes: [
      "The demo syncs twice: once from scratch, then after simulating a few sales,",
      "and checks that the database ends up equal to what KeyCRM says can be sold.",
    ],
  },
  help: {
    flags: { help: HELP_FLAG },
    usage: `${PROGRAM} help [COMMAND]`,
    summary: "show help for the program or for one command",
    notes: [],
    positionals: true,
  },
};

/**
 * Reads the command line (without `node` and the script).
 * @param {string[]} argv
 * @returns {{ command: string, options: Record<string, unknown>,
 *   positionals: string[], help: boolean, version?: boolean }}
 * @throws {UsageError}
 */
export function parseCommandLine(argv) {
  const [first, ...rest] = argv;
  if (first === "--version" || first === "-v") {
    if (rest.length > 0) throw new UsageError("--version takes no arguments");
    return { command: "version", options: {}, positionals: [], help: false };
  }
  if (first === undefined || first === "--help" || first === "-h") {
    return { command: "help", options: {}, positionals: [], help: true };
  }
  const spec = COMMANDS[first];
  if (spec === undefined) {
    const what = first.startsWith("-") ? "option" : "command";
    throw new UsageError(
      `unknown ${what} ${first}; commands: ${Object.keys(COMMANDS).join(", ")}`,
    );
  }
  const { values, positionals } = readFlags(first, spec, rest);
  const { help = false, ...flags } = values;
  const options = {};
  if (!help) {
    for (const [flag, raw] of Object.entries(flags)) {
      const { parse } = spec.flags[flag];
      options[camelCase(flag)] = parse ? parse(raw, `--${flag}`, first) : raw;
    }
  }
  return { command: first, options, positionals, help };
}

function readFlags(command, spec, args) {
  const options = {};
  for (const [flag, { type, short }] of Object.entries(spec.flags)) {
    options[flag] = short ? { type, short } : { type };
  }
  try {
    return parseArgs({
      args,
      options,
      strict: true,
      allowPositionals: Boolean(spec.positionals),
    });
  } catch (error) {
    // Node's messages are good but several lines long; the first says it all.
    let message = String(error.message).split("\n")[0].replace(/\.$/, "");
    const unknown = /^Unknown option '--?([^'=]+)/.exec(message)?.[1];
    if (/^(api-?key|key|token)/i.test(unknown ?? "")) {
      message +=
        "; the API key is read from the KEYCRM_API_KEY environment variable only";
    } else if (unknown !== undefined) {
      const near = nearest(unknown, Object.keys(spec.flags));
      if (near !== undefined) message += ` (did you mean --${near}?)`;
    }
    throw new UsageError(lowerFirst(message), command);
  }
}

/** The flags `command` takes, by long name (without the dashes). */
export function flagsOf(command) {
  return COMMANDS[command].flags;
}

/**
 * A flag's value from text that came from elsewhere (the environment, a config
 * file), checked by the flag's own parser; `label` names the source in messages.
 * Booleans take true/false, 1/0 or yes/no.
 * @throws {UsageError}
 */
export function flagValue(command, flag, raw, label) {
  const spec = COMMANDS[command].flags[flag];
  if (spec.type === "boolean") {
    const word = String(raw).trim().toLowerCase();
    if (["true", "1", "yes"].includes(word)) return true;
    if (["false", "0", "no"].includes(word)) return false;
    throw new UsageError(
      `${label} must be true or false, got ${JSON.stringify(String(raw))}`,
      command,
    );
  }
  const text = String(raw).trim();
  return spec.parse ? spec.parse(text, label, command) : text;
}

/** The environment variable that stands in for a flag. */
export function envNameOf(flag) {
  return `KEYCRM_${flag.toUpperCase().replace(/-/g, "_")}`;
}

/** The name of the core option a flag sets, e.g. "sku-column" → "skuColumn". */
export function optionNameOf(flag) {
  return camelCase(flag);
}

/** The program's help, or a command's. */
export function helpText(command) {
  const spec = COMMANDS[command];
  if (spec === undefined) {
    const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
    return [
      `${PROGRAM}: keep a website's stock equal to what KeyCRM says can be sold.`,
      "",
      "Usage:",
      `  ${PROGRAM} COMMAND [options]`,
      `  ${PROGRAM} --version`,
      "",
      "Commands:",
      ...Object.entries(COMMANDS).map(
        ([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`,
      ),
      "",
      `Run \`${PROGRAM} COMMAND --help\` for a command's options.`,
      "",
    ].join("\n");
  }
  const rows = Object.entries(spec.flags).map(([flag, f]) => [
    `${f.short ? `-${f.short}, ` : "    "}--${flag}${f.value ? ` ${f.value}` : ""}`,
    f.help,
  ]);
  const width = Math.max(...rows.map(([left]) => left.length));
  return [
    `Usage: ${spec.usage}`,
    "",
    `${spec.summary[0].toUpperCase()}${spec.summary.slice(1)}.`,
    "",
    "Options:",
    ...rows.map(([left, help]) => `  ${left.padEnd(width)}  ${help}`),
    ...(spec.notes.length > 0 ? ["", ...spec.notes] : []),
    "",
  ].join("\n");
}

/** Whether `name` is a command (for `help COMMAND`). */
export function isCommand(name) {
  return Object.hasOwn(COMMANDS, name);
}

function positiveInteger(raw, flag, command) {
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || !Number.isSafeInteger(+raw)) {
    throw new UsageError(
      `${flag} needs a whole number of at least 1, got ${JSON.stringify(raw)}`,
      command,
    );
  }
  return Number(raw);
}

function positiveSeconds(raw, flag, command) {
  if (!/^\d+(\.\d+)?$/.test(raw) || Number(raw) <= 0) {
    throw new UsageError(
      `${flag} needs a number of seconds above 0, got ${JSON.stringify(raw)}`,
      command,
    );
  }
  return Number(raw);
}

function skuList(raw, flag, command) {
  const items = raw.split(",").map((item) => item.trim());
  if (items.some((item) => item === "")) {
    throw new UsageError(
      `${flag} needs comma-separated SKUs, got ${JSON.stringify(raw)}`,
      command,
    );
  }
  return [...new Set(items)];
}

function idList(raw, flag, command) {
  const items = raw.split(",").map((item) => item.trim());
  if (items.some((item) => !/^\d+$/.test(item) || !Number.isSafeInteger(+item) || +item < 1)) {
    throw new UsageError(
      `${flag} needs comma-separated offer ids (whole numbers), got ${JSON.stringify(raw)}`,
      command,
    );
  }
  return [...new Set(items.map(Number))];
}

function logFormat(raw, flag, command) {
  if (raw !== "text" && raw !== "json") {
    throw new UsageError(`${flag} is text or json, got ${JSON.stringify(raw)}`, command);
  }
  return raw;
}

function warehouses(raw, flag, command) {
  return warehouseList(raw, flag, (message) => new UsageError(message, command));
}

function camelCase(flag) {
  return flag.replace(/-([a-z])/g, (_, letter) => letter.toUpperCase());
}

function lowerFirst(text) {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

/** A parser of a number of `unit` ≥ 0, where 0 means none. */
function nonNegative(unit) {
  return (raw, flag, command) => {
    if (!/^\d+(\.\d+)?$/.test(raw)) {
      throw new UsageError(
        `${flag} needs a number of ${unit} (0 for none), got ${JSON.stringify(raw)}`,
        command,
      );
    }
    return Number(raw);
  };
}
