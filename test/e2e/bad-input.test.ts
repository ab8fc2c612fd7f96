import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, signPayload } from '../../contract/src';
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
  { name: "provider: another user's provider", call: () => dev.get(`/providers/${providerId}`), status: 404, code: 'not_found' },
  { name: 'provider: unknown provider', call: () => providerUser.get('/providers/prv_nope'), status: 404, code: 'not_found' },
  { name: 'provider: an id longer than any key', call: () => providerUser.get(`/providers/prv_${'x'.repeat(3000)}`), status: 404, code: 'not_found' },
  { name: 'heartbeat: an id longer than any key', call: () => providerUser.put(`/providers/prv_${'x'.repeat(3000)}/heartbeat`, {}), status: 404, code: 'not_found' },
  { name: 'credentials: an id longer than any key', call: () => providerUser.post(`/providers/prv_${'x'.repeat(3000)}/credentials`), status: 404, code: 'not_found' },
  {
    name: 'report: an id longer than any key',
    call: () => providerUser.post(`/providers/prv_${'x'.repeat(3000)}/reports`, { report: validReport(), signature: Buffer.alloc(64).toString('base64') }),
    status: 404,
    code: 'not_found',
  },
  { name: 'earnings: an id longer than any key', call: () => providerUser.get(`/providers/prv_${'x'.repeat(3000)}/earnings`), status: 404, code: 'not_found' },
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

/** Invoice terms (the operator's route) and bill payments: a named 4xx, never a 500, nothing queued. */
describe('invoice terms and bill payments', () => {
  let operator: Api;
  let devId: string;
  const month = () => new Date().toISOString().slice(0, 7);
  beforeAll(async () => {
    const op = await newUser(api, ['developer']);
    operator = op.api;
    process.env.OPERATOR_USER_IDS = op.userId;
    devId = (await dev.get('/me')).body.userId;
  }, 60_000);
  afterAll(() => {
    delete process.env.OPERATOR_USER_IDS;
  });
  const terms = (body: unknown, id?: string) => operator.put(`/operator/accounts/${id ?? devId}/terms`, body);
  const billingCases: Case[] = [
    { name: 'terms: unknown terms', call: () => terms({ terms: 'monthly' }), status: 400, code: 'invalid_request', field: 'terms' },
    { name: 'terms: invoice without a credit limit', call: () => terms({ terms: 'invoice' }), status: 400, code: 'invalid_request', field: 'creditLimit' },
    { name: 'terms: negative credit limit', call: () => terms({ terms: 'invoice', creditLimit: -1 }), status: 400, code: 'invalid_request', field: 'creditLimit' },
    { name: 'terms: fractional credit limit', call: () => terms({ terms: 'invoice', creditLimit: 1.5 }), status: 400, code: 'invalid_request', field: 'creditLimit' },
    { name: 'terms: prepaid with a credit limit', call: () => terms({ terms: 'prepaid', creditLimit: 5 }), status: 400, code: 'invalid_request', field: 'creditLimit' },
    { name: 'terms: unknown field', call: () => terms({ terms: 'prepaid', limit: 5 }), status: 400, code: 'invalid_request' },
    { name: 'terms: malformed JSON', call: () => operator.call('PUT', `/operator/accounts/${devId}/terms`, undefined, { raw: '{"terms":' }), status: 400, code: 'invalid_request' },
    { name: 'terms: unknown account', call: () => terms({ terms: 'prepaid' }, 'usr_nope'), status: 404, code: 'not_found' },
    { name: 'terms: malformed account id', call: () => terms({ terms: 'prepaid' }, 'a%20b'), status: 404, code: 'not_found' },
    { name: 'terms: not the operator', call: () => dev.put(`/operator/accounts/${devId}/terms`, { terms: 'invoice', creditLimit: 1 }), status: 403, code: 'forbidden' },
    { name: 'pay: malformed month', call: () => dev.post('/account/bills/2024-13/pay'), status: 400, code: 'invalid_request', field: 'month' },
    { name: 'pay: the open month', call: () => dev.post(`/account/bills/${month()}/pay`), status: 409, code: 'conflict', message: /still open/ },
    { name: 'pay: a prepaid month', call: () => dev.post('/account/bills/2020-01/pay'), status: 409, code: 'conflict', message: /prepaid/ },
  ];
  test.each(billingCases)('$name → $status $code', async ({ call, status, code, field, message }) => {
    const res = await call();
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(res.body.error.code).toBe(code);
    expect(res.body.error.message.length).toBeGreaterThan(5);
    if (field) expect(res.body.error.field).toBe(field);
    if (message) expect(res.body.error.message).toMatch(message);
  });
  test('refused terms queue nothing: the account is still prepaid', async () => {
    await platform.flushLedger();
    expect((await dev.get('/account')).body).toMatchObject({ terms: 'prepaid', creditLimit: 0 });
  });
});

describe('peers (POST /peers on the embedded ledger)', () => {
  let peerOperator: Api;
  const csrs = { sign: '', tls: '' };
  beforeAll(async () => {
    peerOperator = (await newUser(api, ['peer-operator'])).api;
    const { execFileSync } = await import('node:child_process');
    const dir = mkdtempSync(join(tmpdir(), 'chainfaas-bad-csr-'));
    for (const name of ['sign', 'tls'] as const) {
      execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', join(dir, `${name}.pem`)], { stdio: 'pipe' });
      csrs[name] = execFileSync('openssl', ['req', '-new', '-key', join(dir, `${name}.pem`), '-subj', '/CN=x'], { stdio: 'pipe' }).toString();
    }
  });
  const body = (overrides: Record<string, unknown> = {}) => ({ name: 'box', endpoint: 'peer.example.org:7051', signCsr: csrs.sign, tlsCsr: csrs.tls, ...overrides });
  const peerCases: Case[] = [
    { name: 'peers: developer-only account', call: () => dev.post('/peers', body()), status: 403, code: 'forbidden' },
    { name: 'peers: missing signCsr', call: () => peerOperator.post('/peers', body({ signCsr: undefined })), status: 400, code: 'invalid_request', field: 'signCsr' },
    { name: 'peers: signCsr not a CSR', call: () => peerOperator.post('/peers', body({ signCsr: 'hello' })), status: 400, code: 'invalid_request', field: 'signCsr' },
    { name: 'peers: tlsCsr for the signing key', call: () => peerOperator.post('/peers', body({ tlsCsr: csrs.sign })), status: 400, code: 'invalid_request', field: 'tlsCsr' },
    { name: 'peers: endpoint without a port', call: () => peerOperator.post('/peers', body({ endpoint: 'peer.example.org' })), status: 400, code: 'invalid_request', field: 'endpoint' },
    { name: 'peers: endpoint port 70000', call: () => peerOperator.post('/peers', body({ endpoint: 'peer.example.org:70000' })), status: 400, code: 'invalid_request', field: 'endpoint' },
    { name: 'peers: unknown field', call: () => peerOperator.post('/peers', body({ admin: true })), status: 400, code: 'invalid_request' },
    { name: 'peers: malformed JSON', call: () => peerOperator.call('POST', '/peers', undefined, { raw: '{"name":' }), status: 400, code: 'invalid_request' },
    { name: 'peers: a valid request, but the ledger is embedded', call: () => peerOperator.post('/peers', body()), status: 409, code: 'conflict', message: /embedded/ },
    { name: 'peers: unknown peer', call: () => peerOperator.get('/peers/peer_nope'), status: 404, code: 'not_found' },
    { name: 'peers: malformed peer id', call: () => peerOperator.call('DELETE', '/peers/a%20b'), status: 404, code: 'not_found' },
  ];
  test.each(peerCases)('$name → $status $code', async ({ call, status, code, field, message }) => {
    const res = await call();
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(res.body.error.code).toBe(code);
    if (field) expect(res.body.error.field).toBe(field);
    if (message) expect(res.body.error.message).toMatch(message);
  });
  test('refused enrolments wrote nothing', async () => {
    expect((await peerOperator.get('/peers')).body).toMatchObject({ items: [] });
  });
});

describe('#18: hostile input that used to be repaired silently', () => {
  const invoke = (init: { raw: string | Uint8Array }) => dev.call('POST', `/functions/${functionId}/invocations`, undefined, init);
  const jobsOfFunction = async () => (await dev.get(`/jobs?functionId=${functionId}`)).body.items.length as number;

  test('#18 item 2: inputBase64 that is not canonical base64 is refused naming the field, and no job is written', async () => {
    const before = await jobsOfFunction();
    for (const bad of ['!!!!', 'eA', 'eB==', 'e A==', 'eA==\n', '-_8=']) {
      const res = await dev.post(`/functions/${functionId}/invocations`, { inputBase64: bad, mode: 'async' });
      expect({ bad, status: res.status, code: res.body.error?.code, field: res.body.error?.field }).toEqual({ bad, status: 400, code: 'invalid_request', field: 'inputBase64' });
      expect(res.body.error.message).toMatch(/^inputBase64: must be canonical base64/);
    }
    expect(await jobsOfFunction()).toBe(before);
    const good = await dev.post(`/functions/${functionId}/invocations`, { inputBase64: 'eA==', mode: 'async' });
    expect(good.status).toBe(202);
    expect(await jobsOfFunction()).toBe(before + 1);
  });

  test('#18 item 3: a body with invalid UTF-8 is refused, and so is a lone surrogate inside input (named); a real pair passes', async () => {
    const before = await jobsOfFunction();
    const rawBytes = Buffer.concat([Buffer.from('{"mode":"async","input":"a'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    const bytes = await invoke({ raw: new Uint8Array(rawBytes) });
    expect(bytes.status).toBe(400);
    expect(bytes.body.error).toMatchObject({ code: 'invalid_request', field: '(body)', message: 'the body is not valid UTF-8' });
    for (const raw of ['{"mode":"async","input":"\\ud800"}', '{"mode":"async","input":{"k":["x\\udc00"]}}', '{"mode":"async","input":{"\\ud800":1}}']) {
      const res = await invoke({ raw });
      expect({ raw, status: res.status, field: res.body.error?.field }).toEqual({ raw, status: 400, field: 'input' });
      expect(res.body.error.message).toMatch(/^input: must be valid Unicode/);
    }
    expect(await jobsOfFunction()).toBe(before);
    const pair = await invoke({ raw: '{"mode":"async","input":"\\ud83d\\ude00"}' });
    expect(pair.status).toBe(202);
  });

  test('#18 item 5: a report with a bad field names it with its place in the body (report.runtimeMs)', async () => {
    const report = validReport({ runtimeMs: -1 });
    const res = await providerUser.post(`/providers/${providerId}/reports`, { report, signature: signPayload(report, providerKey.privateKeyPem) });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'invalid_request', field: 'report.runtimeMs', message: expect.stringMatching(/^report\.runtimeMs: /) });
    const missing = await providerUser.post(`/providers/${providerId}/reports`, { report: 'not an object', signature: 'x' });
    expect(missing.body.error.field).toBe('report');
  });
});
