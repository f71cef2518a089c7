// What a person watching a run sees: progress on stderr while it runs, and a
// summary of the report on stdout at the end.

const BAR_WIDTH = 24;
const PLAIN_EVERY_MS = 5_000;
const SAMPLE_SHOWN = 5;

/**
 * A progress display: one redrawn line on a terminal, otherwise a plain line at
 * most every five seconds (logs of cron jobs stay readable) and one at the end.
 * @param {NodeJS.WriteStream} stream
 */
export function createProgress(stream) {
  const terminal = Boolean(stream.isTTY);
  let latest = null;
  let printedAt = -Infinity;
  let printed = "";

  function line(p) {
    const total = p.pages + p.pagesLeft;
    const counts = `pages ${p.pages}/${total}  offers ${p.offers}  updated ${p.updated}`;
    const eta =
      p.pagesLeft > 0 && p.etaMs !== undefined
        ? `  ETA ${duration(p.etaMs)}`
        : "";
    if (!terminal) return `${counts}${eta}`;
    const filled = total > 0 ? Math.round((BAR_WIDTH * p.pages) / total) : 0;
    const bar = "#".repeat(filled) + "-".repeat(BAR_WIDTH - filled);
    // A line wider than the terminal would wrap and break the redraw.
    return `[${bar}] ${counts}${eta}`.slice(0, (stream.columns || 80) - 1);
  }

  function show(progress, force) {
    latest = progress;
    const text = line(progress);
    if (terminal) {
      // \r back to the start; \x1b[K clears what a longer line left behind.
      stream.write(`\r${text}\x1b[K`);
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
    /** Takes the core's progress: `{pages, pagesLeft, offers, updated, requests, etaMs}`. */
    update(progress) {
      show(progress, false);
    },
    /**
     * Ends the display with the final state. Given the report, that state is
     * the report's: the last batch is written after the last progress call.
     */
    finish(report) {
      if (latest === null) return;
      const { pages, offers, updated } = report ?? latest;
      const pagesLeft = report?.complete ? 0 : latest.pagesLeft;
      show({ pages, pagesLeft, offers, updated }, true);
      if (terminal) stream.write("\n");
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
        " (not written)",
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
