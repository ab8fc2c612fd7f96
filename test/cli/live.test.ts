import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Api, eventually, newUser } from '../support/api';
import { registerProvider, startAgent, startTestPlatform, TestPlatform, tokenOf } from '../scheduling/support';
import { Browser, buildPortal, launchBrowser, openAs, screenshot, waitForPage } from '../portal/browser';
import { buildCli, CLI_BIN, runCli } from './build-cli';

/**
 * Issue #22, live progress: the agent's heartbeats carry each running job's phase (pulling,
 * running, uploading) and the controller records it on the job, only for jobs ASSIGNED to that
 * provider; `chainfaas invoke` and `jobs get` and the portal show it. The agent uploads a running
 * job's log as it grows, and `chainfaas logs JOB -f` prints it while the job still runs. The
 * compiled CLI runs on a pseudo-terminal (`script`), as in a person's shell; heartbeats every
 * second here (HEARTBEAT_INTERVAL_S=1), so the phases show within a test's patience. Also the
 * portal's empty Functions page (examples, one click each) and its list refreshing by itself.
 */

const BIN = CLI_BIN;

let t: TestPlatform;
let dev: Api;
let home: string;
let sleepFn = '';
let providerId = '';
let stopAgent: () => Promise<void> = async () => undefined;

/**
 * Runs the CLI on a pseudo-terminal; `watch` sees the screen as it grows (to probe the platform
 * at the moment something appears). Resolves with the exit code and the whole screen.
 */
function onTerminal(args: string[], watch: (screen: string) => void = () => undefined): Promise<{ code: number; screen: string }> {
  const command = [process.execPath, BIN, ...args].map((a) => `'${a}'`).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qfec', command, '/dev/null'], {
      env: { PATH: process.env.PATH, HOME: home, CHAINFAAS_CONFIG: join(home, 'config.json'), TERM: 'dumb' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let screen = '';
    child.stdout.on('data', (c) => {
      screen += c;
      watch(screen);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, screen }));
  });
}

const cli = (args: string[]) => runCli(args, { HOME: home, CHAINFAAS_CONFIG: join(home, 'config.json') });

beforeAll(async () => {
  buildPortal();
  [t] = await Promise.all([startTestPlatform({ HEARTBEAT_INTERVAL_S: '1' }), buildCli()]);
  const registered = await t.api.post('/users', { email: `live${Date.now()}@example.test`, password: 'correct horse battery', roles: ['developer'] });
  dev = new Api(t.platform.apiUrl, registered.body.token);
  home = mkdtempSync(join(tmpdir(), 'chainfaas-cli-live-'));
  expect((await cli(['login', '--api-url', t.platform.apiUrl, '--token', registered.body.token])).code).toBe(0);
  const agent = await startAgent(t.api, { vcpu: 2, memoryMb: 1024 });
  providerId = agent.providerId;
  stopAgent = () => agent.agent.stop();
  sleepFn = (await dev.post('/functions', { name: 'sleep', image: t.platform.images.sleep, resources: { vcpu: 0.5, memoryMb: 64, timeoutS: 60 } })).body.functionId;
}, 300_000);

afterAll(async () => {
  await stopAgent();
  await t?.stop();
}, 60_000);

test('invoke on a terminal shows the job’s phases as its provider reports them; jobs get shows the phase', async () => {
  let jobId = '';
  let seenGet: { code: number; stdout: string } | undefined;
  let probing = false;
  const run = await onTerminal(['invoke', 'sleep', '-d', '8 tick'], (screen) => {
    const running = /job (job_\w+) running on (prv_\w+)/.exec(screen);
    if (!running || probing) return;
    probing = true;
    jobId = running[1] as string;
    void cli(['jobs', 'get', jobId]).then((r) => (seenGet = r));
  });
  expect(run.code).toBe(0);
  expect(run.screen).toContain(`job ${jobId} running on ${providerId}`);
  expect(run.screen).toContain(`job ${jobId} SUCCEEDED`);
  const got = await eventually('jobs get to answer', async () => seenGet);
  expect(got.stdout).toMatch(new RegExp(`Status: +ASSIGNED\\nPhase: +running on ${providerId} for \\d+ s\\n`));
  // Once ended, no phase: the job is finished.
  const ended = await dev.get(`/jobs/${jobId}`);
  expect(ended.body.status).toBe('SUCCEEDED');
  expect(ended.body.progress).toBeUndefined();
}, 90_000);

test('logs -f prints a running job’s stderr while it runs, then the rest once it ends', async () => {
  const jobId = (await dev.post(`/functions/${sleepFn}/invocations`, { mode: 'async', input: '9 tick' })).body.jobId as string;
  let statusAtTick: string | undefined;
  const followed = await onTerminal(['logs', jobId, '-f'], (screen) => {
    if (statusAtTick === undefined && screen.includes('tick 1')) {
      statusAtTick = 'probing';
      void dev.get(`/jobs/${jobId}`).then((r) => (statusAtTick = r.body.status));
    }
  });
  expect(followed.code).toBe(0);
  // The first line was on the screen while the job was still running.
  expect(await eventually('the job read at the first line', async () => (statusAtTick === 'probing' ? undefined : statusAtTick))).toBe('ASSIGNED');
  const ticks = followed.screen.match(/^tick \d+\r?$/gm) ?? [];
  expect(ticks.map((l) => l.trim())).toEqual(['tick 1', 'tick 2', 'tick 3', 'tick 4', 'tick 5', 'tick 6', 'tick 7', 'tick 8']);
  expect(followed.screen).toContain(`job ${jobId} SUCCEEDED`);
  // The final log is the whole log: nothing of the live uploads is left over or doubled.
  const log = await (await fetch((await dev.get(`/jobs/${jobId}`)).body.logUrl)).text();
  expect(log).toBe(Array.from({ length: 8 }, (_, i) => `tick ${i + 1}\n`).join(''));
}, 90_000);

test('a provider records phases only of jobs assigned to it; a bad phase is 400 naming the field', async () => {
  const jobId = (await dev.post(`/functions/${sleepFn}/invocations`, { mode: 'async', input: '8' })).body.jobId as string;
  const job = await eventuallyRunning(jobId, 20_000);
  expect(job?.progress).toMatchObject({ phase: 'running' });
  const intruder = await registerProvider(t.api, { vcpu: 1, memoryMb: 256 }, 'intruder');
  const id = intruder.registration.providerId;
  // Draining: the intruder is never offered a job of this file.
  const beat = await intruder.api.put(`/providers/${id}/heartbeat`, { draining: true, runningJobs: [jobId], phases: [{ jobId, attempt: 1, phase: 'uploading', since: new Date().toISOString() }] });
  expect(beat.status).toBe(200);
  expect(beat.body.revokedJobs).toEqual([jobId]);
  expect((await dev.get(`/jobs/${jobId}`)).body.progress).toMatchObject({ phase: 'running' });
  const bad = await intruder.api.put(`/providers/${id}/heartbeat`, { draining: true, runningJobs: [jobId], phases: [{ jobId, attempt: 1, phase: 'dancing', since: new Date().toISOString() }] });
  expect(bad.status).toBe(400);
  expect(JSON.stringify(bad.body)).toContain('phases');
  await waitEnded(jobId);
}, 60_000);

test('the portal shows the phase live, on the test-invoke progress and on the job page', async () => {
  let browser: Browser | undefined;
  try {
    browser = await launchBrowser();
    const { page } = browser;
    const portal = `${t.platform.apiUrl}/portal/`;
    await openAs(page, portal, { token: tokenOf(dev), email: 'live@example.test' }, `#/functions/${sleepFn}`, 'sleep');
    await page.waitForSelector('#invoke-input');
    await page.fill('#invoke-input', '"8"');
    await page.click('#invoke-form button[type=submit]');
    await page.waitForSelector(`#invoke-progress .phase:has-text("running on ${providerId} for")`, { timeout: 30_000 });
    await screenshot(page, '22-20-test-invoke-phase');
    const jobId = ((await page.textContent('#invoke-progress a')) ?? '').trim();
    await page.goto(`${portal}#/jobs/${jobId}`);
    await waitForPage(page, `Task ${jobId}`);
    await page.waitForSelector(`#job-phase:has-text("running on ${providerId} for")`, { timeout: 20_000 });
    await page.waitForSelector(`#job-live:has-text("Live: running on ${providerId}")`);
    await screenshot(page, '22-21-job-phase');
    await page.waitForSelector('#job-live:has-text("Finished")', { timeout: 30_000 });
    expect(await page.isVisible('#job-phase')).toBe(false);
  } finally {
    await browser?.close();
  }
}, 120_000);

async function eventuallyRunning(jobId: string, timeoutMs: number): Promise<{ status: string; progress?: { phase: string }; logUrl?: string } | undefined> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const job = (await dev.get(`/jobs/${jobId}`)).body;
    if (job.progress?.phase === 'running') return job;
    if (['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(job.status)) return undefined;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`job ${jobId} never reported running`);
}

async function waitEnded(jobId: string): Promise<{ status: string; logUrl: string }> {
  for (;;) {
    const job = (await dev.get(`/jobs/${jobId}`)).body;
    if (['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(job.status)) return job;
    await new Promise((r) => setTimeout(r, 300));
  }
}

test('the empty Functions page offers the registry’s examples; one click adds one that runs; the list refreshes itself without redrawing or losing the search', async () => {
  let browser: Browser | undefined;
  try {
    browser = await launchBrowser();
    const { page } = browser;
    const portal = `${t.platform.apiUrl}/portal/`;
    const fresh = await newUser(t.api, ['developer']);
    await openAs(page, portal, { token: tokenOf(fresh.api), email: fresh.email }, '#/functions', 'Functions');
    await page.waitForSelector('#examples #add-example-sha256');
    // The images the platform pushed, shortened for reading, in full on hover.
    expect(await page.getAttribute('#examples tbody tr:nth-child(3) code', 'title')).toBe(t.platform.images['echo-http']);
    await screenshot(page, '22-22-functions-examples');
    await page.click('#add-example-sha256');
    await waitForPage(page, 'sha256');
    const [fn] = (await fresh.api.get('/functions')).body.items;
    expect(fn).toMatchObject({ name: 'sha256', image: t.platform.images.sha256, resources: { vcpu: 0.5, memoryMb: 64, timeoutS: 30 } });
    await page.fill('#invoke-input', '"hello"');
    await page.click('#invoke-form button[type=submit]');
    await page.waitForSelector('#invoke-output .status-succeeded', { timeout: 60_000 });

    // Back on the list: a search typed, then a function added elsewhere (the API, as the CLI would).
    await page.goto(`${portal}#/functions`);
    await waitForPage(page, 'Functions');
    expect(await page.isVisible('#examples')).toBe(false);
    await page.fill('#function-search', 'sha');
    await page.waitForSelector('#function-results .count:has-text("1 of 1 functions match")');
    // Unchanged data: the table is the same element after two refresh periods (no flicker).
    await page.evaluate(() => ((globalThis as any).document.querySelector('#function-results table') as any).__kept = true);
    await new Promise((r) => setTimeout(r, 11_000));
    expect(await page.evaluate(() => Boolean(((globalThis as any).document.querySelector('#function-results table') as any)?.__kept))).toBe(true);
    expect(await fresh.api.post('/functions', { name: 'sha-two', image: t.platform.images.sha256, resources: { vcpu: 0.5, memoryMb: 64, timeoutS: 10 } })).toMatchObject({ status: 201 });
    expect(await fresh.api.post('/functions', { name: 'other', image: t.platform.images.sleep, resources: { vcpu: 0.5, memoryMb: 64, timeoutS: 10 } })).toMatchObject({ status: 201 });
    await page.waitForSelector('#function-results .count:has-text("2 of 3 functions match")', { timeout: 15_000 });
    expect(await page.inputValue('#function-search')).toBe('sha');
    expect(await page.textContent('#functions-updated')).toMatch(/^Updated .*; this list refreshes by itself\.$/);
    await screenshot(page, '22-23-functions-refreshed');
  } finally {
    await browser?.close();
  }
}, 120_000);
