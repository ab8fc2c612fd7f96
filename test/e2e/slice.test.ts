import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import Docker from 'dockerode';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { JobEnvelope } from '../../contract/src';
import { generateKeyPair, signPayload } from '../../contract/src';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPlatform, Platform } from '../../local/platform';
import { Api, eventually, newUser } from '../support/api';

/**
 * The walking skeleton, end to end through the HTTP API against the real emulators, a real Docker
 * engine and registry, real containers and the embedded ledger.
 */
let platform: Platform;
let api: Api;

beforeAll(async () => {
  platform = await startPlatform({ port: 0, dataDir: mkdtempSync(join(tmpdir(), 'chainfaas-e2e-')), log: () => undefined });
  api = new Api(platform.apiUrl);
}, 300_000);

afterAll(async () => {
  await platform?.stop();
}, 60_000);

const resources = { vcpu: 0.5, memoryMb: 64, timeoutS: 20 };

test('a job runs end to end: register, invoke, result link, job record, ledger record', async () => {
  const dev = await newUser(api, ['developer']);
  const created = await dev.api.post('/functions', { name: 'sha256', image: platform.images.sha256, resources });
  expect(created.status).toBe(201);
  const functionId = created.body.functionId as string;

  const input = 'hello, volunteer computing';
  const invoked = await dev.api.post(`/functions/${functionId}/invocations`, { input });
  expect(invoked.status).toBe(200);
  expect(invoked.body.status).toBe('SUCCEEDED');
  expect(invoked.body.providerId).toBe(platform.provider?.providerId);

  // The result comes through its link (this small one inline, a data: URL; a larger one a presigned S3 GET) and holds what the container computed.
  const download = await fetch(invoked.body.resultUrl);
  expect(download.status).toBe(200);
  const resultBytes = Buffer.from(await download.arrayBuffer());
  const result = JSON.parse(resultBytes.toString('utf8'));
  expect(result.sha256).toBe(createHash('sha256').update(input).digest('hex'));
  expect(result.bytes).toBe(Buffer.byteLength(input));
  expect(invoked.body.result).toEqual({ sha256: createHash('sha256').update(resultBytes).digest('hex'), size: resultBytes.length });

  const job = await dev.api.get(`/jobs/${invoked.body.jobId}`);
  expect(job.status).toBe(200);
  expect(job.body).toMatchObject({ status: 'SUCCEEDED', exitCode: 0, functionId });

  // The function wrote nothing to stderr: the agent stored no log object (its signed report says
  // logSize 0), and neither the answer nor the job hands out a link to a missing object.
  expect(invoked.body.logUrl).toBeUndefined();
  expect(job.body.logUrl).toBeUndefined();
  const s3 = new S3Client({
    endpoint: platform.env.AWS_ENDPOINT_URL_S3,
    region: platform.env.AWS_REGION ?? 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: platform.env.AWS_ACCESS_KEY_ID ?? 'test', secretAccessKey: platform.env.AWS_SECRET_ACCESS_KEY ?? 'test' },
  });
  const head = (key: string) =>
    s3.send(new HeadObjectCommand({ Bucket: 'chainfaas-results', Key: key })).then(
      () => 200,
      (err) => err.$metadata?.httpStatusCode as number,
    );
  // The result (under 1 KB) travelled in the signed report: no object either (#16), its link is a data: URL.
  expect(invoked.body.resultUrl).toMatch(/^data:/);
  expect(await head(`results/${invoked.body.jobId}/result`)).toBe(404);
  expect(await head(`results/${invoked.body.jobId}/log`)).toBe(404);
  s3.destroy();
  expect(job.body.runtimeMs).toBeGreaterThan(0);
  expect(Date.parse(job.body.timings.finishedAt)).toBeGreaterThanOrEqual(Date.parse(job.body.timings.startedAt));

  // The monitoring ledger: the job record with developer, provider, function, run time and receipt.
  const ledger = await eventually('the ledger record to be settled', async () => {
    await platform.flushLedger();
    const res = await dev.api.get(`/jobs/${invoked.body.jobId}/ledger`);
    return res.body.record?.received && res.body.record?.runtimeMs !== undefined ? res.body : undefined;
  });
  expect(ledger.record).toMatchObject({
    jobId: invoked.body.jobId,
    developerId: dev.userId,
    providerId: platform.provider?.providerId,
    functionId,
    runtimeMs: job.body.runtimeMs,
    received: true,
    resultSha256: invoked.body.result.sha256,
  });
  // CreateJob, SetRuntime and ConfirmReceipt may share one ledger batch (one version) or not.
  expect(ledger.history.length).toBeGreaterThanOrEqual(1);
  expect(ledger.history.some((h: any) => h.value?.jobId === invoked.body.jobId && h.value?.received === true)).toBe(true);
});

test('a function that exits non-zero ends FAILED with its exit code and its stderr as the log', async () => {
  const dev = await newUser(api, ['developer']);
  const created = await dev.api.post('/functions', { name: 'fail', image: platform.images.fail, resources });
  expect(created.status).toBe(201);
  const invoked = await dev.api.post(`/functions/${created.body.functionId}/invocations`, { input: 'anything' });
  expect(invoked.status).toBe(200);
  expect(invoked.body).toMatchObject({ status: 'FAILED', exitCode: 3 });
  expect(invoked.body.reason).toMatch(/exited with code 3/);
  expect(invoked.body.resultUrl).toBeUndefined();
  const log = await fetch(invoked.body.logUrl);
  expect(log.status).toBe(200);
  expect((await log.text()).length).toBeGreaterThan(0);
});

describe('the agent refuses envelopes it cannot trust, and runs nothing for them', () => {
  const sendRaw = async (body: string) => {
    const sqs = new SQSClient({
      region: 'us-east-1',
      endpoint: platform.env.AWS_ENDPOINT_URL_SQS,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    await sqs.send(new SendMessageCommand({ QueueUrl: platform.provider!.queueUrl, MessageBody: body }));
    sqs.destroy();
  };

  const envelopeFor = (jobId: string): JobEnvelope => {
    const now = new Date();
    return {
      v: 1,
      jobId,
      functionId: 'fn_forged',
      functionVersion: 1,
      developerId: 'usr_forged',
      providerId: platform.provider!.providerId,
      image: platform.images.sha256 as string,
      protocol: 'stdio',
      network: 'none',
      resources,
      env: {},
      input: { kind: 'inline', base64: Buffer.from('forged').toString('base64') },
      resultPutUrl: 'http://127.0.0.1:9/never',
      logPutUrl: 'http://127.0.0.1:9/never',
      issuedAt: now.toISOString(),
      startBy: new Date(now.getTime() + 60_000).toISOString(),
      attempt: 1,
    };
  };

  let controllerKeyId: string;
  beforeAll(async () => {
    controllerKeyId = (await api.get('/controller/public-key')).body.keyId;
  });

  const containersFor = async (jobId: string) => new Docker().listContainers({ all: true, filters: { label: [`chainfaas.job=${jobId}`] } });

  test.each([
    [
      'signed by a key that is not the controller',
      (jobId: string) => {
        const envelope = envelopeFor(jobId);
        // The attacker claims the controller's key id, so only the signature check can catch it.
        return { envelope, signature: signPayload(envelope, generateKeyPair().privateKeyPem), keyId: controllerKeyId };
      },
    ],
    [
      'signed by the controller, then altered (image swapped)',
      (jobId: string) => {
        const envelope = envelopeFor(jobId);
        const signature = signPayload(envelope, readFileSync(platform.env.CONTROLLER_KEY_FILE as string, 'utf8'));
        return { envelope: { ...envelope, image: platform.images.fail }, signature, keyId: controllerKeyId };
      },
    ],
    ['with no signature at all', (jobId: string) => ({ envelope: envelopeFor(jobId) })],
  ])('an envelope %s is refused and never run', async (_name, build) => {
    const jobId = `job_forged${Math.random().toString(36).slice(2, 10)}`;
    const agent = platform.provider!.agent;
    // Earlier tests' jobs finish on the controller a moment before the agent counts them.
    await eventually('the agent to be idle', async () => (agent.status().jobs.length === 0 ? true : undefined));
    const refusedBefore = agent.status().totals.refused;
    const succeededBefore = agent.status().totals.succeeded + agent.status().totals.failed;
    await sendRaw(JSON.stringify(build(jobId)));
    await eventually('the agent to refuse the message', async () => (agent.status().totals.refused > refusedBefore ? true : undefined));
    expect(await containersFor(jobId)).toEqual([]);
    expect(agent.status().totals.succeeded + agent.status().totals.failed).toBe(succeededBefore);
    expect(agent.status().jobs.map((j) => j.jobId)).not.toContain(jobId);
  });
});
