// The CommonJS entry's typings: the same API, async throughout.
import sync = require("keycrm-stock-sync");

export async function example(): Promise<string> {
  await sync.validateOptions({ keepReserve: true });
  const sink = { read: async () => [], write: async () => {}, readAll: async () => [] };
  const checked: sync.CheckReport = await sync.checkStock({ apiKey: "k", sink });
  console.log(checked.findings?.withoutSku.length);
  return sync.version();
}
