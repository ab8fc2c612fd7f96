import { SIZING } from '../lib/chainfaas-stack';
import { HANDLERS, ROUTES, type HandlerName } from '../lambdas/handlers/manifest';
import { wireCounter, type Exchange } from '../local/wire-count';
import { fetchResult, Harness, invoke, standalone } from './harness';
import { PRICES } from './prices';
import { commandFor, machineAfter, machineBefore, note, Profile, round, sleep } from './support';

/**
 * Cost per million jobs: every request the platform makes for warm (http) and cold (stdio) sync
 * jobs, counted on the wire (local/wire-count.ts: proxies in front of DynamoDB Local, fauxqs's SQS
 * and S3, and the API), times the us-east-1 list prices of bench/prices.ts. Runs on a platform of
 * its own with JOB_WAKE=sqs, so the sync wait behaves as a waiting Lambda in AWS does (no
 * in-process wake-up: the report's wake-up goes through the waiting process's wake queue, then the
 * wait reads the job; adapters/sqs-wake.ts). Idle traffic (heartbeats, the agent's empty long polls, the local
 * reaper's 1 s sweeps) is measured in a window without jobs first and subtracted at its rate.
 *
 * Lambda: one invocation per API request, billed for the request's time at the proxy × the
 * handler's memory (lib/chainfaas-stack.ts#SIZING), the sync wait included; plus the ledger
 * writer's runs in the window. Secrets Manager / KMS: the controller key is read once per Lambda
 * sandbox (locally a file), so per job it is ~0 and is not on this wire.
 */

const JOBS: Record<Profile, { warm: number; cold: number; idleS: number }> = {
  quick: { warm: 20, cold: 8, idleS: 4 },
  full: { warm: 200, cold: 50, idleS: 20 },
};
const RESOURCES = { vcpu: 0.5, memoryMb: 64, timeoutS: 10 };

const routeMatchers = ROUTES.map((r) => ({
  re: new RegExp(`^${r.method} ${r.path.replace(/\{[^}]+\}/g, '[^/]+')}$`),
  handler: r.handler,
}));
const handlerOf = (operation: string): HandlerName | undefined => routeMatchers.find((m) => m.re.test(operation))?.handler;
const memoryGb = (h: HandlerName) => (SIZING[h]?.memorySize ?? 512) / 1024;

interface Counts {
  dynamoReadUnits: number;
  dynamoWriteUnits: number;
  dynamoRequests: number;
  sqsRequests: number;
  s3Puts: number;
  s3Gets: number;
  apiRequests: number;
  lambdaInvocations: number;
  lambdaGbSeconds: number;
  byOperation: Record<string, number>;
  /** DynamoDB read and write units by table and index (`jobs`, `jobs/leases`): where the units go. */
  dynamoUnitsBy: Record<string, number>;
  /** DynamoDB read and write units by request (`UpdateItem jobs`), indexes included: which requests the units go to. */
  dynamoUnitsByOperation: Record<string, number>;
}

function count(exchanges: Exchange[], ledgerRuns: { ms: number }[]): Counts {
  const c: Counts = {
    dynamoReadUnits: 0,
    dynamoWriteUnits: 0,
    dynamoRequests: 0,
    sqsRequests: 0,
    s3Puts: 0,
    s3Gets: 0,
    apiRequests: 0,
    lambdaInvocations: 0,
    lambdaGbSeconds: 0,
    byOperation: {},
    dynamoUnitsBy: {},
    dynamoUnitsByOperation: {},
  };
  for (const e of exchanges) {
    const key = `${e.service} ${e.service === 'api' ? (handlerOf(e.operation) ?? 'portal') + ' ' + e.operation.replace(/\/(job|prv|fn|in)_[A-Za-z0-9]+/g, '/{id}') : e.operation}${e.on ? ` ${e.on}` : ''}`;
    c.byOperation[key] = (c.byOperation[key] ?? 0) + 1;
    if (e.service === 'dynamodb') {
      c.dynamoRequests++;
      c.dynamoReadUnits += e.readUnits ?? 0;
      c.dynamoWriteUnits += e.writeUnits ?? 0;
      for (const [where, n] of Object.entries(e.unitsBy ?? {})) c.dynamoUnitsBy[where] = (c.dynamoUnitsBy[where] ?? 0) + n;
      const request = `${e.operation}${e.on ? ` ${e.on}` : ''}`;
      c.dynamoUnitsByOperation[request] = (c.dynamoUnitsByOperation[request] ?? 0) + (e.readUnits ?? 0) + (e.writeUnits ?? 0);
    } else if (e.service === 'sqs') c.sqsRequests++;
    else if (e.service === 's3') {
      if (['PUT', 'POST'].includes(e.operation)) c.s3Puts++;
      else c.s3Gets++;
    } else {
      const h = handlerOf(e.operation);
      if (!h) continue;
      c.apiRequests++;
      c.lambdaInvocations++;
      c.lambdaGbSeconds += (e.ms / 1000) * memoryGb(h);
    }
  }
  for (const run of ledgerRuns) {
    c.lambdaInvocations++;
    c.lambdaGbSeconds += (run.ms / 1000) * memoryGb('ledgerWriter' in HANDLERS ? 'ledgerWriter' : 'ledger');
  }
  return c;
}

/** Per job: the window's counts less the idle rate over the window's length, divided by the jobs. */
function perJob(window: Counts, seconds: number, idle: Counts, idleS: number, jobs: number): Counts {
  const out = { ...window, byOperation: {} as Record<string, number>, dynamoUnitsBy: {} as Record<string, number>, dynamoUnitsByOperation: {} as Record<string, number> };
  for (const k of Object.keys(window) as (keyof Counts)[]) {
    if (k === 'byOperation' || k === 'dynamoUnitsBy' || k === 'dynamoUnitsByOperation') continue;
    out[k] = Math.max(0, window[k] - (idle[k] * seconds) / idleS) / jobs;
  }
  for (const map of ['byOperation', 'dynamoUnitsBy', 'dynamoUnitsByOperation'] as const) {
    for (const [key, n] of Object.entries(window[map])) {
      const v = Math.max(0, n - ((idle[map][key] ?? 0) * seconds) / idleS) / jobs;
      if (v > 0.005) out[map][key] = round(v, 2);
    }
  }
  return out;
}

function dollarsPerMillion(c: Counts) {
  const split = {
    dynamodb: c.dynamoReadUnits * PRICES.dynamoReadUnit.usd + c.dynamoWriteUnits * PRICES.dynamoWriteUnit.usd,
    sqs: c.sqsRequests * PRICES.sqsRequest.usd,
    s3: c.s3Puts * PRICES.s3Put.usd + c.s3Gets * PRICES.s3Get.usd,
    lambda: c.lambdaInvocations * PRICES.lambdaRequest.usd + c.lambdaGbSeconds * PRICES.lambdaGbSecondArm.usd,
    apiGateway: c.apiRequests * PRICES.apiGatewayHttpRequest.usd,
    secretsManagerKms: 0,
  };
  const perMillion = Object.fromEntries(Object.entries(split).map(([k, v]) => [k, round(v * 1e6, 2)]));
  return { total: round(Object.values(split).reduce((a, b) => a + b, 0) * 1e6, 2), byService: perMillion };
}

const rounded = (c: Counts) => Object.fromEntries(Object.entries(c).map(([k, v]) => [k, typeof v === 'number' ? round(v, 3) : v]));

export async function runCost(h: Harness, wire: ReturnType<typeof wireCounter>, profile: Profile): Promise<object> {
  const machine = machineBefore();
  const plan = JOBS[profile];
  await h.ensureAgents(1);
  const warmFn = await h.createFunction({ name: 'bench-cost-echo', image: h.images.echoHttp, protocol: 'http', resources: RESOURCES });
  const coldFn = await h.createFunction({ name: 'bench-cost-sha', image: h.images.sha256, protocol: 'stdio', resources: RESOURCES });
  // Not counted: the first of each starts the warm container / pulls the image.
  await invoke(h.dev, warmFn, 'first');
  await invoke(h.dev, coldFn, 'first');
  await sleep(1500);

  const windowOf = async (body: () => Promise<void>) => {
    const from = wire.exchanges.length;
    const runsFrom = h.ledger.runs.length;
    const t0 = performance.now();
    await body();
    await sleep(1000); // the ledger writer's next runs settle the last jobs
    return { counts: count(wire.exchanges.slice(from), h.ledger.runs.slice(runsFrom)), seconds: (performance.now() - t0) / 1000 };
  };
  const idle = await windowOf(() => sleep(plan.idleS * 1000 - 1000));
  const jobs = async (fn: string, n: number) => {
    for (let i = 0; i < n; i++) {
      const inv = await invoke(h.dev, fn, `cost ${i}`);
      await fetchResult(inv.job.resultUrl as string); // the developer reads the result through its link
    }
  };
  const warm = await windowOf(() => jobs(warmFn, plan.warm));
  const cold = await windowOf(() => jobs(coldFn, plan.cold));
  const warmPer = perJob(warm.counts, warm.seconds, idle.counts, idle.seconds, plan.warm);
  const coldPer = perJob(cold.counts, cold.seconds, idle.counts, idle.seconds, plan.cold);
  const warmCost = dollarsPerMillion(warmPer);
  const coldCost = dollarsPerMillion(coldPer);
  note(`cost: warm $${warmCost.total} / cold $${coldCost.total} per million jobs`);
  return {
    benchmark: 'cost',
    profile,
    command: commandFor(profile),
    date: new Date().toISOString(),
    machine: machineAfter(machine),
    what: 'requests per sync job on the wire (DynamoDB units, SQS, S3, API Gateway, Lambda invocations and GB-s incl. the sync wait), times us-east-1 list prices (bench/prices.ts)',
    syncWait:
      process.env.JOB_WAKE === 'off'
        ? 'JOB_WAKE=off: the wait of a Lambda in AWS reading the job alone (before the wake queues)'
        : "JOB_WAKE=sqs: the wait of a Lambda in AWS, woken through its sandbox's wake queue",
    jobs: { warm: plan.warm, cold: plan.cold },
    idle: {
      seconds: round(idle.seconds, 1),
      perSecond: rounded(perJob(idle.counts, idle.seconds, { ...idle.counts, byOperation: {}, dynamoUnitsBy: {}, dynamoUnitsByOperation: {} }, Infinity, idle.seconds)),
    },
    warm: { perJob: rounded(warmPer), usdPerMillion: warmCost },
    cold: { perJob: rounded(coldPer), usdPerMillion: coldCost },
    prices: PRICES,
    goals: [{ figure: 'cost per million warm jobs (us-east-1 list prices)', value: warmCost.total, unit: 'USD', goal: '<= 5', holds: warmCost.total <= 5 }],
  };
}

if (require.main === module) {
  // The sync wait as a Lambda in AWS does it (a wake-up through SQS, then a read), so its requests are counted.
  process.env.JOB_WAKE = process.env.JOB_WAKE || 'sqs';
  const wire = wireCounter();
  standalone('cost', (h, profile) => runCost(h, wire, profile), { wire });
}
