import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPlatform, type Platform } from '../../local/platform';
import { generateOpenApi } from '../../contract/src/openapi';
import { CheckedApi, newCheckedUser } from '../support/checked-api';

/**
 * Part A's capabilities over HTTP, through the local platform's API Gateway stand-in, the real
 * handlers, DynamoDB Local and fauxqs (no provider: jobs stay QUEUED). Every answer is checked
 * against the OpenAPI document; the last test asserts that none deviated.
 */
let platform: Platform;
let api: CheckedApi;
const image = `127.0.0.1:5000/chainfaas/sha256@sha256:${'c'.repeat(64)}`;
const resources = { vcpu: 0.5, memoryMb: 64, timeoutS: 10 };

beforeAll(async () => {
  platform = await startPlatform({ port: 0, dataDir: mkdtempSync(join(tmpdir(), 'chainfaas-http-')), provider: false, images: false, log: () => undefined });
  api = new CheckedApi(platform.apiUrl);
}, 300_000);

afterAll(async () => {
  await platform?.stop();
}, 60_000);

test('GET /openapi.json serves the document generated from the contract, without credentials', async () => {
  const res = await api.get('/openapi.json');
  expect(res.status).toBe(200);
  // Generated again here, not the served module's copy: the served bytes are the contract's.
  expect(res.body).toEqual(JSON.parse(JSON.stringify(generateOpenApi())));
  expect(Object.keys(res.body.components.schemas)).toEqual(expect.arrayContaining(['Job', 'FunctionDefinition', 'PeerDetail', 'Problem']));
});

test('accounts: several roles, log in, /me, API tokens created, listed, revoked', async () => {
  const dev = await newCheckedUser(api, ['developer', 'peer-operator']);
  const email = (await dev.api.get('/me')).body.email as string;
  const session = await api.post('/sessions', { email, password: 'correct horse battery' });
  expect(session.status).toBe(201);
  const me = await api.as(session.body.token).get('/me');
  expect(me.body).toMatchObject({ userId: dev.userId, roles: ['developer', 'peer-operator'] });
  expect(me.body.passwordHash).toBeUndefined();

  const created = await dev.api.post('/tokens', { name: 'ci' });
  expect(created.status).toBe(201);
  expect(created.headers.get('location')).toBe(`/tokens/${created.body.tokenId}`);
  const viaNew = api.as(created.body.token);
  expect((await viaNew.get('/me')).body.userId).toBe(dev.userId);
  const listed = await dev.api.get('/tokens');
  expect(listed.body.items.map((t: any) => t.name).sort()).toEqual(['ci', 'registration']);
  expect(JSON.stringify(listed.body)).not.toContain(created.body.token);

  expect((await dev.api.delete(`/tokens/${created.body.tokenId}`)).status).toBe(204);
  expect((await viaNew.get('/me')).status).toBe(401);
  expect((await dev.api.delete(`/tokens/${created.body.tokenId}`)).status).toBe(404);
});

test('functions: create, read, list, update to version 2, read version 1, delete (then 404 deleted on invoke)', async () => {
  const dev = await newCheckedUser(api, ['developer']);
  const created = await dev.api.post('/functions', { name: 'fn', image, resources, env: { A: '1' } });
  expect(created.status).toBe(201);
  const id = created.body.functionId as string;
  const updated = await dev.api.put(`/functions/${id}`, { name: 'fn', image, resources: { ...resources, memoryMb: 128 }, env: { A: '2' } });
  expect(updated.status).toBe(200);
  expect(updated.body).toMatchObject({ version: 2, resources: { memoryMb: 128 }, env: { A: '2' } });
  expect((await dev.api.get(`/functions/${id}?version=1`)).body).toMatchObject({ version: 1, env: { A: '1' } });
  expect((await dev.api.get('/functions')).body.items.map((f: any) => f.version)).toEqual([2]);

  expect((await dev.api.delete(`/functions/${id}`)).status).toBe(204);
  const refused = await dev.api.post(`/functions/${id}/invocations`, { input: 'x' });
  expect(refused.status).toBe(404);
  expect(refused.body.error).toMatchObject({ code: 'not_found', deleted: true });
  expect((await dev.api.get(`/functions/${id}`)).body.deletedAt).toEqual(expect.any(String));
  expect((await dev.api.get('/functions')).body.items).toEqual([]);
});

test('invocations: async 202 with Location, idempotency over HTTP, an uploaded input, a loopback callback in local mode', async () => {
  const dev = await newCheckedUser(api, ['developer']);
  const id = (await dev.api.post('/functions', { name: 'fn', image, resources, mode: 'async' })).body.functionId as string;

  const first = await dev.api.post(`/functions/${id}/invocations`, { input: 'x' }, { 'idempotency-key': 'req-1' });
  expect(first.status).toBe(202);
  expect(first.headers.get('location')).toBe(`/jobs/${first.body.jobId}`);
  expect(first.headers.get('idempotent-replayed')).toBeNull();
  const again = await dev.api.post(`/functions/${id}/invocations`, { input: 'x' }, { 'idempotency-key': 'req-1' });
  expect(again.status).toBe(202);
  expect(again.body.jobId).toBe(first.body.jobId);
  expect(again.headers.get('idempotent-replayed')).toBe('true');
  const clash = await dev.api.post(`/functions/${id}/invocations`, { input: 'y' }, { 'idempotency-key': 'req-1' });
  expect(clash.status).toBe(409);
  expect(clash.body.error.jobId).toBe(first.body.jobId);

  const data = Buffer.alloc(400 * 1024, 1);
  const upload = await dev.api.post(`/functions/${id}/inputs`, { size: data.length });
  expect(upload.status).toBe(201);
  expect((await fetch(upload.body.uploadUrl, { method: 'PUT', body: data })).status).toBe(200);
  const big = await dev.api.post(`/functions/${id}/invocations`, { inputUpload: upload.body.uploadId });
  expect(big.status).toBe(202);
  expect(big.body.input).toEqual({ kind: 'upload', size: data.length });

  const withCallback = await dev.api.post(`/functions/${id}/invocations`, { input: 'x', callbackUrl: 'http://127.0.0.1:9/hook' });
  expect(withCallback.status).toBe(202);
  expect(withCallback.body.callback).toEqual({ url: 'http://127.0.0.1:9/hook', event: 'job.finished', status: 'pending', attempts: 0 });
});

test('sync mode with nothing to run it answers 202 after waitS, with the job link', async () => {
  const dev = await newCheckedUser(api, ['developer']);
  const id = (await dev.api.post('/functions', { name: 'fn', image, resources })).body.functionId as string;
  const res = await dev.api.post(`/functions/${id}/invocations`, { input: 'x', waitS: 1 });
  expect(res.status).toBe(202);
  expect(res.body.status).toBe('QUEUED');
  expect(res.headers.get('location')).toBe(`/jobs/${res.body.jobId}`);
});

test('invoke keys over HTTP: x-api-key or Bearer invokes its function and reads its jobs only; revoked, it is refused', async () => {
  const dev = await newCheckedUser(api, ['developer']);
  const id = (await dev.api.post('/functions', { name: 'fn', image, resources, mode: 'async' })).body.functionId as string;
  const key = await dev.api.post(`/functions/${id}/keys`, { name: 'site' });
  expect(key.status).toBe(201);
  expect(key.body.key).toMatch(/^ik_/);
  const anon = new CheckedApi(platform.apiUrl, undefined, api.violations, api.checked);
  const viaHeader = await anon.post(`/functions/${id}/invocations`, { input: 'x' }, { 'x-api-key': key.body.key });
  expect(viaHeader.status).toBe(202);
  const viaBearer = await api.as(key.body.key).post(`/functions/${id}/invocations`, { input: 'y' });
  expect(viaBearer.status).toBe(202);
  expect((await anon.get(`/jobs/${viaHeader.body.jobId}`, { 'x-api-key': key.body.key })).status).toBe(200);
  expect((await dev.api.get(`/functions/${id}/keys`)).body.items.map((k: any) => k.tokenId)).toEqual([key.body.tokenId]);
  // Everything else refuses the key.
  expect((await api.as(key.body.key).get('/functions')).status).toBe(403);
  expect((await anon.get('/jobs', { 'x-api-key': key.body.key })).status).toBe(403);

  expect((await dev.api.delete(`/functions/${id}/keys/${key.body.tokenId}`)).status).toBe(204);
  expect((await anon.post(`/functions/${id}/invocations`, { input: 'x' }, { 'x-api-key': key.body.key })).status).toBe(401);
});

test('jobs: search with filters and a cursor, cancel a queued job (then 409)', async () => {
  const dev = await newCheckedUser(api, ['developer']);
  const a = (await dev.api.post('/functions', { name: 'a', image, resources, mode: 'async' })).body.functionId as string;
  const b = (await dev.api.post('/functions', { name: 'b', image, resources, mode: 'async' })).body.functionId as string;
  const made: string[] = [];
  for (const fn of [a, b, a, a, b]) made.push((await dev.api.post(`/functions/${fn}/invocations`, { input: 'x' })).body.jobId);

  const page1 = await dev.api.get(`/jobs?functionId=${a}&limit=2`);
  expect(page1.status).toBe(200);
  expect(page1.body.items).toHaveLength(2);
  const page2 = await dev.api.get(`/jobs?functionId=${a}&limit=2&cursor=${page1.body.next}`);
  expect([...page1.body.items, ...page2.body.items].map((j: any) => j.jobId)).toEqual([made[3], made[2], made[0]]);
  expect(page2.body.next).toBeUndefined();

  const cancelled = await dev.api.post(`/jobs/${made[1]}/cancel`);
  expect(cancelled.status).toBe(200);
  expect(cancelled.body.status).toBe('CANCELLED');
  expect((await dev.api.post(`/jobs/${made[1]}/cancel`)).status).toBe(409);
  const byStatus = await dev.api.get('/jobs?status=CANCELLED');
  expect(byStatus.body.items.map((j: any) => j.jobId)).toEqual([made[1]]);
  const range = await dev.api.get(`/jobs?from=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`);
  expect(range.body.items).toEqual([]);
});

test('every answer above matched the OpenAPI document', () => {
  expect(api.checked.size).toBeGreaterThan(5);
  expect(api.violations).toEqual([]);
});
