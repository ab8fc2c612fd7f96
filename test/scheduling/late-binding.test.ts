import type { JobRecord, ProviderRecord, User } from '../../lambdas/core/model';
import type * as Functions from '../../lambdas/core/use-cases/functions';
import type * as Scheduling from '../../lambdas/core/use-cases/scheduling';
import { definition, providerRecord, startController, writeJob, type Controller } from '../controller/harness';

/**
 * Issue #24, late binding under `SCHEDULER_POLICY=sampled` against DynamoDB Local: when a report
 * frees a provider, `dispatchWaiting` offers that provider first to the waiting jobs, in Dominant
 * Resource Fairness order, without needing a sample to find it. The samples are pinned (the
 * decision's `Math.random`) to the first providers of the index, which are full, so only the
 * late binding can place anything.
 */
let c: Controller;
let functions: typeof Functions;
let scheduling: typeof Scheduling;
const now = Date.now();

const provider = (providerId: string, reservedVcpuMilli: number): ProviderRecord =>
  providerRecord(providerId, { ownerId: 'usr_latebinding', reservedVcpuMilli }, now);

beforeAll(async () => {
  c = await startController({ SCHEDULER_POLICY: 'sampled', HEARTBEAT_STALE_MS: '600000' });
  functions = await import('../../lambdas/core/use-cases/functions');
  scheduling = await import('../../lambdas/core/use-cases/scheduling');
}, 120_000);
afterAll(async () => {
  jest.restoreAllMocks();
  await c?.stop();
}, 60_000);

let n = 0;
function job(user: User, functionId: string, status: 'QUEUED' | 'ASSIGNED', createdAt: string, extra: Partial<JobRecord> = {}): Promise<JobRecord> {
  const jobId = `job_latebinding${String(n++).padStart(4, '0')}`;
  return writeJob(c, { jobId, user, functionId, status, createdAt }, { resources: { vcpu: 1, memoryMb: 256, timeoutS: 10 }, ...extra });
}

test('a report’s freed provider goes first to the waiting job DRF puts first, with no sample finding it', async () => {
  // Six full 1-vCPU providers first in the index ('B…', after a sample's lowest start 'AAA…'), the freed one last ('z…').
  for (let i = 0; i < 6; i++) await c.deps.providers.createProvider(provider(`prv_B${i}latebindingfull`, 1000));
  const freedId = 'prv_zzlatebindingfreed';
  await c.deps.providers.createProvider(provider(freedId, 0));

  const older = (await c.newUser()).user;
  const younger = (await c.newUser()).user;
  const fnOlder = (await functions.createFunction(c.deps, older, definition({ name: 'older', resources: { vcpu: 1, memoryMb: 256, timeoutS: 10 } }))).functionId;
  const fnYounger = (await functions.createFunction(c.deps, younger, definition({ name: 'younger', resources: { vcpu: 1, memoryMb: 256, timeoutS: 10 } }))).functionId;
  // `older` already runs a job (a larger dominant share) and has the oldest waiting job; `younger` runs none.
  await job(older, fnOlder, 'ASSIGNED', '2026-01-01T00:00:00.000Z', {
    providerId: 'prv_B0latebindingfull',
    assignedAt: new Date(now).toISOString(),
    leaseShard: 'l',
    leaseExpiresAt: new Date(now + 600_000).toISOString(),
  });
  const olderWaiting = await job(older, fnOlder, 'QUEUED', '2026-01-01T00:00:01.000Z');
  const youngerWaiting = await job(younger, fnYounger, 'QUEUED', '2026-01-01T00:00:02.000Z');

  // Every sample starts at the beginning of the index: the full providers.
  jest.spyOn(Math, 'random').mockReturnValue(0);
  // Without the freed provider named, sampling finds no room.
  expect(await scheduling.dispatchWaiting(c.deps)).toBe(0);
  // Named by the report: it takes one job, the one of the developer with the smaller share, though younger.
  expect(await scheduling.dispatchWaiting(c.deps, undefined, freedId)).toBe(1);
  jest.restoreAllMocks();

  const placed = await c.deps.jobs.getJob(youngerWaiting.jobId);
  expect(placed).toMatchObject({ status: 'ASSIGNED', providerId: freedId });
  expect((await c.deps.jobs.getJob(olderWaiting.jobId))?.status).toBe('QUEUED');
  // Reserved exactly once: the freed provider is full now, nothing oversubscribed.
  expect(await c.deps.providers.getProvider(freedId)).toMatchObject({ reservedVcpuMilli: 1000 });
}, 120_000);
