import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EmbeddedLedger as Embedded } from '../../lambdas/adapters/ledger/embedded-ledger';
import type { LedgerEvent } from '../../lambdas/core/ledger';
import type { Outbox, OutboxCursor, OutboxEntry } from '../../lambdas/core/ports';
import type { drainOutbox as Drain } from '../../lambdas/core/use-cases/outbox';
import { startOutboxTables } from '../../bench/ledger-workload';

/**
 * Issue #17: the ledger writer submits no committed outbox entry a second time. The race it must
 * survive: an outbox read issued while the deletion of just-committed entries is under way returns
 * them (they were still there when the query ran), and answers only after the deletion finished and
 * the writer forgot them. The real DynamoDB outbox on DynamoDB Local and the embedded ledger; the
 * outbox is wrapped only to make that interleaving happen every time: each deletion starts once the
 * next read's query has run, and that read answers after the deletion finished.
 */
class RacingOutbox implements Outbox {
  private queried: Array<() => void> = [];
  private deleting = new Set<Promise<void>>();
  constructor(private readonly inner: Outbox) {}
  append(...args: Parameters<Outbox['append']>) {
    return this.inner.append(...args);
  }
  pending(limit: number) {
    return this.inner.pending(limit);
  }
  async pendingSince(cursor: OutboxCursor | undefined, limit: number) {
    const page = await this.inner.pendingSince(cursor, limit);
    const waiting = this.queried;
    this.queried = [];
    for (const release of waiting) release();
    await Promise.all([...this.deleting]);
    // Let the writer's own reaction to the finished deletion run first.
    await new Promise((resolve) => setImmediate(resolve));
    return page;
  }
  markDone(entries: OutboxEntry[]) {
    const deletion = new Promise<void>((resolve) => this.queried.push(resolve)).then(() => this.inner.markDone(entries));
    this.deleting.add(deletion);
    void deletion.finally(() => this.deleting.delete(deletion)).catch(() => undefined);
    return deletion;
  }
  markRejected(entry: OutboxEntry, error: string) {
    return this.inner.markRejected(entry, error);
  }
}

describe('the ledger writer and the outbox', () => {
  let outbox: Outbox;
  let ledger: Embedded;
  let drainOutbox: typeof Drain;
  let dir: string;
  let stopDynamo: () => Promise<void> = async () => undefined;

  beforeAll(async () => {
    const dynamo = await startOutboxTables('drain-');
    stopDynamo = dynamo.stop;
    const { names } = dynamo;
    const { DynamoOutbox } = await import('../../lambdas/adapters/dynamo/outbox');
    const { EmbeddedLedger } = await import('../../lambdas/adapters/ledger/embedded-ledger');
    ({ drainOutbox } = await import('../../lambdas/core/use-cases/outbox'));
    outbox = new RacingOutbox(new DynamoOutbox(names.outbox));
    dir = mkdtempSync(join(tmpdir(), 'chainfaas-drain-'));
    ledger = new EmbeddedLedger({ dir });
  }, 120_000);

  afterAll(async () => {
    await ledger?.close();
    await stopDynamo();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  test('#17: an outbox read that raced the deletion of committed entries does not submit them again', async () => {
    const ACCOUNTS = 20;
    for (let i = 0; i < ACCOUNTS; i++) await outbox.append(`acct-${i}`, [{ type: 'OpenAccount', accountId: `acct-${i}`, owner: `owner-${i}` }], { lane: `acct-${i % 2}` });
    const submitted = new Map<string, number>();
    const duplicates: string[] = [];
    const counting = Object.create(ledger) as Embedded;
    counting.submit = async (events: LedgerEvent[]) => {
      for (const e of events) if (e.type === 'OpenAccount') submitted.set(e.accountId, (submitted.get(e.accountId) ?? 0) + 1);
      const out = await ledger.submit(events);
      out.results.forEach((r, i) => {
        if ('duplicate' in r && r.duplicate) duplicates.push(JSON.stringify(events[i]));
      });
      return out;
    };

    const total = await drainOutbox(outbox, counting, { lanes: 1, maxEvents: 5 });

    expect({ twice: [...submitted].filter(([, n]) => n !== 1), duplicates }).toEqual({ twice: [], duplicates: [] });
    expect(submitted.size).toBe(ACCOUNTS);
    expect(total).toMatchObject({ committed: ACCOUNTS, rejected: 0 });
    expect(await outbox.pending(100)).toEqual([]);
  }, 120_000);
});
