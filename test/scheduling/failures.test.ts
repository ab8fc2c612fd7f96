import { newUser, eventually, Api } from '../support/api';
import { ScriptedProvider, sleep, startTestPlatform, TestPlatform } from './support';

/**
 * What happens when things do not go to plan, against the real handlers, DynamoDB Local and
 * fauxqs, with providers the test drives through the public API: bounded waiting (429/503 with
 * Retry-After), the wait deadline, leases renewed by heartbeats and taken back when they lapse,
 * re-queueing up to MAX_ATTEMPTS and then FAILED with the reason (and `FailJob` on the ledger),
 * and late reports for an old attempt refused.
 */
let t: TestPlatform;

beforeAll(async () => {
  t = await startTestPlatform(
    {
      LEASE_S: '2',
      HEARTBEAT_STALE_MS: '60000',
      MAX_ATTEMPTS: '2',
      MAX_WAIT_S: '4',
      MAX_WAITING_PER_DEVELOPER: '2',
      MAX_WAITING_TOTAL: '3',
      RETRY_AFTER_S: '7',
    },
    { images: false },
  );
}, 300_000);

afterAll(async () => {
  await t?.stop();
}, 60_000);

const image = `127.0.0.1:5000/chainfaas/none@sha256:${'e'.repeat(64)}`;

async function fn(dev: { api: Api }, resources: { vcpu: number; memoryMb: number; timeoutS: number }): Promise<string> {
  const res = await dev.api.post('/functions', { name: 'f', image, mode: 'async', resources });
  expect(res.status).toBe(201);
  return res.body.functionId;
}

const job = (dev: { api: Api }, jobId: string) => dev.api.get(`/jobs/${jobId}`).then((r) => r.body);

describe('waiting for capacity', () => {
  test('at the bounds a job that would wait is refused: 429 for the developer, 503 for the platform, both with Retry-After; waiting jobs fail at their deadline', async () => {
    // Nothing anywhere fits 64 vCPU, so every such job waits.
    const big = { vcpu: 8, memoryMb: 64, timeoutS: 10 };
    const [d1, d2, d3] = [await newUser(t.api, ['developer']), await newUser(t.api, ['developer']), await newUser(t.api, ['developer'])];
    const [f1, f2, f3] = [await fn(d1, big), await fn(d2, big), await fn(d3, big)];
    const first = await d1.api.post(`/functions/${f1}/invocations`, {});
    expect(first).toMatchObject({ status: 202, body: { status: 'QUEUED' } });
    expect((await d1.api.post(`/functions/${f1}/invocations`, {})).status).toBe(202);

    const third = await d1.api.post(`/functions/${f1}/invocations`, {});
    expect(third.status).toBe(429);
    expect(third.headers.get('retry-after')).toBe('7');
    expect(third.body.error).toMatchObject({ code: 'too_many_requests', waiting: 2, limit: 2 });
    expect(third.body.error.message).toMatch(/2 of your jobs already wait for capacity/);

    expect((await d2.api.post(`/functions/${f2}/invocations`, {})).status).toBe(202); // three wait in all now
    const full = await d3.api.post(`/functions/${f3}/invocations`, {});
    expect(full.status).toBe(503);
    expect(full.headers.get('retry-after')).toBe('7');
    expect(full.body.error).toMatchObject({ code: 'no_capacity', waiting: 3, limit: 3 });

    // MAX_WAIT_S later (plus a reaper round) the waiting jobs are FAILED with a reason that says what they needed.
    const failed = await eventually('the waiting job to fail', async () => ((await job(d1, first.body.jobId)).status === 'FAILED' ? job(d1, first.body.jobId) : undefined), 15_000);
    expect(failed.reason).toBe('no provider had room for 8 vCPU and 64 MB within 4s of waiting');
    // ...and the bounds are free again.
    await eventually('the other waiting jobs to fail', async () => ((await t.deps.jobs.countWaiting(d1.userId)).total === 0 ? true : undefined), 15_000);
    expect((await d3.api.post(`/functions/${f3}/invocations`, {})).status).toBe(202);
  });
});

describe('leases', () => {
  test("heartbeats that list a job renew its lease; a lapsed lease re-queues the job on another provider; the old attempt's report is refused", async () => {
    const dev = await newUser(t.api, ['developer']);
    const f = await fn(dev, { vcpu: 1, memoryMb: 128, timeoutS: 60 });
    const p1 = await ScriptedProvider.register(t.api, t.sqs, { vcpu: 1, memoryMb: 512 }, 'p1');
    const invoked = await dev.api.post(`/functions/${f}/invocations`, {});
    expect(invoked.body).toMatchObject({ status: 'ASSIGNED', providerId: p1.providerId, attempt: 1 });
    const jobId = invoked.body.jobId as string;

    // p1 heartbeats listing the job for longer than the lease: it keeps it.
    for (let i = 0; i < 6; i++) {
      const beat = await p1.heartbeat([jobId]);
      expect(beat.body).toMatchObject({ ok: true, revokedJobs: [], free: { vcpu: 0, memoryMb: 384 } });
      await sleep(500);
    }
    expect(await job(dev, jobId)).toMatchObject({ status: 'ASSIGNED', providerId: p1.providerId, attempt: 1 });

    // A second provider appears; p1 goes silent. Its lease lapses and the job moves, as attempt 2.
    const p2 = await ScriptedProvider.register(t.api, t.sqs, { vcpu: 1, memoryMb: 512 }, 'p2');
    const moved = await eventually('the job to move to p2', async () => {
      const now = await job(dev, jobId);
      return now.providerId === p2.providerId ? now : undefined;
    });
    expect(moved).toMatchObject({ status: 'ASSIGNED', attempt: 2 });
    await p2.heartbeat([jobId]); // p2 holds its lease from here on
    expect((await t.deps.jobs.getJob(jobId))?.requeueReason).toMatch(/did not renew its lease on attempt 1/);
    expect((await t.deps.providers.getProvider(p1.providerId))?.reservedVcpuMilli).toBe(0);

    // p1 comes back: its heartbeat says the job is no longer its, and its report for attempt 1 is refused.
    expect((await p1.heartbeat([jobId])).body.revokedJobs).toEqual([jobId]);
    const late = await p1.complete(jobId, 1);
    expect(late.status).toBe(409);
    expect(late.body.error.message).toMatch(/was taken from this provider .* now at attempt 2/);

    // p2 completes attempt 2; a repeat of the same report changes nothing.
    const ok = await p2.complete(jobId, 2);
    expect(ok.body).toEqual({ jobId, status: 'SUCCEEDED' });
    expect((await p2.complete(jobId, 2)).body).toMatchObject({ jobId, status: 'SUCCEEDED', duplicate: true });
    expect(await job(dev, jobId)).toMatchObject({ status: 'SUCCEEDED', providerId: p2.providerId, attempt: 2 });
    expect((await t.deps.providers.getProvider(p2.providerId))?.reservedVcpuMilli).toBe(0);

    // The ledger followed: created for p1, reassigned to p2, run time signed by p2.
    await t.platform.flushLedger();
    const ledger = (await dev.api.get(`/jobs/${jobId}/ledger`)).body;
    expect(ledger.record).toMatchObject({ providerId: p2.providerId, runtimeMs: 5, received: true });
    expect(ledger.history.map((h: { value: { providerId: string } }) => h.value.providerId)).toEqual(expect.arrayContaining([p1.providerId, p2.providerId]));
  });

  test('after MAX_ATTEMPTS lapsed leases the job is FAILED with the reason, its capacity released, and FailJob goes to the ledger', async () => {
    const dev = await newUser(t.api, ['developer']);
    // Only these providers can take 2 vCPU; neither ever heartbeats the job.
    const f = await fn(dev, { vcpu: 2, memoryMb: 128, timeoutS: 60 });
    const silent = [await ScriptedProvider.register(t.api, t.sqs, { vcpu: 2, memoryMb: 512 }, 's1'), await ScriptedProvider.register(t.api, t.sqs, { vcpu: 2, memoryMb: 512 }, 's2')];
    const invoked = await dev.api.post(`/functions/${f}/invocations`, {});
    const jobId = invoked.body.jobId as string;
    const failed = await eventually('the job to fail', async () => ((await job(dev, jobId)).status === 'FAILED' ? job(dev, jobId) : undefined), 20_000);
    expect(failed.attempt).toBe(2);
    expect(failed.reason).toMatch(/^provider prv_\w+ did not renew its lease on attempt 2 .*; gave up after 2 attempts \(at most 2\)$/);
    const record = await t.deps.jobs.getJob(jobId);
    expect(new Set([...(record?.previousProviders ?? []), record?.providerId])).toEqual(new Set(silent.map((p) => p.providerId)));
    // The capacity is released right after the FAILED transition (scheduling.ts#finishReclaim), by
    // the reclaim that made it: soon after the job reads FAILED, not in the same write.
    for (const p of silent) {
      await eventually(`${p.providerId}'s capacity to be released`, async () => ((await t.deps.providers.getProvider(p.providerId))?.reservedVcpuMilli === 0 ? true : undefined), 10_000);
    }

    await t.platform.flushLedger();
    const ledger = (await dev.api.get(`/jobs/${jobId}/ledger`)).body;
    expect(ledger.record).toMatchObject({ failed: failed.reason, paid: false });
  });
});
