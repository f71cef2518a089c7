// The environment of a user who exported the API key and the API URL, and
// nothing else of ours: settings this machine may carry (KEYCRM_*, DATABASE_URL)
// never leak into a CLI test.

/**
 * @param {string} apiKey
 * @param {string} apiUrl
 * @param {Record<string, string>} [extra]
 */
export function userEnv(apiKey, apiUrl, extra = {}) {
  const env = { ...process.env };
  for (const name of Object.keys(env)) {
    if (name.startsWith("KEYCRM_") || name === "DATABASE_URL") delete env[name];
  }
  return { ...env, KEYCRM_API_KEY: apiKey, KEYCRM_API_URL: apiUrl, ...extra };
}
