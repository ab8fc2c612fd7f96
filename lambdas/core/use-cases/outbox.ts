import { randomUUID } from 'node:crypto';
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
 * Entries are submitted in the outbox's order (enqueue time, then sequence); a lane's entries keep
 * that order because a lane has one transaction in flight, and an entry is marked done only after
 * its transaction committed.
 *
 * Why no entry is submitted twice and none is skipped. A drain reads only entries no drain has
 * taken, from the oldest of every part of the index each time (no cursor: an append stamped before
 * an entry already read may land after it), and takes what it read with a conditional write that
 * moves each entry out of the waiting parts; what is in flight or buffered is therefore never read
 * again, and an entry a stale read returns (taken or deleted since) fails its condition and is left
 * out. A transaction that fails (the ledger unreachable, or its commit unknown), or a writer killed,
 * leaves its entries taken; the next drain that recovers (`recover`) takes them over, reads the
 * waiting parts before submitting any (a writer can die between two takes, leaving an older entry
 * waiting behind a newer one it took), and submits them again, and the chaincode takes the events
 * it already has as duplicates, so every event counts once.
 */

export interface DrainOptions {
  /** Transactions in flight at once, each in its own lane. @default 1 */
  lanes?: number;
  /** Most events in one transaction. @default 200 */
  maxEvents?: number;
  /**
   * Take over first what earlier drains took and did not mark (a writer killed, a transaction that
   * failed). A writer recovers on its first drain and after one that failed; it runs alone
   * (reserved concurrency 1), so nothing it recovers is still in flight elsewhere. @default true
   */
  recover?: boolean;
  /** The gap between reads while transactions are in flight and the last read took few. @default READ_GAP_MS */
  readGapMs?: number;
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
  /** Events committed. */
  committed: number;
  /** Events the chaincode refused (their entries are kept with the reason). */
  rejected: number;
  transactions: number;
}

interface Flight {
  lane?: string;
  payees: Set<string>;
  done: Promise<void>;
}

/** An entry's identity: its stream and sequence. */
export const idOf = (e: OutboxEntry) => `${e.stream}\u0000${e.seq}`;

/** Most entries a drain holds taken and not yet submitted, in reads per part of the index. */
const BUFFERED_READS = 4;
/**
 * While transactions are in flight, after a read that took fewer than `FEW_TAKEN` entries, the
 * next read (ahead of the lanes) starts no sooner than `READ_GAP_MS` after it began: appends that
 * trickle in meanwhile wait at most that long and are read and taken together, not one read each;
 * an outbox busier than that is read back to back. With nothing in flight the drain reads at once
 * (it has nothing else to do, and ends on a read that found none).
 */
export const READ_GAP_MS = 50;
const FEW_TAKEN = 32;

/**
 * Commits pending outbox entries until none are left (those appended meanwhile included), with up
 * to `lanes` transactions in flight. Refused events are marked rejected with the chaincode's reason
 * and never retried. If a transaction fails, nothing more is submitted, the ones in flight are
 * awaited, and the first error is thrown (the entries it took and did not mark stay taken, for the
 * next drain that recovers).
 */
export async function drainOutbox(outbox: Outbox, ledger: Ledger, options: DrainOptions = {}): Promise<DrainResult> {
  const lanes = Math.max(1, options.lanes ?? 1);
  const maxEvents = Math.max(1, options.maxEvents ?? 200);
  // Per part of the index: what every lane could take.
  const readLimit = maxEvents * lanes;
  const readGapMs = Math.max(0, options.readGapMs ?? READ_GAP_MS);
  const drain = randomUUID();
  const total: DrainResult = { committed: 0, rejected: 0, transactions: 0 };
  const inFlight = new Set<Flight>();
  const bookkeeping = new Set<Promise<void>>();
  /** Entries this drain took and has not submitted yet. */
  const buffered = new Map<string, OutboxEntry>();
  let horizon: string | undefined;
  let failure: { error: unknown } | undefined;
  /** Whether a transaction ended since the last read began. */
  let transactionEnded = true;

  const launch = (entries: OutboxEntry[], lane: string | undefined) => {
    for (const e of entries) buffered.delete(idOf(e));
    const started = Date.now();
    const flight: Flight = { lane, payees: new Set(entries.flatMap((e) => (e.payee === undefined ? [] : [e.payee]))), done: Promise.resolve() };
    flight.done = ledger.submit(entries.flatMap((e) => e.events)).then(
      ({ txId, results }) => {
        inFlight.delete(flight);
        transactionEnded = true;
        total.transactions++;
        options.onTransaction?.({ entries, lane, txId, ms: Date.now() - started });
        const done: OutboxEntry[] = [];
        const marks: Array<Promise<void>> = [];
        let at = 0;
        for (const entry of entries) {
          const own = entry.events.map((_, i) => results[at + i]);
          at += entry.events.length;
          const ok = own.filter((r) => r?.ok).length;
          total.committed += ok;
          total.rejected += own.length - ok;
          if (ok === own.length) done.push(entry);
          else {
            const refused = own.find((r) => !r?.ok);
            // Kept with the first refusal; its other events, if any, may have committed.
            marks.push(outbox.markRejected(entry, refused?.error ?? 'no result from the ledger'));
          }
        }
        // The lane is free at once; its entries stay taken until they are marked, so no read of
        // the outbox returns them meanwhile.
        const mark = Promise.all([outbox.markDone(done), ...marks]).then(
          () => undefined,
          (error: unknown) => {
            failure ??= { error };
          },
        );
        bookkeeping.add(mark);
        void mark.finally(() => bookkeeping.delete(mark));
      },
      (error: unknown) => {
        inFlight.delete(flight);
        transactionEnded = true;
        failure ??= { error };
        options.onTransaction?.({ entries, lane, ms: Date.now() - started, error });
      },
    );
    inFlight.add(flight);
  };
  const ready = () =>
    [...buffered.values()]
      .filter((e) => horizon === undefined || e.enqueuedAt <= horizon)
      .sort((a, b) => (a.enqueuedAt === b.enqueuedAt ? a.seq.localeCompare(b.seq) : a.enqueuedAt.localeCompare(b.enqueuedAt)));

  /**
   * The read ahead of the lanes: reads the waiting entries and takes them, while transactions are
   * in flight (taking is one write per entry: not on the lanes' path). One at a time.
   */
  let refill: Promise<void> | undefined;
  let lastTookNone = false;
  /** When the next read may start (a read that took few entries puts it off: `READ_GAP_MS`). */
  let nextReadAt = 0;
  const startRefill = () => {
    transactionEnded = false;
    const began = Date.now();
    refill = (async () => {
      const page = await outbox.waiting(readLimit);
      const taken = page.entries.length > 0 ? await outbox.take(page.entries, drain) : [];
      horizon = page.horizon;
      for (const e of taken) buffered.set(idOf(e), e);
      lastTookNone = taken.length === 0;
      nextReadAt = taken.length < FEW_TAKEN ? began + readGapMs : 0;
    })().then(
      () => {
        refill = undefined;
      },
      (error: unknown) => {
        failure ??= { error };
        refill = undefined;
      },
    );
  };

  if (options.recover ?? true) {
    for (const e of await outbox.recover(drain)) buffered.set(idOf(e), e);
    // What an earlier drain took may be newer than entries it did not get to take (it died, or a
    // take failed, between two takes): read the waiting parts before submitting any of it, so
    // `ready` puts them in order.
    if (buffered.size > 0) {
      startRefill();
      await refill;
    }
  }
  for (;;) {
    if (!failure) {
      const free = lanes - inFlight.size;
      const batches = plan(ready(), [...inFlight], free, maxEvents);
      for (const batch of batches) launch(batch.entries, batch.lane);
      if (!refill && inFlight.size === 0 && buffered.size === 0 && lastTookNone) break;
      // Read again while the drain holds less than a round of transactions (or cannot fill a free
      // lane from what it holds, up to a bound); after a read that found nothing, not before a
      // transaction ended; after one that took few, while a transaction is in flight, not before
      // `READ_GAP_MS` since it began.
      const wanted = buffered.size < readLimit || (batches.length < free && buffered.size < readLimit * BUFFERED_READS) || inFlight.size === 0;
      if (!refill && wanted && !(lastTookNone && !transactionEnded && inFlight.size > 0)) {
        if (inFlight.size === 0 || Date.now() >= nextReadAt) startRefill();
      }
    } else if (inFlight.size === 0 && !refill) {
      break;
    }
    const waits: Array<Promise<void>> = [...inFlight].map((f) => f.done);
    if (refill) waits.push(refill);
    else if (!failure && inFlight.size > 0 && Date.now() < nextReadAt) waits.push(new Promise((resolve) => setTimeout(resolve, nextReadAt - Date.now())));
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
    return inFlight.length === 0 ? [{ entries: upTo(ready, maxEvents) }] : [];
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
    let events = 0;
    const payees = new Set<string>();
    for (const e of entries) {
      if (events > 0 && events + e.events.length > maxEvents) break;
      // A credit into the balance range of a lane in flight would invalidate that transaction.
      if (e.payee !== undefined && e.payee !== lane && busy.some((b) => b.lane === e.payee)) break;
      taken.push(e);
      events += e.events.length;
      if (e.payee !== undefined && e.payee !== lane) payees.add(e.payee);
    }
    if (taken.length === 0) continue;
    batches.push({ lane, entries: taken });
    busy.push({ lane, payees });
  }
  return batches;
}

/** The first entries whose events fit in `maxEvents` (at least one entry). */
function upTo(entries: OutboxEntry[], maxEvents: number): OutboxEntry[] {
  let events = 0;
  let n = 0;
  for (const e of entries) {
    if (n > 0 && events + e.events.length > maxEvents) break;
    events += e.events.length;
    n++;
  }
  return entries.slice(0, n);
}
