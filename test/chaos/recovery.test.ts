import { injectedFaults } from '../../lambdas/core/faults';
import { eventually, newUser } from '../support/api';
import { ScriptedProvider, startTestPlatform, TestPlatform } from '../scheduling/support';

/**
 * The two crash windows the chaos suite found, each replayed deterministically (a fault plan with
 * probability 1 at one point) on the real local platform: a report whose handler dies after the
 * job's transition, and a reclaim that dies after its transition (a re-queue, then a failure).
 * Each must be finished by the platform itself: the repeated report, the next placement, the reaper.
 */
let t: TestPlatform;
const quiet = { error: 0 };

beforeAll(async () => {
  jest.spyOn(console, 'error').mockImplementation(() => void quiet.error++);
  // A provider counts as online without heartbeats (60 s), so a lease of 2 s lapses while it stays a candidate.
  t = await startTestPlatform({ LEASE_S: '2', HEARTBEAT_STALE_MS: '60000', MAX_ATTEMPTS: '2', BALANCE_HOLDS: 'on' }, { reaperIntervalMs: 250 });
}, 300_000);

afterAll(async () => {
  await t?.stop();
  jest.restoreAllMocks();
}, 60_000);

/** Takes an earlier test's provider out of placement (draining), so each test's jobs go to its own. */
async function retireOthers(keep: string) {
  for (const p of await t.deps.providers.listProviders()) {
    if (p.providerId !== keep && !p.draining) await t.deps.providers.heartbeat(p.providerId, new Date().toISOString(), [], [], true);
  }
}

async function developerWithFunction() {
  const dev = await newUser(t.api, ['developer']);
  await eventually('the signup credit', async () => {
    await t.platform.flushLedger();
    return (await dev.api.get('/account')).body.available > 0 ? true : undefined;
  });
  const fn = await dev.api.post('/functions', {
    name: 'recovery',
    image: t.platform.images.sha256,
    mode: 'async',
    resources: { vcpu: 0.25, memoryMb: 64, timeoutS: 10 },
  });
  expect(fn.status).toBe(201);
  return { dev, functionId: fn.body.functionId as string };
}

test('a report whose handler died after the transition is finished by the repeated report: ledger events once settled, capacity released once', async () => {
  const provider = await ScriptedProvider.register(t.api, t.sqs, { vcpu: 1, memoryMb: 512 }, 'report-crash');
  await retireOthers(provider.providerId);
  const { dev, functionId } = await developerWithFunction();
  const invoked = await dev.api.post(`/functions/${functionId}/invocations`, { input: 'report crash' });
  expect(invoked.body).toMatchObject({ status: 'ASSIGNED', providerId: provider.providerId });
  const jobId = invoked.body.jobId as string;

  t.platform.setFaults({ seed: 1, failures: { 'report.afterTransition': 1 } });
  const crashed = await provider.complete(jobId, 1);
  t.platform.setFaults(undefined);
  expect(crashed.status).toBe(500);
  // Half done: SUCCEEDED, but the capacity still reserved and nothing for the ledger.
  expect(await t.deps.jobs.getJob(jobId)).toMatchObject({ status: 'SUCCEEDED', pendingReport: expect.anything() });
  // Only the signature is kept (#16): the succeeded report is rebuilt from the job's fields, and
  // the ledger below verifies that signature over the rebuilt bytes before it pays.
  expect((await t.deps.jobs.getJob(jobId))?.pendingReport).toEqual({ signature: expect.any(String) });
  expect((await t.deps.providers.getProvider(provider.providerId))?.reservedVcpuMilli).toBe(250);

  // The agent retries its report (a 500 is not definitive): the duplicate finishes the job's effects.
  const again = await provider.complete(jobId, 1);
  expect(again.status).toBe(200);
  expect(again.body).toMatchObject({ jobId, status: 'SUCCEEDED', duplicate: true });
  expect((await t.deps.jobs.getJob(jobId))?.pendingReport).toBeUndefined();
  expect((await t.deps.providers.getProvider(provider.providerId))?.reservedVcpuMilli).toBe(0);
  // Once more: nothing left to do, nothing released twice.
  expect((await provider.complete(jobId, 1)).status).toBe(200);
  expect((await t.deps.providers.getProvider(provider.providerId))?.reservedVcpuMilli).toBe(0);

  // Settled on the ledger, charged once, the hold released.
  const record = await eventually('the ledger to settle the job', async () => {
    await t.platform.flushLedger();
    const res = await dev.api.get(`/jobs/${jobId}/ledger`);
    return res.body.record?.paid ? res.body.record : undefined;
  });
  const history = (await dev.api.get('/account/history?limit=200')).body.items as { kind: string; reference: string; amount: number }[];
  expect(history.filter((e) => e.kind === 'settlement' && e.reference === jobId)).toEqual([expect.objectContaining({ amount: -record.cost })]);
  expect((await t.deps.balances.listHolds?.(100))?.filter((h) => h.jobId === jobId)).toEqual([]);
  expect((await dev.api.get('/account/reconciliation')).body.differences).toEqual([]);
}, 120_000);

test("a reclaim that died after its transition gives the provider's capacity back: at the next placement (re-queue), by the reaper (failure)", async () => {
  const provider = await ScriptedProvider.register(t.api, t.sqs, { vcpu: 1, memoryMb: 512 }, 'reclaim-crash');
  await retireOthers(provider.providerId);
  const { dev, functionId } = await developerWithFunction();
  t.platform.setFaults({ seed: 2, failures: { 'reclaim.afterTransition': 1 } });
  try {
    const invoked = await dev.api.post(`/functions/${functionId}/invocations`, { input: 'reclaim crash' });
    expect(invoked.body).toMatchObject({ status: 'ASSIGNED', providerId: provider.providerId, attempt: 1 });
    const jobId = invoked.body.jobId as string;
    // Nobody renews the lease: attempt 1 is taken back (the reaper dies after the re-queue), placed
    // again on the only provider as attempt 2, taken back again (it dies after FAILED), and finished.
    const failed = await eventually(
      'the job to fail and its reclaim to be finished',
      async () => {
        const job = await t.deps.jobs.getJob(jobId);
        return job?.status === 'FAILED' && job.releaseFrom === undefined ? job : undefined;
      },
      60_000,
    );
    expect(injectedFaults()['reclaim.afterTransition']).toBe(2);
    expect(failed.reason).toMatch(/gave up after 2 attempts/);
    expect(failed.leaseShard).toBeUndefined();
    expect(failed).toMatchObject({ attempt: 2, providerId: provider.providerId, previousProviders: [provider.providerId] });
    // Two reservations were made and both were given back, once each.
    expect((await t.deps.providers.getProvider(provider.providerId))?.reservedVcpuMilli).toBe(0);
    expect((await t.deps.providers.getProvider(provider.providerId))?.reservedMemoryMb).toBe(0);
    expect((await t.deps.balances.listHolds?.(100))?.filter((h) => h.jobId === jobId)).toEqual([]);
    const record = await eventually('FailJob on the ledger', async () => {
      await t.platform.flushLedger();
      const res = await dev.api.get(`/jobs/${jobId}/ledger`);
      return res.body.record?.failed ? res.body.record : undefined;
    });
    expect(record).toMatchObject({ paid: false });
    expect((await dev.api.get('/account')).body).toMatchObject({ held: 0 });
  } finally {
    t.platform.setFaults(undefined);
  }
}, 120_000);

test('a report whose handler died after the transition, never repeated (the agent is gone), is finished by the reaper once the lease lapses', async () => {
  const provider = await ScriptedProvider.register(t.api, t.sqs, { vcpu: 1, memoryMb: 512 }, 'report-crash-silent');
  await retireOthers(provider.providerId);
  const { dev, functionId } = await developerWithFunction();
  const invoked = await dev.api.post(`/functions/${functionId}/invocations`, { input: 'report crash, no retry' });
  const jobId = invoked.body.jobId as string;
  t.platform.setFaults({ seed: 3, failures: { 'report.afterTransition': 1 } });
  expect((await provider.complete(jobId, 1)).status).toBe(500);
  t.platform.setFaults(undefined);
  const finished = await eventually(
    'the reaper to finish the report',
    async () => {
      const job = await t.deps.jobs.getJob(jobId);
      return job?.pendingReport === undefined ? job : undefined;
    },
    30_000,
  );
  expect(finished).toMatchObject({ status: 'SUCCEEDED', attempt: 1 });
  expect(finished?.leaseShard).toBeUndefined();
  expect((await t.deps.providers.getProvider(provider.providerId))?.reservedVcpuMilli).toBe(0);
  const record = await eventually('the ledger to settle the job', async () => {
    await t.platform.flushLedger();
    const res = await dev.api.get(`/jobs/${jobId}/ledger`);
    return res.body.record?.paid ? res.body.record : undefined;
  });
  expect(record.runtimeMs).toBe(finished?.runtimeMs);
  expect((await dev.api.get('/account')).body).toMatchObject({ held: 0 });
  expect((await dev.api.get('/account/reconciliation')).body.differences).toEqual([]);
}, 120_000);
