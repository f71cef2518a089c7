#!/usr/bin/env node
// keycrm-stock-sync: reads the command line and hands over to the command.

import { readFileSync } from "node:fs";
import {
  EXIT,
  helpText,
  isCommand,
  parseCommandLine,
  UsageError,
} from "./cli/args.js";
import { redact } from "./errors.js";

const io = { env: process.env, stdout: process.stdout, stderr: process.stderr };

async function main(argv) {
  const { command, options, positionals, help } = parseCommandLine(argv);
  if (command === "version") {
    const pkg = new URL("../package.json", import.meta.url);
    io.stdout.write(`${JSON.parse(readFileSync(pkg, "utf8")).version}\n`);
    return EXIT.OK;
  }
  if (command === "help" || help) {
    const topic = command === "help" ? positionals[0] : command;
    if (topic !== undefined && !isCommand(topic)) {
      throw new UsageError(`no help for ${topic}: there is no such command`);
    }
    // Bare `keycrm-stock-sync` is a usage mistake: help, but on stderr.
    const bare = argv.length === 0;
    (bare ? io.stderr : io.stdout).write(helpText(topic));
    return bare ? EXIT.USAGE : EXIT.OK;
  }
  // Loaded on demand, so help and usage errors never load the core.
  if (command === "sync") {
    return (await import("./cli/sync.js")).runSync(options, io);
  }
  if (command === "check") {
    return (await import("./cli/check.js")).runCheck(options, io);
  }
  if (command === "serve") {
    return (await import("./cli/serve.js")).runServe(options, io);
  }
  // The demo writes a SQLite file, whose driver is an optional dependency.
  await (await import("./cli/sync.js")).sqliteSinks();
  return (await import("./cli/demo.js")).runDemo(options, io);
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof UsageError) {
    io.stderr.write(`error: ${error.message}; ${error.hint}\n`);
    process.exitCode = EXIT.USAGE;
  } else {
    const code = error?.code ?? "INTERNAL";
    const message = redact(
      String(error?.message ?? error),
      io.env.KEYCRM_API_KEY,
    );
    io.stderr.write(`error ${code}: ${message}\n`);
    process.exitCode = code === "INVALID_CONFIG" ? EXIT.USAGE : EXIT.FAILED;
  }
}
