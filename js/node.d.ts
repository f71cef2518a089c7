// Typings of the Node.js entry: the API of every runtime (index.d.ts) and what only
// Node has. Needs Node's types (`@types/node`).

export * from "./index.js";

/** Serves a `Request` → `Response` handler from Node's `http` server (Node only). */
export function toNodeListener(
  handler: (request: Request) => Promise<Response>,
): (req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse) => void;
