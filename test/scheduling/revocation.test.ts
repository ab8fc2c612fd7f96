import Docker from 'dockerode';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { eventually, newUser } from '../support/api';
import { startAgent, startTestPlatform, TestPlatform } from './support';

/**
 * A job the controller takes back while a provider runs it: the heartbeat's answer lists it in
 * `revokedJobs`, and the agent stops the container at once, deletes the message (nobody wants
 * that attempt's result) and posts no report. Real agent, real Docker, the real handlers.
 */
let t: TestPlatform;
const docker = new Docker();

beforeAll(async () => {
  // One attempt only: when the lease is taken back the job FAILS, so nobody may finish it.
  t = await startTestPlatform({ LEASE_S: '30', HEARTBEAT_INTERVAL_S: '2', HEARTBEAT_STALE_MS: '60000', MAX_ATTEMPTS: '1' });
}, 300_000);

afterAll(async () => {
  await t?.stop();
}, 60_000);

test('a running job whose lease the controller took back is stopped, its message deleted, no report posted', async () => {
  const agent = await startAgent(t.api, { vcpu: 1, memoryMb: 512 });
  try {
    const dev = await newUser(t.api, ['developer']);
    const fn = await dev.api.post('/functions', { name: 'sleepy', image: t.platform.images.sleep, mode: 'async', resources: { vcpu: 0.5, memoryMb: 64, timeoutS: 120 } });
    expect(fn.status).toBe(201);
    const invoked = await dev.api.post(`/functions/${fn.body.functionId}/invocations`, { input: '100' });
    expect(invoked.status).toBe(202);
    const jobId = invoked.body.jobId as string;
    await eventually('its container to run', async () => {
      const running = await docker.listContainers({ filters: { label: [`chainfaas.job=${jobId}`], status: ['running'] } });
      return running.length === 1 ? true : undefined;
    }, 60_000);

    // The lease lapses (as when heartbeats stop reaching the controller) and the reaper takes the
    // job back; with no attempts left it fails. A heartbeat in between may renew it: try again.
    const failed = await eventually(
      'the reaper to take the job back',
      async () => {
        await t.deps.jobs.renewLease(jobId, agent.providerId, new Date(Date.now() - 1000).toISOString());
        await t.platform.sweep();
        const job = (await dev.api.get(`/jobs/${jobId}`)).body;
        return job.status === 'FAILED' ? job : undefined;
      },
      30_000,
    );
    expect(failed.reason).toMatch(/lease|heartbeat|attempt/i);

    // The next heartbeat answers the job as revoked: the container is stopped long before its 100 s.
    await eventually('the agent to stop the revoked job', async () => (agent.agent.status().totals.revoked === 1 ? true : undefined), 30_000);
    await eventually(
      'the container to be gone',
      async () => ((await docker.listContainers({ all: true, filters: { label: [`chainfaas.job=${jobId}`] } })).length === 0 ? true : undefined),
      30_000,
    );
    await eventually('the agent to forget the job', async () => (agent.agent.status().jobs.length === 0 ? true : undefined), 10_000);
    expect(agent.reports.filter((r) => r.jobId === jobId)).toEqual([]);
    const attrs = await t.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: agent.queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
    );
    expect(Number(attrs.Attributes?.ApproximateNumberOfMessages) + Number(attrs.Attributes?.ApproximateNumberOfMessagesNotVisible)).toBe(0);
    expect((await dev.api.get(`/jobs/${jobId}`)).body.status).toBe('FAILED');
  } finally {
    await agent.agent.stop({ force: true });
  }
}, 240_000);
