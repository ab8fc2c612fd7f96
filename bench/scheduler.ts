import { CreateTableCommand, DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ProviderRecord } from '../lambdas/core/model';
import { fits, isOnline, Need, PolicyName, rankProviders, SchedulerOptions } from '../lambdas/core/scheduler';
import { TABLES } from '../lambdas/handlers/manifest';
import { startDynamoDbLocal } from '../local/services';
import { commandFor, machineAfter, machineBefore, note, pool, Profile, publish, parseBenchArgs, round, summarize } from './support';

/**
 * Scheduler: placement decisions per second with 1,000 registered providers, against a trivial
 * first-fit scan (the first online provider that fits) in the same run.
 *
 * - pure: `rankProviders` (lambdas/core/scheduler.ts) over 1,000 synthetic provider records,
 *   per policy; a decision is one ranking (its first candidate is the choice). Rounds alternate
 *   between the policies and the baselines, so a change of load hits them alike.
 * - DynamoDB Local: what `scheduling.ts#place` does, on a table of its own with the providers
 *   table's key schema: rank, then the conditional `reserve` (adapters/dynamo/providers.ts) on
 *   the first candidate that still has room. Two ways, as the controller does them: `list each
 *   time` reads every provider (the `online` index) per decision, like an invocation's dispatch;
 *   `shared snapshot` reads them once and ranks a snapshot kept up to date with its own
 *   reservations, like the placement of waiting jobs.
 */

const PROVIDERS = 1000;
const POLICIES: PolicyName[] = ['random-fit', 'least-loaded', 'warm-affinity'];
const HEARTBEAT_STALE_MS = 45_000;
const NEED: Need = { vcpuMilli: 500, memoryMb: 256, image: 'registry.local/chainfaas/fn-7@sha256:' + '7'.repeat(64), functionId: 'fn_bench7' };
const SIZES: Record<Profile, { pureDecisions: number; rounds: number; listDecisions: number; snapshotDecisions: number }> = {
  quick: { pureDecisions: 600, rounds: 3, listDecisions: 4, snapshotDecisions: 60 },
  full: { pureDecisions: 10000, rounds: 10, listDecisions: 30, snapshotDecisions: 600 },
};

/** A small deterministic PRNG (mulberry32), so every run ranks the same population. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * 1,000 providers like a volunteer pool: 1-8 vCPU, 1-16 GiB, partly reserved; 5% draining, 5%
 * silent past the heartbeat limit; each caching a few of 50 images and warm for a few of 50
 * functions (the need's image and function among them for some).
 */
export function syntheticProviders(now: number, count = PROVIDERS, seed = 42): ProviderRecord[] {
  const random = prng(seed);
  const pick = (n: number) => Math.floor(random() * n);
  return Array.from({ length: count }, (_, i) => {
    const vcpu = (1 + pick(8)) * 1000;
    const memory = (1 + pick(16)) * 1024;
    const images = Array.from({ length: pick(6) }, () => `registry.local/chainfaas/fn-${pick(50)}@sha256:${String(pick(50) % 10).repeat(64)}`);
    const warm = Array.from({ length: pick(3) }, () => `fn_bench${pick(50)}`);
    return {
      providerId: `prv_bench${String(i).padStart(5, '0')}`,
      ownerId: `usr_bench${i % 97}`,
      name: `volunteer-${i}`,
      capacityVcpuMilli: vcpu,
      capacityMemoryMb: memory,
      reservedVcpuMilli: Math.floor(random() * (vcpu / 500)) * 500,
      reservedMemoryMb: Math.floor(random() * (memory / 256)) * 256,
      publicKeyPem: '-----BEGIN PUBLIC KEY-----\n(synthetic)\n-----END PUBLIC KEY-----\n',
      queueUrl: `http://sqs.local/000000000000/chainfaas-provider-prv_bench${i}`,
      lastHeartbeatAt: new Date(now - (random() < 0.05 ? 120_000 : pick(10_000))).toISOString(),
      cachedImages: images,
      warmFunctions: warm,
      draining: random() < 0.05,
      createdAt: new Date(now - 86_400_000).toISOString(),
      onlineShard: '1',
    };
  });
}

type Chooser = (providers: readonly ProviderRecord[], opts: SchedulerOptions) => ProviderRecord[];

/** The baseline: the first online provider with room, in table order; no ordering at all. */
const firstFit: Chooser = (providers, opts) => {
  const p = providers.find((x) => isOnline(x, opts) && fits(x, NEED));
  return p ? [p] : [];
};

const choosers: Array<[string, Chooser]> = [
  ...POLICIES.map((policy): [string, Chooser] => [policy, (providers, opts) => rankProviders(policy, providers, NEED, opts)]),
  ['first-fit scan (baseline)', firstFit],
];

/** Pure decisions per second, per chooser, in alternating rounds. */
function pureRun(providers: ProviderRecord[], decisions: number, rounds: number) {
  const now = Date.now();
  const random = prng(7);
  const opts: SchedulerOptions = { now, heartbeatStaleMs: HEARTBEAT_STALE_MS, random };
  const perRound = Math.ceil(decisions / rounds);
  const totals = new Map<string, { ms: number; decisions: number; roundRates: number[]; candidates: number }>();
  // One round first, not counted, so that every chooser runs compiled code.
  for (const [, choose] of choosers) for (let i = 0; i < Math.min(perRound, 100); i++) choose(providers, opts);
  for (let round = 0; round < rounds; round++) {
    for (const [name, choose] of choosers) {
      let candidates = 0;
      const t0 = performance.now();
      for (let i = 0; i < perRound; i++) {
        const ranked = choose(providers, opts);
        if (!ranked[0]) throw new Error(`${name}: no provider fits`);
        candidates = ranked.length;
      }
      const ms = performance.now() - t0;
      const t = totals.get(name) ?? { ms: 0, decisions: 0, roundRates: [], candidates };
      t.ms += ms;
      t.decisions += perRound;
      t.roundRates.push((perRound / ms) * 1000);
      totals.set(name, t);
    }
  }
  const baseline = totals.get('first-fit scan (baseline)')!;
  const baselineRate = (baseline.decisions / baseline.ms) * 1000;
  return [...totals.entries()].map(([name, t]) => {
    const rate = (t.decisions / t.ms) * 1000;
    return {
      chooser: name,
      decisions: t.decisions,
      decisionsPerSecond: Math.round(rate),
      perRoundDecisionsPerSecond: summarize(t.roundRates.map((r) => Math.round(r))),
      microsecondsPerDecision: round((t.ms * 1000) / t.decisions, 2),
      candidatesRanked: t.candidates,
      relativeToBaseline: round(rate / baselineRate, 4),
    };
  });
}

async function createProvidersTable(endpoint: string, table: string): Promise<void> {
  const spec = TABLES.providers;
  const client = new DynamoDBClient({ endpoint, region: process.env.AWS_REGION ?? 'us-east-1' });
  try {
    await client.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [...new Set([spec.pk, ...spec.gsis.flatMap((g) => [g.pk, ...(g.sk ? [g.sk] : [])])])].map((name) => ({
          AttributeName: name,
          AttributeType: 'S' as const,
        })),
        KeySchema: [{ AttributeName: spec.pk, KeyType: 'HASH' }],
        GlobalSecondaryIndexes: spec.gsis.map((g) => ({
          IndexName: g.name,
          KeySchema: [{ AttributeName: g.pk, KeyType: 'HASH' as const }, ...(g.sk ? [{ AttributeName: g.sk, KeyType: 'RANGE' as const }] : [])],
          Projection: { ProjectionType: 'ALL' as const },
        })),
      }),
    );
  } finally {
    client.destroy();
  }
}

async function dropTable(endpoint: string, table: string): Promise<void> {
  const client = new DynamoDBClient({ endpoint, region: process.env.AWS_REGION ?? 'us-east-1' });
  await client.send(new DeleteTableCommand({ TableName: table })).catch(() => undefined);
  client.destroy();
}

/** Decisions on DynamoDB Local: rank (or first-fit) and the conditional reserve, as `place` does. */
async function dynamoRun(endpoint: string, profile: Profile) {
  const sizes = SIZES[profile];
  const table = `bench-scheduler-providers-${Date.now()}`;
  await createProvidersTable(endpoint, table);
  try {
    // The SDK client reads AWS_ENDPOINT_URL_DYNAMODB when its module loads: import only now.
    const { DynamoProviderStore } = await import('../lambdas/adapters/dynamo/providers');
    const store = new DynamoProviderStore(table);
    const now = Date.now();
    const population = syntheticProviders(now);
    const l0 = performance.now();
    const client = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint, region: process.env.AWS_REGION ?? 'us-east-1' }));
    const batches = Math.ceil(population.length / 25);
    await pool(batches, 4, (b) =>
      client.send(new BatchWriteCommand({ RequestItems: { [table]: population.slice(b * 25, b * 25 + 25).map((Item) => ({ PutRequest: { Item } })) } })),
    );
    client.destroy();
    const loadSeconds = (performance.now() - l0) / 1000;
    const listMs: number[] = [];
    const list = async () => {
      const t0 = performance.now();
      const all = await store.listProviders();
      listMs.push(performance.now() - t0);
      if (all.length !== PROVIDERS) throw new Error(`listed ${all.length} providers, expected ${PROVIDERS}`);
      return all;
    };
    const reserveMs: number[] = [];
    /** Reserves on the first candidate that still has room, refreshing a stale one (scheduling.ts#place). */
    const decide = async (providers: ProviderRecord[], choose: Chooser): Promise<void> => {
      const opts: SchedulerOptions = { now: Date.now(), heartbeatStaleMs: HEARTBEAT_STALE_MS };
      for (const provider of choose(providers, opts)) {
        const t0 = performance.now();
        const ok = await store.reserve(provider, NEED.vcpuMilli, NEED.memoryMb);
        reserveMs.push(performance.now() - t0);
        if (ok) {
          provider.reservedVcpuMilli += NEED.vcpuMilli;
          provider.reservedMemoryMb += NEED.memoryMb;
          return;
        }
        const fresh = await store.getProvider(provider.providerId);
        if (fresh) Object.assign(provider, fresh);
      }
      throw new Error('no provider could be reserved');
    };
    // Not counted: the first requests open connections and warm DynamoDB Local's code paths.
    const warmUp = await list();
    for (let i = 0; i < 10; i++) await decide(warmUp, firstFit);
    listMs.length = 0;
    reserveMs.length = 0;
    const modes = [];
    for (const mode of ['list each time', 'shared snapshot'] as const) {
      const decisions = mode === 'list each time' ? sizes.listDecisions : sizes.snapshotDecisions;
      const rows: Array<{ chooser: string; decisions: number; seconds: number; decisionsPerSecond: number }> = [];
      for (const [name, choose] of choosers) {
        let snapshot = mode === 'shared snapshot' ? await list() : [];
        const t0 = performance.now();
        for (let i = 0; i < decisions; i++) {
          if (mode === 'list each time') snapshot = await list();
          await decide(snapshot, choose);
        }
        const seconds = (performance.now() - t0) / 1000;
        rows.push({ chooser: name, decisions, seconds: round(seconds, 2), decisionsPerSecond: round(decisions / seconds, 1) });
      }
      const baseline = rows.find((r) => r.chooser.startsWith('first-fit'))!.decisionsPerSecond;
      modes.push({ mode, results: rows.map((r) => ({ ...r, relativeToBaseline: round(r.decisionsPerSecond / baseline, 2) })) });
      note(`scheduler (DynamoDB Local, ${mode}): ${rows.map((r) => `${r.chooser} ${r.decisionsPerSecond}/s`).join(', ')}`);
    }
    return {
      table: 'a table of its own with the providers key schema (manifest TABLES.providers), 1,000 records',
      loadSeconds: round(loadSeconds, 2),
      listProvidersMs: summarize(listMs),
      reserveMs: summarize(reserveMs),
      modes,
    };
  } finally {
    await dropTable(endpoint, table);
  }
}

/** Runs on the DynamoDB Local at AWS_ENDPOINT_URL_DYNAMODB (the platform's), or starts one. */
export async function runScheduler(profile: Profile): Promise<object> {
  const machine = machineBefore();
  const sizes = SIZES[profile];
  const population = syntheticProviders(Date.now());
  const opts = { now: Date.now(), heartbeatStaleMs: HEARTBEAT_STALE_MS };
  const pure = pureRun(population, sizes.pureDecisions, sizes.rounds);
  note(`scheduler (pure): ${pure.map((r) => `${r.chooser} ${r.decisionsPerSecond}/s`).join(', ')}`);

  let endpoint = process.env.AWS_ENDPOINT_URL_DYNAMODB;
  let stop: (() => Promise<void>) | undefined;
  if (!endpoint) {
    const dynamo = await startDynamoDbLocal();
    stop = () => dynamo.stop();
    endpoint = dynamo.endpoint;
    Object.assign(process.env, { AWS_ENDPOINT_URL_DYNAMODB: endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' });
  }
  try {
    const dynamo = await dynamoRun(endpoint, profile);
    return {
      benchmark: 'scheduler',
      profile,
      command: commandFor(profile),
      date: new Date().toISOString(),
      machine: machineAfter(machine),
      what: 'placement decisions per second with 1,000 registered providers',
      baselineWhat: 'first-fit scan: the first online provider with room, in table order',
      population: {
        providers: PROVIDERS,
        online: population.filter((p) => isOnline(p, opts)).length,
        onlineWithRoom: population.filter((p) => isOnline(p, opts) && fits(p, NEED)).length,
        need: { vcpuMilli: NEED.vcpuMilli, memoryMb: NEED.memoryMb },
      },
      pure,
      dynamodbLocal: dynamo,
      goals: pure
        .filter((r) => POLICIES.includes(r.chooser as PolicyName))
        .map((r) => ({
          figure: `scheduler ${r.chooser}, 1,000 providers, in memory`,
          value: r.decisionsPerSecond,
          unit: 'decisions/s',
          goal: '>= 2000',
          holds: r.decisionsPerSecond >= 2000,
        })),
    };
  } finally {
    await stop?.();
  }
}

if (require.main === module) {
  runScheduler(parseBenchArgs(process.argv.slice(2)).profile).then(
    (result) => {
      publish('scheduler', result);
      process.exit(0);
    },
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
