import { createHash } from 'node:crypto';
import { LIMITS } from '../../contract/src';
import { Api, eventually, newUser } from '../support/api';
import { registerProvider, runAgent, ScriptedProvider, startTestPlatform, TestPlatform } from './support';

/**
 * Issue #16: a result of at most LIMITS.maxInlineResultBytes travels in the provider's report
 * instead of an object (no PUT by the agent, no HEAD by the controller, no GET by the caller). The
 * controller keeps it only if its size and SHA-256 are the ones the signed report names, and the
 * caller's result link, a `data:` URL, reads back exactly those bytes wherever the job view is
 * given (the sync answer, `GET /jobs/{id}`). Larger results still go through the presigned PUT.
 */
let t: TestPlatform;
let agent: Awaited<ReturnType<typeof runAgent>> | undefined;

beforeAll(async () => {
  t = await startTestPlatform({ HEARTBEAT_STALE_MS: '60000' });
}, 300_000);

afterAll(async () => {
  await agent?.agent.stop({ force: true });
  await t?.stop();
}, 60_000);

const image = `127.0.0.1:5000/chainfaas/none@sha256:${'e'.repeat(64)}`;
const resources = { vcpu: 1, memoryMb: 128, timeoutS: 60 };
const job = (dev: { api: Api }, jobId: string) => dev.api.get(`/jobs/${jobId}`).then((r) => r.body);
const read = async (url: string) => Buffer.from(await (await fetch(url)).arrayBuffer());

test('a small result carried in the report is checked against the signed report and read back through a data: link; a large one is uploaded', async () => {
  const p = await ScriptedProvider.register(t.api, t.sqs, { vcpu: 1, memoryMb: 512 }, 'inline');
  const dev = await newUser(t.api, ['developer']);
  const f = (await dev.api.post('/functions', { name: 'f', image, mode: 'async', resources })).body.functionId as string;

  const first = (await dev.api.post(`/functions/${f}/invocations`, {})).body.jobId as string;
  const envelope = await p.envelope(first, 1);
  expect(envelope.inlineResultMaxBytes).toBe(LIMITS.maxInlineResultBytes);

  const result = Buffer.from('{"answer":42}\n');
  // Bytes other than the ones the signature covers: refused, nothing written.
  const forged = await p.completeInline(first, 1, result, Buffer.from('{"answer":43}\n').toString('base64'));
  expect(forged.status).toBe(400);
  expect(forged.body.error).toMatchObject({ field: 'report.resultSha256' });
  // More than the limit: refused, naming the field (upload such a result instead).
  const large = Buffer.alloc(LIMITS.maxInlineResultBytes + 1, 'x');
  const tooLarge = await p.completeInline(first, 1, large);
  expect(tooLarge.status).toBe(400);
  expect(tooLarge.body.error).toMatchObject({ field: 'resultBase64' });
  expect(await job(dev, first)).toMatchObject({ status: 'ASSIGNED' });

  const ok = await p.completeInline(first, 1, result);
  expect(ok.body).toEqual({ jobId: first, status: 'SUCCEEDED' });
  const view = await job(dev, first);
  expect(view).toMatchObject({ status: 'SUCCEEDED', result: { size: result.length, sha256: createHash('sha256').update(result).digest('hex') } });
  expect(view.resultUrl).toMatch(/^data:application\/octet-stream;base64,/);
  expect(await read(view.resultUrl)).toEqual(result);
  // No object was stored for it.
  expect(await t.deps.storage.size(`results/${first}/result`)).toBeUndefined();
  // The same report again (an agent retrying) changes nothing.
  expect((await p.completeInline(first, 1, result)).body).toMatchObject({ jobId: first, status: 'SUCCEEDED', duplicate: true });

  // A result over the limit goes through the presigned PUT, and its link is a presigned GET.
  const second = (await dev.api.post(`/functions/${f}/invocations`, {})).body.jobId as string;
  expect((await p.complete(second, 1, large)).body).toEqual({ jobId: second, status: 'SUCCEEDED' });
  const uploaded = await job(dev, second);
  expect(uploaded.resultUrl).toMatch(/^https?:\/\//);
  expect(await read(uploaded.resultUrl)).toEqual(large);
}, 120_000);

test("the agent sends a small result in its report: the sync answer's link reads it, and no result object exists", async () => {
  // More than the scripted provider above has: the job can only go to this agent.
  const capacity = { vcpu: 2, memoryMb: 512 };
  const provider = await registerProvider(t.api, capacity, 'inline-agent');
  agent = await runAgent(t.api, provider, capacity);
  const dev = await newUser(t.api, ['developer']);
  const fn = (await dev.api.post('/functions', { name: 'sha256', image: t.platform.images.sha256, mode: 'sync', resources: { vcpu: 1.5, memoryMb: 64, timeoutS: 20 } })).body;
  const input = 'carried in the report';
  const answer = await dev.api.post(`/functions/${fn.functionId}/invocations`, { input });
  expect(answer.status).toBe(200);
  expect(answer.body).toMatchObject({ status: 'SUCCEEDED', providerId: provider.registration.providerId });
  expect(answer.body.resultUrl).toMatch(/^data:/);
  const out = JSON.parse((await read(answer.body.resultUrl)).toString('utf8')) as { sha256: string };
  expect(out.sha256).toBe(createHash('sha256').update(input).digest('hex'));
  expect(await t.deps.storage.size(`results/${answer.body.jobId}/result`)).toBeUndefined();
  // The job's link stays the same bytes when read again later.
  expect(await read((await job(dev, answer.body.jobId)).resultUrl)).toEqual(await read(answer.body.resultUrl));
  // And the job is paid as any other.
  await eventually('the job to be paid', async () => {
    await t.platform.flushLedger();
    return (await job(dev, answer.body.jobId)).paid ? true : undefined;
  }, 30_000);
}, 180_000);
