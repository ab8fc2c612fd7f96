import type { ProviderRecord } from '../../lambdas/core/model';
import { DEFAULT_SAMPLES, DEFAULT_WARM_SAMPLES, placeSampled, SAMPLE_ROUNDS, WarmHints, type ProviderSampler } from '../../lambdas/core/placement';
import { fits, rankProviders, type Need } from '../../lambdas/core/scheduler';
import { PRICES } from '../prices';
import { syntheticProviders } from '../scheduler';
import { commandFor, machineAfter, machineBefore, note, parseBenchArgs, type Profile, publish, round } from '../support';
import { PLATFORM, simulate, type SimConfig, type SimResult } from './sim';

/**
 * `node dist/bench/sim/run.js [--quick]` (also `npm run bench -- --only sim`): issue #24's
 * simulation. One trace of 100,000 providers of mixed sizes, 30% of them leaving (half crashing)
 * and as many joining within the span, Poisson arrivals at 10,000 invocations/s of 24 functions of
 * 4 developers; run through the sampled placement with the idle-beat liveness (the design), the
 * same with today's liveness, the same without warm hints, and an omniscient scheduler; then the
 * decision cost at 1,000 / 10,000 / 100,000 providers against today's list-every-provider
 * ranking. Writes bench/results/sim.json with its goal rows.
 *
 * A day's churn (30%) is compressed into the simulated span, so churn here is far harsher than
 * the issue's; the span itself is scaled (see SPANS) so the run stays within minutes.
 */

const SPANS: Record<Profile, { seconds: number; warmupS: number; scaleSeconds: number }> = {
  quick: { seconds: 40, warmupS: 15, scaleSeconds: 30 },
  full: { seconds: 240, warmupS: 60, scaleSeconds: 60 },
};

/** A provider record's size on DynamoDB (bytes): the item as registered with a few cached images. */
const PROVIDER_ITEM_BYTES = 1500;
const MONTH_S = 30 * 86_400;
/** Billed Lambda time of one heartbeat (ms) at the providers Lambda's 512 MB (lib/chainfaas-stack.ts#SIZING). */
const HEARTBEAT_LAMBDA_MS = 20;
const PROVIDERS_LAMBDA_GB = 0.5;

/**
 * What one heartbeat of an idle provider costs the controller, by the calls of
 * `use-cases/providers.ts#heartbeat`: API Gateway and the providers Lambda; the owner check (a
 * consistent GetItem of a ~1.5 KB item: 1 read unit) and one UpdateItem (2 write units). Today's
 * beat also wrote the reported free capacity in a second UpdateItem (2 more), queried the waiting
 * index in `dispatchWaiting` (0.5 read unit when empty; a listing of every provider when some job
 * waits, not counted here) and read the provider again for its answer (1).
 */
function heartbeatUsd(idleBeat: boolean): number {
  const reads = idleBeat ? 1 : 2.5;
  const writes = idleBeat ? 2 : 4;
  return (
    PRICES.apiGatewayHttpRequest.usd +
    PRICES.lambdaRequest.usd +
    (HEARTBEAT_LAMBDA_MS / 1000) * PROVIDERS_LAMBDA_GB * PRICES.lambdaGbSecondArm.usd +
    reads * PRICES.dynamoReadUnit.usd +
    writes * PRICES.dynamoWriteUnit.usd
  );
}

/** The controller's cost of one idle provider for 30 days: its heartbeats and its queue's polls (`pollGapS` between long polls). */
function idleProviderMonth(liveness: 'today' | 'idle-beats', pollGapS: number) {
  const beats = MONTH_S / (liveness === 'today' ? PLATFORM.heartbeatS : PLATFORM.idleBeatS);
  const polls = MONTH_S / (PLATFORM.pollWaitS + pollGapS);
  const heartbeats = beats * heartbeatUsd(liveness === 'idle-beats');
  const sqs = polls * PRICES.sqsRequest.usd;
  return { beats: Math.round(beats), polls: Math.round(polls), usd: { heartbeats: round(heartbeats, 4), sqsPolls: round(sqs, 4), total: round(heartbeats + sqs, 4) } };
}

/** Placement and liveness per million jobs, from a run's counts: decisions' reads and writes, and the awake and dozing providers' beats and polls. */
function perMillionJobs(r: SimResult) {
  // A query of 4 ~1.5 KB items (eventually consistent): 1 read unit; a BatchGet of up to 8: up to 4. Counted as 2.5 per index read.
  const indexReadUnits = 2.5;
  const decisions = r.decisions * (r.requestsPerDecision.indexReads * indexReadUnits * PRICES.dynamoReadUnit.usd + r.requestsPerDecision.reserves * 2 * PRICES.dynamoWriteUnit.usd);
  const liveness = r.beats * heartbeatUsd(false) + r.polls * PRICES.sqsRequest.usd;
  return { placement: round((decisions / r.jobs) * 1e6, 2), livenessOfAllProviders: round((liveness / r.jobs) * 1e6, 2) };
}

/** Today's decision over N providers: the listing (pages of 1 MB, read units) and `rankProviders`' CPU time, measured. */
function listingDecision(n: number, decisions: number) {
  const now = Date.now();
  const providers: ProviderRecord[] = syntheticProviders(now, n, 42);
  const need: Need = { vcpuMilli: 500, memoryMb: 256, image: 'registry.local/chainfaas/fn-7@sha256:' + '7'.repeat(64), functionId: 'fn_bench7' };
  rankProviders('warm-affinity', providers, need, { now, heartbeatStaleMs: PLATFORM.staleMs });
  const t0 = performance.now();
  for (let i = 0; i < decisions; i++) rankProviders('warm-affinity', providers, need, { now, heartbeatStaleMs: PLATFORM.staleMs });
  const us = ((performance.now() - t0) * 1000) / decisions;
  return {
    providers: n,
    requestsPerDecision: Math.ceil((n * PROVIDER_ITEM_BYTES) / 1_000_000) + 1,
    readUnitsPerDecision: round(((n * PROVIDER_ITEM_BYTES) / 4096) * 0.5, 1),
    rankMicroseconds: round(us, 1),
  };
}

/**
 * The decision's CPU time by the number of providers, measured apart from the simulation so the
 * sizes share the machine's load: rounds alternate between 1,000, 10,000 and 100,000 synthetic
 * providers (bench/scheduler.ts's), each a batch of `placeSampled` decisions; the median of the
 * rounds per size. The sampler hands each decision fresh records drawn beforehand from the
 * providers (untimed), as the DynamoDB adapter hands it the items its query and batch read just
 * unmarshalled: drawing from an in-memory array of 100,000 records while timing counted the
 * simulator's own cache misses (random reads over ~100 MB of records: 18 → 30 µs from 1,000 to
 * 100,000 providers in one run, against 21 → 24 µs with fresh records), which no controller has.
 */
async function decisionTimes(rounds: number, perRound: number) {
  const now = Date.now();
  const need: Need = { vcpuMilli: 500, memoryMb: 256, image: 'registry.local/chainfaas/fn-7@sha256:' + '7'.repeat(64), functionId: 'fn_bench7' };
  const fresh = (p: ProviderRecord): ProviderRecord => JSON.parse(JSON.stringify(p)) as ProviderRecord;
  const sizes = [1_000, 10_000, 100_000].map((n) => {
    const providers = syntheticProviders(now, n, 42);
    const hints = new WarmHints();
    for (const p of providers.slice(0, 16)) hints.note(need.functionId, p.providerId);
    const byId = new Map(providers.map((p) => [p.providerId, p]));
    return { n, providers, hints, byId, us: [] as number[] };
  });
  for (let r = 0; r < rounds; r++) {
    for (const size of sizes) {
      // Every round of every decision drawn beforehand, so the timing holds the decision's own work only.
      const draws: ProviderRecord[][] = [];
      const warms: ProviderRecord[][] = [];
      for (let i = 0; i < perRound * SAMPLE_ROUNDS; i++) {
        draws.push(Array.from({ length: DEFAULT_SAMPLES }, () => fresh(size.providers[Math.floor(Math.random() * size.providers.length)] as ProviderRecord)));
        warms.push(size.hints.pick(need.functionId, DEFAULT_WARM_SAMPLES).map((id) => fresh(size.byId.get(id) as ProviderRecord)));
      }
      let drawn = 0;
      let warmDrawn = 0;
      const sampler: ProviderSampler = {
        sample: async () => draws[drawn++] as ProviderRecord[],
        warm: async () => warms[warmDrawn++] as ProviderRecord[],
        freed: () => undefined,
        taken: () => undefined,
      };
      const t0 = performance.now();
      for (let i = 0; i < perRound; i++) {
        await placeSampled(sampler, need, { now, heartbeatStaleMs: PLATFORM.staleMs, random: Math.random }, async (p) => fits(p, need));
      }
      size.us.push(((performance.now() - t0) * 1000) / perRound);
    }
  }
  return Object.fromEntries(sizes.map((s) => [s.n, round([...s.us].sort((a, b) => a - b)[Math.floor(s.us.length / 2)] as number, 2)]));
}

async function main(): Promise<void> {
  const args = parseBenchArgs(process.argv.slice(2));
  const span = SPANS[args.profile];
  const machine = machineBefore();
  const base: SimConfig = {
    providers: 100_000,
    seconds: span.seconds,
    warmupS: span.warmupS,
    ratePerS: 10_000,
    churn: 0.3,
    churnSpanS: 86_400,
    crashShare: 0.5,
    load: 0.8,
    scheduler: 'sampled',
    liveness: 'idle-beats',
    samples: 4,
    warmSamples: DEFAULT_WARM_SAMPLES,
    seed: 24,
    ...PLATFORM,
    tickS: 0.1,
  };
  const run = async (label: string, c: Partial<SimConfig>) => {
    note(`sim: ${label}`);
    const r = await simulate({ ...base, ...c });
    note(`sim: ${label}: ${r.jobs} jobs, wait p99 ${r.waitS.p99} s, ${r.simWallS} s of wall time`);
    return r;
  };
  const sampled = await run('sampled, idle beats', {});
  const omniscient = await run('omniscient', { scheduler: 'omniscient' });
  const todayLiveness = await run('sampled, today’s liveness', { liveness: 'today' });
  const noWarm = await run('sampled, no warm hints', { warmSamples: 0 });
  // Churn: a day's 30% compressed into the span, to count lost jobs and time their re-placement.
  const stress = await run('churn stress, idle beats', { churnSpanS: base.seconds });
  const stressToday = await run('churn stress, today’s liveness', { churnSpanS: base.seconds, liveness: 'today' });
  // Contention: 30% more work offered than the capacity holds (10,000 providers), so DRF decides who waits.
  const overload = await run('overload ×1.3, 10,000 providers', { providers: 10_000, ratePerS: 1_000, load: 1.3, constrainedDrf: true });
  const overloadOmniscient = await run('overload ×1.3, omniscient', { providers: 10_000, ratePerS: 1_000, load: 1.3, scheduler: 'omniscient', constrainedDrf: true });
  const times = await decisionTimes(9, 2000);
  const scale = [];
  for (const n of [1_000, 10_000, 100_000]) {
    const r = n === 100_000 ? sampled : await run(`sampled, ${n} providers`, { providers: n, ratePerS: n / 10, seconds: span.scaleSeconds, warmupS: span.scaleSeconds / 3 });
    scale.push({
      providers: n,
      ratePerS: n / 10,
      requestsPerDecision: r.requestsPerDecision.total,
      decisionMicroseconds: times[n] as number,
      decisionMicrosecondsInSimulation: r.decisionMicroseconds,
      listing: listingDecision(n, n >= 100_000 ? 5 : 40),
    });
  }
  const flat = {
    requests: round(Math.max(...scale.map((s) => s.requestsPerDecision)) / Math.min(...scale.map((s) => s.requestsPerDecision)), 2),
    time: round(Math.max(...scale.map((s) => s.decisionMicroseconds)) / Math.min(...scale.map((s) => s.decisionMicroseconds)), 2),
  };
  // As built (a dozing agent pauses between its long polls: the agent's idlePollPauseS), and without that pause.
  const idle = { today: idleProviderMonth('today', 0), idleBeatsWithoutPollPause: idleProviderMonth('idle-beats', 0), idleBeats: idleProviderMonth('idle-beats', PLATFORM.idlePollGapS) };
  const worstOff = (r: SimResult) => Math.max(...r.drf.map((d) => (d.target > 0 ? Math.abs(d.share - d.target) / d.target : 0)));
  // Against the constrained targets (what each developer can get on the machines its jobs fit), at the same sampled ticks.
  const worstOffConstrained = (r: SimResult) =>
    Math.max(...r.drf.map((d) => (d.constrainedTarget && d.shareAtSamples !== undefined ? Math.abs(d.shareAtSamples - d.constrainedTarget) / d.constrainedTarget : 0)));
  const drfWorst = worstOffConstrained(overload);
  const drfWorstOmniscient = worstOffConstrained(overloadOmniscient);
  const drfWorstPooled = worstOff(overload);
  const drfWorstPooledOmniscient = worstOff(overloadOmniscient);
  const waitRatio = round(sampled.waitS.p99 / omniscient.waitS.p99, 2);
  const replaceBound = PLATFORM.heartbeatS + PLATFORM.leaseS + PLATFORM.reaperS;
  const coldAvoided = noWarm.starts.cold + noWarm.starts.cached - (sampled.starts.cold + sampled.starts.cached);
  const goals = [
    {
      figure: 'placement decision cost, 1,000 → 100,000 providers: max/min of requests and of CPU time per decision (#24)',
      value: Math.max(flat.requests, flat.time),
      unit: '×',
      goal: '<= 1.5 (flat)',
      holds: Math.max(flat.requests, flat.time) <= 1.5,
    },
    {
      figure: 'job wait p99, sampled placement / omniscient scheduler, same trace, 100,000 providers (#24)',
      value: waitRatio,
      unit: '×',
      goal: '<= 1.2',
      holds: waitRatio <= 1.2,
    },
    {
      figure: 'DRF under overload ×1.3: largest deviation of a developer’s dominant share from its constrained target (progressive filling job by job over the online machines, each job only where it fits) (#24)',
      value: round(drfWorst * 100, 1),
      unit: '%',
      goal: `<= 5 (omniscient ${round(drfWorstOmniscient * 100, 1)}%; against the pooled target, as if a job could span machines: ${round(drfWorstPooled * 100, 1)}%, omniscient ${round(drfWorstPooledOmniscient * 100, 1)}%)`,
      holds: drfWorst <= 0.05,
    },
    {
      figure: 'controller cost per idle provider-month, heartbeats + queue polls, as built (#24)',
      value: idle.idleBeats.usd.total,
      unit: 'USD',
      goal: `<= 0.05 (today ${idle.today.usd.total}; ${idle.idleBeatsWithoutPollPause.usd.total} with idle beats but no pause between a dozing agent's polls)`,
      holds: idle.idleBeats.usd.total <= 0.05,
    },
    {
      figure: 'dead provider’s jobs re-placed: slowest, idle beats vs today’s liveness (#24)',
      value: stress.churn.replaceS.max,
      unit: 's',
      goal: `no later than today (${stressToday.churn.replaceS.max} s on the same churn; bound heartbeat + lease + reaper = ${replaceBound} s)`,
      holds: stress.churn.replaceS.max <= Math.max(stressToday.churn.replaceS.max, replaceBound) && stress.churn.replaceS.p95 <= stressToday.churn.replaceS.p95 + PLATFORM.reaperS / 10,
    },
  ];
  const result = {
    benchmark: 'sim',
    profile: args.profile,
    command: commandFor(args.profile, 'sim'),
    date: new Date().toISOString(),
    machine: machineAfter(machine),
    what: 'discrete-event simulation: the controller’s own placement (core/placement.ts#placeSampled, WarmHints), FairQueue and liveness rule with simulated time and machines (bench/sim/sim.ts)',
    trace: { providers: base.providers, seconds: base.seconds, warmupS: base.warmupS, ratePerS: base.ratePerS, churn: base.churn, churnSpanS: base.churnSpanS, crashShare: base.crashShare, load: base.load, functions: 24, developers: 4 },
    runs: { sampled, omniscient, todayLiveness, noWarm, stress, stressToday, overload, overloadOmniscient },
    scale,
    flat,
    waitRatioP99: waitRatio,
    drfWorstOff: { constrained: round(drfWorst, 3), constrainedOmniscient: round(drfWorstOmniscient, 3), pooled: round(drfWorstPooled, 3), pooledOmniscient: round(drfWorstPooledOmniscient, 3) },
    coldStartsAvoidedByWarmHints: { starts: coldAvoided, share: round(coldAvoided / Math.max(1, noWarm.starts.cold + noWarm.starts.cached), 3) },
    idleProviderMonth: idle,
    perMillionJobs: { sampled: perMillionJobs(sampled), todayLiveness: perMillionJobs(todayLiveness) },
    assumptions: {
      heartbeatLambdaMs: HEARTBEAT_LAMBDA_MS,
      providerItemBytes: PROVIDER_ITEM_BYTES,
      dozingPollGapS: PLATFORM.idlePollGapS,
      note: 'a dozing agent pauses idlePollGapS between its 20 s long polls (provider-agent: AgentConfig.idlePollPauseS, Delivery pauseMs)',
    },
    goals,
  };
  publish('sim', result);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
