import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Stripe from 'stripe';
import { payoutIdOf, sendPayouts } from '../../lambdas/core/use-cases/payments';
import { depsFromEnv, ledgerFromEnv } from '../../lambdas/adapters/deps';
import { startPlatform, Platform } from '../../local/platform';
import { Api, eventually, newUser } from '../support/api';
import { Browser, buildPortal, horizontalOverflow, launchBrowser, openAs, screenshot, waitForSelectorOrShow } from '../portal/browser';
import { startStripeMock, StripeMock } from './stripe-mock';
import { buildCli, runCli } from '../cli/build-cli';

/**
 * Card top-ups and provider payouts (issue #21) on the local platform with PAYMENT_PROVIDER=stripe,
 * the Stripe adapter talking to the real stripe-mock, and webhooks signed the way Stripe signs them
 * (the SDK's generateTestHeaderString with the endpoint's secret): a forged, stale or replayed
 * webhook credits nothing; the amount credited is Stripe's; a refund takes only what running jobs
 * do not hold; two concurrent withdrawals never exceed the earnings; a refused transfer returns
 * the money; the read model reconciles with the ledger to the micro-credit after all of it.
 */
const WEBHOOK_SECRET = 'whsec_chainfaas_test_secret';
const CREDIT = 1_000_000; // micro-credits; one cent at the default rate
const MAX_PRICE = 25 * CREDIT;
const FEE = CREDIT;

let platform: Platform;
let mock: StripeMock;
let api: Api;
const saved = { ...process.env };
const SET = {
  SIGNUP_CREDIT: '0',
  BALANCE_HOLDS: 'on',
  OPERATOR_USER_IDS: '',
  PAYMENT_PROVIDER: 'stripe',
  PAYOUT_FEE: String(FEE),
  STRIPE_SECRET_FILE: '',
  STRIPE_API_BASE: '',
};
// Only the SDK's webhook helpers are used from here: no request leaves through this client.
const sdk = new Stripe('sk_test_unused');


/** Runs the compiled CLI with a token; never execFileSync: the platform answering it lives in this process. */
function cli(token: string, args: string[]) {
  const home = mkdtempSync(join(tmpdir(), 'chainfaas-cli-home-'));
  return runCli([...args, '--api-url', platform.apiUrl, '--token', token], { HOME: home, CHAINFAAS_CONFIG: join(home, 'config.json') });
}

let browser: Browser | undefined;

beforeAll(async () => {
  const built = buildCli();
  buildPortal();
  mock = await startStripeMock();
  const dir = mkdtempSync(join(tmpdir(), 'chainfaas-stripe-'));
  const secretFile = join(dir, 'stripe.json');
  writeFileSync(secretFile, JSON.stringify({ secretKey: 'sk_test_chainfaas', webhookSecret: WEBHOOK_SECRET }), { mode: 0o600 });
  Object.assign(process.env, { ...SET, STRIPE_SECRET_FILE: secretFile, STRIPE_API_BASE: mock.url });
  platform = await startPlatform({ port: 0, dataDir: join(dir, 'data'), log: () => undefined });
  api = new Api(platform.apiUrl);
  await built;
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await platform?.stop();
  await mock?.stop();
  for (const k of Object.keys(SET)) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
}, 60_000);

let eventCounter = 0;
function event(type: string, object: Record<string, unknown>, id = `evt_test_${++eventCounter}`) {
  return JSON.stringify({ id, object: 'event', api_version: '2026-11-18.endive', created: Math.floor(Date.now() / 1000), livemode: false, pending_webhooks: 1, request: { id: null }, type, data: { object } });
}

/** POSTs the exact bytes with a signature header made the way Stripe makes it. */
async function deliver(payload: string, opts: { secret?: string; timestamp?: number; header?: string | null } = {}) {
  const header = opts.header === undefined ? sdk.webhooks.generateTestHeaderString({ payload, secret: opts.secret ?? WEBHOOK_SECRET, timestamp: opts.timestamp }) : opts.header;
  const res = await fetch(`${platform.apiUrl}/payments/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json; charset=utf-8', ...(header === null ? {} : { 'stripe-signature': header }) },
    body: payload,
  });
  return { status: res.status, body: (await res.json()) as any };
}

const session = (sessionId: string, accountId: string, reference: string, amountTotal: number, paymentIntent: string) => ({
  id: sessionId,
  object: 'checkout.session',
  amount_total: amountTotal,
  currency: 'usd',
  payment_status: 'paid',
  status: 'complete',
  payment_intent: paymentIntent,
  client_reference_id: accountId,
  metadata: { accountId, reference },
});

async function account(who: Api) {
  await platform.flushLedger();
  return (await who.get('/account')).body;
}

async function settled(dev: Api, jobIds: string[]) {
  return eventually(
    'the jobs to settle on the ledger',
    async () => {
      await platform.flushLedger();
      const views = await Promise.all(jobIds.map(async (id) => (await dev.get(`/jobs/${id}`)).body));
      return views.every((j) => j.paid !== undefined && j.cost !== undefined) ? views : undefined;
    },
    60_000,
  );
}

test('card top-ups credited only by verified webhooks; refunds within what jobs do not hold; payouts paid once or returned; reconciliation exact', async () => {
  const operator = await newUser(api, ['developer']);
  process.env.OPERATOR_USER_IDS = operator.userId;
  const dev = await newUser(api, ['developer']);

  // ---- money in: a Checkout session; the browser's amount is only what it asked for ----
  expect((await dev.api.post('/account/card-top-ups', { amount: CREDIT + 1, reference: 'card-1' })).body.error).toMatchObject({ field: 'amount' });
  const asked = 100 * CREDIT;
  const checkout = await dev.api.post('/account/card-top-ups', { amount: asked, reference: 'card-1' });
  expect(checkout.status).toBe(201);
  expect(checkout.body).toMatchObject({ status: 'pending', amount: asked, reference: 'card-1', replayed: false });
  expect(checkout.body.checkoutUrl).toMatch(/^https:\/\/checkout\.stripe\.com\//);
  const sessionId: string = checkout.body.sessionId;
  expect(sessionId).toMatch(/^cs_/);
  const again = await dev.api.post('/account/card-top-ups', { amount: asked, reference: 'card-1' });
  expect(again).toMatchObject({ status: 200, body: { sessionId, replayed: true } });
  expect((await dev.api.post('/account/card-top-ups', { amount: 2 * asked, reference: 'card-1' })).status).toBe(409);
  expect(mock.requests.filter((r) => r === 'POST /v1/checkout/sessions')).toHaveLength(1);

  // Stripe charged 60 credits' worth (a coupon, say): that, not the 100 asked, is what is credited.
  const paid = event('checkout.session.completed', session(sessionId, dev.userId, 'card-1', 60, 'pi_card_1'));
  // Forged: another secret, no signature, a stale signature, a body changed after signing.
  for (const forged of [
    await deliver(paid, { secret: 'whsec_not_the_endpoints' }),
    await deliver(paid, { header: null }),
    await deliver(paid, { timestamp: Math.floor(Date.now() / 1000) - 3600 }),
    await deliver(paid.replace('"amount_total":60', '"amount_total":6000'), {
      header: sdk.webhooks.generateTestHeaderString({ payload: paid, secret: WEBHOOK_SECRET }),
    }),
  ]) {
    expect(forged.status).toBe(400);
    expect(forged.body.error.field).toBe('stripe-signature');
  }
  // Signed, but for a session this controller never opened: nothing.
  expect((await deliver(event('checkout.session.completed', session('cs_test_elsewhere', dev.userId, 'card-1', 999_999, 'pi_x')))).body.outcome).toBe('unknown-checkout');
  expect(await account(dev.api)).toMatchObject({ ledgerBalance: 0 });

  const genuine = await deliver(paid);
  expect(genuine).toMatchObject({ status: 200, body: { outcome: 'credited' } });
  // The same event replayed, and another event for the same payment: credited once.
  expect((await deliver(paid)).body.outcome).toBe('duplicate');
  expect((await deliver(event('checkout.session.async_payment_succeeded', session(sessionId, dev.userId, 'card-1', 60, 'pi_card_1')))).body.outcome).toBe('already-credited');
  const funded = await eventually('the card top-up to reach the read model', async () => {
    const a = await account(dev.api);
    return a.balance > 0 ? a : undefined;
  });
  expect(funded).toMatchObject({ balance: 60 * CREDIT, ledgerBalance: 60 * CREDIT, available: 60 * CREDIT });
  expect((await dev.api.post('/account/card-top-ups', { amount: asked, reference: 'card-1' })).body).toMatchObject({ status: 'approved', paidAmount: 60 * CREDIT });

  // ---- the developer pays the provider for two jobs (each at its price cap) ----
  expect((await operator.api.post('/operator/prices', { vcpuMs: 1_000_000, mbMs: 100_000 })).status).toBe(201);
  const fn = (
    await dev.api.post('/functions', { name: 'sha', image: platform.images.sha256, mode: 'async', maxPrice: MAX_PRICE, resources: { vcpu: 0.5, memoryMb: 64, timeoutS: 10 } })
  ).body;
  const started = await Promise.all([1, 2].map((i) => dev.api.post(`/functions/${fn.functionId}/invocations`, { input: `job ${i}` })));
  const jobs = await settled(
    dev.api,
    started.map((s) => s.body.jobId),
  );
  for (const job of jobs) expect(job).toMatchObject({ status: 'SUCCEEDED', paid: true, cost: MAX_PRICE });
  expect(await account(dev.api)).toMatchObject({ balance: 10 * CREDIT, available: 10 * CREDIT });

  // ---- a refund while a job holds part of the balance: only what is not held is taken ----
  const big = (
    await dev.api.post('/functions', { name: 'big', image: platform.images.sha256, mode: 'async', maxPrice: 4 * CREDIT, resources: { vcpu: 0.5, memoryMb: 8192, timeoutS: 10 } })
  ).body;
  const waiting = (await dev.api.post(`/functions/${big.functionId}/invocations`, { input: 'x' })).body;
  expect(waiting.status).toBe('QUEUED');
  expect(await account(dev.api)).toMatchObject({ balance: 10 * CREDIT, held: 4 * CREDIT, available: 6 * CREDIT });
  const refund = event('refund.created', { id: 're_test_1', object: 'refund', amount: 30, currency: 'usd', payment_intent: 'pi_card_1', status: 'succeeded' });
  expect((await deliver(refund)).body.outcome).toBe('reversed-partly');
  expect((await deliver(refund)).body.outcome).toBe('duplicate');
  // Another currency is refused, whatever its signature.
  expect((await deliver(event('refund.created', { id: 're_test_2', object: 'refund', amount: 1, currency: 'eur', payment_intent: 'pi_card_1', status: 'succeeded' }))).body.error.field).toBe('currency');
  expect(await account(dev.api)).toMatchObject({ balance: 4 * CREDIT, ledgerBalance: 4 * CREDIT, held: 4 * CREDIT, available: 0 });
  expect((await dev.api.post(`/jobs/${waiting.jobId}/cancel`)).body.status).toBe('CANCELLED');
  // The same refund under another event id (Stripe may send one twice), once the first was taken and the
  // account has money available again: taken once, nothing held for it.
  await platform.flushLedger();
  expect((await deliver(event('refund.created', { id: 're_test_1', object: 'refund', amount: 30, currency: 'usd', payment_intent: 'pi_card_1', status: 'succeeded' }))).body.outcome).toBe(
    'already-reversed',
  );
  expect(await account(dev.api)).toMatchObject({ balance: 4 * CREDIT, held: 0, available: 4 * CREDIT });
  // A dispute takes 1 credit; won, it comes back.
  const dispute = { id: 'dp_test_1', object: 'dispute', amount: 1, currency: 'usd', payment_intent: 'pi_card_1', status: 'needs_response' };
  expect((await deliver(event('charge.dispute.created', dispute))).body.outcome).toBe('reversed');
  expect((await account(dev.api)).balance).toBe(3 * CREDIT);
  expect((await deliver(event('charge.dispute.closed', { ...dispute, status: 'won' }))).body.outcome).toBe('restored');
  expect(await account(dev.api)).toMatchObject({ balance: 4 * CREDIT, available: 4 * CREDIT, held: 0 });

  // ---- money out: the provider withdraws its earnings (2 × 25 credits) ----
  const provider = api.as(platform.provider!.token);
  const providerId = (await provider.get('/me')).body.userId as string;
  expect(await account(provider)).toMatchObject({ balance: 2 * MAX_PRICE });
  expect((await dev.api.post('/account/payouts', { amount: 20 * CREDIT, reference: 'w' })).status).toBe(403);
  expect((await provider.post('/account/payouts', { amount: 20 * CREDIT, reference: 'w-0' })).status).toBe(409); // no payout account yet
  const onboarding = await provider.post('/account/payouts/onboarding', {});
  expect(onboarding.status).toBe(200);
  expect(onboarding.body.connectedAccountId).toMatch(/^acct_/);
  expect(onboarding.body.onboardingUrl).toMatch(/^https:\/\//);
  expect((await provider.post('/account/payouts/onboarding', {})).body.connectedAccountId).toBe(onboarding.body.connectedAccountId);
  expect((await provider.post('/account/payouts', { amount: 5 * CREDIT, reference: 'w-small' })).body.error).toMatchObject({ field: 'amount', minimum: 10 * CREDIT });

  // Two concurrent withdrawals of 30 credits from 50: one is taken, the other refused.
  const both = await Promise.all(['w-a', 'w-b'].map((reference) => provider.post('/account/payouts', { amount: 30 * CREDIT, reference })));
  expect(both.map((r) => r.status).sort()).toEqual([202, 402]);
  const taken = both.find((r) => r.status === 202)!.body;
  expect(taken).toMatchObject({ amount: 30 * CREDIT, fee: FEE, net: 30 * CREDIT - FEE, status: 'requested' });
  // Its replay answers the same payout.
  expect(await provider.post('/account/payouts', { amount: 30 * CREDIT, reference: taken.reference })).toMatchObject({ status: 200, body: { payoutId: taken.payoutId, replayed: true } });

  // A second one, of 20 credits, whose transfer Stripe refuses: the money comes back.
  const failing = payoutIdOf(providerId, 'w-fail');
  mock.refuseTransfers.add(failing);
  // Let the writer finish following the first payout: between a debit and the release of its hold
  // the read model's `available` under-states (never over-states) the account for a moment.
  await platform.flushLedger();
  const failingAsked = await provider.post('/account/payouts', { amount: 20 * CREDIT, reference: 'w-fail' });
  expect({ status: failingAsked.status, body: failingAsked.body }).toMatchObject({ status: 202 });

  const ended = await eventually(
    'both payouts to end on the ledger',
    async () => {
      await platform.flushLedger();
      const items = (await provider.get('/account/payouts')).body.items as any[];
      return items.length === 2 && items.every((p) => p.status !== 'pending') ? items : undefined;
    },
    60_000,
  );
  const byId = Object.fromEntries(ended.map((p) => [p.payoutId, p]));
  expect(byId[taken.payoutId]).toMatchObject({ status: 'paid', amount: 30 * CREDIT, fee: FEE, transferId: expect.stringMatching(/^tr_/) });
  expect(byId[failing]).toMatchObject({ status: 'failed', failureReason: expect.stringMatching(/insufficient_capabilities_for_transfer/) });
  // More runs of the sweep (retries, late flushes) send nothing more.
  const transfersBefore = mock.requests.filter((r) => r === 'POST /v1/transfers').length;
  for (let i = 0; i < 3; i++) {
    expect(await sendPayouts(depsFromEnv(), await ledgerFromEnv())).toEqual({ sent: 0, failed: 0, refused: 0, pending: 0 });
    await platform.flushLedger();
  }
  expect(mock.requests.filter((r) => r === 'POST /v1/transfers').length).toBe(transfersBefore);
  expect(await account(provider)).toMatchObject({ balance: 20 * CREDIT, ledgerBalance: 20 * CREDIT, available: 20 * CREDIT, held: 0 });
  const kinds = ((await provider.get('/account/history?limit=50')).body.items as any[]).map((e) => [e.kind, e.amount]);
  expect(kinds).toEqual(
    expect.arrayContaining([
      ['payout', -30 * CREDIT],
      ['payout', -20 * CREDIT],
      ['payoutreturn', 20 * CREDIT],
    ]),
  );

  // ---- reconciliation: the read model equals the ledger for everyone involved ----
  for (const who of [dev.api, provider, operator.api]) {
    await platform.flushLedger();
    expect((await who.get('/account/reconciliation')).body.differences).toEqual([]);
  }
}, 300_000);

test('CLI: top-up --card prints the checkout page; withdraw and payouts', async () => {
  const dev = await newUser(api, ['developer']);
  const token = (dev.api as unknown as { token: string }).token;
  const card = await cli(token, ['top-up', '5', '--card', '--reference', 'cli-card-1']);
  expect(card).toMatchObject({ code: 0, stdout: expect.stringMatching(/^Pay 5\.000000 credits by card at:\nhttps:\/\/checkout\.stripe\.com\/\S+\n$/) });
  const again = await cli(token, ['top-up', '5', '--card', '--reference', 'cli-card-1', '--json']);
  expect(JSON.parse(again.stdout)).toMatchObject({ reference: 'cli-card-1', status: 'pending', replayed: true, checkoutUrl: expect.stringMatching(/^https:/) });
  expect(await cli(token, ['top-up', '0.0000001', '--card'])).toMatchObject({ code: 2 });
  // Without --card, top-up is the direct charge it was (Stripe takes cards only on its page: 402).
  expect((await cli(token, ['top-up', '5', '--reference', 'cli-direct'])).code).toBe(1);

  // The provider (20 credits of earnings left by the test above) withdraws 10 and lists its payouts.
  const provider = platform.provider!.token;
  const asked = await cli(provider, ['withdraw', '10', '--reference', 'cli-w-1']);
  expect(asked).toMatchObject({ code: 0, stdout: expect.stringMatching(/^Requested payout po_[0-9a-f]+: 10\.000000 credits \(fee 1\.000000, sent 9\.000000\)/) });
  expect(await cli(provider, ['withdraw', '1000', '--reference', 'cli-w-2'])).toMatchObject({ code: 1, stderr: expect.stringMatching(/withdrawable|insufficient/i) });
  const paid = await eventually(
    'the CLI payout to be paid',
    async () => {
      await platform.flushLedger();
      const listed = JSON.parse((await cli(provider, ['payouts', '--json'])).stdout) as any[];
      return listed.filter((p) => p.status === 'paid').length === 2 ? listed : undefined;
    },
    60_000,
  );
  expect(paid.filter((p) => p.status === 'paid').map((p) => p.amount).sort()).toEqual([10 * CREDIT, 30 * CREDIT]);
  const table = await cli(provider, ['payouts']);
  expect(table.code).toBe(0);
  expect(table.stdout).toMatch(/^PAYOUT\s+STATUS\s+AMOUNT/);
  expect(table.stdout).toMatch(/paid\s+10\.000000/);
  expect(table.stdout).toMatch(/failed\s+20\.000000/);
  const onboard = await cli(provider, ['payouts', 'onboard']);
  expect(onboard).toMatchObject({ code: 0, stdout: expect.stringMatching(/^Payout account acct_\S+\. Finish setting it up at:\nhttps:\/\/\S+\n$/) });
}, 300_000);

test('portal: top up by card goes to the checkout page; a provider withdraws and sees its payouts and movements', async () => {
  browser = await launchBrowser();
  const page = browser.page;
  const portal = `${platform.apiUrl}/portal/`;
  // The checkout page is Stripe's: the browser is sent there; here it answers a stand-in.
  await page.route('https://checkout.stripe.com/**', (route) => route.fulfill({ status: 200, contentType: 'text/html', body: '<h1>Stripe Checkout</h1>' }));

  const dev = await newUser(api, ['developer']);
  const devToken = (dev.api as unknown as { token: string }).token;
  await openAs(page, portal, { token: devToken, email: dev.email }, '#/payments', 'Payments');
  expect(await page.locator('#withdraw-form').count()).toBe(0); // not a provider
  await page.fill('#card-amount', '7');
  await Promise.all([page.waitForURL(/^https:\/\/checkout\.stripe\.com\//, { timeout: 30_000 }), page.click('#card-form button[type=submit]')]);
  await openAs(page, portal, { token: devToken, email: dev.email }, '#/payments', 'Payments');
  await page.fill('#card-amount', '0.0000001');
  await page.click('#card-form button[type=submit]');
  await waitForSelectorOrShow(page, '#card-form .form-error');

  const provider = platform.provider!.token;
  const providerEmail = (await api.as(provider).get('/me')).body.email as string;
  await openAs(page, portal, { token: provider, email: providerEmail }, '#/payments', 'Payments');
  const payoutsText = await page.textContent('#payouts-title + *');
  expect(payoutsText).toMatch(/paid/);
  expect(payoutsText).toMatch(/failed/);
  expect(await page.textContent('#money-title + *')).toMatch(/payoutreturn/);
  await page.fill('#withdraw-amount', '1000');
  await page.click('#withdraw-form button[type=submit]');
  await waitForSelectorOrShow(page, '#withdraw-form .form-error');
  expect(await page.textContent('#withdraw-form .form-error')).toMatch(/withdrawable|insufficient/i);
  await page.fill('#withdraw-amount', '10');
  await page.click('#withdraw-form button[type=submit]');
  await page.waitForFunction(() => /requested/.test((globalThis as any).document.getElementById('payout-result')?.textContent ?? ''), undefined, { timeout: 30_000 });
  await screenshot(page, 'payments-provider');
  // Readable on a narrow screen, the navigation with it.
  await page.setViewportSize({ width: 360, height: 740 });
  try {
    expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
    await screenshot(page, 'payments-provider-narrow');
  } finally {
    await page.setViewportSize({ width: 1280, height: 900 });
  }
  const paidNow = await eventually(
    'the portal payout to be paid',
    async () => {
      await platform.flushLedger();
      const items = (await api.as(provider).get('/account/payouts')).body.items as any[];
      return items.filter((p) => p.status === 'paid').length === 3 ? items : undefined;
    },
    60_000,
  );
  expect(paidNow.filter((p) => p.status === 'paid').map((p) => p.amount).sort((a, b) => a - b)).toEqual([10 * CREDIT, 10 * CREDIT, 30 * CREDIT]);
  expect(browser.console.filter((line) => /error/i.test(line) && !/checkout\.stripe\.com|40[0-9]/.test(line))).toEqual([]);
}, 300_000);
