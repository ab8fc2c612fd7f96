import { createHash, randomUUID } from 'node:crypto';
import { ContainerLimits } from '../../provider-agent/src/runners/runner';
import { StdioRunner } from '../../provider-agent/src/runners/stdio';
import { DockerRuntime } from '../../provider-agent/src/runtime';
import { containersOfAgent, ImageRegistry, makeEnvelope, memoryLogger, startImageRegistry } from './support';

/**
 * The stdio runner against the real Docker engine and a real registry: results, failures,
 * deadlines, memory limits and network isolation, and no container left behind.
 */

const limits: ContainerLimits = { maxResultBytes: 64 * 1024, maxLogBytes: 4 * 1024, tmpfsMb: 16, pidsLimit: 64 };
const agentId = `test-runner-${randomUUID().slice(0, 8)}`;
const logger = memoryLogger();
const runtime = new DockerRuntime(logger);
const runner = new StdioRunner({ runtime, agentId, limits, logger });
let registry: ImageRegistry;

beforeAll(async () => {
  registry = await startImageRegistry(['sha256', 'fail', 'sleep', 'hog', 'netinfo']);
  for (const image of Object.values(registry.images)) await runtime.pullImage(image);
}, 300_000);

afterAll(async () => {
  await registry?.stop();
});

afterEach(async () => {
  expect(await containersOfAgent(agentId)).toEqual([]);
});

function inline(text: string) {
  return { kind: 'inline' as const, base64: Buffer.from(text).toString('base64') };
}

test('the sha256 function returns the digest, size and word count of its input', async () => {
  const text = 'the quick brown fox\njumps over the lazy dog\n'.repeat(1000);
  const envelope = makeEnvelope(registry.images.sha256, { input: inline(text) });
  const outcome = await runner.run({ envelope, input: Buffer.from(text) });

  expect(outcome).toMatchObject({ status: 'succeeded', reason: undefined, exitCode: 0, aborted: false });
  expect(JSON.parse(outcome.result.toString())).toEqual({
    sha256: createHash('sha256').update(text).digest('hex'),
    bytes: Buffer.byteLength(text),
    words: 9000,
  });
  expect(outcome.log.length).toBe(0);
  expect(outcome.runtimeMs).toBeGreaterThanOrEqual(0);
  expect(outcome.runtimeMs).toBeLessThan(10_000);
  expect(outcome.finishedAt.getTime()).toBeGreaterThanOrEqual(outcome.startedAt.getTime());
});

test('a function that exits 3 is reported as failed with its exit code and stderr', async () => {
  const outcome = await runner.run({ envelope: makeEnvelope(registry.images.fail), input: Buffer.alloc(0) });

  expect(outcome).toMatchObject({ status: 'failed', reason: 'exit', exitCode: 3, aborted: false });
  expect(outcome.log.toString()).toBe('fail: this function always fails (exit status 3)\n');
  expect(outcome.result.length).toBe(0);
});

test('a function still running at its deadline is killed and reported as timeout', async () => {
  const envelope = makeEnvelope(registry.images.sleep, { resources: { vcpu: 0.5, memoryMb: 32, timeoutS: 2 } });
  const started = Date.now();
  const outcome = await runner.run({ envelope, input: Buffer.from('30') });

  expect(outcome).toMatchObject({ status: 'failed', reason: 'timeout', aborted: false });
  expect(outcome.result.length).toBe(0);
  expect(outcome.runtimeMs).toBeGreaterThanOrEqual(1900);
  expect(outcome.runtimeMs).toBeLessThan(6000);
  expect(Date.now() - started).toBeLessThan(15_000);
});

test('a function that exceeds its memory is OOM-killed and reported as oom', async () => {
  const envelope = makeEnvelope(registry.images.hog, { resources: { vcpu: 1, memoryMb: 32, timeoutS: 30 } });
  const outcome = await runner.run({ envelope, input: Buffer.from('256') });

  expect(outcome).toMatchObject({ status: 'failed', reason: 'oom', exitCode: 137, aborted: false });
  expect(outcome.result.length).toBe(0);
});

test('the same function within its memory succeeds', async () => {
  const envelope = makeEnvelope(registry.images.hog, { resources: { vcpu: 1, memoryMb: 64, timeoutS: 30 } });
  const outcome = await runner.run({ envelope, input: Buffer.from('8') });

  expect(outcome).toMatchObject({ status: 'succeeded', exitCode: 0 });
  expect(JSON.parse(outcome.result.toString())).toEqual({ allocatedMb: 8 });
});

test('network "none" leaves the function only the loopback interface', async () => {
  const none = await runner.run({ envelope: makeEnvelope(registry.images.netinfo, { network: 'none' }), input: Buffer.alloc(0) });
  expect(none.status).toBe('succeeded');
  const names = (JSON.parse(none.result.toString()).interfaces as Array<{ name: string }>).map((i) => i.name);
  expect(names).toEqual(['lo']);

  const egress = await runner.run({ envelope: makeEnvelope(registry.images.netinfo, { network: 'egress' }), input: Buffer.alloc(0) });
  const egressNames = (JSON.parse(egress.result.toString()).interfaces as Array<{ name: string }>).map((i) => i.name);
  expect(egressNames).toContain('eth0');
});

test('a result larger than the cap fails the job as output_too_large, keeping only the cap', async () => {
  const small = new StdioRunner({ runtime, agentId, logger, limits: { ...limits, maxResultBytes: 16 } });
  const outcome = await small.run({ envelope: makeEnvelope(registry.images.sha256), input: Buffer.from('x') });

  expect(outcome).toMatchObject({ status: 'failed', reason: 'output_too_large' });
  expect(outcome.result.length).toBe(16);
});

test('stderr beyond the log cap is truncated with a notice', async () => {
  const tiny = new StdioRunner({ runtime, agentId, logger, limits: { ...limits, maxLogBytes: 10 } });
  const outcome = await tiny.run({ envelope: makeEnvelope(registry.images.fail), input: Buffer.alloc(0) });

  expect(outcome.log.toString()).toMatch(/^fail: this\n\[chainfaas: log truncated, \d+ more bytes dropped\]\n$/);
});

test('the container runs hardened: non-root, read-only root, no capabilities, limits applied', async () => {
  const envelope = makeEnvelope(registry.images.sleep, { resources: { vcpu: 0.25, memoryMb: 48, timeoutS: 20 } });
  const abort = new AbortController();
  const running = runner.run({ envelope, input: Buffer.from('30'), signal: abort.signal });
  let inspected: import('dockerode').ContainerInspectInfo | undefined;
  for (let i = 0; i < 100 && !inspected; i++) {
    const [found] = await containersOfAgent(agentId);
    if (found) inspected = await new (await import('dockerode')).default().getContainer(found.Id).inspect();
    else await new Promise((r) => setTimeout(r, 100));
  }
  abort.abort();
  const outcome = await running;

  expect(outcome.aborted).toBe(true);
  expect(inspected).toBeDefined();
  const host = inspected!.HostConfig;
  expect(inspected!.Config.User).toBe('65534:65534');
  expect(inspected!.Config.Labels).toMatchObject({ 'chainfaas.job': envelope.jobId, 'chainfaas.agent': agentId });
  expect(host).toMatchObject({
    Memory: 48 * 1024 * 1024,
    MemorySwap: 48 * 1024 * 1024,
    NanoCpus: 250_000_000,
    PidsLimit: 64,
    ReadonlyRootfs: true,
    CapDrop: ['ALL'],
    SecurityOpt: ['no-new-privileges'],
    NetworkMode: 'none',
  });
  expect(host.Tmpfs).toEqual({ '/tmp': `rw,noexec,nosuid,nodev,size=${16 * 1024 * 1024}` });
});
