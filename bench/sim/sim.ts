import type { ProviderRecord } from '../../lambdas/core/model';
import { placeSampled, WarmHints, type ProviderSampler } from '../../lambdas/core/placement';
import { dominantShare, FairQueue, fits, type Amount, type Need } from '../../lambdas/core/scheduler';
import { EventHeap } from './heap';

/**
 * A discrete-event simulation of the controller's placement and liveness at volunteer scale
 * (issue #24). Only the clock and the machines are simulated: every placement decision is the
 * controller's own code (`core/placement.ts#placeSampled` over an in-memory `ProviderSampler`
 * with the same `WarmHints`; `core/scheduler.ts#FairQueue` for waiting jobs, `isOnline` with the
 * announced idle pause for liveness). The omniscient scheduler on the same trace knows every
 * provider's true free capacity, warm containers and death at once.
 */

export type SchedulerKind = 'sampled' | 'omniscient';
/** `today`: every agent beats every `heartbeatS` and polls its queue without pause; `idle-beats`: issue #24's cadence. */
export type LivenessKind = 'today' | 'idle-beats';

export interface SimConfig {
  providers: number;
  /** Simulated seconds of traffic. */
  seconds: number;
  /** Jobs arriving before this are not counted in the wait figures. */
  warmupS: number;
  ratePerS: number;
  /** Fraction of the initial providers that leave per `churnSpanS` (as many new ones join), at a steady rate over the run. */
  churn: number;
  /** 86,400: the 30% a day; the run's own span: the day's churn compressed into it (a stress test). */
  churnSpanS: number;
  /** Of those leaving, the share that crash (the rest drain). */
  crashShare: number;
  /** Offered vCPU (or memory, whichever is larger) over the capacity. */
  load: number;
  scheduler: SchedulerKind;
  liveness: LivenessKind;
  samples: number;
  warmSamples: number;
  seed: number;
  heartbeatS: number;
  staleMs: number;
  leaseS: number;
  reaperS: number;
  idleBeatS: number;
  awakeS: number;
  pollWaitS: number;
  idlePollGapS: number;
  tickS: number;
  /**
   * Also compute each developer's constrained DRF target (`constrainedDrfTargets`: progressive
   * filling job by job over the online machines) every `CONSTRAINED_EVERY` measured ticks. Costly
   * at 100,000 providers, so only the runs that report DRF ask for it.
   */
  constrainedDrf?: boolean;
}

export const PLATFORM = {
  /** lambdas/adapters/deps.ts: HEARTBEAT_INTERVAL_S, HEARTBEAT_STALE_MS, LEASE_S; manifest: the reaper's rate(1 minute). */
  heartbeatS: 10,
  staleMs: 45_000,
  leaseS: 30,
  reaperS: 60,
  /** provider-agent/src/heartbeat.ts defaults. */
  idleBeatS: 300,
  awakeS: 300,
  /** SQS long poll (20 s is SQS's longest) and the pause a dozing agent takes between polls. */
  pollWaitS: 20,
  idlePollGapS: 20,
};

/** Modelled times (seconds): the envelope's way to a polling agent; a container's start warm, from a cached image, with a pull. */
const DISPATCH_S = 0.02;
const START_S = { warm: 0.01, cached: 0.4, cold: 2.5 };
const KEEP_WARM_S = 120;
const MAX_WARM = 4;
const MAX_IMAGES = 10;
const EPOCH = Date.parse('2026-12-01T00:00:00.000Z');

interface Fn {
  id: string;
  image: string;
  developer: number;
  need: Need;
  meanS: number;
}

interface Job {
  n: number;
  fn: Fn;
  arrival: number;
  durS: number;
  attempt: number;
  provider?: Provider;
  assignedAt?: number;
  lostAt?: number;
  previous?: string[];
  ended?: boolean;
  started?: boolean;
}

interface Provider {
  rec: ProviderRecord;
  alive: boolean;
  leaving: boolean;
  running: Set<Job>;
  lastBusy: number;
  dozing: boolean;
  /** When the current beat cadence started (beats at phase + k × interval). */
  phase: number;
  frozenBeat?: number;
  warm: Map<Fn, number>;
  images: Set<string>;
  stateSince: number;
  bucket?: Set<Provider>;
}

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

const exp = (random: () => number, mean: number) => -Math.log(1 - random()) * mean;

/** Developers: share of arrivals, and what their jobs need (vCPU millicores, MB). */
const DEVELOPERS = [
  { share: 0.4, vcpuMilli: 2000, memoryMb: 2048 },
  { share: 0.2, vcpuMilli: 500, memoryMb: 2048 },
  { share: 0.2, vcpuMilli: 500, memoryMb: 256 },
  { share: 0.2, vcpuMilli: 1000, memoryMb: 512 },
];
const FUNCTIONS_PER_DEVELOPER = 6;
/** `constrainedDrf`: one constrained target every this many measured ticks (every second at 0.1 s ticks). */
const CONSTRAINED_EVERY = 10;

export interface SimResult {
  config: SimConfig;
  jobs: number;
  measuredJobs: number;
  waitS: { p50: number; p95: number; p99: number; mean: number };
  placementWaitS: { p50: number; p95: number; p99: number };
  utilisation: number;
  decisions: number;
  requestsPerDecision: { indexReads: number; reserves: number; total: number };
  decisionMicroseconds: number;
  starts: { warm: number; cached: number; cold: number };
  /**
   * Mean dominant share; `target`: pooled progressive filling of the mean demand (as if a job could
   * span machines); `constrainedTarget` (when asked for): the mean of `constrainedDrfTargets` over
   * the sampled ticks, and `shareAtSamples` the mean share at those same ticks.
   */
  drf: Array<{ developer: number; share: number; target: number; constrainedTarget?: number; shareAtSamples?: number }>;
  churn: { left: number; crashed: number; joined: number; lostJobs: number; placedOnDead: number; replaceS: { p50: number; p95: number; max: number } };
  stillWaiting: number;
  providerSeconds: { awake: number; dozing: number };
  polls: number;
  beats: number;
  simWallS: number;
}

export function percentileOf(sorted: Float64Array | number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

export async function simulate(config: SimConfig): Promise<SimResult> {
  const wall = performance.now();
  // Three streams, so that every scheduler sees the same trace and the same machines: the
  // decisions' own randomness, the jobs, and the providers (sizes, churn).
  const random = prng(config.seed);
  const traceRandom = prng(config.seed * 7 + 1);
  const world = prng(config.seed * 13 + 5);
  const today = config.liveness === 'today';
  const omniscient = config.scheduler === 'omniscient';

  // Functions, with durations scaled so the offered load is `config.load` of the capacity.
  const fns: Fn[] = [];
  const fnWeights: number[] = [];
  DEVELOPERS.forEach((d, developer) => {
    for (let i = 0; i < FUNCTIONS_PER_DEVELOPER; i++) {
      const id = `fn_d${developer}f${i}`;
      fns.push({ id, image: `registry.local/${id}@sha256:${String(i).repeat(64)}`, developer, need: { vcpuMilli: d.vcpuMilli, memoryMb: d.memoryMb, image: '', functionId: id }, meanS: [2, 5, 10, 20, 5, 2][i] as number });
      fnWeights.push((d.share * (1 / (i + 1))) / [1, 1 / 2, 1 / 3, 1 / 4, 1 / 5, 1 / 6].reduce((a, b) => a + b, 0));
    }
  });
  for (const f of fns) f.need.image = f.image;
  const cumulative: number[] = [];
  fnWeights.reduce((sum, w, i) => (cumulative[i] = sum + w), 0);
  const pickFn = () => {
    const r = traceRandom() * (cumulative[cumulative.length - 1] as number);
    let i = 0;
    while ((cumulative[i] as number) < r) i++;
    return fns[i] as Fn;
  };

  const SIZES = [
    [1, 0.3],
    [2, 0.35],
    [4, 0.25],
    [8, 0.1],
  ] as const;
  let nextProvider = 0;
  const providers: Provider[] = [];
  const byId = new Map<string, Provider>();
  const index: ProviderRecord[] = [];
  const total: Amount = { vcpuMilli: 0, memoryMb: 0 };
  const usage = DEVELOPERS.map(() => ({ vcpuMilli: 0, memoryMb: 0 }));
  // The omniscient scheduler's view: providers by free vCPU (quarters) and free memory (512 MB steps), awake and dozing apart.
  const V = 34;
  const M = 34;
  const bucketsOf = () => Array.from({ length: V * M }, () => new Set<Provider>());
  const buckets = bucketsOf();
  const dozingBuckets = bucketsOf();
  /** Per function, the providers where its jobs ended, most recent last (repeats allowed; trimmed when long). */
  const warmStacks = new Map<Fn, Provider[]>();
  let awakeSeconds = 0;
  let dozingSeconds = 0;
  let polls = 0;
  let beats = 0;

  const iso = (t: number) => new Date(EPOCH + t * 1000).toISOString();
  const account = (p: Provider, now: number) => {
    const dt = now - p.stateSince;
    if (p.dozing) {
      dozingSeconds += dt;
      polls += dt / (config.pollWaitS + config.idlePollGapS);
      beats += dt / config.idleBeatS;
    } else {
      awakeSeconds += dt;
      polls += dt / config.pollWaitS;
      beats += dt / config.heartbeatS;
    }
    p.stateSince = now;
  };
  const rebucket = (p: Provider) => {
    if (!omniscient) return;
    p.bucket?.delete(p);
    p.bucket = undefined;
    if (!p.alive || p.leaving) return;
    const freeV = Math.min(V - 1, Math.floor(Math.max(0, p.rec.capacityVcpuMilli - p.rec.reservedVcpuMilli) / 250));
    const freeM = Math.min(M - 1, Math.floor(Math.max(0, p.rec.capacityMemoryMb - p.rec.reservedMemoryMb) / 512));
    p.bucket = (p.dozing ? dozingBuckets : buckets)[freeV * M + freeM];
    p.bucket?.add(p);
  };
  const register = (now: number, awake: boolean) => {
    const i = nextProvider++;
    const sizeR = world();
    let acc = 0;
    let vcpu = 1;
    for (const [v, w] of SIZES) {
      acc += w;
      if (sizeR <= acc) {
        vcpu = v;
        break;
      }
    }
    const rec: ProviderRecord = {
      providerId: `prv_sim${String(i).padStart(7, '0')}`,
      ownerId: `usr_sim${i % 1000}`,
      name: `sim ${i}`,
      capacityVcpuMilli: vcpu * 1000,
      capacityMemoryMb: vcpu * 2048,
      reservedVcpuMilli: 0,
      reservedMemoryMb: 0,
      publicKeyPem: '',
      queueUrl: '',
      lastHeartbeatAt: iso(now),
      cachedImages: [],
      warmFunctions: [],
      draining: false,
      createdAt: iso(now),
      onlineShard: '1',
    };
    const dozing = !today && !awake;
    const p: Provider = { rec, alive: true, leaving: false, running: new Set(), lastBusy: now, dozing, phase: now - world() * (dozing ? config.idleBeatS : config.heartbeatS), warm: new Map(), images: new Set(), stateSince: now };
    if (dozing) rec.nextBeatS = config.idleBeatS;
    providers.push(p);
    byId.set(rec.providerId, p);
    index.push(rec);
    total.vcpuMilli += rec.capacityVcpuMilli;
    total.memoryMb += rec.capacityMemoryMb;
    rebucket(p);
    return p;
  };

  /** The controller's view of a provider's last heartbeat at `now`. */
  const refresh = (p: Provider, now: number) => {
    const interval = p.dozing ? config.idleBeatS : config.heartbeatS;
    const last = p.frozenBeat ?? now - ((now - p.phase) % interval);
    p.rec.lastHeartbeatAt = iso(last);
  };

  const hints = new WarmHints();
  let clock = 0;
  const sampler: ProviderSampler = {
    sample: async (k, r) => {
      const out: ProviderRecord[] = [];
      for (let i = 0; i < k; i++) {
        const rec = index[Math.floor(r() * index.length)] as ProviderRecord;
        refresh(byId.get(rec.providerId) as Provider, clock);
        out.push(rec);
      }
      return out;
    },
    warm: async (functionId, k) =>
      hints.pick(functionId, k).map((id) => {
        const p = byId.get(id) as Provider;
        refresh(p, clock);
        return p.rec;
      }),
    freed: (functionId, providerId) => hints.note(functionId, providerId),
    taken: (functionId, providerId) => hints.forget(functionId, providerId),
  };

  // Statistics.
  const waits: number[] = [];
  /** Arrival → on the agent (decision, queueing, delivery, a dozing agent's pause), without the container's start. */
  const placementWaits: number[] = [];
  const replace: number[] = [];
  const starts = { warm: 0, cached: 0, cold: 0 };
  let decisions = 0;
  let indexReads = 0;
  let reserves = 0;
  let decisionMs = 0;
  let utilSum = 0;
  let utilN = 0;
  const shareSum = DEVELOPERS.map(() => 0);
  /** Each developer's demand summed over the ticks: what it holds plus what it has waiting. */
  const demandSum = DEVELOPERS.map(() => ({ vcpuMilli: 0, memoryMb: 0 }));
  /** The constrained targets and the shares summed over the sampled ticks. */
  const constrainedSum = DEVELOPERS.map(() => 0);
  const sampledShareSum = DEVELOPERS.map(() => 0);
  let constrainedN = 0;
  let lostJobs = 0;
  let placedOnDead = 0;
  let left = 0;
  let crashed = 0;
  let joined = 0;
  let jobsN = 0;

  type Ev = { k: 'arrive' } | { k: 'end'; job: Job; attempt: number } | { k: 'leave'; p: Provider } | { k: 'join' } | { k: 'reaper' } | { k: 'tick' } | { k: 'doze'; p: Provider; busy: number } | { k: 'requeue'; job: Job; attempt: number };
  const events = new EventHeap<Ev>();
  const waiting = new Set<Job>();
  /** Each developer's waiting jobs in the order they started waiting (jobs no longer in `waiting` are dropped as met). */
  const queues: Job[][] = DEVELOPERS.map(() => []);
  const wait = (job: Job) => {
    waiting.add(job);
    (queues[job.fn.developer] as Job[]).push(job);
  };

  for (let i = 0; i < config.providers; i++) register(0, world() < config.load);
  // Durations scaled to the offered load.
  const meanNeed = fns.reduce(
    (acc, f, i) => {
      const w = (fnWeights[i] as number) / (cumulative[cumulative.length - 1] as number);
      return { v: acc.v + w * f.need.vcpuMilli * f.meanS, m: acc.m + w * f.need.memoryMb * f.meanS };
    },
    { v: 0, m: 0 },
  );
  const scale = config.load / Math.max((config.ratePerS * meanNeed.v) / total.vcpuMilli, (config.ratePerS * meanNeed.m) / total.memoryMb);

  // Churn: leavers among the initial providers, joiners, at uniform times over the span.
  const leavers = Math.round(config.providers * config.churn * Math.min(1, config.seconds / config.churnSpanS));
  for (let i = 0; i < leavers; i++) {
    const p = providers[Math.floor(world() * config.providers)] as Provider;
    events.push(world() * config.seconds, { k: 'leave', p });
    events.push(world() * config.seconds, { k: 'join' });
  }
  events.push(traceRandom() / config.ratePerS, { k: 'arrive' });
  for (let t = config.reaperS * world(); t < config.seconds + 2 * config.reaperS; t += config.reaperS) events.push(t, { k: 'reaper' });
  for (let t = 0; t < config.seconds; t += config.tickS) events.push(t, { k: 'tick' });

  const isWarm = (p: Provider, fn: Fn, now: number) => (p.warm.get(fn) ?? -1) >= now;
  const fitsLive = (p: Provider, need: Need) => p.alive && !p.leaving && fits(p.rec, need);

  /** The omniscient choice: a warm awake provider that fits, else the awake one that fits best, else a dozing one. */
  const omniscientChoice = (fn: Fn, now: number, avoid?: readonly string[]): Provider | undefined => {
    const warm = warmStacks.get(fn);
    if (warm) {
      // The most recently freed first; at most 256 looked at per job (a provider freed longer ago is likely busy again).
      for (let i = warm.length - 1, looked = 0; i >= 0 && looked < 256; i--, looked++) {
        const p = warm[i] as Provider;
        if (isWarm(p, fn, now) && !p.dozing && fitsLive(p, fn.need) && !avoid?.includes(p.rec.providerId)) return p;
      }
    }
    // Best fit: the awake provider with the least room that still fits (keeps large holes for large jobs).
    for (const set of [buckets, dozingBuckets]) {
      for (let v = Math.ceil(fn.need.vcpuMilli / 250); v < V; v++) {
        for (let m = Math.ceil(fn.need.memoryMb / 512); m < M; m++) {
          const bucket = set[v * M + m] as Set<Provider>;
          if (bucket.size === 0) continue;
          for (const p of bucket) if (fitsLive(p, fn.need)) return p;
        }
      }
    }
    return undefined;
  };

  const assign = (job: Job, p: Provider, now: number) => {
    const rec = p.rec;
    if (omniscient) {
      rec.reservedVcpuMilli += job.fn.need.vcpuMilli;
      rec.reservedMemoryMb += job.fn.need.memoryMb;
    }
    const u = usage[job.fn.developer] as Amount;
    u.vcpuMilli += job.fn.need.vcpuMilli;
    u.memoryMb += job.fn.need.memoryMb;
    job.provider = p;
    job.assignedAt = now;
    if (!p.alive) {
      // Reserved on a provider that died unnoticed: the job is lost at once; its lease lapses leaseS later.
      placedOnDead++;
      job.lostAt = now;
      events.push(now + config.leaseS, { k: 'requeue', job, attempt: job.attempt });
      return;
    }
    let pickup = DISPATCH_S;
    if (p.dozing) {
      // A dozing agent is in a long poll (the message comes at once) or in its pause.
      const gap = config.idlePollGapS;
      const inPause = random() < gap / (gap + config.pollWaitS);
      pickup += inPause ? random() * gap : 0;
      account(p, now + pickup);
      p.dozing = false;
      p.phase = now + pickup;
      delete rec.nextBeatS;
    }
    p.running.add(job);
    p.lastBusy = now;
    const kind = isWarm(p, job.fn, now) ? 'warm' : p.images.has(job.fn.image) ? 'cached' : 'cold';
    if (job.arrival >= config.warmupS) starts[kind]++;
    p.images.add(job.fn.image);
    if (p.images.size > MAX_IMAGES) p.images.delete(p.images.values().next().value as string);
    const start = now + pickup + START_S[kind];
    if (job.arrival >= config.warmupS && !job.started) {
      waits.push(start - job.arrival);
      placementWaits.push(now + pickup - job.arrival);
    }
    job.started = true;
    if (job.lostAt !== undefined) replace.push(now - job.lostAt);
    events.push(start + job.durS, { k: 'end', job, attempt: job.attempt });
    rebucket(p);
  };

  const release = (job: Job, p: Provider) => {
    p.rec.reservedVcpuMilli -= job.fn.need.vcpuMilli;
    p.rec.reservedMemoryMb -= job.fn.need.memoryMb;
    const u = usage[job.fn.developer] as Amount;
    u.vcpuMilli -= job.fn.need.vcpuMilli;
    u.memoryMb -= job.fn.need.memoryMb;
  };

  /** One placement attempt by the configured scheduler; true when placed. */
  const tryPlace = async (job: Job, now: number): Promise<boolean> => {
    if (omniscient) {
      const p = omniscientChoice(job.fn, now, job.previous);
      if (!p) return false;
      assign(job, p, now);
      return true;
    }
    const t0 = performance.now();
    const decision = await placeSampled(
      sampler,
      job.fn.need,
      { now: EPOCH + now * 1000, heartbeatStaleMs: config.staleMs, random, samples: config.samples, warmSamples: config.warmSamples, avoid: job.previous },
      async (rec) => {
        // DynamoDB's conditional write: fits and not draining, whatever the provider's real state.
        if (rec.draining || !fits(rec, job.fn.need)) return false;
        rec.reservedVcpuMilli += job.fn.need.vcpuMilli;
        rec.reservedMemoryMb += job.fn.need.memoryMb;
        return true;
      },
    );
    decisionMs += performance.now() - t0;
    decisions++;
    indexReads += decision.indexReads;
    reserves += decision.reserves;
    if (!decision.provider) return false;
    assign(job, byId.get(decision.provider.providerId) as Provider, now);
    return true;
  };

  const dispatchWaiting = async (now: number) => {
    if (waiting.size === 0) return;
    const queue = new FairQueue(
      [...waiting].map((job) => ({ jobId: String(job.n), developerId: String(job.fn.developer), createdAt: (job.arrival * 1e6).toFixed(0).padStart(16, '0'), need: job.fn.need, job })),
      usage.map((u, d) => ({ developerId: String(d), need: u })),
      total,
    );
    for (let next = queue.next(); next; next = queue.next()) {
      if (await tryPlace(next.job, now)) {
        waiting.delete(next.job);
        queue.placed(next);
      } else queue.skip(next);
    }
  };

  /**
   * Late binding: capacity freed on `p` (a report) goes first to waiting jobs, in Dominant
   * Resource Fairness order (the real FairQueue over each developer's oldest few), reserved on `p`
   * itself: one read of the waiting index and one conditional write per job placed.
   */
  const offerFreed = (p: Provider, now: number) => {
    if (waiting.size === 0 || !p.alive || p.leaving) return;
    // Each developer's oldest few, and among its oldest 64 those whose function `p` holds warm or
    // whose image it caches, those first: the developers' order stays DRF's, and within one
    // developer a job that starts warm here goes before an older one that would start cold.
    const heads: Array<{ job: Job; createdAt: string }> = [];
    const warmth = (job: Job) => (p.rec.warmFunctions.includes(job.fn.id) ? 0 : p.rec.cachedImages.includes(job.fn.image) ? 1 : 2);
    for (const q of queues) {
      while (q.length && !waiting.has(q[0] as Job)) q.shift();
      const mine: Job[] = [];
      for (let i = 0, cold = 0; i < q.length && i < 64; i++) {
        const job = q[i] as Job;
        if (!waiting.has(job)) continue;
        if (warmth(job) < 2) mine.push(job);
        else if (cold++ < 4) mine.push(job);
      }
      if (mine.length === 0) continue;
      const oldest = ((mine[0] as Job).arrival * 1e6).toFixed(0).padStart(16, '0');
      mine.sort((a, b) => warmth(a) - warmth(b) || a.arrival - b.arrival);
      mine.forEach((job, i) => heads.push({ job, createdAt: `${oldest}:${String(i).padStart(2, '0')}` }));
    }
    const queue = new FairQueue(
      heads.map(({ job, createdAt }) => ({ jobId: String(job.n), developerId: String(job.fn.developer), createdAt, need: job.fn.need, job })),
      usage.map((u, d) => ({ developerId: String(d), need: u })),
      total,
    );
    decisions++;
    indexReads++;
    for (let next = queue.next(); next; next = queue.next()) {
      const need = next.job.fn.need;
      if (p.rec.draining || !fits(p.rec, need)) {
        queue.skip(next);
        continue;
      }
      reserves++;
      if (!omniscient) {
        p.rec.reservedVcpuMilli += need.vcpuMilli;
        p.rec.reservedMemoryMb += need.memoryMb;
      }
      waiting.delete(next.job);
      assign(next.job, p, now);
      queue.placed(next);
    }
  };

  const lose = (job: Job, now: number) => {
    // The provider died under the job: its lease lapses leaseS after the last renewal (a beat before the death, or the assignment).
    lostJobs++;
    job.lostAt = now;
    const p = job.provider as Provider;
    p.running.delete(job);
    if (omniscient) {
      release(job, p);
      requeue(job, now);
      return;
    }
    const lastRenewal = Math.max(job.assignedAt ?? now, p.frozenBeat ?? now);
    events.push(lastRenewal + config.leaseS, { k: 'requeue', job, attempt: job.attempt });
  };
  const lapsed: Job[] = [];
  const requeue = (job: Job, now: number) => {
    job.attempt++;
    job.previous = [...(job.previous ?? []), (job.provider as Provider).rec.providerId];
    job.provider = undefined;
    wait(job);
    void now;
  };

  // The steady state at t = 0: as many jobs as run at once on average (rate × mean duration; the
  // durations are exponential, so what remains of a running job's is distributed as a new one's),
  // placed by the scheduler under test before the first arrival; they count in no wait figure.
  const prefill = Math.round(config.ratePerS * fns.reduce((sum, f, i) => sum + ((fnWeights[i] as number) / (cumulative[cumulative.length - 1] as number)) * f.meanS * scale, 0));
  // Running jobs are of each function in proportion to its rate × its mean duration (a long job is more likely running).
  const running: number[] = [];
  fns.reduce((sum, f, i) => (running[i] = sum + (fnWeights[i] as number) * f.meanS), 0);
  for (let i = 0; i < prefill; i++) {
    const r = traceRandom() * (running[running.length - 1] as number);
    let at = 0;
    while ((running[at] as number) < r) at++;
    const fn = fns[at] as Fn;
    const job: Job = { n: jobsN++, fn, arrival: -1, durS: exp(traceRandom, fn.meanS * scale), attempt: 1 };
    if (!(await tryPlace(job, 0))) wait(job);
  }
  for (let ev = events.pop(); ev && ev.time <= config.seconds + 3 * config.reaperS; ev = events.pop()) {
    const now = ev.time;
    clock = now;
    const e = ev.item;
    switch (e.k) {
      case 'arrive': {
        if (now < config.seconds) events.push(now + exp(traceRandom, 1 / config.ratePerS), { k: 'arrive' });
        else break;
        const fn = pickFn();
        const job: Job = { n: jobsN++, fn, arrival: now, durS: exp(traceRandom, fn.meanS * scale), attempt: 1 };
        if (!(await tryPlace(job, now))) wait(job);
        break;
      }
      case 'end': {
        const { job } = e;
        const p = job.provider;
        if (!p || job.attempt !== e.attempt || !p.alive) break;
        job.ended = true;
        p.running.delete(job);
        release(job, p);
        p.lastBusy = now;
        p.warm.set(job.fn, now + KEEP_WARM_S);
        if (p.warm.size > MAX_WARM) p.warm.delete(p.warm.keys().next().value as Fn);
        p.rec.warmFunctions = [...p.warm].filter(([, until]) => until >= now).map(([f]) => f.id);
        p.rec.cachedImages = [...p.images];
        sampler.freed(job.fn.id, p.rec.providerId);
        offerFreed(p, now);
        if (omniscient) {
          let stack = warmStacks.get(job.fn) ?? [];
          stack.push(p);
          if (stack.length > 4096) stack = [...new Set(stack.slice(-2048))].filter((q) => q.alive && isWarm(q, job.fn, now));
          warmStacks.set(job.fn, stack);
        }
        rebucket(p);
        if (p.running.size === 0) {
          if (p.leaving) {
            account(p, now);
            p.alive = false;
            p.frozenBeat = now;
            rebucket(p);
          } else if (!today) events.push(now + config.awakeS, { k: 'doze', p, busy: now });
        }
        break;
      }
      case 'doze': {
        const { p } = e;
        if (!p.alive || p.leaving || p.dozing || p.running.size > 0 || p.lastBusy !== e.busy) break;
        account(p, now);
        p.dozing = true;
        p.phase = now;
        p.rec.nextBeatS = config.idleBeatS;
        rebucket(p);
        break;
      }
      case 'leave': {
        const { p } = e;
        if (!p.alive || p.leaving) break;
        left++;
        if (world() < config.crashShare) {
          crashed++;
          refresh(p, now);
          p.frozenBeat = Date.parse(p.rec.lastHeartbeatAt) / 1000 - EPOCH / 1000;
          account(p, now);
          p.alive = false;
          total.vcpuMilli -= p.rec.capacityVcpuMilli;
          total.memoryMb -= p.rec.capacityMemoryMb;
          for (const job of [...p.running]) lose(job, now);
          rebucket(p);
        } else {
          // Draining: its next beat says so (at once: a change beats at once), then it finishes its jobs and stops.
          p.leaving = true;
          p.rec.draining = true;
          total.vcpuMilli -= p.rec.capacityVcpuMilli;
          total.memoryMb -= p.rec.capacityMemoryMb;
          rebucket(p);
          if (p.running.size === 0) {
            account(p, now);
            p.alive = false;
            p.frozenBeat = now;
          }
        }
        break;
      }
      case 'join': {
        joined++;
        register(now, true);
        break;
      }
      case 'requeue': {
        // The lease lapsed; the reaper's next sweep takes the job back.
        lapsed.push(e.job);
        break;
      }
      case 'reaper': {
        for (const job of lapsed.splice(0)) {
          const p = job.provider as Provider;
          if (!omniscient) {
            // The reaper's reclaim releases the reservation it held on the dead provider.
            release(job, p);
          }
          requeue(job, now);
        }
        await dispatchWaiting(now);
        break;
      }
      case 'tick': {
        await dispatchWaiting(now);
        if (now >= config.warmupS) {
          let used = 0;
          for (const u of usage) used += u.vcpuMilli;
          utilSum += used / total.vcpuMilli;
          utilN++;
          usage.forEach((u, d) => {
            shareSum[d] = (shareSum[d] as number) + dominantShare(u, total);
            const sum = demandSum[d] as Amount;
            sum.vcpuMilli += u.vcpuMilli / total.vcpuMilli;
            sum.memoryMb += u.memoryMb / total.memoryMb;
          });
          for (const job of waiting) {
            const sum = demandSum[job.fn.developer] as Amount;
            sum.vcpuMilli += job.fn.need.vcpuMilli / total.vcpuMilli;
            sum.memoryMb += job.fn.need.memoryMb / total.memoryMb;
          }
          if (config.constrainedDrf && utilN % CONSTRAINED_EVERY === 1) {
            // Demand in jobs (held + waiting; a developer's jobs all need the same), over the machines online now.
            const jobs = DEVELOPERS.map((d, i) => Math.round((usage[i] as Amount).vcpuMilli / d.vcpuMilli));
            for (const job of waiting) jobs[job.fn.developer] = (jobs[job.fn.developer] as number) + 1;
            const machines: Amount[] = [];
            for (const p of providers) if (p.alive && !p.leaving) machines.push({ vcpuMilli: p.rec.capacityVcpuMilli, memoryMb: p.rec.capacityMemoryMb });
            const t = constrainedDrfTargets(machines, DEVELOPERS, jobs, total);
            t.forEach((x, d) => (constrainedSum[d] = (constrainedSum[d] as number) + x));
            usage.forEach((u, d) => (sampledShareSum[d] = (sampledShareSum[d] as number) + dominantShare(u, total)));
            constrainedN++;
          }
        }
        break;
      }
    }
  }
  for (const p of providers) if (p.alive) account(p, config.seconds);

  // DRF targets: progressive filling of each developer's mean demand (held + waiting, as fractions of the capacity).
  const offered = demandSum.map((d) => ({ vcpuMilli: d.vcpuMilli / utilN, memoryMb: d.memoryMb / utilN }));
  const target = drfTargets(offered, { vcpuMilli: 1, memoryMb: 1 });
  const sorted = Float64Array.from(waits).sort();
  const replaceSorted = Float64Array.from(replace).sort();
  const placementSorted = Float64Array.from(placementWaits).sort();
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  return {
    config,
    jobs: jobsN,
    measuredJobs: waits.length,
    waitS: { p50: r3(percentileOf(sorted, 0.5)), p95: r3(percentileOf(sorted, 0.95)), p99: r3(percentileOf(sorted, 0.99)), mean: r3(waits.reduce((a, b) => a + b, 0) / waits.length) },
    placementWaitS: { p50: r3(percentileOf(placementSorted, 0.5)), p95: r3(percentileOf(placementSorted, 0.95)), p99: r3(percentileOf(placementSorted, 0.99)) },
    utilisation: r3(utilSum / utilN),
    decisions,
    requestsPerDecision: { indexReads: r3(indexReads / decisions), reserves: r3(reserves / decisions), total: r3((indexReads + reserves) / decisions) },
    decisionMicroseconds: r3((decisionMs * 1000) / decisions),
    starts,
    drf: DEVELOPERS.map((_, d) => ({
      developer: d,
      share: r3((shareSum[d] as number) / utilN),
      target: r3(target[d] as number),
      ...(constrainedN > 0 ? { constrainedTarget: r3((constrainedSum[d] as number) / constrainedN), shareAtSamples: r3((sampledShareSum[d] as number) / constrainedN) } : {}),
    })),
    churn: { left, crashed, joined, lostJobs, placedOnDead, replaceS: { p50: r3(percentileOf(replaceSorted, 0.5)), p95: r3(percentileOf(replaceSorted, 0.95)), max: r3(percentileOf(replaceSorted, 1)) } },
    stillWaiting: waiting.size,
    providerSeconds: { awake: Math.round(awakeSeconds), dozing: Math.round(dozingSeconds) },
    polls: Math.round(polls),
    beats: Math.round(beats),
    simWallS: r3((performance.now() - wall) / 1000),
  };
}

/**
 * Dominant Resource Fairness targets by progressive filling: every developer's dominant share
 * grows at the same pace until its demand is met or a resource runs out. Returns dominant shares.
 */
export function drfTargets(demand: Amount[], total: Amount): number[] {
  const dom = demand.map((d) => dominantShare(d, total));
  const share = demand.map(() => 0);
  const active = new Set(demand.map((_, i) => i));
  let usedV = 0;
  let usedM = 0;
  while (active.size > 0) {
    // Per unit of dominant share, developer i uses demand/dom of each resource.
    let rateV = 0;
    let rateM = 0;
    for (const i of active) {
      rateV += (demand[i] as Amount).vcpuMilli / (dom[i] as number);
      rateM += (demand[i] as Amount).memoryMb / (dom[i] as number);
    }
    const level = Math.min(...[...active].map((i) => share[i] as number));
    let step = Math.min(...[...active].map((i) => (dom[i] as number) - (share[i] as number)));
    step = Math.min(step, (total.vcpuMilli - usedV) / rateV, (total.memoryMb - usedM) / rateM);
    for (const i of active) share[i] = level + step;
    usedV += rateV * step;
    usedM += rateM * step;
    const resourceOut = total.vcpuMilli - usedV < 1e-6 || total.memoryMb - usedM < 1e-6;
    for (const i of [...active]) if (resourceOut || (share[i] as number) >= (dom[i] as number) - 1e-12) active.delete(i);
  }
  return share;
}


/** The grid `constrainedDrfTargets` packs on: a quarter vCPU, 256 MB (every size in the simulation is a multiple). */
const UNIT_V = 250;
const UNIT_M = 256;

/**
 * Constrained Dominant Resource Fairness targets: progressive filling over the actual machines,
 * one job at a time. The developer with the lowest dominant share (of the pooled capacity `total`,
 * as DRF measures it) that still has demand places its next job on the machine it fits best
 * (least vCPU left, then least memory left: the large holes stay for large jobs); a developer
 * whose job fits no machine any more stops there, and the others go on filling. This is the
 * constrained max-min fairness of Choosy (Ghodsi et al., EuroSys 2013) with job-granular
 * packing: a developer's target is what it can get on machines its jobs fit, not a slice of
 * capacity pooled as if a job could span machines (`drfTargets`). `machines` are the online
 * machines' capacities; `needs[d]` one job of developer d; `jobs[d]` its demand in jobs (held +
 * waiting). Returns dominant shares.
 */
export function constrainedDrfTargets(machines: readonly Amount[], needs: readonly Amount[], jobs: readonly number[], total: Amount): number[] {
  // Machines are interchangeable given their free capacity: a count per (free quarters, free 256 MB) cell.
  let maxV = 0;
  let maxM = 0;
  for (const m of machines) {
    maxV = Math.max(maxV, Math.floor(m.vcpuMilli / UNIT_V));
    maxM = Math.max(maxM, Math.floor(m.memoryMb / UNIT_M));
  }
  const W = maxM + 1;
  const cells = new Int32Array((maxV + 1) * W);
  for (const m of machines) cells[Math.floor(m.vcpuMilli / UNIT_V) * W + Math.floor(m.memoryMb / UNIT_M)]++;
  const needV = needs.map((n) => Math.ceil(n.vcpuMilli / UNIT_V));
  const needM = needs.map((n) => Math.ceil(n.memoryMb / UNIT_M));
  const per = needs.map((n) => dominantShare(n, total));
  const placed = needs.map(() => 0);
  const active = new Set(needs.map((_, d) => d).filter((d) => (jobs[d] as number) > 0));
  while (active.size > 0) {
    let d = -1;
    for (const i of active) if (d < 0 || (placed[i] as number) * (per[i] as number) < (placed[d] as number) * (per[d] as number)) d = i;
    const nv = needV[d] as number;
    const nm = needM[d] as number;
    let cell = -1;
    for (let v = nv; v <= maxV && cell < 0; v++) {
      for (let m = nm; m <= maxM; m++) {
        if ((cells[v * W + m] as number) > 0) {
          cell = v * W + m;
          break;
        }
      }
    }
    if (cell < 0) {
      active.delete(d);
      continue;
    }
    cells[cell]--;
    cells[cell - nv * W - nm]++;
    placed[d] = (placed[d] as number) + 1;
    if ((placed[d] as number) >= (jobs[d] as number)) active.delete(d);
  }
  return placed.map((k, d) => k * (per[d] as number));
}
