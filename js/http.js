// The one place that talks HTTP to KeyCRM. The core hands out {url, timeoutMs};
// this adds the API key and turns every outcome into a plain value, so the core
// decides about retries and nothing here throws.

const TIMED_OUT = Object.freeze({ failure: "timeout" });

// Controllers kept for reuse: as many as requests a run has in flight at once.
const IDLE_CONTROLLERS = 4;
// Requests a controller serves at most. Node's fetch leaves a listener on the
// signal of each request until that request is garbage collected, so a signal
// used without end would gather thousands (and warn of a leak).
const USES_PER_CONTROLLER = 32;

/**
 * @param {{ apiKey: string, fetch: typeof globalThis.fetch }} options
 * @returns {((request: { url: string, timeoutMs: number }) => Promise<
 *   { status: number, retryAfter: string | null, body: Uint8Array | string } | { failure: "timeout" | "network", cause?: string }
 * >) & { close: () => void }} with `close()`, which ends every request still
 *   in flight (each settles as timed out and is aborted) and any started later:
 *   for when the run is over.
 */
export function keycrmFetcher({ apiKey, fetch }) {
  const headers = {
    Authorization: `Bearer ${apiKey}`,
    Accept: "application/json",
  };
  // How to give up each request in flight, for close(): a set the fetcher keeps
  // costs less a request than a listener on a shared AbortSignal.
  const inFlight = new Set();
  // Controllers of requests answered in full, never aborted, for later requests,
  // with how many they have served: making an AbortSignal costs Node about as
  // much as the rest of a request's handling here. A controller serves one
  // request at a time. A list made to hold objects from the start: an empty
  // one holds small integers until its first push, which then throws away the
  // fetcher's optimised code (and V8 spent some 20 ms of CPU making it).
  const idle = [null];
  idle.pop();
  let closed = false;
  const fetcher = async ({ url, timeoutMs }) => {
    if (closed) return TIMED_OUT;
    // The request holds its own timer and controller: a timer the event loop
    // keeps cannot be collected before it fires, as a signal from
    // AbortSignal.timeout() combined through AbortSignal.any() can be on Node 20.
    // The timer bounds the whole exchange, headers and body alike, even with a
    // fetch that ignores its signal.
    const [request, uses] = idle.pop() ?? [new AbortController(), 0];
    let giveUp;
    const gaveUp = new Promise((resolve) => {
      giveUp = () => resolve(TIMED_OUT);
    });
    const timer = setTimeout(giveUp, timeoutMs);
    inFlight.add(giveUp);
    let outcome = TIMED_OUT;
    try {
      outcome = await Promise.race([
        exchange(fetch, url, { headers, signal: request.signal }),
        gaveUp,
      ]);
      return outcome;
    } finally {
      inFlight.delete(giveUp);
      clearTimeout(timer);
      // Nothing of a request given up on lives on: a stalled body stops here. An
      // answer read to its end holds nothing to stop, and its controller serves
      // the next request.
      if (outcome === TIMED_OUT || outcome.failure !== undefined) request.abort();
      else if (uses + 1 < USES_PER_CONTROLLER && idle.length < IDLE_CONTROLLERS) {
        idle.push([request, uses + 1]);
      }
    }
  };
  fetcher.close = () => {
    closed = true;
    for (const giveUp of inFlight) giveUp();
  };
  return fetcher;
}

async function exchange(fetch, url, init) {
  try {
    const response = await fetch(url, init);
    // The bytes, which the core copies into its memory at once and decodes as
    // text() would; a string crosses into wasm one character at a time. A fetch
    // whose answers have no arrayBuffer() (a test double) gives text.
    const body =
      typeof response.arrayBuffer === "function"
        ? new Uint8Array(await response.arrayBuffer())
        : await response.text();
    return {
      status: response.status,
      retryAfter: response.headers.get("retry-after"),
      body,
    };
  } catch (error) {
    const name = error instanceof Error ? error.name : "";
    const timedOut = name === "TimeoutError" || name === "AbortError";
    return timedOut
      ? TIMED_OUT
      : { failure: "network", cause: networkCause(error, url) };
  }
}

// What a failed connection's error codes mean, in a few words.
const CAUSES = {
  ENOTFOUND: "the host name does not resolve",
  EAI_AGAIN: "the host name could not be resolved (DNS lookup failed for now)",
  ECONNREFUSED: "the connection was refused (nothing listens on that port)",
  ECONNRESET: "the connection was reset",
  ETIMEDOUT: "the connection timed out",
  UND_ERR_CONNECT_TIMEOUT: "the connection timed out",
  EHOSTUNREACH: "the host is unreachable",
  ENETUNREACH: "the network is unreachable",
  EPIPE: "the connection was closed while sending",
  UND_ERR_SOCKET: "the connection was closed before the answer ended",
};

/**
 * Why a request got no answer, as "host: CODE, what it means": the host only,
 * never the URL, whose path and query are not the cause. The API base carries
 * no credentials (the core refuses them), and the key is in a header.
 */
export function networkCause(error, url) {
  let host = "";
  try {
    host = new URL(url).host;
  } catch {
    // An unparsable URL names no host.
  }
  // fetch throws "fetch failed" with the system error as its cause, at times
  // wrapped once more.
  let cause = error?.cause ?? error;
  while (cause?.code === undefined && cause?.cause !== undefined) cause = cause.cause;
  const code = typeof cause?.code === "string" ? cause.code : "";
  let what = CAUSES[code];
  if (what === undefined && /CERT|TLS|SSL/.test(code)) {
    what = `its TLS certificate was not accepted (${cause.message ?? code})`;
  }
  const detail = what
    ? `${code}, ${what}`
    : String(cause?.message ?? error?.message ?? "network error");
  const text = host ? `${host}: ${detail}` : detail;
  return text.slice(0, 300);
}
