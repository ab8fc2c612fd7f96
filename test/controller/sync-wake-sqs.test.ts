import { ListQueuesCommand } from '@aws-sdk/client-sqs';
import type { JobRecord } from '../../lambdas/core/model';
import type { Deps } from '../../lambdas/core/use-cases/context';
import type { SqsJobWaiter as Waiter } from '../../lambdas/adapters/sqs-wake';
import { fauxqsWakeQueues } from '../../local/services';
import { sqsOf, startController, type Controller } from './harness';
import { counted, syncJobs } from './sync-jobs';

/**
 * Issue #16: in AWS the report that ends a job is another Lambda's request, so the sync call
 * waiting for it (the invocations Lambda's sandbox) is woken through its own wake queue
 * (adapters/sqs-wake.ts, JOB_WAKE=sqs). Two waiters stand for the two sandboxes, each with its
 * own deps, against DynamoDB Local and fauxqs: nothing passes between them but the job record
 * and the SQS message.
 */

let c: Controller;
let SqsJobWaiter: typeof Waiter;
let prefix: string;
const errors: string[] = [];
const onError = (message: string, error: unknown) => errors.push(`${message}: ${String(error)}`);

beforeAll(async () => {
  c = await startController();
  ({ SqsJobWaiter } = await import('../../lambdas/adapters/sqs-wake'));
  prefix = fauxqsWakeQueues(c.env.AWS_ENDPOINT_URL_SQS as string, c.env.PROVIDER_QUEUE_PREFIX as string);
}, 120_000);
afterAll(async () => {
  await c?.stop();
});
beforeEach(() => {
  errors.length = 0;
});

const MINUTE = { minMs: 60_000, maxMs: 60_000 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let jobs: ReturnType<typeof syncJobs>;
beforeAll(() => {
  jobs = syncJobs(c);
});

/** A sync job created in the process whose deps are `deps`. */
const syncJob = async (deps: Deps) => (await jobs.assignedJob(deps)).job;
/** The agent's report of `job`, accepted by the process whose deps are `deps`. */
const report = async (deps: Deps, job: JobRecord) => jobs.report(job, await jobs.theProvider(), deps);

async function wakeQueues(): Promise<string[]> {
  const out = await sqsOf(c).send(new ListQueuesCommand({ QueueNamePrefix: `${c.env.PROVIDER_QUEUE_PREFIX}w-` }));
  return (out.QueueUrls ?? []).map((url) => url.slice(url.lastIndexOf('/') + 1));
}

test('a report accepted in another process wakes the sync wait through its wake queue (no poll interval: its back-off is a minute)', async () => {
  const { waitForJob } = await import('../../lambdas/core/use-cases/invocations');
  const waiting = new SqsJobWaiter(prefix, { onError });
  const reporting = new SqsJobWaiter(prefix, { onError });
  const job = await syncJob({ ...c.deps, waiter: waiting });
  // The job names the waiting process's queue, in the table too (the report reads it from there).
  expect(job.wakeTo).toMatch(/^\d+-[a-z0-9]+$/);
  expect((await c.deps.jobs.getJob(job.jobId))?.wakeTo).toBe(job.wakeTo);
  expect(await wakeQueues()).toContain(`${c.env.PROVIDER_QUEUE_PREFIX}w-${job.wakeTo}`);

  const { deps, reads } = counted({ ...c.deps, waiter: waiting });
  const { sqs } = await import('../../lambdas/adapters/clients');
  const sent = jest.spyOn(sqs, 'send');
  const started = Date.now();
  const waited = waitForJob(deps, job.jobId, 120, MINUTE, job);
  await expect(report({ ...c.deps, waiter: reporting }, job)).resolves.toMatchObject({ status: 'SUCCEEDED' });
  await expect(waited).resolves.toMatchObject({ jobId: job.jobId, status: 'SUCCEEDED' });
  // Woken, not timed out: the one read is the woken wait's (the wake-up carries only the job id).
  expect(Date.now() - started).toBeLessThan(30_000);
  expect(reads()).toBe(1);
  expect(errors).toEqual([]);
  // What the wake-up cost on SQS: one send, one receive (no delete; no second receive once the wait was woken).
  await sleep(50);
  const calls = sent.mock.calls.map(([command]) => command.constructor.name);
  sent.mockRestore();
  expect(calls.filter((n) => n === 'SendMessageCommand')).toHaveLength(1);
  expect(calls.filter((n) => n === 'ReceiveMessageCommand')).toHaveLength(1);
  expect(calls.filter((n) => n === 'DeleteMessageCommand')).toHaveLength(0);
  // The last wait ended: the long poll was stopped.
  await sleep(50);
  expect((waiting as unknown as { polling?: Promise<void> }).polling).toBeUndefined();
}, 60_000);

test("a sync job's wait keeps reading only as a fallback (WAKE_READ_BACK_OFF); a wake-up for another job or a forged address wakes nobody", async () => {
  const { waitForJob } = await import('../../lambdas/core/use-cases/invocations');
  const { WAKE_READ_BACK_OFF } = await import('../../lambdas/adapters/sqs-wake');
  const waiting = new SqsJobWaiter(prefix, { onError });
  const job = await syncJob({ ...c.deps, waiter: waiting });
  const other = await syncJob({ ...c.deps, waiter: waiting });
  const { deps, reads } = counted({ ...c.deps, waiter: waiting });
  const waited = waitForJob(deps, job.jobId, 120, undefined, job);
  // Another job's wake-up, through the same queue: this wait goes on sleeping.
  await new SqsJobWaiter(prefix, { onError }).notify(other);
  await sleep(WAKE_READ_BACK_OFF.minMs / 2);
  expect(reads()).toBe(0);
  // A job naming something that is no wake queue of this platform: nothing is sent.
  await new SqsJobWaiter(prefix, { onError }).notify({ jobId: job.jobId, wakeTo: '../dlq' });
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatch(/names no wake queue/);
  // A job whose waiting process is long gone (its queue swept): nobody to wake, and nothing to report.
  await new SqsJobWaiter(prefix, { onError }).notify({ jobId: job.jobId, wakeTo: '1000-gone' });
  expect(errors).toHaveLength(1);
  // With no wake-up at all (its send failed), the first read comes after the fallback's first pause.
  await report({ ...c.deps, waiter: undefined }, job);
  await expect(waited).resolves.toMatchObject({ status: 'SUCCEEDED' });
  expect(reads()).toBe(1);
}, 60_000);

test('the sweep deletes wake queues past WAKE_QUEUE_EXPIRY_S and nothing else', async () => {
  const { WAKE_QUEUE_EXPIRY_S } = await import('../../lambdas/adapters/sqs-wake');
  const realNow = Math.floor(Date.now() / 1000);
  const old = new SqsJobWaiter(prefix, { onError, nowS: () => realNow - WAKE_QUEUE_EXPIRY_S - 60 });
  const fresh = new SqsJobWaiter(prefix, { onError });
  const oldName = `${c.env.PROVIDER_QUEUE_PREFIX}w-${await old.address()}`;
  const freshName = `${c.env.PROVIDER_QUEUE_PREFIX}w-${await fresh.address()}`;
  const { providerId } = await jobs.theProvider();
  const providerQueue = `${c.env.PROVIDER_QUEUE_PREFIX}${providerId}`;
  expect(await wakeQueues()).toEqual(expect.arrayContaining([oldName, freshName]));

  expect(await fresh.sweep()).toBeGreaterThanOrEqual(1);
  const left = await wakeQueues();
  expect(left).not.toContain(oldName);
  expect(left).toContain(freshName);
  const all = await sqsOf(c).send(new ListQueuesCommand({ QueueNamePrefix: c.env.PROVIDER_QUEUE_PREFIX }));
  expect((all.QueueUrls ?? []).map((u) => u.slice(u.lastIndexOf('/') + 1))).toContain(providerQueue);
  // The provider queues' own sweep never takes a wake queue for a provider's.
  expect((await c.deps.queues.listProviderQueues?.())?.map((q) => q.providerId)).not.toContainEqual(expect.stringMatching(/^w-/));
}, 60_000);
