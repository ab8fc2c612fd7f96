import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { deliverDueCallbacks } from '../core/use-cases/callbacks';
import { sweep } from '../core/use-cases/reaper';
import { callbackSender } from '../adapters/api-options';
import { depsFromEnv } from '../adapters/deps';
import { logger, withLambdaContext } from '../adapters/observability';

const deps = depsFromEnv();

/**
 * The reaper: EventBridge runs it on the manifest's schedule in AWS; local mode runs it on a timer.
 * It takes jobs back from providers whose leases lapsed, fails jobs that waited too long, places
 * waiting jobs on freed capacity (lambdas/core/use-cases/reaper.ts), and delivers the completion
 * callbacks that are due (lambdas/core/use-cases/callbacks.ts), off the report's path. One failing
 * does not stop the other; the error is thrown after both ran, so the run counts as failed.
 */
export const handler = middy<unknown, Awaited<ReturnType<typeof run>>, Error, Context>()
  .use(withLambdaContext())
  .handler(() => run());

async function run() {
  const [swept, callbacks] = await Promise.allSettled([sweep(deps), deliverDueCallbacks(deps, callbackSender)]);
  if (swept.status === 'rejected') throw swept.reason;
  if (callbacks.status === 'rejected') throw callbacks.reason;
  const result = { ...swept.value, callbacks: callbacks.value };
  const { delivered, retrying, gaveUp } = callbacks.value;
  if (result.requeued + result.failed + result.expired + result.placed + (result.holdsReleased ?? 0) + delivered + retrying + gaveUp > 0) {
    logger.info('reaper sweep', { ...result });
  }
  return result;
}
