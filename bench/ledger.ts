import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { FabricLedger } from '../lambdas/adapters/ledger/fabric-ledger';
import { generateKeyPair, KeyPairPem } from '../contract/src';
import type { LedgerEvent } from '../lambdas/core/ledger';
import type { Outbox } from '../lambdas/core/ports';
import { networkScriptsDir, startLocalFabric } from './ledger-network';
import { ledgerSetUp, settledJob, startOutboxTables } from './ledger-workload';
import { ceiling, sustained } from './settlement';

/**
 * Settled jobs per second on a local Fabric network (chaincode/network/up.sh: one Raft orderer,
 * one peer, the chaincode as a service), in one run:
 *
 * - batched: each job's three ledger events (CreateJob, SetRuntime with the provider's Ed25519
 *   signature, ConfirmReceipt) go into SubmitBatch transactions of N events, submitted one after
 *   another by a single writer (the controller's outbox);
 * - one transaction per event, one at a time (the original ChainFaaS write path);
 * - one transaction per event with up to C jobs in flight (each job's events in order); an
 *   invalidated transaction (MVCC or phantom read conflict) is resubmitted, and counted.
 *
 * A warm-up of 100 batched jobs runs first and is not recorded. Every job settles (paid); at the end the providers' balances must equal the sum of the costs.
 * Prints JSON and writes bench/results/ledger.json.
 *
 * usage: node dist/bench/ledger.js [--jobs 600] [--batch-sizes 30,150,600] [--single-jobs 30]
 *          [--concurrent-jobs 150] [--concurrency 32] [--developers 10] [--batch-timeout 250ms]
 */

interface Args {
  jobs: number;
  batchSizes: number[];
  singleJobs: number;
  concurrentJobs: number;
  concurrency: number;
  developers: number;
  batchTimeout: string;
  /** Issue #17, the lanes writer through the outbox (bench/settlement.ts); 0 skips it. */
  rate: number;
  seconds: number;
  lanes: number;
  laneEvents: number;
  laneBatchTimeout: string;
  ceilingSeconds: number;
  /** Processes appending to the outbox (bench/settlement-producer.ts), apart from the writer's. */
  producers: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    jobs: 600,
    batchSizes: [30, 150, 600],
    singleJobs: 30,
    concurrentJobs: 150,
    concurrency: 32,
    developers: 10,
    batchTimeout: '250ms',
    rate: 510,
    seconds: 66,
    lanes: 8,
    laneEvents: 150,
    laneBatchTimeout: '50ms',
    ceilingSeconds: 5,
    producers: 2,
  };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    const int = () => {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 0) throw new Error(`${flag} must be a non-negative integer`);
      return n;
    };
    switch (flag) {
      case '--jobs':
        args.jobs = int();
        break;
      case '--batch-sizes':
        args.batchSizes = value.split(',').map(Number);
        break;
      case '--single-jobs':
        args.singleJobs = int();
        break;
      case '--concurrent-jobs':
        args.concurrentJobs = int();
        break;
      case '--concurrency':
        args.concurrency = int();
        break;
      case '--developers':
        args.developers = int();
        break;
      case '--batch-timeout':
        args.batchTimeout = value;
        break;
      case '--rate':
        args.rate = int();
        break;
      case '--seconds':
        args.seconds = int();
        break;
      case '--lanes':
        args.lanes = int();
        break;
      case '--lane-events':
        args.laneEvents = int();
        break;
      case '--lane-batch-timeout':
        args.laneBatchTimeout = value;
        break;
      case '--ceiling-seconds':
        args.ceilingSeconds = int();
        break;
      case '--producers':
        args.producers = Math.max(1, int());
        break;
      default:
        throw new Error(`unknown flag ${flag}`);
    }
  }
  if (args.batchSizes.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--batch-sizes must be positive integers');
  return args;
}

const BILLING = { version: 1, vcpuMs: 10, mbMs: 1 };
const RESOURCES = { vcpu: 0.5, memoryMb: 128, timeoutS: 30 };
const SHA = 'ab'.repeat(32);

interface Workload {
  prefix: string;
  jobs: Array<{ events: LedgerEvent[]; cost: number }>;
  providers: string[];
}

/** Jobs spread over `developers` developers and 4 providers, each job's events in order. */
function workload(prefix: string, count: number, developers: number, keys: KeyPairPem[]): Workload {
  const jobs: Workload['jobs'] = [];
  for (let n = 0; n < count; n++) {
    const providerNo = n % keys.length;
    const runtimeMs = 100 + ((n * 37) % 5000);
    jobs.push(
      settledJob({
        jobId: `${prefix}job-${n}`,
        developerId: `${prefix}dev${n % developers}`,
        providerId: `${prefix}prov${providerNo}`,
        key: keys[providerNo]!,
        runtimeMs,
        resources: RESOURCES,
        billing: BILLING,
        resultSha256: SHA,
      }),
    );
  }
  return { prefix, jobs, providers: keys.map((_, i) => `${prefix}prov${i}`) };
}

async function setUp(ledger: FabricLedger, prefix: string, developers: number, keys: KeyPairPem[]): Promise<void> {
  const { results } = await ledger.submit(ledgerSetUp(prefix, developers, keys));
  const refused = results.filter((r) => !r.ok);
  if (refused.length > 0) throw new Error(`set-up refused: ${JSON.stringify(refused)}`);
}

const isConflict = (err: unknown) => /MVCC_READ_CONFLICT|PHANTOM_READ_CONFLICT/.test(String(err));

/** Submits `events` in one transaction, resubmitting after a read conflict. */
async function submitRetrying(
  ledger: FabricLedger,
  events: LedgerEvent[],
  stats: { transactions: number; conflicts: number; latenciesMs: number[] },
): Promise<void> {
  for (;;) {
    const started = Date.now();
    try {
      const { results } = await ledger.submit(events);
      stats.transactions += 1;
      stats.latenciesMs.push(Date.now() - started);
      const refused = results.filter((r) => !r.ok);
      if (refused.length > 0) throw new Error(`the chaincode refused events: ${JSON.stringify(refused.slice(0, 3))}`);
      return;
    } catch (err) {
      if (!isConflict(err)) throw err;
      stats.conflicts += 1;
    }
  }
}

interface RunResult {
  mode: string;
  eventsPerTransaction: number;
  jobsInFlight: number;
  jobs: number;
  transactions: number;
  /** Transactions invalidated by a read conflict and resubmitted. */
  conflictsResubmitted: number;
  seconds: number;
  settledJobsPerSecond: number;
  eventsPerSecond: number;
  transactionLatencyMs: { p50: number; p95: number; max: number };
  /** The providers' balances equal the sum of the jobs' costs, and every job is paid. */
  reconciled: boolean;
}

async function run(ledger: FabricLedger, mode: string, w: Workload, eventsPerTx: number, inFlight: number): Promise<RunResult> {
  const stats = { transactions: 0, conflicts: 0, latenciesMs: [] as number[] };
  const started = Date.now();
  if (eventsPerTx > 1) {
    const all = w.jobs.flatMap((job) => job.events);
    for (let i = 0; i < all.length; i += eventsPerTx) await submitRetrying(ledger, all.slice(i, i + eventsPerTx), stats);
  } else {
    let next = 0;
    const worker = async () => {
      while (next < w.jobs.length) {
        const job = w.jobs[next++]!;
        for (const event of job.events) await submitRetrying(ledger, [event], stats);
      }
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
  }
  const seconds = (Date.now() - started) / 1000;
  const total = w.jobs.reduce((sum, job) => sum + job.cost, 0);
  const balances = await Promise.all(w.providers.map((id) => ledger.getBalance(`${id}-acct`)));
  const sample = await Promise.all([0, w.jobs.length - 1].map((n) => ledger.getJob(`${w.prefix}job-${n}`)));
  const latencies = [...stats.latenciesMs].sort((a, b) => a - b);
  const pct = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  const events = w.jobs.length * 3;
  return {
    mode,
    eventsPerTransaction: eventsPerTx,
    jobsInFlight: inFlight,
    jobs: w.jobs.length,
    transactions: stats.transactions,
    conflictsResubmitted: stats.conflicts,
    seconds: round(seconds),
    settledJobsPerSecond: round(w.jobs.length / seconds),
    eventsPerSecond: round(events / seconds),
    transactionLatencyMs: { p50: pct(0.5), p95: pct(0.95), max: latencies[latencies.length - 1] ?? 0 },
    reconciled: balances.reduce((a, b) => a + b, 0) === total && sample.every((job) => job?.paid === true),
  };
}

const round = (x: number) => Math.round(x * 100) / 100;

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const net = await startLocalFabric({ batchTimeout: args.batchTimeout, logSpec: 'warning' });
  const ledger = net.ledger('controller');
  const runs: RunResult[] = [];
  try {
    const keys = Array.from({ length: 4 }, generateKeyPair);
    // Warm-up, not recorded: the first transactions open the peer's connection to the chaincode
    // service and run its code cold (the first 150-event batch takes about twice as long).
    await setUp(ledger, 'warm-', args.developers, keys);
    await run(ledger, 'warm-up', workload('warm-', 100, args.developers, keys), 150, 1);
    const plan: Array<{ mode: string; prefix: string; jobs: number; eventsPerTx: number; inFlight: number }> = [
      ...args.batchSizes.map((size) => ({ mode: 'batched', prefix: `b${size}-`, jobs: args.jobs, eventsPerTx: size, inFlight: 1 })),
      { mode: 'one transaction per event', prefix: 's1-', jobs: args.singleJobs, eventsPerTx: 1, inFlight: 1 },
      {
        mode: 'one transaction per event, concurrent jobs',
        prefix: `c${args.concurrency}-`,
        jobs: args.concurrentJobs,
        eventsPerTx: 1,
        inFlight: args.concurrency,
      },
    ].filter((p) => p.jobs > 0);
    for (const p of plan) {
      await setUp(ledger, p.prefix, args.developers, keys);
      const result = await run(ledger, p.mode, workload(p.prefix, p.jobs, args.developers, keys), p.eventsPerTx, p.inFlight);
      console.error(`ledger bench: ${p.mode}, ${p.eventsPerTx} events/tx, ${p.inFlight} in flight: ${result.settledJobsPerSecond} jobs/s`);
      runs.push(result);
    }
  } finally {
    await ledger.close();
    await net.down();
  }
  const settlement = args.rate > 0 ? await runSettlement(args) : undefined;
  const bin = net.env.FABRIC_BIN_DIR ?? '';
  const output = {
    benchmark: 'ledger',
    network: {
      fabricModuleVersion: readFileSync(join(bin, 'VERSION'), 'utf8').trim(),
      peerVersion: /Version: (\S+)/.exec(execFileSync(join(bin, 'peer'), ['version'], { encoding: 'utf8' }))?.[1],
      topology: '1 Raft orderer, 1 peer (goleveldb), chaincode as a service (fabric-chaincode-node), all on 127.0.0.1 with TLS',
      batchTimeout: args.batchTimeout,
      developers: args.developers,
      providers: 4,
      startSeconds: round(net.startSeconds),
    },
    machine: { cpus: cpus().length, node: process.version },
    runs,
    settlement,
  };
  const json = JSON.stringify(output, null, 2);
  const resultsDir = join(dirname(dirname(networkScriptsDir())), 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, 'ledger.json'), json + '\n');
  console.log(json);
  if (runs.some((r) => !r.reconciled) || (settlement && !settlement.reconciled)) process.exitCode = 1;
}

/**
 * Issue #17 on a network of its own, its orderer tuned to the writer: a block is cut when `lanes`
 * transactions are waiting (MaxMessageCount), else after `laneBatchTimeout`. With one transaction
 * per lane in flight, a block can never hold more than `lanes`, so waiting longer only adds latency;
 * the short timeout bounds the wait when fewer lanes have work.
 */
async function runSettlement(args: Args) {
  const dynamo = await startOutboxTables('bench-');
  const { names } = dynamo;
  const { DynamoOutbox } = await import('../lambdas/adapters/dynamo/outbox');
  const { drainOutbox } = await import('../lambdas/core/use-cases/outbox');
  const outbox = new DynamoOutbox(names.outbox);
  const net = await startLocalFabric({ batchTimeout: args.laneBatchTimeout, maxMessageCount: args.lanes, logSpec: 'warning' });
  // Each transaction's endorsement and commit waits, for where the time goes.
  const waits = { endorseMs: [] as number[], commitMs: [] as number[] };
  const ledger = new FabricLedger({
    ...net.options('controller'),
    onSubmitTiming: (t) => {
      waits.endorseMs.push(t.endorseMs);
      waits.commitMs.push(t.commitMs);
    },
  });
  const summary = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? 0;
    return { p50: at(0.5), p95: at(0.95), mean: round(xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)) };
  };
  try {
    const keys = Array.from({ length: 4 }, generateKeyPair);
    await setUp(ledger, 'sw-', args.developers, keys);
    const warm = workload('sw-', 200, args.developers, keys);
    await run(ledger, 'warm-up', warm, 150, 1);
    waits.endorseMs.length = 0;
    waits.commitMs.length = 0;
    const empty = await ceiling(ledger, args.lanes, args.ceilingSeconds, () => []);
    const emptyWaits = { endorseMs: summary(waits.endorseMs), commitMs: summary(waits.commitMs) };
    const networkCeiling = {
      emptySubmitBatch: { ...empty, ...emptyWaits },
      oneKey: await ceiling(ledger, args.lanes, args.ceilingSeconds, (i) => [{ type: 'OpenAccount', accountId: `ceil-${i}`, owner: 'x' }]),
    };
    console.error(`ledger bench: network ceiling ${JSON.stringify(networkCeiling)}`);
    const measure = async (prefix: string, lanes: number, count: number, into: { outbox: Outbox; producers: number } = { outbox, producers: args.producers }) => {
      await setUp(ledger, prefix, args.developers, keys);
      const w = workload(prefix, count, args.developers, keys);
      const jobs = w.jobs.map((job, n) => ({ ...job, developerId: `${prefix}dev${n % args.developers}`, payee: `${prefix}prov${n % keys.length}-acct` }));
      waits.endorseMs.length = 0;
      waits.commitMs.length = 0;
      const run = await sustained(ledger, into.outbox, drainOutbox, jobs, { rate: args.rate, lanes, maxEvents: args.laneEvents, producers: into.producers, outboxTable: names.outbox });
      const result = { ...run, endorseMs: summary(waits.endorseMs), commitMs: summary(waits.commitMs) };
      const total = w.jobs.reduce((sum, job) => sum + job.cost, 0);
      const balances = await Promise.all(w.providers.map((id) => ledger.getBalance(`${id}-acct`)));
      const reconciled = balances.reduce((a, b) => a + b, 0) === total && result.settled === count && result.settledTwice === 0 && result.unpaid === 0;
      const where = into.producers === 0 ? ', the outbox in memory' : '';
      console.error(`ledger bench: lanes writer${where}, ${lanes} lane(s), offered ${args.rate} jobs/s: ${result.settledJobsPerSecond} settled jobs/s, reconciled ${reconciled}`);
      return { ...result, reconciled };
    };
    const count = args.rate * args.seconds;
    // The same run's baseline: one lane (the writer before #17), a fifth of the jobs at the same offered rate.
    const oneLane = await measure('l1-', 1, Math.max(50, Math.round(count / 5)));
    const lanes = await measure(`l${args.lanes}-`, args.lanes, count);
    // What the writer and Fabric settle with the machine to themselves: the outbox in this
    // process's memory, appended to in this process (no DynamoDB Local, no producer processes).
    const { MemoryOutbox } = await import('./memory-outbox');
    const alone = await measure(`m${args.lanes}-`, args.lanes, count, { outbox: new MemoryOutbox(), producers: 0 });
    return {
      orderer: { batchTimeout: args.laneBatchTimeout, maxMessageCount: args.lanes },
      outbox: 'DynamoDB Local (in memory), the pending index spread over 8 parts',
      networkCeiling,
      oneLane,
      lanes,
      writerAndFabricAlone: { outbox: 'in memory (bench/memory-outbox.ts), appended to in the writer\'s process', ...alone },
      reconciled: oneLane.reconciled && lanes.reconciled && alone.reconciled,
    };
  } finally {
    await ledger.close();
    await net.down();
    await dynamo.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
