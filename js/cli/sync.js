// `keycrm-stock-sync sync`: turns the command line into a sink and the core's
// options, runs one sync, and says how it went. Every decision about stock is the
// core's; this file only wires and reports.

import { readFileSync } from "node:fs";
import path from "node:path";
import { redact } from "../errors.js";
import { syncStocks, validateOptions } from "../node.js";
import { createMysqlSink } from "../sinks/mysql.js";
import { createPostgresSink } from "../sinks/postgres.js";
import { importDriver } from "../sinks/table.js";
import { EXIT, PROGRAM, UsageError } from "./args.js";
import { resolveSettings } from "./config.js";
import { acquireLock, LockedError, lockPathOf, withoutPassword } from "./lock.js";
import { createProgress, formatReport } from "./progress.js";
import { readState, writeState } from "./state.js";

// A database URL's scheme picks the sink; the drivers load only when used.
const SINKS = {
  postgres: createPostgresSink,
  postgresql: createPostgresSink,
  mysql: createMysqlSink,
  mariadb: createMysqlSink,
};
const ANY_URL = /^([a-z][a-z0-9+.-]*):\/\//i;

/**
 * The SQLite sink's module. Its driver, better-sqlite3, is an optional
 * dependency (a native module that Workers-only installs may lack), so a
 * missing one is an INVALID_CONFIG that says how to install it.
 */
export async function sqliteSinks() {
  await importDriver("better-sqlite3", "SQLite files");
  return import("../sinks/sqlite.js");
}

/**
 * Runs `sync` with parsed flags.
 * @param {Record<string, any>} flags from parseCommandLine
 * @param {{ env: Record<string, string | undefined>,
 *   stdout: NodeJS.WriteStream, stderr: NodeJS.WriteStream }} io
 * @returns {Promise<number>} the exit status
 * @throws {UsageError} for a flag combination that cannot work
 */
export async function runSync(typed, { env, stdout, stderr }) {
  const apiKey = env.KEYCRM_API_KEY?.trim();
  if (!apiKey) {
    throw new UsageError(
      "KEYCRM_API_KEY is not set: export your KeyCRM API key in it (the key is never taken from a flag)",
      "sync",
    );
  }
  const flags = resolveSettings("sync", typed, env);
  if (flags.state !== undefined && (flags.skus ?? flags.offerIds) !== undefined) {
    throw new UsageError(
      "--state keeps the place of a whole-catalogue scan; a run of --skus or --offer-ids has none",
      "sync",
    );
  }
  if (flags.catchUp && flags.state === undefined) {
    throw new UsageError(
      "--catch-up starts from the last check kept in --state: give --state FILE",
      "sync",
    );
  }
  if (flags.catchUp && (flags.skus ?? flags.offerIds ?? flags.zeroMissing) !== undefined) {
    throw new UsageError(
      "--catch-up syncs the offers of changed orders; it cannot be combined with --skus, --offer-ids or --zero-missing",
      "sync",
    );
  }
  const database = databaseOf(flags);
  const coreOptions = coreOptionsOf(flags, env);
  // Neither the API key nor a password in --db may reach the output.
  const { hide, fail, warn } = stderrReporter(stderr, "sync", [apiKey, ...database.secrets]);

  try {
    validateOptions(coreOptions);
  } catch (error) {
    return fail(error, EXIT.USAGE);
  }

  // The lock comes before the state and the database: a second run must not
  // read a state the first is about to replace, nor scan beside it.
  let lock;
  try {
    lock = acquireLock(lockPathOf(flags.db, database.isUrl), {
      deadlineMs: coreOptions.deadlineMs,
    });
  } catch (error) {
    if (error instanceof LockedError) {
      stderr.write(`error LOCKED: ${hide(error.message)}\n`);
      return EXIT.LOCKED;
    }
    return fail(
      { code: "INVALID_CONFIG", message: `cannot take the lock beside the database: ${error.message}` },
      EXIT.USAGE,
    );
  }
  try {
    if (lock.tookOver) warn(lock.tookOver);
    return await runLocked();
  } finally {
    lock.release();
  }

  async function runLocked() {
    const state =
      flags.state === undefined
        ? undefined
        : { file: flags.state, version: packageVersion(), scan: scanOf(flags, coreOptions) };
    // The scan's place and the last check, as kept; a catch-up leaves the place.
    let keptCursor;
    let lastCheck;
    if (state !== undefined) {
      const { cursor, ordersUpdatedSince, ignored } = readState(state.file, state);
      lastCheck = ordersUpdatedSince;
      if (flags.catchUp) {
        keptCursor = cursor;
        if (ignored !== undefined || lastCheck === undefined) {
          const why = ignored ?? "it holds no check time yet";
          return fail(
            {
              code: "INVALID_CONFIG",
              message: `--catch-up needs the last check kept in --state ${state.file}, but ${why}: run a full sync with this --state first`,
            },
            EXIT.USAGE,
          );
        }
        coreOptions.ordersUpdatedSince = lastCheck;
        if (!flags.quiet) {
          stderr.write(`catching up on orders changed since ${new Date(lastCheck).toISOString()} (--state ${state.file})\n`);
        }
      } else if (ignored !== undefined) {
        warn(`--state ${state.file} is not used: ${ignored}; the scan starts from page 1, and this run's state replaces it`);
      } else if (cursor !== undefined) {
        try {
          validateOptions({ ...coreOptions, resumeFrom: cursor });
          coreOptions.resumeFrom = cursor;
          if (!flags.quiet) {
            stderr.write(`continuing the scan at page ${cursor.page} (--state ${state.file})\n`);
          }
        } catch (error) {
          warn(`--state ${state.file} is not used: its cursor is refused (${error.message}); the scan starts from page 1`);
        }
      }
    }

    let sink;
    try {
      sink = await database.open();
    } catch (error) {
      return fail(error, statusOf(error, "open"));
    }

    const progress = createProgress(stderr, { quiet: Boolean(flags.quiet) });
    // SIGTERM or SIGINT stops the run as a deadline would: the rows already read
    // are written, and the report (with its cursor) is printed. A second signal
    // finds no listener and ends the process at once.
    const stop = new AbortController();
    const stopping = (signal) => {
      // On a terminal, below the progress line rather than over it.
      const from = stderr.isTTY ? "\n" : "";
      stderr.write(
        `${from}${signal}: stopping after the batch in flight; send it again to quit at once\n`,
      );
      stop.abort();
    };
    process.once("SIGTERM", stopping);
    process.once("SIGINT", stopping);
    let report;
    try {
      report = await syncStocks({
        ...coreOptions,
        apiKey,
        sink,
        signal: stop.signal,
        onProgress: (p) => progress.update(hide(p)),
      });
    } catch (error) {
      return fail(error, statusOf(error));
    } finally {
      process.off("SIGTERM", stopping);
      process.off("SIGINT", stopping);
      progress.finish(report);
      // Every batch is committed as it is written, so a failed close loses
      // nothing; it is worth a line, not a different outcome.
      await sink.close().catch((error) => {
        stderr.write(`warning: ${hide(String(error?.message ?? error))}\n`);
      });
    }

    report = hide(report);
    stdout.write(
      flags.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report),
    );
    let stateFailed = false;
    if (state !== undefined) {
      try {
        const cursor = flags.catchUp ? keptCursor : report.cursor;
        const check =
          report.complete && !report.dryRun ? (report.nextOrdersUpdatedSince ?? lastCheck) : lastCheck;
        writeState(state.file, state, cursor, check);
      } catch (error) {
        stderr.write(
          `error STATE: --state ${state.file} could not be written (${error.code ?? error.message}); the next run starts from page 1\n`,
        );
        stateFailed = true;
      }
    }
    if (report.complete) return stateFailed ? EXIT.FAILED : EXIT.OK;
    // A stopped run is an unfinished one (DEADLINE_EXCEEDED): exit 1, and the next
    // run continues.
    return fail(report.error, statusOf(report.error));
  }
}

// Cron wrappers and people alike should be able to tell a mistake in the setup
// (2), a failure that running again will not fix (3), and one it may (1).
const FATAL_CODES = new Set(["UNAUTHORIZED", "UNKNOWN_WAREHOUSE", "CRM_HTTP"]);

/**
 * How a command speaks on stderr: `error CODE: …` (with a --help hint for usage
 * errors) and `warning: …`, with every secret redacted.
 * @param {NodeJS.WritableStream} stderr
 * @param {string} command
 * @param {string[]} secrets
 */
export function stderrReporter(stderr, command, secrets) {
  const hide = (value) => redact(value, ...secrets);
  const fail = (error, status) => {
    const code = error?.code ?? "INTERNAL";
    const hint = status === EXIT.USAGE ? `; see ${PROGRAM} ${command} --help` : "";
    const message = String(error?.message ?? error);
    const text = (code === "INVALID_CONFIG" ? flagNames(message) : message).replace(/\.$/, "");
    stderr.write(`error ${code}: ${hide(text)}${hint}\n`);
    return status;
  };
  const warn = (text) => stderr.write(`warning: ${hide(text)}\n`);
  return { hide, fail, warn };
}

export function statusOf(error, phase) {
  const code = error?.code;
  if (FATAL_CODES.has(code)) return EXIT.FATAL;
  if (code !== "INVALID_CONFIG") return EXIT.FAILED;
  // Opening the database found it unlike the configuration: the table or a
  // column is missing. The options themselves were fine.
  const missing = /\bdoes not exist\b|\bhas no column\b|\bNo attached database\b/;
  return phase === "open" && missing.test(String(error.message))
    ? EXIT.FATAL
    : EXIT.USAGE;
}

/** This package's version, which a state file must match. */
function packageVersion() {
  const pkg = new URL("../../package.json", import.meta.url);
  return JSON.parse(readFileSync(pkg, "utf8")).version;
}

/**
 * What a state file's cursor belongs to: the API (host and path, no key), the
 * database (no password), the table and columns, and the options that shape
 * the figures. See state.js.
 */
function scanOf(flags, coreOptions) {
  let api = coreOptions.apiUrl ?? DEFAULT_API_URL;
  try {
    const url = new URL(api);
    api = `${url.host}${url.pathname.replace(/\/+$/, "")}`;
  } catch {
    // validateOptions accepted it; keep it as given.
  }
  const isUrl = ANY_URL.test(flags.db);
  return {
    api,
    database: isUrl ? withoutPassword(flags.db) : path.resolve(flags.db),
    table: flags.table ?? "products",
    skuColumn: flags.skuColumn ?? "sku",
    stockColumn: flags.stockColumn ?? "stock",
    warehouseColumn: flags.warehouseColumn ?? null,
    warehouses: coreOptions.warehouses ?? [],
    perWarehouse: Boolean(coreOptions.perWarehouse),
    keepReserve: Boolean(coreOptions.keepReserve),
    fractional: Boolean(coreOptions.fractional),
    dryRun: Boolean(coreOptions.dryRun),
  };
}

const DEFAULT_API_URL = "https://openapi.keycrm.app/v1";

/**
 * What --db names: how to open a sink over it, and the secrets its text holds.
 * @returns {{ open: () => Promise<import("../sinks/sink.js").StockSink>,
 *   secrets: string[] }}
 */
export function databaseOf(flags, command = "sync") {
  const { db } = flags;
  if (db === undefined || db === "") {
    throw new UsageError(
      "--db is required: the site database, a SQLite file (--db shop.sqlite) or a postgres:// or mysql:// URL",
      command,
    );
  }
  if (Boolean(flags.perWarehouse) !== (flags.warehouseColumn !== undefined)) {
    throw new UsageError(
      "--per-warehouse and --warehouse-column go together: rows per warehouse need the column holding the warehouse id",
      command,
    );
  }
  const layout = defined({
    table: flags.table,
    skuColumn: flags.skuColumn,
    stockColumn: flags.stockColumn,
    warehouseColumn: flags.warehouseColumn,
    observedColumn: flags.observedColumn,
    // The sink refuses a column of whole numbers for fractional stock.
    fractional: flags.fractional,
    statementTimeoutMs:
      flags.statementTimeout === undefined
        ? undefined
        : Math.round(flags.statementTimeout * 1000),
  });
  const scheme = ANY_URL.exec(db)?.[1].toLowerCase();
  if (scheme === undefined) {
    return {
      open: async () => (await sqliteSinks()).createSqliteSink({ path: db, ...layout }),
      secrets: [],
      isUrl: false,
    };
  }
  const create = Object.hasOwn(SINKS, scheme) ? SINKS[scheme] : undefined;
  if (create === undefined) {
    throw new UsageError(
      `--db: ${scheme}:// is not a database this program writes to; give a SQLite file path or a postgres://, postgresql://, mysql:// or mariadb:// URL`,
      command,
    );
  }
  return {
    open: () => create({ url: db, ...layout }),
    secrets: passwordsIn(db),
    isUrl: true,
  };
}

// The password as typed (percent-encoded) and as decoded: a driver may quote
// either. The URL itself is never echoed, so even one that does not parse is safe.
function passwordsIn(url) {
  let typed;
  try {
    typed = new URL(url).password;
  } catch {
    typed = /^[^:]+:\/\/[^:@/]*:([^@/]*)@/.exec(url)?.[1] ?? "";
  }
  if (typed === "") return [];
  let decoded = typed;
  try {
    decoded = decodeURIComponent(typed);
  } catch {
    // A malformed escape: the typed form is all there is.
  }
  return [...new Set([typed, decoded])];
}

export function coreOptionsOf(flags, env) {
  const apiUrl = flags.apiUrl ?? (env.KEYCRM_API_URL?.trim() || undefined);
  return defined({
    apiUrl,
    rateLimitPerMinute: flags.rateLimit,
    warehouses: flags.warehouses,
    perWarehouse: flags.perWarehouse,
    keepReserve: flags.keepReserve,
    fractional: flags.fractional,
    zeroMissing: flags.zeroMissing,
    dryRun: flags.dryRun,
    deadlineMs:
      flags.deadline === undefined
        ? undefined
        : Math.max(1, Math.round(flags.deadline * 1000)),
    maxRequests: flags.maxRequests,
    skus: flags.skus,
    offerIds: flags.offerIds,
    sinkTimeoutMs:
      flags.sinkTimeout === undefined
        ? undefined
        : Math.max(1, Math.round(flags.sinkTimeout * 1000)),
  });
}

// The core names its options as the library does; say which flag sets each.
const FLAG_OF = {
  apiUrl: "--api-url",
  rateLimitPerMinute: "--rate-limit",
  warehouses: "--warehouses",
  deadlineMs: "--deadline",
  maxRequests: "--max-requests",
  zeroMissing: "--zero-missing",
  skus: "--skus",
  offerIds: "--offer-ids",
  sinkTimeoutMs: "--sink-timeout",
  statementTimeoutMs: "--statement-timeout",
};

export function flagNames(message) {
  const named = new Set();
  return message.replace(/\b[a-z]\w*\b/gi, (word, at) => {
    if (!Object.hasOwn(FLAG_OF, word) || named.has(word)) return word;
    // Already named ("statementTimeoutMs (--statement-timeout)") by the sink.
    if (message.startsWith(` (${FLAG_OF[word]}`, at + word.length)) return word;
    named.add(word);
    return `${word} (${FLAG_OF[word]})`;
  });
}

function defined(object) {
  return Object.fromEntries(
    Object.entries(object).filter(([, value]) => value !== undefined),
  );
}
