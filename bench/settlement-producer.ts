import { readFileSync } from 'node:fs';
import { DynamoOutbox } from '../lambdas/adapters/dynamo/outbox';
import type { LedgerEvent } from '../lambdas/core/ledger';
import type { Outbox } from '../lambdas/core/ports';

/**
 * Issue #17: the producer of bench/settlement.ts in a process of its own, as the controller's
 * Lambdas are apart from the ledger writer: reads `{ table, rate, startAt, jobs }` from the JSON
 * file named by its argument and appends job n's CreateJob, then its report (SetRuntime +
 * ConfirmReceipt), at startAt + n / rate (appends concurrent, as Lambdas would). Prints one JSON
 * line: each report's append time, the append errors, the seconds it took and its CPU time. DynamoDB's endpoint
 * and credentials come from the environment.
 */
export interface ProducerInput {
  table: string;
  rate: number;
  startAt: number;
  jobs: Array<{ jobId: string; events: LedgerEvent[]; developerId: string; payee: string }>;
}

export interface ProducerOutput {
  reportedAt: Array<[string, number]>;
  appendErrors: number;
  seconds: number;
  /** This producer's own CPU time (user + system), ms. */
  cpuMs?: number;
}

/** Appends `jobs` into `outbox` on the schedule of `startAt` and `rate`: in this process, or (main) in one of its own. */
export async function produce(outbox: Outbox, input: Omit<ProducerInput, 'table'>): Promise<ProducerOutput> {
  const reportedAt: Array<[string, number]> = [];
  let appendErrors = 0;
  const inFlight = new Set<Promise<void>>();
  for (let n = 0; n < input.jobs.length; n++) {
    const wait = input.startAt + (n * 1000) / input.rate - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const job = input.jobs[n]!;
    const [create, ...report] = job.events;
    const p = (async () => {
      await outbox.append(job.jobId, [create as LedgerEvent], { lane: job.developerId });
      reportedAt.push([job.jobId, Date.now()]);
      await outbox.append(job.jobId, report, { lane: job.developerId, payee: job.payee });
    })().catch(() => void appendErrors++);
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
    if (inFlight.size > 256) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  return { reportedAt, appendErrors, seconds: (Date.now() - input.startAt) / 1000 };
}

async function main() {
  const input = JSON.parse(readFileSync(process.argv[2] as string, 'utf8')) as ProducerInput;
  const out = await produce(new DynamoOutbox(input.table), input);
  const cpu = process.cpuUsage();
  const line = JSON.stringify({ ...out, cpuMs: (cpu.user + cpu.system) / 1000 }) + '\n';
  // A pipe takes a long line in several writes: exit only once it is all out.
  await new Promise<void>((resolve) => process.stdout.write(line, () => resolve()));
}

if (require.main === module) {
main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
}
