import Stripe from 'stripe';
import { DomainError } from '../../lambdas/core/errors';
import { LazyStripePaymentProvider, parseStripeSecret, StripePaymentProvider } from '../../lambdas/adapters/payments/stripe-provider';
import { startStripeMock, StripeMock } from './stripe-mock';

/**
 * The Stripe adapter alone against the real stripe-mock: what each call sends and answers, how
 * each webhook event type reads in the platform's terms, and which errors are final (the money
 * goes back) or transient (retried).
 */
const SECRET = 'whsec_adapter_test';
const sdk = new Stripe('sk_test_unused');
let mock: StripeMock;
let stripe: StripePaymentProvider;

beforeAll(async () => {
  mock = await startStripeMock();
  stripe = new StripePaymentProvider({ secretKey: 'sk_test_adapter', webhookSecret: SECRET, apiBase: mock.url });
}, 60_000);

afterAll(async () => {
  await mock?.stop();
});

const signed = (type: string, object: Record<string, unknown>, secret = SECRET) => {
  const payload = JSON.stringify({ id: `evt_${type.replace(/\W/g, '_')}`, object: 'event', type, data: { object } });
  return stripe.verifyWebhook(payload, sdk.webhooks.generateTestHeaderString({ payload, secret }));
};

const refusal = async (promise: Promise<unknown>) => {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DomainError);
  return err as DomainError;
};

test('checkout: a session in whole cents; anything else is refused before Stripe is asked', async () => {
  const before = mock.requests.length;
  expect((await refusal(stripe.checkout({ accountId: 'usr_a', amount: 1_500_000 + 1, reference: 'r', successUrl: 'http://x/', cancelUrl: 'http://x/' }))).field).toBe('amount');
  expect(mock.requests.length).toBe(before);
  const session = await stripe.checkout({ accountId: 'usr_a', amount: 2_000_000, reference: 'r', successUrl: 'http://x/', cancelUrl: 'http://x/' });
  expect(session).toEqual({ sessionId: expect.stringMatching(/^cs_/), url: expect.stringMatching(/^https:\/\/checkout\.stripe\.com\//) });
  expect(mock.requests.slice(before)).toEqual(['POST /v1/checkout/sessions']);
  expect(await stripe.charge()).toMatchObject({ status: 'declined' });
});

test('webhooks: each event type in micro-credits, the others ignored; another currency or secret refused', async () => {
  const session = { id: 'cs_1', object: 'checkout.session', amount_total: 250, currency: 'usd', payment_status: 'paid', payment_intent: 'pi_1', metadata: { accountId: 'usr_a', reference: 'r' } };
  expect(await signed('checkout.session.completed', session)).toEqual({ kind: 'topup-paid', eventId: 'evt_checkout_session_completed', accountId: 'usr_a', reference: 'r', sessionId: 'cs_1', paymentId: 'pi_1', amount: 250_000_000 });
  expect(await signed('checkout.session.completed', { ...session, payment_status: 'unpaid' })).toMatchObject({ kind: 'ignored' });
  expect(await signed('checkout.session.completed', { ...session, metadata: {} })).toMatchObject({ kind: 'ignored' });
  expect(await signed('refund.created', { id: 're_1', object: 'refund', amount: 40, currency: 'usd', payment_intent: 'pi_1', status: 'pending' })).toEqual({
    kind: 'topup-reversed',
    eventId: 'evt_refund_created',
    reference: 'refund:re_1',
    paymentId: 'pi_1',
    amount: 40_000_000,
  });
  expect(await signed('refund.created', { id: 're_2', object: 'refund', amount: 40, currency: 'usd', payment_intent: 'pi_1', status: 'failed' })).toMatchObject({ kind: 'ignored' });
  const dispute = { id: 'dp_1', object: 'dispute', amount: 9, currency: 'usd', payment_intent: 'pi_1' };
  expect(await signed('charge.dispute.created', { ...dispute, status: 'needs_response' })).toMatchObject({ kind: 'topup-reversed', reference: 'dispute:dp_1', amount: 9_000_000 });
  expect(await signed('charge.dispute.closed', { ...dispute, status: 'won' })).toMatchObject({ kind: 'topup-restored', reference: 'dispute-won:dp_1', amount: 9_000_000 });
  expect(await signed('charge.dispute.closed', { ...dispute, status: 'lost' })).toMatchObject({ kind: 'ignored' });
  expect(await signed('customer.created', { id: 'cus_1', object: 'customer' })).toMatchObject({ kind: 'ignored', type: 'customer.created' });
  expect((await refusal(signed('checkout.session.completed', { ...session, currency: 'eur' }))).field).toBe('currency');
  expect((await refusal(signed('checkout.session.completed', session, 'whsec_other'))).field).toBe('stripe-signature');
  expect((await refusal(stripe.verifyWebhook('{}', undefined))).field).toBe('stripe-signature');
});

test('payouts: a Connect transfer once per payout id; a refusal is final, a network failure is not', async () => {
  const connected = await stripe.connect({ accountId: 'usr_p', returnUrl: 'http://x/', refreshUrl: 'http://x/' });
  expect(connected).toEqual({ connectedAccountId: expect.stringMatching(/^acct_/), onboardingUrl: expect.stringMatching(/^https:\/\//) });
  const before = mock.requests.length;
  await stripe.connect({ accountId: 'usr_p', existing: connected.connectedAccountId, returnUrl: 'http://x/', refreshUrl: 'http://x/' });
  expect(mock.requests.slice(before)).toEqual(['POST /v1/account_links']); // no second account

  const sent = await stripe.transfer({ payoutId: 'po_ok', destination: connected.connectedAccountId, amount: 9_000_000 });
  expect(sent).toEqual({ status: 'sent', transferId: expect.stringMatching(/^tr_/) });
  // It looks for an earlier transfer of the payout before it creates one.
  expect(mock.requests.slice(-2)).toEqual(['GET /v1/transfers', 'POST /v1/transfers']);
  // A transfer of the payout Stripe already made (a retry after its idempotency key expired) is the answer: nothing is sent again.
  mock.earlierTransfers.set('po_again', 'tr_earlier');
  const requests = mock.requests.length;
  expect(await stripe.transfer({ payoutId: 'po_again', destination: connected.connectedAccountId, amount: 9_000_000 })).toEqual({ status: 'sent', transferId: 'tr_earlier' });
  expect(mock.requests.slice(requests)).toEqual(['GET /v1/transfers']);
  mock.refuseTransfers.add('po_refused');
  expect(await stripe.transfer({ payoutId: 'po_refused', destination: connected.connectedAccountId, amount: 9_000_000 })).toEqual({
    status: 'failed',
    reason: expect.stringMatching(/^insufficient_capabilities_for_transfer: /),
  });
  expect(await stripe.transfer({ payoutId: 'po_nowhere', amount: 9_000_000 })).toMatchObject({ status: 'failed' });
  expect((await refusal(stripe.transfer({ payoutId: 'po_cents', destination: connected.connectedAccountId, amount: 9_500_001 }))).field).toBe('amount');
  const down = new StripePaymentProvider({ secretKey: 'sk_test_adapter', webhookSecret: SECRET, apiBase: 'http://127.0.0.1:1' });
  await expect(down.transfer({ payoutId: 'po_down', destination: connected.connectedAccountId, amount: 9_000_000 })).rejects.toThrow();
}, 60_000);

test('keys: the secret must hold both; the lazy adapter reads them once, on first use', async () => {
  expect(() => parseStripeSecret('{"secretKey":"sk_test_x"}')).toThrow(/webhookSecret/);
  let loads = 0;
  const lazy = new LazyStripePaymentProvider(async () => {
    loads++;
    return { secretKey: 'sk_test_adapter', webhookSecret: SECRET, apiBase: mock.url };
  }, 1_000_000);
  expect(loads).toBe(0);
  await lazy.checkout({ accountId: 'usr_l', amount: 1_000_000, reference: 'l', successUrl: 'http://x/', cancelUrl: 'http://x/' });
  await lazy.connect({ accountId: 'usr_l', returnUrl: 'http://x/', refreshUrl: 'http://x/' });
  expect(loads).toBe(1);
});
