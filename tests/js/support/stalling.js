// KeyCRM answers that never end, over real HTTP on loopback: a server that takes
// the request and never sends headers, and one that sends headers and then
// trickles the body a byte at a time, forever. Nothing but a timer on the client
// side can end such a request, which is what the tests about timeouts need.

import { createServer } from "node:http";
import { once } from "node:events";
import v8 from "node:v8";
import vm from "node:vm";

/**
 * Starts a server whose every answer stalls.
 * @param {"silent" | "trickle"} mode `silent`: never a header; `trickle`: a 200
 *   with headers at once, then one byte of body every `everyMs`, never the end
 * @returns {Promise<{ url: string, requests: number, requested: Promise<void>,
 *   close: () => Promise<void> }>} `requested` settles when the first request
 *   has arrived
 */
export async function startStallingServer(mode, { everyMs = 20 } = {}) {
  let arrived;
  const requested = new Promise((resolve) => {
    arrived = resolve;
  });
  const trickles = new Set();
  const server = createServer((req, res) => {
    stalling.requests += 1;
    arrived();
    if (mode !== "trickle") return;
    res.writeHead(200, { "Content-Type": "application/json" });
    res.write('{"data": [');
    const trickle = setInterval(() => res.write(" "), everyMs);
    trickles.add(trickle);
    res.on("close", () => {
      clearInterval(trickle);
      trickles.delete(trickle);
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const stalling = {
    url: `http://127.0.0.1:${server.address().port}/v1`,
    requests: 0,
    requested,
    async close() {
      for (const trickle of trickles) clearInterval(trickle);
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  return stalling;
}

/**
 * Runs a full garbage collection now. A timeout whose only holder is weak (as
 * `AbortSignal.timeout()` combined through `AbortSignal.any()` is on Node 20)
 * is collected and never fires; a test that collects makes such a bug show
 * every time instead of now and then.
 */
export function collectGarbage() {
  v8.setFlagsFromString("--expose-gc");
  const gc = vm.runInNewContext("gc");
  gc();
  gc();
}
