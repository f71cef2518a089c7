// What a scheduled sync remembers between invocations, in one small D1 table:
// the lease (so two overlapping crons never scan at once), the cursor of an
// unfinished scan, the time the next catch-up of changed orders starts from,
// and the last reports. Each of the two moments that touch it
// — claiming at the start, finishing at the end — is one D1 batch: one
// subrequest, one transaction.

import { assertTableName, quoteIdentifier } from "./sinks/identifiers.js";
import { sinkFailed } from "./sinks/table.js";

/** D1 calls the state costs per invocation: the claim and the finish. */
export const STATE_CALLS = 2;

const LEASE = "lease";
const CURSOR = "cursor";
const ORDERS_CHECK = "orders_updated_since";
const REPORT = "report";
const COMPLETE_REPORT = "complete_report";

/**
 * @param {import("./sinks/d1.js").D1DatabaseLike} db
 * @param {string} name the state table
 */
export function syncState(db, name) {
  const table = quoteIdentifier(assertTableName(name, "stateTable"));
  const held = `EXISTS (SELECT 1 FROM ${table} WHERE key = '${LEASE}' AND value = ?)`;

  function put(key, value, now, token) {
    return db
      .prepare(
        `INSERT INTO ${table} (key, value, updated_at) SELECT ?, ?, ? WHERE ${held} ` +
          `ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, expires_at = NULL`,
      )
      .bind(key, value, now, token);
  }

  return {
    /**
     * Creates the table if missing, takes the lease unless another invocation
     * holds one that has not expired, and reads the cursor and the last check.
     * @returns {Promise<{ acquired: boolean, cursor: unknown, ordersUpdatedSince: number | null,
     *   leaseExpiresAt: number | null }>}
     */
    async claim(token, now, leaseMs) {
      let results;
      try {
        results = await db.batch([
          db.prepare(
            `CREATE TABLE IF NOT EXISTS ${table} (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at INTEGER NOT NULL, expires_at INTEGER)`,
          ),
          db
            .prepare(
              `INSERT INTO ${table} (key, value, updated_at, expires_at) VALUES ('${LEASE}', ?, ?, ?) ` +
                `ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, expires_at = excluded.expires_at ` +
                // Unqualified, expires_at is the lease already there.
                `WHERE expires_at IS NULL OR expires_at <= ?`,
            )
            .bind(token, now, now + leaseMs, now),
          db
            .prepare(
              `SELECT key, value, expires_at AS expiresAt FROM ${table} WHERE key IN ('${LEASE}', '${CURSOR}', '${ORDERS_CHECK}')`,
            ),
        ]);
      } catch (cause) {
        throw sinkFailed(`Could not read the sync state from D1 table "${name}"`, cause);
      }
      const rows = new Map(
        (results[2]?.results ?? []).map((row) => [row.key, row]),
      );
      const lease = rows.get(LEASE);
      return {
        acquired: lease?.value === token,
        cursor: parseCursor(rows.get(CURSOR)?.value),
        ordersUpdatedSince: parseTime(rows.get(ORDERS_CHECK)?.value),
        leaseExpiresAt: lease?.expiresAt ?? null,
      };
    },

    /**
     * Saves the cursor (or clears it), the next catch-up's start (when given),
     * the report, and releases the lease — only while this invocation still
     * holds it.
     * @returns {Promise<boolean>} whether the lease was still held
     */
    async finish(token, now, { cursor, report, ordersUpdatedSince }) {
      const json = JSON.stringify(report);
      const statements = [
        cursor
          ? put(CURSOR, JSON.stringify(cursor), now, token)
          : db
              .prepare(`DELETE FROM ${table} WHERE key = '${CURSOR}' AND ${held}`)
              .bind(token),
        put(REPORT, json, now, token),
      ];
      if (Number.isSafeInteger(ordersUpdatedSince)) {
        statements.push(put(ORDERS_CHECK, String(ordersUpdatedSince), now, token));
      }
      if (report.complete) statements.push(put(COMPLETE_REPORT, json, now, token));
      statements.push(
        db
          .prepare(`DELETE FROM ${table} WHERE key = '${LEASE}' AND value = ?`)
          .bind(token),
      );
      let results;
      try {
        results = await db.batch(statements);
      } catch (cause) {
        throw sinkFailed(`Could not save the sync state to D1 table "${name}"`, cause);
      }
      return (results.at(-1)?.meta?.changes ?? 0) > 0;
    },
  };
}

/** A stored time in Unix ms, or null when there is none or it is not one. */
function parseTime(value) {
  const time = typeof value === "string" && /^\d{1,15}$/.test(value) ? Number(value) : null;
  return Number.isSafeInteger(time) ? time : null;
}

/**
 * A stored cursor, or null when there is none or it is not one. Kept whole: the
 * core defines its fields and checks them when it resumes.
 */
function parseCursor(value) {
  if (typeof value !== "string") return null;
  try {
    const cursor = JSON.parse(value);
    if (Number.isInteger(cursor?.page) && cursor.page >= 1) return cursor;
  } catch {
    // Not JSON: start afresh rather than fail every cron from now on.
  }
  return null;
}
