// Serves a Request → Response handler from Node's `http` server. Every request
// Node's parser lets through gets an answer, whatever its method, target, Host
// or body; what the parser refuses gets a 400 (createNodeServer).

import { createServer, STATUS_CODES } from "node:http";

/** Most bytes of a refused body read and dropped so that its sender gets the answer. */
const MAX_DISCARDED_BYTES = 16 * 1024 * 1024;
/** Longest a connection is kept open after an early answer, to read and drop the rest of the body (ms). */
const MAX_LINGER_MS = 5_000;
/** Methods WHATWG `Request` refuses to carry: no handler can be given them. */
const UNSUPPORTED_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);

/**
 * The limits `createNodeServer` sets on Node's http server unless told otherwise.
 * Node checks the two request timeouts every `connectionsCheckingIntervalMs`.
 */
export const SERVER_LIMITS = Object.freeze({
  /** Longest wait for a request's headers, from its first byte (ms). */
  headersTimeoutMs: 10_000,
  /** Longest wait for a whole request, headers and body (ms). */
  requestTimeoutMs: 30_000,
  /** How long an idle keep-alive connection stays open (ms). */
  keepAliveTimeoutMs: 5_000,
  /** How often the two request timeouts are checked (ms). */
  connectionsCheckingIntervalMs: 1_000,
  /** Largest request line and headers together (bytes); more gets 431. */
  maxHeaderBytes: 16 * 1024,
});

/**
 * A Node listener, and Connect/Express-style middleware, for a Request → Response
 * handler. It routes on `req.originalUrl` when a framework set one (Express
 * shortens `req.url` under a mount path), takes a body a parser already read from
 * `req.body` (a Buffer, a string, or parsed JSON, which is serialised again), and
 * answers 500 `BODY_ALREADY_READ` at once when the body was read and `req.body`
 * holds nothing usable. Given `next`, a 404 of the handler goes to `next()`
 * instead, so that the site's other routes keep working.
 * @param {(request: Request) => Promise<Response>} handler
 * @returns {(req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse,
 *   next?: (error?: unknown) => void) => void}
 */
export function toNodeListener(handler) {
  return listenerOf(handler, () => {}, false);
}

/**
 * An http server for `handler` with explicit timeouts and limits, that answers
 * what Node's parser refuses with a 400 (a 408 for a timeout, a 431 for headers
 * too large) instead of a bare reset, and answers CONNECT with 501.
 * @param {(request: Request) => Promise<Response>} handler
 * @param {Partial<typeof SERVER_LIMITS> & { onRejected?: (rejection: Rejection) => void }} [options]
 *   `onRejected` is told of every answer of status 400 or more, and of every
 *   request the parser refused; the query string is never part of it.
 * @returns {import("node:http").Server}
 *
 * @typedef {{ method: string, path: string, status: number, code: string,
 *   byHandler: boolean }} Rejection `byHandler`: the handler gave the answer (rather
 *   than the server refusing the request before it reached the handler)
 */
export function createNodeServer(handler, options = {}) {
  const { onRejected = () => {}, ...overrides } = options;
  const limits = { ...SERVER_LIMITS, ...overrides };
  const listener = listenerOf(handler, onRejected, true);
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      connectionsCheckingInterval: limits.connectionsCheckingIntervalMs,
      maxHeaderSize: limits.maxHeaderBytes,
      // Checked by the listener, which answers a missing Host with JSON like the rest.
      requireHostHeader: false,
    },
    listener,
  );
  // `Expect: 100-continue`: the 100 goes out only once the handler reads the
  // body, so that a body refused from its headers (413, 401) is never sent.
  server.on("checkContinue", listener);
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  const report = (rejection) => {
    try {
      onRejected(rejection);
    } catch {
      // A failing logger must not take the connection's answer with it.
    }
  };
  // Node tells of a refused request here, and again of every later chunk the
  // parser cannot take and of the sender's end.
  server.on("clientError", (error, socket) => {
    const answered = refused.get(socket);
    if (answered !== undefined) {
      // Lingering after the answer: drop what comes, close at the sender's end.
      if (socket.readableEnded || socket.bytesRead - answered > MAX_DISCARDED_BYTES) socket.destroy();
      return;
    }
    const code = String(error?.code ?? "");
    if (!code.startsWith("HPE_") && code !== "ERR_HTTP_REQUEST_TIMEOUT") {
      // The connection failed (a reset, a broken pipe): nobody to answer.
      socket.destroy();
      return;
    }
    const status = clientErrorStatus(error);
    report({ method: "-", path: "-", status, code, byHandler: false });
    const current = inFlight.get(socket);
    if (current && !current.headersSent && current.req?.complete && status !== 408) {
      // Bad bytes after a whole request: that request is answered first, and
      // the connection ends after its answer.
      refused.set(socket, socket.bytesRead);
      current.setHeader("connection", "close");
      return;
    }
    // Raw bytes only while no answer is being written on this connection.
    if (socket.writable && !current?.headersSent) {
      refused.set(socket, socket.bytesRead);
      socket.end(rawAnswer(status, parserErrorBody(error)));
      closeWithin(socket, MAX_LINGER_MS);
    } else {
      socket.destroy();
    }
  });
  // Node hands CONNECT to this event, not to the listener.
  server.on("connect", (req, socket) => {
    socket.on("error", () => {});
    report({ method: "CONNECT", path: "-", status: 501, code: "NOT_IMPLEMENTED", byHandler: false });
    socket.on("data", () => {}).on("end", () => socket.destroy());
    socket.end(rawAnswer(501, errorBody("NOT_IMPLEMENTED", "CONNECT is not served here")));
    closeWithin(socket, MAX_LINGER_MS);
  });
  return server;
}

/** Sockets answered by the parser's refusal, with how many bytes had been read then. */
const refused = new WeakMap();

/** Destroys `socket` after `ms` unless it closed before. */
function closeWithin(socket, ms) {
  const timer = setTimeout(() => socket.destroy(), ms);
  timer.unref();
  socket.once("close", () => clearTimeout(timer));
}

/** The answer under way on a socket, from the listener's call to its end. */
const inFlight = new WeakMap();

/** Thrown by the body of a request whose stream a parser consumed. */
class BodyAlreadyRead extends Error {}

function listenerOf(handler, onRejected, continueOnRead) {
  return (req, res, next) => {
    const socket = req.socket;
    inFlight.set(socket, res);
    res.once("close", () => {
      if (inFlight.get(socket) === res) inFlight.delete(socket);
    });
    const asMiddleware = typeof next === "function";
    let request;
    try {
      request = toRequest(req, continueOnRead ? () => res.writeContinue() : () => {});
    } catch (refusal) {
      const { status, code, message } = isRefusal(refusal)
        ? refusal
        : { status: 400, code: "BAD_REQUEST", message: "the request cannot be read" };
      if (asMiddleware && status === 404) return next();
      send(req, res, jsonResponse(status, errorBody(code, message)), onRejected, false);
      return;
    }
    Promise.resolve()
      .then(() => handler(request))
      .then(
        (response) => {
          if (asMiddleware && response?.status === 404) {
            response.body?.cancel().catch(() => {});
            return next();
          }
          return send(req, res, response, onRejected, true);
        },
        (error) => {
          const answer =
            error instanceof BodyAlreadyRead
              ? jsonResponse(500, errorBody("BODY_ALREADY_READ", error.message))
              : jsonResponse(500, errorBody("INTERNAL", "the handler failed"));
          return send(req, res, answer, onRejected, true);
        },
      );
  };
}

/**
 * Where the body comes from: the stream, unread; bytes a parser left in
 * `req.body`; or nowhere (read, and nothing usable kept).
 * @returns {{ stream: true } | { bytes: Uint8Array } | { consumed: true }}
 */
function bodySource(req) {
  // body-parser (Express) sets `_body` once it has read the body; Node the rest.
  const read = req.readableEnded || req._body === true || req.readableDidRead === true;
  if (!read) return { stream: true };
  const parsed = req.body;
  if (typeof parsed === "string") return { bytes: Buffer.from(parsed, "utf8") };
  if (parsed instanceof Uint8Array) return { bytes: parsed };
  if (parsed !== null && typeof parsed === "object") {
    try {
      // Parsed JSON, serialised again: its exact bytes, duplicate keys and the
      // digits of numbers past double precision are gone.
      return { bytes: Buffer.from(JSON.stringify(parsed), "utf8") };
    } catch {
      // Not serialisable (a cycle, a BigInt): as good as nothing.
    }
  }
  return { consumed: true };
}

const BODY_ALREADY_READ =
  "the request's body was read before this handler (by a body parser such as express.json() mounted before it) " +
  "and req.body holds no Buffer, string or JSON: mount the handler before the body parser";

/** A body that fails at its first read, with a message naming the body parser. */
function consumedBody() {
  return new ReadableStream({
    pull() {
      throw new BodyAlreadyRead(BODY_ALREADY_READ);
    },
  });
}

/** A WHATWG Request for what Node parsed, or a thrown refusal `{ status, code, message }`. */
function toRequest(req, onFirstRead) {
  const method = req.method ?? "GET";
  if (UNSUPPORTED_METHODS.has(method)) {
    throw refusal(501, "NOT_IMPLEMENTED", `${method} is not served here`);
  }
  const url = urlOf(req);
  const hasBody = method !== "GET" && method !== "HEAD";
  const source = hasBody ? bodySource(req) : { stream: true };
  let headers;
  try {
    headers = new Headers(
      Object.entries(req.headers).flatMap(([name, value]) =>
        value === undefined ? [] : [[name, Array.isArray(value) ? value.join(", ") : value]],
      ),
    );
  } catch {
    throw refusal(400, "BAD_REQUEST", "a header cannot be read");
  }
  if (!source.stream) {
    // What the stream said of its length no longer describes the body given.
    headers.delete("content-length");
    headers.delete("transfer-encoding");
  }
  let body;
  if (hasBody) {
    if (source.bytes) body = source.bytes;
    else if (source.consumed) body = consumedBody();
    else body = bodyOf(req, onFirstRead);
  }
  try {
    return new Request(url, {
      method,
      headers,
      body,
      duplex: hasBody ? "half" : undefined,
    });
  } catch {
    throw refusal(400, "BAD_REQUEST", `${method} requests cannot be read`);
  }
}

/** The URL of a request: its path on the host it names, or its absolute-form target. */
function urlOf(req) {
  const hosts = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i].toLowerCase() === "host") hosts.push(req.rawHeaders[i + 1]);
  }
  if (hosts.length > 1) throw refusal(400, "BAD_REQUEST", "more than one Host header");
  if (hosts.length === 0 && req.httpVersion !== "1.0") {
    throw refusal(400, "BAD_REQUEST", "an HTTP/1.1 request needs a Host header");
  }
  const host = hosts[0] ?? "localhost";
  // A host, an optional port, nothing else (no user, path, query or space).
  let origin;
  try {
    if (/[\s/\\?#@]/.test(host)) throw new Error();
    origin = new URL(`http://${host}`).origin;
  } catch {
    throw refusal(400, "BAD_REQUEST", "the Host header is not a host[:port]");
  }
  // Express shortens `req.url` under a mount path and keeps the whole target here.
  const target = typeof req.originalUrl === "string" ? req.originalUrl : (req.url ?? "/");
  if (target === "*") throw refusal(404, "NOT_FOUND", "no such endpoint");
  if (target.startsWith("/")) {
    // Appended, not resolved: `//x` is a path here, not another host.
    return new URL(`${origin}${target}`);
  }
  if (/^https?:\/\//i.test(target)) {
    try {
      return new URL(target);
    } catch {
      // Falls through to the refusal below.
    }
  }
  throw refusal(400, "BAD_REQUEST", "the request target is not a path");
}

function refusal(status, code, message) {
  return { refused: true, status, code, message };
}

function isRefusal(value) {
  return value !== null && typeof value === "object" && value.refused === true;
}

/** Writes `response` to `res`; an answer given before the body was read ends the connection gracefully. */
async function send(req, res, response, onRejected, byHandler) {
  let body;
  let headers;
  try {
    body = Buffer.from(await response.arrayBuffer());
    headers = Object.fromEntries(response.headers);
  } catch {
    response = jsonResponse(500, errorBody("INTERNAL", "the handler's answer cannot be read"));
    body = Buffer.from(await response.arrayBuffer());
    headers = Object.fromEntries(response.headers);
  }
  // Gone, or answered already with a 400 or 408 of the parser's.
  if (res.destroyed || res.writableEnded || !req.socket?.writable) return;
  if (response.status >= 400) tell(onRejected, req, response.status, body, byHandler);
  // An answer given before the body was read (413, 401, …): the connection
  // ends after it, and the rest of the body is read and dropped meanwhile, or
  // the sender, still writing, would see a reset instead of the answer.
  // Known, so that the answer is not chunked.
  delete headers["transfer-encoding"];
  if (response.status !== 204 && response.status !== 304) headers["content-length"] = String(body.length);
  const unread = !req.complete;
  if (unread) {
    headers.connection = "close";
    lingerAfterAnswer(req);
  }
  try {
    res.writeHead(response.status, headers);
    res.end(body);
  } catch {
    // Headers Node refuses (a handler's own mistake): a plain 500 instead.
    if (res.headersSent) {
      res.destroy();
    } else {
      res.removeHeader("content-length");
      const plain = { "content-type": "application/json" };
      res.writeHead(500, unread ? { ...plain, connection: "close" } : plain);
      res.end(errorBody("INTERNAL", "the handler's answer cannot be sent"));
    }
  }
}

function tell(onRejected, req, status, body, byHandler) {
  let code = STATUS_CODES[status] ?? String(status);
  try {
    const parsed = JSON.parse(body.toString("utf8"));
    if (typeof parsed?.error?.code === "string") code = parsed.error.code;
  } catch {
    // Not one of ours: the status names it.
  }
  try {
    const target = typeof req.originalUrl === "string" ? req.originalUrl : req.url;
    onRejected({ method: req.method ?? "-", path: printablePath(target), status, code, byHandler });
  } catch {
    // A failing logger must not take the answer with it.
  }
}

/** The target without its query or fragment (where a token may be), short and printable. */
function printablePath(target = "") {
  const path = target.split(/[?#]/, 1)[0];
  const short = path.length > 200 ? `${path.slice(0, 200)}…` : path;
  return short.replace(/[^\x21-\x7e…]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/**
 * A lingering close, as nginx does: once the answer is out, Node would destroy
 * the socket while the sender is still writing its body, and the unread bytes
 * turn the close into a reset that the sender sees before the answer. Instead
 * the connection's writing side is ended after the answer, and what the sender
 * still sends is read and dropped until it stops (its FIN), or for at most
 * MAX_DISCARDED_BYTES or MAX_LINGER_MS, whichever comes first.
 */
function lingerAfterAnswer(req) {
  const socket = req.socket;
  if (!socket || socket.destroyed) return;
  let dropped = 0;
  req.removeAllListeners("data");
  req.on("data", (chunk) => {
    dropped += chunk.length;
    if (dropped > MAX_DISCARDED_BYTES) socket.destroy();
  });
  req.on("error", () => {});
  req.resume();
  // Node ends a `Connection: close` answer's socket with destroySoon(): end,
  // then destroy once written. Here it only ends; the socket closes when the
  // sender ends too, or when a bound is reached.
  socket.destroySoon = function lingeringClose() {
    if (this.writable) this.end();
    closeWithin(this, MAX_LINGER_MS);
  };
}

/**
 * The body as a web stream, read only as fast as it is consumed. Nothing touches
 * `req` before the first read: a handler that answers without reading (a 404
 * passed to `next()`) leaves the stream as it found it, for the next middleware.
 */
function bodyOf(req, onFirstRead) {
  // Cancelling it stops reading but keeps the connection (Node's own adapter
  // destroys it), so that an answer can still be sent.
  let open = true;
  let attached = false;
  let onData;
  let onEnd;
  let onError;
  const stop = () => {
    open = false;
    if (attached) req.off("data", onData).off("end", onEnd).off("error", onError);
  };
  return new ReadableStream(
    {
      pull(controller) {
        if (!attached) {
          attached = true;
          if (/100-continue/i.test(req.headers.expect ?? "")) onFirstRead();
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
        }
        if (open) req.resume();
      },
      cancel() {
        const reading = attached;
        stop();
        if (reading) req.pause();
      },
    },
    // No read ahead: pull() runs only when the handler reads.
    { highWaterMark: 0 },
  );
}

function clientErrorStatus(error) {
  switch (error?.code) {
    case "HPE_HEADER_OVERFLOW":
      return 431;
    case "HPE_CHUNK_EXTENSIONS_OVERFLOW":
      return 413;
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return 408;
    default:
      return 400;
  }
}

function parserErrorBody(error) {
  const status = clientErrorStatus(error);
  if (status === 408) return errorBody("REQUEST_TIMEOUT", "the request did not arrive in time");
  if (status === 431) return errorBody("HEADERS_TOO_LARGE", "the request's headers are too large");
  if (status === 413) return errorBody("BODY_TOO_LARGE", "the request's chunk extensions are too large");
  return errorBody("BAD_REQUEST", "the request is not well-formed HTTP/1.1");
}

function rawAnswer(status, body) {
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
    "content-type: application/json\r\n" +
    `content-length: ${Buffer.byteLength(body)}\r\n` +
    "connection: close\r\n\r\n" +
    body
  );
}

function errorBody(code, message) {
  return JSON.stringify({ error: { code, message } });
}

function jsonResponse(status, body) {
  return new Response(body, { status, headers: { "content-type": "application/json" } });
}
