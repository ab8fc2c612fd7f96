import type { FabricLedger } from '../lambdas/adapters/ledger/fabric-ledger';
import type { LedgerEvent } from '../lambdas/core/ledger';
import type { Outbox } from '../lambdas/core/ports';
import type { drainOutbox as Drain } from '../lambdas/core/use-cases/outbox';

/**
 * Issue #17: settlement at platform scale, through the real outbox (DynamoDB Local) and the lanes
 * writer (lambdas/core/use-cases/outbox.ts) on a Fabric network whose orderer cuts a block at
 * `lanes` transactions. Measured in one run:
 *
 * - the network's own ceiling: empty `SubmitBatch` transactions and one-key transactions (an
 *   `OpenAccount`), `lanes` in flight, for a few seconds each;
 * - the writer at an offered rate: a producer appends each job's CreateJob, then its SetRuntime +
 *   ConfirmReceipt (the report), at `rate` jobs/s for `seconds`; report→paid is from the report's
 *   append to the job's settlement arriving in the ledger's committed BalanceMovements events.
 */

export interface SettlementArgs {
  rate: number;
  seconds: number;
  lanes: number;
  maxEvents: number;
  ceilingSeconds: number;
}

export interface Job {
  events: LedgerEvent[];
  cost: number;
  developerId: string;
  payee: string;
}

const round = (x: number) => Math.round(x * 100) / 100;
const pct = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] as number) : NaN;
};

/** Transactions per second with `inFlight` submitters, each submitting `make(i)` for `seconds`. */
export async function ceiling(ledger: FabricLedger, inFlight: number, seconds: number, make: (i: number) => LedgerEvent[]) {
  let n = 0;
  const latencies: number[] = [];
  const until = Date.now() + seconds * 1000;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (Date.now() < until) {
        const t0 = Date.now();
        await ledger.submit(make(n++));
        latencies.push(Date.now() - t0);
      }
    }),
  );
  const s = (Date.now() - started) / 1000;
  return { transactions: latencies.length, transactionsPerSecond: round(latencies.length / s), latencyMs: { p50: pct(latencies, 0.5), p95: pct(latencies, 0.95) } };
}

/** The writer at an offered rate, lanes as given; every job must settle once, paid. */
export async function sustained(
  ledger: FabricLedger,
  outbox: Outbox,
  drainOutbox: typeof Drain,
  jobs: Job[],
  args: { rate: number; lanes: number; maxEvents: number },
) {
  const reportedAt = new Map<string, number>();
  const paidAt = new Map<string, number>();
  let settledTwice = 0;
  let unpaid = 0;
  const stopFeed = ledger.onBalanceMovements((m) => {
    const now = Date.now();
    for (const s of m.settlements) {
      if (paidAt.has(s.jobId)) settledTwice++;
      else paidAt.set(s.jobId, now);
      if (!s.paid) unpaid++;
    }
  });
  await new Promise((resolve) => setTimeout(resolve, 500)); // the event stream is open before the first commit
  const tx = { count: 0, failed: 0, ms: [] as number[], events: [] as number[], errors: [] as string[] };
  let producing = true;
  const writer = (async () => {
    for (;;) {
      try {
        await drainOutbox(outbox, ledger, {
          lanes: args.lanes,
          maxEvents: args.maxEvents,
          onTransaction: (r) => {
            if (r.error) {
              tx.failed++;
              if (tx.errors.length < 3) tx.errors.push(String(r.error).slice(0, 300));
            }
            else {
              tx.count++;
              tx.ms.push(r.ms);
              tx.events.push(r.entries.length);
            }
          },
        });
      } catch {
        // counted in tx.failed; its entries stay pending and the next drain submits them again
      }
      if (!producing && paidAt.size >= jobs.length) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  const started = Date.now();
  const appendErrors: unknown[] = [];
  // The producer: job n is due at n / rate seconds; appends run concurrently (as Lambdas would).
  const pendingAppends = new Set<Promise<void>>();
  for (let n = 0; n < jobs.length; n++) {
    const due = started + (n * 1000) / args.rate;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const job = jobs[n] as Job;
    const p = (async () => {
      const [create, ...report] = job.events;
      await outbox.append(job.events[0]!.type === 'CreateJob' ? (create as { jobId: string }).jobId : 'x', [create as LedgerEvent], { lane: job.developerId });
      reportedAt.set((create as { jobId: string }).jobId, Date.now());
      await outbox.append((create as { jobId: string }).jobId, report, { lane: job.developerId, payee: job.payee });
    })().catch((err: unknown) => void appendErrors.push(err));
    pendingAppends.add(p);
    void p.finally(() => pendingAppends.delete(p));
    if (pendingAppends.size > 256) await Promise.race(pendingAppends);
  }
  await Promise.all(pendingAppends);
  const producedSeconds = (Date.now() - started) / 1000;
  producing = false;
  const deadline = Date.now() + 120_000;
  while (paidAt.size < jobs.length && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  const seconds = (Date.now() - started) / 1000;
  stopFeed();
  await Promise.race([writer, new Promise((resolve) => setTimeout(resolve, 5000))]);
  const lags = [...paidAt].map(([jobId, at]) => at - (reportedAt.get(jobId) ?? at));
  return {
    offeredJobsPerSecond: round(jobs.length / producedSeconds),
    lanes: args.lanes,
    maxEventsPerTransaction: args.maxEvents,
    jobs: jobs.length,
    settled: paidAt.size,
    settledTwice,
    unpaid,
    appendErrors: appendErrors.length,
    seconds: round(seconds),
    settledJobsPerSecond: round(paidAt.size / seconds),
    transactions: tx.count,
    failedTransactions: tx.failed,
    failures: tx.errors,
    eventsPerTransaction: round(tx.events.reduce((a, b) => a + b, 0) / Math.max(1, tx.events.length)),
    transactionMs: { p50: pct(tx.ms, 0.5), p95: pct(tx.ms, 0.95) },
    reportToPaidMs: { p50: pct(lags, 0.5), p95: pct(lags, 0.95), max: lags.length ? Math.max(...lags) : NaN },
  };
}
