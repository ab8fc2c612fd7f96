import type { ProviderRecord } from '../../lambdas/core/model';
import { placeSampled } from '../../lambdas/core/placement';
import type { Need } from '../../lambdas/core/scheduler';
import { providerRecord, startController, type Controller } from '../controller/harness';

/**
 * Issue #24: placement that reads a few providers, not all of them, against DynamoDB Local: the
 * providers table's `online` index sampled from a random id (`DynamoProviderStore#sample`), the
 * warm hints read back fresh (`#warm`), and `placeSampled`'s conditional reserves, which never
 * oversubscribe a provider whatever the sample saw.
 */

let c: Controller;
const now = Date.now();
const record = (i: number, vcpu = 1): ProviderRecord =>
  providerRecord(
    // Ids spread over the alphabet as newId's random ones are.
    `prv_${'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'[i % 62]}${String(i).padStart(5, '0')}sampled`,
    { ownerId: 'usr_sampling', name: `p${i}`, capacityVcpuMilli: vcpu * 1000, capacityMemoryMb: vcpu * 1024 },
    now,
  );
const PROVIDERS = 240;
const need: Need = { vcpuMilli: 1000, memoryMb: 512, image: 'registry.local/fn@sha256:' + 'a'.repeat(64), functionId: 'fn_sampled' };

beforeAll(async () => {
  c = await startController({ SCHEDULER_POLICY: 'sampled' });
  for (let i = 0; i < PROVIDERS; i++) await c.deps.providers.createProvider(record(i));
}, 120_000);
afterAll(async () => {
  await c?.stop();
});

function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a * 1103515245 + 12345) % 2147483648;
    return a / 2147483648;
  };
}

test('a sample is k distinct registered providers, from anywhere in the index (wrapping at its end)', async () => {
  const store = c.deps.providers;
  const random = seeded(7);
  const seen = new Set<string>();
  for (let i = 0; i < 150; i++) {
    const sample = await store.sample(4, random);
    expect(sample).toHaveLength(4);
    expect(new Set(sample.map((p) => p.providerId)).size).toBe(4);
    for (const p of sample) seen.add(p.providerId);
  }
  // 600 draws over 240 providers: a near-uniform sampler meets most of them.
  expect(seen.size).toBeGreaterThan(PROVIDERS * 0.8);
  // A start past the last id wraps to the first ones.
  const wrapped = await store.sample(3, () => 0.999999);
  expect(wrapped).toHaveLength(3);
});

test('placeSampled reserves with conditional writes: many concurrent decisions never oversubscribe, and each costs a bounded number of requests', async () => {
  const store = c.deps.providers;
  const random = seeded(11);
  const decisions = await Promise.all(
    Array.from({ length: 120 }, () =>
      placeSampled(store, need, { now, heartbeatStaleMs: 45_000, random, samples: 4, warmSamples: 0 }, (p) => store.reserve(p, need.vcpuMilli, need.memoryMb)),
    ),
  );
  const placed = decisions.filter((d) => d.provider);
  expect(placed.length).toBeGreaterThan(80);
  for (const d of decisions) {
    expect(d.indexReads).toBeLessThanOrEqual(3);
    expect(d.reserves).toBeLessThanOrEqual(12);
  }
  // Each provider has 1 vCPU: the conditional write let at most one 1-vCPU job onto each.
  const byProvider = new Map<string, number>();
  for (const d of placed) byProvider.set(d.provider!.providerId, (byProvider.get(d.provider!.providerId) ?? 0) + 1);
  expect(Math.max(...byProvider.values())).toBe(1);
  for (const id of byProvider.keys()) expect((await store.getProvider(id))?.reservedVcpuMilli).toBe(1000);
});

test('warm hints: a job goes where its function last ended (read fresh); the hint stays while the provider has room for another, and is spent when it has none', async () => {
  const store = c.deps.providers;
  const warm = record(PROVIDERS + 1, 1);
  warm.warmFunctions = ['fn_warm'];
  await store.createProvider(warm);
  const half: Need = { ...need, functionId: 'fn_warm', vcpuMilli: 500, memoryMb: 256 };
  const decide = () =>
    placeSampled(store, half, { now, heartbeatStaleMs: 45_000, random: seeded(3), samples: 4, warmSamples: 2 }, async (p) => {
      if (!(await store.reserve(p, half.vcpuMilli, half.memoryMb))) return false;
      p.reservedVcpuMilli += half.vcpuMilli;
      p.reservedMemoryMb += half.memoryMb;
      return true;
    });
  store.freed('fn_warm', warm.providerId);
  // Among the 240 others (some with room), the hinted warm provider is the choice.
  expect((await decide()).provider?.providerId).toBe(warm.providerId);
  // Half of its vCPU is left: the hint stays, read fresh with the reservation.
  const [fresh] = await store.warm('fn_warm', 2, Math.random);
  expect(fresh).toMatchObject({ providerId: warm.providerId, reservedVcpuMilli: 500 });
  expect((await decide()).provider?.providerId).toBe(warm.providerId);
  // Full now: the hint is spent.
  expect(await store.warm('fn_warm', 2, Math.random)).toEqual([]);
});

test('a warm hint read full (another job took the provider) is forgotten by the decision that read it, so it takes no warm slot afterwards', async () => {
  const store = c.deps.providers;
  const busy = record(PROVIDERS + 2, 1);
  busy.warmFunctions = ['fn_stale'];
  await store.createProvider(busy);
  const fn: Need = { ...need, functionId: 'fn_stale', vcpuMilli: 500, memoryMb: 256 };
  store.freed('fn_stale', busy.providerId);
  // Another function's job fills the provider after the hint was noted.
  expect(await store.reserve(busy, 1000, 512)).toBe(true);
  expect(await store.warm('fn_stale', 2, Math.random)).toHaveLength(1);
  const decision = await placeSampled(store, fn, { now, heartbeatStaleMs: 45_000, random: seeded(5), samples: 4, warmSamples: 2 }, async () => false);
  expect(decision.provider).toBeUndefined();
  expect(await store.warm('fn_stale', 2, Math.random)).toEqual([]);
});
