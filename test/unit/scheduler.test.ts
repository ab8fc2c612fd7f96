import type { ProviderRecord } from '../../lambdas/core/model';
import { fits, isOnline, rankProviders } from '../../lambdas/core/scheduler';

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
