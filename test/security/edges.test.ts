import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, LIMITS } from '../../contract/src';
import { startPlatform, Platform } from '../../local/platform';
import { Api, newUser } from '../support/api';

/**
 * Issue #25, what an outside fuzzing run found at the edges of the API, against the local platform
 * (the real handlers, DynamoDB Local, fauxqs, the embedded ledger): numbers out of range or that
 * DynamoDB cannot store, the document against what the server takes, 405 with Allow, and password
 * length in characters a person types. test/security/schemathesis.test.ts fuzzes the same edges.
 */
let platform: Platform;
let api: Api;
const image = `127.0.0.1:5000/chainfaas/sha256@sha256:${'e'.repeat(64)}`;
const operators = process.env.OPERATOR_USER_IDS;

beforeAll(async () => {
  platform = await startPlatform({ port: 0, dataDir: mkdtempSync(join(tmpdir(), 'chainfaas-edges-')), provider: false, images: false, log: () => undefined });
  api = new Api(platform.apiUrl);
}, 300_000);

afterAll(async () => {
  if (operators === undefined) delete process.env.OPERATOR_USER_IDS;
  else process.env.OPERATOR_USER_IDS = operators;
  await platform?.stop();
}, 60_000);

/** Sends `json` as the body, byte for byte (numbers like 9007199254740993 survive no JS round trip). */
const raw = (who: Api, method: string, path: string, json: string) => who.call(method, path, undefined, { raw: json });

const refused = (res: { status: number; body: any }, field: string) => {
  expect({ status: res.status, code: res.body?.error?.code, field: res.body?.error?.field }).toEqual({ status: 400, code: 'invalid_request', field });
};

test('#25 item 1: out-of-range and unstorable numbers are refused with 400 naming the field, never a 500', async () => {
  const dev = await newUser(api, ['developer', 'provider']);
  const publicKey = JSON.stringify(generateKeyPair().publicKeyPem);
  const provider = await dev.api.post('/providers', { name: 'edge', capacity: { vcpu: 1, memoryMb: 256 }, publicKey: generateKeyPair().publicKeyPem });
  expect(provider.status).toBe(201);
  const heartbeat = `/providers/${provider.body.providerId}/heartbeat`;

  // 5e-324 and 1e-200 are below the smallest number DynamoDB stores (1e-130): before, a 500.
  refused(await raw(dev.api, 'PUT', heartbeat, '{"free":{"vcpu":5e-324,"memoryMb":1}}'), 'free.vcpu');
  refused(await raw(dev.api, 'PUT', heartbeat, '{"free":{"vcpu":1e-200,"memoryMb":1}}'), 'free.vcpu');
  expect((await raw(dev.api, 'PUT', heartbeat, '{"free":{"vcpu":0,"memoryMb":1}}')).status).toBe(200);
  expect((await raw(dev.api, 'PUT', heartbeat, '{"free":{"vcpu":0.25,"memoryMb":1}}')).status).toBe(200);
  refused(await raw(dev.api, 'POST', '/providers', `{"name":"p","capacity":{"vcpu":5e-324,"memoryMb":256},"publicKey":${publicKey}}`), 'capacity.vcpu');
  refused(await raw(dev.api, 'POST', '/functions', `{"name":"f","image":"${image}","resources":{"vcpu":5e-324,"memoryMb":64,"timeoutS":1}}`), 'resources.vcpu');
  // Counted and priced values are safe integers, within the platform's bounds.
  refused(
    await raw(dev.api, 'POST', '/functions', `{"name":"f","image":"${image}","resources":{"vcpu":1,"memoryMb":64,"timeoutS":1},"maxPrice":9007199254740993}`),
    'maxPrice',
  );
  refused(await raw(dev.api, 'POST', '/account/top-ups', `{"amount":${LIMITS.maxTopUp + 1},"reference":"r1"}`), 'amount');

  const operator = await newUser(api, ['developer']);
  process.env.OPERATOR_USER_IDS = operator.userId;
  refused(await raw(operator.api, 'POST', '/operator/prices', '{"version":9007199254740991,"vcpuMs":1,"mbMs":1}'), 'version');
  refused(await raw(operator.api, 'POST', '/operator/prices', '{"vcpuMs":1000000000000,"mbMs":1}'), 'vcpuMs');
  refused(
    await raw(operator.api, 'PUT', `/operator/accounts/${dev.userId}/terms`, `{"terms":"invoice","creditLimit":${LIMITS.maxBalance + 1}}`),
    'creditLimit',
  );

  // The dearest prices allowed, on the largest function allowed: its worst case (the hold) is a
  // safe integer, so invoking it is a clear 402 (the account cannot cover it), not a 500.
  const dearest = await operator.api.post('/operator/prices', { vcpuMs: LIMITS.maxVcpuMsPrice, mbMs: LIMITS.maxMbMsPrice });
  expect(dearest.status).toBe(201);
  const big = await dev.api.post('/functions', {
    name: 'big',
    image,
    resources: { vcpu: LIMITS.maxVcpu, memoryMb: LIMITS.maxMemoryMb, timeoutS: LIMITS.maxTimeoutS },
  });
  expect(big.status).toBe(201);
  const invoked = await dev.api.post(`/functions/${big.body.functionId}/invocations`, { input: 'x', mode: 'async' });
  expect([202, 402]).toContain(invoked.status);
});

test('#25 item 1: price list versions stay far from 2^53 and publishing never gets stuck', async () => {
  const operator = await newUser(api, ['developer']);
  process.env.OPERATOR_USER_IDS = operator.userId;
  const inForce = (await operator.api.get('/prices')).body.current.version as number;
  // Before: version 2^53-1 was accepted, and every later publish answered 500 (2^53 is not storable).
  refused(await raw(operator.api, 'POST', '/operator/prices', '{"version":9007199254740991,"vcpuMs":1,"mbMs":1}'), 'version');
  // A version far above the one in force is a conflict naming the field, and changes nothing.
  const leap = await operator.api.post('/operator/prices', { version: inForce + LIMITS.maxPriceVersionStep + 1, vcpuMs: 1, mbMs: 1 });
  expect({ status: leap.status, code: leap.body.error.code, field: leap.body.error.field }).toEqual({ status: 409, code: 'conflict', field: 'version' });
  expect((await operator.api.get('/prices')).body.current.version).toBe(inForce);
  // The largest step is taken, and the next publish still has a version to take.
  const stepped = await operator.api.post('/operator/prices', { version: inForce + LIMITS.maxPriceVersionStep, vcpuMs: 2, mbMs: 1 });
  expect(stepped.status).toBe(201);
  const next = await operator.api.post('/operator/prices', { vcpuMs: 3, mbMs: 1 });
  expect(next.status).toBe(201);
  expect(next.body.version).toBe(inForce + LIMITS.maxPriceVersionStep + 1);
});

test('#25 item 2: the served document requires the bodies the server requires, documents the heartbeat, and refuses what the server refuses', async () => {
  const doc = (await api.get('/openapi.json')).body;
  const requestOf = (method: string, path: string) => doc.paths[path][method].requestBody;
  const schemaOf = (ref: string) => doc.components.schemas[ref.split('/').pop() as string];
  const dev = await newUser(api, ['developer', 'provider']);
  const provider = await dev.api.post('/providers', { name: 'doc', capacity: { vcpu: 1, memoryMb: 256 }, publicKey: generateKeyPair().publicKeyPem });
  process.env.OPERATOR_USER_IDS = dev.userId;

  // Each body the server answers "(body): Required" without is required in the document.
  for (const [method, path, route] of [
    ['post', '/providers', '/providers'],
    ['post', '/providers/{providerId}/reports', `/providers/${provider.body.providerId}/reports`],
    ['post', '/operator/dlq/redrive', '/operator/dlq/redrive'],
  ] as const) {
    expect({ path, required: requestOf(method, path)?.required }).toEqual({ path, required: true });
    const res = await dev.api.call(method.toUpperCase(), route);
    expect({ path, status: res.status, field: res.body.error.field }).toEqual({ path, status: 400, field: '(body)' });
  }
  // The heartbeat body is documented, and optional (the server takes none).
  const heartbeat = requestOf('put', '/providers/{providerId}/heartbeat');
  expect(heartbeat.required).toBe(false);
  expect(Object.keys(schemaOf(heartbeat.content['application/json'].schema.$ref).properties)).toEqual(
    expect.arrayContaining(['free', 'runningJobs', 'draining']),
  );
  expect((await dev.api.call('PUT', `/providers/${provider.body.providerId}/heartbeat`)).status).toBe(200);

  // Every request body refuses unknown members, in the document as on the server — but the
  // payment provider's webhook, whose events are Stripe's to extend (the server reads the members
  // it knows of a signed event and keeps the rest; the document says so with an open schema).
  for (const [path, ops] of Object.entries(doc.paths) as [string, Record<string, any>][]) {
    if (path === '/payments/webhook') {
      expect(schemaOf(ops.post.requestBody.content['application/json'].schema.$ref).additionalProperties).not.toBe(false);
      continue;
    }
    for (const [method, op] of Object.entries(ops)) {
      const ref = op.requestBody?.content['application/json'].schema.$ref;
      if (ref) expect({ path, method, additionalProperties: schemaOf(ref).additionalProperties }).toEqual({ path, method, additionalProperties: false });
    }
  }
  const extra = await dev.api.post('/operator/prices', { vcpuMs: 1, mbMs: 1, extra: 1 });
  expect(extra.status).toBe(400);

  // Formats and bounds the server checks are stated: months, `by`, top-up references, names, images, upper bounds.
  const param = (path: string, method: string, name: string) => doc.paths[path][method].parameters.find((p: any) => p.name === name).schema;
  expect(param('/account/bills/{month}', 'get', 'month').pattern).toBe('^\\d{4}-(0[1-9]|1[0-2])$');
  expect((await dev.api.get('/account/bills/2026-13')).status).toBe(400);
  expect(param('/account/bills/{month}', 'get', 'format').enum).toEqual(['json', 'csv']);
  expect(param('/providers/{providerId}/earnings', 'get', 'by').enum).toEqual(['day', 'function']);
  expect(param('/account/history', 'get', 'limit')).toMatchObject({ minimum: 1, maximum: 200 });
  expect(param('/functions/{functionId}', 'get', 'version').maximum).toBe(1_000_000);
  expect(param('/functions/{functionId}/invocations', 'post', 'idempotency-key').pattern).toBeDefined();
  const schemas = doc.components.schemas;
  expect(schemas.TopUpRequest.properties.reference.pattern).toBeDefined();
  expect(schemas.TopUpRequest.properties.amount.maximum).toBe(LIMITS.maxTopUp);
  expect(schemas.FunctionDefinition.properties.name.pattern).toBeDefined();
  expect(schemas.FunctionDefinition.properties.image.pattern).toBeDefined();
  expect(schemas.PricesRequest.properties.version.maximum).toBe(LIMITS.maxPriceVersion);
  expect(schemas.ProviderRequest.properties.publicKey.pattern).toBeDefined();
  expect(schemas.HeartbeatRequest.properties.free.properties.vcpu.anyOf).toEqual([{ const: 0 }, { minimum: 0.001 }]);
});

test('#25 item 3: a method a path lacks is 405 with an Allow header listing the methods it has (RFC 9110)', async () => {
  const cases: Array<[method: string, path: string, allow: string]> = [
    ['PATCH', '/functions', 'POST, GET'],
    ['DELETE', '/users', 'POST'],
    ['POST', '/functions/fn_x', 'GET, PUT, DELETE'],
    ['GET', '/operator/prices', 'POST'],
  ];
  for (const [method, path, allow] of cases) {
    const res = await api.call(method, path);
    expect({ method, path, status: res.status, code: res.body.error.code, allow: res.headers.get('allow') }).toEqual({
      method,
      path,
      status: 405,
      code: 'method_not_allowed',
      allow,
    });
  }
});

test('#25 item 4: password length is counted in Unicode code points: five emoji are five characters, not ten', async () => {
  const email = (tag: string) => `pw-${tag}-${Date.now()}@example.test`;
  const five = '😀'.repeat(5);
  expect(five.length).toBe(10); // UTF-16 units, which the fuzzing run found counted
  refused(await api.post('/users', { email: email('five'), password: five, roles: ['developer'] }), 'password');
  const ten = '😀'.repeat(10);
  const address = email('ten');
  expect((await api.post('/users', { email: address, password: ten, roles: ['developer'] })).status).toBe(201);
  expect((await api.post('/sessions', { email: address, password: ten })).status).toBe(201);
  // The upper bound too: 200 emoji (400 UTF-16 units) are 200 characters, and accepted.
  const long = '😀'.repeat(200);
  const longAddress = email('long');
  expect((await api.post('/users', { email: longAddress, password: long, roles: ['developer'] })).status).toBe(201);
  expect((await api.post('/sessions', { email: longAddress, password: long })).status).toBe(201);
  refused(await api.post('/users', { email: email('over'), password: long + '😀', roles: ['developer'] }), 'password');
});

test('#25, found by this profile of schemathesis: a sync wait longer than the request may last ends with 202 before the timeout, not a 500 at it', async () => {
  const dev = await newUser(api, ['developer']);
  const fn = await dev.api.post('/functions', { name: 'never-done', image, resources: { vcpu: 0.5, memoryMb: 64, timeoutS: 10 } });
  expect(fn.status).toBe(201);
  // No agent runs here: the job never ends. The local Lambda context allows 30 s, as a timeout would in AWS (25 s).
  const started = Date.now();
  const res = await dev.api.post(`/functions/${fn.body.functionId}/invocations`, { input: 'x', mode: 'sync', waitS: 58 });
  expect({ status: res.status, location: res.headers.get('location') }).toEqual({ status: 202, location: `/jobs/${res.body.jobId}` });
  expect(Date.now() - started).toBeLessThan(30_000);
}, 90_000);
