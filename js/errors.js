// Errors raised by the package: KeyCrmSyncError, an Error with a stable `code`, so
// callers branch on err.code alone. The wasm core builds the same shape (an Error
// named "KeyCrmSyncError" with a string `code`); `instanceof KeyCrmSyncError` holds
// for those too, and for errors of another copy of this module (the CommonJS build
// and the ES modules are two copies in one process).

const NAME = "KeyCrmSyncError";

/** Whether a value has the shape of the package's errors, whichever copy made it. */
function hasErrorShape(value) {
  return value instanceof Error && value.name === NAME && typeof value.code === "string";
}

/** The errors this package throws and rejects with. */
export class KeyCrmSyncError extends Error {
  /**
   * @param {string} code a stable code, e.g. "INVALID_CONFIG" or "SINK_FAILED"
   * @param {string} message what happened, for people
   * @param {{ cause?: unknown, status?: number }} [options] the underlying error;
   *   KeyCRM's HTTP status, when an answer caused the error
   */
  constructor(code, message, options = {}) {
    super(message, "cause" in options ? { cause: options.cause } : undefined);
    this.name = NAME;
    /** @type {string} */
    this.code = code;
    if (options.status !== undefined) this.status = options.status;
  }

  /**
   * `error instanceof KeyCrmSyncError` holds for any Error named "KeyCrmSyncError"
   * with a string `code`: the core's errors and those of the other module copy.
   * Subclasses keep the ordinary prototype check.
   */
  static [Symbol.hasInstance](value) {
    if (this !== KeyCrmSyncError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return hasErrorShape(value);
  }
}

/**
 * @param {string} code a stable code, e.g. "INVALID_CONFIG" or "SINK_FAILED"
 * @param {string} message
 * @param {unknown} [cause]
 * @returns {KeyCrmSyncError}
 */
export function syncError(code, message, cause) {
  return new KeyCrmSyncError(code, message, cause === undefined ? {} : { cause });
}

/** Whether a thrown value is one of ours. */
export function isSyncError(value) {
  return hasErrorShape(value);
}

/**
 * Gives an error of the core's shape (an Error named "KeyCrmSyncError") this
 * module's prototype, so that its constructor is KeyCrmSyncError; returns any
 * thrown value as it is.
 * @template T
 * @param {T} value
 * @returns {T}
 */
export function adoptError(value) {
  if (hasErrorShape(value) && Object.getPrototypeOf(value) === Error.prototype) {
    Object.setPrototypeOf(value, KeyCrmSyncError.prototype);
  }
  return value;
}

/**
 * Replaces every occurrence of the secrets in the strings of a JSON-shaped value.
 * Defence in depth: the core never sees the API key, but a misplaced option or a
 * driver's error text must not be able to carry it into a report or a log.
 * @param {unknown} value
 * @param {...(string | undefined)} secrets too short ones (under 4) are ignored
 */
export function redact(value, ...secrets) {
  const hidden = secrets.filter((secret) => secret && secret.length >= 4);
  return hidden.length === 0 ? value : redactAll(value, hidden);
}

function redactAll(value, secrets) {
  if (typeof value === "string") {
    return secrets.reduce((text, secret) => text.split(secret).join("[redacted]"), value);
  }
  if (Array.isArray(value)) return value.map((v) => redactAll(v, secrets));
  if (value !== null && typeof value === "object") {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = redactAll(v, secrets);
    return out;
  }
  return value;
}

/** Redacts an error's message in place and returns it. */
export function redactError(error, secret) {
  adoptError(error);
  if (error instanceof Error && secret && error.message.includes(secret)) {
    error.message = redact(error.message, secret);
  }
  return error;
}
