import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { JobEnvelope } from '../../contract/src';
import { HttpRunner, HttpRunnerOptions } from '../../provider-agent/src/runners/http';
import { ContainerLimits, RunOutcome } from '../../provider-agent/src/runners/runner';
import { DockerRuntime } from '../../provider-agent/src/runtime';
import { containersOfAgent, ImageRegistry, makeEnvelope, memoryLogger, startImageRegistry } from './support';

/**
 * The http runner against the real Docker engine: warm containers reached through the relay,
 * reuse, per-request deadlines, crashes, OOM, caps, start-up failures, the LRU pool's memory
 * budget and idle expiry, and no container left behind.
 */

const docker = new Docker();
const limits: ContainerLimits = { maxResultBytes: 64 * 1024, maxLogBytes: 4 * 1024, tmpfsMb: 16, pidsLimit: 64 };
const logger = memoryLogger();
const runtime = new DockerRuntime(logger);
const runDir = mkdtempSync(join(tmpdir(), 'chainfaas-http-'));
let registry: ImageRegistry;
const runners: HttpRunner[] = [];

beforeAll(async () => {
  registry = await startImageRegistry(['http-tool', 'echo-http']);
  for (const image of Object.values(registry.images)) await runtime.pullImage(image);
}, 300_000);

afterAll(async () => {
  await registry?.stop();
  rmSync(runDir, { recursive: true, force: true });
});

/** A runner with its own agent id (so its containers can be counted); closed and checked after each test. */
function runner(options: Partial<HttpRunnerOptions> = {}): { runner: HttpRunner; agentId: string } {
  const agentId = `test-http-${randomUUID().slice(0, 8)}`;
  const created = new HttpRunner({ runtime, agentId, limits, logger, runDir, warmPoolMb: 512, warmIdleMs: 60_000, startupTimeoutMs: 10_000, ...options });
  runners.push(created);
  return { runner: created, agentId };
}

afterEach(async () => {
  for (const r of runners.splice(0)) await r.close();
  expect(
    (await docker.listContainers({ all: true, filters: { label: ['chainfaas.agent'] } })).filter((c) => c.Labels['chainfaas.agent'].startsWith('test-http-')),
  ).toEqual([]);
  expect(readdirSync(runDir)).toEqual([]);
});

function job(command: string, overrides: Partial<JobEnvelope> = {}): { envelope: JobEnvelope; input: Buffer } {
  const envelope = makeEnvelope(registry.images['http-tool'], {
    protocol: 'http',
    functionId: 'fn-http-tool',
    resources: { vcpu: 0.5, memoryMb: 64, timeoutS: 10 },
    input: { kind: 'inline', base64: Buffer.from(command).toString('base64') },
    ...overrides,
  });
  return { envelope, input: Buffer.from(command) };
}

/**
 * The job's whole log as the agent takes it: after the result's upload (here: 200 ms), output that
 * trailed the response included. The outcome itself came back without waiting for it.
 */
async function tailOf(outcome: RunOutcome): Promise<Buffer> {
  expect(outcome.finishLog).toBeDefined();
  await new Promise((resolve) => setTimeout(resolve, 200));
  return outcome.finishLog!();
}

async function functionContainers(agentId: string): Promise<Docker.ContainerInfo[]> {
  return (await containersOfAgent(agentId)).filter((c) => c.Labels['chainfaas.role'] === 'function');
}

test('a warm http function serves a second invocation from the same container, through a relay, with network none', async () => {
  const { runner: http, agentId } = runner();
  const first = await http.run(job('count'));
  expect(first).toMatchObject({ status: 'succeeded', reason: undefined, exitCode: null, aborted: false });
  const [container] = await functionContainers(agentId);
  expect(container).toBeDefined();

  const second = await http.run(job('count'));
  expect(second.status).toBe('succeeded');
  const [a, b] = [JSON.parse(first.result.toString()), JSON.parse(second.result.toString())];
  expect(a.requests).toBe(1);
  expect(b).toEqual({ requests: 2, pid: a.pid });
  expect((await functionContainers(agentId)).map((c) => c.Id)).toEqual([container.Id]);
  expect(http.warmFunctions()).toEqual(['fn-http-tool']);
  expect(http.warmContainers()).toMatchObject([{ containerId: container.Id, busy: false, served: 2 }]);

  // Run time is the request only: the warm one takes milliseconds.
  expect(second.runtimeMs).toBeLessThan(1000);
  expect(second.finishedAt.getTime() - second.startedAt.getTime()).toBe(second.runtimeMs);

  const inspected = await docker.getContainer(container.Id).inspect();
  expect(inspected.HostConfig).toMatchObject({
    NetworkMode: 'none',
    ReadonlyRootfs: true,
    CapDrop: ['ALL'],
    SecurityOpt: ['no-new-privileges'],
    PidsLimit: 64,
  });
  expect(inspected.Config.User).toBe('65534:65534');
  expect(inspected.Config.Env).toContain('PORT=8080');
  const relays = (await containersOfAgent(agentId)).filter((c) => c.Labels['chainfaas.role'] === 'relay');
  expect(relays).toHaveLength(1);
  const relay = await docker.getContainer(relays[0].Id).inspect();
  expect(relay.HostConfig).toMatchObject({ NetworkMode: `container:${container.Id}`, ReadonlyRootfs: true, CapDrop: ['ALL'] });
  expect(relay.Config.User).not.toBe('0');
  // The log of the first job holds what the function wrote while starting.
  expect(first.log.toString()).toContain('http-tool: listening on 8080');
});

test('a non-2xx answer fails the job with the response as result; the container stays warm', async () => {
  const { runner: http, agentId } = runner();
  const outcome = await http.run(job('status 503'));
  expect(outcome).toMatchObject({ status: 'failed', reason: 'exit', exitCode: null });
  expect(outcome.result.toString()).toBe('failed on purpose');
  expect((await tailOf(outcome)).toString()).toMatch(/failing with 503\n\[chainfaas: the function answered HTTP 503\]\n$/);

  const again = await http.run(job('count'));
  expect(JSON.parse(again.result.toString()).requests).toBe(2);
  expect(await functionContainers(agentId)).toHaveLength(1);
});

test('a request still running at its deadline is cut off, reported as timeout, and its container removed', async () => {
  const { runner: http, agentId } = runner();
  const started = Date.now();
  const outcome = await http.run(job('sleep 30', { resources: { vcpu: 0.5, memoryMb: 64, timeoutS: 1 } }));
  expect(outcome).toMatchObject({ status: 'failed', reason: 'timeout' });
  expect(outcome.runtimeMs).toBeGreaterThanOrEqual(950);
  expect(outcome.runtimeMs).toBeLessThan(3000);
  expect(outcome.log.toString()).toContain('[chainfaas: killed: the request ran past the deadline of 1 s]');
  expect(Date.now() - started).toBeLessThan(10_000);
  await http.settled(); // removal runs after the outcome is returned
  expect(await containersOfAgent(agentId)).toEqual([]);
  expect(http.warmFunctions()).toEqual([]);
});

test('a function that exceeds its memory during a request is reported as oom', async () => {
  const { runner: http, agentId } = runner();
  const outcome = await http.run(job('alloc 256', { resources: { vcpu: 1, memoryMb: 32, timeoutS: 20 } }));
  expect(outcome).toMatchObject({ status: 'failed', reason: 'oom', exitCode: 137 });
  await http.settled(); // removal runs after the outcome is returned
  expect(await containersOfAgent(agentId)).toEqual([]);
});

test('a function that exits during a request is reported with its exit code and stderr', async () => {
  const { runner: http } = runner();
  const outcome = await http.run(job('exit 4'));
  expect(outcome).toMatchObject({ status: 'failed', reason: 'exit', exitCode: 4 });
  expect(outcome.log.toString()).toContain('exiting with 4');
  expect(outcome.log.toString()).toContain('[chainfaas: the function exited with status 4 during the request]');
});

test('a response larger than the result cap fails as output_too_large, keeping only the cap', async () => {
  const { runner: http } = runner({ limits: { ...limits, maxResultBytes: 1000 } });
  const outcome = await http.run(job('big 100000'));
  expect(outcome).toMatchObject({ status: 'failed', reason: 'output_too_large' });
  expect(outcome.result.length).toBe(1000);
});

test("output during a request goes to that job's log, capped", async () => {
  const { runner: http } = runner({ limits: { ...limits, maxLogBytes: 64 } });
  await http.run(job('count'));
  const outcome = await http.run(job(`log ${'y'.repeat(200)}`));
  expect(outcome.status).toBe('succeeded');
  expect((await tailOf(outcome)).toString()).toMatch(/^y{64}\n\[chainfaas: log truncated, \d+ more bytes dropped\]\n$/);
});

test('a function that never listens fails at the start-up deadline, unbilled', async () => {
  const { runner: http, agentId } = runner({ startupTimeoutMs: 1500 });
  const outcome = await http.run(job('count', { env: { LISTEN: 'no' } }));
  expect(outcome).toMatchObject({ status: 'failed', reason: 'timeout', runtimeMs: 0 });
  expect(outcome.log.toString()).toContain('http-tool: not listening, as asked');
  expect(outcome.log.toString()).toContain('did not accept connections on port 8080 within 2 s');
  await http.settled(); // removal runs after the outcome is returned
  expect(await containersOfAgent(agentId)).toEqual([]);
});

test('a function that exits while starting is reported with its exit code and output', async () => {
  const { runner: http, agentId } = runner();
  const outcome = await http.run(job('count', { env: { EXIT_AT_START: '5' } }));
  expect(outcome).toMatchObject({ status: 'failed', reason: 'exit', exitCode: 5, runtimeMs: 0 });
  expect(outcome.log.toString()).toContain('http-tool: exiting at start with 5');
  expect(outcome.log.toString()).toContain('[chainfaas: the function exited with status 5 before it was ready]');
  await http.settled(); // removal runs after the outcome is returned
  expect(await containersOfAgent(agentId)).toEqual([]);
});

test('the pool keeps warm containers within its memory budget, evicting the least recently used', async () => {
  const { runner: http, agentId } = runner({ warmPoolMb: 150 });
  const fn = (id: string) => job('count', { functionId: id });
  await http.run(fn('fn-a'));
  await http.run(fn('fn-b'));
  expect(http.warmFunctions()).toEqual(['fn-b', 'fn-a']);
  await http.run(fn('fn-a')); // a is now the most recently used
  await http.run(fn('fn-c')); // 3 × 64 MB > 150 MB: b goes
  expect(http.warmFunctions().sort()).toEqual(['fn-a', 'fn-c']);
  expect((await functionContainers(agentId)).map((c) => c.Labels['chainfaas.function']).sort()).toEqual(['fn-a', 'fn-c']);
  expect(JSON.parse((await http.run(fn('fn-a'))).result.toString()).requests).toBe(3);
});

test('idle warm containers expire', async () => {
  const { runner: http, agentId } = runner({ warmIdleMs: 300 });
  await http.run(job('count'));
  expect(await functionContainers(agentId)).toHaveLength(1);
  const end = Date.now() + 5000;
  while ((await containersOfAgent(agentId)).length > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
  expect(await containersOfAgent(agentId)).toEqual([]);
  expect(http.warmFunctions()).toEqual([]);
});

test('the echo-http example answers with its input', async () => {
  const { runner: http } = runner();
  const input = Buffer.from([0, 1, 2, 255, 254, 10, 13]);
  const envelope = makeEnvelope(registry.images['echo-http'], { protocol: 'http', functionId: 'fn-echo' });
  const outcome = await http.run({ envelope, input });
  expect(outcome.status).toBe('succeeded');
  expect(outcome.result).toEqual(input);
});

test('calls that overlap get a warm container each; once idle, both are reused', async () => {
  const { runner: http, agentId } = runner();
  const [a, b] = await Promise.all([http.run(job('sleep 1')), http.run(job('sleep 1'))]);
  expect([a.status, b.status]).toEqual(['succeeded', 'succeeded']);
  const containers = await functionContainers(agentId);
  expect(containers).toHaveLength(2);
  expect(http.warmContainers().map((c) => c.busy)).toEqual([false, false]);
  // Two overlapping calls again: no new container, each of the two serves one.
  const again = await Promise.all([http.run(job('count')), http.run(job('count'))]);
  expect(again.map((o) => JSON.parse(o.result.toString()).requests)).toEqual([2, 2]);
  expect(http.warmContainers().map((c) => c.served)).toEqual([2, 2]);
  expect((await functionContainers(agentId)).map((c) => c.Id).sort()).toEqual(containers.map((c) => c.Id).sort());
});

test('a function declaring concurrency 3 has one container serve three overlapping calls; a fourth gets another container', async () => {
  const { runner: http, agentId } = runner();
  const concurrent = (command: string) => job(command, { concurrency: 3 });
  await http.run(concurrent('count')); // starts the container (one slot while it starts)
  const calls = [1, 2, 3].map(() => http.run(concurrent('sleep 1')));
  expect(http.warmContainers()).toMatchObject([{ busy: true, inflight: 3 }]); // all three at once, in the one container
  const three = await Promise.all(calls);
  expect(three.map((o) => o.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
  expect(await functionContainers(agentId)).toHaveLength(1);
  expect(http.warmContainers()).toMatchObject([{ busy: false, inflight: 0, served: 4 }]);

  // Four overlapping calls: three share the warm container, the fourth starts another.
  const four = await Promise.all([1, 2, 3, 4].map(() => http.run(concurrent('sleep 1'))));
  expect(four.every((o) => o.status === 'succeeded')).toBe(true);
  expect(await functionContainers(agentId)).toHaveLength(2);
  expect(
    http
      .warmContainers()
      .map((c) => c.served)
      .sort((x, y) => x - y),
  ).toEqual([1, 7]);
  // A container of a function with another concurrency is another pool key: not shared.
  await http.run(job('count'));
  expect(await functionContainers(agentId)).toHaveLength(3);
});
