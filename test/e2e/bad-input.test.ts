import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, signPayload } from '../../lambdas/core/signing';
import { startPlatform, Platform } from '../../local/platform';
import { Api, newUser } from '../support/api';

/**
 * Bad input on every endpoint of the slice: a 4xx with a JSON problem body that names the
 * problem (and the field, where there is one) — never a 500, never a half-written record.
 */
let platform: Platform;
let api: Api;
let dev: Api;
let providerUser: Api;
let functionId: string;
let providerId: string;
const providerKey = generateKeyPair();
const image = `127.0.0.1:5000/chainfaas/sha256@sha256:${'a'.repeat(64)}`;
const resources = { vcpu: 0.5, memoryMb: 64, timeoutS: 10 };

beforeAll(async () => {
  platform = await startPlatform({ port: 0, dataDir: mkdtempSync(join(tmpdir(), 'chainfaas-bad-')), provider: false, images: false, log: () => undefined });
  api = new Api(platform.apiUrl);
  dev = (await newUser(api, ['developer'])).api;
  providerUser = (await newUser(api, ['provider'])).api;
  functionId = (await dev.post('/functions', { name: 'fn', image, resources })).body.functionId;
  providerId = (await providerUser.post('/providers', { name: 'p', capacity: { vcpu: 1, memoryMb: 512 }, publicKey: providerKey.publicKeyPem })).body
    .providerId;
}, 300_000);

afterAll(async () => {
  await platform?.stop();
}, 60_000);

const validReport = (overrides: Record<string, unknown> = {}) => ({
  v: 1,
  jobId: 'job_doesnotexist',
  providerId,
  attempt: 1,
  status: 'succeeded',
  exitCode: 0,
  runtimeMs: 10,
  resultSha256: 'a'.repeat(64),
  resultSize: 1,
  logSize: 0,
  startedAt: new Date().toISOString(),
  finishedAt: new Date().toISOString(),
  ...overrides,
});

interface Case {
  name: string;
  call: () => Promise<{ status: number; body: any; headers: Headers }>;
  status: number;
  code: string;
  field?: string;
  message?: RegExp;
}

const cases: Case[] = [
  {
    name: 'register: malformed JSON',
    call: () => api.call('POST', '/users', undefined, { raw: '{"email":' }),
    status: 400,
    code: 'invalid_request',
    message: /not valid JSON/,
  },
  {
    name: 'register: missing password',
    call: () => api.post('/users', { email: 'a@b.test', roles: ['developer'] }),
    status: 400,
    code: 'invalid_request',
    field: 'password',
  },
  {
    name: 'register: unknown role',
    call: () => api.post('/users', { email: 'a@b.test', password: 'long enough pw', roles: ['admin'] }),
    status: 400,
    code: 'invalid_request',
    field: 'roles.0',
  },
  {
    name: 'register: wrong type',
    call: () => api.post('/users', { email: 42, password: 'long enough pw', roles: ['developer'] }),
    status: 400,
    code: 'invalid_request',
    field: 'email',
  },
  {
    name: 'register: not JSON content type',
    call: () => api.call('POST', '/users', undefined, { raw: 'email=a', headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
    status: 400,
    code: 'invalid_request',
    message: /content-type/,
  },
  {
    name: 'login: wrong password',
    call: () => api.post('/sessions', { email: 'nobody@example.test', password: 'whatever' }),
    status: 401,
    code: 'unauthenticated',
  },
  { name: 'functions: no token', call: () => api.post('/functions', { name: 'x', image, resources }), status: 401, code: 'unauthenticated' },
  { name: 'functions: forged token', call: () => api.as('cf_' + 'x'.repeat(43)).get('/functions'), status: 401, code: 'unauthenticated' },
  {
    name: 'functions: image without digest',
    call: () => dev.post('/functions', { name: 'x', image: '127.0.0.1:5000/chainfaas/sha256:latest', resources }),
    status: 400,
    code: 'invalid_request',
    field: 'image',
    message: /digest/,
  },
  { name: 'functions: missing resources', call: () => dev.post('/functions', { name: 'x', image }), status: 400, code: 'invalid_request', field: 'resources' },
  {
    name: 'functions: timeout above the platform maximum',
    call: () => dev.post('/functions', { name: 'x', image, resources: { ...resources, timeoutS: 100000 } }),
    status: 400,
    code: 'invalid_request',
    field: 'resources.timeoutS',
  },
  { name: 'functions: unknown field', call: () => dev.post('/functions', { name: 'x', image, resources, gpu: true }), status: 400, code: 'invalid_request' },
  {
    name: 'functions: provider-only account',
    call: () => providerUser.post('/functions', { name: 'x', image, resources }),
    status: 403,
    code: 'forbidden',
    message: /developer role/,
  },
  { name: 'functions: unknown function', call: () => dev.get('/functions/fn_nope'), status: 404, code: 'not_found' },
  { name: "functions: another user's function", call: () => providerUser.get(`/functions/${functionId}`), status: 404, code: 'not_found' },
  { name: 'invoke: unknown function', call: () => dev.post('/functions/fn_nope/invocations', { input: 'x' }), status: 404, code: 'not_found' },
  {
    name: 'invoke: input and inputBase64',
    call: () => dev.post(`/functions/${functionId}/invocations`, { input: 'x', inputBase64: 'eA==' }),
    status: 400,
    code: 'invalid_request',
    field: 'inputBase64',
  },
  {
    name: 'invoke: body over 1 MiB',
    call: () => dev.post(`/functions/${functionId}/invocations`, { input: 'x'.repeat(1_100_000) }),
    status: 413,
    code: 'payload_too_large',
  },
  {
    name: 'invoke: input over the inline limit',
    call: () => dev.post(`/functions/${functionId}/invocations`, { input: 'x'.repeat(300_000) }),
    status: 413,
    code: 'payload_too_large',
    field: 'input',
  },
  { name: 'jobs: unknown job', call: () => dev.get('/jobs/job_nope'), status: 404, code: 'not_found' },
  { name: 'jobs: unknown job ledger', call: () => dev.get('/jobs/job_nope/ledger'), status: 404, code: 'not_found' },
  {
    name: 'providers: developer-only account',
    call: () => dev.post('/providers', { name: 'p', capacity: { vcpu: 1, memoryMb: 512 }, publicKey: providerKey.publicKeyPem }),
    status: 403,
    code: 'forbidden',
  },
  {
    name: 'providers: not a public key',
    call: () =>
      providerUser.post('/providers', {
        name: 'p',
        capacity: { vcpu: 1, memoryMb: 512 },
        publicKey: '-----BEGIN PUBLIC KEY-----\nnot a key at all, really not\n-----END PUBLIC KEY-----',
      }),
    status: 400,
    code: 'invalid_request',
    field: 'publicKey',
  },
  {
    name: 'providers: negative capacity',
    call: () => providerUser.post('/providers', { name: 'p', capacity: { vcpu: -1, memoryMb: 512 }, publicKey: providerKey.publicKeyPem }),
    status: 400,
    code: 'invalid_request',
    field: 'capacity.vcpu',
  },
  { name: "heartbeat: another user's provider", call: () => dev.put(`/providers/${providerId}/heartbeat`, {}), status: 404, code: 'not_found' },
  {
    name: 'report: malformed report',
    call: () => providerUser.post(`/providers/${providerId}/reports`, { report: { jobId: 1 }, signature: 'x' }),
    status: 400,
    code: 'invalid_request',
  },
  {
    name: 'report: bad signature',
    call: () => providerUser.post(`/providers/${providerId}/reports`, { report: validReport(), signature: Buffer.alloc(64).toString('base64') }),
    status: 403,
    code: 'forbidden',
    message: /signature/,
  },
  {
    name: 'report: unknown job (signed correctly)',
    call: () =>
      providerUser.post(`/providers/${providerId}/reports`, { report: validReport(), signature: signPayload(validReport(), providerKey.privateKeyPem) }),
    status: 404,
    code: 'not_found',
  },
  { name: 'unknown route', call: () => api.get('/nope'), status: 404, code: 'not_found' },
  { name: 'wrong method', call: () => api.call('DELETE', '/users'), status: 405, code: 'method_not_allowed' },
];

test.each(cases)('$name → $status $code', async ({ call, status, code, field, message }) => {
  const res = await call();
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/application\/json/);
  expect(res.body.error.code).toBe(code);
  expect(typeof res.body.error.message).toBe('string');
  expect(res.body.error.message.length).toBeGreaterThan(5);
  if (field) expect(res.body.error.field).toBe(field);
  if (message) expect(res.body.error.message).toMatch(message);
});

test('a rejected registration writes nothing: the same email can register afterwards, and only once', async () => {
  const email = `once${Date.now()}@example.test`;
  expect((await api.post('/users', { email, password: 'short', roles: ['developer'] })).status).toBe(400);
  expect((await api.post('/users', { email, password: 'long enough pw', roles: ['developer'] })).status).toBe(201);
  const again = await api.post('/users', { email, password: 'long enough pw', roles: ['developer'] });
  expect(again.status).toBe(409);
  expect(again.body.error.code).toBe('conflict');
});
