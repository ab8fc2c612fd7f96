import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { catchUpBalances } from '../core/use-cases/balances';
import { drainOutbox } from '../core/use-cases/outbox';
import { sendPayouts } from '../core/use-cases/payments';
import { depsFromEnv, ledgerFromEnv } from '../adapters/deps';
import { withLambdaContext } from '../adapters/observability';
import { ENV, LEDGER_WRITER_LANES_DEFAULT } from './manifest';

const deps = depsFromEnv();
const lanes = Math.max(1, Number(process.env[ENV.ledgerWriterLanes] ?? LEDGER_WRITER_LANES_DEFAULT) || LEDGER_WRITER_LANES_DEFAULT);
/** The payout sweep runs after a run that moved something, else at most this often (a retry of a transfer that failed for a while). */
const PAYOUT_SWEEP_IDLE_MS = 60_000;
let lastPayoutSweep = 0;
/** Whether the next drain first takes over what earlier drains left taken: on a new process, and after a drain that failed. */
let recoverNext = true;

/**
 * The ledger writer: triggered by the outbox table's stream in AWS (and run on a timer in local
 * mode), it commits pending ledger events in batches until none are left (`LEDGER_WRITER_LANES`
 * transactions in flight, one per lane: use-cases/outbox.ts), then brings the
 * balances read model up to the ledger's committed movements (reporting each job's settlement lag
 * as it is first recorded paid), then sends the payouts the ledger holds pending and records
 * their outcome in the outbox (use-cases/payments.ts#sendPayouts: after a run that committed or
 * followed something, else once a minute; its errors wait for the next run and never fail this
 * one). Throwing makes the stream retry the batch; entries are only removed once committed, so
 * nothing is lost: what a drain took and did not mark (it threw, or the process died) is taken
 * over by the next drain of a new process or after a failed one.
 */
export const handler = middy<unknown, { committed: number; rejected: number; movements: number }, Error, Context>()
  .use(withLambdaContext())
  .handler(async () => {
    const ledger = await ledgerFromEnv();
    const recover = recoverNext;
    recoverNext = true;
    const { committed, rejected } = await drainOutbox(deps.outbox, ledger, { lanes, recover });
    recoverNext = false;
    const total = { committed, rejected, movements: 0 };
    total.movements = await catchUpBalances(ledger, deps.balances, deps.jobs, total.committed > 0 ? 200 : 20, { telemetry: deps.telemetry, now: deps.now });
    if (deps.payments?.transfer && (committed > 0 || total.movements > 0 || Date.now() - lastPayoutSweep > PAYOUT_SWEEP_IDLE_MS)) {
      lastPayoutSweep = Date.now();
      await sendPayouts(deps, ledger).catch((err: unknown) => deps.telemetry.error('payout sweep failed; the next run retries it', { error: (err as Error).message }));
    }
    return total;
  });
