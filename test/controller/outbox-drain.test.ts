import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EmbeddedLedger as Embedded } from '../../lambdas/adapters/ledger/embedded-ledger';
import type { LedgerEvent } from '../../lambdas/core/ledger';
import type { Outbox, OutboxEntry } from '../../lambdas/core/ports';
import type { drainOutbox as Drain } from '../../lambdas/core/use-cases/outbox';
import { startOutboxTables } from '../../bench/ledger-workload';

/**
 * Issue #17: the ledger writer submits no committed outbox entry a second time. The race it must
 * survive: an outbox read issued while the deletion of just-committed entries is under way returns
 * them (they were still there when the query ran, or the index lags behind the table, as a global
 * secondary index in AWS does), and answers only after the deletion finished. The real DynamoDB
 * outbox on DynamoDB Local and the embedded ledger; the outbox is wrapped only to make that
 * interleaving happen every time: each deletion starts once the next read's query has run, that
 * read answers after the deletion finished, and every read also returns, as a lagging index would,
 * every entry an earlier read returned (taken, in flight or deleted since).
 */
class RacingOutbox implements Outbox {
  private queried: Array<() => void> = [];
  private deleting = new Set<Promise<void>>();
  private seen = new Map<string, OutboxEntry>();
  constructor(private readonly inner: Outbox) {}
  append(...args: Parameters<Outbox['append']>) {
    return this.inner.append(...args);
  }
  pending(limit: number) {
    return this.inner.pending(limit);
  }
  async waiting(limit: number) {
    const page = await this.inner.waiting(limit);
    const waiting = this.queried;
    this.queried = [];
    for (const release of waiting) release();
    await Promise.all([...this.deleting]);
    // Let the writer's own reaction to the finished deletion run first.
    await new Promise((resolve) => setImmediate(resolve));
    const stale = [...this.seen.values()];
    for (const e of page.entries) this.seen.set(`${e.stream}\u0000${e.seq}`, e);
    return { ...page, entries: [...stale, ...page.entries] };
  }
  take(entries: OutboxEntry[], drain: string) {
    return this.inner.take(entries, drain);
  }
  recover(drain: string) {
    return this.inner.recover(drain);
  }
  taken(limit: number) {
    return this.inner.taken(limit);
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
  let plain: Outbox;
  let ledger: Embedded;
  let drainOutbox: typeof Drain;
  let dir: string;
  let table: string;
  let stopDynamo: () => Promise<void> = async () => undefined;

  beforeAll(async () => {
    const dynamo = await startOutboxTables('drain-');
    stopDynamo = dynamo.stop;
    const { names } = dynamo;
    table = names.outbox;
    const { DynamoOutbox } = await import('../../lambdas/adapters/dynamo/outbox');
    const { EmbeddedLedger } = await import('../../lambdas/adapters/ledger/embedded-ledger');
    ({ drainOutbox } = await import('../../lambdas/core/use-cases/outbox'));
    plain = new DynamoOutbox(names.outbox);
    outbox = new RacingOutbox(plain);
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
    expect(await outbox.taken(100)).toEqual([]);
  }, 120_000);

  /**
   * What the outbox's reads return, seen on the DynamoDB client (a pass-through spy: every request
   * goes to DynamoDB Local): a read issued while a transaction is in flight returns none of its
   * entries, nor any entry an earlier read returned; and an entry stamped before entries already
   * read, whose write lands after that read (appends are concurrent, each stamped before its
   * write), is still found and committed: a cursor over the stamps would skip it.
   */
  test('#17: no outbox read returns an entry in flight or already read, and a late-landing older entry is still taken', async () => {
    const { dynamo } = await import('../../lambdas/adapters/clients');
    const send = dynamo.send.bind(dynamo) as (command: unknown) => Promise<{ Items?: Array<Record<string, string>> }>;
    /** How often each entry was returned by a query of the pending index, and its stamp. */
    const returned = new Map<string, number>();
    const stamps = new Map<string, string>();
    let lateLanded!: () => void;
    const lateWritten = new Promise<void>((resolve) => (lateLanded = resolve));
    let releaseLate!: () => void;
    const lateReleased = new Promise<void>((resolve) => (releaseLate = resolve));
    let firstInFlight = false;
    let readDuringFlight!: () => void;
    const readWhileInFlight = new Promise<void>((resolve) => (readDuringFlight = resolve));
    const spy = jest.spyOn(dynamo, 'send').mockImplementation((async (command: { constructor: { name: string }; input: { IndexName?: string; Item?: { stream?: string } } }) => {
      const name = command.constructor.name;
      if (name === 'PutCommand' && command.input.Item?.stream === 'late') await lateReleased;
      const out = await send(command);
      if (name === 'PutCommand' && command.input.Item?.stream === 'late') lateLanded();
      if (name === 'QueryCommand' && command.input.IndexName === 'pending') {
        if (firstInFlight) readDuringFlight();
        for (const item of out.Items ?? []) {
          const id = `${item.stream}#${item.seq}`;
          returned.set(id, (returned.get(id) ?? 0) + 1);
          stamps.set(item.stream as string, item.enqueuedAt as string);
        }
      }
      return out;
    }) as never);
    try {
      const open = (id: string, lane: string) => plain.append(id, [{ type: 'OpenAccount', accountId: id, owner: `owner-${id}` }], { lane });
      for (let i = 0; i < 6; i++) await open(`early-${i}`, `lane-${i % 2}`);
      // Stamped now; its write is held until the first transaction is in flight.
      const late = open('late', 'lane-late');
      await new Promise((resolve) => setTimeout(resolve, 5)); // the entries after it carry a later stamp
      for (let i = 0; i < 6; i++) await open(`after-${i}`, `lane-${i % 2}`);

      const submitted = new Map<string, number>();
      let first = true;
      const holding = Object.create(ledger) as Embedded;
      holding.submit = async (events: LedgerEvent[]) => {
        for (const e of events) if (e.type === 'OpenAccount') submitted.set(e.accountId, (submitted.get(e.accountId) ?? 0) + 1);
        if (first) {
          // The first transaction stays in flight until the late entry landed and a read ran meanwhile.
          first = false;
          firstInFlight = true;
          releaseLate();
          await Promise.all([late, lateWritten, readWhileInFlight]);
          firstInFlight = false;
        }
        return ledger.submit(events);
      };

      const total = await drainOutbox(plain, holding, { lanes: 2, maxEvents: 2 });

      expect([...submitted].filter(([, n]) => n !== 1)).toEqual([]);
      expect(submitted.size).toBe(13);
      expect(total).toMatchObject({ committed: 13, rejected: 0 });
      // Every entry was returned by exactly one read: none again while in flight or waiting in the drain.
      expect([...returned].filter(([, n]) => n !== 1)).toEqual([]);
      expect(returned.size).toBe(13);
      // The late entry was older than entries read before it landed.
      expect((stamps.get('late') as string) < (stamps.get('after-5') as string)).toBe(true);
    } finally {
      spy.mockRestore();
    }
    expect(await plain.pending(100)).toEqual([]);
    expect(await plain.taken(100)).toEqual([]);
  }, 120_000);
  /**
   * A drain takes each entry with a conditional write of its own (no transaction), so a writer can
   * die between two takes: the entry it took is newer than one it did not get to take. The next
   * drain recovers the first, and must still submit the two in the outbox's order (a lane's events
   * in order: a job's CreateJob before its settlement), so it reads the waiting parts before it
   * submits anything it recovered.
   */
  test('#17: a writer that died between two takes: the next drain submits the entries in order', async () => {
    const open = (id: string) => plain.append(id, [{ type: 'OpenAccount', accountId: id, owner: `owner-${id}` }], { lane: 'lane-order' });
    await open('order-a');
    await open('order-b');
    const { entries } = await plain.waiting(10);
    const newer = entries.filter((e) => e.stream === 'order-b');
    expect(newer).toHaveLength(1);
    // The dead drain took the newer entry and not the older one.
    expect(await plain.take(newer, 'a-drain-that-died')).toHaveLength(1);
    expect((await plain.pending(10)).map((e) => e.stream)).toEqual(['order-a']);

    const order: string[] = [];
    const recording = Object.create(ledger) as Embedded;
    recording.submit = async (events: LedgerEvent[]) => {
      for (const e of events) if (e.type === 'OpenAccount') order.push(e.accountId);
      return ledger.submit(events);
    };
    const total = await drainOutbox(plain, recording, { lanes: 2, recover: true });

    expect(order).toEqual(['order-a', 'order-b']);
    expect(total).toMatchObject({ committed: 2, rejected: 0 });
    expect(await plain.pending(10)).toEqual([]);
    expect(await plain.taken(10)).toEqual([]);
  }, 120_000);

  /**
   * Appends that trickle in while transactions are in flight are read together, not one read each:
   * after a read that took few entries the next one waits the gap (`READ_GAP_MS`, here 300 ms so
   * that reads back to back, a few milliseconds each, cannot pass for it), or until nothing is in
   * flight. The bound holds however slow the machine is (a slower read only means fewer).
   */
  test('#17: appends trickling in while transactions are in flight are read at most once per gap', async () => {
    const GAP = 300;
    let reads = 0;
    const counting = Object.create(plain) as Outbox;
    counting.waiting = (limit: number) => {
      reads++;
      return plain.waiting(limit);
    };
    let inFlight = 0;
    /** How often the last transaction in flight ended (the drain then reads at once). */
    let idle = 0;
    const slow = Object.create(ledger) as Embedded;
    slow.submit = async (events: LedgerEvent[]) => {
      inFlight++;
      try {
        await new Promise((resolve) => setTimeout(resolve, 200));
        return await ledger.submit(events);
      } finally {
        if (--inFlight === 0) idle++;
      }
    };
    let appending = true;
    const appended: string[] = [];
    const appender = (async () => {
      for (let i = 0; appending && i < 300; i++) {
        const id = `trickle-${i}`;
        await plain.append(id, [{ type: 'OpenAccount', accountId: id, owner: id }], { lane: `trickle-${i % 4}` });
        appended.push(id);
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const started = Date.now();
    const first = await drainOutbox(counting, slow, { lanes: 2, recover: false, readGapMs: GAP });
    const ms = Date.now() - started;
    appending = false;
    await appender;
    const rest = await drainOutbox(plain, ledger, { lanes: 2, recover: false });

    expect(first.committed).toBeGreaterThan(0);
    expect(reads).toBeLessThanOrEqual(Math.ceil(ms / GAP) + idle + 2);
    expect(first.committed + rest.committed).toBe(appended.length);
    expect(await plain.pending(10)).toEqual([]);
  }, 120_000);

  /**
   * A take costs one write per entry: a few entries are taken by single conditional updates (a
   * transaction would bill each twice), many by transactions of 100 (one request per 100). And an
   * update applied whose answer was lost, sent again (as the SDK's retry does), still counts as
   * taken: here every single update reaches DynamoDB twice, and the second answer is the one the
   * drain sees.
   */
  test('#17: a few entries are taken by single updates, many by transactions; a take delivered twice still takes', async () => {
    const { dynamo } = await import('../../lambdas/adapters/clients');
    const send = dynamo.send.bind(dynamo) as (command: unknown) => Promise<unknown>;
    const sent: string[] = [];
    const spy = jest.spyOn(dynamo, 'send').mockImplementation((async (command: { constructor: { name: string } }) => {
      const name = command.constructor.name;
      sent.push(name);
      if (name !== 'UpdateCommand') return send(command);
      await send(command);
      return send(command);
    }) as never);
    try {
      const open = (id: string) => plain.append(id, [{ type: 'OpenAccount', accountId: id, owner: id }], { lane: `take-${id}` });
      for (let i = 0; i < 3; i++) await open(`few-${i}`);
      sent.length = 0;
      const few = await drainOutbox(plain, ledger, { lanes: 2, recover: false });
      expect(few).toMatchObject({ committed: 3, rejected: 0 });
      expect(sent.filter((n) => n === 'UpdateCommand')).toHaveLength(3);
      expect(sent.filter((n) => n === 'TransactWriteCommand')).toHaveLength(0);

      for (let i = 0; i < 40; i++) await open(`many-${i}`);
      sent.length = 0;
      const many = await drainOutbox(plain, ledger, { lanes: 2, recover: false });
      expect(many).toMatchObject({ committed: 40, rejected: 0 });
      expect(sent.filter((n) => n === 'UpdateCommand')).toHaveLength(0);
      expect(sent.filter((n) => n === 'TransactWriteCommand')).toHaveLength(1);
    } finally {
      spy.mockRestore();
    }
    expect(await plain.pending(10)).toEqual([]);
    expect(await plain.taken(10)).toEqual([]);
  }, 120_000);

  test('#17: entries written before one-item appends and the spread index (a single event, index part p) are still committed', async () => {
    const { dynamo } = await import('../../lambdas/adapters/clients');
    const { PutCommand } = await import('@aws-sdk/lib-dynamodb');
    const at = new Date().toISOString();
    for (const id of ['old-a', 'old-b'])
      await dynamo.send(new PutCommand({ TableName: table, Item: { stream: id, seq: `${at}#${id}`, event: { type: 'OpenAccount', accountId: id, owner: id }, enqueuedAt: at, pendingShard: 'p', lane: id } }));
    expect((await plain.pending(10)).map((e) => e.events)).toEqual([[{ type: 'OpenAccount', accountId: 'old-a', owner: 'old-a' }], [{ type: 'OpenAccount', accountId: 'old-b', owner: 'old-b' }]]);

    const total = await drainOutbox(plain, ledger, { lanes: 2 });

    expect(total).toMatchObject({ committed: 2, rejected: 0 });
    expect(await ledger.getBalance('old-a')).toBe(0);
    expect(await plain.pending(10)).toEqual([]);
    expect(await plain.taken(10)).toEqual([]);
  }, 120_000);
});
