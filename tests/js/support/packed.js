// The package as a user gets it: `npm pack`, then `npm install <tarball>` into a
// fresh project, offline. Packages the tests need besides (type packages, drivers)
// are linked from this repository's node_modules, as if installed next to it.

import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

export const root = fileURLToPath(new URL("../../..", import.meta.url));
const run = promisify(execFile);
const npm = process.platform === "win32" ? "npm.cmd" : "npm";

/** Runs npm quietly, offline-first, without scripts, audit or funding notes. */
async function npmIn(cwd, args) {
  const { stdout } = await run(npm, [...args, "--no-audit", "--no-fund", "--loglevel=error"], {
    cwd,
    encoding: "utf8",
    timeout: 180_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout;
}

/**
 * Builds the CommonJS copy and packs the package into `dir`.
 * @returns {Promise<{ tarball: string, files: string[] }>} the tarball's path and the files it holds
 */
export async function pack(dir) {
  await run(process.execPath, [join(root, "scripts", "build-cjs.js")], { timeout: 60_000 });
  // prepack would also run the setup; the tests run after it, so the scripts are skipped.
  const [result] = JSON.parse(
    await npmIn(root, ["pack", "--json", "--ignore-scripts", "--pack-destination", dir]),
  );
  return { tarball: join(dir, result.filename), files: result.files.map((f) => f.path) };
}

/**
 * A fresh project in a temporary folder with the packed package installed from its
 * tarball, and `links` (package names) linked from this repository's node_modules.
 * @param {{ links?: string[] }} [options]
 */
export async function installPacked({ links = [] } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "keycrm-packed-"));
  const { tarball, files } = await pack(dir);
  const app = join(dir, "app");
  mkdirSync(app);
  writeFileSync(
    join(app, "package.json"),
    JSON.stringify({ name: "consumer", version: "1.0.0", private: true }, null, 2),
  );
  // Optional and peer dependencies (the drivers) are left out; nothing is fetched.
  await npmIn(app, [
    "install",
    tarball,
    "--offline",
    "--omit=optional",
    "--omit=peer",
    "--ignore-scripts",
    "--no-package-lock",
  ]);
  for (const name of links) {
    const target = join(app, "node_modules", name);
    mkdirSync(dirname(target), { recursive: true });
    symlinkSync(join(root, "node_modules", name), target, "dir");
  }
  const installed = join(app, "node_modules", "keycrm-stock-sync");
  return {
    dir,
    app,
    tarball,
    files,
    installed,
    manifest: JSON.parse(readFileSync(join(installed, "package.json"), "utf8")),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
