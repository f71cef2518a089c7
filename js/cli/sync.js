// `keycrm-stock-sync sync`: turns the command line into a sink and the core's
// options, runs one sync, and says how it went. Every decision about stock is the
// core's; this file only wires and reports.

import { redact } from "../errors.js";
import { syncStocks, validateOptions } from "../node.js";
import { createSqliteSink } from "../sinks/sqlite.js";
import { EXIT, PROGRAM, UsageError } from "./args.js";
import { createProgress, formatReport } from "./progress.js";

const NOT_YET = /^(postgres|postgresql|mysql|mariadb):\/\//i;
const ANY_URL = /^[a-z][a-z0-9+.-]*:\/\//i;

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
  const sinkOptions = sinkOptionsOf(flags);
  const coreOptions = coreOptionsOf(flags, env);
  const fail = (error, status) => {
    const code = error?.code ?? "INTERNAL";
    const hint = status === EXIT.USAGE ? `; see ${PROGRAM} sync --help` : "";
    const text = flagNames(String(error?.message ?? error)).replace(/\.$/, "");
    stderr.write(`error ${code}: ${redact(text, apiKey)}${hint}\n`);
    return status;
  };

  let sink;
  try {
    validateOptions(coreOptions);
    sink = createSqliteSink(sinkOptions);
  } catch (error) {
    return fail(error, statusOf(error));
  }

  const progress = flags.quiet ? null : createProgress(stderr);
  let report;
  try {
    report = await syncStocks({
      ...coreOptions,
      apiKey,
      sink,
      onProgress: progress ? (p) => progress.update(p) : undefined,
    });
  } catch (error) {
    return fail(error, statusOf(error));
  } finally {
    progress?.finish(report);
    // Every batch is committed as it is written, so a failed close loses
    // nothing; it is worth a line, not a different outcome.
    await sink.close().catch((error) => {
      const message = redact(String(error?.message ?? error), apiKey);
      stderr.write(`warning: ${message}\n`);
    });
  }

  report = redact(report, apiKey);
  stdout.write(
    flags.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report),
  );
  if (report.complete) return EXIT.OK;
  return fail(report.error, statusOf(report.error));
}

// A configuration mistake is not fixed by running again, so cron wrappers and
// people alike should be able to tell it from a failed run.
function statusOf(error) {
  return error?.code === "INVALID_CONFIG" ? EXIT.USAGE : EXIT.FAILED;
}

function sinkOptionsOf(flags) {
  const { db } = flags;
  if (db === undefined || db === "") {
    throw new UsageError(
      "--db is required: the SQLite file of the site, e.g. --db shop.sqlite",
      "sync",
    );
  }
  if (NOT_YET.test(db)) {
    throw new UsageError(
      `--db: ${db.split(":")[0]} databases are not supported yet; give a SQLite file path`,
      "sync",
    );
  }
  if (ANY_URL.test(db)) {
    throw new UsageError(
      "--db: only SQLite file paths are supported, not URLs",
      "sync",
    );
  }
  if (Boolean(flags.perWarehouse) !== (flags.warehouseColumn !== undefined)) {
    throw new UsageError(
      "--per-warehouse and --warehouse-column go together: rows per warehouse need the column holding the warehouse id",
      "sync",
    );
  }
  return defined({
    path: db,
    table: flags.table,
    skuColumn: flags.skuColumn,
    stockColumn: flags.stockColumn,
    warehouseColumn: flags.warehouseColumn,
  });
}

function coreOptionsOf(flags, env) {
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
