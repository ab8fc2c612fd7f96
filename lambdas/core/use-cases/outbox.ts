import type { Ledger } from '../ledger';
import type { Outbox } from '../ports';

/** The ledger outbox, drained by the ledger writer. */

/**
 * Moves pending outbox entries to the ledger in one transaction, oldest first (so each job's
 * events keep their order). Refused events are marked rejected with the chaincode's reason and
 * never retried; if the ledger is unreachable nothing is marked and the next run retries.
 */
export async function drainOutbox(outbox: Outbox, ledger: Ledger, limit = 200): Promise<{ committed: number; rejected: number }> {
  const entries = await outbox.pending(limit);
  if (entries.length === 0) return { committed: 0, rejected: 0 };
  const { results } = await ledger.submit(entries.map((e) => e.event));
  let committed = 0;
  let rejected = 0;
  for (const [i, entry] of entries.entries()) {
    const result = results[i];
    if (result?.ok) {
      await outbox.markDone(entry);
      committed++;
    } else {
      await outbox.markRejected(entry, result?.error ?? 'no result from the ledger');
      rejected++;
    }
  }
  return { committed, rejected };
}
