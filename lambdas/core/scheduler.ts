import type { ProviderRecord } from './model';

/**
 * Placement policies. A policy orders the providers that can take a job; the caller then tries
 * to reserve capacity on each in turn with a conditional write, so a stale view never
 * oversubscribes a provider.
 */
export type PolicyName = 'random-fit' | 'least-loaded' | 'warm-affinity';

export interface Need {
  vcpuMilli: number;
  memoryMb: number;
  image: string;
  functionId: string;
}

export interface SchedulerOptions {
  now: number;
  /** A provider whose last heartbeat is older than this is offline. */
  heartbeatStaleMs: number;
  random?: () => number;
}

export function isOnline(p: ProviderRecord, opts: Pick<SchedulerOptions, 'now' | 'heartbeatStaleMs'>): boolean {
  return !p.draining && opts.now - Date.parse(p.lastHeartbeatAt) <= opts.heartbeatStaleMs;
}

export function fits(p: ProviderRecord, need: Need): boolean {
  return p.capacityVcpuMilli - p.reservedVcpuMilli >= need.vcpuMilli && p.capacityMemoryMb - p.reservedMemoryMb >= need.memoryMb;
}

const load = (p: ProviderRecord) => Math.max(p.reservedVcpuMilli / p.capacityVcpuMilli, p.reservedMemoryMb / p.capacityMemoryMb);

/** Returns the candidates (online, fitting) in the order the policy prefers them. */
export function rankProviders(policy: PolicyName, providers: readonly ProviderRecord[], need: Need, opts: SchedulerOptions): ProviderRecord[] {
  const candidates = providers.filter((p) => isOnline(p, opts) && fits(p, need));
  const random = opts.random ?? Math.random;
  switch (policy) {
    case 'random-fit':
      return shuffle(candidates, random);
    case 'least-loaded':
      return shuffle(candidates, random).sort((a, b) => load(a) - load(b));
    case 'warm-affinity': {
      const score = (p: ProviderRecord) => (p.warmFunctions.includes(need.functionId) ? 2 : p.cachedImages.includes(need.image) ? 1 : 0);
      return shuffle(candidates, random).sort((a, b) => score(b) - score(a) || load(a) - load(b));
    }
  }
}

function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}
