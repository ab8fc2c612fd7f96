import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, OPERATIONS, signPayload, type Operation } from '../../contract/src';
import { ROUTES } from '../../lambdas/handlers/manifest';
import { startPlatform, type Platform } from '../../local/platform';
import type { ApiResponse } from '../support/api';
import { CheckedApi, newCheckedUser } from '../support/checked-api';

/**
 * Authorisation over EVERY endpoint of the manifest, table-driven:
 *
 * 1. without credentials, every authenticated route answers 401;
 * 2. with an invoke key, every route an invoke key may not use answers 403, and the three it may
 *    use (invoke its function, presign an input upload for it, read a job it created) refuse
 *    anything else with 404;
 * 3. a second user (mallory, with every role) can never read or act on the first user's (alice's)
 *    functions, versions, keys, tokens, uploads, jobs, results, ledger records, providers or
 *    account: each route has at least one such case, the answer is 404/403 (never alice's data),
 *    and afterwards alice's resource is unchanged.
 *
 * A route added to the manifest without a case here fails the coverage test. Every answer is also
 * checked against the OpenAPI document.
 */
let platform: Platform;
let api: CheckedApi;

interface World {
  alice: CheckedApi;
  aliceId: string;
  aliceToken: string;
  mallory: CheckedApi;
  malloryId: string;
  fnA: string;
  fnA2: string;
  fnM: string;
  jobA: string;
  /** A job alice's key created. */
  jobByKeyA: string;
  tokA: string;
  keyA: { tokenId: string; key: string };
  keyM: { tokenId: string; key: string };
  prvA: string;
  uploadA: string;
}
let w: World;

const image = `127.0.0.1:5000/chainfaas/sha256@sha256:${'d'.repeat(64)}`;
// More memory than any provider here offers: alice's jobs stay QUEUED (so a refused cancel is visible).
const resources = { vcpu: 0.5, memoryMb: 4096, timeoutS: 10 };
const providerKey = generateKeyPair();

beforeAll(async () => {
  platform = await startPlatform({ port: 0, dataDir: mkdtempSync(join(tmpdir(), 'chainfaas-authz-')), provider: false, images: false, log: () => undefined });
  api = new CheckedApi(platform.apiUrl);
  const alice = await newCheckedUser(api, ['developer', 'provider', 'peer-operator']);
  const mallory = await newCheckedUser(api, ['developer', 'provider', 'peer-operator']);
  const fn = async (who: CheckedApi, name: string) =>
    (await who.post('/functions', { name, image, resources, mode: 'async', env: { SECRET_NAME: name } })).body.functionId as string;
  const fnA = await fn(alice.api, 'alice-fn');
  const fnA2 = await fn(alice.api, 'alice-other');
  const fnM = await fn(mallory.api, 'mallory-fn');
  await alice.api.put(`/functions/${fnA}`, { name: 'alice-fn', image, resources, mode: 'async', env: { SECRET_NAME: 'v2' } });
  const keyA = (await alice.api.post(`/functions/${fnA}/keys`, { name: 'alice-site' })).body;
  const keyM = (await mallory.api.post(`/functions/${fnM}/keys`, {})).body;
  const jobA = (await alice.api.post(`/functions/${fnA}/invocations`, { input: 'alice input' })).body.jobId as string;
  const jobByKeyA = (await api.post(`/functions/${fnA}/invocations`, { input: 'via key' }, { 'x-api-key': keyA.key })).body.jobId as string;
  const tokA = (await alice.api.post('/tokens', { name: 'alice-ci' })).body.tokenId as string;
  const prvA = (await alice.api.post('/providers', { name: 'alice-box', capacity: { vcpu: 1, memoryMb: 512 }, publicKey: providerKey.publicKeyPem })).body
    .providerId as string;
  const uploadA = (await alice.api.post(`/functions/${fnA}/inputs`, { size: 5 })).body.uploadId as string;
  w = {
    alice: alice.api,
    aliceId: alice.userId,
    aliceToken: alice.token,
    mallory: mallory.api,
    malloryId: mallory.userId,
    fnA,
    fnA2,
    fnM,
    jobA,
    jobByKeyA,
    tokA,
    keyA: { tokenId: keyA.tokenId, key: keyA.key },
    keyM: { tokenId: keyM.tokenId, key: keyM.key },
    prvA,
    uploadA,
  };
  for (const [name, value] of Object.entries(w)) if (value === undefined) throw new Error(`setup failed: ${name}`);
}, 300_000);

afterAll(async () => {
  await platform?.stop();
}, 60_000);

/** The route's path with alice's resources in it. */
function alicePath(path: string): string {
  return path
    .replace('{functionId}', w.fnA)
    .replace('{jobId}', w.jobA)
    .replace('{providerId}', w.prvA)
    .replace('{tokenId}', w.tokA)
    .replace('{keyId}', w.keyA.tokenId);
}

/** A body the route would accept from alice (so a refusal is about who calls, not what is sent). */
function validBody(routeKey: string): unknown {
  switch (routeKey) {
    case 'POST /functions':
    case 'PUT /functions/{functionId}':
      return { name: 'x', image, resources };
    case 'POST /functions/{functionId}/invocations':
      return { input: 'x' };
    case 'POST /functions/{functionId}/inputs':
      return { size: 5 };
    case 'POST /providers':
      return { name: 'p', capacity: { vcpu: 1, memoryMb: 512 }, publicKey: providerKey.publicKeyPem };
    case 'POST /operator/dlq/redrive':
      return { all: true };
    default:
      return ['POST', 'PUT'].some((m) => routeKey.startsWith(m)) ? {} : undefined;
  }
}

const ROUTE_KEYS = ROUTES.map((r) => `${r.method} ${r.path}`);
const AUTHENTICATED = ROUTES.filter((r) => r.auth).map((r) => `${r.method} ${r.path}`);
/** The only routes an invoke key may call. */
const KEY_ROUTES = ['POST /functions/{functionId}/invocations', 'POST /functions/{functionId}/inputs', 'GET /jobs/{jobId}'];

const send = (client: CheckedApi, routeKey: string, headers: Record<string, string> = {}) => {
  const [method, path] = routeKey.split(' ') as [string, string];
  const body = validBody(routeKey);
  return client.call(method, alicePath(path), body, { headers });
};

/** Nothing of alice's leaks into a refusal. */
function leaksNothing(res: ApiResponse) {
  const text = JSON.stringify(res.body ?? '');
  for (const secret of [w.aliceId, w.aliceToken, w.keyA.key, 'alice input', 'alice-fn', 'alice-ci', 'alice-box']) expect(text).not.toContain(secret);
}

describe('1. without credentials', () => {
  test.each(AUTHENTICATED)('%s → 401', async (routeKey) => {
    const res = await send(api, routeKey);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('unauthenticated');
    leaksNothing(res);
  });
});

describe('2. with an invoke key', () => {
  const refused = AUTHENTICATED.filter((r) => !KEY_ROUTES.includes(r));

  test.each(refused)('%s → 403 (Bearer ik_…)', async (routeKey) => {
    const res = await send(api.as(w.keyA.key), routeKey);
    expect(res.status).toBe(403);
    expect(res.body.error.message).toMatch(/invoke key/);
    leaksNothing(res);
  });

  test.each(ROUTE_KEYS.filter((r) => !KEY_ROUTES.includes(r)))('#18 item 4: %s → 403 (x-api-key: ik_…), the same answer on every route', async (routeKey) => {
    const res = await send(api, routeKey, { 'x-api-key': w.keyA.key });
    expect(res.status).toBe(403);
    expect(res.body.error).toMatchObject({ code: 'forbidden', message: expect.stringMatching(/^an invoke key may only invoke its function/) });
    leaksNothing(res);
  });

  test("#18 item 4: the routes an invoke key may use are the contract's user-or-key operations", () => {
    expect(Object.entries(OPERATIONS as Record<string, Operation>).filter(([, op]) => op.auth === 'user-or-key').map(([key]) => key).sort()).toEqual([...KEY_ROUTES].sort());
  });

  test.each(KEY_ROUTES)("%s with mallory's key on alice's resource → 404", async (routeKey) => {
    const res = await send(api, routeKey, { 'x-api-key': w.keyM.key });
    expect(res.status).toBe(404);
    leaksNothing(res);
  });

  test("alice's key: not on her other function, not on jobs she created without the key; yes on its own", async () => {
    const withKey = { 'x-api-key': w.keyA.key };
    expect((await api.post(`/functions/${w.fnA2}/invocations`, { input: 'x' }, withKey)).status).toBe(404);
    expect((await api.post(`/functions/${w.fnA2}/inputs`, { size: 5 }, withKey)).status).toBe(404);
    expect((await api.get(`/jobs/${w.jobA}`, withKey)).status).toBe(404);
    const own = await api.get(`/jobs/${w.jobByKeyA}`, withKey);
    expect(own.status).toBe(200);
    expect(own.body.jobId).toBe(w.jobByKeyA);
    // An upload alice asked for with her token is not the key's to use.
    expect((await api.post(`/functions/${w.fnA}/invocations`, { inputUpload: w.uploadA }, withKey)).status).toBe(404);
  });
});

interface Case {
  name: string;
  run: () => Promise<ApiResponse>;
  status: number;
  /** Checks afterwards that alice's resource is as it was. */
  unchanged?: () => Promise<void>;
}

const aliceFunctionUnchanged = async () => {
  const fn = await w.alice.get(`/functions/${w.fnA}`);
  expect(fn.status).toBe(200);
  expect(fn.body).toMatchObject({ version: 2, env: { SECRET_NAME: 'v2' } });
  expect(fn.body.deletedAt).toBeUndefined();
};
const aliceJobQueued = async () => expect((await w.alice.get(`/jobs/${w.jobA}`)).body.status).toBe('QUEUED');
const aliceKeyWorks = async () => expect((await api.get(`/jobs/${w.jobByKeyA}`, { 'x-api-key': w.keyA.key })).status).toBe(200);
const aliceTokenListed = async () => expect((await w.alice.get('/tokens')).body.items.map((t: any) => t.tokenId)).toContain(w.tokA);

/** Mallory (every role, own resources) against alice's: at least one case per route. */
const CROSS_USER: () => Record<string, Case[]> = () => ({
  'POST /users': [
    {
      name: "register with alice's email",
      run: () => api.post('/users', { email: emailOf.alice, password: 'another long password', roles: ['developer'] }),
      status: 409,
      unchanged: async () => expect((await w.alice.get('/me')).status).toBe(200),
    },
  ],
  'POST /sessions': [
    {
      name: 'log in as alice with a guessed password',
      run: () => api.post('/sessions', { email: emailOf.alice, password: 'correct horse battery?' }),
      status: 401,
    },
  ],
  'GET /me': [{ name: 'mallory sees mallory', run: async () => expectSelf(await w.mallory.get('/me'), 'userId'), status: 200 }],
  'GET /controller/public-key': [{ name: 'public: carries no user data', run: () => api.get('/controller/public-key'), status: 200 }],
  'GET /openapi.json': [{ name: 'public: carries no user data', run: () => api.get('/openapi.json'), status: 200 }],
  'POST /tokens': [
    {
      name: 'a new token acts as mallory only',
      run: async () => {
        const res = await w.mallory.post('/tokens', {});
        expect((await api.as(res.body.token).get('/me')).body.userId).toBe(w.malloryId);
        return res;
      },
      status: 201,
    },
  ],
  'GET /tokens': [
    {
      name: "mallory's list has none of alice's tokens",
      run: async () => {
        const res = await w.mallory.get('/tokens');
        expect(res.body.items.map((t: any) => t.tokenId)).not.toContain(w.tokA);
        return res;
      },
      status: 200,
    },
  ],
  'DELETE /tokens/{tokenId}': [{ name: "revoke alice's token", run: () => w.mallory.delete(`/tokens/${w.tokA}`), status: 404, unchanged: aliceTokenListed }],
  'POST /functions': [
    {
      name: 'creates a function of mallory, invisible to alice',
      run: async () => {
        const res = await w.mallory.post('/functions', { name: 'm2', image, resources });
        expect((await w.alice.get(`/functions/${res.body.functionId}`)).status).toBe(404);
        return res;
      },
      status: 201,
    },
  ],
  'GET /functions': [
    {
      name: "mallory's list has none of alice's functions",
      run: async () => {
        const res = await w.mallory.get('/functions');
        expect(res.body.items.map((f: any) => f.functionId)).not.toContain(w.fnA);
        return res;
      },
      status: 200,
    },
  ],
  'GET /functions/{functionId}': [
    { name: "read alice's function", run: () => w.mallory.get(`/functions/${w.fnA}`), status: 404 },
    { name: "read an old version of alice's function", run: () => w.mallory.get(`/functions/${w.fnA}?version=1`), status: 404 },
  ],
  'PUT /functions/{functionId}': [
    {
      name: "update alice's function",
      run: () => w.mallory.put(`/functions/${w.fnA}`, { name: 'pwned', image, resources }),
      status: 404,
      unchanged: aliceFunctionUnchanged,
    },
  ],
  'DELETE /functions/{functionId}': [
    { name: "delete alice's function", run: () => w.mallory.delete(`/functions/${w.fnA}`), status: 404, unchanged: aliceFunctionUnchanged },
  ],
  'POST /functions/{functionId}/keys': [
    {
      name: "make a key for alice's function",
      run: () => w.mallory.post(`/functions/${w.fnA}/keys`, {}),
      status: 404,
      unchanged: async () => expect((await w.alice.get(`/functions/${w.fnA}/keys`)).body.items).toHaveLength(1),
    },
  ],
  'GET /functions/{functionId}/keys': [{ name: "list alice's keys", run: () => w.mallory.get(`/functions/${w.fnA}/keys`), status: 404 }],
  'DELETE /functions/{functionId}/keys/{keyId}': [
    { name: "revoke alice's key", run: () => w.mallory.delete(`/functions/${w.fnA}/keys/${w.keyA.tokenId}`), status: 404, unchanged: aliceKeyWorks },
    {
      name: "revoke alice's key through mallory's own function",
      run: () => w.mallory.delete(`/functions/${w.fnM}/keys/${w.keyA.tokenId}`),
      status: 404,
      unchanged: aliceKeyWorks,
    },
  ],
  'POST /functions/{functionId}/inputs': [
    { name: "presign an upload for alice's function", run: () => w.mallory.post(`/functions/${w.fnA}/inputs`, { size: 5 }), status: 404 },
  ],
  'POST /functions/{functionId}/invocations': [
    { name: "invoke alice's function (billed to alice)", run: () => w.mallory.post(`/functions/${w.fnA}/invocations`, { input: 'x' }), status: 404 },
    { name: "use alice's upload on his own function", run: () => w.mallory.post(`/functions/${w.fnM}/invocations`, { inputUpload: w.uploadA }), status: 404 },
  ],
  'GET /jobs': [
    {
      name: "mallory's search has none of alice's jobs",
      run: async () => {
        const res = await w.mallory.get('/jobs?limit=100');
        expect(res.body.items.map((j: any) => j.jobId)).not.toContain(w.jobA);
        return res;
      },
      status: 200,
    },
    {
      name: "search by alice's function id finds nothing",
      run: async () => {
        const res = await w.mallory.get(`/jobs?functionId=${w.fnA}`);
        expect(res.body.items).toEqual([]);
        return res;
      },
      status: 200,
    },
  ],
  'GET /jobs/{jobId}': [{ name: "read alice's job (and its result link)", run: () => w.mallory.get(`/jobs/${w.jobA}`), status: 404 }],
  'POST /jobs/{jobId}/cancel': [
    { name: "cancel alice's queued job", run: () => w.mallory.post(`/jobs/${w.jobA}/cancel`), status: 404, unchanged: aliceJobQueued },
  ],
  'GET /jobs/{jobId}/ledger': [{ name: "read alice's job on the ledger", run: () => w.mallory.get(`/jobs/${w.jobA}/ledger`), status: 404 }],
  'POST /providers': [
    {
      name: 'registers a provider of mallory, not usable by alice',
      run: async () => {
        const res = await w.mallory.post('/providers', { name: 'm', capacity: { vcpu: 1, memoryMb: 512 }, publicKey: generateKeyPair().publicKeyPem });
        expect((await w.alice.put(`/providers/${res.body.providerId}/heartbeat`, {})).status).toBe(404);
        return res;
      },
      status: 201,
    },
  ],
  'PUT /providers/{providerId}/heartbeat': [
    { name: "heartbeat alice's provider", run: () => w.mallory.put(`/providers/${w.prvA}/heartbeat`, {}), status: 404 },
  ],
  'POST /providers/{providerId}/reports': [
    {
      name: "a well-formed, signed report on alice's provider and job",
      run: () => {
        const now = new Date().toISOString();
        const report = {
          v: 1,
          jobId: w.jobA,
          providerId: w.prvA,
          attempt: 1,
          status: 'succeeded',
          exitCode: 0,
          runtimeMs: 5,
          resultSha256: 'a'.repeat(64),
          resultSize: 1,
          logSize: 0,
          startedAt: now,
          finishedAt: now,
        };
        return w.mallory.post(`/providers/${w.prvA}/reports`, { report, signature: signPayload(report, providerKey.privateKeyPem) });
      },
      status: 404,
      unchanged: aliceJobQueued,
    },
  ],
  'POST /providers/{providerId}/credentials': [
    { name: "credentials of alice's provider queue", run: () => w.mallory.post(`/providers/${w.prvA}/credentials`), status: 404 },
  ],
  'GET /operator/dlq': [{ name: 'a user who is not the operator', run: () => w.mallory.get('/operator/dlq'), status: 403 }],
  'POST /operator/dlq/redrive': [{ name: 'a user who is not the operator', run: () => w.mallory.post('/operator/dlq/redrive', { all: true }), status: 403 }],
  'GET /account': [{ name: "mallory's own account only", run: async () => expectSelf(await w.mallory.get('/account'), 'accountId'), status: 200 }],
  'GET /account/history': [
    { name: "mallory's own history only", run: async () => expectSelf(await w.mallory.get('/account/history'), 'accountId'), status: 200 },
  ],
  'GET /account/reconciliation': [
    { name: "mallory's own account only", run: async () => expectSelf(await w.mallory.get('/account/reconciliation'), 'accountId'), status: 200 },
  ],
  'GET /ledger/verify': [{ name: 'verifies the chain, shows no account', run: () => w.mallory.get('/ledger/verify'), status: 200 }],
  'POST /account/top-ups': [
    {
      name: "tops up mallory's account only; alice's balance is untouched",
      run: async () => {
        const before = (await w.alice.get('/account')).body.balance;
        const res = await w.mallory.post('/account/top-ups', { amount: 1000, reference: `authz-${Date.now()}` });
        expect((await w.alice.get('/account')).body.balance).toBe(before);
        return res;
      },
      status: 201,
    },
  ],
  // Card top-ups and payouts (test payment provider here: no checkout page, no webhook, no payout account; test/payments/ runs Stripe's).
  'POST /account/card-top-ups': [
    { name: 'no checkout page with the test provider; nothing recorded for anyone', run: () => w.mallory.post('/account/card-top-ups', { amount: 1_000_000, reference: `authz-card-${Date.now()}` }), status: 409 },
  ],
  'POST /payments/webhook': [
    {
      name: "an unsigned event credits no one; alice's balance is untouched",
      run: async () => {
        const before = (await w.alice.get('/account')).body.balance;
        const res = await api.post('/payments/webhook', { id: 'evt_x', type: 'checkout.session.completed', data: { object: { metadata: { accountId: 'alice' } } } });
        expect((await w.alice.get('/account')).body.balance).toBe(before);
        return res;
      },
      status: 409,
    },
  ],
  'POST /account/payouts': [
    {
      name: "withdraws only mallory's own earnings (none): alice's balance is untouched",
      run: async () => {
        const before = (await w.alice.get('/account')).body.balance;
        const res = await w.mallory.post('/account/payouts', { amount: 10_000_000, reference: `authz-${Date.now()}` });
        expect((await w.alice.get('/account')).body.balance).toBe(before);
        return res;
      },
      status: 402,
    },
  ],
  'GET /account/payouts': [{ name: "mallory's own payouts only", run: async () => expectSelf(await w.mallory.get('/account/payouts'), 'accountId'), status: 200 }],
  'POST /account/payouts/onboarding': [{ name: 'no payout account with the test provider', run: () => w.mallory.post('/account/payouts/onboarding', {}), status: 409 }],
  'GET /account/bills': [{ name: "mallory's own bills only", run: async () => expectSelf(await w.mallory.get('/account/bills'), 'accountId'), status: 200 }],
  'GET /account/bills/{month}': [
    { name: "mallory's own statement only", run: async () => expectSelf(await w.mallory.get(`/account/bills/${new Date().toISOString().slice(0, 7)}`), 'accountId'), status: 200 },
  ],
  'POST /account/bills/{month}/pay': [
    { name: 'pays nothing of alice (prepaid: nothing is due)', run: () => w.mallory.post(`/account/bills/${new Date().toISOString().slice(0, 7)}/pay`), status: 409 },
  ],
  'GET /prices': [{ name: 'the public price list', run: () => w.mallory.get('/prices'), status: 200 }],
  'POST /operator/prices': [{ name: 'a user who is not the operator', run: () => w.mallory.post('/operator/prices', { version: 99, vcpuMs: 1, mbMs: 1 }), status: 403 }],
  'PUT /operator/accounts/{accountId}/terms': [
    {
      name: "a user who is not the operator cannot put alice's account (or its own) on invoice terms",
      run: async () => {
        expect((await w.mallory.put(`/operator/accounts/${w.malloryId}/terms`, { terms: 'invoice', creditLimit: 1 })).status).toBe(403);
        return w.mallory.put(`/operator/accounts/${w.aliceId}/terms`, { terms: 'invoice', creditLimit: 1_000_000_000 });
      },
      status: 403,
    },
  ],
  'GET /providers/{providerId}/earnings': [{ name: "earnings of alice's provider", run: () => w.mallory.get(`/providers/${w.prvA}/earnings`), status: 404 }],
  'GET /providers': [
    {
      name: "lists mallory's providers only, never alice's",
      run: async () => {
        const res = await w.mallory.get('/providers');
        expect(res.body.items.map((p: { providerId: string }) => p.providerId)).not.toContain(w.prvA);
        return res;
      },
      status: 200,
    },
  ],
  'GET /providers/{providerId}': [{ name: "alice's provider", run: () => w.mallory.get(`/providers/${w.prvA}`), status: 404 }],
  'DELETE /providers/{providerId}': [
    {
      name: "remove alice's provider",
      run: () => w.mallory.delete(`/providers/${w.prvA}`),
      status: 404,
      unchanged: async () => expect((await w.alice.get(`/providers/${w.prvA}`)).status).toBe(200),
    },
  ],
  'POST /operator/claim': [
    {
      name: 'a claim token that is not the platform’s grants nothing',
      run: () => w.mallory.post('/operator/claim', { claimToken: 'not-the-token' }),
      status: 403,
      unchanged: async () => expect((await w.mallory.get('/operator/dlq')).status).toBe(403),
    },
  ],
  // Peers need a Fabric ledger; this platform's is embedded. The cross-operator 404 on a real
  // enrolled peer is in test/fabric/peer-operator.test.ts.
  'POST /peers': [{ name: 'enrols nothing (embedded ledger: 409; bad CSRs are refused first with 400)', run: () => w.mallory.post('/peers', { name: 'p', endpoint: 'h.example:7051', signCsr: 'x', tlsCsr: 'y' }), status: 400 }],
  'GET /peers': [
    {
      name: "lists mallory's peers only",
      run: async () => {
        const res = await w.mallory.get('/peers');
        expect(res.body.items).toEqual([]);
        return res;
      },
      status: 200,
    },
  ],
  'GET /peers/{peerId}': [{ name: 'a peer id mallory does not own', run: () => w.mallory.get('/peers/peer_AAAAAAAAAAAAAAAA'), status: 404 }],
  'DELETE /peers/{peerId}': [{ name: 'a peer id mallory does not own', run: () => w.mallory.delete('/peers/peer_AAAAAAAAAAAAAAAA'), status: 404 }],
});

const emailOf: { alice: string } = { alice: '' };
function expectSelf(res: ApiResponse, field: string): ApiResponse {
  expect(res.body[field]).toBe(w.malloryId);
  return res;
}

describe('3. one user against another', () => {
  beforeAll(async () => {
    emailOf.alice = (await w.alice.get('/me')).body.email;
  });

  test('every route of the manifest has a cross-user case', () => {
    const cases = CROSS_USER();
    expect(ROUTE_KEYS.filter((r) => !cases[r]?.length)).toEqual([]);
    expect(Object.keys(cases).filter((r) => !ROUTE_KEYS.includes(r))).toEqual([]);
  });

  const table = ROUTES.flatMap((r) => {
    const key = `${r.method} ${r.path}`;
    // Names only at collection time; the case itself is built when it runs (it needs the world).
    return [{ key }];
  });

  test.each(table)('$key', async ({ key }) => {
    const cases = CROSS_USER()[key];
    expect(cases?.length).toBeGreaterThan(0);
    for (const c of cases ?? []) {
      const res = await c.run();
      expect({ case: c.name, status: res.status }).toEqual({ case: c.name, status: c.status });
      if (res.status >= 400) expect(res.body.error.code).toEqual(expect.any(String));
      leaksNothing(res);
      await c.unchanged?.();
    }
  });

  test('alice still has all her resources, intact', async () => {
    await aliceFunctionUnchanged();
    await aliceJobQueued();
    await aliceKeyWorks();
    await aliceTokenListed();
    expect((await w.alice.get(`/functions/${w.fnA2}`)).status).toBe(200);
    expect((await w.alice.put(`/providers/${w.prvA}/heartbeat`, {})).status).toBe(200);
  });
});

test('every answer in this file matched the OpenAPI document', () => {
  expect(api.violations).toEqual([]);
});
