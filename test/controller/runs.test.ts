import { createHash, createPublicKey, verify } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPlatform, type Platform } from '../../local/platform';
import { eventually } from '../support/api';
import { CheckedApi, newCheckedUser } from '../support/checked-api';

/**
 * Part A with real runs: the whole local platform (DynamoDB Local, fauxqs, registry, Docker, one
 * provider agent, the embedded ledger). A large input goes through a presigned upload and reaches
 * the container through the envelope's URL; a retried sync invocation returns the first one's
 * result; an invoke key runs the function; a completion callback arrives signed.
 */
let platform: Platform;
let api: CheckedApi;
const resources = { vcpu: 0.5, memoryMb: 64, timeoutS: 20 };

beforeAll(async () => {
  platform = await startPlatform({ port: 0, dataDir: mkdtempSync(join(tmpdir(), 'chainfaas-runs-')), log: () => undefined });
  api = new CheckedApi(platform.apiUrl);
}, 300_000);

afterAll(async () => {
  await platform?.stop();
}, 60_000);

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

async function download(url: string): Promise<any> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return JSON.parse(Buffer.from(await res.arrayBuffer()).toString('utf8'));
}

test('an input over the inline limit is uploaded, referenced, fetched by the agent and hashed by the function', async () => {
  const dev = await newCheckedUser(api, ['developer']);
  const fn = (await dev.api.post('/functions', { name: 'sha256', image: platform.images.sha256, resources })).body.functionId as string;
  const data = Buffer.from('large input, '.repeat(40_000)); // ~520 KB, twice the inline limit
  const upload = await dev.api.post(`/functions/${fn}/inputs`, { size: data.length });
  expect(upload.status).toBe(201);
  expect((await fetch(upload.body.uploadUrl, { method: 'PUT', body: data })).status).toBe(200);

  const run = await dev.api.post(`/functions/${fn}/invocations`, { inputUpload: upload.body.uploadId });
  expect(run.status).toBe(200);
  expect(run.body).toMatchObject({ status: 'SUCCEEDED', input: { kind: 'upload', size: data.length } });
  const result = await download(run.body.resultUrl);
  expect(result).toMatchObject({ sha256: sha256(data), bytes: data.length });
});

test('a retried sync invocation with the same idempotency key returns the same job and result, not a second run', async () => {
  const dev = await newCheckedUser(api, ['developer']);
  const fn = (await dev.api.post('/functions', { name: 'sha256', image: platform.images.sha256, resources })).body.functionId as string;
  const first = await dev.api.post(`/functions/${fn}/invocations`, { input: 'pay once' }, { 'idempotency-key': 'payment-7' });
  expect(first.status).toBe(200);
  const retry = await dev.api.post(`/functions/${fn}/invocations`, { input: 'pay once' }, { 'idempotency-key': 'payment-7' });
  expect(retry.status).toBe(200);
  expect(retry.headers.get('idempotent-replayed')).toBe('true');
  expect(retry.body).toMatchObject({ jobId: first.body.jobId, status: 'SUCCEEDED', result: first.body.result });
  expect((await dev.api.get(`/jobs?functionId=${fn}`)).body.items).toHaveLength(1);
});

test('an end-user runs the function with its invoke key and reads the job; the developer sees it in the task list', async () => {
  const dev = await newCheckedUser(api, ['developer']);
  const fn = (await dev.api.post('/functions', { name: 'sha256', image: platform.images.sha256, resources })).body.functionId as string;
  const key = (await dev.api.post(`/functions/${fn}/keys`, { name: 'shop' })).body;
  const anon = new CheckedApi(platform.apiUrl, undefined, api.violations, api.checked);
  const run = await anon.post(`/functions/${fn}/invocations`, { input: 'from an end-user' }, { 'x-api-key': key.key });
  expect(run.status).toBe(200);
  expect(run.body).toMatchObject({ status: 'SUCCEEDED', invokeKeyId: key.tokenId });
  expect((await download(run.body.resultUrl)).sha256).toBe(sha256('from an end-user'));
  const listed = await dev.api.get(`/jobs?functionId=${fn}&status=SUCCEEDED`);
  expect(listed.body.items.map((j: any) => j.jobId)).toEqual([run.body.jobId]);
});

test('an updated function runs its new version; a job records the version it ran', async () => {
  const dev = await newCheckedUser(api, ['developer']);
  const fn = (await dev.api.post('/functions', { name: 'f', image: platform.images.sha256, resources })).body.functionId as string;
  const v1 = await dev.api.post(`/functions/${fn}/invocations`, { input: 'x' });
  expect(v1.body).toMatchObject({ functionVersion: 1, status: 'SUCCEEDED' });
  expect((await dev.api.put(`/functions/${fn}`, { name: 'f', image: platform.images.fail, resources })).body.version).toBe(2);
  const v2 = await dev.api.post(`/functions/${fn}/invocations`, { input: 'x' });
  expect(v2.body).toMatchObject({ functionVersion: 2, status: 'FAILED' });
  expect((await dev.api.get(`/jobs/${v1.body.jobId}`)).body).toMatchObject({ functionVersion: 1, status: 'SUCCEEDED' });
});

describe('callbacks', () => {
  let server: Server;
  const received: { body: string; signature: string }[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (d: Buffer) => chunks.push(d));
      req.on('end', () => {
        received.push({ body: Buffer.concat(chunks).toString('utf8'), signature: String(req.headers['x-chainfaas-signature']) });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  test('an async job with a callbackUrl: the receiver gets the finished job view, signed by the controller', async () => {
    const dev = await newCheckedUser(api, ['developer']);
    const fn = (await dev.api.post('/functions', { name: 'sha256', image: platform.images.sha256, resources, mode: 'async' })).body.functionId as string;
    const callbackUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/done`;
    const run = await dev.api.post(`/functions/${fn}/invocations`, { input: 'call me back', callbackUrl });
    expect(run.status).toBe(202);
    const delivery = await eventually('the callback', async () => received.find((r) => r.body.includes(run.body.jobId)), 30_000);
    const { publicKey } = (await api.get('/controller/public-key')).body;
    expect(verify(null, Buffer.from(delivery.body), createPublicKey(publicKey), Buffer.from(delivery.signature, 'base64'))).toBe(true);
    const payload = JSON.parse(delivery.body);
    expect(payload).toMatchObject({ event: 'job.finished', attempt: 1, job: { jobId: run.body.jobId, status: 'SUCCEEDED' } });
    expect((await download(payload.job.resultUrl)).sha256).toBe(sha256('call me back'));
    const job = await eventually('the delivery to be recorded', async () => {
      const res = await dev.api.get(`/jobs/${run.body.jobId}`);
      return res.body.callback?.status === 'delivered' ? res.body : undefined;
    });
    expect(job.callback).toMatchObject({ attempts: 1, deliveredAt: expect.any(String) });
  });
});

test('every answer above matched the OpenAPI document', () => {
  expect(api.violations).toEqual([]);
});
