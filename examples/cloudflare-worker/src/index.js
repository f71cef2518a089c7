// The whole Worker. The cron runs one budgeted slice of the sync; env carries
// KEYCRM_API_KEY (a secret), KEYCRM_API_URL and the other vars of wrangler.toml,
// and DB, the D1 database holding the `products` table.
import { runScheduledSync } from "keycrm-stock-sync/worker";

export default {
  async scheduled(controller, env) {
    await runScheduledSync(env);
  },
};
