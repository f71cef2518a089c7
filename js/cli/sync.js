// `keycrm-stock-sync sync`: turns the command line into a sink and the core's
// options, runs one sync, and says how it went. Every decision about stock is the
// core's; this file only wires and reports.

import { redact } from "../errors.js";
import { syncStocks, validateOptions } from "../node.js";
import { createMysqlSink } from "../sinks/mysql.js";
import { createPostgresSink } from "../sinks/postgres.js";
import { importDriver } from "../sinks/table.js";
import { EXIT, PROGRAM, UsageError } from "./args.js";
import { createProgress, formatReport } from "./progress.js";

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
export async function runSync(flags, { env, stdout, stderr }) {
  const apiKey = env.KEYCRM_API_KEY?.trim();
  if (!apiKey) {
    throw new UsageError(
      "KEYCRM_API_KEY is not set: export your KeyCRM API key in it (the key is never taken from a flag)",
      "sync",
    );
  }
  const database = databaseOf(flags);
  const coreOptions = coreOptionsOf(flags, env);
  // Neither the API key nor a password in --db may reach the output.
  const secrets = [apiKey, ...database.secrets];
  const hide = (value) => redact(value, ...secrets);
  const fail = (error, status) => {
    const code = error?.code ?? "INTERNAL";
    const hint = status === EXIT.USAGE ? `; see ${PROGRAM} sync --help` : "";
    const text = flagNames(String(error?.message ?? error)).replace(/\.$/, "");
    stderr.write(`error ${code}: ${hide(text)}${hint}\n`);
    return status;
  };

  let sink;
  try {
    validateOptions(coreOptions);
    sink = await database.open();
  } catch (error) {
    return fail(error, statusOf(error));
  }

  const progress = flags.quiet ? null : createProgress(stderr);
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
      onProgress: progress ? (p) => progress.update(p) : undefined,
    });
  } catch (error) {
    return fail(error, statusOf(error));
  } finally {
    process.off("SIGTERM", stopping);
    process.off("SIGINT", stopping);
    progress?.finish(report);
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
  if (report.complete) return EXIT.OK;
  // A stopped run is an unfinished one (DEADLINE_EXCEEDED): exit 1, and the next
  // run continues.
  return fail(report.error, statusOf(report.error));
}

// A configuration mistake is not fixed by running again, so cron wrappers and
// people alike should be able to tell it from a failed run.
function statusOf(error) {
  return error?.code === "INVALID_CONFIG" ? EXIT.USAGE : EXIT.FAILED;
}

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
  });
  const scheme = ANY_URL.exec(db)?.[1].toLowerCase();
  if (scheme === undefined) {
    return {
      open: async () => (await sqliteSinks()).createSqliteSink({ path: db, ...layout }),
      secrets: [],
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
};

function flagNames(message) {
  const option = /^\w+/.exec(message)?.[0];
  if (option === undefined || !Object.hasOwn(FLAG_OF, option)) return message;
  return `${option} (${FLAG_OF[option]})${message.slice(option.length)}`;
}

function defined(object) {
  return Object.fromEntries(
    Object.entries(object).filter(([, value]) => value !== undefined),
  );
}
