// Counters, gauges and histograms written in Prometheus' text exposition format
// (version 0.0.4). Small on purpose: the service needs a dozen series, and no
// dependency is worth that.

/** The content type of the text format. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Upper bounds of the run-duration histogram's buckets (s): 1 s to 1 h. */
export const DURATION_BUCKETS = Object.freeze([1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600]);

/**
 * A registry of metric families; `text()` renders them all.
 * @returns {{
 *   counter(name: string, help: string): Family,
 *   gauge(name: string, help: string): Family,
 *   histogram(name: string, help: string, buckets: readonly number[]): Family,
 *   text(): string,
 * }}
 * @typedef {{ inc(labels?: Record<string, string>, by?: number): void,
 *   set(labels: Record<string, string>, value: number): void,
 *   observe(labels: Record<string, string>, value: number): void }} Family
 */
export function createMetrics() {
  const families = [];
  function family(name, help, type, buckets) {
    // Series by their rendered label set, in order of first use.
    const series = new Map();
    const entry = (labels) => {
      const key = labelText(labels);
      let value = series.get(key);
      if (value === undefined) {
        value = buckets ? { counts: buckets.map(() => 0), sum: 0, count: 0, labels } : { value: 0 };
        series.set(key, value);
      }
      return value;
    };
    const f = {
      inc(labels = {}, by = 1) {
        if (Number.isFinite(by) && by >= 0) entry(labels).value += by;
      },
      set(labels, value) {
        if (Number.isFinite(value)) entry(labels).value = value;
      },
      observe(labels, value) {
        if (!Number.isFinite(value)) return;
        const h = entry(labels);
        buckets.forEach((bound, i) => {
          if (value <= bound) h.counts[i] += 1;
        });
        h.sum += value;
        h.count += 1;
      },
      render() {
        const lines = [`# HELP ${name} ${help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`, `# TYPE ${name} ${type}`];
        for (const [key, value] of series) {
          if (!buckets) {
            lines.push(`${name}${key} ${number(value.value)}`);
            continue;
          }
          buckets.forEach((bound, i) => {
            lines.push(`${name}_bucket${labelText({ ...value.labels, le: number(bound) })} ${value.counts[i]}`);
          });
          lines.push(`${name}_bucket${labelText({ ...value.labels, le: "+Inf" })} ${value.count}`);
          lines.push(`${name}_sum${key} ${number(value.sum)}`);
          lines.push(`${name}_count${key} ${value.count}`);
        }
        return lines.join("\n");
      },
    };
    families.push(f);
    return f;
  }
  return {
    counter: (name, help) => family(name, help, "counter"),
    gauge: (name, help) => family(name, help, "gauge"),
    histogram: (name, help, buckets) => family(name, help, "histogram", [...buckets]),
    text: () => `${families.map((f) => f.render()).join("\n")}\n`,
  };
}

/** `{a="x",b="y"}`, or "" for no labels; values escaped as the format asks. */
function labelText(labels) {
  const pairs = Object.entries(labels).map(
    ([name, value]) => `${name}="${String(value).replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`,
  );
  return pairs.length === 0 ? "" : `{${pairs.join(",")}}`;
}

function number(value) {
  if (value === Infinity) return "+Inf";
  return String(value);
}
