import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import Docker from 'dockerode';
import { generateKeyPair, JobEnvelope, keyId } from '../../contract/src';
import { ProviderAgent } from '../../provider-agent/src/agent';
import { AgentConfigInput } from '../../provider-agent/src/config';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { BUCKET, CloudEmulator, FakeController, REGION, startCloudEmulator, startFakeController } from './harness';
import { containersOfAgent, controllerKeyId, controllerKeys, ImageRegistry, makeEnvelope, memoryLogger, signedMessage, startImageRegistry } from './support';

/**
 * The whole agent loop on real parts: the SQS queue and S3 bucket of fauxqs (presigned PUT URLs),
 * the Docker engine, a registry holding the example images; only the controller's three provider
 * endpoints are a stand-in that checks report signatures.
 */

let registry: ImageRegistry;
let cloud: CloudEmulator;
let controller: FakeController;
const providerKeys = generateKeyPair();
const logger = memoryLogger();
const agents: ProviderAgent[] = [];

beforeAll(async () => {
  const started = await Promise.allSettled([startImageRegistry(['sha256', 'fail', 'sleep', 'hog', 'http-tool']), startCloudEmulator(), startFakeController()]);
  [registry, cloud, controller] = started.map((s) => (s.status === 'fulfilled' ? s.value : undefined)) as [ImageRegistry, CloudEmulator, FakeController];
  for (const s of started) if (s.status === 'rejected') throw s.reason;
  controller.providerPublicKey = providerKeys.publicKeyPem;
}, 300_000);

afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop({ force: true })));
  controller.reports.length = 0;
  controller.heartbeats.length = 0;
  controller.drain = false;
  controller.refuseReportsWith = undefined;
});

afterAll(async () => {
  await Promise.all([registry?.stop(), cloud?.stop(), controller?.stop()]);
});

/** A provider with its own queue (or the one given), and an agent for it (not started). */
async function provider(overrides: Partial<AgentConfigInput> = {}, existing?: { providerId: string; queueUrl: string }) {
  const providerId = existing?.providerId ?? `prov-${randomUUID().slice(0, 8)}`;
  const queueUrl = existing?.queueUrl ?? (await cloud.createQueue(`chainfaas-provider-${providerId}`));
  const agent = new ProviderAgent(
    {
      apiUrl: controller.url,
      token: controller.token,
      registration: {
        providerId,
        queueUrl,
        controllerPublicKey: controllerKeys.publicKeyPem,
        controllerKeyId,
        heartbeatIntervalS: 1,
        sqsEndpoint: cloud.endpoint,
        region: REGION,
      },
      privateKeyPem: providerKeys.privateKeyPem,
      capacity: { vcpu: 2, memoryMb: 512 },
      pollWaitS: 1,
      visibilityTimeoutS: 30,
      ...overrides,
    },
    { logger },
  );
  agents.push(agent);
  return { providerId, queueUrl, agent };
}

/** A job envelope for `providerId` with fresh presigned result and log URLs. */
async function job(providerId: string, image: string, input: string, overrides: Partial<JobEnvelope> = {}) {
  const jobId = `job-${randomUUID()}`;
  return makeEnvelope(image, {
    jobId,
    providerId,
    input: { kind: 'inline', base64: Buffer.from(input).toString('base64') },
    resultPutUrl: await cloud.presignPut(`results/${jobId}`),
    logPutUrl: await cloud.presignPut(`logs/${jobId}`),
    ...overrides,
  });
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('a signed job runs: result uploaded (no log object: stderr was empty), a signed report posted, then the message deleted', async () => {
  const { providerId, queueUrl, agent } = await provider();
  const input = 'hello chainfaas provider';
  const envelope = await job(providerId, registry.images.sha256, input);
  await cloud.send(queueUrl, signedMessage(envelope));
  await agent.start();

  const [received] = await controller.waitForReports(1);
  expect(received.signatureValid).toBe(true);
  const result = await cloud.read(`results/${envelope.jobId}`);
  const expected = { sha256: createHash('sha256').update(input).digest('hex'), bytes: input.length, words: 3 };
  expect(JSON.parse(result!.toString())).toEqual(expected);
  expect(received.report).toMatchObject({
    v: 1,
    jobId: envelope.jobId,
    providerId,
    attempt: 1,
    status: 'succeeded',
    exitCode: 0,
    resultSha256: createHash('sha256').update(result!).digest('hex'),
    resultSize: result!.length,
    logSize: 0,
  });
  expect(received.report.reason).toBeUndefined();
  // The function wrote no log: no log object is stored (the signed report's logSize 0 says so).
  expect(await cloud.read(`logs/${envelope.jobId}`)).toBeUndefined();
  await until('the message is deleted', async () => (await cloud.messageCount(queueUrl)).inFlight === 0);
  expect(await cloud.messageCount(queueUrl)).toEqual({ visible: 0, inFlight: 0 });
  expect(agent.status().totals).toMatchObject({ succeeded: 1, failed: 0, refused: 0 });
  expect(agent.status().cachedImages).toEqual([registry.images.sha256]);
  await until('a heartbeat lists the cached image', () => controller.heartbeats.some((h) => (h.cachedImages as string[]).includes(registry.images.sha256)));
});

test('a failing function is reported as failed with exit code 3, its stderr uploaded as the log', async () => {
  const { providerId, queueUrl, agent } = await provider();
  const envelope = await job(providerId, registry.images.fail, '');
  await cloud.send(queueUrl, signedMessage(envelope));
  await agent.start();

  const [received] = await controller.waitForReports(1);
  expect(received.report).toMatchObject({ status: 'failed', reason: 'exit', exitCode: 3, resultSize: 0 });
  const log = await cloud.read(`logs/${envelope.jobId}`);
  expect(log!.toString()).toBe('fail: this function always fails (exit status 3)\n');
  expect(received.report.logSize).toBe(log!.length);
});

test('a timeout and an OOM kill are reported with their reasons, and their logs uploaded', async () => {
  const { providerId, queueUrl, agent } = await provider();
  const late = await job(providerId, registry.images.sleep, '30', { resources: { vcpu: 0.5, memoryMb: 32, timeoutS: 1 } });
  const hungry = await job(providerId, registry.images.hog, '256', { resources: { vcpu: 0.5, memoryMb: 32, timeoutS: 20 } });
  await cloud.send(queueUrl, signedMessage(late));
  await cloud.send(queueUrl, signedMessage(hungry));
  await agent.start();

  const byJob = new Map((await controller.waitForReports(2)).map((r) => [r.report.jobId, r.report]));
  expect(byJob.get(late.jobId)).toMatchObject({ status: 'failed', reason: 'timeout' });
  expect(byJob.get(hungry.jobId)).toMatchObject({ status: 'failed', reason: 'oom', exitCode: 137 });
  const lateLog = (await cloud.read(`logs/${late.jobId}`))!.toString();
  const hungryLog = (await cloud.read(`logs/${hungry.jobId}`))!.toString();
  expect(lateLog).toContain('[chainfaas: killed: the function ran past its deadline of 1 s]');
  expect(hungryLog).toContain('[chainfaas: killed: the function ran out of memory (limit 32 MB)]');
  expect(byJob.get(late.jobId)!.logSize).toBe(Buffer.byteLength(lateLog));
  expect(byJob.get(hungry.jobId)!.logSize).toBe(Buffer.byteLength(hungryLog));
});

test('input given as a URL is fetched and checked against its declared size', async () => {
  const { providerId, queueUrl, agent } = await provider();
  const input = 'large input '.repeat(10_000);
  const inputKey = `inputs/${randomUUID()}`;
  await cloud.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: inputKey, Body: input }));
  const url = await getSignedUrl(cloud.s3, new GetObjectCommand({ Bucket: BUCKET, Key: inputKey }), { expiresIn: 900 });
  const good = await job(providerId, registry.images.sha256, '', { input: { kind: 'url', url, size: input.length } });
  const wrongSize = await job(providerId, registry.images.sha256, '', { input: { kind: 'url', url, size: 5 } });
  await cloud.send(queueUrl, signedMessage(good));
  await cloud.send(queueUrl, signedMessage(wrongSize));
  await agent.start();

  const reports = await controller.waitForReports(2);
  const byJob = new Map(reports.map((r) => [r.report.jobId, r.report]));
  expect(byJob.get(good.jobId)).toMatchObject({ status: 'succeeded' });
  expect(JSON.parse((await cloud.read(`results/${good.jobId}`))!.toString())).toMatchObject({ bytes: input.length, words: 20_000 });
  expect(byJob.get(wrongSize.jobId)).toMatchObject({ status: 'failed', reason: 'runtime_error', exitCode: null, runtimeMs: 0 });
  expect((await cloud.read(`logs/${wrongSize.jobId}`))!.toString()).toContain(`the input has ${input.length} bytes; the envelope declares 5`);
});

test('an image that cannot be pulled is reported as image_unavailable, unbilled', async () => {
  const { providerId, queueUrl, agent } = await provider();
  const missing = `${registry.address}/chainfaas/missing@sha256:${'0'.repeat(64)}`;
  const envelope = await job(providerId, missing, '');
  await cloud.send(queueUrl, signedMessage(envelope));
  await agent.start();

  const [received] = await controller.waitForReports(1);
  expect(received.report).toMatchObject({ status: 'failed', reason: 'image_unavailable', runtimeMs: 0, exitCode: null, resultSize: 0 });
  expect((await cloud.read(`logs/${envelope.jobId}`))!.toString()).toMatch(/^chainfaas-provider: docker pull .*missing/);
  expect(await containersOfAgent(providerId)).toEqual([]);
});

test('a tampered envelope is refused: no container is created, no report is posted, the message is deleted', async () => {
  const { providerId, queueUrl, agent } = await provider();
  const envelope = await job(providerId, registry.images.sha256, 'original input');
  // Signed for one input, delivered with another.
  const tampered = JSON.parse(signedMessage(envelope));
  tampered.envelope.input.base64 = Buffer.from('changed after signing').toString('base64');
  await cloud.send(queueUrl, JSON.stringify(tampered));
  // Signed by a key that is not the controller's, claiming the controller's key id.
  const forged = JSON.parse(signedMessage(await job(providerId, registry.images.sha256, 'x'), generateKeyPair()));
  forged.keyId = controllerKeyId;
  await cloud.send(queueUrl, JSON.stringify(forged));
  const docker = new Docker();
  const seen = new Set<string>();
  const watch = setInterval(() => void containersOfAgent(providerId).then((list) => list.forEach((c) => seen.add(c.Id))), 50);
  await agent.start();

  try {
    await until('both messages are refused', () => agent.status().totals.refused === 2);
    await until('the messages are deleted', async () => (await cloud.messageCount(queueUrl)).inFlight === 0);
  } finally {
    clearInterval(watch);
  }
  expect(await cloud.messageCount(queueUrl)).toEqual({ visible: 0, inFlight: 0 });
  expect(seen.size).toBe(0);
  expect(await containersOfAgent(providerId)).toEqual([]);
  expect((await docker.listContainers({ all: true, filters: { label: [`chainfaas.job=${envelope.jobId}`] } })).length).toBe(0);
  expect(controller.reports).toEqual([]);
  expect(logger.records.filter((r) => r.message === 'refused a job message').map((r) => r.reason)).toEqual(expect.arrayContaining(['bad_signature']));
});

test('an envelope whose start-by time passed, or for another provider, is refused', async () => {
  const { providerId, queueUrl, agent } = await provider();
  const past = new Date(Date.now() - 1000).toISOString();
  await cloud.send(queueUrl, signedMessage(await job(providerId, registry.images.sha256, 'late', { startBy: past })));
  await cloud.send(queueUrl, signedMessage(await job('someone-else', registry.images.sha256, 'not mine')));
  await agent.start();

  await until('both messages are refused', () => agent.status().totals.refused === 2);
  expect(controller.reports).toEqual([]);
  expect(await containersOfAgent(providerId)).toEqual([]);
});

test('jobs run concurrently within the capacity', async () => {
  const { providerId, queueUrl, agent } = await provider({ capacity: { vcpu: 1, memoryMb: 256 } });
  for (let i = 0; i < 2; i++) {
    await cloud.send(queueUrl, signedMessage(await job(providerId, registry.images.sleep, '2', { resources: { vcpu: 0.5, memoryMb: 64, timeoutS: 20 } })));
  }
  const started = Date.now();
  await agent.start();
  await until('both jobs run at once', () => agent.status().jobs.filter((j) => j.phase === 'running').length === 2, 20_000);
  expect(agent.status().used).toEqual({ vcpu: 1, memoryMb: 128 });
  await until('a heartbeat reports the capacity they hold as taken', () =>
    controller.heartbeats.some((h) => (h.runningJobs as string[]).length === 2 && JSON.stringify(h.free) === JSON.stringify({ vcpu: 0, memoryMb: 128 })),
  );
  const reports = await controller.waitForReports(2);
  expect(reports.map((r) => r.report.status)).toEqual(['succeeded', 'succeeded']);
  expect(Date.now() - started).toBeLessThan(15_000);
});

test('stop() drains: it waits for the running job to finish and report', async () => {
  const { providerId, queueUrl, agent } = await provider();
  const envelope = await job(providerId, registry.images.sleep, '2');
  await cloud.send(queueUrl, signedMessage(envelope));
  await agent.start();
  await until('the job runs', () => agent.status().jobs.some((j) => j.phase === 'running'), 20_000);

  await agent.stop();
  expect(agent.status().state).toBe('stopped');
  expect(controller.reports.map((r) => r.report.jobId)).toEqual([envelope.jobId]);
  expect(controller.reports[0].report.status).toBe('succeeded');
  expect(await cloud.messageCount(queueUrl)).toEqual({ visible: 0, inFlight: 0 });
  expect(controller.heartbeats.at(-1)).toMatchObject({ draining: true, runningJobs: [], free: { vcpu: 2, memoryMb: 512 } });
});

test('a forced stop kills the running job and returns its message to the queue', async () => {
  const { providerId, queueUrl, agent } = await provider({ visibilityTimeoutS: 10 });
  const envelope = await job(providerId, registry.images.sleep, '60');
  await cloud.send(queueUrl, signedMessage(envelope));
  await agent.start();
  await until('the job runs', () => agent.status().jobs.some((j) => j.phase === 'running'), 20_000);

  await agent.stop({ force: true });
  expect(controller.reports).toEqual([]);
  expect(agent.status().totals.returned).toBe(1);
  expect(await containersOfAgent(providerId)).toEqual([]);
  // The message is made visible at once; a long poll that the stop cut short may still take it
  // on the emulator's side, and then it comes back when that receipt's visibility ends.
  let redelivered: string | undefined;
  await until(
    'another consumer receives the job',
    async () => {
      const { Messages } = await cloud.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 1 }));
      redelivered = Messages?.[0]?.Body;
      return redelivered !== undefined;
    },
    20_000,
  );
  expect(JSON.parse(redelivered!).envelope.jobId).toBe(envelope.jobId);
});

test('a drain asked by the controller in a heartbeat stops the agent', async () => {
  const { agent } = await provider();
  await agent.start();
  controller.drain = true;
  await agent.whenStopped();
  expect(agent.status().state).toBe('stopped');
});

test('a report the controller refuses leaves the message for redelivery', async () => {
  const { providerId, queueUrl, agent } = await provider();
  controller.refuseReportsWith = 400;
  await cloud.send(queueUrl, signedMessage(await job(providerId, registry.images.sha256, 'x')));
  await agent.start();

  await until('the refusal is logged', () => (agent.status().lastError ?? '').includes('answered 400'));
  expect(await cloud.messageCount(queueUrl)).toEqual({ visible: 0, inFlight: 1 });
});

test('containers left by an earlier run of the agent are removed at start-up', async () => {
  const { providerId, agent } = await provider();
  const docker = new Docker();
  const orphan = await docker.createContainer({ Image: registry.images.sleep, Labels: { 'chainfaas.agent': providerId, 'chainfaas.job': 'job-orphan' } });
  expect((await containersOfAgent(providerId)).map((c) => c.Id)).toEqual([orphan.id]);

  await agent.start();
  expect(await containersOfAgent(providerId)).toEqual([]);
});

test('http jobs: the second runs in the warm container of the first; heartbeats report the warm function', async () => {
  const { providerId, queueUrl, agent } = await provider();
  const http = { protocol: 'http' as const, functionId: 'fn-http-tool', resources: { vcpu: 0.5, memoryMb: 64, timeoutS: 10 } };
  const first = await job(providerId, registry.images['http-tool'], 'count', http);
  await cloud.send(queueUrl, signedMessage(first));
  await agent.start();
  await controller.waitForReports(1);
  await until('a heartbeat lists the warm function', () => controller.heartbeats.some((h) => (h.warmFunctions as string[]).includes('fn-http-tool')));
  const [container] = (await containersOfAgent(providerId)).filter((c) => c.Labels['chainfaas.role'] === 'function');
  expect(agent.status().warmFunctions).toEqual(['fn-http-tool']);

  const second = await job(providerId, registry.images['http-tool'], 'count', http);
  await cloud.send(queueUrl, signedMessage(second));
  const reports = await controller.waitForReports(2);
  expect(reports.map((r) => [r.report.jobId, r.report.status, r.signatureValid])).toEqual([
    [first.jobId, 'succeeded', true],
    [second.jobId, 'succeeded', true],
  ]);
  const results = await Promise.all([first, second].map(async (e) => JSON.parse((await cloud.read(`results/${e.jobId}`))!.toString())));
  expect(results.map((r) => r.requests)).toEqual([1, 2]);
  expect(results[1].pid).toBe(results[0].pid);
  expect((await containersOfAgent(providerId)).filter((c) => c.Labels['chainfaas.role'] === 'function').map((c) => c.Id)).toEqual([container.Id]);
  expect((await cloud.read(`logs/${first.jobId}`))!.toString()).toContain('http-tool: listening on 8080');

  await agent.stop();
  expect(await containersOfAgent(providerId)).toEqual([]);
  expect(controller.heartbeats.at(-1)).toMatchObject({ draining: true, warmFunctions: [] });
});

/** Collects the ids of every container labelled with `jobId` while it runs; `stop()` returns them. */
function watchContainers(jobId: string): { stop(): Set<string> } {
  const seen = new Set<string>();
  const docker = new Docker();
  const timer = setInterval(
    () =>
      void docker
        .listContainers({ all: true, filters: { label: [`chainfaas.job=${jobId}`] } })
        .then((list) => list.forEach((c) => seen.add(c.Id)))
        .catch(() => undefined),
    50,
  );
  timer.unref(); // a failed assertion must not keep jest alive
  return {
    stop() {
      clearInterval(timer);
      return seen;
    },
  };
}

test('the same signed envelope delivered twice runs once; later deliveries, even to a restarted agent, start nothing', async () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'chainfaas-agent-state-'));
  try {
    const { providerId, queueUrl, agent } = await provider({ stateDir });
    const envelope = await job(providerId, registry.images.sleep, '2');
    const body = signedMessage(envelope);
    await cloud.send(queueUrl, body);
    await cloud.send(queueUrl, body);
    const watch = watchContainers(envelope.jobId);
    await agent.start();

    await controller.waitForReports(1);
    await until('both messages are deleted', async () => (await cloud.messageCount(queueUrl)).inFlight === 0);
    expect(agent.status().totals).toMatchObject({ succeeded: 1, duplicates: 1 });

    // Once more after the attempt settled.
    await cloud.send(queueUrl, body);
    await until('the third delivery is settled', () => agent.status().totals.duplicates === 2);
    await until('its message is deleted', async () => (await cloud.messageCount(queueUrl)).inFlight === 0);
    await agent.stop();
    // A long poll cut short by the stop stays open on the emulator's side for up to pollWaitS and
    // would take the next message for 30 s: let it end first.
    await new Promise((r) => setTimeout(r, 1500));

    // And to a new agent of the same provider, which reads what the first one finished.
    expect(readFileSync(join(stateDir, 'attempts.jsonl'), 'utf8')).toContain(`"jobId":"${envelope.jobId}","attempt":1,"state":"settled"`);
    const restarted = (await provider({ stateDir }, { providerId, queueUrl })).agent;
    await cloud.send(queueUrl, body);
    await restarted.start();
    await until('the restarted agent settles the delivery', () => restarted.status().totals.duplicates === 1);
    await until('its message is deleted', async () => (await cloud.messageCount(queueUrl)).inFlight === 0);

    expect(watch.stop().size).toBe(1);
    expect(controller.reports.map((r) => r.report.jobId)).toEqual([envelope.jobId]);
    expect(await cloud.messageCount(queueUrl)).toEqual({ visible: 0, inFlight: 0 });
    expect(restarted.status().totals).toMatchObject({ succeeded: 0, failed: 0, duplicates: 1 });
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
});

test('a delivery of an attempt whose report was refused posts the saved report again instead of running', async () => {
  const { providerId, queueUrl, agent } = await provider();
  const envelope = await job(providerId, registry.images.sha256, 'once');
  const body = signedMessage(envelope);
  controller.refuseReportsWith = 400;
  const watch = watchContainers(envelope.jobId);
  await cloud.send(queueUrl, body);
  await agent.start();
  await until('the refusal is logged', () => (agent.status().lastError ?? '').includes('answered 400'));

  controller.refuseReportsWith = undefined;
  await cloud.send(queueUrl, body);
  const [received] = await controller.waitForReports(1);
  expect(received.signatureValid).toBe(true);
  expect(received.report).toMatchObject({ jobId: envelope.jobId, status: 'succeeded' });
  await until('the attempt is settled', () => agent.status().totals.succeeded === 1);
  expect(agent.status().totals).toMatchObject({ duplicates: 1 });
  expect(watch.stop().size).toBe(1);
});

test('a bad configuration is refused with every bad field named', () => {
  expect(
    () =>
      new ProviderAgent({
        apiUrl: 'not a url',
        token: '',
        registration: {
          providerId: 'p',
          queueUrl: '',
          controllerPublicKey: 'k',
          controllerKeyId: keyId(controllerKeys.publicKeyPem),
          heartbeatIntervalS: 0,
          region: REGION,
        },
        privateKeyPem: 'nope',
        capacity: { vcpu: 0, memoryMb: 512 },
      }),
  ).toThrow(/apiUrl[\s\S]*token[\s\S]*registration\.controllerPublicKey[\s\S]*heartbeatIntervalS[\s\S]*privateKeyPem[\s\S]*capacity\.vcpu/);
});
