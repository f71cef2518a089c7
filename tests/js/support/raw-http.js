// HTTP/1.1 over a bare TCP socket, for tests that must send what no HTTP client
// would: malformed request lines, headers and bodies, requests cut short, and
// bodies written in full before anything is read.

import { connect } from "node:net";

/**
 * Sends `bytes` on a new connection and resolves once the server has given a
 * whole answer (then the connection is dropped) or closed the connection.
 * Never rejects: a reset is reported as `error`, and a server that neither
 * answers nor closes within `giveUpMs` as `error: "NO_ANSWER"` (a failure
 * detector for a broken server, not a wait the tests rely on).
 * @param {number} port
 * @param {string | Buffer | (string | Buffer)[]} bytes written in order, each at once
 * @param {{ end?: boolean, readAfterWriting?: boolean, host?: string, giveUpMs?: number }} [options]
 *   `end`: half-close after writing; `readAfterWriting`: read nothing until every
 *   byte is written, as a client that sends its whole body first
 * @returns {Promise<{ answers: Answer[], raw: Buffer, closedByServer: boolean,
 *   error?: string, written: boolean }>}
 */
export function exchange(
  port,
  bytes,
  { end = false, readAfterWriting = false, host = "127.0.0.1", giveUpMs = 30_000 } = {},
) {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    if (readAfterWriting) socket.pause();
    const chunks = [];
    let error;
    let written = false;
    let settled = false;
    const giveUp = setTimeout(() => {
      error = "NO_ANSWER";
      settle(false);
    }, giveUpMs);
    const settle = (closedByServer) => {
      if (settled) return;
      settled = true;
      clearTimeout(giveUp);
      socket.destroy();
      const raw = Buffer.concat(chunks);
      resolve({ answers: parseAnswers(raw).answers, raw, closedByServer, error, written });
    };
    socket.on("data", (chunk) => {
      chunks.push(chunk);
      const { answers, rest } = parseAnswers(Buffer.concat(chunks));
      if (answers.length > 0 && rest.length === 0 && answers.at(-1).complete) settle(false);
    });
    socket.on("error", (e) => (error = e.code ?? e.message));
    socket.on("close", () => settle(true));
    socket.on("end", () => settle(true));
    socket.once("connect", () => {
      const parts = Array.isArray(bytes) ? bytes : [bytes];
      parts.forEach((part, i) => {
        const last = i === parts.length - 1;
        socket.write(part, (e) => {
          if (!last || e) return;
          written = true;
          socket.resume();
        });
      });
      if (end) socket.end();
    });
  });
}

/**
 * @typedef {{ status: number, headers: Record<string, string>, body: string,
 *   complete: boolean }} Answer
 */

/**
 * The answers at the start of `raw`, and what follows them. An answer is
 * complete when its Content-Length bytes have arrived.
 * @param {Buffer} raw
 */
export function parseAnswers(raw) {
  const answers = [];
  let rest = raw;
  for (;;) {
    const end = rest.indexOf("\r\n\r\n");
    if (end < 0) return { answers, rest };
    const head = rest.subarray(0, end).toString("latin1").split("\r\n");
    const match = /^HTTP\/1\.[01] (\d{3}) /.exec(`${head[0]} `);
    if (!match) return { answers, rest };
    const headers = {};
    for (const line of head.slice(1)) {
      const colon = line.indexOf(":");
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const { body, used, complete } = /chunked/i.test(headers["transfer-encoding"] ?? "")
      ? dechunk(rest.subarray(end + 4))
      : sized(rest.subarray(end + 4), Number(headers["content-length"] ?? 0));
    // An interim answer (100 Continue) is no answer.
    if (match[1][0] !== "1") answers.push({ status: Number(match[1]), headers, body: body.toString("utf8"), complete });
    if (!complete) return { answers, rest: Buffer.alloc(0) };
    rest = rest.subarray(end + 4 + used);
  }
}

function sized(bytes, length) {
  return { body: bytes.subarray(0, length), used: length, complete: bytes.length >= length };
}

function dechunk(bytes) {
  const parts = [];
  let at = 0;
  for (;;) {
    const line = bytes.indexOf("\r\n", at);
    if (line < 0) return { body: Buffer.concat(parts), used: bytes.length, complete: false };
    const size = parseInt(bytes.subarray(at, line).toString("latin1"), 16);
    if (!(size >= 0)) return { body: Buffer.concat(parts), used: bytes.length, complete: false };
    if (size === 0) {
      const complete = bytes.length >= line + 4;
      return { body: Buffer.concat(parts), used: line + 4, complete };
    }
    if (bytes.length < line + 2 + size + 2) return { body: Buffer.concat(parts), used: bytes.length, complete: false };
    parts.push(bytes.subarray(line + 2, line + 2 + size));
    at = line + 2 + size + 2;
  }
}

/** A request's bytes: request line, headers (Host first unless given), body. */
export function request(method, target, { headers = {}, body, host = "localhost" } = {}) {
  const lines = [`${method} ${target} HTTP/1.1`];
  const names = Object.keys(headers).map((name) => name.toLowerCase());
  if (!names.includes("host") && host !== null) lines.push(`Host: ${host}`);
  if (body !== undefined && !names.includes("content-length") && !names.includes("transfer-encoding")) {
    lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  }
  for (const [name, value] of Object.entries(headers)) {
    for (const one of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${one}`);
  }
  return `${lines.join("\r\n")}\r\n\r\n${body ?? ""}`;
}

/** A deterministic pseudo-random generator (mulberry32): `next()` in [0, 1). */
export function seeded(seed) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    /** An integer in [0, n). */
    below: (n) => Math.floor(next() * n),
    /** One element of `items`. */
    pick: (items) => items[Math.floor(next() * items.length)],
  };
}
