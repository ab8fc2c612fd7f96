import { CreateBucketCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Api, eventually, newUser } from '../support/api';
import { newOperator, registerProvider, ScriptedProvider, sendRaw, startTestPlatform, TestPlatform } from './support';

/**
 * The operator's dead-letter routes, providers' queue credentials and developer-named result
 * buckets, against the real handlers, DynamoDB Local and fauxqs (SQS with its redrive policy, S3).
 */
let t: TestPlatform;

beforeAll(async () => {
  // OPERATOR_USER_IDS is listed so that stop() restores it (newOperator adds to it).
  t = await startTestPlatform({ LEASE_S: '120', HEARTBEAT_STALE_MS: '600000', OPERATOR_USER_IDS: '' }, { images: false });
}, 300_000);

afterAll(async () => {
  await t?.stop();
}, 60_000);

const image = `127.0.0.1:5000/chainfaas/none@sha256:${'f'.repeat(64)}`;
const resources = { vcpu: 0.5, memoryMb: 64, timeoutS: 10 };

/** Receives a queue's messages without ever deleting them, until SQS moves them to the dead-letter queue. */
async function poison(queueUrl: string): Promise<number> {
  let receives = 0;
  for (;;) {
    const out = await t.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 0 }));
    if (!out.Messages?.length) return receives;
    receives += out.Messages.length;
    if (receives > 100) throw new Error('the messages never reached the dead-letter queue');
  }
}

describe('the dead-letter queue', () => {
  let operator: Api;
  let dev: Awaited<ReturnType<typeof newUser>>;
  let p1: ScriptedProvider;
  let jobId: string;

  beforeAll(async () => {
    operator = await newOperator(t.api);
    dev = await newUser(t.api, ['developer']);
    p1 = await ScriptedProvider.register(t.api, t.sqs, { vcpu: 1, memoryMb: 256 }, 'crashes-on-this-job');
    const fn = (await dev.api.post('/functions', { name: 'poison', image, mode: 'async', resources })).body.functionId;
    jobId = (await dev.api.post(`/functions/${fn}/invocations`, {})).body.jobId;
    await sendRaw(t.sqs, p1.queueUrl, 'not even JSON');
    // p1 receives both messages again and again and never settles them (an agent that crashes on them).
    expect(await poison(p1.queueUrl)).toBeGreaterThanOrEqual(10);
  });

  test('only an operator may look at it', async () => {
    const res = await dev.api.get('/operator/dlq');
    expect(res.status).toBe(403);
    expect(res.body.error.message).toMatch(/OPERATOR_USER_IDS/);
    expect((await operator.get('/operator/dlq?max=0')).body.error).toMatchObject({ code: 'invalid_request', field: 'max' });
  });

  test('the operator lists the dead letters with the job each names and where that job is now; listing leaves them there', async () => {
    const first = await operator.get('/operator/dlq');
    expect(first.status).toBe(200);
    const messages = first.body.messages as { jobId?: string; problem?: string; receiveCount: number; job?: unknown; providerId?: string; attempt?: number }[];
    expect(messages).toHaveLength(2);
    const envelope = messages.find((m) => m.jobId === jobId)!;
    expect(envelope).toMatchObject({ providerId: p1.providerId, attempt: 1, job: { status: 'ASSIGNED', attempt: 1, providerId: p1.providerId } });
    expect(envelope.problem).toBeUndefined();
    expect(envelope.receiveCount).toBeGreaterThan(5);
    expect(messages.find((m) => m.jobId === undefined)).toMatchObject({ problem: 'the body is not JSON' });
    const again = await operator.get('/operator/dlq');
    expect((again.body.messages as unknown[]).length).toBe(2);
  });

  test('redrive takes the job back from the provider that choked on it and places it elsewhere as a new attempt; the rest is discarded', async () => {
    const p2 = await ScriptedProvider.register(t.api, t.sqs, { vcpu: 1, memoryMb: 256 }, 'healthy');
    const listed = (await operator.get('/operator/dlq')).body.messages as { messageId: string; jobId?: string }[];
    const target = listed.find((m) => m.jobId === jobId)!;

    expect((await operator.post('/operator/dlq/redrive', {})).body.error).toMatchObject({ code: 'invalid_request', field: 'messageIds' });
    const redriven = await operator.post('/operator/dlq/redrive', { messageIds: [target.messageId] });
    expect(redriven.status).toBe(200);
    // It is placed at once (by this request, or by the reaper's timer if it got there first).
    expect(redriven.body).toMatchObject({ redriven: [{ messageId: target.messageId, jobId, outcome: 'requeued' }], notFound: [] });
    expect((await dev.api.get(`/jobs/${jobId}`)).body).toMatchObject({ status: 'ASSIGNED', providerId: p2.providerId, attempt: 2 });
    expect((await t.deps.jobs.getJob(jobId))?.requeueReason).toMatch(/dead-letter queue after \d+ deliveries to provider/);
    expect((await p2.complete(jobId, 2)).body).toEqual({ jobId, status: 'SUCCEEDED' });

    // The same message again: it is gone. The garbage one is discarded with everything else.
    expect((await operator.post('/operator/dlq/redrive', { messageIds: [target.messageId] })).body).toMatchObject({ redriven: [], notFound: [target.messageId] });
    const rest = await operator.post('/operator/dlq/redrive', { all: true });
    expect(rest.body.redriven).toEqual([expect.objectContaining({ outcome: 'discarded', detail: 'the body is not JSON' })]);
    expect((await operator.get('/operator/dlq')).body.messages).toEqual([]);
  });
});

describe("providers' queue credentials", () => {
  test('in local mode (no STS) registration says so and hands out none; the refresh route answers the same, to the owner only', async () => {
    const provider = await registerProvider(t.api, { vcpu: 1, memoryMb: 256 });
    const { registration } = provider;
    expect(registration.credentialsMode).toBe('environment');
    expect(registration.credentials).toBeUndefined();
    expect(registration.queueArn).toBe(`arn:aws:sqs:us-east-1:000000000000:chainfaas-provider-${registration.providerId}`);

    const refreshed = await provider.api.post(`/providers/${registration.providerId}/credentials`);
    expect(refreshed.status).toBe(200);
    expect(refreshed.body).toEqual({ providerId: registration.providerId, queueUrl: registration.queueUrl, queueArn: registration.queueArn, credentialsMode: 'environment' });
    const stranger = await newUser(t.api, ['provider']);
    expect((await stranger.api.post(`/providers/${registration.providerId}/credentials`)).status).toBe(404);
  });
});

describe('developer-named result buckets', () => {
  test("a function may send its results to the developer's own bucket; the controller presigns into it and checks the result there", async () => {
    const s3 = new S3Client({ region: 'us-east-1', endpoint: t.platform.env.AWS_ENDPOINT_URL_S3, forcePathStyle: true, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    await s3.send(new CreateBucketCommand({ Bucket: 'ada-results' }));
    const dev = await newUser(t.api, ['developer']);
    // The only provider that can take 2 vCPU, so the job comes here.
    const provider = await ScriptedProvider.register(t.api, t.sqs, { vcpu: 4, memoryMb: 256 });
    const resources = { vcpu: 2, memoryMb: 64, timeoutS: 10 };

    const badRole = await dev.api.post('/functions', { name: 'mine', image, resources, resultBucket: 'ada-results', resultRoleArn: 'arn:aws:iam::123456789012:role/admin' });
    expect(badRole.body.error).toMatchObject({ code: 'invalid_request', field: 'resultRoleArn' });
    const roleWithoutBucket = await dev.api.post('/functions', { name: 'mine', image, resources, resultRoleArn: 'arn:aws:iam::123456789012:role/chainfaas-results-w' });
    expect(roleWithoutBucket.body.error).toMatchObject({ code: 'invalid_request', field: 'resultBucket' });

    // Local mode has no STS, so no role is needed here; in AWS the function must name one (RESULT_ROLE_REQUIRED).
    const fn = await dev.api.post('/functions', { name: 'mine', image, mode: 'async', resources, resultBucket: 'ada-results' });
    expect(fn.status).toBe(201);
    expect(fn.body.resultBucket).toBe('ada-results');
    const jobId = (await dev.api.post(`/functions/${fn.body.functionId}/invocations`, {})).body.jobId as string;
    const envelope = await provider.envelope(jobId, 1);
    expect(new URL(envelope.resultPutUrl).pathname).toBe(`/ada-results/results/${jobId}/result`);

    const result = Buffer.from('{"in":"your bucket"}');
    expect((await provider.complete(jobId, 1, result)).body).toEqual({ jobId, status: 'SUCCEEDED' });
    const view = (await dev.api.get(`/jobs/${jobId}`)).body;
    expect(new URL(view.resultUrl).pathname).toBe(`/ada-results/results/${jobId}/result`);
    expect(await (await fetch(view.resultUrl)).text()).toBe(result.toString());
    // Nothing went to the platform's bucket.
    await expect(s3.send(new HeadObjectCommand({ Bucket: t.platform.env.RESULTS_BUCKET, Key: `results/${jobId}/result` }))).rejects.toMatchObject({ $metadata: { httpStatusCode: 404 } });
    s3.destroy();
  });
});

describe('the reaper delivers completion callbacks', () => {
  test('a job with a callbackUrl gets its signed job.finished POST from the reaper once it succeeded', async () => {
    const received: { body: string; headers: Record<string, unknown> }[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push({ body, headers: req.headers });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      const dev = await newUser(t.api, ['developer']);
      const provider = await ScriptedProvider.register(t.api, t.sqs, { vcpu: 8, memoryMb: 256 });
      const fn = (await dev.api.post('/functions', { name: 'cb', image, mode: 'async', resources: { vcpu: 6, memoryMb: 64, timeoutS: 10 } })).body.functionId;
      const jobId = (await dev.api.post(`/functions/${fn}/invocations`, { callbackUrl: `http://127.0.0.1:${port}/done` })).body.jobId as string;
      expect((await provider.complete(jobId, 1)).body).toEqual({ jobId, status: 'SUCCEEDED' });
      await eventually('the callback', async () => (received.length > 0 ? true : undefined), 15_000);
      expect(JSON.parse(received[0]!.body)).toMatchObject({ event: 'job.finished', job: { jobId, status: 'SUCCEEDED' } });
      expect(received[0]!.headers['x-chainfaas-signature']).toEqual(expect.any(String));
    } finally {
      server.close();
    }
  });
});
