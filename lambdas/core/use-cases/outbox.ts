import type { Ledger } from '../ledger';
import type { Outbox, OutboxEntry } from '../ports';

/**
 * The ledger outbox, drained by the ledger writer: several transactions in flight, each in a lane.
 *
 * Why lanes, and why they cannot conflict. Fabric validates a transaction against what committed
 * before it: a key it read that changed since (MVCC), or a range it read that gained or lost a key
 * (phantom), invalidates it. What a job's events read and write on the ledger (chaincode/src):
 *
 * - its own job record: every event of a job is routed to its developer's lane;
 * - its developer's balance range (a debit reads it whole), terms, invoices and unpaid jobs: the
 *   developer's lane, one transaction in flight per lane;
 * - a blind write into its payee's balance range (a credit writes `balance~<payee>~<txId>`, reading
 *   nothing): it would invalidate a transaction in flight that read the payee's range, that is one of
 *   the payee's own lane; so a batch is never in flight together with one whose lane is its payee, or
 *   whose payee is its lane;
 * - the provider and account records: written only by entries without a route (RegisterProvider,
 *   OpenAccount, and top-ups, terms and bill payments, which may settle unpaid jobs of any payee),
 *   which are committed alone: the writer waits for everything in flight, submits them, and waits
 *   for their commit before anything after them.
 *
 * Entries are taken in the outbox's order (enqueue time, then sequence); a lane's entries keep that
 * order because a lane has one transaction in flight, and an entry is marked done only after its
 * transaction committed. A transaction that fails (the ledger unreachable, or its commit unknown)
 * leaves its entries pending; the next drain submits them again and the chaincode takes the events
 * it already has as duplicates, so every event counts once.
 */

export interface DrainOptions {
  /** Transactions in flight at once, each in its own lane. @default 1 */
  lanes?: number;
  /** Most events in one transaction. @default 200 */
  maxEvents?: number;
  /** Called after each transaction committed (or failed): for the benchmark and the logs. */
  onTransaction?: (report: TransactionReport) => void;
}

export interface TransactionReport {
  entries: OutboxEntry[];
  /** The lane, or undefined for a transaction committed alone. */
  lane?: string;
  txId?: string;
  ms: number;
  error?: unknown;
}

export interface DrainResult {
  committed: number;
  rejected: number;
  transactions: number;
}

interface Flight {
  lane?: string;
  payees: Set<string>;
  done: Promise<void>;
}

const idOf = (e: OutboxEntry) => `${e.stream}\u0000${e.seq}`;

/**
 * Commits pending outbox entries until none are left (those appended meanwhile included), with up
 * to `lanes` transactions in flight. Refused events are marked rejected with the chaincode's reason
 * and never retried. If a transaction fails, nothing more is submitted, the ones in flight are
 * awaited, and the first error is thrown (their entries stay pending for the next run).
 */
export async function drainOutbox(outbox: Outbox, ledger: Ledger, options: DrainOptions = {}): Promise<DrainResult> {
  const lanes = Math.max(1, options.lanes ?? 1);
  const maxEvents = Math.max(1, options.maxEvents ?? 200);
  // Per part of the index: what every lane could take, beyond what is already in flight.
  const readLimit = maxEvents * lanes;
  const total: DrainResult = { committed: 0, rejected: 0, transactions: 0 };
  const inFlight = new Set<Flight>();
  const bookkeeping = new Set<Promise<void>>();
  /** Entries read and not yet marked: buffered, in flight, or being marked. */
  const known = new Map<string, OutboxEntry>();
  const claimed = new Set<string>();
  /** Outbox reads issued so far. */
  let reads = 0;
  /**
   * Entries marked (deleted or refused) in this drain, each with the number of reads issued when
   * its marking finished: a read issued before then may still return it, and it must not be taken
   * as pending again. Kept until a read issued after its marking has returned. (In AWS the pending
   * index is eventually consistent and may still list a deleted entry a moment later; the chaincode
   * then takes its events as duplicates.)
   */
  const settled = new Map<string, number>();
  let horizon: string | undefined;
  let failure: { error: unknown } | undefined;

  const launch = (entries: OutboxEntry[], lane: string | undefined) => {
    for (const e of entries) claimed.add(idOf(e));
    const started = Date.now();
    const flight: Flight = { lane, payees: new Set(entries.flatMap((e) => (e.payee === undefined ? [] : [e.payee]))), done: Promise.resolve() };
    flight.done = ledger.submit(entries.map((e) => e.event)).then(
      ({ txId, results }) => {
        inFlight.delete(flight);
        total.transactions++;
        options.onTransaction?.({ entries, lane, txId, ms: Date.now() - started });
        const done: OutboxEntry[] = [];
        const marks: Array<Promise<void>> = [];
        entries.forEach((entry, i) => {
          const result = results[i];
          if (result?.ok) {
            done.push(entry);
            total.committed++;
          } else {
            marks.push(outbox.markRejected(entry, result?.error ?? 'no result from the ledger'));
            total.rejected++;
          }
        });
        // The lane is free at once; its entries stay claimed until they are marked, so no later
        // read of the outbox submits them again.
        const mark = Promise.all([outbox.markDone(done), ...marks]).then(
          () => {
            for (const e of entries) settled.set(idOf(e), reads);
            forget(entries);
          },
          (error: unknown) => {
            failure ??= { error };
            forget(entries);
          },
        );
        bookkeeping.add(mark);
        void mark.finally(() => bookkeeping.delete(mark));
      },
      (error: unknown) => {
        inFlight.delete(flight);
        failure ??= { error };
        options.onTransaction?.({ entries, lane, ms: Date.now() - started, error });
        forget(entries);
      },
    );
    inFlight.add(flight);
  };
  const forget = (entries: OutboxEntry[]) => {
    for (const e of entries) {
      claimed.delete(idOf(e));
      known.delete(idOf(e));
    }
  };

  for (;;) {
    if (!failure) {
      // Read from the oldest each time: a cursor would skip an entry whose append landed after a
      // newer one was read (appends run concurrently, each stamped before its write), and a job's
      // report would then be submitted before its CreateJob. Measured: 11 of 300 jobs lost so.
      const issued = reads++;
      const page = await outbox.pendingSince(undefined, readLimit);
      horizon = page.horizon;
      // Entries whose marking finished before this read was issued are no longer in the outbox.
      for (const [id, at] of settled) if (at <= issued) settled.delete(id);
      for (const e of page.entries) if (!known.has(idOf(e)) && !settled.has(idOf(e))) known.set(idOf(e), e);
      const ready = [...known.values()]
        .filter((e) => !claimed.has(idOf(e)) && (horizon === undefined || e.enqueuedAt <= horizon))
        .sort((a, b) => (a.enqueuedAt === b.enqueuedAt ? a.seq.localeCompare(b.seq) : a.enqueuedAt.localeCompare(b.enqueuedAt)));
      for (const batch of plan(ready, [...inFlight], lanes - inFlight.size, maxEvents)) launch(batch.entries, batch.lane);
      if (inFlight.size === 0 && bookkeeping.size === 0 && known.size === 0) {
        break;
      }
    } else if (inFlight.size === 0) {
      break;
    }
    const waits = [...inFlight].map((f) => f.done);
    if (waits.length === 0) waits.push(...bookkeeping);
    if (waits.length > 0) await Promise.race(waits);
  }
  await Promise.all([...inFlight].map((f) => f.done));
  await Promise.all([...bookkeeping]);
  if (failure) throw failure.error;
  return total;
}

/**
 * The batches to submit now, given those in flight and `free` lanes: see the rules at the top of
 * this file. Exported for its unit test.
 */
export function plan(
  ready: OutboxEntry[],
  inFlight: Array<Pick<Flight, 'lane' | 'payees'>>,
  free: number,
  maxEvents: number,
): Array<{ lane?: string; entries: OutboxEntry[] }> {
  if (free <= 0 || ready.length === 0) return [];
  if (inFlight.some((f) => f.lane === undefined)) return [];
  const first = ready[0] as OutboxEntry;
  if (first.lane === undefined) {
    // Committed alone, with what follows it up to a batch (all of it in the one transaction).
    return inFlight.length === 0 ? [{ entries: ready.slice(0, maxEvents) }] : [];
  }
  const barrier = ready.findIndex((e) => e.lane === undefined);
  const candidates = barrier < 0 ? ready : ready.slice(0, barrier);
  const busy = inFlight.map((f) => ({ lane: f.lane as string, payees: f.payees }));
  const batches: Array<{ lane: string; entries: OutboxEntry[] }> = [];
  const byLane = new Map<string, OutboxEntry[]>();
  for (const e of candidates) {
    const list = byLane.get(e.lane as string);
    if (list) list.push(e);
    else byLane.set(e.lane as string, [e]);
  }
  for (const [lane, entries] of byLane) {
    if (batches.length >= free) break;
    if (busy.some((b) => b.lane === lane || b.payees.has(lane))) continue;
    const taken: OutboxEntry[] = [];
    const payees = new Set<string>();
    for (const e of entries) {
      if (taken.length >= maxEvents) break;
      // A credit into the balance range of a lane in flight would invalidate that transaction.
      if (e.payee !== undefined && e.payee !== lane && busy.some((b) => b.lane === e.payee)) break;
      taken.push(e);
      if (e.payee !== undefined && e.payee !== lane) payees.add(e.payee);
    }
    if (taken.length === 0) continue;
    batches.push({ lane, entries: taken });
    busy.push({ lane, payees });
  }
  return batches;
}
