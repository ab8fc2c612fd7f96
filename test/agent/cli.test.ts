import { ChildProcess, execFile, spawn } from 'node:child_process';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { compileProviderCli, removeCompiledCli } from '../../local/agent-process';
import Docker from 'dockerode';
import { randomUUID } from 'node:crypto';
import { CloudEmulator, FakeController, REGION, startCloudEmulator, startFakeController } from './harness';
import { controllerKeyId, controllerKeys, ImageRegistry, makeEnvelope, signedMessage, startImageRegistry } from './support';

/**
 * `chainfaas-provider` as an operator runs it: compiled, in its own process, with its own config
 * directory. Register against the stand-in controller, start, run a job, show status, drain.
 */

const run = promisify(execFile);
const repo = resolve(__dirname, '../..');
let configDir: string;
let cli: string;
let registry: ImageRegistry;
let cloud: CloudEmulator;
let controller: FakeController;
let agent: ChildProcess | undefined;

beforeAll(async () => {
  configDir = join(mkdtempSync(join(tmpdir(), 'chainfaas-provider-home-')), 'provider');
  const compile = compileProviderCli().then((path) => (cli = path));
  const started = await Promise.allSettled([startImageRegistry(['sha256', 'sleep']), startCloudEmulator(), startFakeController(), compile]);
  [registry, cloud, controller] = started.map((s) => (s.status === 'fulfilled' ? s.value : undefined)) as [ImageRegistry, CloudEmulator, FakeController];
  for (const s of started) if (s.status === 'rejected') throw s.reason;
}, 300_000);

afterAll(async () => {
  if (agent && agent.exitCode === null) agent.kill('SIGKILL');
  await Promise.all([registry?.stop(), cloud?.stop(), controller?.stop()]);
  if (cli) removeCompiledCli(cli);
  rmSync(resolve(configDir, '..'), { recursive: true, force: true });
});

/** Environment of the CLI: the config dir, the emulator's dummy credentials, modules from the repo. */
function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    NODE_PATH: join(repo, 'node_modules'),
    CHAINFAAS_PROVIDER_DIR: configDir,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    ...extra,
  };
}

async function chainfaasProvider(args: string[], extra: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [cli, ...args], { env: env(extra) });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('register, start, run a job, status, drain', async () => {
  const providerId = `prov-${randomUUID().slice(0, 8)}`;
  const queueUrl = await cloud.createQueue(`chainfaas-provider-${providerId}`);
  controller.registration = {
    providerId,
    queueUrl,
    controllerPublicKey: controllerKeys.publicKeyPem,
    controllerKeyId,
    heartbeatIntervalS: 1,
    sqsEndpoint: cloud.endpoint,
    region: REGION,
  };

  const registered = await chainfaasProvider([
    'register',
    '--api-url',
    controller.url,
    '--token',
    controller.token,
    '--name',
    'test box',
    '--vcpu',
    '2',
    '--memory-mb',
    '1024',
    '--disk-mb',
    '2048',
  ]);
  expect(registered).toMatchObject({ code: 0, stderr: '' });
  expect(registered.stdout).toContain(`registered provider ${providerId} ("test box", 2 vCPU, 1024 MB, 2048 MB disk)`);
  expect(controller.registrations).toEqual([
    { name: 'test box', capacity: { vcpu: 2, memoryMb: 1024, diskMb: 2048 }, publicKey: readFileSync(join(configDir, 'provider-key.pub.pem'), 'utf8') },
  ]);
  expect(statSync(join(configDir, 'provider-key.pem')).mode & 0o777).toBe(0o600);
  expect(statSync(join(configDir, 'token')).mode & 0o777).toBe(0o600);

  const again = await chainfaasProvider(['register', '--api-url', controller.url, '--token', controller.token]);
  expect(again.code).toBe(2);
  expect(again.stderr).toMatch(/provider-key\.pem already exists.*--force/);

  agent = spawn(process.execPath, [cli, 'start', '--poll-wait-s', '1', '--log-level', 'warn'], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
  let agentOutput = '';
  agent.stdout!.on('data', (c: Buffer) => (agentOutput += c.toString()));
  agent.stderr!.on('data', (c: Buffer) => (agentOutput += c.toString()));
  const exited = new Promise<number | null>((resolve) => agent!.once('exit', (code) => resolve(code)));
  const statusFile = join(configDir, 'status.json');
  await until('the agent reports itself running', () => existsSync(statusFile) && JSON.parse(readFileSync(statusFile, 'utf8')).state === 'running');

  const jobId = `job-${randomUUID()}`;
  const envelope = makeEnvelope(registry.images.sha256, {
    jobId,
    providerId,
    input: { kind: 'inline', base64: Buffer.from('one two three').toString('base64') },
    resultPutUrl: await cloud.presignPut(`results/${jobId}`),
    logPutUrl: await cloud.presignPut(`logs/${jobId}`),
  });
  await cloud.send(queueUrl, signedMessage(envelope));
  const [received] = await controller.waitForReports(1);
  expect(received.signatureValid).toBe(true);
  expect(received.report).toMatchObject({ jobId, providerId, status: 'succeeded', exitCode: 0 });
  expect(JSON.parse((await cloud.read(`results/${jobId}`))!.toString())).toMatchObject({ bytes: 13, words: 3 });

  await until('the status file counts the job', () => JSON.parse(readFileSync(statusFile, 'utf8')).totals.succeeded === 1);
  const status = await chainfaasProvider(['status']);
  expect(status.code).toBe(0);
  expect(status.stdout).toMatch(new RegExp(`agent\\s+running \\(pid ${agent.pid}\\), running`));
  expect(status.stdout).toMatch(/jobs\s+1 succeeded, 0 failed, 0 refused, 0 returned/);

  const drained = await chainfaasProvider(['drain', '--timeout-s', '30']);
  expect(drained.stdout).toContain('agent stopped');
  expect(drained.code).toBe(0);
  expect(await exited).toBe(0);
  expect(existsSync(join(configDir, 'agent.pid'))).toBe(false);
  expect(JSON.parse(readFileSync(statusFile, 'utf8')).state).toBe('stopped');
  expect(agentOutput).not.toMatch(/"level":"error"/);
  expect((await chainfaasProvider(['status'])).stdout).toMatch(/agent\s+not running/);
});

test('#18 item 7: with its output closed (start | tee, tee gone), a signal still drains the agent and it exits 0; status | head exits quietly', async () => {
  const child = spawn(process.execPath, [cli, 'start', '--poll-wait-s', '1', '--log-level', 'info'], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const statusFile = join(configDir, 'status.json');
  await until('the agent reports itself running', () => existsSync(statusFile) && JSON.parse(readFileSync(statusFile, 'utf8')).state === 'running');
  child.stdout!.destroy();
  child.stderr!.destroy();
  child.kill('SIGINT');
  expect(await exited).toBe(0);
  expect(JSON.parse(readFileSync(statusFile, 'utf8')).state).toBe('stopped');

  const status = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const s = spawn(process.execPath, [cli, 'status'], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    s.stdout!.destroy();
    let stderr = '';
    s.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    s.once('close', (code) => resolve({ code, stderr }));
  });
  expect(status).toEqual({ code: 0, stderr: '' });
});

test('bad configuration stops the CLI with the flag and variable named', async () => {
  const result = await chainfaasProvider(['register', '--vcpu=-1'], { CHAINFAAS_MEMORY_MB: 'lots' });
  expect(result.code).toBe(2);
  expect(result.stderr).toContain('--vcpu / CHAINFAAS_VCPU');
  expect(result.stderr).toContain('--memory-mb / CHAINFAAS_MEMORY_MB');
  expect((await chainfaasProvider(['frobnicate'])).code).toBe(2);
  expect((await chainfaasProvider(['start', '--no-such-flag'])).stderr).toMatch(/Unknown option '--no-such-flag'/);
});

/** Registers a new provider in its own config directory and starts its agent; returns what the SIGTERM tests need. */
async function startedProvider() {
  const providerId = `prov-${randomUUID().slice(0, 8)}`;
  const queueUrl = await cloud.createQueue(`chainfaas-provider-${providerId}`);
  const dir = join(resolve(configDir, '..'), providerId);
  controller.registration = {
    providerId,
    queueUrl,
    controllerPublicKey: controllerKeys.publicKeyPem,
    controllerKeyId,
    heartbeatIntervalS: 1,
    sqsEndpoint: cloud.endpoint,
    region: REGION,
  };
  const extra = { CHAINFAAS_PROVIDER_DIR: dir };
  const registered = await chainfaasProvider(
    ['register', '--api-url', controller.url, '--token', controller.token, '--vcpu', '1', '--memory-mb', '512'],
    extra,
  );
  expect(registered.code).toBe(0);
  const child = spawn(process.execPath, [cli, 'start', '--poll-wait-s', '1', '--visibility-timeout-s', '10'], {
    env: env(extra),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  agent = child;
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const statusFile = join(dir, 'status.json');
  const status = () => (existsSync(statusFile) ? JSON.parse(readFileSync(statusFile, 'utf8')) : undefined);
  await until('the agent reports itself running', () => status()?.state === 'running');

  /** Sends a sleep job and resolves once the agent runs it. */
  async function runningJob(seconds: number) {
    const jobId = `job-${randomUUID()}`;
    const envelope = makeEnvelope(registry.images.sleep, {
      jobId,
      providerId,
      input: { kind: 'inline', base64: Buffer.from(String(seconds)).toString('base64') },
      resources: { vcpu: 0.5, memoryMb: 32, timeoutS: 120 },
      resultPutUrl: await cloud.presignPut(`results/${jobId}`),
      logPutUrl: await cloud.presignPut(`logs/${jobId}`),
    });
    await cloud.send(queueUrl, signedMessage(envelope));
    await until('the job runs', () => status()?.jobs.some((j: { jobId: string; phase: string }) => j.jobId === jobId && j.phase === 'running'), 30_000);
    return envelope;
  }
  return { providerId, queueUrl, child, exited, status, runningJob, output: () => output };
}

test('SIGTERM while a job runs: the agent finishes the job, its report is accepted, its message deleted, and it exits 0', async () => {
  const provider = await startedProvider();
  const envelope = await provider.runningJob(3);

  provider.child.kill('SIGTERM');
  expect(await provider.exited).toBe(0);
  const reports = controller.reports.filter((r) => r.report.jobId === envelope.jobId);
  expect(reports.map((r) => [r.report.status, r.signatureValid])).toEqual([['succeeded', true]]);
  expect(reports[0].report.runtimeMs).toBeGreaterThanOrEqual(2900);
  expect(await cloud.messageCount(provider.queueUrl)).toEqual({ visible: 0, inFlight: 0 });
  expect(provider.status()).toMatchObject({ state: 'stopped', jobs: [], totals: { succeeded: 1 } });
  expect(provider.output()).toContain('SIGTERM: draining');
}, 60_000);

test('a second SIGTERM stops at once: the running job is killed and its message returned to the queue, nothing reported', async () => {
  const provider = await startedProvider();
  const envelope = await provider.runningJob(60);
  const started = Date.now();

  provider.child.kill('SIGTERM');
  await until('the agent drains', () => provider.status()?.state === 'draining');
  provider.child.kill('SIGTERM');
  expect(await provider.exited).toBe(0);
  expect(Date.now() - started).toBeLessThan(15_000);
  expect(controller.reports.filter((r) => r.report.jobId === envelope.jobId)).toEqual([]);
  expect(provider.status()).toMatchObject({ state: 'stopped', totals: { returned: 1 } });
  expect(await new Docker().listContainers({ all: true, filters: { label: [`chainfaas.job=${envelope.jobId}`] } })).toEqual([]);
  // Nothing lost: another consumer receives the job (at once, or once a cut-short poll's hold lapses).
  let body: string | undefined;
  await until(
    'the message is received again',
    async () => {
      const { Messages } = await cloud.sqs.send(new ReceiveMessageCommand({ QueueUrl: provider.queueUrl, WaitTimeSeconds: 1 }));
      body = Messages?.[0]?.Body;
      return body !== undefined;
    },
    20_000,
  );
  expect(JSON.parse(body!).envelope.jobId).toBe(envelope.jobId);
}, 60_000);
