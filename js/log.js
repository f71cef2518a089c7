// The service's events as log lines: plain text for people, or JSON lines for a
// log collector. One event per run, delivery, retry and 429; secrets (the API
// key, the tokens, a database password) never reach a line.

import { redact } from "./errors.js";

/**
 * @param {{ format?: "text" | "json", write: (line: string) => void,
 *   secrets?: Array<string | undefined>, now?: () => number }} options
 * @returns {(event: LogEvent) => void}
 * @typedef {{ event: string, [field: string]: unknown }} LogEvent
 */
export function createLog({ format = "text", write, secrets = [], now = Date.now }) {
  if (format !== "text" && format !== "json") {
    throw new TypeError(`log format must be "text" or "json", got ${JSON.stringify(format)}`);
  }
  return (event) => {
    const time = new Date(now()).toISOString();
    const line =
      format === "json"
        ? JSON.stringify(redact({ time, level: levelOf(event), ...event }, ...secrets))
        : `${time} ${redact(describe(event), ...secrets)}`;
    try {
      write(`${line}\n`);
    } catch {
      // A failing log must not take the service with it.
    }
  };
}

/** How bad an event is: `error` for a failed run or a 5xx, `warn` for a refusal, a retry or a 429. */
function levelOf(event) {
  switch (event.event) {
    case "run":
      return event.complete ? "info" : "error";
    case "delivery":
      if (event.status >= 500) return "error";
      return event.status >= 400 ? "warn" : "info";
    case "retry":
    case "rateLimited":
      return "warn";
    case "keyCheck":
      return event.ok ? "info" : "error";
    default:
      return "info";
  }
}

/** The event as one line for people. */
export function describe(event) {
  switch (event.event) {
    case "run": {
      const what = event.kind === "full" ? "full sync" : `webhook ${event.kind}`;
      if (event.complete) {
        return `${what}: complete, ${event.updated} updated, ${event.unchanged} unchanged, ${event.requests} requests (${event.retries} retries, ${event.rateLimited} answered 429) in ${event.durationMs} ms`;
      }
      return `${what}: not complete: ${event.error?.code ?? "INTERNAL"} ${event.error?.message ?? ""}`.trim();
    }
    case "delivery": {
      if (event.method === "-") return `refused a malformed request: ${event.status} ${event.code}`;
      if (event.status >= 400) return `refused ${event.method} ${event.path}: ${event.status} ${event.code}`;
      const counts = event.updated === undefined ? "" : `, ${event.updated} updated, ${event.unchanged} unchanged`;
      return `delivery ${event.method} ${event.path}: ${event.status}${counts}`;
    }
    case "retry":
      return `retrying (${event.kind}): ${event.path} ${event.reason}`;
    case "rateLimited":
      return `429 from KeyCRM (${event.kind}) on ${event.path}${event.retryAfter ? `; Retry-After ${event.retryAfter}` : ""}`;
    case "keyCheck":
      return event.ok ? "API key accepted" : `API key check failed: ${event.error?.code} ${event.error?.message ?? ""}`.trim();
    case "listening":
      return `listening on ${event.url}: ${event.endpoints.join(", ")}`;
    case "start":
      return event.intervalMs > 0 ? `started: a full sync every ${every(event.intervalMs)}` : "started: webhooks only";
    case "stopping":
      return "stopping: no new work; writing the batch in flight";
    case "stopped":
      return "stopped";
    default:
      return event.message ?? event.event;
  }
}

function every(ms) {
  return ms >= 60_000 && ms % 60_000 === 0 ? `${ms / 60_000} min` : `${ms / 1000} s`;
}
