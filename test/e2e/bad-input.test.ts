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
      // One report object: its timestamps must be the ones that were signed.
      ((report) => providerUser.post(`/providers/${providerId}/reports`, { report, signature: signPayload(report, providerKey.privateKeyPem) }))(validReport()),
    status: 404,
    code: 'not_found',
  },
  { name: 'unknown route', call: () => api.get('/nope'), status: 404, code: 'not_found' },
  { name: 'path: malformed percent-encoding', call: () => dev.get('/functions/%ff'), status: 400, code: 'invalid_request', message: /percent-encoding/ },
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

/** The routes of accounts, functions, invocations and jobs added with part A: the same rule, a named 4xx, never a 500. */
const del = (client: Api, path: string) => client.call('DELETE', path);
const partACases: Case[] = [
  { name: 'tokens: name of the wrong type', call: () => dev.post('/tokens', { name: 42 }), status: 400, code: 'invalid_request', field: 'name' },
  { name: 'tokens: lifetime too short', call: () => dev.post('/tokens', { expiresInS: 1 }), status: 400, code: 'invalid_request', field: 'expiresInS' },
  { name: 'tokens: unknown field', call: () => dev.post('/tokens', { scopes: ['all'] }), status: 400, code: 'invalid_request' },
  {
    name: 'tokens: malformed JSON',
    call: () => dev.call('POST', '/tokens', undefined, { raw: '{"name":' }),
    status: 400,
    code: 'invalid_request',
    message: /not valid JSON/,
  },
  { name: 'tokens: body over 1 MiB', call: () => dev.post('/tokens', { name: 'x'.repeat(1_100_000) }), status: 413, code: 'payload_too_large' },
  { name: 'tokens: revoke an unknown token', call: () => del(dev, '/tokens/tok_nope'), status: 404, code: 'not_found' },
  { name: 'tokens: revoke a malformed id', call: () => del(dev, '/tokens/not%20an%20id%00'), status: 404, code: 'not_found' },
  { name: 'functions: update an unknown function', call: () => dev.put('/functions/fn_nope', { name: 'x', image, resources }), status: 404, code: 'not_found' },
  {
    name: 'functions: update with a wrong type',
    call: () => dev.put(`/functions/${functionId}`, { name: 'x', image, resources: { ...resources, vcpu: 'one' } }),
    status: 400,
    code: 'invalid_request',
    field: 'resources.vcpu',
  },
  {
    name: 'functions: update without the image',
    call: () => dev.put(`/functions/${functionId}`, { name: 'x', resources }),
    status: 400,
    code: 'invalid_request',
    field: 'image',
  },
  {
    name: 'functions: update with malformed JSON',
    call: () => dev.call('PUT', `/functions/${functionId}`, undefined, { raw: '[' }),
    status: 400,
    code: 'invalid_request',
  },
  { name: 'functions: update with no body', call: () => dev.call('PUT', `/functions/${functionId}`), status: 400, code: 'invalid_request' },
  {
    name: 'functions: version of the wrong type',
    call: () => dev.get(`/functions/${functionId}?version=latest`),
    status: 400,
    code: 'invalid_request',
    field: 'version',
  },
  {
    name: 'functions: a version that does not exist',
    call: () => dev.get(`/functions/${functionId}?version=99`),
    status: 404,
    code: 'not_found',
    field: 'version',
  },
  { name: 'functions: unknown query parameter', call: () => dev.get(`/functions/${functionId}?expand=all`), status: 400, code: 'invalid_request' },
  { name: 'functions: delete an unknown function', call: () => del(dev, '/functions/fn_nope'), status: 404, code: 'not_found' },
  { name: 'keys: for an unknown function', call: () => dev.post('/functions/fn_nope/keys', {}), status: 404, code: 'not_found' },
  {
    name: 'keys: lifetime of the wrong type',
    call: () => dev.post(`/functions/${functionId}/keys`, { expiresInS: 'forever' }),
    status: 400,
    code: 'invalid_request',
    field: 'expiresInS',
  },
  { name: 'keys: list for an unknown function', call: () => dev.get('/functions/fn_nope/keys'), status: 404, code: 'not_found' },
  { name: 'keys: revoke an unknown key', call: () => del(dev, `/functions/${functionId}/keys/key_nope`), status: 404, code: 'not_found' },
  { name: 'inputs: missing size', call: () => dev.post(`/functions/${functionId}/inputs`, {}), status: 400, code: 'invalid_request', field: 'size' },
  { name: 'inputs: negative size', call: () => dev.post(`/functions/${functionId}/inputs`, { size: -1 }), status: 400, code: 'invalid_request', field: 'size' },
  {
    name: 'inputs: over the upload limit',
    call: () => dev.post(`/functions/${functionId}/inputs`, { size: 1e12 }),
    status: 400,
    code: 'invalid_request',
    field: 'size',
  },
  { name: 'inputs: unknown function', call: () => dev.post('/functions/fn_nope/inputs', { size: 10 }), status: 404, code: 'not_found' },
  {
    name: 'invoke: callbackUrl not a URL',
    call: () => dev.post(`/functions/${functionId}/invocations`, { callbackUrl: 'later please' }),
    status: 400,
    code: 'invalid_request',
    field: 'callbackUrl',
  },
  {
    name: 'invoke: callbackUrl to a private address',
    call: () => dev.post(`/functions/${functionId}/invocations`, { callbackUrl: 'https://169.254.169.254/x' }),
    status: 400,
    code: 'invalid_request',
    field: 'callbackUrl',
  },
  {
    name: 'invoke: malformed inputUpload',
    call: () => dev.post(`/functions/${functionId}/invocations`, { inputUpload: '../etc' }),
    status: 400,
    code: 'invalid_request',
    field: 'inputUpload',
  },
  {
    name: 'invoke: unknown inputUpload',
    call: () => dev.post(`/functions/${functionId}/invocations`, { inputUpload: 'in_doesnotexist1' }),
    status: 404,
    code: 'not_found',
    field: 'inputUpload',
  },
  {
    name: 'invoke: waitS of the wrong type',
    call: () => dev.post(`/functions/${functionId}/invocations`, { waitS: '5' }),
    status: 400,
    code: 'invalid_request',
    field: 'waitS',
  },
  {
    name: 'invoke: unknown mode',
    call: () => dev.post(`/functions/${functionId}/invocations`, { mode: 'later' }),
    status: 400,
    code: 'invalid_request',
    field: 'mode',
  },
  { name: 'invoke: a JSON array as the body', call: () => dev.post(`/functions/${functionId}/invocations`, ['x']), status: 400, code: 'invalid_request' },
  {
    name: 'invoke: idempotency-key with spaces',
    call: () => dev.call('POST', `/functions/${functionId}/invocations`, { input: 'x' }, { headers: { 'idempotency-key': 'two words' } }),
    status: 400,
    code: 'invalid_request',
    field: 'idempotency-key',
  },
  {
    name: 'invoke: an x-api-key that is not an invoke key',
    call: () => api.call('POST', `/functions/${functionId}/invocations`, { input: 'x' }, { headers: { 'x-api-key': 'hunter2' } }),
    status: 401,
    code: 'unauthenticated',
  },
  { name: 'jobs: unknown status', call: () => dev.get('/jobs?status=DONE'), status: 400, code: 'invalid_request', field: 'status' },
  { name: 'jobs: limit too large', call: () => dev.get('/jobs?limit=1000'), status: 400, code: 'invalid_request', field: 'limit' },
  { name: 'jobs: from not a date', call: () => dev.get('/jobs?from=yesterday'), status: 400, code: 'invalid_request', field: 'from' },
  { name: 'jobs: a forged cursor', call: () => dev.get('/jobs?cursor=AAAA'), status: 400, code: 'invalid_request', field: 'cursor' },
  { name: 'jobs: unknown query parameter', call: () => dev.get('/jobs?sort=asc'), status: 400, code: 'invalid_request' },
  { name: 'jobs: cancel an unknown job', call: () => dev.post('/jobs/job_nope/cancel'), status: 404, code: 'not_found' },
];

test.each(partACases)('$name → $status $code', async ({ call, status, code, field, message }) => {
  const res = await call();
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/application\/json/);
  expect(res.body.error.code).toBe(code);
  expect(typeof res.body.error.message).toBe('string');
  expect(res.body.error.message.length).toBeGreaterThan(5);
  if (field) expect(res.body.error.field).toBe(field);
  if (message) expect(res.body.error.message).toMatch(message);
});
