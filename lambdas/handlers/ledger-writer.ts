import { drainOutbox } from '../core/use-cases/outbox';
import { depsFromEnv, ledgerFromEnv } from '../adapters/deps';

const deps = depsFromEnv();

/**
 * The ledger writer: triggered by the outbox table's stream in AWS (and run on a timer in local
 * mode), it commits pending ledger events in batches until none are left. Throwing makes the
 * stream retry the batch; entries are only removed once committed, so nothing is lost.
 */
export const handler = async (): Promise<{ committed: number; rejected: number }> => {
  const ledger = await ledgerFromEnv();
  const total = { committed: 0, rejected: 0 };
  for (;;) {
    const { committed, rejected } = await drainOutbox(deps.outbox, ledger);
    total.committed += committed;
    total.rejected += rejected;
    if (committed + rejected === 0) return total;
  }
};
