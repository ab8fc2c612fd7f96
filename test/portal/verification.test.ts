import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { Api, newUser } from '../support/api';
import { buildCli, ROOT, runCli } from '../cli/build-cli';
import { registerProvider, runAgent, startTestPlatform, tokenOf, TestPlatform } from '../scheduling/support';
import { Browser, buildPortal, launchBrowser, mainText, openAs, screenshot, waitForPage, waitForSelectorOrShow } from './browser';

/**
 * Issue #19, as the people involved see it: a job replicated on two owners' real agents, then the
 * developer's job page in Chromium and `chainfaas jobs get` show its replicas, the agreement and
 * who was paid, and each provider's dashboard shows its own reputation. Screenshots:
 * test/screenshots/19-*.png.
 */

let t: TestPlatform;
let browser: Browser;
let page: Page;
let portal: string;
const slot = { vcpu: 0.5, memoryMb: 64 };
const owners: Array<{ api: Api; providerId: string; stop: () => Promise<void> }> = [];

beforeAll(async () => {
  buildPortal();
  [t] = await Promise.all([startTestPlatform({ HEARTBEAT_INTERVAL_S: '1' }), buildCli()]);
  portal = `${t.platform.apiUrl}/portal/`;
  for (let i = 0; i < 2; i += 1) {
    const provider = await registerProvider(t.api, slot, `owner-${i}`);
    const { agent, providerId } = await runAgent(t.api, provider, slot);
    owners.push({ api: provider.api, providerId, stop: () => agent.stop({ force: true }) });
  }
  browser = await launchBrowser();
  page = browser.page;
}, 600_000);

afterAll(async () => {
  await browser?.close();
  for (const o of owners) await o.stop().catch(() => undefined);
  await t?.stop();
}, 120_000);

/** Runs the compiled `chainfaas` CLI with an API URL and token from the environment. */
const cli = (args: string[], token: string) =>
  runCli(args, { HOME: ROOT, CHAINFAAS_API_URL: t.platform.apiUrl, CHAINFAAS_TOKEN: token, CHAINFAAS_CONFIG: join(ROOT, 'does-not-exist.json') });

async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 120_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await t.platform.flushLedger();
    await new Promise((r) => setTimeout(r, 250));
  }
}

test('a replicated job: the job page and the CLI show both replicas, the agreement and what each was paid; each provider sees its reputation', async () => {
  const developer = await newUser(t.api, ['developer']);
  const dev = developer.api;
  const created = await dev.post('/functions', {
    name: 'checked',
    image: t.platform.images.sha256,
    mode: 'async',
    resources: { ...slot, timeoutS: 20 },
    verification: { mode: 'replicate', k: 2, quorum: 2, maxReplicas: 3 },
  });
  expect(created.status).toBe(201);
  const invoked = await dev.post(`/functions/${created.body.functionId}/invocations`, { input: 'replicated' });
  expect(invoked.status).toBe(202);
  const jobId = invoked.body.jobId as string;

  // Settled: the decision taken and both replicas paid on the ledger's read model.
  const job = await until(async () => {
    const body = (await dev.get(`/jobs/${jobId}`)).body;
    const replicas = body.verification?.replicas ?? [];
    return body.verification?.decision === 'agreed' && replicas.length === 2 && replicas.every((r: { paid?: boolean }) => r.paid === true) ? body : undefined;
  }, 'both replicas paid');
  const replicas = job.verification.replicas as Array<{ jobId: string; providerId: string; cost: number; resultSha256: string }>;
  expect(new Set(replicas.map((r) => r.providerId))).toEqual(new Set(owners.map((o) => o.providerId)));

  // The portal's job page, as the developer.
  await openAs(page, portal, { token: tokenOf(dev), email: developer.email }, `#/jobs/${jobId}`, `Task ${jobId}`);
  await waitForSelectorOrShow(page, '#job-verification');
  const verification = (await page.textContent('#job-verification')) ?? '';
  expect(verification).toContain('replicated on 2 owners, quorum 2 (at most 3 replicas)');
  expect(verification).toContain(`agreed on ${job.verification.agreedSha256.slice(0, 16)}`);
  const rows = await page.$$eval('#job-verification table tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('th, td')].map((td) => (td.textContent ?? '').trim())));
  expect(rows).toHaveLength(2);
  for (const r of replicas) {
    const row = rows.find((cells) => cells[0] === r.jobId);
    expect(row).toBeDefined();
    expect(row?.[1]).toBe(r.providerId);
    expect(row?.[3]).toBe(`${r.resultSha256.slice(0, 16)}…`);
    expect(row?.[4]).toBe('agreed');
    expect(row?.[5]).toMatch(/credits$/);
  }
  expect(await mainText(page)).toContain("the replicas' (2, below)");
  await screenshot(page, '19-job-verification');
  // A replica's id opens its own page, where its ledger record is.
  await page.click(`#job-verification a[href="#/jobs/${replicas[0]?.jobId}"]`);
  await waitForPage(page, `Task ${replicas[0]?.jobId}`);
  await waitForSelectorOrShow(page, `#job-ledger :text("${replicas[0]?.providerId}")`, 60_000);

  // The CLI, same job.
  const got = await cli(['jobs', 'get', jobId], tokenOf(dev));
  expect(got).toMatchObject({ code: 0 });
  expect(got.stdout).toMatch(/Provider:\s+the replicas' \(below\)/);
  expect(got.stdout).toMatch(/Verification:\s+replicate k=2, quorum 2 \(at most 3\): agreed/);
  for (const r of replicas) expect(got.stdout).toMatch(new RegExp(`${r.jobId}\\s+${r.providerId}\\s+SUCCEEDED\\s+agreed\\s+${r.resultSha256.slice(0, 12)}\\s+paid `));

  // Each provider's dashboard: its own reputation, one agreement.
  for (const owner of owners) {
    const me = (await owner.api.get('/me')).body;
    await openAs(page, portal, { token: tokenOf(owner.api), email: me.email }, '#/provider', 'Provider');
    await waitForSelectorOrShow(page, `#provider-${owner.providerId} .reputation`);
    const text = (await page.textContent(`#provider-${owner.providerId} .reputation`)) ?? '';
    expect(text).toMatch(/^score \d\.\d\d: 1 agreed, 0 disagreed, 0 missed; 1 valid in a row/);
  }
  await screenshot(page, '19-provider-reputation');
}, 300_000);
