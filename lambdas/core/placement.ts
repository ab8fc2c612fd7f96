import type { ProviderRecord } from './model';
import { fits, isOnline, type Need } from './scheduler';

/**
 * Placement at volunteer scale (issue #24): a decision whose cost does not grow with the number
 * of providers. Instead of ranking every provider, a decision looks at a few: `samples` drawn at
 * random from the index of online providers (power of d choices, as in Sparrow), plus up to
 * `warmSamples` the index says hold the job's function warm (warm affinity). Of those that are
 * alive and fit, the choice is the warm one, else the one caching the image, else the best fit
 * (least room left after the job: large holes stay for large jobs); awake providers (polling
 * without pause) before dozing ones; providers that held the job before last. The caller reserves with a conditional write, as for every policy, and samples
 * again (a few rounds at most) when every candidate filled up meanwhile.
 *
 * Liveness is per provider: an agent with nothing to run beats slowly and says when it will beat
 * next (`nextBeatS`), so its silence is judged against that promise plus the usual window.
 * An agent with running jobs beats at the normal interval (its leases need it), so a dead busy
 * provider's jobs come back exactly as soon as before.
 */

/** Where a decision draws its candidates from; the DynamoDB adapter and the simulation both implement it. */
export interface ProviderSampler {
  /** Up to `k` providers drawn at random from the online ones (possibly fewer, possibly stale). */
  sample(k: number, random: () => number): Promise<ProviderRecord[]>;
  /** Up to `k` providers believed to hold `functionId` warm (possibly stale). */
  warm(functionId: string, k: number, random: () => number): Promise<ProviderRecord[]>;
  /** A job of `functionId` ended on `providerId` and gave its capacity back: the provider now holds the function warm and has room. */
  freed(functionId: string, providerId: string): void;
  /** A decision reserved on `providerId` for `functionId` and left it no room for another such job: the hint is spent. */
  taken(functionId: string, providerId: string): void;
}

/**
 * The warm index a controller keeps in memory: per function, the providers on which one of its
 * jobs ended last (warm, with room: most recent first, at most `perFunction`), for at most
 * `functions` functions (least recently noted forgotten first). A decision that reserves on a
 * hinted provider spends the hint; the job's end notes it again. It costs no request to keep; a
 * decision reads the providers it names (one batch read), so a stale hint costs a candidate
 * slot, never a wrong placement.
 */
export class WarmHints {
  private readonly byFunction = new Map<string, string[]>();

  constructor(
    private readonly perFunction = 16,
    private readonly functions = 10_000,
  ) {}

  note(functionId: string, providerId: string): void {
    const list = (this.byFunction.get(functionId) ?? []).filter((id) => id !== providerId);
    list.unshift(providerId);
    if (list.length > this.perFunction) list.length = this.perFunction;
    this.byFunction.delete(functionId);
    this.byFunction.set(functionId, list);
    if (this.byFunction.size > this.functions) this.byFunction.delete(this.byFunction.keys().next().value as string);
  }

  forget(functionId: string, providerId: string): void {
    const list = this.byFunction.get(functionId);
    if (list) this.byFunction.set(functionId, list.filter((id) => id !== providerId));
  }

  /** Up to `k` of the function's providers, the most recent first. */
  pick(functionId: string, k: number): string[] {
    return (this.byFunction.get(functionId) ?? []).slice(0, k);
  }
}

export interface Liveness {
  /** A provider beating at the normal interval is offline after this much silence. */
  heartbeatStaleMs: number;
}

export interface SampledOptions extends Liveness {
  now: number;
  random: () => number;
  /** Random providers looked at per decision (d of power-of-d choices). @default 4 */
  samples?: number;
  /** Providers from the warm index looked at per decision. @default 8 */
  warmSamples?: number;
  /** Providers that held this job before: tried last. */
  avoid?: readonly string[];
}

export const DEFAULT_SAMPLES = 4;
/**
 * 8: in the simulation (bench/sim, 10,000 providers) 2 left 2.3% of jobs starting cold (the p99
 * wait a pull), 4 left 0.7%, 8 0.6% (the omniscient scheduler 0.8%); one BatchGet either way.
 */
export const DEFAULT_WARM_SAMPLES = 8;

/** What one decision read: the candidates in order, and how many index reads it took (for the cost model). */
export interface Candidates {
  ranked: ProviderRecord[];
  indexReads: number;
}

/**
 * The candidates for one job, best first: at most `samples + warmSamples` providers looked at,
 * whatever the number of providers.
 */
export async function sampledCandidates(sampler: ProviderSampler, need: Need, opts: SampledOptions): Promise<Candidates> {
  const k = opts.samples ?? DEFAULT_SAMPLES;
  const w = opts.warmSamples ?? DEFAULT_WARM_SAMPLES;
  const [warm, sampled] = await Promise.all([w > 0 ? sampler.warm(need.functionId, w, opts.random) : [], sampler.sample(k, opts.random)]);
  const seen = new Set<string>();
  const pool: ProviderRecord[] = [];
  for (const [i, p] of [...warm, ...sampled].entries()) {
    if (seen.has(p.providerId)) continue;
    seen.add(p.providerId);
    if (isOnline(p, opts) && fits(p, need)) pool.push(p);
    // A hinted provider read full, draining or silent is forgotten, so the next decision's warm
    // slots go to the next hints (its next job end notes it again). Left in place, such hints
    // filled the slots and sent more jobs to random, cold providers.
    else if (i < warm.length) sampler.taken(need.functionId, p.providerId);
  }
  return { ranked: rankSampled(pool, need, opts.avoid), indexReads: (w > 0 ? 1 : 0) + 1 };
}

/** The room a candidate keeps after taking the job, in vCPU (memory counted at 2 GB per vCPU): the smaller, the better the fit. */
const leftAfter = (p: ProviderRecord, need: Need) =>
  Math.max(p.capacityVcpuMilli - p.reservedVcpuMilli - need.vcpuMilli, ((p.capacityMemoryMb - p.reservedMemoryMb - need.memoryMb) * 1000) / 2048);

/**
 * Orders a handful of fitting candidates: not avoided before avoided, awake before dozing, warm
 * before image-cached before cold, then the best fit first. Best fit rather than the least loaded
 * (the usual power-of-d rule): spreading small jobs over the roomiest candidates left no hole
 * large enough for a large job, and under contention the developer with 2-vCPU jobs fell 6.2% below
 * its constrained DRF target in the simulation, 4.5% with best fit (bench/README.md, #24).
 */
export function rankSampled(pool: readonly ProviderRecord[], need: Need, avoid?: readonly string[]): ProviderRecord[] {
  const avoided = new Set(avoid ?? []);
  const key = (p: ProviderRecord) => [
    avoided.has(p.providerId) ? 1 : 0,
    p.nextBeatS ? 1 : 0,
    p.warmFunctions.includes(need.functionId) ? 0 : p.cachedImages.includes(need.image) ? 1 : 2,
    leftAfter(p, need),
  ];
  const keyed = pool.map((p) => ({ p, k: key(p) }));
  keyed.sort((a, b) => {
    for (let i = 0; i < a.k.length; i++) if (a.k[i] !== b.k[i]) return (a.k[i] as number) - (b.k[i] as number);
    return 0;
  });
  return keyed.map((x) => x.p);
}

/** Sampling rounds a decision makes before the job waits (each round: a fresh sample, then reserves down its candidates). */
export const SAMPLE_ROUNDS = 3;

export interface SampledDecision {
  /** The provider reserved on, if any. */
  provider?: ProviderRecord;
  /** Index reads (queries and batch reads) the decision made. */
  indexReads: number;
  /** Conditional reserve writes it tried. */
  reserves: number;
}

/**
 * One placement decision: up to `rounds` samples, each tried best first with `reserve` (the
 * conditional write; false when the provider filled up or drains meanwhile). Its cost is bounded
 * by `rounds × (2 reads + samples + warmSamples writes)`, whatever the number of providers.
 */
export async function placeSampled(
  sampler: ProviderSampler,
  need: Need,
  opts: SampledOptions,
  reserve: (p: ProviderRecord) => Promise<boolean>,
  rounds = SAMPLE_ROUNDS,
): Promise<SampledDecision> {
  const decision: SampledDecision = { indexReads: 0, reserves: 0 };
  for (let round = 0; round < rounds; round++) {
    const { ranked, indexReads } = await sampledCandidates(sampler, need, opts);
    decision.indexReads += indexReads;
    for (const p of ranked) {
      decision.reserves++;
      if (await reserve(p)) {
        // The hint is spent once the provider has no room for another job like this one (`reserve` counted this one in `p`).
        if (!fits(p, need)) sampler.taken(need.functionId, p.providerId);
        return { ...decision, provider: p };
      }
    }
  }
  return decision;
}
