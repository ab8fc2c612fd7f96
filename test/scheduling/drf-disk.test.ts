import { capacityDiskMb, reservedDiskMb } from '../../lambdas/core/scheduler';
import { floodThenFree } from './drf-support';
import { ScriptedProvider, startTestPlatform, TestPlatform } from './support';

/**
 * Issue #23: disk is the third resource Dominant Resource Fairness counts. A disk-heavy developer
 * floods a provider first and fills its disk; a CPU-heavy developer floods after. As jobs finish,
 * freed capacity goes to waiting jobs in DRF order over vCPU, memory AND disk, so both end up with
 * the same dominant share (disk for one, CPU for the other). Counting only vCPU and memory, the
 * disk-heavy developer's jobs would look small (1/16 of a resource) and it would keep twice as
 * many jobs as the other. Real handlers, DynamoDB Local and fauxqs; the provider is scripted so
 * the test decides when capacity frees (as in drf.test.ts).
 */
let t: TestPlatform;

beforeAll(async () => {
  // The reaper stays out (it dispatches too): after a report, only that report's pass moves capacity, so each observation is quiescent.
  t = await startTestPlatform({ LEASE_S: '600', HEARTBEAT_STALE_MS: '600000', MAX_WAIT_S: '0', MAX_WAITING_PER_DEVELOPER: '200' }, { images: false, reaperIntervalMs: 3_600_000 });
}, 300_000);

afterAll(async () => {
  await t?.stop();
}, 60_000);

const image = `127.0.0.1:5000/chainfaas/none@sha256:${'e'.repeat(64)}`;

test('a disk-heavy and a CPU-heavy developer share a provider in DRF proportion over three resources', async () => {
  const { start, observed } = await floodThenFree(t, image, {
    // One provider: 4 vCPU, 4 GiB of memory, 4 GiB of disk.
    providers: [{ vcpu: 4, memoryMb: 4096, diskMb: 4096 }],
    // Disk-heavy A: 1/8 of the disk per job (1/16 of CPU and memory); CPU-heavy B: 1/8 of the CPUs per job.
    a: { name: 'disk-heavy', resources: { vcpu: 0.25, memoryMb: 256, diskMb: 512, timeoutS: 60 }, jobs: 40 },
    b: { name: 'cpu-heavy', resources: { vcpu: 0.5, memoryMb: 256, diskMb: 64, timeoutS: 60 }, jobs: 40 },
    rounds: 30,
  });
  expect(start.a).toBe(1); // A's first 8 jobs took the whole disk
  expect(start.b).toBe(0); // and B's jobs, which need disk too, fit nowhere

  // After the first handful of completions, the two dominant shares stay within one job's share
  // (1/8) of each other. DRF's fixed point: 5 jobs each (3.75 of 4 vCPU, 2880 of 4096 MB disk);
  // the last 0.25 vCPU is too small for B's job and goes to A (6 jobs: 3/4 against 5/8).
  const settled = observed.slice(10);
  for (const o of settled) expect(Math.abs(o.a - o.b)).toBeLessThanOrEqual(1 / 8 + 1e-9);
  expect(settled.at(-1)).toEqual({ a: 6 / 8, b: 5 / 8, waitingA: expect.any(Number) });
}, 300_000);

test('a provider registered before disk was scheduled (no disk fields) counts as 10240 MB offered and none reserved, and reserves and releases disk', async () => {
  const provider = await ScriptedProvider.register(t.api, t.sqs, { vcpu: 2, memoryMb: 2048 });
  const record = (await t.deps.providers.getProvider(provider.providerId))!;
  // A copy of it as such a record was written: no capacityDiskMb, no reservedDiskMb; silent for
  // years, so the scheduler places none of the first test's waiting jobs on it.
  const { capacityDiskMb: _c, reservedDiskMb: _r, ...rest } = record;
  void _c;
  void _r;
  const providerId = `prv_old${Date.now()}`;
  await t.deps.providers.createProvider({ ...rest, providerId, lastHeartbeatAt: '2000-01-01T00:00:00.000Z' });
  const stored = (await t.deps.providers.getProvider(providerId))!;
  expect(stored.capacityDiskMb).toBeUndefined();
  expect(stored.reservedDiskMb).toBeUndefined();

  // More than the default offer never fits; within it, the reservation starts from 0.
  expect(await t.deps.providers.reserve(stored, 100, 64, 10241)).toBe(false);
  expect(await t.deps.providers.reserve(stored, 100, 64, 10000)).toBe(true);
  expect((await t.deps.providers.getProvider(providerId))!.reservedDiskMb).toBe(10000);
  const after = (await t.deps.providers.getProvider(providerId))!;
  expect(await t.deps.providers.reserve(after, 100, 64, 300)).toBe(false);
  await t.deps.providers.release(providerId, 100, 64, 10000);
  expect((await t.deps.providers.getProvider(providerId))!).toMatchObject({ reservedDiskMb: 0, reservedVcpuMilli: 0, reservedMemoryMb: 0 });
  // The scheduler reads the same defaults.
  expect(capacityDiskMb(stored)).toBe(10240);
  expect(reservedDiskMb(stored)).toBe(0);
}, 120_000);
