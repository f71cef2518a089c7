// The whole Worker. The cron runs one budgeted slice of the sync; fetch serves
// KeyCRM's webhooks (POST /webhooks/keycrm/stock and /order?token=…). env carries
// KEYCRM_API_KEY and KEYCRM_WEBHOOK_TOKEN (secrets), KEYCRM_API_URL and the other
// vars of wrangler.toml, and DB, the D1 database holding the `products` table.
import { createWorker } from "keycrm-stock-sync/worker";

export default createWorker();
