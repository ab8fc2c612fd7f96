import { sweep } from '../core/use-cases/reaper';
import { depsFromEnv } from '../adapters/deps';

const deps = depsFromEnv();

/**
 * The reaper: EventBridge runs it on the manifest's schedule in AWS; local mode runs it on a timer.
 * It takes jobs back from providers whose leases lapsed, fails jobs that waited too long, and
 * places waiting jobs on freed capacity (lambdas/core/use-cases/reaper.ts).
 */
export const handler = async () => {
  const result = await sweep(deps);
  if (result.requeued + result.failed + result.expired + result.placed > 0) console.log(JSON.stringify({ level: 'info', msg: 'reaper sweep', ...result }));
  return result;
};
