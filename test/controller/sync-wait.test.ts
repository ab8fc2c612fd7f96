import type { JobRecord } from '../../lambdas/core/model';
import { startController, type Controller } from './harness';
import { counted, syncJobs } from './sync-jobs';

/**
 * Issue #16: a sync invocation learns that its job ended from the report that ends it, not from a
 * poll interval. Against DynamoDB Local and fauxqs: the provider's signed report goes through
 * `acceptReport`; the waiting call's back-off is set to a minute, so only the wake-up can end the
 * wait within the test.
 */

let c: Controller;
beforeAll(async () => {
  c = await startController();
});
afterAll(async () => {
  await c?.stop();
});

const MINUTE = { minMs: 60_000, maxMs: 60_000 };

let assignedJob: ReturnType<typeof syncJobs>['assignedJob'];
let report: ReturnType<typeof syncJobs>['report'];
beforeAll(() => {
  ({ assignedJob, report } = syncJobs(c));
});

test('#16: the accepted report wakes the sync call waiting for its job in this process (no poll interval: its back-off is a minute)', async () => {
  const { waitForJob } = await import('../../lambdas/core/use-cases/invocations');
  const who = await assignedJob();
  const { deps, reads } = counted(c.deps);
  const waiting = waitForJob(deps, who.job.jobId, 120, MINUTE);
  // The wait has read the job once (ASSIGNED) and sleeps for its minute.
  while (reads() < 1) await new Promise((r) => setImmediate(r));
  await expect(report(who.job, who)).resolves.toMatchObject({ status: 'SUCCEEDED' });
  await expect(waiting).resolves.toMatchObject({ jobId: who.job.jobId, status: 'SUCCEEDED' });
  // The wake-up handed over the job as the report's transition left it: no read after it.
  expect(reads()).toBe(1);
  expect(c.deps.waiter).toMatchObject({ waiting: 0 });
}, 30_000); // well under the minute the wait would otherwise sleep

test('#16: a wait given the job its invocation just wrote, and woken with the job its report left, reads nothing; it answers what a read would show', async () => {
  const { waitForJob } = await import('../../lambdas/core/use-cases/invocations');
  const { jobView } = await import('../../lambdas/core/use-cases/jobs');
  const who = await assignedJob();
  const { deps, reads } = counted(c.deps);
  // It listens at once (before any await) and sleeps: no read of the ASSIGNED job it was handed.
  const waiting = waitForJob(deps, who.job.jobId, 120, MINUTE, who.job);
  await expect(report(who.job, who)).resolves.toMatchObject({ status: 'SUCCEEDED' });
  const answered = (await waiting) as JobRecord;
  expect(answered).toMatchObject({ jobId: who.job.jobId, status: 'SUCCEEDED', resultSize: 4 });
  expect(reads()).toBe(0);
  // The caller's view of the handed-over job is the view of the stored one.
  const stored = (await c.deps.jobs.getJob(who.job.jobId)) as JobRecord;
  expect(await jobView(c.deps, answered)).toEqual(await jobView(c.deps, stored));
}, 30_000);

test('#16: a job that ended before the wait listened is still noticed, by the read one back-off later', async () => {
  const { waitForJob } = await import('../../lambdas/core/use-cases/invocations');
  const who = await assignedJob();
  // The report is accepted first: its wake-up reaches nobody.
  await report(who.job, who);
  const { deps, reads } = counted(c.deps);
  const t0 = Date.now();
  await expect(waitForJob(deps, who.job.jobId, 25, { minMs: 50, maxMs: 50 }, who.job)).resolves.toMatchObject({ status: 'SUCCEEDED' });
  expect(reads()).toBe(1);
  expect(Date.now() - t0).toBeGreaterThanOrEqual(45);
}, 30_000);

test('#16: a job record copies no field (every byte is billed on each of its writes); its view still shows when it was queued', async () => {
  const { jobView } = await import('../../lambdas/core/use-cases/jobs');
  const who = await assignedJob();
  await report(who.job, who);
  const stored = (await c.deps.jobs.getJob(who.job.jobId)) as JobRecord;
  expect(stored.status).toBe('SUCCEEDED');
  // queuedAt is createdAt until a re-queue; the price list's version is billingUnits'.
  expect(stored).not.toHaveProperty('queuedAt');
  expect(stored).not.toHaveProperty('billingVersion');
  expect(stored.billingUnits?.version).toBeGreaterThanOrEqual(1);
  const view = await jobView(c.deps, stored);
  expect(view.timings).toMatchObject({ createdAt: stored.createdAt, queuedAt: stored.createdAt });
}, 30_000);

test('#16: a report accepted between the read and the sleep of a wait is not lost (the wait listens before it reads)', async () => {
  const who = await assignedJob();
  const wake = c.deps.waiter!.listen(who.job.jobId);
  await report(who.job, who);
  // Notified before it slept: the sleep returns at once instead of after its minute.
  await expect(wake.sleep(60_000)).resolves.toBe(true);
  wake.close();
  // Another job's report wakes nobody else.
  const other = await assignedJob();
  const unrelated = c.deps.waiter!.listen(other.job.jobId);
  const third = await assignedJob();
  await report(third.job, third);
  await expect(unrelated.sleep(50)).resolves.toBe(false);
  unrelated.close();
}, 30_000);

test('#16: without a wake-up (a waiting Lambda in AWS; JOB_WAKE=off) the wait notices the end by its consistent reads', async () => {
  const { waitForJob } = await import('../../lambdas/core/use-cases/invocations');
  const who = await assignedJob();
  const { deps, reads } = counted({ ...c.deps, waiter: undefined });
  const waiting = waitForJob(deps, who.job.jobId, 25);
  while (reads() < 1) await new Promise((r) => setImmediate(r));
  await report(who.job, who);
  await expect(waiting).resolves.toMatchObject({ status: 'SUCCEEDED' });
  expect(reads()).toBeGreaterThanOrEqual(2);
});
