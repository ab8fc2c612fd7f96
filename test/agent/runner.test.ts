import { execFile } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import Docker from 'dockerode';
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
  registry = await startImageRegistry(['sha256', 'fail', 'sleep', 'hog', 'netinfo', 'write', 'connect', 'forkbomb', 'limits']);
  for (const image of Object.values(registry.images)) await runtime.pullImage(image);
}, 300_000);

afterAll(async () => {
  await registry?.stop();
});

afterEach(async () => {
  await runner.close(); // removals run after the outcome is returned
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

test('the outcome is returned before the container is removed; the removal follows, and close waits for it', async () => {
  const envelope = makeEnvelope(registry.images.sha256, { input: inline('x') });
  const outcome = await runner.run({ envelope, input: Buffer.from('x') });
  expect(outcome.status).toBe('succeeded');
  // The removal was only started when the outcome came back (the report does not wait for it).
  expect(runner.pendingRemovals).toBe(1);
  await runner.close();
  expect(runner.pendingRemovals).toBe(0);
  expect(await containersOfAgent(agentId)).toEqual([]);
});

test('with a report to wait for (RunRequest.reported), the exited container stays until the report is posted, then goes', async () => {
  let posted = () => {};
  const reported = new Promise<void>((resolve) => (posted = resolve));
  const envelope = makeEnvelope(registry.images.sha256, { input: inline('x') });
  const outcome = await runner.run({ envelope, input: Buffer.from('x'), reported });
  expect(outcome.status).toBe('succeeded');
  await new Promise((resolve) => setTimeout(resolve, 500));
  // The engine's removal would compete with the report for the CPU: it has not started.
  expect(await containersOfAgent(agentId)).toHaveLength(1);
  posted();
  await runner.close();
  expect(await containersOfAgent(agentId)).toEqual([]);
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
  expect(outcome.log.toString()).toContain('[chainfaas: killed: the function ran out of memory (limit 32 MB)]');
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
  await small.close(); // its container's removal follows the outcome

  expect(outcome).toMatchObject({ status: 'failed', reason: 'output_too_large' });
  expect(outcome.result.length).toBe(16);
});

test('stderr beyond the log cap is truncated with a notice', async () => {
  const tiny = new StdioRunner({ runtime, agentId, logger, limits: { ...limits, maxLogBytes: 10 } });
  const outcome = await tiny.run({ envelope: makeEnvelope(registry.images.fail), input: Buffer.alloc(0) });
  await tiny.close(); // its container's removal follows the outcome

  expect(outcome.log.toString()).toMatch(/^fail: this\n\[chainfaas: log truncated, \d+ more bytes dropped\]\n$/);
});

test('the container runs hardened: non-root, read-only root, no capabilities, limits applied', async () => {
  const envelope = makeEnvelope(registry.images.sleep, { resources: { vcpu: 0.25, memoryMb: 48, timeoutS: 20 } });
  const abort = new AbortController();
  const running = runner.run({ envelope, input: Buffer.from('30'), signal: abort.signal });
  let inspected: Docker.ContainerInspectInfo | undefined;
  for (let i = 0; i < 100 && !inspected; i++) {
    const [found] = await containersOfAgent(agentId);
    // The engine lists a container while it is being created, before inspect can find it (404).
    if (found)
      inspected = await new Docker()
        .getContainer(found.Id)
        .inspect()
        .catch(() => undefined);
    if (!inspected) await new Promise((r) => setTimeout(r, 100));
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

/** A runtime that records each container's file-system changes (`docker diff`) before removing it. */
class DiffingRuntime extends DockerRuntime {
  readonly changes = new Map<string, Array<{ Path: string; Kind: number }>>();
  async remove(id: string): Promise<void> {
    this.changes.set(id, (await new Docker().getContainer(id).changes()) ?? []);
    return super.remove(id);
  }
}

test('a function that writes outside its tmpfs fails on the read-only root; nothing reaches the disk', async () => {
  const diffing = new DiffingRuntime(logger);
  const writer = new StdioRunner({ runtime: diffing, agentId, limits, logger });
  const input = ['/etc/passwd 10', '/pwned 10', '/tmp/ok 1000', `/tmp/too-big ${32 * 1024 * 1024}`].join('\n');
  const outcome = await writer.run({ envelope: makeEnvelope(registry.images.write), input: Buffer.from(input) });
  await writer.close(); // its container's removal follows the outcome

  expect(outcome).toMatchObject({ status: 'failed', reason: 'exit', exitCode: 1 });
  const results = JSON.parse(outcome.result.toString()).results as Array<{ path: string; written: boolean; error?: string }>;
  expect(results.map((r) => [r.path, r.written])).toEqual([
    ['/etc/passwd', false],
    ['/pwned', false],
    ['/tmp/ok', true],
    ['/tmp/too-big', false],
  ]);
  expect(results[0].error).toMatch(/read-only file system/);
  expect(results[1].error).toMatch(/read-only file system/);
  expect(results[3].error).toMatch(/no space left on device/); // the tmpfs holds 16 MiB
  expect(outcome.log.toString()).toContain('write: open /etc/passwd: read-only file system');
  // The container's writable layer on the host's disk holds only the tmpfs mount point.
  const [changes] = [...diffing.changes.values()];
  expect(changes).toEqual([{ Path: '/tmp', Kind: 1 }]);
});

test('a function that opens a network connection under network "none" fails inside and is reported by its exit code', async () => {
  const input = ['1.1.1.1:443', '172.17.0.1:22', '127.0.0.1:9'].join('\n');
  const outcome = await runner.run({ envelope: makeEnvelope(registry.images.connect, { network: 'none' }), input: Buffer.from(input) });

  expect(outcome).toMatchObject({ status: 'failed', reason: 'exit', exitCode: 1 });
  const results = JSON.parse(outcome.result.toString()).results as Array<{ address: string; connected: boolean; error: string }>;
  expect(results.map((r) => r.connected)).toEqual([false, false, false]);
  expect(results[0].error).toMatch(/network is unreachable/);
  expect(results[1].error).toMatch(/network is unreachable/);
  expect(results[2].error).toMatch(/connection refused/);
  expect(outcome.log.toString()).toContain('connect: 1.1.1.1:443: dial tcp 1.1.1.1:443: connect: network is unreachable');
});

test('#18 item 1: a function that reaches its processes, memory, scratch and log limits and exits 0 succeeds, and each limit is said in words', async () => {
  const envelope = makeEnvelope(registry.images.limits, { resources: { vcpu: 0.5, memoryMb: 64, timeoutS: 30 } });
  const outcome = await runner.run({ envelope, input: Buffer.from('processes\nmemory\nscratch\nlog\n') });

  expect(outcome).toMatchObject({ status: 'succeeded', reason: undefined, exitCode: 0, unwatched: [] });
  const said = JSON.parse(outcome.result.toString()) as { tried: string[]; refused: Record<string, string> };
  expect(said.refused.processes).toMatch(/resource temporarily unavailable/);
  expect(said.refused.memory).toBe('child killed by killed');
  expect(said.refused.scratch).toMatch(/no space left on device/);
  expect(outcome.limits?.map((l) => l.limit)).toEqual(['memory', 'processes', 'scratch', 'log']);
  const detail = Object.fromEntries((outcome.limits ?? []).map((l) => [l.limit, l.detail]));
  expect(detail.memory).toBe('the kernel killed 1 process of the function for memory (limit 64 MB); the function went on');
  expect(detail.processes).toMatch(/^the function tried to run more than 64 processes and threads at once: the kernel refused \d+ new ones?$/);
  expect(detail.scratch).toBe('disk full: the scratch space /tmp (16 MB of disk) was full: writes to it failed with "no space left on device"');
  expect(detail.log).toMatch(/^the log exceeded 4096 bytes: \d+ more bytes dropped$/);
  const log = outcome.log.toString();
  expect(log).toContain(`[chainfaas: limit reached (processes): ${detail.processes}]`);
  expect(log).toContain(`[chainfaas: limit reached (memory): ${detail.memory}]`);
  expect(log).toContain(`[chainfaas: limit reached (scratch): ${detail.scratch}]`);
  expect(log).toMatch(/\[chainfaas: log truncated, \d+ more bytes dropped\]/);
});

test('#18 item 1: a run that reaches no limit reports none, and one killed at its deadline reports the deadline', async () => {
  const quiet = await runner.run({ envelope: makeEnvelope(registry.images.sleep), input: Buffer.from('1') });
  expect(quiet).toMatchObject({ status: 'succeeded', limits: [], unwatched: [] });
  expect(quiet.log.toString()).toBe('');

  const late = await runner.run({
    envelope: makeEnvelope(registry.images.sleep, { resources: { vcpu: 0.5, memoryMb: 64, timeoutS: 1 } }),
    input: Buffer.from('5'),
  });
  expect(late).toMatchObject({
    status: 'failed',
    reason: 'timeout',
    limits: [{ limit: 'deadline', detail: 'the function ran past its deadline of 1 s and was killed' }],
  });
});

test('a fork bomb is held by the pids limit, killed at its deadline and reported as timeout; the host still starts processes', async () => {
  const envelope = makeEnvelope(registry.images.forkbomb, { resources: { vcpu: 0.5, memoryMb: 128, timeoutS: 4 } });
  const running = runner.run({ envelope, input: Buffer.alloc(0) });
  const docker = new Docker();
  const pids: number[] = [];
  const spawns = { tried: 0, started: 0 };
  const end = Date.now() + 3000;
  while (Date.now() < end) {
    const [found] = await containersOfAgent(agentId);
    if (found) {
      const stats = (await docker
        .getContainer(found.Id)
        .stats({ stream: false, 'one-shot': true } as { stream: false })
        .catch(() => ({}))) as { pids_stats?: { current?: number } };
      if (stats.pids_stats?.current) pids.push(stats.pids_stats.current);
    }
    spawns.tried += 10;
    await Promise.all(Array.from({ length: 10 }, () => promisify(execFile)('true').then(() => spawns.started++)));
    await new Promise((r) => setTimeout(r, 100));
  }
  const outcome = await running;

  expect(outcome).toMatchObject({ status: 'failed', reason: 'timeout' });
  expect(outcome.runtimeMs).toBeGreaterThanOrEqual(3900);
  expect(Math.max(...pids)).toBe(limits.pidsLimit); // the bomb filled its quota and no more
  expect(spawns.tried).toBeGreaterThanOrEqual(20);
  expect(spawns.started).toBe(spawns.tried);
  expect(outcome.log.toString()).toMatch(/resource temporarily unavailable|failed to create new OS thread/);
  expect(outcome.log.toString()).toContain('[chainfaas: killed: the function ran past its deadline of 4 s]');
});
