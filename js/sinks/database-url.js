// A database URL is read here before a driver sees it. A driver given a URL
// whose password holds an unencoded `/`, `?`, `#` or `@` reads a different host
// (`postgres://u:pa/ss@h/db` names host "u"), then fails to connect, which looks
// like a database that is down. Such a URL is a configuration mistake, and the
// message must say how to fix it without ever showing the URL: it carries the
// password.

import { invalidConfig } from "./table.js";

const ENCODE =
  "percent-encode any of / ? # @ : % and spaces in the user name and password (/ as %2F, ? as %3F, # as %23, @ as %40, : as %3A, % as %25)";

/**
 * Checks that `url` is a `scheme://user:password@host/database` URL of one of
 * `schemes`, whose user name and password the driver will read as they were meant.
 * @param {unknown} url
 * @param {string[]} schemes lower case, without `://`, e.g. ["postgres", "postgresql"]
 * @param {string} sink e.g. "PostgreSQL sink"
 * @returns {string} the url, unchanged
 * @throws {import("../errors.js").KeyCrmSyncError} INVALID_CONFIG
 */
export function checkDatabaseUrl(url, schemes, sink) {
  const names = schemes.map((scheme) => `${scheme}://`).join(" or ");
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(
    typeof url === "string" ? url : "",
  )?.[1];
  if (scheme === undefined || !schemes.includes(scheme.toLowerCase())) {
    throw invalidConfig(`The ${sink}'s url must be a ${names} URL.`);
  }
  // The authority ends at the first / ? or #, as every URL parser reads it. An
  // @ only after that is the end of a password that held one of them.
  const rest = url.slice(scheme.length + 3);
  const end = rest.search(/[/?#]/);
  const authority = end === -1 ? rest : rest.slice(0, end);
  const after = end === -1 ? "" : rest.slice(end);
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (
    parsed === undefined ||
    (!authority.includes("@") && after.includes("@"))
  ) {
    throw invalidConfig(
      `The ${sink}'s url cannot be read as ${scheme}://user:password@host:port/database: ${ENCODE}.`,
    );
  }
  if (parsed.hash !== "") {
    throw invalidConfig(
      `The ${sink}'s url has a # part, which a database URL never has: ${ENCODE}.`,
    );
  }
  for (const part of [parsed.username, parsed.password]) {
    try {
      decodeURIComponent(part);
    } catch {
      throw invalidConfig(
        `The ${sink}'s url has a % in its user name or password that is not an escape: ${ENCODE}.`,
      );
    }
  }
  return url;
}
