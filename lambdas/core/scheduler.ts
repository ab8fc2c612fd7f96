import { DEFAULT_PROVIDER_DISK_MB } from '../../contract/src/requests';
import type { ProviderRecord } from './model';

/**
 * Placement policies. A policy orders the providers that can take a job; the caller then tries
 * to reserve capacity on each in turn with a conditional write, so a stale view never
 * oversubscribes a provider.
 */
export type PolicyName = 'random-fit' | 'least-loaded' | 'warm-affinity' | 'sampled';

export interface Need {
  vcpuMilli: number;
  memoryMb: number;
  /** Scratch space, MB (issue #23); absent: 0. */
  diskMb?: number;
  image: string;
  functionId: string;
}

export interface SchedulerOptions {
  now: number;
  /** A provider whose last heartbeat is older than this is offline. */
  heartbeatStaleMs: number;
  random?: () => number;
  /**
   * Providers that held this job before (a lapsed lease, a dead-lettered message): they are tried
   * only after every other candidate, so a re-queued job goes elsewhere when it can.
   */
  avoid?: readonly string[];
}

/**
 * How long a provider may stay silent and still count as online: the usual window, plus the pause
 * an idle agent announced with its last heartbeat (`nextBeatS`, issue #24). A provider with
 * running jobs beats at the normal interval, so its window is the usual one.
 */
export function livenessWindowMs(p: Pick<ProviderRecord, 'nextBeatS'>, heartbeatStaleMs: number): number {
  return heartbeatStaleMs + (p.nextBeatS ?? 0) * 1000;
}

export function isOnline(p: Pick<ProviderRecord, 'draining' | 'lastHeartbeatAt' | 'nextBeatS'>, opts: Pick<SchedulerOptions, 'now' | 'heartbeatStaleMs'>): boolean {
  return !p.draining && opts.now - Date.parse(p.lastHeartbeatAt) <= livenessWindowMs(p, opts.heartbeatStaleMs);
}

/** `Date.prototype.toISOString`'s form (UTC, milliseconds): such strings order as their instants do. */
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * {@link isOnline} for many providers at once: the heartbeat limit is turned into an ISO string
 * once, and each heartbeat (written by `toISOString`) compared with it as a string; parsing a
 * date per provider was half the time of a decision over 1,000 providers.
 */
function onlineTest(opts: Pick<SchedulerOptions, 'now' | 'heartbeatStaleMs'>): (p: ProviderRecord) => boolean {
  const cutoffMs = opts.now - opts.heartbeatStaleMs;
  const cutoff = Number.isFinite(cutoffMs) && cutoffMs >= 0 && cutoffMs < 253402300800000 ? new Date(cutoffMs).toISOString() : undefined;
  return (p) => !p.draining && (cutoff !== undefined && !p.nextBeatS && ISO_UTC.test(p.lastHeartbeatAt) ? p.lastHeartbeatAt >= cutoff : isOnline(p, opts));
}

/** The disk a provider offers, MB: what it declared, else DEFAULT_PROVIDER_DISK_MB (providers registered before issue #23). */
export const capacityDiskMb = (p: Pick<ProviderRecord, 'capacityDiskMb'>): number => p.capacityDiskMb ?? DEFAULT_PROVIDER_DISK_MB;
/** The disk reserved on a provider, MB (absent on records from before issue #23: none). */
export const reservedDiskMb = (p: Pick<ProviderRecord, 'reservedDiskMb'>): number => p.reservedDiskMb ?? 0;

export function fits(p: ProviderRecord, need: Need): boolean {
  return (
    p.capacityVcpuMilli - p.reservedVcpuMilli >= need.vcpuMilli &&
    p.capacityMemoryMb - p.reservedMemoryMb >= need.memoryMb &&
    capacityDiskMb(p) - reservedDiskMb(p) >= (need.diskMb ?? 0)
  );
}

const load = (p: ProviderRecord) =>
  Math.max(p.reservedVcpuMilli / p.capacityVcpuMilli, p.reservedMemoryMb / p.capacityMemoryMb, reservedDiskMb(p) / capacityDiskMb(p));

/**
 * Returns the candidates (online, fitting) in the order the policy prefers them. Every sort key
 * (load, warm score, avoided) is computed once per candidate, never per comparison: with 1,000
 * providers a sort makes ~10,000 comparisons, and a key that scans a provider's warm functions
 * or parses its heartbeat time per comparison made warm-affinity the slowest policy.
 */
export function rankProviders(policy: PolicyName, providers: readonly ProviderRecord[], need: Need, opts: SchedulerOptions): ProviderRecord[] {
  const online = onlineTest(opts);
  const candidates = providers.filter((p) => online(p) && fits(p, need));
  const ranked = byPolicy(policy, candidates, need, opts.random ?? Math.random);
  if (!opts.avoid?.length) return ranked;
  const avoid = new Set(opts.avoid);
  return [...ranked.filter((p) => !avoid.has(p.providerId)), ...ranked.filter((p) => avoid.has(p.providerId))];
}

function byPolicy(policy: PolicyName, candidates: ProviderRecord[], need: Need, random: () => number): ProviderRecord[] {
  const shuffled = shuffle(candidates, random);
  switch (policy) {
    case 'random-fit':
      return shuffled;
    case 'least-loaded':
      return sortByKey(shuffled, () => 0);
    // `sampled` ranks a few sampled candidates (placement.ts); given a whole list, it ranks as warm-affinity does.
    case 'sampled':
    case 'warm-affinity':
      return sortByKey(shuffled, (p) => (p.warmFunctions.includes(need.functionId) ? 0 : p.cachedImages.includes(need.image) ? 1 : 2));
  }
}

/** Load is ordered in millionths: two providers closer than that are equally loaded. */
const LOAD_STEPS = 1_000_000;

/**
 * `providers` ordered by `rank` (smaller first), then by load (less first), equal keys keeping
 * their order (the shuffle's). Each key is computed once per provider and packed with the
 * provider's position into one number (rank, load in millionths, position), so the sort is
 * the engine's numeric sort of a Float64Array: no comparator called ~10,000 times.
 */
function sortByKey(providers: readonly ProviderRecord[], rank: (p: ProviderRecord) => number): ProviderRecord[] {
  const n = providers.length;
  const positions = 2 ** Math.max(1, Math.ceil(Math.log2(n + 1)));
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const p = providers[i] as ProviderRecord;
    const raw = load(p);
    const l = Number.isFinite(raw) ? Math.min(LOAD_STEPS, Math.max(0, Math.round(raw * LOAD_STEPS))) : LOAD_STEPS;
    keys[i] = (rank(p) * (LOAD_STEPS + 1) + l) * positions + i;
  }
  keys.sort();
  const out = new Array<ProviderRecord>(n);
  for (let i = 0; i < n; i++) out[i] = providers[keys[i]! % positions] as ProviderRecord;
  return out;
}

function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** An amount of the three scheduled resources, in integer millicores and MB (disk absent: 0). */
export interface Amount {
  vcpuMilli: number;
  memoryMb: number;
  /** Scratch space, MB (issue #23). */
  diskMb?: number;
}

const ZERO: Amount = { vcpuMilli: 0, memoryMb: 0, diskMb: 0 };
const add = (a: Amount, b: Amount): Amount => ({
  vcpuMilli: a.vcpuMilli + b.vcpuMilli,
  memoryMb: a.memoryMb + b.memoryMb,
  diskMb: (a.diskMb ?? 0) + (b.diskMb ?? 0),
});

/** Total capacity of the providers that take jobs now (online, not draining). */
export function onlineCapacity(providers: readonly ProviderRecord[], opts: Pick<SchedulerOptions, 'now' | 'heartbeatStaleMs'>): Amount {
  return providers.filter((p) => isOnline(p, opts)).reduce((sum, p) => add(sum, { vcpuMilli: p.capacityVcpuMilli, memoryMb: p.capacityMemoryMb, diskMb: capacityDiskMb(p) }), ZERO);
}

/**
 * A developer's dominant share: the largest of its vCPU, memory and disk use as fractions of the total
 * (Ghodsi et al., "Dominant Resource Fairness", NSDI 2011). With no capacity at all, any use is
 * an infinite share and none is zero.
 */
export function dominantShare(used: Amount, total: Amount): number {
  const share = (u: number, t: number) => (t > 0 ? u / t : u > 0 ? Infinity : 0);
  return Math.max(share(used.vcpuMilli, total.vcpuMilli), share(used.memoryMb, total.memoryMb), share(used.diskMb ?? 0, total.diskMb ?? 0));
}

/** A job competing for capacity: whose it is, how old it is, what it needs. */
export interface FairJob {
  jobId: string;
  developerId: string;
  /** ISO time; older goes first within a developer and on equal shares. */
  createdAt: string;
  need: Amount;
}

/**
 * Dominant Resource Fairness over waiting jobs, as a progressive-filling queue. `next()` offers
 * the oldest job of the developer whose dominant share (what its running jobs hold, over the
 * online capacity) is smallest; on equal shares, the developer whose job is older. The caller
 * tries to place it and says what happened: `placed()` grows that developer's share, `skip()`
 * takes the developer out of this pass (its oldest job fits nowhere now; its later jobs do not
 * overtake it). So one developer flooding the queue gets no more than its fair share while
 * others wait, and a developer's jobs keep their order.
 */
export class FairQueue<J extends FairJob> {
  private readonly queues = new Map<string, J[]>();
  private readonly usage = new Map<string, Amount>();
  private readonly skipped = new Set<string>();

  constructor(
    waiting: readonly J[],
    running: readonly Pick<FairJob, 'developerId' | 'need'>[],
    private readonly total: Amount,
  ) {
    for (const job of [...waiting].sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.jobId.localeCompare(b.jobId))) {
      const queue = this.queues.get(job.developerId) ?? [];
      queue.push(job);
      this.queues.set(job.developerId, queue);
    }
    for (const job of running) this.usage.set(job.developerId, add(this.usage.get(job.developerId) ?? ZERO, job.need));
  }

  /** The developer's dominant share now. */
  share(developerId: string): number {
    return dominantShare(this.usage.get(developerId) ?? ZERO, this.total);
  }

  /** The next job to try, or undefined when every developer's queue is empty or skipped. */
  next(): J | undefined {
    let best: { job: J; share: number } | undefined;
    for (const [developerId, queue] of this.queues) {
      const head = queue[0];
      if (!head || this.skipped.has(developerId)) continue;
      const share = this.share(developerId);
      if (
        !best ||
        share < best.share ||
        (share === best.share && (head.createdAt < best.job.createdAt || (head.createdAt === best.job.createdAt && developerId < best.job.developerId)))
      ) {
        best = { job: head, share };
      }
    }
    return best?.job;
  }

  /** `job` (the last `next()`) now runs: its developer holds more. */
  placed(job: J): void {
    this.remove(job);
    this.usage.set(job.developerId, add(this.usage.get(job.developerId) ?? ZERO, job.need));
  }

  /** `job` is no longer waiting (someone else placed or failed it): drop it, nothing else changes. */
  gone(job: J): void {
    this.remove(job);
  }

  /** `job` fits nowhere now: its developer sits out the rest of this pass. */
  skip(job: J): void {
    this.skipped.add(job.developerId);
  }

  private remove(job: J): void {
    const queue = this.queues.get(job.developerId);
    const at = queue?.findIndex((j) => j.jobId === job.jobId) ?? -1;
    if (queue && at >= 0) queue.splice(at, 1);
  }
}
