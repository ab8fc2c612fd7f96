import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FabricLedger } from '../lambdas/adapters/ledger/fabric-ledger';
import type { LedgerEvent } from '../lambdas/core/ledger';
import type { Outbox, OutboxEntry } from '../lambdas/core/ports';
import type { drainOutbox as Drain } from '../lambdas/core/use-cases/outbox';
import { type CpuSnapshot, cpuBetween, cpuSnapshot, msPer } from './cpu';
import type { ProducerInput, ProducerOutput } from './settlement-producer';

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

/** A run's first seconds (the writer's first read, the network's first blocks) are left out of its steady state. */
const STEADY_AFTER_MS = 5000;

/** The writer at an offered rate, lanes as given; every job must settle once, paid. */
export async function sustained(
  ledger: FabricLedger,
  outbox: Outbox,
  drainOutbox: typeof Drain,
  jobs: Job[],
  args: { rate: number; lanes: number; maxEvents: number; producers: number; outboxTable: string },
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
  // The writer's outbox bookkeeping, timed: its reads of the waiting index parts (each a Query per
  // part), the entries it took (transactions of up to 100) and its deletions.
  const book = { reads: 0, readMs: 0, readItems: 0, takes: 0, takeMs: 0, taken: 0, deletions: 0, deletionMs: 0 };
  const timed = Object.assign(Object.create(outbox) as Outbox, {
    waiting: async (limit: number) => {
      const t0 = Date.now();
      const page = await outbox.waiting(limit);
      book.reads++;
      book.readMs += Date.now() - t0;
      book.readItems += page.entries.length;
      return page;
    },
    take: async (entries: OutboxEntry[], drain: string) => {
      const t0 = Date.now();
      const taken = await outbox.take(entries, drain);
      book.takes++;
      book.takeMs += Date.now() - t0;
      book.taken += taken.length;
      return taken;
    },
    markDone: async (entries: OutboxEntry[]) => {
      const t0 = Date.now();
      await outbox.markDone(entries);
      book.deletions++;
      book.deletionMs += Date.now() - t0;
    },
  });
  const writer = (async () => {
    let recover = true;
    for (;;) {
      try {
        await drainOutbox(timed, ledger, {
          lanes: args.lanes,
          maxEvents: args.maxEvents,
          recover,
          onTransaction: (r) => {
            if (r.error) {
              tx.failed++;
              if (tx.errors.length < 3) tx.errors.push(String(r.error).slice(0, 300));
            }
            else {
              tx.count++;
              tx.ms.push(r.ms);
              tx.events.push(r.entries.reduce((n, e) => n + e.events.length, 0));
            }
          },
        });
        recover = false;
      } catch {
        // counted in tx.failed; its entries stay taken and the next drain recovers them
        recover = true;
      }
      if (!producing && paidAt.size >= jobs.length) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  // The producers: processes of their own (the controller's Lambdas are not the writer's process),
  // `producers` of them, each appending every `producers`-th job at its share of the rate; with
  // `producers` 0, this process appends (the outbox in memory: the writer and Fabric alone).
  const started = Date.now() + 1500; // each producer has loaded before the first job is due
  const cpuBefore = cpuSnapshot();
  const shares = Math.max(1, args.producers);
  const inputs = Array.from({ length: shares }, (_, k) => ({
    rate: args.rate / shares,
    startAt: started + (k * 1000) / args.rate,
    jobs: jobs
      .filter((_, n) => n % shares === k)
      .map((job) => ({ jobId: (job.events[0] as { jobId: string }).jobId, events: job.events, developerId: job.developerId, payee: job.payee })),
  }));
  let outputs: ProducerOutput[];
  if (args.producers === 0) {
    // Imported here: settlement-producer.ts loads the AWS clients, which read their endpoints once.
    const { produce } = await import('./settlement-producer');
    outputs = await Promise.all(inputs.map((input) => produce(outbox, input)));
  } else {
    const work = mkdtempSync(join(tmpdir(), 'chainfaas-producer-'));
    outputs = await Promise.all(
      inputs.map((input, k) => {
        const file = join(work, `producer-${k}.json`);
        writeFileSync(file, JSON.stringify({ ...input, table: args.outboxTable } satisfies ProducerInput));
        return runProducer(file);
      }),
    );
    rmSync(work, { recursive: true, force: true });
  }
  let appendErrors = 0;
  for (const out of outputs) {
    for (const [jobId, at] of out.reportedAt) reportedAt.set(jobId, at);
    appendErrors += out.appendErrors;
  }
  const producedSeconds = Math.max(...outputs.map((o) => o.seconds));
  producing = false;
  const deadline = Date.now() + 120_000;
  while (paidAt.size < jobs.length && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  const seconds = (Date.now() - started) / 1000;
  const cpu = cpuOf(cpuBefore, cpuSnapshot(), outputs, paidAt.size);
  stopFeed();
  await Promise.race([writer, new Promise((resolve) => setTimeout(resolve, 5000))]);
  const events = tx.events.reduce((a, b) => a + b, 0);
  const lags = [...paidAt].map(([jobId, at]) => at - (reportedAt.get(jobId) ?? at));
  // Steady state: from STEADY_AFTER_MS into the run to the last report, what was offered and what
  // was paid in that same window (a writer that keeps up pays at the rate offered, one lag later;
  // one that falls behind pays less, and its backlog shows at the window's end).
  const lastReport = Math.max(...reportedAt.values());
  const from = started + STEADY_AFTER_MS;
  const windowSeconds = (lastReport - from) / 1000;
  const inWindow = (times: Iterable<number>) => [...times].filter((at) => at >= from && at <= lastReport).length;
  const paidByEnd = [...paidAt.values()].filter((at) => at <= lastReport).length;
  return {
    offeredJobsPerSecond: round(jobs.length / producedSeconds),
    lanes: args.lanes,
    maxEventsPerTransaction: args.maxEvents,
    jobs: jobs.length,
    settled: paidAt.size,
    settledTwice,
    unpaid,
    producers: args.producers,
    appendErrors,
    seconds: round(seconds),
    settledJobsPerSecond: round(paidAt.size / seconds),
    steady: {
      what: `from ${STEADY_AFTER_MS / 1000} s into the run to the last report: jobs reported and jobs paid in that window per second; backlog: reported and not yet paid at its end`,
      seconds: round(windowSeconds),
      offeredJobsPerSecond: round(inWindow(reportedAt.values()) / windowSeconds),
      settledJobsPerSecond: round(inWindow(paidAt.values()) / windowSeconds),
      backlogAtEnd: reportedAt.size - paidByEnd,
    },
    transactions: tx.count,
    failedTransactions: tx.failed,
    failures: tx.errors,
    eventsPerTransaction: round(events / Math.max(1, tx.events.length)),
    transactionMs: { p50: pct(tx.ms, 0.5), p95: pct(tx.ms, 0.95) },
    outboxReads: {
      count: book.reads,
      meanMs: round(book.readMs / Math.max(1, book.reads)),
      meanEntries: round(book.readItems / Math.max(1, book.reads)),
      perEvent: round(book.reads / Math.max(1, events)),
      entriesPerEvent: round(book.readItems / Math.max(1, events)),
    },
    outboxTakes: { count: book.takes, meanMs: round(book.takeMs / Math.max(1, book.takes)), entries: book.taken },
    outboxDeletions: { count: book.deletions, meanMs: round(book.deletionMs / Math.max(1, book.deletions)) },
    reportToPaidMs: { p50: pct(lags, 0.5), p95: pct(lags, 0.95), max: lags.length ? Math.max(...lags) : NaN },
    cpu,
  };
}

/**
 * Where the machine's CPU went from the first job due to the last one paid: each component's CPU
 * seconds and its CPU milliseconds per settled job. The producer processes have exited by then
 * and report their own time; in-process production counts under the writer.
 */
function cpuOf(before: CpuSnapshot, after: CpuSnapshot, producers: ProducerOutput[], settled: number) {
  const used = cpuBetween(before, after, 'writer');
  const producerMs = producers.reduce((sum, p) => sum + (p.cpuMs ?? 0), 0);
  const seconds = producerMs > 0 ? { ...used.seconds, producers: producerMs / 1000 } : used.seconds;
  return {
    wallSeconds: round(used.wallSeconds),
    busyShare: round(used.busyShare),
    seconds: Object.fromEntries(Object.entries(seconds).map(([name, s]) => [name, round(s)])),
    msPerSettledJob: msPer(seconds, settled),
  };
}

/** Runs bench/settlement-producer.ts (compiled beside this file) on `file`; resolves with its line. */
function runProducer(file: string): Promise<ProducerOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(__dirname, 'settlement-producer.js'), file], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`the producer exited with ${code}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').at(-1) as string));
      } catch (err) {
        reject(err as Error);
      }
    });
  });
}
