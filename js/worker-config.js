// A scheduled sync's configuration, read from the Worker's `env` (vars and
// secrets) and from options given in code, which win. Every mistake is an
// INVALID_CONFIG error naming the variable, so a misconfigured deployment says
// what to fix in its first log line.

import { syncError } from "./errors.js";
import { warehouseList } from "./warehouse-list.js";
import { RECOMMENDED_CONFIRM_AFTER_MS } from "./webhooks.js";

/**
 * What each Workers plan allows one cron invocation, as defaults: subrequests
 * (D1 calls count), and — for the free plan's 10 ms of CPU — how many KeyCRM
 * requests (pages) the core's CPU cost per page fits in (`npm run bench:worker`).
 */
export const PLANS = {
  free: { subrequestBudget: 50, maxRequests: 20 },
  paid: { subrequestBudget: 10_000, maxRequests: undefined },
};

/**
 * Wall time one invocation spends scanning, in ms: below a one-minute cron's
 * interval, so invocations do not overlap and two runs' requests never share
 * KeyCRM's 60-a-minute window beyond its limit.
 */
const DEFAULT_WALL_BUDGET_MS = 50_000;

/** How long a lease outlives the wall budget before another invocation may take it over. */
export const LEASE_MARGIN_MS = 60_000;

/** Default name of the table that keeps the cursor, the last report and the lease. */
const DEFAULT_STATE_TABLE = "keycrm_sync_state";

const OPTION_NAMES = [
  "plan",
  "database",
  "table",
  "skuColumn",
  "stockColumn",
  "warehouseColumn",
  "observedColumn",
  "stateTable",
  "subrequestBudget",
  "wallBudgetMs",
  "sync",
  "log",
  "pacing",
  "confirmAfterMs",
  "catchUp",
];


/**
 * The longest such wait: work in waitUntil may outlive the response by 30 s, and
 * the read itself needs some of that.
 */
const MAX_CONFIRM_AFTER_MS = 20_000;

// Core options the helper sets itself; in `sync` or KEYCRM_SYNC_OPTIONS they
// would silently fight the budget and the cursor.
const RESERVED_SYNC_OPTIONS = [
  "apiKey",
  "sink",
  "maxSubrequests",
  "resumeFrom",
  "deadlineMs",
  "ordersUpdatedSince",
];

/**
 * @param {Record<string, unknown>} env the Worker's env
 * @param {import("./worker.js").ScheduledSyncOptions} options
 */
export function readScheduledConfig(env, options = {}) {
  if (env === null || typeof env !== "object") {
    throw invalid("runScheduledSync needs the Worker's env as its first argument.");
  }
  if (options === null || typeof options !== "object") {
    throw invalid("runScheduledSync's options must be an object.");
  }
  for (const name of Object.keys(options)) {
    if (!OPTION_NAMES.includes(name)) {
      throw invalid(
        `Unknown runScheduledSync option "${name}"; known: ${OPTION_NAMES.join(", ")}.`,
      );
    }
  }

  const apiKey = env.KEYCRM_API_KEY;
  if (typeof apiKey !== "string" || apiKey.trim() === "") {
    throw invalid(
      "KEYCRM_API_KEY is not set: add it as a secret (wrangler secret put KEYCRM_API_KEY).",
    );
  }
  const database = options.database ?? env.DB;
  if (typeof database?.prepare !== "function" || typeof database.batch !== "function") {
    throw invalid(
      "No D1 database: bind one as DB in wrangler.toml ([[d1_databases]] binding = \"DB\") or pass options.database.",
    );
  }

  const warehouseColumn = options.warehouseColumn ?? text(env, "KEYCRM_WAREHOUSE_COLUMN");
  const sync = {
    ...syncOptionsFromEnv(env),
    ...checkedSyncOptions(options.sync, "options.sync"),
  };
  const planName = options.plan ?? text(env, "KEYCRM_PLAN") ?? "free";
  const plan = Object.hasOwn(PLANS, planName) ? PLANS[planName] : undefined;
  if (plan === undefined) {
    throw invalid(
      `KEYCRM_PLAN must be "free" or "paid" (the Workers plan), not ${JSON.stringify(planName)}.`,
    );
  }
  const fromEnv = {
    apiUrl: text(env, "KEYCRM_API_URL"),
    rateLimitPerMinute: number(env, "KEYCRM_RATE_LIMIT"),
    maxRequests: number(env, "KEYCRM_MAX_REQUESTS") ?? plan.maxRequests,
    warehouses: warehouses(env, "KEYCRM_WAREHOUSES"),
    keepReserve: flag(env, "KEYCRM_KEEP_RESERVE"),
    fractional: flag(env, "KEYCRM_FRACTIONAL"),
    perWarehouse: warehouseColumn === undefined ? undefined : true,
  };
  for (const [name, value] of Object.entries(fromEnv)) {
    if (value !== undefined && sync[name] === undefined) sync[name] = value;
  }

  const subrequestBudget =
    options.subrequestBudget ??
    number(env, "KEYCRM_SUBREQUEST_BUDGET") ??
    plan.subrequestBudget;
  if (!Number.isInteger(subrequestBudget) || subrequestBudget < 1) {
    throw invalid(
      `The subrequest budget (KEYCRM_SUBREQUEST_BUDGET) must be a whole number ≥ 1, not ${subrequestBudget}.`,
    );
  }
  const wallBudgetMs =
    options.wallBudgetMs ?? number(env, "KEYCRM_WALL_BUDGET_MS") ?? DEFAULT_WALL_BUDGET_MS;
  if (!Number.isFinite(wallBudgetMs) || wallBudgetMs <= 0) {
    throw invalid(
      `The wall-time budget (KEYCRM_WALL_BUDGET_MS) must be a positive number of ms, not ${wallBudgetMs}.`,
    );
  }
  if (options.log !== undefined && options.log !== false && typeof options.log !== "function") {
    throw invalid("options.log must be a function or false.");
  }
  const catchUp = options.catchUp ?? flag(env, "KEYCRM_CATCH_UP") ?? false;
  if (typeof catchUp !== "boolean") {
    throw invalid("options.catchUp must be true or false.");
  }

  return {
    plan: planName,
    apiKey,
    database,
    sink: {
      table: options.table ?? text(env, "KEYCRM_TABLE"),
      skuColumn: options.skuColumn ?? text(env, "KEYCRM_SKU_COLUMN"),
      stockColumn: options.stockColumn ?? text(env, "KEYCRM_STOCK_COLUMN"),
      warehouseColumn,
      observedColumn: options.observedColumn ?? text(env, "KEYCRM_OBSERVED_COLUMN"),
    },
    stateTable: options.stateTable ?? text(env, "KEYCRM_STATE_TABLE") ?? DEFAULT_STATE_TABLE,
    subrequestBudget,
    wallBudgetMs,
    catchUp,
    sync,
    log: options.log ?? defaultLog,
  };
}

/** Core options of a scan that a webhook cannot honour: it names its own rows. */
const SCAN_ONLY_OPTIONS = ["offerIds", "skus", "orderId", "resumeFrom", "zeroMissing", "ordersUpdatedSince"];

/**
 * The webhook endpoint's configuration: the scheduled sync's (the same D1 table,
 * columns, warehouses and core options) plus the secret KeyCRM sends as `?token=`.
 * @param {Record<string, unknown>} env the Worker's env
 * @param {import("./worker.js").ScheduledSyncOptions} options
 */
export function readWebhookConfig(env, options = {}) {
  const token = env === null || typeof env !== "object" ? undefined : env.KEYCRM_WEBHOOK_TOKEN;
  if (typeof token !== "string" || token.trim() === "") {
    throw invalid(
      "KEYCRM_WEBHOOK_TOKEN is not set: add a random string of at least 16 characters as a secret (wrangler secret put KEYCRM_WEBHOOK_TOKEN) and put it in the webhook URLs as ?token=.",
    );
  }
  const config = readScheduledConfig(env, options);
  const sync = Object.fromEntries(
    Object.entries(config.sync).filter(([name]) => !SCAN_ONLY_OPTIONS.includes(name)),
  );
  const confirmAfterMs =
    options.confirmAfterMs ?? number(env, "KEYCRM_CONFIRM_AFTER_MS") ?? RECOMMENDED_CONFIRM_AFTER_MS;
  if (!(confirmAfterMs >= 0 && confirmAfterMs <= MAX_CONFIRM_AFTER_MS)) {
    throw invalid(
      `KEYCRM_CONFIRM_AFTER_MS must be between 0 (never) and ${MAX_CONFIRM_AFTER_MS} ms, within what waitUntil keeps a Worker alive; not ${confirmAfterMs}.`,
    );
  }
  return { ...config, token: token.trim(), sync, confirmAfterMs };
}

function syncOptionsFromEnv(env) {
  const raw = env.KEYCRM_SYNC_OPTIONS;
  if (raw === undefined || raw === null || raw === "") return {};
  let parsed = raw;
  if (typeof raw === "string") {
    try {
      parsed = JSON.parse(raw);
    } catch (cause) {
      throw invalid(`KEYCRM_SYNC_OPTIONS is not JSON: ${cause.message}`, cause);
    }
  }
  return checkedSyncOptions(parsed, "KEYCRM_SYNC_OPTIONS");
}

function checkedSyncOptions(value, where) {
  if (value === undefined) return {};
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw invalid(`${where} must be an object of syncStocks options.`);
  }
  for (const name of RESERVED_SYNC_OPTIONS) {
    if (name in value) {
      throw invalid(
        `${where} may not set ${name}: the scheduled sync sets it from its budget, cursor and secrets.`,
      );
    }
  }
  return { ...value };
}

function text(env, name) {
  const value = env[name];
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") {
    throw invalid(`${name} must be a string, not ${JSON.stringify(value)}.`);
  }
  return value.trim();
}

function number(env, name) {
  const value = env[name];
  if (value === undefined || value === null || value === "") return undefined;
  const parsed = typeof value === "number" ? value : Number(String(value).trim());
  if (!Number.isFinite(parsed)) {
    throw invalid(`${name} must be a number, not ${JSON.stringify(value)}.`);
  }
  return parsed;
}

function flag(env, name) {
  const value = env[name];
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value === "boolean") return value;
  const word = String(value).trim().toLowerCase();
  if (["true", "1", "yes"].includes(word)) return true;
  if (["false", "0", "no"].includes(word)) return false;
  throw invalid(`${name} must be true or false, not ${JSON.stringify(value)}.`);
}

function warehouses(env, name) {
  const raw = text(env, name);
  return raw === undefined ? undefined : warehouseList(raw, name, (message) => invalid(`${message}.`));
}

function defaultLog(entry) {
  const failed =
    entry.error !== undefined &&
    entry.error.code !== "BUDGET_EXHAUSTED" &&
    entry.error.code !== "DEADLINE_EXCEEDED";
  // One object per run: Workers Logs indexes its fields.
  (failed ? console.error : console.log)(entry);
}

function invalid(message, cause) {
  return syncError("INVALID_CONFIG", message, cause);
}
