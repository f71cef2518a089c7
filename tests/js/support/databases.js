// Where the PostgreSQL and MariaDB test servers are. scripts/test.sh starts them
// (scripts/databases.sh) and exports their URLs before the tests run. Under CI a
// missing URL fails the tests; run by hand, a test file starts the servers itself
// with the same script (which needs root the first time, to install them).

import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));

const VARIABLES = {
  postgres: "KEYCRM_TEST_POSTGRES_URL",
  mysql: "KEYCRM_TEST_MYSQL_URL",
};

/**
 * The URL of a test server, starting the servers when run by hand.
 * @param {"postgres" | "mysql"} kind
 * @returns {string}
 */
export function serverUrl(kind) {
  const name = VARIABLES[kind];
  if (process.env[name]) return process.env[name];
  if (process.env.CI === "true") {
    throw new Error(
      `${name} is not set: CI must start the test databases (eval "$(sh scripts/databases.sh)") before the tests`,
    );
  }
  let output;
  try {
    output = execFileSync("sh", ["scripts/databases.sh"], {
      cwd: ROOT,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    });
  } catch (error) {
    throw new Error(
      `${name} is not set and scripts/databases.sh could not start the test databases (${error.message}); start them yourself and export ${name}`,
    );
  }
  for (const line of output.split("\n")) {
    const match = /^export (\w+)='([^']*)'$/.exec(line);
    if (match) process.env[match[1]] = match[2];
  }
  if (!process.env[name]) {
    throw new Error(`scripts/databases.sh did not print ${name}`);
  }
  return process.env[name];
}

/** A name unique to this test process, for schemas and databases it drops after. */
export function scratchName(prefix) {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}`;
}

/** The password in a database URL, as typed and decoded. */
export function passwordOf(url) {
  const raw = new URL(url).password;
  return [raw, decodeURIComponent(raw)];
}
