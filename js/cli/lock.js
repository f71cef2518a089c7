// One sync at a time per database: a lock file, created exclusively, holding the
// pid, host and start of the run that took it. A lock whose run is gone (its pid
// no longer exists on this host) or that is past its bound is taken over.
//
// For a SQLite file the lock sits beside it (shop.sqlite.lock); for a database
// URL, in the system's temporary directory under a hash of the URL without its
// password. Either way it only guards runs on one machine (or, for a SQLite file
// on a shared disk, runs that see the same file).

import { createHash, randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

/** How long a lock holds without a deadline, in ms: longer than any scan. */
const DEFAULT_BOUND_MS = 24 * 60 * 60 * 1000;
/** A run with a deadline ends well within it plus this margin (the last write). */
const DEADLINE_MARGIN_MS = 15 * 60 * 1000;

/** Another run holds the lock. */
export class LockedError extends Error {
  constructor(message) {
    super(message);
    this.name = "LockedError";
    this.code = "LOCKED";
  }
}

/**
 * The lock file of a database: beside a SQLite file, or in the temporary
 * directory for a URL.
 * @param {string} db --db as given
 * @param {boolean} isUrl
 */
export function lockPathOf(db, isUrl) {
  if (!isUrl) return `${path.resolve(db)}.lock`;
  const hash = createHash("sha256").update(withoutPassword(db)).digest("hex");
  return path.join(os.tmpdir(), `keycrm-stock-sync-${hash.slice(0, 16)}.lock`);
}

/** A database URL without its password, as it may be kept or shown. */
export function withoutPassword(url) {
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") parsed.password = "";
    return parsed.href;
  } catch {
    return url.replace(/^([^:]+:\/\/[^:@/]*):[^@/]*@/, "$1@");
  }
}

/**
 * Takes the lock at `file`.
 * @param {string} file
 * @param {{ deadlineMs?: number, now?: () => number }} [options]
 * @returns {{ release: () => void, tookOver?: string }} `tookOver` describes the
 *   stale lock that was replaced, if one was
 * @throws {LockedError} when a live run holds it
 */
export function acquireLock(file, { deadlineMs, now = Date.now } = {}) {
  const token = randomUUID();
  const started = now();
  const mine = JSON.stringify({
    pid: process.pid,
    host: os.hostname(),
    startedAt: new Date(started).toISOString(),
    expiresAt: new Date(
      started + (deadlineMs === undefined ? DEFAULT_BOUND_MS : deadlineMs + DEADLINE_MARGIN_MS),
    ).toISOString(),
    token,
  });
  let tookOver;
  if (!create(file, mine)) {
    const held = readText(file);
    const why = staleness(held, now());
    if (why === undefined) throw new LockedError(heldMessage(file, held));
    if (!claim(file, held)) throw new LockedError(heldMessage(file, readText(file)));
    if (!create(file, mine)) throw new LockedError(heldMessage(file, readText(file)));
    tookOver = `took over the lock ${file}: ${why}`;
  }
  return {
    tookOver,
    release() {
      // Only our own: a lock taken over from us (past its bound) is not ours.
      if (readText(file)?.includes(token)) fs.rmSync(file, { force: true });
    },
  };
}

// Written aside and linked into place, so no reader ever sees a lock without
// its text, and of two runs linking at once exactly one succeeds.
function create(file, text) {
  const aside = `${file}.${process.pid}.new`;
  fs.writeFileSync(aside, text);
  try {
    fs.linkSync(aside, file);
    return true;
  } catch (error) {
    if (error.code === "EEXIST") return false;
    throw error;
  } finally {
    fs.rmSync(aside, { force: true });
  }
}

function readText(file) {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (error) {
    if (error.code === "ENOENT") return undefined;
    throw error;
  }
}

/** Why the lock with this text may be taken over, or undefined if it holds. */
function staleness(text, nowMs) {
  if (text === undefined) return "it was released";
  let lock;
  try {
    lock = JSON.parse(text);
  } catch {
    lock = undefined;
  }
  // Locks are linked into place whole: one that does not parse was not
  // written by this program, or was damaged.
  if (lock === undefined || typeof lock !== "object" || lock === null) {
    return "it was unreadable";
  }
  const expires = Date.parse(lock.expiresAt);
  if (Number.isFinite(expires) && nowMs > expires) {
    return `it was past its bound (${lock.expiresAt})`;
  }
  if (lock.host === os.hostname() && Number.isSafeInteger(lock.pid) && !alive(lock.pid)) {
    return `its run (pid ${lock.pid}) is gone`;
  }
  return undefined;
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user.
    return error.code === "EPERM";
  }
}

/**
 * Moves a stale lock aside, if it is still the one judged stale: of two runs
 * taking over at once, one rename succeeds; a lock created meanwhile by a third
 * is put back.
 */
function claim(file, judged) {
  const aside = `${file}.${process.pid}.stale`;
  try {
    fs.renameSync(file, aside);
  } catch (error) {
    if (error.code === "ENOENT") return true;
    throw error;
  }
  const moved = readText(aside);
  if (moved !== judged) {
    try {
      fs.linkSync(aside, file);
    } catch {
      // A newer lock is there already; it holds.
    }
    fs.rmSync(aside, { force: true });
    return false;
  }
  fs.rmSync(aside, { force: true });
  return true;
}

function heldMessage(file, text) {
  let lock = {};
  try {
    lock = JSON.parse(text ?? "{}") ?? {};
  } catch {
    // Described without its details.
  }
  const who =
    lock.pid === undefined
      ? ""
      : ` (pid ${lock.pid}${lock.host && lock.host !== os.hostname() ? ` on ${lock.host}` : ""}, since ${lock.startedAt})`;
  return `another sync of this database is running${who}; lock file ${file}. This run did nothing; if no sync is running, remove the file`;
}
