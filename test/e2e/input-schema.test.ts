import { eventually, newUser } from '../support/api';
import { peek, ScriptedProvider, startTestPlatform, TestPlatform } from '../scheduling/support';

/**
 * Issue #23: a function's description and input schema over HTTP (real handlers, DynamoDB Local,
 * fauxqs). A schema outside the documented subset is refused at registration naming the keyword's
 * path; an invocation whose JSON input does not match is refused with 400 naming the input's
 * failing path, and nothing is created: no job, no hold, no message on the provider's queue, and
 * its idempotency key is still free.
 */
let t: TestPlatform;

beforeAll(async () => {
  t = await startTestPlatform({ LEASE_S: '600', HEARTBEAT_STALE_MS: '600000' }, { images: false });
}, 300_000);

afterAll(async () => {
  await t?.stop();
}, 60_000);

const image = `127.0.0.1:5000/chainfaas/none@sha256:${'f'.repeat(64)}`;
const inputSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  properties: {
    num1: { type: 'integer', description: 'first addend' },
    num2: { type: 'integer', minimum: 0 },
    tags: { type: 'array', items: { type: 'string', maxLength: 8 } },
  },
  required: ['num1', 'num2'],
  additionalProperties: false,
};

test('description and schema are kept; a schema outside the subset is refused naming the keyword', async () => {
  const dev = await newUser(t.api, ['developer']);
  const created = await dev.api.post('/functions', {
    name: 'add',
    image,
    description: 'adds two integers',
    inputSchema,
    resources: { vcpu: 0.25, memoryMb: 128, timeoutS: 10 },
  });
  expect(created.status).toBe(201);
  const read = await dev.api.get(`/functions/${created.body.functionId}`);
  expect(read.body).toMatchObject({ description: 'adds two integers', inputSchema, resources: { diskMb: 64 } });

  const refused = await dev.api.post('/functions', {
    name: 'regex',
    image,
    inputSchema: { type: 'object', properties: { code: { type: 'string', pattern: '^(a+)+$' } } },
    resources: { vcpu: 0.25, memoryMb: 128, timeoutS: 10 },
  });
  expect(refused.status).toBe(400);
  expect(refused.body.error).toMatchObject({ code: 'invalid_request', field: 'inputSchema.properties.code.pattern' });
  // A lone surrogate could not be stored as it was sent: refused naming the field, like an input's.
  const surrogate = await dev.api.post('/functions', { name: 'odd', image, description: 'half \ud800 a pair', resources: { vcpu: 0.25, memoryMb: 128, timeoutS: 10 } });
  expect({ status: surrogate.status, field: surrogate.body.error?.field }).toEqual({ status: 400, field: 'description' });
  expect((await dev.api.get('/functions')).body.items.map((f: { name: string }) => f.name)).toEqual(['add']);
}, 120_000);

test('an input that does not match is refused with its path before any job, hold or provider', async () => {
  const provider = await ScriptedProvider.register(t.api, t.sqs, { vcpu: 4, memoryMb: 4096, diskMb: 4096 });
  const dev = await newUser(t.api, ['developer']);
  const fn = (await dev.api.post('/functions', { name: 'add', image, mode: 'async', inputSchema, resources: { vcpu: 0.25, memoryMb: 128, timeoutS: 10 } })).body;
  // The signup credit reaches the read model through the ledger writer: wait for it before comparing.
  const before = await eventually('the signup credit', async () => {
    const account = (await dev.api.get('/account')).body;
    return account.balance > 0 ? account : undefined;
  });

  const cases: [unknown, string][] = [
    [{ num1: 1, num2: 'two' }, 'input.num2'],
    [{ num1: 1 }, 'input.num2'],
    [{ num1: 1, num2: -1 }, 'input.num2'],
    [{ num1: 1, num2: 2, tags: ['ok', 'much-too-long'] }, 'input.tags.1'],
    [{ num1: 1, num2: 2, extra: true }, 'input.extra'],
    ['not an object', 'input'],
  ];
  for (const [input, field] of cases) {
    const res = await dev.api.call('POST', `/functions/${fn.functionId}/invocations`, { input }, { headers: { 'idempotency-key': 'same-key' } });
    expect({ status: res.status, code: res.body.error?.code, field: res.body.error?.field }).toEqual({ status: 400, code: 'invalid_request', field });
    expect(res.body.error.message).toContain(field);
  }
  // Nothing was written, held or sent.
  expect((await dev.api.get('/jobs')).body.items).toEqual([]);
  const after = (await dev.api.get('/account')).body;
  expect({ balance: after.balance, held: after.held ?? 0 }).toEqual({ balance: before.balance, held: before.held ?? 0 });
  expect(await peek(t.sqs, provider.queueUrl)).toBeUndefined();

  // The same idempotency key is still free: a matching input creates the job, which reaches the provider with its disk.
  const ok = await dev.api.call('POST', `/functions/${fn.functionId}/invocations`, { input: { num1: 1, num2: 2, tags: ['a'] } }, { headers: { 'idempotency-key': 'same-key' } });
  expect(ok.status).toBe(202);
  const envelope = await provider.envelope(ok.body.jobId, 1);
  expect(envelope.resources.diskMb).toBe(64);
  // Binary input is not checked against the schema.
  expect((await dev.api.post(`/functions/${fn.functionId}/invocations`, { inputBase64: Buffer.from('raw').toString('base64') })).status).toBe(202);
}, 120_000);
