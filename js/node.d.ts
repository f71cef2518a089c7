// Typings of the Node.js entry: the API of every runtime (index.d.ts) and what only
// Node has. They name none of Node's types, so a project without `@types/node` (a
// Worker's, say) can import them too.

export * from "./index.js";

/**
 * A request of Node's `http` server (an `IncomingMessage`, or a framework's request built on one), as far as
 * these typings name it: structural, so they need no `@types/node`.
 */
export interface NodeRequestLike {
  /** The HTTP method. */
  method?: string;
  /** The request target, as the server (or the framework) gives it. */
  url?: string;
  /** The whole target, where a framework shortens `url` below a mount path (Express). Default: `url`. */
  originalUrl?: string;
  /** The body a body parser already read: a Buffer, a string or parsed JSON. Default: none (the stream is read). */
  body?: unknown;
}

/**
 * A response of Node's `http` server (a `ServerResponse`, or a framework's response built on one), as far as
 * these typings name it: structural, so they need no `@types/node`.
 */
export interface NodeResponseLike {
  /** Sends the status line and the headers. */
  writeHead(statusCode: number, ...rest: any[]): unknown;
  /** Ends the response. */
  end(...args: any[]): unknown;
}

/**
 * Serves a `Request` → `Response` handler from Node's `http` server (Node only). Given `next` (as middleware), the
 * handler's 404s go to `next()`.
 */
export function toNodeListener(
  handler: (request: Request) => Promise<Response>,
): (req: NodeRequestLike, res: NodeResponseLike, next?: (error?: unknown) => void) => void;
export * from "./service.js";
