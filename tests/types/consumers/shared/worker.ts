// A Worker project: @cloudflare/workers-types, no @types/node. The Worker's own
// entries (".", "./d1", "./worker") type-check against the platform's types.
import { createPacing, KeyCrmSyncError, syncStocks, trackObservations } from "keycrm-stock-sync";
import { createD1Sink } from "keycrm-stock-sync/d1";
import { createWorker, runScheduledSync } from "keycrm-stock-sync/worker";

interface Env {
  DB: D1Database;
  KEYCRM_API_KEY: string;
  KEYCRM_WEBHOOK_TOKEN: string;
}

const worker = createWorker({ observedColumn: "observed_at" });

export default {
  async scheduled(controller: ScheduledController, env: Env, ctx: ExecutionContext): Promise<void> {
    await worker.scheduled(controller, env, ctx);
  },
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    if (new URL(request.url).pathname === "/manual") {
      const sink = trackObservations(createD1Sink({ database: env.DB }));
      try {
        const report = await syncStocks({ apiKey: env.KEYCRM_API_KEY, sink, pacing: createPacing() });
        return Response.json(report);
      } catch (error) {
        if (error instanceof KeyCrmSyncError) return Response.json({ code: error.code }, { status: 500 });
        throw error;
      }
    }
    return worker.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<Env>;

// createWorker()'s handlers fit the platform's own handler type as they are.
export const direct = createWorker() satisfies ExportedHandler<Env>;

export async function once(env: Env): Promise<boolean> {
  return (await runScheduledSync(env)).ran;
}
