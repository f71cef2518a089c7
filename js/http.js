// The one place that talks HTTP to KeyCRM. The core hands out {url, timeoutMs};
// this adds the API key and turns every outcome into a plain value, so the core
// decides about retries and nothing here throws.

/**
 * @param {{ apiKey: string, fetch: typeof globalThis.fetch, signal: AbortSignal }} options
 *   `signal` aborts every request still in flight when the run ends.
 * @returns {(request: { url: string, timeoutMs: number }) => Promise<
 *   { status: number, retryAfter: string | null, body: string } | { failure: "timeout" | "network" }
 * >}
 */
export function keycrmFetcher({ apiKey, fetch, signal }) {
  const headers = {
    Authorization: `Bearer ${apiKey}`,
    Accept: "application/json",
  };
  return async ({ url, timeoutMs }) => {
    try {
      // The signal covers reading the body too, so a stalled body times out.
      const response = await fetch(url, {
        headers,
        signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
      });
      const body = await response.text();
      return {
        status: response.status,
        retryAfter: response.headers.get("retry-after"),
        body,
      };
    } catch (error) {
      const name = error instanceof Error ? error.name : "";
      const timedOut = name === "TimeoutError" || name === "AbortError";
      return { failure: timedOut ? "timeout" : "network" };
    }
  };
}
