import { createPublicKey, verify } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type * as Accounts from '../../lambdas/core/use-cases/accounts';
import type * as Callbacks from '../../lambdas/core/use-cases/callbacks';
import type * as Functions from '../../lambdas/core/use-cases/functions';
import type * as Invocations from '../../lambdas/core/use-cases/invocations';
import type * as Jobs from '../../lambdas/core/use-cases/jobs';
import type * as Scheduling from '../../lambdas/core/use-cases/scheduling';
import type { FetchCallbackSender } from '../../lambdas/adapters/http-callbacks';
import type { S3InputStorage } from '../../lambdas/adapters/s3-inputs';
import { Controller, definition, rejects, startController } from './harness';

/**
 * Invocations against DynamoDB Local and the S3 emulator: idempotency keys (race-free, per caller),
 * invoke keys, large inputs through a presigned upload, and signed completion callbacks with
 * bounded retries. No provider runs here, so jobs stay QUEUED until a test moves them.
 */
let c: Controller;
let accounts: typeof Accounts;
let callbacks: typeof Callbacks;
let functions: typeof Functions;
let invocations: typeof Invocations;
let jobs: typeof Jobs;
let scheduling: typeof Scheduling;
let sender: FetchCallbackSender;
let inputs: S3InputStorage;

beforeAll(async () => {
  c = await startController();
  accounts = await import('../../lambdas/core/use-cases/accounts');
  callbacks = await import('../../lambdas/core/use-cases/callbacks');
  functions = await import('../../lambdas/core/use-cases/functions');
  invocations = await import('../../lambdas/core/use-cases/invocations');
  jobs = await import('../../lambdas/core/use-cases/jobs');
  scheduling = await import('../../lambdas/core/use-cases/scheduling');
  sender = new (await import('../../lambdas/adapters/http-callbacks')).FetchCallbackSender();
  inputs = (await import('../../lambdas/adapters/api-options')).inputStorage();
}, 120_000);

afterAll(async () => {
  await c?.stop();
}, 60_000);

async function developerWithFunction() {
  const { user } = await c.newUser();
  const fn = await functions.createFunction(c.deps, user, definition());
  return { user, fn, caller: { user } };
}

describe('idempotency keys', () => {
  test('the same key and body return the same job; another body with that key is 409 naming the job', async () => {
    const { fn, caller } = await developerWithFunction();
    const body = { input: { n: 1, s: 'x' }, mode: 'async' };
    const first = await invocations.invoke(c.deps, caller, fn.functionId, body, { idempotencyKey: 'order-42' });
    // The same body with its keys in another order is the same request.
    const again = await invocations.invoke(c.deps, caller, fn.functionId, { mode: 'async', input: { s: 'x', n: 1 } }, { idempotencyKey: 'order-42' });
    expect(first.replayed).toBe(false);
    expect(again.replayed).toBe(true);
    expect(again.job.jobId).toBe(first.job.jobId);
    const clash = await rejects(
      invocations.invoke(c.deps, caller, fn.functionId, { input: 'other', mode: 'async' }, { idempotencyKey: 'order-42' }),
      'conflict',
    );
    expect(clash.details).toMatchObject({ jobId: first.job.jobId });
    expect((await jobs.searchJobs(c.deps, caller.user, { functionId: fn.functionId })).items).toHaveLength(1);
  });

  test('concurrent requests with one key create exactly one job', async () => {
    const { fn, caller } = await developerWithFunction();
    const results = await Promise.all(
      Array.from({ length: 8 }, () => invocations.invoke(c.deps, caller, fn.functionId, { input: 'same', mode: 'async' }, { idempotencyKey: 'burst' })),
    );
    expect(new Set(results.map((r) => r.job.jobId)).size).toBe(1);
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    expect((await jobs.searchJobs(c.deps, caller.user, { functionId: fn.functionId })).items).toHaveLength(1);
  });

  test('keys are per caller: another caller with the same key gets its own job; no key, no deduplication', async () => {
    const { user, fn, caller } = await developerWithFunction();
    const key = await accounts.createInvokeKey(c.deps, user, fn.functionId, {});
    const keyCaller = await accounts.authenticateCaller(c.deps, undefined, key.key);
    const a = await invocations.invoke(c.deps, caller, fn.functionId, { mode: 'async' }, { idempotencyKey: 'k' });
    const b = await invocations.invoke(c.deps, keyCaller, fn.functionId, { mode: 'async' }, { idempotencyKey: 'k' });
    expect(a.job.jobId).not.toBe(b.job.jobId);
    const plain = await Promise.all([1, 2].map(() => invocations.invoke(c.deps, caller, fn.functionId, { mode: 'async' })));
    expect(plain[0]?.job.jobId).not.toBe(plain[1]?.job.jobId);
  });

  test('an expired key may be used again for a new request', async () => {
    const { fn, caller } = await developerWithFunction();
    const first = await invocations.invoke(c.deps, caller, fn.functionId, { input: 'a', mode: 'async' }, { idempotencyKey: 'daily' });
    const tomorrow = { ...c.deps, now: () => new Date(Date.now() + (invocations.IDEMPOTENCY_TTL_S + 60) * 1000) };
    const second = await invocations.invoke(tomorrow, caller, fn.functionId, { input: 'b', mode: 'async' }, { idempotencyKey: 'daily' });
    expect(second.replayed).toBe(false);
    expect(second.job.jobId).not.toBe(first.job.jobId);
  });

  test('a malformed key is 400 naming the header', async () => {
    const { fn, caller } = await developerWithFunction();
    await rejects(invocations.invoke(c.deps, caller, fn.functionId, {}, { idempotencyKey: 'has spaces' }), 'invalid_request', 'idempotency-key');
    await rejects(invocations.invoke(c.deps, caller, fn.functionId, {}, { idempotencyKey: 'x'.repeat(256) }), 'invalid_request', 'idempotency-key');
  });
});

describe('invoke keys', () => {
  test('a key invokes its function only, its jobs record the key, and it reads only those jobs', async () => {
    const { user, fn, caller } = await developerWithFunction();
    const otherFn = await functions.createFunction(c.deps, user, definition({ name: 'other' }));
    const key = await accounts.createInvokeKey(c.deps, user, fn.functionId, {});
    const keyCaller = await accounts.authenticateCaller(c.deps, undefined, key.key);
    const byKey = (await invocations.invoke(c.deps, keyCaller, fn.functionId, { input: 'x', mode: 'async' })).job;
    expect(byKey).toMatchObject({ developerId: user.userId, invokeKeyId: key.tokenId });
    await rejects(invocations.invoke(c.deps, keyCaller, otherFn.functionId, { input: 'x' }), 'not_found');

    const byDeveloper = (await invocations.invoke(c.deps, caller, fn.functionId, { input: 'x', mode: 'async' })).job;
    expect((await jobs.getReadableJob(c.deps, keyCaller, byKey.jobId)).jobId).toBe(byKey.jobId);
    await rejects(jobs.getReadableJob(c.deps, keyCaller, byDeveloper.jobId), 'not_found');
    // A second key of the same function does not read the first key's jobs; the developer reads both.
    const key2 = await accounts.createInvokeKey(c.deps, user, fn.functionId, {});
    await rejects(jobs.getReadableJob(c.deps, await accounts.authenticateCaller(c.deps, undefined, key2.key), byKey.jobId), 'not_found');
    expect((await jobs.getReadableJob(c.deps, caller, byKey.jobId)).invokeKeyId).toBe(key.tokenId);
  });
});

describe('large inputs', () => {
  test('presigned upload, then an invocation referencing it: the envelope carries a GET link of the declared size', async () => {
    const { fn, caller } = await developerWithFunction();
    const data = Buffer.alloc(300 * 1024, 7); // over the inline limit
    const upload = await invocations.createInputUpload(c.deps, inputs, caller, fn.functionId, { size: data.length });
    expect(upload).toMatchObject({ method: 'PUT', size: data.length, uploadId: expect.stringMatching(/^in_/) });
    const put = await fetch(upload.uploadUrl, { method: 'PUT', body: data, headers: upload.headers });
    expect(put.status).toBe(200);

    const { job } = await invocations.invoke(c.deps, caller, fn.functionId, { inputUpload: upload.uploadId, mode: 'async' });
    expect(job).toMatchObject({ inputSize: data.length, inputBase64: '' });
    const input = await scheduling.envelopeInput(c.deps, job);
    expect(input).toMatchObject({ kind: 'url', size: data.length });
    const fetched = Buffer.from(await (await fetch((input as { url: string }).url)).arrayBuffer());
    expect(fetched.equals(data)).toBe(true);
    expect(jobs.jobSummary(job).input).toEqual({ kind: 'upload', size: data.length });
  });

  test('an upload is usable only by the caller that asked for it; a missing one is named; small input stays inline', async () => {
    const { user, fn, caller } = await developerWithFunction();
    const upload = await invocations.createInputUpload(c.deps, inputs, caller, fn.functionId, { size: 10 });
    await rejects(invocations.invoke(c.deps, caller, fn.functionId, { inputUpload: upload.uploadId }), 'not_found', 'inputUpload');
    await fetch(upload.uploadUrl, { method: 'PUT', body: Buffer.alloc(10), headers: upload.headers });
    const key = await accounts.createInvokeKey(c.deps, user, fn.functionId, {});
    const keyCaller = await accounts.authenticateCaller(c.deps, undefined, key.key);
    await rejects(invocations.invoke(c.deps, keyCaller, fn.functionId, { inputUpload: upload.uploadId }), 'not_found', 'inputUpload');
    const other = await developerWithFunction();
    await rejects(invocations.createInputUpload(c.deps, inputs, other.caller, fn.functionId, { size: 10 }), 'not_found');

    await rejects(invocations.createInputUpload(c.deps, inputs, caller, fn.functionId, { size: 0 }), 'invalid_request', 'size');
    await rejects(invocations.createInputUpload(c.deps, inputs, caller, fn.functionId, { size: 200 * 1024 * 1024 }), 'invalid_request', 'size');
    await rejects(invocations.invoke(c.deps, caller, fn.functionId, { input: 'x', inputUpload: upload.uploadId }), 'invalid_request', 'inputUpload');

    const inline = (await invocations.invoke(c.deps, caller, fn.functionId, { input: 'small', mode: 'async' })).job;
    expect(await scheduling.envelopeInput(c.deps, inline)).toEqual({ kind: 'inline', base64: Buffer.from('small').toString('base64') });
  });
});

describe('callbacks', () => {
  interface Received {
    body: string;
    headers: Record<string, string | string[] | undefined>;
  }
  let server: Server;
  let url: string;
  const received: Received[] = [];
  let answer = 200;

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (d: Buffer) => chunks.push(d));
      req.on('end', () => {
        received.push({ body: Buffer.concat(chunks).toString('utf8'), headers: req.headers });
        res.writeHead(answer).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook?secret=s3cr3t`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  beforeEach(() => {
    received.length = 0;
    answer = 200;
  });

  const finish = (jobId: string) =>
    c.deps.jobs.transition(jobId, ['QUEUED'], { status: 'FAILED', reason: 'test: finished', finishedAt: new Date().toISOString() }, {}, ['waitingShard']);
  const at = (ms: number) => ({ ...c.deps, now: () => new Date(Date.now() + ms) });
  const drainFor = async (jobId: string, deps = c.deps) => {
    const report = await callbacks.deliverDueCallbacks(deps, sender, 100);
    return { report, job: await c.deps.jobs.getJob(jobId) };
  };

  test('a finished job’s view is POSTed once, signed with the controller key over the exact body', async () => {
    const { fn, caller } = await developerWithFunction();
    const { job } = await invocations.invoke(c.deps, caller, fn.functionId, { input: 'x', mode: 'async', callbackUrl: url }, { allowLoopbackCallbacks: true });
    expect(job).toMatchObject({ callbackShard: 'c', callbackAttempts: 0 });

    // Not ended yet: nothing is sent, the job is looked at again later.
    await drainFor(job.jobId);
    expect(received.filter((r) => r.body.includes(job.jobId))).toHaveLength(0);

    expect(await finish(job.jobId)).toBe(true);
    const { job: after } = await drainFor(job.jobId, at(10_000));
    const mine = received.filter((r) => r.body.includes(job.jobId));
    expect(mine).toHaveLength(1);
    const { body, headers } = mine[0] as Received;
    const ok = verify(
      null,
      Buffer.from(body),
      createPublicKey(c.controllerKey.publicKeyPem),
      Buffer.from(headers['x-chainfaas-signature'] as string, 'base64'),
    );
    expect(ok).toBe(true);
    expect(headers['x-chainfaas-delivery']).toBe(`${job.jobId}.1`);
    expect(JSON.parse(body)).toMatchObject({ event: 'job.finished', attempt: 1, job: { jobId: job.jobId, status: 'FAILED', reason: 'test: finished' } });
    expect(after).toMatchObject({ callbackAttempts: 1 });
    expect(after?.callbackDeliveredAt).toBeDefined();
    expect(after?.callbackShard).toBeUndefined();
    expect(jobs.jobSummary(after as NonNullable<typeof after>).callback).toMatchObject({ status: 'delivered', attempts: 1 });

    // Delivered means done: later sweeps send nothing more.
    await drainFor(job.jobId, at(3_600_000));
    expect(received.filter((r) => r.body.includes(job.jobId))).toHaveLength(1);
  });

  test('two sweepers at once deliver an attempt once', async () => {
    const { fn, caller } = await developerWithFunction();
    const { job } = await invocations.invoke(c.deps, caller, fn.functionId, { mode: 'async', callbackUrl: url }, { allowLoopbackCallbacks: true });
    await finish(job.jobId);
    await Promise.all([callbacks.deliverDueCallbacks(at(1000), sender), callbacks.deliverDueCallbacks(at(1000), sender)]);
    expect(received.filter((r) => r.body.includes(job.jobId))).toHaveLength(1);
  });

  test('a failing receiver is retried with backoff, at most MAX_ATTEMPTS times, then given up with the reason', async () => {
    answer = 500;
    const { fn, caller } = await developerWithFunction();
    const { job } = await invocations.invoke(c.deps, caller, fn.functionId, { mode: 'async', callbackUrl: url }, { allowLoopbackCallbacks: true });
    await finish(job.jobId);
    let clock = 1000;
    const first = await drainFor(job.jobId, at(clock));
    expect(first.job).toMatchObject({ callbackAttempts: 1, callbackError: 'the receiver answered 500', callbackShard: 'c' });
    // The next attempt is not due before its backoff.
    await drainFor(job.jobId, at(clock + 1000));
    expect(received.filter((r) => r.body.includes(job.jobId))).toHaveLength(1);
    for (let i = 0; i < 10; i++) {
      clock += 3_600_000;
      await drainFor(job.jobId, at(clock));
    }
    const mine = received.filter((r) => r.body.includes(job.jobId));
    expect(mine).toHaveLength(callbacks.CALLBACK.maxAttempts);
    expect(mine.map((r) => r.headers['x-chainfaas-delivery'])).toEqual(
      Array.from({ length: callbacks.CALLBACK.maxAttempts }, (_, i) => `${job.jobId}.${i + 1}`),
    );
    const final = await c.deps.jobs.getJob(job.jobId);
    expect(final?.callbackShard).toBeUndefined();
    expect(final?.callbackError).toMatch(/gave up after 5 attempts/);
    expect(jobs.jobSummary(final as NonNullable<typeof final>).callback?.status).toBe('failed');
  });

  test('a cancelled job gets its callback too', async () => {
    const { user, fn, caller } = await developerWithFunction();
    const { job } = await invocations.invoke(c.deps, caller, fn.functionId, { mode: 'async', callbackUrl: url }, { allowLoopbackCallbacks: true });
    await jobs.cancelJob(c.deps, user, job.jobId);
    await drainFor(job.jobId, at(1000));
    const mine = received.filter((r) => r.body.includes(job.jobId));
    expect(mine).toHaveLength(1);
    expect(JSON.parse((mine[0] as Received).body).job.status).toBe('CANCELLED');
  });

  test('callback URLs: https to a public name only; loopback http only in local mode', async () => {
    const { fn, caller } = await developerWithFunction();
    const refuse = async (callbackUrl: string, allowLoopbackCallbacks = false) =>
      rejects(invocations.invoke(c.deps, caller, fn.functionId, { callbackUrl }, { allowLoopbackCallbacks }), 'invalid_request', 'callbackUrl');
    await refuse('http://example.com/hook');
    await refuse(url);
    await refuse('https://127.0.0.1/hook');
    await refuse('https://10.1.2.3/hook');
    await refuse('https://169.254.169.254/latest/meta-data');
    await refuse('https://[::1]/hook');
    await refuse('https://user:pw@example.com/hook');
    await refuse('http://10.0.0.1/hook', true);
    await refuse('ftp://example.com/hook', true);
    expect(callbacks.checkCallbackUrl('https://hooks.example.com/chainfaas', false)).toBe('https://hooks.example.com/chainfaas');
    expect(callbacks.checkCallbackUrl('http://127.0.0.1:9/x', true)).toBe('http://127.0.0.1:9/x');
  });
});
