// Errors raised by the JS side carry the same shape as the core's: an Error named
// "KeyCrmSyncError" with a stable `code`, so callers branch on err.code alone.

/**
 * @param {string} code a stable code, e.g. "INVALID_CONFIG" or "SINK_FAILED"
 * @param {string} message
 * @param {unknown} [cause]
 * @returns {Error & { code: string }}
 */
export function syncError(code, message, cause) {
  const error = /** @type {Error & { code: string }} */ (
    new Error(message, cause === undefined ? undefined : { cause })
  );
  error.name = "KeyCrmSyncError";
  error.code = code;
  return error;
}

/** Whether a thrown value is one of ours. */
export function isSyncError(value) {
  return value instanceof Error && value.name === "KeyCrmSyncError";
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
  if (error instanceof Error && secret && error.message.includes(secret)) {
    error.message = redact(error.message, secret);
  }
  return error;
}
