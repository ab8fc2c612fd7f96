import { createHash, createHmac } from 'node:crypto';
import { DeleteMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { JobEnvelope, RuntimeReport } from '../../contract/src';
import { providerSessionPolicy } from '../../lambdas/core/session-policies';
import { generateKeyPair, sha256Hex, signPayload } from '../../contract/src';
import { Api, newUser } from '../support/api';
import { registerProvider, ScriptedProvider, startTestPlatform, TestPlatform } from '../scheduling/support';

/**
 * Hostile providers and end-users against the running local platform (DynamoDB Local, fauxqs, the
 * handlers behind the local API, the embedded ledger). Mallory is a registered provider (her own
 * account, key and queue); Pat is the honest provider a job was assigned to. Every attempt is
 * refused with the right 4xx, and afterwards the job, its ledger record and the balances are
 * exactly what they were.
 */

let t: TestPlatform;
let dev: Api;
let pat: ScriptedProvider;
let mallory: Awaited<ReturnType<typeof registerProvider>>;
let patJob: string;
let malloryJob: string;
let functionId: string;
// A long timeout, so that a claim within it can still be longer than the time since assignment.
const resources = { vcpu: 0.5, memoryMb: 64, timeoutS: 60 };
const image = `127.0.0.1:5000/chainfaas/sha256@sha256:${'a'.repeat(64)}`;

beforeAll(async () => {
  t = await startTestPlatform({ HEARTBEAT_INTERVAL_S: '30' }, { images: false });
  dev = (await newUser(t.api, ['developer'])).api;
  functionId = (await dev.post('/functions', { name: 'victim', image, mode: 'async', resources })).body.functionId;
  // Pat fits exactly one job: the first goes to Pat, the second to Mallory (registered after).
  pat = await ScriptedProvider.register(t.api, t.sqs, { vcpu: 0.5, memoryMb: 64 }, 'pat');
  const first = await dev.post(`/functions/${functionId}/invocations`, { input: 'for pat' });
  expect(first.body).toMatchObject({ status: 'ASSIGNED', providerId: pat.providerId });
  patJob = first.body.jobId;
  mallory = await registerProvider(t.api, { vcpu: 0.5, memoryMb: 64 }, 'mallory');
  const second = await dev.post(`/functions/${functionId}/invocations`, { input: 'for mallory' });
  expect(second.body).toMatchObject({ status: 'ASSIGNED', providerId: mallory.registration.providerId });
  malloryJob = second.body.jobId;
}, 300_000);

afterAll(async () => {
  await t?.stop();
}, 60_000);

const malloryId = () => mallory.registration.providerId as string;

function reportFor(jobId: string, providerId: string, overrides: Partial<RuntimeReport> = {}, result = Buffer.from('{"ok":true}')): RuntimeReport {
  const now = new Date().toISOString();
  return {
    v: 1,
    jobId,
    providerId,
    attempt: 1,
    status: 'succeeded',
    exitCode: 0,
    runtimeMs: 25,
    resultSha256: sha256Hex(result),
    resultSize: result.length,
    logSize: 0,
    startedAt: now,
    finishedAt: now,
    ...overrides,
  };
}

/** What must not move: the job as its developer sees it, its ledger record, both parties' balances. */
async function state(jobId: string) {
  await t.platform.flushLedger();
  const job = (await dev.get(`/jobs/${jobId}`)).body;
  delete job.resultUrl; // presigned: a fresh signature on every read
  delete job.logUrl;
  const ledger = (await dev.get(`/jobs/${jobId}/ledger`)).body;
  const account = (await dev.get('/account')).body;
  const malloryAccount = (await mallory.api.get('/account')).body;
  return { job, ledger, account, malloryAccount };
}

async function expectRefused(res: { status: number; body: any }, status: number, message?: RegExp) {
  expect({ status: res.status, code: res.body?.error?.code }).toEqual({ status, code: expect.any(String) });
  if (message) expect(res.body.error.message).toMatch(message);
}

describe('a provider reporting what is not its own', () => {
  test('a report for a job assigned to another provider is 404, as if the job did not exist; nothing changes', async () => {
    const before = await state(patJob);
    const report = reportFor(patJob, malloryId());
    await expectRefused(
      await mallory.api.post(`/providers/${malloryId()}/reports`, { report, signature: signPayload(report, mallory.keys.privateKeyPem) }),
      404,
    );
    // An unknown job id answers exactly the same.
    const unknown = reportFor('job_doesnotexist', malloryId());
    const res = await mallory.api.post(`/providers/${malloryId()}/reports`, { report: unknown, signature: signPayload(unknown, mallory.keys.privateKeyPem) });
    await expectRefused(res, 404);
    expect(await state(patJob)).toEqual(before);
  });

  test("posting to another provider's report route, or naming it in the report, is refused", async () => {
    const before = await state(patJob);
    // Mallory's token on Pat's provider id: not hers, so it does not exist for her.
    const asPat = reportFor(patJob, pat.providerId);
    await expectRefused(
      await mallory.api.post(`/providers/${pat.providerId}/reports`, { report: asPat, signature: signPayload(asPat, mallory.keys.privateKeyPem) }),
      404,
    );
    // Her own route, a report that names Pat.
    await expectRefused(
      await mallory.api.post(`/providers/${malloryId()}/reports`, { report: asPat, signature: signPayload(asPat, mallory.keys.privateKeyPem) }),
      403,
      /another provider/,
    );
    // Her heartbeat and credentials routes for Pat's id.
    await expectRefused(await mallory.api.put(`/providers/${pat.providerId}/heartbeat`, { runningJobs: [patJob] }), 404);
    await expectRefused(await mallory.api.post(`/providers/${pat.providerId}/credentials`), 404);
    expect(await state(patJob)).toEqual(before);
  });

  test("a report signed with another provider's key is 403 on the signature; nothing changes", async () => {
    const before = await state(malloryJob);
    // Mallory's own job, but signed with a key that is not the one she registered (here: a fresh one).
    const report = reportFor(malloryJob, malloryId());
    const res = await mallory.api.post(`/providers/${malloryId()}/reports`, { report, signature: signPayload(report, generateKeyPair().privateKeyPem) });
    await expectRefused(res, 403, /signature/);
    // And a signature over another report (a replay of a different body).
    const other = { ...report, runtimeMs: 1 };
    await expectRefused(
      await mallory.api.post(`/providers/${malloryId()}/reports`, { report, signature: signPayload(other, mallory.keys.privateKeyPem) }),
      403,
      /signature/,
    );
    expect(await state(malloryJob)).toEqual(before);
  });

  test("a run time larger than the job's deadline is 400 naming report.runtimeMs; nothing changes", async () => {
    const before = await state(malloryJob);
    const envelope = await envelopeOf(mallory, malloryJob);
    await fetch(envelope.resultPutUrl, { method: 'PUT', body: Buffer.from('{"ok":true}') });
    const report = reportFor(malloryJob, malloryId(), { runtimeMs: resources.timeoutS * 1000 + 60_000 });
    const res = await mallory.api.post(`/providers/${malloryId()}/reports`, { report, signature: signPayload(report, mallory.keys.privateKeyPem) });
    await expectRefused(res, 400, /runtimeMs/);
    expect(res.body.error.field).toBe('report.runtimeMs');
    expect(await state(malloryJob)).toEqual(before);
  });

  test('#18 item 6: a run time longer than the controller saw pass since it assigned the attempt is 400 naming report.runtimeMs; nothing changes', async () => {
    const before = await state(malloryJob);
    const assignedAt = Date.parse(before.job.timings.assignedAt);
    const envelope = await envelopeOf(mallory, malloryJob);
    await fetch(envelope.resultPutUrl, { method: 'PUT', body: Buffer.from('{"ok":true}') });
    // Within the timeout and its grace (what alone was checked before), but 5 s more than has passed.
    const runtimeMs = Date.now() - assignedAt + 5000;
    expect(runtimeMs).toBeLessThanOrEqual(resources.timeoutS * 1000);
    const report = reportFor(malloryJob, malloryId(), { runtimeMs });
    const res = await mallory.api.post(`/providers/${malloryId()}/reports`, { report, signature: signPayload(report, mallory.keys.privateKeyPem) });
    await expectRefused(res, 400, /longer than the \d+ ms that passed since the controller assigned attempt 1/);
    expect(res.body.error.field).toBe('report.runtimeMs');
    expect(await state(malloryJob)).toEqual(before);
  });

  test('a result size that is not what was stored is 400 naming report.resultSize; nothing changes', async () => {
    const before = await state(malloryJob);
    const report = reportFor(malloryJob, malloryId(), { resultSize: 5_000_000 });
    const res = await mallory.api.post(`/providers/${malloryId()}/reports`, { report, signature: signPayload(report, mallory.keys.privateKeyPem) });
    await expectRefused(res, 400);
    expect(res.body.error.field).toBe('report.resultSize');
    expect(await state(malloryJob)).toEqual(before);
  });

  test('a report for an attempt that is not the current one is 409; nothing changes', async () => {
    const before = await state(malloryJob);
    const report = reportFor(malloryJob, malloryId(), { attempt: 2 });
    await expectRefused(
      await mallory.api.post(`/providers/${malloryId()}/reports`, { report, signature: signPayload(report, mallory.keys.privateKeyPem) }),
      409,
    );
    expect(await state(malloryJob)).toEqual(before);
  });

  test('reporting twice: the same report again changes nothing; a different second report is 409', async () => {
    const envelope = await envelopeOf(mallory, malloryJob);
    const result = Buffer.from('{"ok":true}');
    expect((await fetch(envelope.resultPutUrl, { method: 'PUT', body: result })).ok).toBe(true);
    const report = reportFor(malloryJob, malloryId(), {}, result);
    const signature = signPayload(report, mallory.keys.privateKeyPem);
    const first = await mallory.api.post(`/providers/${malloryId()}/reports`, { report, signature });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ jobId: malloryJob, status: 'SUCCEEDED' });
    const settled = await state(malloryJob);
    expect(settled.job.status).toBe('SUCCEEDED');

    const again = await mallory.api.post(`/providers/${malloryId()}/reports`, { report, signature });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ duplicate: true });
    const longer = { ...report, runtimeMs: report.runtimeMs + 5000 };
    const second = await mallory.api.post(`/providers/${malloryId()}/reports`, { report: longer, signature: signPayload(longer, mallory.keys.privateKeyPem) });
    await expectRefused(second, 409, /already SUCCEEDED/);
    expect(await state(malloryJob)).toEqual(settled);
    // One run time and one receipt on the ledger, from the first report.
    expect(settled.ledger.record).toMatchObject({ runtimeMs: report.runtimeMs });
  });
});

describe("another job's result", () => {
  test("the presigned PUT URL names only its own job's key, and its signature covers that key (S3 refuses another)", async () => {
    const envelope = await envelopeOf(pat, patJob);
    const own = new URL(envelope.resultPutUrl);
    expect(own.pathname).toMatch(new RegExp(`/results/${patJob}/result$`));
    expect(Number(own.searchParams.get('X-Amz-Expires'))).toBeLessThanOrEqual(3600);
    // The signature S3 checks (SigV4, query form) verifies for the URL as issued ...
    expect(sigV4Valid(own, 'PUT', t.platform.env.AWS_SECRET_ACCESS_KEY)).toBe(true);
    // ... and not once the key is changed to another job's: AWS answers SignatureDoesNotMatch.
    const tampered = new URL(own);
    tampered.pathname = own.pathname.replace(patJob, malloryJob);
    expect(sigV4Valid(tampered, 'PUT', t.platform.env.AWS_SECRET_ACCESS_KEY)).toBe(false);
  });

  test("a provider cannot make the controller link another job's result: reports carry no key, and the job keeps its own", async () => {
    // The report schema refuses any extra member (a key, a URL) outright.
    const report = { ...reportFor(patJob, malloryId()), resultKey: `results/${malloryJob}/result` };
    const res = await mallory.api.post(`/providers/${malloryId()}/reports`, { report, signature: signPayload(report, mallory.keys.privateKeyPem) });
    await expectRefused(res, 400, /resultKey|Unrecognized/);
    // Mallory's settled job links its own key only.
    const job = (await dev.get(`/jobs/${malloryJob}`)).body;
    expect(new URL(job.resultUrl).pathname).toMatch(new RegExp(`/results/${malloryJob}/result$`));
  });
});

describe("another provider's queue", () => {
  test("locally no queue credentials are handed out; in AWS a provider's session policy names its own queue only", async () => {
    const own = await mallory.api.post(`/providers/${malloryId()}/credentials`);
    expect(own.status).toBe(200);
    expect(own.body).toMatchObject({ providerId: malloryId(), credentialsMode: 'environment' });
    expect(own.body.credentials).toBeUndefined();
    expect((await mallory.api.post(`/providers/${pat.providerId}/credentials`)).status).toBe(404);
    // What STS would scope her credentials to: one statement, her queue's ARN, no wildcard.
    const queueArn = mallory.registration.queueArn as string;
    const policy = JSON.parse(providerSessionPolicy(queueArn));
    expect(policy.Statement).toHaveLength(1);
    expect(policy.Statement[0]).toMatchObject({ Effect: 'Allow', Resource: queueArn });
    expect(JSON.stringify(policy)).not.toContain('*');
    expect(() => providerSessionPolicy('arn:aws:sqs:us-east-1:000000000000:*')).toThrow();
  });
});

describe('an end-user with an invoke key', () => {
  test('invoking another function, or reading jobs the key did not create, is 404; its own job is readable', async () => {
    const other = (await dev.post('/functions', { name: 'other', image, mode: 'async', resources })).body.functionId;
    const key = await dev.post(`/functions/${functionId}/keys`, { name: 'end-user' });
    expect(key.status).toBe(201);
    // An invoke key is sent as X-Api-Key, by an end-user who has no account.
    const anon = new Api(t.api.baseUrl);
    const withKey = (method: string, path: string, body?: unknown) => anon.call(method, path, body, { headers: { 'x-api-key': key.body.key } });
    const listed = async () => ((await dev.get('/jobs')).body.items ?? (await dev.get('/jobs')).body.jobs).length as number;
    const jobsBefore = await listed();

    await expectRefused(await withKey('POST', `/functions/${other}/invocations`, { input: 'x' }), 404);
    await expectRefused(await withKey('GET', `/jobs/${patJob}`), 404);
    // Routes that take no invoke key answer it 403, in X-Api-Key or as a bearer alike (#18 item 4: one rule).
    await expectRefused(await withKey('GET', `/jobs/${patJob}/ledger`), 403, /^an invoke key may only invoke its function/);
    await expectRefused(await withKey('GET', `/functions/${other}`), 403, /^an invoke key may only invoke its function/);
    const keyAsBearer = new Api(t.api.baseUrl, key.body.key);
    await expectRefused(await keyAsBearer.get(`/functions/${other}`), 403, /invoke key/);
    await expectRefused(await keyAsBearer.get('/jobs'), 403, /invoke key/);
    expect(await listed()).toBe(jobsBefore);

    const own = await withKey('POST', `/functions/${functionId}/invocations`, { input: 'mine' });
    expect([200, 202]).toContain(own.status);
    expect((await withKey('GET', `/jobs/${own.body.jobId}`)).status).toBe(200);
  });
});

/** The envelope of `jobId` from the provider's own queue (Mallory's read here as her agent would). */
async function envelopeOf(provider: ScriptedProvider | Awaited<ReturnType<typeof registerProvider>>, jobId: string): Promise<JobEnvelope> {
  if (provider instanceof ScriptedProvider) return provider.envelope(jobId, 1);
  const until = Date.now() + 20_000;
  while (!malloryEnvelopes.has(jobId)) {
    if (Date.now() > until) throw new Error(`no envelope for ${jobId} reached Mallory's queue`);
    const out = await t.sqs.send(new ReceiveMessageCommand({ QueueUrl: provider.registration.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    for (const m of out.Messages ?? []) {
      const { envelope } = JSON.parse(m.Body ?? '{}') as { envelope: JobEnvelope };
      malloryEnvelopes.set(envelope.jobId, envelope);
      await t.sqs.send(new DeleteMessageCommand({ QueueUrl: provider.registration.queueUrl, ReceiptHandle: m.ReceiptHandle }));
    }
  }
  return malloryEnvelopes.get(jobId)!;
}
const malloryEnvelopes = new Map<string, JobEnvelope>();

/**
 * Checks a presigned URL's AWS Signature Version 4 (query parameters, UNSIGNED-PAYLOAD, host the
 * only signed header) the way S3 does, with the secret of the credentials that signed it.
 */
function sigV4Valid(url: URL, method: string, secret: string): boolean {
  const q = url.searchParams;
  const [accessKey, date, region, service] = (q.get('X-Amz-Credential') ?? '').split('/');
  if (!accessKey || q.get('X-Amz-SignedHeaders') !== 'host') return false;
  const params = [...q.entries()].filter(([k]) => k !== 'X-Amz-Signature').map(([k, v]) => [encode(k), encode(v)]);
  params.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const canonicalRequest = [method, url.pathname, params.map(([k, v]) => `${k}=${v}`).join('&'), `host:${url.host}\n`, 'host', 'UNSIGNED-PAYLOAD'].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', q.get('X-Amz-Date'), scope, createHash('sha256').update(canonicalRequest).digest('hex')].join('\n');
  const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
  return createHmac('sha256', signingKey).update(toSign).digest('hex') === q.get('X-Amz-Signature');
}

function encode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
