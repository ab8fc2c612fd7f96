import Stripe from 'stripe';
import { DomainError, invalid } from '../../core/errors';
import type { PaymentEvent, PaymentProvider } from '../../core/ports';

/** What the Stripe adapter needs: its keys (from Secrets Manager in AWS), the platform's currency and rate. */
export interface StripeSettings {
  /** The restricted or secret API key (`sk_...` / `rk_...`). */
  secretKey: string;
  /** The webhook endpoint's signing secret (`whsec_...`). */
  webhookSecret: string;
  /** ISO currency, lower case (`usd`). @default 'usd' */
  currency?: string;
  /** Micro-credits per minor unit of the currency (per cent). @default 1_000_000 (one credit per cent) */
  microCreditsPerMinorUnit?: number;
  /** Another API base (stripe-mock in tests), e.g. `http://127.0.0.1:12111`. @default Stripe's API */
  apiBase?: string;
  /** How old a webhook signature may be, seconds. @default 300 (the SDK's) */
  toleranceS?: number;
}

/** The secret's JSON shape in Secrets Manager: `{ "secretKey": "sk_...", "webhookSecret": "whsec_..." }`. */
export function parseStripeSecret(json: string): Pick<StripeSettings, 'secretKey' | 'webhookSecret'> {
  const value = JSON.parse(json) as Record<string, unknown>;
  if (typeof value.secretKey !== 'string' || typeof value.webhookSecret !== 'string') throw new Error('the Stripe secret must be JSON with secretKey and webhookSecret strings');
  return { secretKey: value.secretKey, webhookSecret: value.webhookSecret };
}

/**
 * The `PaymentProvider` port on Stripe (PAYMENT_PROVIDER=stripe): card top-ups through Checkout,
 * credited only from the verified `checkout.session.completed` webhook; refunds and disputes from
 * their webhooks; payouts as Connect transfers to the provider's Express account.
 *
 * Amounts cross this boundary in micro-credits and are converted here, in integers only: a
 * top-up or transfer must be a whole number of minor units (`unit` micro-credits). Every amount an
 * event credits or takes is Stripe's own (`amount_total`, the refund's, the dispute's) in the
 * platform's currency; an event in another currency is refused.
 *
 * Exactly once: Checkout sessions and transfers are created with idempotency keys derived from the
 * account's reference and the payout id, and before a transfer the payout's transfer group is
 * looked up, so a retry after Stripe forgot the key (24 h) still finds the first transfer.
 */
export class StripePaymentProvider implements PaymentProvider {
  readonly name = 'stripe';
  readonly needsConnectedAccount = true;
  readonly unit: number;
  private readonly stripe: Stripe;
  private readonly currency: string;

  constructor(private readonly settings: StripeSettings) {
    this.currency = (settings.currency ?? 'usd').toLowerCase();
    this.unit = settings.microCreditsPerMinorUnit ?? 1_000_000;
    if (!Number.isSafeInteger(this.unit) || this.unit < 1) throw new Error(`micro-credits per minor unit must be a positive integer, got ${this.unit}`);
    const base = settings.apiBase ? new URL(settings.apiBase) : undefined;
    this.stripe = new Stripe(settings.secretKey, {
      maxNetworkRetries: 2,
      timeout: 20_000,
      ...(base ? { host: base.hostname, port: Number(base.port || (base.protocol === 'https:' ? 443 : 80)), protocol: base.protocol === 'https:' ? 'https' : 'http' } : {}),
    });
  }

  /** Direct charges need a card the platform never sees: card top-ups go through `checkout`. */
  async charge() {
    return { status: 'declined' as const, reason: 'Stripe top-ups are paid on its checkout page: POST /account/card-top-ups' };
  }

  async checkout(req: { accountId: string; amount: number; reference: string; successUrl: string; cancelUrl: string }) {
    const metadata = { accountId: req.accountId, reference: req.reference };
    const session = await this.stripe.checkout.sessions.create(
      {
        mode: 'payment',
        line_items: [{ quantity: 1, price_data: { currency: this.currency, unit_amount: this.toMinor(req.amount, 'amount'), product_data: { name: 'ChainFaaS credits' } } }],
        client_reference_id: req.accountId,
        metadata,
        payment_intent_data: { metadata },
        success_url: req.successUrl,
        cancel_url: req.cancelUrl,
      },
      { idempotencyKey: `checkout:${req.accountId}:${req.reference}` },
    );
    if (!session.url) throw new Error(`Stripe returned checkout session ${session.id} without a URL`);
    return { sessionId: session.id, url: session.url };
  }

  async verifyWebhook(rawBody: string, signature: string | undefined): Promise<PaymentEvent> {
    if (!signature) throw invalid('stripe-signature', 'stripe-signature: the header is missing');
    let event: Stripe.Event;
    try {
      event = await this.stripe.webhooks.constructEventAsync(rawBody, signature, this.settings.webhookSecret, this.settings.toleranceS);
    } catch (err) {
      throw invalid('stripe-signature', `stripe-signature: ${(err as Error).message.split('\n')[0]}`);
    }
    const eventId = event.id;
    switch (event.type) {
      case 'checkout.session.completed':
      case 'checkout.session.async_payment_succeeded': {
        const session = event.data.object;
        // A delayed payment method completes the session unpaid; its async_payment_succeeded follows.
        if (session.payment_status !== 'paid') return { kind: 'ignored', eventId, type: `${event.type} (${session.payment_status})` };
        const accountId = session.metadata?.accountId;
        const reference = session.metadata?.reference;
        if (!accountId || !reference) return { kind: 'ignored', eventId, type: `${event.type} (not a ChainFaaS top-up)` };
        return {
          kind: 'topup-paid',
          eventId,
          accountId,
          reference,
          sessionId: session.id,
          paymentId: idOf(session.payment_intent) ?? session.id,
          amount: this.fromMinor(session.amount_total, session.currency),
        };
      }
      case 'refund.created': {
        const refund = event.data.object;
        if (refund.status === 'failed' || refund.status === 'canceled') return { kind: 'ignored', eventId, type: `${event.type} (${refund.status})` };
        const paymentId = idOf(refund.payment_intent);
        if (!paymentId) return { kind: 'ignored', eventId, type: `${event.type} (no payment intent)` };
        return { kind: 'topup-reversed', eventId, reference: `refund:${refund.id}`, paymentId, amount: this.fromMinor(refund.amount, refund.currency) };
      }
      case 'charge.dispute.created':
      case 'charge.dispute.closed': {
        const dispute = event.data.object;
        const paymentId = idOf(dispute.payment_intent);
        if (!paymentId) return { kind: 'ignored', eventId, type: `${event.type} (no payment intent)` };
        const amount = this.fromMinor(dispute.amount, dispute.currency);
        if (event.type === 'charge.dispute.created') return { kind: 'topup-reversed', eventId, reference: `dispute:${dispute.id}`, paymentId, amount };
        if (dispute.status === 'won') return { kind: 'topup-restored', eventId, reference: `dispute-won:${dispute.id}`, paymentId, amount };
        return { kind: 'ignored', eventId, type: `${event.type} (${dispute.status})` };
      }
      default:
        return { kind: 'ignored', eventId, type: event.type };
    }
  }

  async connect(req: { accountId: string; existing?: string; returnUrl: string; refreshUrl: string }) {
    const connectedAccountId =
      req.existing ??
      (
        await this.stripe.accounts.create(
          { type: 'express', metadata: { accountId: req.accountId }, capabilities: { transfers: { requested: true } } },
          { idempotencyKey: `connect:${req.accountId}` },
        )
      ).id;
    const link = await this.stripe.accountLinks.create({ account: connectedAccountId, type: 'account_onboarding', return_url: req.returnUrl, refresh_url: req.refreshUrl });
    return { connectedAccountId, onboardingUrl: link.url };
  }

  async transfer(req: { payoutId: string; destination?: string; amount: number }) {
    if (!req.destination) return { status: 'failed' as const, reason: 'the account has no connected Stripe account' };
    const amount = this.toMinor(req.amount, 'amount');
    // A transfer of this payout made earlier (its idempotency key may have expired) is the answer.
    const earlier = await this.stripe.transfers.list({ destination: req.destination, transfer_group: req.payoutId, limit: 10 });
    const sent = earlier.data.find((t) => t.transfer_group === req.payoutId && t.metadata?.payoutId === req.payoutId);
    if (sent) return { status: 'sent' as const, transferId: sent.id };
    try {
      const transfer = await this.stripe.transfers.create(
        { amount, currency: this.currency, destination: req.destination, transfer_group: req.payoutId, metadata: { payoutId: req.payoutId } },
        { idempotencyKey: `payout:${req.payoutId}` },
      );
      return { status: 'sent' as const, transferId: transfer.id };
    } catch (err) {
      // Refused for good (no transfers capability, unknown account, ...): the money goes back.
      // Anything else (network, rate limit, Stripe's 5xx, our own key) is retried later.
      if (err instanceof Stripe.errors.StripeInvalidRequestError || err instanceof Stripe.errors.StripePermissionError) {
        return { status: 'failed' as const, reason: `${err.code ?? err.type}: ${err.message}`.slice(0, 500) };
      }
      throw err;
    }
  }

  /** Micro-credits to minor units; refuses an amount that is not a whole number of them. */
  private toMinor(micro: number, field: string): number {
    if (!Number.isSafeInteger(micro) || micro <= 0 || micro % this.unit !== 0) {
      throw invalid(field, `${field}: card amounts are whole ${this.currency} minor units: a positive multiple of ${this.unit} micro-credits`);
    }
    return micro / this.unit;
  }

  /** Stripe's amount in the platform's currency, in micro-credits. */
  private fromMinor(minor: number | null, currency: string | null): number {
    if (currency?.toLowerCase() !== this.currency) throw new DomainError('invalid_request', `the event is in ${currency}, not the platform's ${this.currency}`, 'currency');
    if (minor === null || !Number.isSafeInteger(minor) || minor < 0) throw new DomainError('invalid_request', `the event's amount ${minor} is not a whole number of minor units`, 'amount');
    return minor * this.unit;
  }
}

const idOf = (value: string | { id: string } | null | undefined): string | undefined => (typeof value === 'string' ? value : (value?.id ?? undefined));

/**
 * The Stripe adapter whose keys are read on first use (from Secrets Manager in AWS, a file
 * elsewhere), so that building the controller's ports stays synchronous and a Lambda that never
 * touches payments never reads the secret.
 */
export class LazyStripePaymentProvider implements PaymentProvider {
  readonly name = 'stripe';
  readonly needsConnectedAccount = true;
  private inner?: Promise<StripePaymentProvider>;

  constructor(
    private readonly load: () => Promise<StripeSettings>,
    readonly unit: number,
  ) {}

  private get(): Promise<StripePaymentProvider> {
    this.inner ??= this.load().then(
      (settings) => new StripePaymentProvider({ ...settings, microCreditsPerMinorUnit: this.unit }),
      (err: unknown) => {
        this.inner = undefined;
        throw err;
      },
    );
    return this.inner;
  }

  async charge() {
    return (await this.get()).charge();
  }
  async checkout(req: Parameters<StripePaymentProvider['checkout']>[0]) {
    return (await this.get()).checkout(req);
  }
  async verifyWebhook(rawBody: string, signature: string | undefined) {
    return (await this.get()).verifyWebhook(rawBody, signature);
  }
  async connect(req: Parameters<StripePaymentProvider['connect']>[0]) {
    return (await this.get()).connect(req);
  }
  async transfer(req: Parameters<StripePaymentProvider['transfer']>[0]) {
    return (await this.get()).transfer(req);
  }
}
