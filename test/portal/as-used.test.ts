import { ChildProcess, execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { startPlatform, Platform } from '../../local/platform';
import { compileProviderCli, removeCompiledCli } from '../../local/agent-process';
import { projectRoot } from '../../lib/project-root';
import { Api, eventually, newUser } from '../support/api';
import { Browser, buildPortal, launchBrowser, openAs, screenshot, waitForPage, waitForSelectorOrShow } from './browser';

/**
 * Issue #22: the portal as a new user meets it, page by page. The platform starts WITHOUT a
 * provider: jobs wait QUEUED (to cancel one) until the user connects a machine with the very
 * commands the Provider page shows, run in a clean environment (no AWS variable); that agent then
 * runs every job of the file. Screenshots: test/screenshots/22-*.png.
 */

let platform: Platform;
let browser: Browser;
let page: Page;
let portal: string;
let providerCli = '';
let agent: ChildProcess | undefined;
let agentOutput = '';
const email = `grace${Date.now()}@example.test`;
const password = 'correct horse battery';
let dev: Api;
let sha256 = '';
let sleep = '';

beforeAll(async () => {
  buildPortal();
  [platform, providerCli] = await Promise.all([
    startPlatform({ port: 0, provider: false, dataDir: mkdtempSync(join(tmpdir(), 'chainfaas-as-used-')), log: () => undefined }),
    compileProviderCli(),
  ]);
  portal = `${platform.apiUrl}/portal/`;
  browser = await launchBrowser();
  page = browser.page;
}, 300_000);

afterAll(async () => {
  if (agent && agent.exitCode === null) {
    const exited = new Promise((r) => agent?.once('exit', r));
    agent.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
    if (agent.exitCode === null) agent.kill('SIGKILL');
  }
  agent?.stdout?.destroy();
  agent?.stderr?.destroy();
  await browser?.close();
  await platform?.stop();
  if (providerCli) removeCompiledCli(providerCli);
}, 60_000);

const sessionOf = async () => (await page.evaluate(() => JSON.parse((globalThis as any).sessionStorage.getItem('chainfaas.session')))) as { token: string; email: string };

test('after registering, the nav is the new account’s at once, and the CLI login line is ready to paste', async () => {
  await page.goto(`${portal}#/register`);
  await waitForPage(page, 'Create an account');
  await page.fill('input[name=email]', email);
  await page.fill('input[name=password]', password);
  await page.check('#role-provider');
  await page.click('button:has-text("Create account")');
  await page.waitForSelector('h1:has-text("Account created")');
  dev = new Api(platform.apiUrl, (await sessionOf()).token);
  // Before the user presses Continue: the nav no longer offers "Log in / Register".
  await page.waitForSelector('#nav a:has-text("Functions")');
  const nav = (await page.textContent('#nav')) ?? '';
  expect(nav).toContain('Provider');
  expect(nav).toContain(email);
  expect(nav).not.toContain('Register');
  const token = ((await page.textContent('#api-token')) ?? '').trim();
  expect(await page.textContent('#login-line')).toBe(`chainfaas login --api-url ${platform.apiUrl} --token ${token}`);
  // Copy buttons put exactly the shown text on the clipboard.
  await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(portal).origin });
  await page.click('#copy-login-line');
  await page.waitForSelector('#copy-login-line + .copied:has-text("Copied.")');
  expect(await page.evaluate(() => (globalThis as any).navigator.clipboard.readText())).toBe(`chainfaas login --api-url ${platform.apiUrl} --token ${token}`);
  await page.click('#copy-token');
  expect(await page.evaluate(() => (globalThis as any).navigator.clipboard.readText())).toBe(token);
  await screenshot(page, '22-01-registered-nav');
});

test('searching functions for "sha" does not match every function through its digest', async () => {
  sha256 = (await dev.post('/functions', { name: 'sha256', image: platform.images.sha256, resources: { vcpu: 0.5, memoryMb: 64, timeoutS: 20 } })).body.functionId;
  sleep = (await dev.post('/functions', { name: 'sleep', image: platform.images.sleep, mode: 'async', resources: { vcpu: 0.5, memoryMb: 64, timeoutS: 30 } })).body.functionId;
  expect(platform.images.sleep).toContain('@sha256:');
  await page.goto(`${portal}#/functions`);
  await waitForSelectorOrShow(page, '#function-results table');
  await page.fill('#function-search', 'sha');
  await expect(page.locator('#function-results tbody tr').count()).resolves.toBe(1);
  await expect(page.locator('#function-results tbody tr').first().textContent()).resolves.toContain('sha256');
  // A digest prefix (7+ hex digits) still finds the image it belongs to.
  const digest = (platform.images.sleep as string).split('@sha256:')[1] as string;
  await page.fill('#function-search', digest.slice(0, 10));
  await expect(page.locator('#function-results tbody tr').count()).resolves.toBe(1);
  await expect(page.locator('#function-results tbody tr').first().textContent()).resolves.toContain('sleep');
  await page.fill('#function-search', 'sha');
  await screenshot(page, '22-02-function-search');
});

let cancelled = '';

test('cancelling a job asks first; the cancelled job’s page says it was never placed, never ran and cost nothing', async () => {
  // No provider yet: the job waits.
  const started = await dev.post(`/functions/${sleep}/invocations`, { input: '1' });
  expect(started.status).toBe(202);
  cancelled = started.body.jobId;
  await page.goto(`${portal}#/jobs/${cancelled}`);
  await waitForPage(page, `Task ${cancelled}`);
  await expect(page.locator('#ledger-pending').textContent()).resolves.toBe('The ledger record appears once the job is placed on a provider.');
  await page.click('#cancel-job');
  // Asked, not done: the job is still queued.
  await page.waitForSelector('.confirm:not([hidden]) >> text=It will not run, and nothing is charged.');
  expect((await dev.get(`/jobs/${cancelled}`)).body.status).toBe('QUEUED');
  await screenshot(page, '22-03-cancel-confirm');
  await page.click('button:has-text("Keep it queued")');
  expect((await dev.get(`/jobs/${cancelled}`)).body.status).toBe('QUEUED');
  await page.click('#cancel-job');
  await page.click('button:has-text("Yes, cancel it")');
  await page.waitForSelector('#job-summary .status-cancelled');
  expect((await dev.get(`/jobs/${cancelled}`)).body.status).toBe('CANCELLED');
  // Opened afresh, as someone would later.
  await page.goto(`${portal}#/jobs`);
  await waitForPage(page, 'Tasks');
  await page.goto(`${portal}#/jobs/${cancelled}`);
  await waitForPage(page, `Task ${cancelled}`);
  await page.waitForSelector('#job-live:has-text("Finished")');
  const summary = (await page.textContent('#job-summary')) ?? '';
  expect(summary).toContain('none: cancelled before it was placed');
  expect(summary).not.toContain('not placed yet');
  expect(summary).toContain('nothing: cancelled jobs are not charged');
  expect(summary).not.toContain('not settled yet');
  // The Cancelled step says how long after the step before it, not "—".
  const cancelledRow = (await page.textContent('#job-summary tr:has-text("Cancelled")')) ?? '';
  expect(cancelledRow).toMatch(/Cancelled.*UTC\s*\d+(\.\d+)? (ms|s)/);
  await screenshot(page, '22-04-cancelled-job');
});

test('the Provider page’s "Connect a machine" commands, run exactly as shown with no AWS variable, connect a machine that runs jobs', async () => {
  await page.goto(`${portal}#/provider`);
  await waitForPage(page, 'Provider');
  const shown = ((await page.textContent('pre[aria-label="Commands to connect a machine"]')) ?? '').split('\n');
  expect(shown).toHaveLength(3);
  await screenshot(page, '22-05-connect');
  // The user's API token (an API token made on the Account page) goes where the page says.
  const token = (await dev.post('/tokens', { name: 'provider machine' })).body.token as string;
  const lines = shown.map((l) => l.replace('<your API token>', token));
  expect(lines[0]).toMatch(/^chainfaas-provider register --api-url http:\/\/\S+ --token cf_\S+ --vcpu 4 --memory-mb 8192$/);
  expect(lines.slice(1)).toEqual(['chainfaas-provider start', 'chainfaas-provider status']);

  // A clean machine: `chainfaas-provider` on the PATH, a home of its own, nothing else set.
  const home = mkdtempSync(join(tmpdir(), 'chainfaas-provider-home-'));
  const bin = join(home, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'chainfaas-provider'), `#!/bin/sh\nexec "${process.execPath}" "${providerCli}" "$@"\n`);
  chmodSync(join(bin, 'chainfaas-provider'), 0o755);
  // NODE_PATH: the compiled CLI sits outside the checkout; an installed package has its own node_modules.
  const env = { PATH: `${bin}:/usr/local/bin:/usr/bin:/bin`, HOME: home, NODE_PATH: join(projectRoot(), 'node_modules') };
  expect(Object.keys(env).some((k) => k.startsWith('AWS_'))).toBe(false);
  const sh = (line: string) =>
    new Promise<{ code: number; out: string }>((resolve) => {
      const child = spawn('sh', ['-c', line], { env, cwd: home });
      let out = '';
      child.stdout.on('data', (c) => (out += c));
      child.stderr.on('data', (c) => (out += c));
      child.on('close', (code) => resolve({ code: code ?? -1, out }));
    });
  const registered = await sh(lines[0] as string);
  expect(registered).toMatchObject({ code: 0, out: expect.stringContaining('registered provider') });
  agent = spawn('sh', ['-c', `exec ${lines[1]}`], { env, cwd: home });
  agent.stdout?.on('data', (c) => (agentOutput += c));
  agent.stderr?.on('data', (c) => (agentOutput += c));
  const status = await eventually(
    'the agent to run and heartbeat',
    async () => {
      const { out } = await sh(lines[2] as string);
      return /running \(pid \d+\)/.test(out) && /heartbeat\s+\d{4}-/.test(out) ? out : undefined;
    },
    60_000,
  );
  expect(status).toMatch(/^provider prv_\w+ /);

  // The waiting-free path: a job placed on this machine runs, so its queue polls succeed.
  const run = await dev.post(`/functions/${sha256}/invocations`, { input: 'connected', waitS: 25 });
  expect(run.body.status).toBe('SUCCEEDED');
  expect(agentOutput).not.toMatch(/Could not load credentials/);
  expect((await sh(lines[2] as string)).out).toMatch(/jobs\s+1 succeeded/);
  await page.reload();
  await waitForPage(page, 'Provider');
  await page.waitForSelector('.provider-card [data-state="online"]');
  await screenshot(page, '22-06-connected');
}, 180_000);

test('test-invoke: the cost fills in by itself once the ledger settles it', async () => {
  await page.goto(`${portal}#/functions/${sha256}`);
  await waitForSelectorOrShow(page, '#invoke-input');
  await page.fill('#invoke-input', '"cost please"');
  await page.click('#invoke-form button[type=submit]');
  await page.waitForSelector('#invoke-output .status-succeeded', { timeout: 60_000 });
  await page.waitForFunction(() => /\d\.\d{6} credits/.test((globalThis as any).document.querySelector('#invoke-output .job-cost')?.textContent ?? ''), undefined, { timeout: 30_000 });
  await screenshot(page, '22-07-test-invoke-cost');
  // The page's curl line, run as shown (with a token in CHAINFAAS_TOKEN), invokes the function.
  const curl = (await page.textContent('#snippet-curl')) ?? '';
  const token = (await dev.post('/tokens', { name: 'snippet' })).body.token as string;
  // Asynchronously: the platform answering it runs in this process.
  const answer = (await promisify(execFile)('sh', ['-c', curl], { env: { PATH: process.env.PATH, CHAINFAAS_TOKEN: token } })).stdout;
  expect(JSON.parse(answer)).toMatchObject({ functionId: sha256, status: 'SUCCEEDED' });
  expect(await page.textContent('#snippet-cli')).toBe("chainfaas invoke sha256 -d 'hello'");
});

test('test-invoke of a longer job shows it live: its id, its phase and the seconds counting; the price shows before it runs', async () => {
  await page.goto(`${portal}#/functions/${sleep}`);
  await waitForSelectorOrShow(page, '#invoke-input');
  expect(await page.textContent('#function-price')).toMatch(/^about \d+\.\d{6} credits per second of run time \(0\.5 vCPU and 64 MB at price list v\d+\), at most \d+\.\d{6} credits per job/);
  await page.fill('#invoke-input', '"6"');
  await page.click('#invoke-form button[type=submit]');
  await page.waitForSelector('#invoke-progress a[href^="#/jobs/job_"]', { timeout: 20_000 });
  // Placed, then (once a heartbeat says so) what its provider does: pulling, running, uploading.
  await page.waitForFunction(() => /^(placed|pulling the image|running|uploading the result) on prv_/.test((globalThis as any).document.querySelector('#invoke-progress .phase')?.textContent ?? ''));
  const before = Number(((await page.textContent('#invoke-elapsed')) ?? '').replace(' s', ''));
  await page.waitForFunction((b) => Number(((globalThis as any).document.querySelector('#invoke-elapsed')?.textContent ?? '').replace(' s', '')) > b, before, { timeout: 5_000 });
  await screenshot(page, '22-15-test-invoke-live');
  await page.waitForSelector('#invoke-output .status-succeeded', { timeout: 30_000 });
  expect(await page.isVisible('#invoke-progress')).toBe(false);
}, 60_000);

test('a running job’s page has a Started row and a timer, and says the job is placed; the Tasks list refreshes by itself', async () => {
  const started = await dev.post(`/functions/${sleep}/invocations`, { input: '8' });
  const jobId = started.body.jobId as string;
  await page.goto(`${portal}#/jobs/${jobId}`);
  await waitForPage(page, `Task ${jobId}`);
  await page.waitForSelector('#job-summary tr:has-text("Started")', { timeout: 20_000 });
  const first = (await page.textContent('#job-elapsed')) ?? '';
  await page.waitForFunction((before) => ((globalThis as any).document.querySelector('#job-elapsed')?.textContent ?? before) !== before, first, { timeout: 5_000 });
  await page.waitForSelector('#job-running-for:has-text("so far")');
  await expect(page.locator('#ledger-pending').textContent()).resolves.toMatch(/^Placed on prv_\w+: the ledger records the job now/);
  await screenshot(page, '22-08-job-running');

  // The list, opened while the job runs, shows it finish without a reload.
  const next = await dev.post(`/functions/${sleep}/invocations`, { input: '5' });
  await page.goto(`${portal}#/jobs`);
  await waitForPage(page, 'Tasks');
  const row = `#job-results tr:has(a:text-is("${next.body.jobId}"))`;
  await page.waitForSelector(row);
  expect(await page.textContent(`${row} .badge`)).toMatch(/QUEUED|ASSIGNED/);
  await screenshot(page, '22-09-tasks-running');
  await page.waitForSelector(`${row} .status-succeeded`, { timeout: 40_000 });
  await expect(page.locator('#jobs-updated').textContent()).resolves.toContain('refreshes by itself');
  await screenshot(page, '22-10-tasks-refreshed');
}, 90_000);

test('revoking an API token asks first', async () => {
  await dev.post('/tokens', { name: 'old laptop' });
  await page.goto(`${portal}#/account`);
  await waitForPage(page, 'Account');
  await page.click('button[aria-label="Revoke token old laptop"]');
  await page.waitForSelector('.confirm:not([hidden]) >> text=Revoke token old laptop?');
  expect(((await dev.get('/tokens')).body.items as { name?: string }[]).some((t) => t.name === 'old laptop')).toBe(true);
  await screenshot(page, '22-11-revoke-confirm');
  await page.click('button:has-text("Yes, revoke old laptop")');
  await page.waitForSelector('#token-created:has-text("Revoked token old laptop")');
  expect(((await dev.get('/tokens')).body.items as { name?: string }[]).some((t) => t.name === 'old laptop')).toBe(false);
});

test('an unknown job says Not found with a way back to Tasks; the date filter is in UTC, as the times shown', async () => {
  await page.goto(`${portal}#/jobs/job_doesnotexist`);
  await waitForPage(page, 'Not found');
  await expect(page.locator('main .alert.error').textContent()).resolves.toBe('Not found: job job_doesnotexist does not exist.');
  await screenshot(page, '22-12-unknown-job');
  await page.click('#back-to-list');
  // The old heading stays until the router has drawn the next page: wait for it to go first.
  await page.waitForURL(/#\/jobs$/);
  await page.waitForFunction(() => !String((globalThis as any).document.querySelector('#main h1')?.textContent ?? '').includes('Not found'));
  await waitForPage(page, 'Tasks');

  expect(await page.textContent('label[for=filter-from]')).toContain('UTC');
  expect(await page.textContent('#job-results')).toContain('UTC');
  await page.fill('#filter-from', '2026-01-02T03:04:05');
  await page.click('form[role=search] button[type=submit]');
  await page.waitForURL(/from=2026-01-02T03%3A04%3A05\.000Z/);
  expect(await page.inputValue('#filter-from')).toBe('2026-01-02T03:04:05');
  await screenshot(page, '22-13-date-filter');
});

test('the Peers page says first, in words, that no peer can enrol on this platform', async () => {
  const operator = await newUser(new Api(platform.apiUrl), ['peer-operator']);
  const session = (await new Api(platform.apiUrl).post('/sessions', { email: operator.email, password })).body.token;
  await openAs(page, portal, { token: session, email: operator.email }, '#/peers', 'Peers');
  const alert = page.locator('#enrolment-unavailable');
  await expect(alert.textContent()).resolves.toMatch(/^No peer can enrol on this platform: its ledger is embedded/);
  // Before the steps, and the form cannot be sent for nothing.
  const order = await page.evaluate(() => {
    const d = (globalThis as any).document;
    return Boolean(d.getElementById('enrolment-unavailable').compareDocumentPosition(d.getElementById('step-keys-title')) & 4);
  });
  expect(order).toBe(true);
  expect(await page.isDisabled('#peer-form button[type=submit]')).toBe(true);
  await screenshot(page, '22-14-peers-unavailable');
});

test('charts drawn with uPlot from the real data: spend per day and per function (by name), earnings per day and per machine', async () => {
  const reopen = async () => {
    const session = (await (await fetch(`${platform.apiUrl}/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) })).json()) as { token: string };
    return session.token as string;
  };
  const token = await reopen();
  // Earlier tests' jobs may still be settling on the ledger: wait until every job that ran has its
  // cost (the charts and the API are then read from the same settled state).
  await eventually(
    'every job of the developer to be settled',
    async () => {
      const jobs = (await dev.get('/jobs?limit=100')).body.items as { status: string; cost?: number }[];
      return jobs.every((j) => ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(j.status) && (j.status !== 'SUCCEEDED' || j.cost !== undefined)) ? true : undefined;
    },
    40_000,
  );
  const history = (await dev.get('/account/history?limit=200')).body.items as { kind: string; amount: number; timestamp: string }[];
  const spent = new Map<string, number>();
  const earned = new Map<string, number>();
  for (const e of history.filter((x) => x.kind === 'settlement')) {
    const day = e.timestamp.slice(0, 10);
    if (e.amount < 0) spent.set(day, (spent.get(day) ?? 0) - e.amount);
    else earned.set(day, (earned.get(day) ?? 0) + e.amount);
  }
  expect(spent.size).toBeGreaterThan(0);
  await openAs(page, portal, { token, email }, '#/account', 'Account');
  await page.waitForSelector('#chart-spend-day canvas');
  const data = async (id: string) => page.evaluate((sel) => {
    const el = (globalThis as any).document.getElementById(sel);
    return { labels: JSON.parse(el.dataset.labels), values: JSON.parse(el.dataset.values) } as { labels: string[]; values: number[] };
  }, id);
  const days = [...spent.keys()].sort();
  expect(await data('chart-spend-day')).toEqual({ labels: days, values: days.map((d) => spent.get(d)) });
  const month = new Date().toISOString().slice(0, 7);
  const bill = (await dev.get(`/account/bills/${month}`)).body as { lines: { name?: string; cost: number }[] };
  const perFunction = await data('chart-spend-function');
  expect(perFunction.labels.sort()).toEqual(['sha256', 'sleep']);
  expect(perFunction.values.reduce((a, b) => a + b, 0)).toBe(bill.lines.reduce((a, l) => a + l.cost, 0));
  // Something was drawn: the canvas is not blank.
  const drawn = await page.evaluate(() => {
    const c = (globalThis as any).document.querySelector('#chart-spend-day canvas');
    const pixels = c.getContext('2d').getImageData(0, 0, c.width, c.height).data as Uint8ClampedArray;
    let ink = 0;
    for (let i = 3; i < pixels.length; i += 4) if ((pixels[i] as number) > 0) ink++;
    return ink;
  });
  expect(drawn).toBeGreaterThan(100);
  await page.locator('#spending-title').scrollIntoViewIfNeeded();
  await screenshot(page, '22-16-account-charts');

  await page.goto(`${portal}#/provider`);
  await waitForPage(page, 'Provider');
  await page.waitForSelector('#chart-earnings-day canvas');
  const earnedDays = [...earned.keys()].sort();
  expect(await data('chart-earnings-day')).toEqual({ labels: earnedDays, values: earnedDays.map((d) => earned.get(d)) });
  const providers = (await dev.get('/providers')).body.items as { providerId: string; name: string }[];
  const total = (await dev.get(`/providers/${providers[0]?.providerId}/earnings?by=day`)).body.total as number;
  expect(await data('chart-earnings-machine')).toEqual({ labels: providers.map((p) => p.name), values: [total] });
  await screenshot(page, '22-17-provider-charts');
}, 120_000);

test('nothing secret reached the console, and no page threw', () => {
  expect(browser.console.filter((l) => l.startsWith('pageerror'))).toEqual([]);
  expect(browser.console.join('\n')).not.toMatch(/cf_[A-Za-z0-9_-]{20,}/);
});
