// `keycrm-stock-sync serve` as a child process on a port of its choosing.

import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

const CLI = fileURLToPath(new URL("../../../js/cli.js", import.meta.url));

/** A port free a moment ago (serve wants a port of at least 1). */
async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Starts `serve` with `args` on a free port and resolves once it listens,
 * with the port it printed. Rejects if it exits first.
 * @param {string[]} args
 * @param {Record<string, string>} env added to this process's environment
 */
export async function startServe(args, env) {
  const child = spawn(process.execPath, [CLI, "serve", "--port", String(await freePort()), ...args], {
    env: { ...process.env, ...env },
  });
  const out = { stdout: "", stderr: "" };
  child.stdout.on("data", (d) => (out.stdout += d));
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve(code ?? signal)));
  const listening = new Promise((resolve, reject) => {
    child.stderr.on("data", (d) => {
      out.stderr += d;
      const port = /listening on http:\/\/[^:]+:(\d+)/.exec(out.stderr)?.[1];
      if (port) resolve(Number(port));
    });
    exited.then((code) => reject(new Error(`serve exited (${code}) before listening: ${out.stderr}`)));
  });
  return listening.then((port) => ({
    child,
    port,
    out,
    exited,
    /** SIGTERM; resolves with the exit code. */
    stop: () => {
      child.kill("SIGTERM");
      return exited;
    },
  }));
}
