// Where a sync's settings come from besides the command line: the environment
// (KEYCRM_TABLE for --table, …, the Worker's names) and an optional JSON config
// file. Flags win over the environment, which wins over the file. Every value
// goes through the flag's own parser, so a mistake reads the same wherever it
// was made, with the source named.

import { readFileSync } from "node:fs";
import {
  envNameOf,
  flagsOf,
  flagValue,
  optionNameOf,
  UsageError,
} from "./args.js";
import { nearest } from "./suggest.js";

// Flags that only make sense typed: help is not a setting, and a config file
// naming another config file would be a chain nobody can follow.
const NOT_SETTINGS = new Set(["help", "config"]);

/**
 * Settings of `command`: the parsed flags, completed from the environment and
 * from the config file (`--config` or KEYCRM_CONFIG).
 * @param {string} command
 * @param {Record<string, unknown>} flags parsed flags, by option name
 * @param {Record<string, string | undefined>} env
 * @returns {Record<string, unknown>} the same shape as `flags`
 * @throws {UsageError}
 */
export function resolveSettings(command, flags, env) {
  const spec = flagsOf(command);
  const settings = { ...flags };
  for (const flag of Object.keys(spec)) {
    if (NOT_SETTINGS.has(flag)) continue;
    const option = optionNameOf(flag);
    if (settings[option] !== undefined) continue;
    for (const name of envNamesOf(flag)) {
      const raw = env[name];
      if (raw === undefined || raw.trim() === "") continue;
      settings[option] = flagValue(command, flag, raw, name);
      break;
    }
  }
  const configFile =
    flags.config ?? (env.KEYCRM_CONFIG?.trim() || undefined);
  if (configFile !== undefined) {
    const file = readConfig(command, configFile);
    for (const [option, value] of Object.entries(file)) {
      if (settings[option] === undefined) settings[option] = value;
    }
  }
  // As in the Worker, a warehouse column set outside the command line means
  // rows per warehouse.
  if (
    settings.warehouseColumn !== undefined &&
    settings.perWarehouse === undefined &&
    flags.warehouseColumn === undefined
  ) {
    settings.perWarehouse = true;
  }
  delete settings.config;
  return settings;
}

/** The environment variables of a flag, the first set one winning. */
export function envNamesOf(flag) {
  return flag === "db" ? ["KEYCRM_DB", "DATABASE_URL"] : [envNameOf(flag)];
}

/**
 * Reads a config file: one JSON object whose keys are the long flag names
 * ("sku-column"), with strings, numbers, booleans, or arrays for lists.
 */
function readConfig(command, file) {
  const spec = flagsOf(command);
  let text;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new UsageError(
      `--config ${file}: cannot read it (${error.code ?? error.message})`,
      command,
    );
  }
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(
      `--config ${file} is not JSON: ${error.message}`,
      command,
    );
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new UsageError(
      `--config ${file} must hold one JSON object of options, e.g. {"db": "shop.sqlite", "table": "products"}`,
      command,
    );
  }
  const known = Object.keys(spec).filter((flag) => !NOT_SETTINGS.has(flag));
  const settings = {};
  for (const [key, value] of Object.entries(parsed)) {
    const where = `"${key}" in ${file}`;
    if (/^(api-?key|key|token)$/i.test(key.replace(/_/g, "-"))) {
      throw new UsageError(
        `${where}: the API key is read from the KEYCRM_API_KEY environment variable only`,
        command,
      );
    }
    if (!known.includes(key)) {
      const near = nearest(key, known);
      throw new UsageError(
        `unknown option ${where}${near ? ` (did you mean "${near}"?)` : `; known: ${known.join(", ")}`}`,
        command,
      );
    }
    if (value === null) continue;
    settings[optionNameOf(key)] = flagValue(command, key, textOf(value, where, command), where);
  }
  return settings;
}

// A list may be written as an array; everything else as it would be typed.
function textOf(value, where, command) {
  if (Array.isArray(value)) {
    if (value.some((item) => typeof item === "object" && item !== null)) {
      throw new UsageError(`${where} must be a list of names or numbers`, command);
    }
    return value.join(",");
  }
  if (typeof value === "object") {
    throw new UsageError(`${where} must be a string, a number, true or false`, command);
  }
  return String(value);
}
