import type { ProviderRecord } from '../../lambdas/core/model';
import { rankSampled } from '../../lambdas/core/placement';
import { dominantShare, FairQueue, fits, isOnline, rankProviders } from '../../lambdas/core/scheduler';

const now = Date.parse('2026-11-23T12:00:00Z');
const provider = (id: string, over: Partial<ProviderRecord> = {}): ProviderRecord => ({
  providerId: id,
  ownerId: 'usr_1',
  name: id,
  capacityVcpuMilli: 2000,
  capacityMemoryMb: 2048,
  reservedVcpuMilli: 0,
  reservedMemoryMb: 0,
  publicKeyPem: '',
  queueUrl: '',
  lastHeartbeatAt: new Date(now - 1000).toISOString(),
  cachedImages: [],
  warmFunctions: [],
  draining: false,
  createdAt: '',
  onlineShard: '1',
  ...over,
});
const need = { vcpuMilli: 500, memoryMb: 256, image: 'img@sha256:' + 'a'.repeat(64), functionId: 'fn_1' };
const opts = { now, heartbeatStaleMs: 30_000 };

test('a provider is offline when its heartbeat is stale or it is draining', () => {
  expect(isOnline(provider('a'), opts)).toBe(true);
  expect(isOnline(provider('a', { lastHeartbeatAt: new Date(now - 31_000).toISOString() }), opts)).toBe(false);
  expect(isOnline(provider('a', { draining: true }), opts)).toBe(false);
});

test('fits compares free capacity in both dimensions', () => {
  expect(fits(provider('a', { reservedVcpuMilli: 1500 }), need)).toBe(true);
  expect(fits(provider('a', { reservedVcpuMilli: 1501 }), need)).toBe(false);
  expect(fits(provider('a', { reservedMemoryMb: 1793 }), need)).toBe(false);
});

test('random-fit returns only online providers that fit, in every order over many draws', () => {
  const providers = [
    provider('a'),
    provider('b'),
    provider('full', { reservedMemoryMb: 2048 }),
    provider('stale', { lastHeartbeatAt: '2026-01-01T00:00:00Z' }),
  ];
  const firsts = new Set<string>();
  let seed = 1;
  const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  for (let i = 0; i < 50; i++) {
    const ranked = rankProviders('random-fit', providers, need, { ...opts, random });
    expect(ranked.map((p) => p.providerId).sort()).toEqual(['a', 'b']);
    firsts.add(ranked[0]!.providerId);
  }
  expect(firsts).toEqual(new Set(['a', 'b']));
});

test('least-loaded prefers the emptiest provider; warm-affinity prefers a warm container, then a cached image', () => {
  const busy = provider('busy', { reservedVcpuMilli: 1000 });
  const idle = provider('idle');
  const cached = provider('cached', { reservedVcpuMilli: 1000, cachedImages: [need.image] });
  const warm = provider('warm', { reservedVcpuMilli: 1400, warmFunctions: ['fn_1'] });
  expect(rankProviders('least-loaded', [busy, idle], need, opts)[0]!.providerId).toBe('idle');
  expect(rankProviders('warm-affinity', [busy, idle, cached, warm], need, opts).map((p) => p.providerId)).toEqual(['warm', 'cached', 'idle', 'busy']);
});

test('a re-queued job goes to providers that did not hold it before, and to a previous holder only as a last resort', () => {
  const providers = [provider('old'), provider('a'), provider('b')];
  for (let i = 0; i < 20; i++) {
    const ranked = rankProviders('random-fit', providers, need, { ...opts, avoid: ['old'] }).map((p) => p.providerId);
    expect(ranked).toHaveLength(3);
    expect(ranked[2]).toBe('old');
  }
  expect(rankProviders('least-loaded', [provider('old')], need, { ...opts, avoid: ['old'] }).map((p) => p.providerId)).toEqual(['old']);
});

describe('Dominant Resource Fairness', () => {
  const total = { vcpuMilli: 9000, memoryMb: 18 * 1024 };
  const job = (developerId: string, n: number, need: { vcpuMilli: number; memoryMb: number }) => ({
    jobId: `${developerId}-${n}`,
    developerId,
    createdAt: new Date(Date.parse('2026-11-23T12:00:00Z') + n * 1000).toISOString(),
    need,
  });

  test('a dominant share is the larger of the vCPU and memory fractions', () => {
    expect(dominantShare({ vcpuMilli: 3000, memoryMb: 1024 }, total)).toBeCloseTo(1 / 3);
    expect(dominantShare({ vcpuMilli: 1000, memoryMb: 9 * 1024 }, total)).toBeCloseTo(1 / 2);
    expect(dominantShare({ vcpuMilli: 0, memoryMb: 0 }, { vcpuMilli: 0, memoryMb: 0 })).toBe(0);
    expect(dominantShare({ vcpuMilli: 1, memoryMb: 0 }, { vcpuMilli: 0, memoryMb: 0 })).toBe(Infinity);
  });

  test("progressive filling reproduces the DRF paper's example: A <1 CPU, 4 GB> gets 3 tasks, B <3 CPU, 1 GB> gets 2", () => {
    // Ghodsi et al., NSDI 2011, section 4: 9 CPUs and 18 GB; both users flood the queue, A first.
    const a = { vcpuMilli: 1000, memoryMb: 4096 };
    const b = { vcpuMilli: 3000, memoryMb: 1024 };
    const waiting = [...Array.from({ length: 10 }, (_, i) => job('A', i, a)), ...Array.from({ length: 10 }, (_, i) => job('B', 100 + i, b))];
    const queue = new FairQueue(waiting, [], total);
    const free = { ...total };
    const placed: string[] = [];
    for (let next = queue.next(); next; next = queue.next()) {
      if (next.need.vcpuMilli > free.vcpuMilli || next.need.memoryMb > free.memoryMb) {
        queue.skip(next);
        continue;
      }
      free.vcpuMilli -= next.need.vcpuMilli;
      free.memoryMb -= next.need.memoryMb;
      queue.placed(next);
      placed.push(next.developerId);
    }
    expect(placed.filter((d) => d === 'A')).toHaveLength(3);
    expect(placed.filter((d) => d === 'B')).toHaveLength(2);
    expect(queue.share('A')).toBeCloseTo(2 / 3);
    expect(queue.share('B')).toBeCloseTo(2 / 3);
  });

  test('the developer with the smaller share goes first, whatever the arrival order; equal shares go oldest first', () => {
    const small = { vcpuMilli: 500, memoryMb: 512 };
    // heavy already runs four jobs; light runs none and submitted later.
    const running = Array.from({ length: 4 }, () => ({ developerId: 'heavy', need: small }));
    const queue = new FairQueue([job('heavy', 1, small), job('heavy', 2, small), job('light', 3, small), job('light', 4, small)], running, total);
    expect(queue.next()?.jobId).toBe('light-3');
    queue.placed(queue.next()!);
    expect(queue.next()?.jobId).toBe('light-4');

    const even = new FairQueue([job('x', 5, small), job('y', 2, small)], [], total);
    expect(even.next()?.jobId).toBe('y-2');
  });

  test("a developer keeps its jobs' order, sits out a pass when its oldest job fits nowhere, and jobs placed by others just leave", () => {
    const queue = new FairQueue(
      [job('d', 1, { vcpuMilli: 8000, memoryMb: 64 }), job('d', 2, { vcpuMilli: 100, memoryMb: 64 }), job('e', 3, { vcpuMilli: 100, memoryMb: 64 })],
      [],
      total,
    );
    const first = queue.next()!;
    expect(first.jobId).toBe('d-1');
    queue.skip(first);
    const second = queue.next()!;
    expect(second.jobId).toBe('e-3'); // d's later job does not overtake its first
    queue.gone(second);
    expect(queue.next()).toBeUndefined();
  });
});

test('the packed-key ranking orders exactly as the policies say, over a large mixed population', () => {
  // A seeded population: heartbeats around the limit (some in another ISO form), loads, warm functions, images.
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const providers = Array.from({ length: 1500 }, (_, i) => {
    const age = Math.floor(rnd() * 40_000);
    const at = new Date(now - age);
    return provider(`p${i}`, {
      lastHeartbeatAt: i % 7 === 0 ? at.toISOString().replace('Z', '+00:00') : at.toISOString(),
      reservedVcpuMilli: Math.floor(rnd() * 4) * 500,
      reservedMemoryMb: Math.floor(rnd() * 8) * 256,
      warmFunctions: rnd() < 0.1 ? ['fn_1'] : [],
      cachedImages: rnd() < 0.3 ? [need.image] : [],
      draining: rnd() < 0.05,
    });
  });
  const online = providers.filter((p) => isOnline(p, opts) && fits(p, need));
  const load = (p: ProviderRecord) => Math.max(p.reservedVcpuMilli / p.capacityVcpuMilli, p.reservedMemoryMb / p.capacityMemoryMb);
  const score = (p: ProviderRecord) => (p.warmFunctions.includes('fn_1') ? 2 : p.cachedImages.includes(need.image) ? 1 : 0);
  for (const policy of ['random-fit', 'least-loaded', 'warm-affinity'] as const) {
    const ranked = rankProviders(policy, providers, need, opts);
    // The same set as the one-by-one rule (the ISO string shortcut agrees with Date.parse), each once.
    expect(new Set(ranked.map((p) => p.providerId))).toEqual(new Set(online.map((p) => p.providerId)));
    expect(ranked).toHaveLength(online.length);
    for (let i = 1; i < ranked.length; i++) {
      const [a, b] = [ranked[i - 1]!, ranked[i]!];
      if (policy === 'least-loaded') expect(load(a)).toBeLessThanOrEqual(load(b));
      if (policy === 'warm-affinity') expect(score(a) > score(b) || (score(a) === score(b) && load(a) <= load(b))).toBe(true);
    }
  }
});

test('rankSampled: among cold candidates the best fit goes first, so a small job leaves the large holes to large jobs', () => {
  // Old rule (least loaded first) sent the half-vCPU job to the empty 2-vCPU machine, leaving it no room for a 2-vCPU job.
  const empty = provider('empty');
  const nearlyFull = provider('nearly-full', { capacityVcpuMilli: 4000, capacityMemoryMb: 4096, reservedVcpuMilli: 3000, reservedMemoryMb: 3072 });
  expect(rankSampled([empty, nearlyFull], need).map((p) => p.providerId)).toEqual(['nearly-full', 'empty']);
  // Memory counts too (at 2 GB per vCPU): little vCPU left but 4 GB of memory is a larger hole than the empty 2-vCPU, 2-GB machine.
  const memoryRoomy = provider('memory-roomy', { capacityVcpuMilli: 4000, capacityMemoryMb: 8192, reservedVcpuMilli: 3000, reservedMemoryMb: 4096 });
  expect(rankSampled([memoryRoomy, empty], need)[0]!.providerId).toBe('empty');
  // Warmth still comes first: a warm, roomy candidate goes before a tight cold one.
  const warmRoomy = provider('warm', { capacityVcpuMilli: 8000, capacityMemoryMb: 8192, warmFunctions: ['fn_1'] });
  expect(rankSampled([nearlyFull, warmRoomy], need)[0]!.providerId).toBe('warm');
});
