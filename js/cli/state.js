// The --state file: where an unfinished scan continues, and the time the next
// catch-up of changed orders starts from (`ordersUpdatedSince`, Unix ms). It holds
// the report's cursor with what the scan was of, so a cursor is never applied to another
// catalogue, database or set of options. Written to a temporary file and renamed
// over the old one, so a crash leaves the old state or the new, never half.
//
// "The same scan" means the same package version (a cursor's meaning may change
// between versions), the same KeyCRM API (host and path of the base URL; never
// the key), the same database (a SQLite file's absolute path, or a URL without
// its password), table and columns, and the options that shape the figures
// written: warehouses, per-warehouse rows, the reserve, fractions, a dry run.

import fs from "node:fs";
import path from "node:path";

const FORMAT = "keycrm-stock-sync state";

/**
 * Reads the state file. A missing file is no state; one that cannot be used is
 * ignored with a reason.
 * @param {string} file
 * @param {{ version: string, scan: Record<string, unknown> }} expected
 * @returns {{ cursor?: object, ordersUpdatedSince?: number, ignored?: string }}
 */
export function readState(file, { version, scan }) {
  let text;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (error) {
    if (error.code === "ENOENT") return {};
    return { ignored: `it cannot be read (${error.code ?? error.message})` };
  }
  let state;
  try {
    state = JSON.parse(text);
  } catch {
    return { ignored: "it is not JSON (damaged, or not a state file)" };
  }
  const hasCursor = typeof state?.cursor === "object" && state.cursor !== null;
  const hasCheck = Number.isSafeInteger(state?.ordersUpdatedSince) && state.ordersUpdatedSince >= 0;
  if (state?.format !== FORMAT || !(hasCursor || hasCheck)) {
    return { ignored: "it is not a state file of this program" };
  }
  if (state.version !== version) {
    return {
      ignored: `it was written by version ${state.version} and this is ${version}`,
    };
  }
  const differences = Object.keys({ ...scan, ...state.scan })
    .filter((key) => JSON.stringify(state.scan?.[key]) !== JSON.stringify(scan[key]))
    .map(
      (key) =>
        `${key} ${JSON.stringify(state.scan?.[key] ?? null)} there, ${JSON.stringify(scan[key] ?? null)} here`,
    );
  if (differences.length > 0) {
    return {
      ignored: `it is the state of another scan (${differences.join("; ")})`,
    };
  }
  return {
    ...(hasCursor ? { cursor: state.cursor } : {}),
    ...(hasCheck ? { ordersUpdatedSince: state.ordersUpdatedSince } : {}),
  };
}

/**
 * Keeps `cursor` and the next catch-up's start in the file, or removes the file
 * when there is neither (the scan completed, or ended where it cannot be
 * continued, and no check time is known).
 * @throws {Error} when the file cannot be written or removed
 */
export function writeState(file, { version, scan }, cursor, ordersUpdatedSince) {
  const check = Number.isSafeInteger(ordersUpdatedSince) ? { ordersUpdatedSince } : {};
  if ((cursor === undefined || cursor === null) && check.ordersUpdatedSince === undefined) {
    fs.rmSync(file, { force: true });
    return;
  }
  const text = `${JSON.stringify(
    {
      format: FORMAT,
      version,
      savedAt: new Date().toISOString(),
      scan,
      ...(cursor === undefined || cursor === null ? {} : { cursor }),
      ...check,
    },
    null,
    2,
  )}\n`;
  const temporary = path.join(
    path.dirname(file),
    `.${path.basename(file)}.${process.pid}.tmp`,
  );
  const handle = fs.openSync(temporary, "w");
  try {
    fs.writeFileSync(handle, text);
    fs.fsyncSync(handle);
  } finally {
    fs.closeSync(handle);
  }
  fs.renameSync(temporary, file);
}
