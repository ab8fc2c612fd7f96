import { ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { compileProviderCli, removeCompiledCli } from '../../local/agent-process';
import Docker from 'dockerode';
import type { RuntimeReport } from '../../contract/src';
import { signPayload } from '../../contract/src';
import { eventually, newUser } from '../support/api';
import { sleep, startAgent, startTestPlatform, TestPlatform, tokenOf } from './support';

/**
 * A provider killed mid-job: `chainfaas-provider start` runs as its own process (compiled, as an
 * operator runs it) and is SIGKILLed while its container runs. Its heartbeats stop, so its lease
 * lapses; the reaper takes the job back and places it, as attempt 2, on another provider, which
 * completes it. The dead provider's capacity is released and a late report of its attempt refused.
 */
const run = promisify(execFile);
const repo = resolve(__dirname, '../..');
const docker = new Docker();
let t: TestPlatform;
let configDir: string;
let cli: string;
let victim: ChildProcess | undefined;
let survivor: Awaited<ReturnType<typeof startAgent>> | undefined;

beforeAll(async () => {
  configDir = join(mkdtempSync(join(tmpdir(), 'chainfaas-failover-home-')), 'provider');
  const compile = compileProviderCli().then((path) => (cli = path));
  // A lease of 3 s, heartbeats every second, a provider silent for 2 s is offline.
  const [platform] = await Promise.all([startTestPlatform({ LEASE_S: '3', HEARTBEAT_INTERVAL_S: '1', HEARTBEAT_STALE_MS: '2000' }), compile]);
  t = platform;
}, 300_000);

afterAll(async () => {
  if (victim && victim.exitCode === null && victim.signalCode === null) victim.kill('SIGKILL');
  await survivor?.agent.stop({ force: true });
  await t?.stop();
  if (cli) removeCompiledCli(cli);
  rmSync(resolve(configDir, '..'), { recursive: true, force: true });
}, 60_000);

const cliEnv = () => ({
  ...process.env,
  NODE_PATH: join(repo, 'node_modules'),
  CHAINFAAS_PROVIDER_DIR: configDir,
  AWS_ACCESS_KEY_ID: 'local',
  AWS_SECRET_ACCESS_KEY: 'local',
});

const containersOf = (label: string, status?: string) => docker.listContainers({ all: status === undefined, filters: { label: [label], ...(status ? { status: [status] } : {}) } });

test('a provider killed mid-job has its job completed by another provider', async () => {
  // Provider A: registered and started with the CLI, in its own process.
  const owner = await newUser(t.api, ['provider']);
  await run(process.execPath, [cli, 'register', '--api-url', t.platform.apiUrl, '--token', tokenOf(owner.api), '--name', 'victim', '--vcpu', '1', '--memory-mb', '512'], {
    env: cliEnv(),
  });
  const victimId = JSON.parse(readFileSync(join(configDir, 'provider.json'), 'utf8')).registration.providerId as string;
  victim = spawn(process.execPath, [cli, 'start', '--poll-wait-s', '1', '--log-level', 'error'], { env: cliEnv(), stdio: 'ignore' });
  const statusFile = join(configDir, 'status.json');
  await eventually('the victim agent to run', async () => (existsSync(statusFile) && JSON.parse(readFileSync(statusFile, 'utf8')).state === 'running' ? true : undefined));

  // A job that sleeps 4 s; A is the only provider, so it gets attempt 1.
  const dev = await newUser(t.api, ['developer']);
  const fn = (await dev.api.post('/functions', { name: 'sleep', image: t.platform.images.sleep, mode: 'async', resources: { vcpu: 0.5, memoryMb: 64, timeoutS: 30 } })).body;
  const invoked = await dev.api.post(`/functions/${fn.functionId}/invocations`, { input: '4' });
  expect(invoked.status).toBe(202);
  const jobId = invoked.body.jobId as string;
  expect(invoked.body).toMatchObject({ status: 'ASSIGNED', providerId: victimId, attempt: 1 });
  await eventually('the job to run in a container on A', async () => ((await containersOf(`chainfaas.job=${jobId}`, 'running')).length === 1 ? true : undefined), 60_000);
  expect((await t.deps.providers.getProvider(victimId))?.reservedVcpuMilli).toBe(500);

  // Kill A: no drain, no last heartbeat, no report.
  victim.kill('SIGKILL');
  await new Promise((r) => victim!.once('exit', r));
  const killedAt = Date.now();

  // Provider B comes online; the lapsed lease sends the job there as attempt 2.
  survivor = await startAgent(t.api, { vcpu: 1, memoryMb: 512 });
  const done = await eventually(
    'the job to finish',
    async () => {
      const job = (await dev.api.get(`/jobs/${jobId}`)).body;
      return job.status === 'SUCCEEDED' || job.status === 'FAILED' ? job : undefined;
    },
    60_000,
  );
  expect(done).toMatchObject({ status: 'SUCCEEDED', providerId: survivor.providerId, attempt: 2, exitCode: 0 });
  expect(Date.now() - killedAt).toBeGreaterThan(3000); // not before A's lease ran out
  expect(JSON.parse(await (await fetch(done.resultUrl)).text())).toEqual({ sleptS: 4 });

  const record = await t.deps.jobs.getJob(jobId);
  expect(record?.previousProviders).toEqual([victimId]);
  expect(record?.requeueReason).toMatch(new RegExp(`provider ${victimId} stopped heart-beating .* while it held attempt 1`));
  // A's reservation was given back; B's too, now that it finished.
  expect((await t.deps.providers.getProvider(victimId))?.reservedVcpuMilli).toBe(0);
  expect((await t.deps.providers.getProvider(survivor.providerId))?.reservedVcpuMilli).toBe(0);
  // The job shows SUCCEEDED once its report's transition is written; the agent has the answer a little later.
  await eventually('B to have the answer to its report', async () => (survivor!.reports.length > 0 ? true : undefined));
  expect(survivor.reports).toEqual([expect.objectContaining({ jobId, attempt: 2, status: 200 })]);

  // The ledger: the job was reassigned to B (CreateJob again) and B's signed run time settled it.
  const ledger = await eventually('the ledger record to be settled', async () => {
    await t.platform.flushLedger();
    const res = await dev.api.get(`/jobs/${jobId}/ledger`);
    return res.body.record?.paid ? res.body.record : undefined;
  });
  expect(ledger).toMatchObject({ providerId: survivor.providerId, runtimeMs: done.runtimeMs, received: true, paid: true });

  // Had A come back and reported attempt 1 (its container was still running when it died), it is refused.
  const late: RuntimeReport = {
    v: 1,
    jobId,
    providerId: victimId,
    attempt: 1,
    status: 'succeeded',
    exitCode: 0,
    runtimeMs: 4000,
    resultSha256: 'a'.repeat(64),
    resultSize: 1,
    logSize: 0,
    startedAt: new Date().toISOString(),
    finishedAt: new Date().toISOString(),
  };
  const privateKey = readFileSync(join(configDir, 'provider-key.pem'), 'utf8');
  const refused = await owner.api.post(`/providers/${victimId}/reports`, { report: late, signature: signPayload(late, privateKey) });
  expect(refused.status).toBe(409);
  expect(refused.body.error.message).toMatch(/was taken from this provider/);
  expect((await dev.api.get(`/jobs/${jobId}`)).body).toMatchObject({ status: 'SUCCEEDED', providerId: survivor.providerId, runtimeMs: done.runtimeMs });

  // A's container outlived its agent (a SIGKILL does not stop Docker); its next start would reap it. Clean up here.
  await sleep(100);
  for (const c of await containersOf(`chainfaas.agent=${victimId}`)) await docker.getContainer(c.Id).remove({ force: true });
}, 180_000);
