// Serves a Request → Response handler from Node's `http` server.

/** Most bytes of a refused body read and dropped so that its sender gets the answer. */
const MAX_DISCARDED_BYTES = 16 * 1024 * 1024;

/**
 * @param {(request: Request) => Promise<Response>} handler
 * @returns {(req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse) => void}
 */
export function toNodeListener(handler) {
  return (req, res) => {
    const url = new URL(req.url ?? "/", `http://${req.headers.host ?? "localhost"}`);
    const hasBody = req.method !== "GET" && req.method !== "HEAD";
    const request = new Request(url, {
      method: req.method,
      headers: Object.entries(req.headers).flatMap(([name, value]) =>
        value === undefined ? [] : [[name, Array.isArray(value) ? value.join(", ") : value]],
      ),
      body: hasBody ? bodyOf(req) : undefined,
      duplex: hasBody ? "half" : undefined,
    });
    handler(request)
      .then(async (response) => {
        const body = Buffer.from(await response.arrayBuffer());
        const headers = Object.fromEntries(response.headers);
        // An answer given before the body was read (413): the connection ends
        // after it, and the rest of the body is read and dropped meanwhile, or
        // the sender, still writing, would see a reset instead of the answer.
        const unread = hasBody && !req.complete;
        if (unread) headers.connection = "close";
        res.writeHead(response.status, headers);
        res.end(body);
        if (unread) discard(req);
      })
      .catch(() => {
        if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
        res.end('{"error":{"code":"INTERNAL","message":"the handler failed"}}');
      });
  };
}

/**
 * The request body as a web stream, read only as fast as it is consumed.
 * Cancelling it stops reading but keeps the connection (Node's own adapter
 * destroys it), so that an answer can still be sent.
 */
function bodyOf(req) {
  let open = true;
  const stop = () => {
    open = false;
    req.off("data", onData).off("end", onEnd).off("error", onError);
  };
  let onData;
  let onEnd;
  let onError;
  return new ReadableStream({
    start(controller) {
      onData = (chunk) => {
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        if (controller.desiredSize <= 0) req.pause();
      };
      onEnd = () => {
        stop();
        controller.close();
      };
      onError = (error) => {
        stop();
        controller.error(error);
      };
      req.on("data", onData).on("end", onEnd).on("error", onError);
      req.pause();
    },
    pull() {
      if (open) req.resume();
    },
    cancel() {
      stop();
      req.pause();
    },
  });
}

/** Reads what is left of a body and drops it; a sender that goes on too long is cut off. */
function discard(req) {
  let dropped = 0;
  req.removeAllListeners("data");
  req.on("data", (chunk) => {
    dropped += chunk.length;
    if (dropped > MAX_DISCARDED_BYTES) req.socket?.destroy();
  });
  req.resume();
}
