import Docker from 'dockerode';
import { eventually, newUser } from '../support/api';
import { peek, registerProvider, runAgent, sendRaw, sleep, startTestPlatform, TestPlatform } from './support';
import { watchFunctionContainers } from '../chaos/support';

/**
 * A duplicated SQS delivery: the same signed envelope reaches the provider's queue twice (as when
 * the controller's send is retried), and once more after the job finished. The job runs once: one
 * container on the Docker engine, one report, one SUCCEEDED transition, one run time on the
 * ledger, one charge. The agent settles the copies without running them (its attempt log,
 * provider-agent/src/attempts.ts); were one run anyway, the controller would refuse its report
 * (test/scheduling/failures.test.ts: a repeated report changes nothing, an old attempt's is 409).
 */
let t: TestPlatform;
let agent: Awaited<ReturnType<typeof runAgent>> | undefined;
const docker = new Docker();

beforeAll(async () => {
  t = await startTestPlatform({ HEARTBEAT_INTERVAL_S: '1' });
}, 300_000);

afterAll(async () => {
  await agent?.agent.stop({ force: true });
  await t?.stop();
}, 60_000);

test('a duplicated SQS delivery runs the job once', async () => {
  // Followed live: the engine keeps only its last 256 events for `since` queries, and other work
  // on a shared engine (another suite's containers) would push this job's out.
  const watcher = await watchFunctionContainers(docker);
  // The provider registers, but its agent starts only once both copies wait in its queue.
  const capacity = { vcpu: 1, memoryMb: 512 };
  const provider = await registerProvider(t.api, capacity, 'duplicates');
  const dev = await newUser(t.api, ['developer']);
  const fn = (await dev.api.post('/functions', { name: 'sha256', image: t.platform.images.sha256, mode: 'async', resources: { vcpu: 0.5, memoryMb: 64, timeoutS: 20 } }))
    .body;
  const invoked = await dev.api.post(`/functions/${fn.functionId}/invocations`, { input: 'once, only once' });
  expect(invoked.body).toMatchObject({ status: 'ASSIGNED', providerId: provider.registration.providerId });
  const jobId = invoked.body.jobId as string;

  const queueUrl = provider.registration.queueUrl;
  const original = await peek(t.sqs, queueUrl);
  expect(original && JSON.parse(original).envelope.jobId).toBe(jobId);
  await sendRaw(t.sqs, queueUrl, original!);

  // A short visibility: a copy the agent left unsettled would come back within the test.
  agent = await runAgent(t.api, provider, capacity, { visibilityTimeoutS: 10 });
  const done = await eventually(
    'the job to succeed',
    async () => {
      const job = (await dev.api.get(`/jobs/${jobId}`)).body;
      return job.status === 'SUCCEEDED' ? job : undefined;
    },
    60_000,
  );
  await eventually('both copies to be settled', async () => (agent!.agent.status().totals.duplicates >= 1 ? true : undefined), 20_000);

  // A third copy, long after the job finished.
  await sendRaw(t.sqs, queueUrl, original!);
  await eventually('the late copy to be settled', async () => (agent!.agent.status().totals.duplicates >= 2 ? true : undefined), 20_000);
  // Nothing comes back once the visibility timeout has passed: every copy was deleted.
  await sleep(11_000);
  expect(await peek(t.sqs, queueUrl)).toBeUndefined();

  // One container, one report, accepted.
  const events = await watcher.stop();
  expect(events.filter((e) => e.action === 'create' && e.jobId === jobId)).toHaveLength(1);
  expect(agent.reports).toEqual([expect.objectContaining({ jobId, attempt: 1, runtimeMs: done.runtimeMs, status: 200 })]);
  expect(agent.agent.status().totals).toMatchObject({ succeeded: 1, failed: 0, duplicates: 2 });

  // The platform's state changed once: the job, the ledger's run time and the charge.
  expect((await dev.api.get(`/jobs/${jobId}`)).body).toMatchObject({ status: 'SUCCEEDED', attempt: 1, runtimeMs: done.runtimeMs });
  const ledger = await eventually('the ledger to settle the job', async () => {
    await t.platform.flushLedger();
    const res = await dev.api.get(`/jobs/${jobId}/ledger`);
    return res.body.record?.paid ? res.body : undefined;
  });
  expect(ledger.record).toMatchObject({ runtimeMs: done.runtimeMs, paid: true });
  const history = (await dev.api.get('/account/history')).body.items as { kind: string; reference: string; amount: number }[];
  const charges = history.filter((e) => e.kind === 'settlement' && e.reference.includes(jobId));
  expect(charges).toHaveLength(1);
  expect(charges[0]!.amount).toBe(-ledger.record.cost);
}, 180_000);
