// What a person watching a run sees: progress on stderr while it runs, and a
// summary of the report on stdout at the end.

const BAR_WIDTH = 24;
const PLAIN_EVERY_MS = 5_000;
const SAMPLE_SHOWN = 5;

/**
 * A progress display: one redrawn line on a terminal, otherwise a plain line at
 * most every five seconds (logs of cron jobs stay readable) and one at the end.
 * While a failed request waits for its retry, the line says so in place of the
 * ETA; each failed attempt (but 429s, which pacing makes rare and the report
 * counts) is also a `warning:` line at once, even when `quiet` silences the rest.
 * @param {NodeJS.WriteStream} stream
 * @param {{ quiet?: boolean }} [options]
 */
export function createProgress(stream, { quiet = false } = {}) {
  const terminal = Boolean(stream.isTTY);
  let latest = null;
  let printedAt = -Infinity;
  let printed = "";
  // The failed attempt being waited out: its notice and when it was seen.
  let retry = null;
  let ticker = null;
  let drawn = false;

  function line(p) {
    const total = p.pages + p.pagesLeft;
    const counts = `pages ${p.pages}/${total}  offers ${p.offers}  updated ${p.updated}`;
    const eta = retry
      ? `  ${retrying()}`
      : p.pagesLeft > 0 && p.etaMs !== undefined
        ? `  ETA ${duration(p.etaMs)}`
        : "";
    if (!terminal) return `${counts}${eta}`;
    const filled = total > 0 ? Math.round((BAR_WIDTH * p.pages) / total) : 0;
    const bar = "#".repeat(filled) + "-".repeat(BAR_WIDTH - filled);
    // A line wider than the terminal would wrap and break the redraw.
    return `[${bar}] ${counts}${eta}`.slice(0, (stream.columns || 80) - 1);
  }

  function retrying() {
    const left = Math.ceil((retry.notice.waitMs - (Date.now() - retry.seenAt)) / 1000);
    const when = left > 0 ? `in ${left} s` : "now";
    return `retrying ${retry.notice.request} ${when} (${retry.notice.reason})`;
  }

  // A new failed attempt: one warning line, and the countdown on a terminal.
  function noticed(notice) {
    if (notice === undefined) {
      retry = null;
      stopTicking();
      return false;
    }
    if (retry?.notice.failure === notice.failure) return false;
    retry = { notice, seenAt: Date.now() };
    if (!/\b429\b/.test(notice.reason)) {
      const seconds = Math.max(1, Math.round(notice.waitMs / 1000));
      const text =
        `warning: ${notice.request} failed: ${notice.reason}; ` +
        `retry ${notice.retry} of ${notice.maxRetries} in ${seconds} s`;
      // Above the progress line on a terminal, rather than over it.
      stream.write(`${terminal && drawn ? "\r\x1b[K" : ""}${text}\n`);
    }
    if (terminal && !quiet && ticker === null) {
      ticker = setInterval(() => latest && show(latest, true), 1000);
      ticker.unref?.();
    }
    return true;
  }

  function stopTicking() {
    if (ticker !== null) clearInterval(ticker);
    ticker = null;
  }

  function show(progress, force) {
    latest = progress;
    if (quiet) return;
    const text = line(progress);
    if (terminal) {
      // \r back to the start; \x1b[K clears what a longer line left behind.
      stream.write(`\r${text}\x1b[K`);
      drawn = true;
    } else if (
      text !== printed &&
      (force || Date.now() - printedAt >= PLAIN_EVERY_MS)
    ) {
      printedAt = Date.now();
      printed = text;
      stream.write(`${text}\n`);
    }
  }

  return {
    /** Takes the core's progress: `{pages, pagesLeft, offers, updated, requests, etaMs, retry?}`. */
    update(progress) {
      // A retry's line goes out at once, not on the next five-second tick.
      show(progress, noticed(progress.retry));
    },
    /**
     * Ends the display with the final state. Given the report, that state is
     * the report's: the last batch is written after the last progress call.
     */
    finish(report) {
      stopTicking();
      retry = null;
      if (latest === null) return;
      const { pages, offers, updated } = report ?? latest;
      const pagesLeft = report?.complete ? 0 : latest.pagesLeft;
      show({ pages, pagesLeft, offers, updated }, true);
      if (terminal && !quiet) stream.write("\n");
      latest = null;
    },
  };
}

/** The report as a few aligned lines for people. */
export function formatReport(report) {
  const rows = [
    ["offers read", `${report.offers} (${report.pages} pages)`],
    [
      report.dryRun ? "would update" : "updated",
      report.updated + (report.zeroed > 0 ? ` (+${report.zeroed} zeroed)` : ""),
    ],
    ["unchanged", report.unchanged],
    ["not on site", listed(report.notOnSite.count, report.notOnSite.sample)],
    ["without SKU", report.withoutSku],
    [
      "duplicate SKUs",
      listed(
        report.duplicateSkus.length,
        report.duplicateSkus,
        " (each given its offers' smallest figure)",
      ),
    ],
    [
      "requests",
      `${report.requests} (${report.retries} retries, ${report.rateLimited} answered 429)`,
    ],
    ["duration", duration(report.durationMs)],
    [
      "result",
      report.complete
        ? `complete${report.dryRun ? " (dry run: nothing written)" : ""}`
        : `incomplete: ${report.error?.code}: ${report.error?.message}`,
    ],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows
    .map(([label, value]) => `${label.padEnd(width)}  ${value}\n`)
    .join("");
}

// A count and the first few of its items; --json has them all.
function listed(count, items, note = "") {
  if (items.length === 0) return String(count);
  const shown = items.slice(0, SAMPLE_SHOWN).join(", ");
  return `${count}  e.g. ${shown}${count > SAMPLE_SHOWN ? ", …" : ""}${note}`;
}

function duration(ms) {
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return ms < 1000 ? `${ms} ms` : `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${String(seconds % 60).padStart(2, "0")} s`;
}
