// The CommonJS entry's typings: the same API, async throughout.
import sync = require("keycrm-stock-sync");

export async function example(): Promise<string> {
  await sync.validateOptions({ keepReserve: true });
  return sync.version();
}
