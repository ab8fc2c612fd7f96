import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPlatform, Platform } from '../../local/platform';
import { Api, eventually, newUser } from '../support/api';

/**
 * What the controller logs and counts (lambdas/adapters/observability.ts), read from what the real
 * handlers write: the local platform with its provider agent, real containers and the embedded
 * ledger, metrics switched on (POWERTOOLS_METRICS_DISABLED=false), and stdout/stderr captured and
 * parsed line by line: Powertools' JSON log lines and CloudWatch EMF lines.
 */
let platform: Platform;
let api: Api;
const lines: string[] = [];
const restore: (() => void)[] = [];

/** Captures whatever is written to a stream (Powertools writes through its own Console on process.stdout/stderr). */
function capture(stream: NodeJS.WriteStream): void {
  const spy = jest.spyOn(stream, 'write').mockImplementation(((chunk: string | Uint8Array, ...rest: unknown[]) => {
    lines.push(...String(chunk).split('\n').filter(Boolean));
    const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
    callback?.();
    return true;
  }) as typeof stream.write);
  restore.push(() => spy.mockRestore());
}

const parsed = (from = 0): Record<string, any>[] =>
  lines.slice(from).flatMap((line) => {
    try {
      const value = JSON.parse(line);
      return value && typeof value === 'object' ? [value] : [];
    } catch {
      return [];
    }
  });

/** EMF lines carrying `metric`, with their dimensions and value. */
const emf = (metric: string, from = 0) => parsed(from).filter((l) => l._aws?.CloudWatchMetrics?.[0]?.Metrics?.some((m: { Name: string }) => m.Name === metric));

const logs = (from = 0) => parsed(from).filter((l) => l.service === 'chainfaas-local' && !l._aws);

const quietLevel = process.env.POWERTOOLS_LOG_LEVEL;

beforeAll(async () => {
  process.env.POWERTOOLS_METRICS_DISABLED = 'false';
  // The suite's setup keeps the controller's logs to warnings (test/support/quiet-metrics.ts); these tests read its INFO lines.
  process.env.POWERTOOLS_LOG_LEVEL = 'INFO';
  capture(process.stdout);
  capture(process.stderr);
  platform = await startPlatform({ port: 0, dataDir: mkdtempSync(join(tmpdir(), 'chainfaas-obs-')), log: () => undefined });
  api = new Api(platform.apiUrl);
}, 300_000);

afterAll(async () => {
  await platform?.stop();
  for (const undo of restore) undo();
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  if (quietLevel === undefined) delete process.env.POWERTOOLS_LOG_LEVEL;
  else process.env.POWERTOOLS_LOG_LEVEL = quietLevel;
}, 60_000);

test('a refused request: one Rejections metric with its code, and one structured log line with the request id, no message', async () => {
  const dev = await newUser(api, ['developer']);
  const from = lines.length;
  const res = await dev.api.post('/functions', { name: 'no image', resources: { vcpu: 0.5, memoryMb: 64, timeoutS: 10 } });
  expect(res.status).toBe(400);
  expect(res.body.error.code).toBe('invalid_request');

  const rejections = emf('Rejections', from);
  expect(rejections).toHaveLength(1);
  const [line] = rejections;
  expect(line._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: 'ChainFaaS', Dimensions: [expect.arrayContaining(['service', 'code'])] });
  expect(line).toMatchObject({ service: 'chainfaas-local', code: 'invalid_request', Rejections: 1 });

  const refused = logs(from).filter((l) => l.message === 'request refused');
  expect(refused).toHaveLength(1);
  expect(refused[0]).toMatchObject({
    level: 'INFO',
    service: 'chainfaas-local',
    routeKey: 'POST /functions',
    status: 400,
    code: 'invalid_request',
    cold_start: expect.any(Boolean),
    function_name: 'local-functions',
    function_request_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
  });
  // Locally the Lambda request id is the API request's, which the line also carries.
  expect(refused[0].function_request_id).toBe(refused[0].apiRequestId);
  // The problem's message (which may quote the input) is not logged.
  expect(JSON.stringify(refused[0])).not.toContain(res.body.error.message);
});

test('no log or metric line holds a bearer token or a password sent in a request', async () => {
  const password = 'Tr0ub4dor&3-never-logged';
  const registered = await api.post('/users', { email: `obs${Date.now()}@example.test`, password, roles: ['developer'] });
  expect(registered.status).toBe(201);
  const token = registered.body.token as string;
  const as = api.as(token);
  // Refusals and successes with the token in the Authorization header, the password in bodies.
  expect((await api.post('/sessions', { email: registered.body.user.email, password: `${password}-wrong` })).status).toBe(401);
  expect((await api.post('/sessions', { email: registered.body.user.email, password })).status).toBe(201);
  expect((await as.get('/functions/fn_unknown')).status).toBe(404);
  expect((await as.post('/functions', { name: 'x', password, resources: 'none' })).status).toBe(400);
  // A body that is not JSON: the parse error quotes the body, and the refusal is logged.
  expect((await api.call('POST', '/users', undefined, { raw: `{"password": "${password}" oops` })).status).toBe(400);
  expect((await api.as(`${token}x`).get('/me')).status).toBe(401);

  const everything = lines.join('\n');
  expect(logs().some((l) => l.message === 'request refused')).toBe(true);
  expect(everything).not.toContain(token);
  expect(everything).not.toContain(password);
});

test('a completed job counts JobsCreated and JobsFinished{succeeded}; once paid on the ledger, one SettlementLag', async () => {
  const dev = await newUser(api, ['developer']);
  const fn = (await dev.api.post('/functions', { name: 'sha', image: platform.images.sha256, resources: { vcpu: 0.5, memoryMb: 64, timeoutS: 20 } })).body;
  const from = lines.length;
  const invoked = await dev.api.post(`/functions/${fn.functionId}/invocations`, { input: 'count me' });
  expect(invoked.body.status).toBe('SUCCEEDED');

  expect(emf('JobsCreated', from)).toHaveLength(1);
  const finished = emf('JobsFinished', from);
  expect(finished).toHaveLength(1);
  expect(finished[0]).toMatchObject({ outcome: 'succeeded', JobsFinished: 1, service: 'chainfaas-local' });

  await eventually('the job to be paid in the read model', async () => {
    await platform.flushLedger();
    return (await dev.api.get(`/jobs/${invoked.body.jobId}`)).body.paid === true ? true : undefined;
  });
  const lag = emf('SettlementLag', from);
  expect(lag).toHaveLength(1);
  expect(lag[0]._aws.CloudWatchMetrics[0].Metrics).toEqual([{ Name: 'SettlementLag', Unit: 'Milliseconds' }]);
  expect(lag[0].SettlementLag).toBeGreaterThanOrEqual(0);
  expect(lag[0].SettlementLag).toBeLessThan(60_000);

  // Replaying the ledger's movements records the settlement again, but the job was already paid: no second lag.
  await platform.flushLedger();
  expect(emf('SettlementLag', from)).toHaveLength(1);
}, 120_000);

test('a cancelled job counts JobsFinished{cancelled}', async () => {
  const dev = await newUser(api, ['developer']);
  // More memory than the local provider ever offers (at most 4096 MB), within the signup credit's hold: the job waits, QUEUED, and can be cancelled.
  const fn = (
    await dev.api.post('/functions', { name: 'big', image: platform.images.sha256, resources: { vcpu: 8, memoryMb: 8192, timeoutS: 10 }, mode: 'async' })
  ).body;
  const invoked = await dev.api.post(`/functions/${fn.functionId}/invocations`, { input: 'wait' });
  expect(invoked.status).toBe(202);
  const from = lines.length;
  expect((await dev.api.post(`/jobs/${invoked.body.jobId}/cancel`)).status).toBe(200);
  const finished = emf('JobsFinished', from);
  expect(finished).toHaveLength(1);
  expect(finished[0]).toMatchObject({ outcome: 'cancelled' });
});
