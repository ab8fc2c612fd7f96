import { createHash } from 'node:crypto';
import { CardTopUpBody, ConnectBody, WithdrawBody } from '../../../contract/src/requests';
import { conflict, DomainError } from '../errors';
import type { Ledger, LedgerPayout } from '../ledger';
import type { User } from '../model';
import type { BillingStore, PaymentProvider, PayoutRecord } from '../ports';
import { Deps, nowIso, parse, requireRole } from './context';
import { ledgerTopUpReference } from './billing';

/**
 * Money in by card and out to providers (issue #21), through the `PaymentProvider` port.
 *
 * In: `POST /account/card-top-ups` records a pending top-up and answers the provider's checkout
 * page. Nothing is credited then: only the provider's signed webhook (`POST /payments/webhook`,
 * `paymentWebhook`) credits the ledger, with the amount and currency the provider says were paid,
 * once per top-up (the ledger's `TopUp` reference, and the record's pending → approved condition)
 * and once per event id. Refunds and disputes take back from the account what it has available,
 * never what running jobs hold (a hold for the reversal, in the same conditional write as holds for
 * jobs), and record what they could not take.
 *
 * Out: `POST /account/payouts` (provider role) checks the minimum and the fee, reserves the amount
 * from `available` (a hold: two concurrent requests cannot both pass) and queues `RequestPayout`;
 * the ledger moves it out of the balance in the transaction that checks it may (settled earnings
 * not yet withdrawn, within the balance). The payout sweep (`sendPayouts`, the ledger writer's
 * schedule) sends what the ledger holds `pending`, once per payout id at the provider, and records
 * the outcome on the ledger: `CompletePayout`, or `FailPayout`, which returns the money. The ledger
 * lets a payout end once, so no retry or webhook can pay it twice or return it after it was paid.
 */

/** Payout rules (PAYOUT_MINIMUM, PAYOUT_FEE), micro-credits. */
export interface PayoutPolicy {
  minimum: number;
  fee: number;
}

export const DEFAULT_PAYOUT_POLICY: PayoutPolicy = { minimum: 10_000_000, fee: 0 };

type PaymentDeps = Deps;

function store(deps: Deps): BillingStore {
  if (!deps.billingStore) throw new DomainError('unavailable', 'billing is not configured on this controller');
  return deps.billingStore;
}

function provider(deps: Deps): PaymentProvider {
  if (!deps.payments) throw new DomainError('unavailable', 'payments are not available: no payment provider is configured (PAYMENT_PROVIDER)');
  return deps.payments;
}

/** The page the provider sends the payer back to: under the portal's URL when it is configured. */
function returnUrl(deps: PaymentDeps, asked: string | undefined, fallback: string): string {
  if (asked === undefined) return `${deps.portalUrl ?? 'http://localhost:3000/'}${fallback}`;
  if (deps.portalUrl && !asked.startsWith(deps.portalUrl)) throw new DomainError('invalid_request', `returnUrl: must start with the portal's URL ${deps.portalUrl}`, 'returnUrl');
  return asked;
}

// ---------- money in ----------

/** `POST /account/card-top-ups`: a pending card top-up and its checkout page. Idempotent on the reference. */
export async function cardTopUp(deps: PaymentDeps, user: User, body: unknown) {
  const req = parse(CardTopUpBody, body);
  const billing = store(deps);
  const payments = provider(deps);
  if (!payments.checkout || !billing.getTopUp) throw conflict(`this platform's payment provider (${payments.name}) takes no card top-ups: use POST /account/top-ups`);
  // Checked before anything is recorded: a refused amount leaves no pending top-up behind.
  const unit = payments.unit ?? 1;
  if (req.amount % unit !== 0) throw new DomainError('invalid_request', `amount: card top-ups are whole minor units of the currency: a multiple of ${unit} micro-credits`, 'amount', { unit });
  const record = { accountId: user.userId, reference: req.reference, amount: req.amount, status: 'pending' as const, method: 'card' as const, createdAt: nowIso(deps) };
  const created = await billing.createTopUp(record);
  if (!created.created) {
    const existing = created.existing;
    if (existing.amount !== req.amount || existing.method !== 'card') {
      throw conflict(`reference ${req.reference} was already used for another top-up; use a new reference for a new top-up`, { reference: req.reference });
    }
    if (existing.status !== 'pending' || existing.checkoutUrl) return { ...cardView(existing), replayed: true };
  }
  const back = returnUrl(deps, req.returnUrl, '#/account');
  const session = await payments.checkout({ accountId: user.userId, amount: req.amount, reference: req.reference, successUrl: back, cancelUrl: back });
  await billing.updateTopUp(user.userId, req.reference, { paymentId: session.sessionId, checkoutUrl: session.url });
  return { ...cardView({ ...record, paymentId: session.sessionId, checkoutUrl: session.url }), replayed: !created.created };
}

const cardView = (r: { accountId: string; reference: string; amount: number; status: string; paymentId?: string; checkoutUrl?: string; paidAmount?: number; createdAt: string }) => ({
  accountId: r.accountId,
  reference: r.reference,
  amount: r.amount,
  status: r.status,
  sessionId: r.paymentId,
  checkoutUrl: r.status === 'pending' ? r.checkoutUrl : undefined,
  paidAmount: r.paidAmount,
  createdAt: r.createdAt,
  ledgerReference: ledgerTopUpReference(r.accountId, r.reference),
  unit: 'micro-credits',
});

/**
 * `POST /payments/webhook`: the payment provider's event, its signature checked over the exact
 * body (400 otherwise, nothing applied). Each event applies once; what it credits or takes is the
 * provider's amount. Answers what was done; a retried event answers `duplicate`.
 */
export async function paymentWebhook(deps: PaymentDeps, rawBody: string, signature: string | undefined) {
  const payments = provider(deps);
  if (!payments.verifyWebhook) throw conflict(`this platform's payment provider (${payments.name}) sends no webhooks`);
  const event = await payments.verifyWebhook(rawBody, signature);
  const billing = store(deps);
  if (await billing.eventHandled?.(event.eventId)) return { eventId: event.eventId, outcome: 'duplicate' as const };
  let outcome: string;
  switch (event.kind) {
    case 'topup-paid': {
      const record = await billing.getTopUp?.(event.accountId, event.reference);
      // Signed by the provider, yet not a checkout this controller opened: nothing to credit.
      if (!record || record.method !== 'card' || record.paymentId !== event.sessionId) {
        outcome = 'unknown-checkout';
        break;
      }
      await billing.linkPayment?.({ paymentId: event.paymentId, accountId: event.accountId, reference: event.reference });
      // The ledger credits the reference once, whichever copy of the event gets here first.
      await deps.outbox.append(event.accountId, [{ type: 'TopUp', accountId: event.accountId, amount: event.amount, reference: ledgerTopUpReference(event.accountId, event.reference) }]);
      outcome = (await billing.approveTopUp?.(event.accountId, event.reference, event.amount)) ? 'credited' : 'already-credited';
      break;
    }
    case 'topup-reversed':
      outcome = await reverse(deps, event.reference, event.paymentId, event.amount);
      break;
    case 'topup-restored': {
      const link = await billing.getPaymentLink?.(event.paymentId);
      if (!link) throw conflict(`payment ${event.paymentId} is not known yet; the provider will retry`);
      await deps.outbox.append(link.accountId, [{ type: 'TopUp', accountId: link.accountId, amount: event.amount, reference: event.reference }]);
      outcome = 'restored';
      break;
    }
    default:
      outcome = 'ignored';
  }
  await billing.markEventHandled?.(event.eventId, nowIso(deps));
  return { eventId: event.eventId, outcome };
}

/** Takes a refund or dispute back from the account: what it has available, never what running jobs hold; once per reference. */
async function reverse(deps: PaymentDeps, reference: string, paymentId: string, amount: number): Promise<string> {
  const billing = store(deps);
  const link = await billing.getPaymentLink?.(paymentId);
  // The refund of a payment whose completion has not arrived yet: the provider retries (409).
  if (!link) throw conflict(`payment ${paymentId} is not known yet; the provider will retry`);
  const accountId = link.accountId;
  if (!billing.createReversal || !deps.balances.placeHold) throw new DomainError('unavailable', 'reversals need the balances read model');
  // Taken before (the same refund under another event): queue what it took again, hold nothing new.
  const earlier = await billing.getReversal?.(reference);
  if (earlier) {
    if (earlier.taken > 0) await deps.outbox.append(accountId, [{ type: 'ReverseTopUp', accountId, amount: earlier.taken, reference }]);
    return 'already-reversed';
  }
  // Reserve what can be taken now, in the same conditional write as job holds; retry if it moved.
  let taken = 0;
  for (let tries = 0; tries < 5 && taken === 0; tries++) {
    const available = (await deps.balances.account?.(accountId))?.available ?? 0;
    const want = Math.min(amount, Math.max(0, available));
    if (want === 0) break;
    if (await deps.balances.placeHold(accountId, reference, want, nowIso(deps))) taken = want;
  }
  const created = await billing.createReversal({ reference, accountId, amount, taken, createdAt: nowIso(deps) });
  if (!created.created) {
    // A copy of the event handled at the same moment: give back what this copy reserved, if it differs.
    if (taken > 0 && created.existing.taken !== taken) await deps.balances.releaseHold?.(reference);
    taken = created.existing.taken;
    if (taken > 0) await deps.outbox.append(accountId, [{ type: 'ReverseTopUp', accountId, amount: taken, reference }]);
    return 'already-reversed';
  }
  if (taken > 0) await deps.outbox.append(accountId, [{ type: 'ReverseTopUp', accountId, amount: taken, reference }]);
  return taken === amount ? 'reversed' : 'reversed-partly';
}

// ---------- money out ----------

/** The hold reserving a payout from `available`: named like the ledger's reference of its debit, which releases it (balances.ts#applyMovements). */
const payoutHold = (payoutId: string) => `payout:${payoutId}`;

/** A payout's id: the same for a retried request (account + reference), safe in ledger keys. */
export const payoutIdOf = (accountId: string, reference: string) => `po_${createHash('sha256').update(`${accountId}\n${reference}`).digest('hex').slice(0, 32)}`;

/** `POST /account/payouts/onboarding`: the account's connected payout account (created once) and a link to finish setting it up. */
export async function payoutOnboarding(deps: PaymentDeps, user: User, body: unknown) {
  requireRole(user, 'provider');
  const req = parse(ConnectBody, body ?? {});
  const payments = provider(deps);
  const billing = store(deps);
  if (!payments.connect || !billing.setConnectedAccount) throw conflict(`this platform's payment provider (${payments.name}) needs no payout account: withdraw directly`);
  const existing = await billing.getConnectedAccount?.(user.userId);
  const back = returnUrl(deps, req.returnUrl, '#/payouts');
  const linked = await payments.connect({ accountId: user.userId, existing, returnUrl: back, refreshUrl: back });
  const connectedAccountId = existing ?? (await billing.setConnectedAccount(user.userId, linked.connectedAccountId));
  return { accountId: user.userId, connectedAccountId, onboardingUrl: linked.onboardingUrl };
}

/**
 * `POST /account/payouts`: withdraws settled earnings. 202 when queued (or 200 for the same
 * reference again); 402 when `available` does not cover it; the ledger then checks it is earnings.
 */
export async function withdraw(deps: PaymentDeps, ledger: Pick<Ledger, 'getAccountHistory'>, user: User, body: unknown) {
  requireRole(user, 'provider');
  const req = parse(WithdrawBody, body);
  const payments = provider(deps);
  const billing = store(deps);
  if (!payments.transfer || !billing.createPayout || !deps.balances.placeHold) throw conflict(`this platform's payment provider (${payments.name}) makes no payouts`);
  const policy = deps.payoutPolicy ?? DEFAULT_PAYOUT_POLICY;
  if (req.amount < policy.minimum) throw new DomainError('invalid_request', `amount: the smallest payout is ${policy.minimum} micro-credits`, 'amount', { minimum: policy.minimum });
  if (req.amount <= policy.fee) throw new DomainError('invalid_request', `amount: must be above the payout fee of ${policy.fee} micro-credits`, 'amount', { fee: policy.fee });
  const unit = payments.unit ?? 1;
  if ((req.amount - policy.fee) % unit !== 0) throw new DomainError('invalid_request', `amount: what is sent (amount - fee ${policy.fee}) must be a multiple of ${unit} micro-credits`, 'amount');
  const destination = payments.needsConnectedAccount ? await billing.getConnectedAccount?.(user.userId) : undefined;
  if (payments.needsConnectedAccount && !destination) throw conflict('no payout account yet: set one up first (POST /account/payouts/onboarding)');
  const payoutId = payoutIdOf(user.userId, req.reference);
  // What the ledger will allow (earnings not yet withdrawn), answered now rather than after its refusal.
  const earnings = await withdrawableEarnings(ledger, user.userId);
  const replay = await billing.getPayout?.(user.userId, req.reference);
  if (!replay && req.amount > earnings) {
    throw new DomainError('insufficient_funds', `only settled earnings are paid out: ${req.amount} asked, ${earnings} withdrawable`, 'amount', { required: req.amount, withdrawable: earnings });
  }
  const record: PayoutRecord = { accountId: user.userId, payoutId, reference: req.reference, amount: req.amount, fee: policy.fee, status: 'requested', createdAt: nowIso(deps), destination };
  const created = await billing.createPayout(record);
  if (!created.created) {
    if (created.existing.amount !== req.amount) throw conflict(`reference ${req.reference} was already used for a payout of ${created.existing.amount}; use a new reference`, { reference: req.reference });
    return { status: 200, payout: { ...payoutView(created.existing), replayed: true } };
  }
  if (!(await deps.balances.placeHold(user.userId, payoutHold(payoutId), req.amount, record.createdAt))) {
    await billing.updatePayout?.(user.userId, req.reference, { status: 'refused', failureReason: 'insufficient available balance' });
    const available = (await deps.balances.account?.(user.userId))?.available ?? 0;
    throw new DomainError('insufficient_funds', `insufficient funds: ${req.amount} asked, ${available} available`, 'amount', { required: req.amount, available });
  }
  await deps.outbox.append(user.userId, [{ type: 'RequestPayout', accountId: user.userId, payoutId, amount: req.amount, fee: policy.fee }]);
  return { status: 202, payout: { ...payoutView(record), replayed: false } };
}

/** Settled earnings not yet withdrawn, as the chaincode counts them (payouts.ts#withdrawableOf), before the balance bound. */
async function withdrawableEarnings(ledger: Pick<Ledger, 'getAccountHistory'>, accountId: string): Promise<number> {
  const history = await ledger.getAccountHistory(accountId).catch((err: Error) => {
    if (/does not exist/.test(err.message)) return [];
    throw err;
  });
  return history.reduce((sum, e) => sum + ((e.kind === 'settlement' && e.amount > 0) || e.kind === 'payout' || e.kind === 'payoutreturn' ? e.amount : 0), 0);
}

const payoutView = (p: { accountId: string; payoutId: string; amount: number; fee: number; status: string; createdAt?: string; requestedAt?: string; transferId?: string; failureReason?: string; reference?: string; settledAt?: string }) => ({
  payoutId: p.payoutId,
  accountId: p.accountId,
  reference: p.reference,
  amount: p.amount,
  fee: p.fee,
  net: p.amount - p.fee,
  status: p.status,
  requestedAt: p.requestedAt ?? p.createdAt,
  settledAt: p.settledAt,
  transferId: p.transferId,
  failureReason: p.failureReason,
  unit: 'micro-credits',
});

/** `GET /account/payouts`: the ledger's payouts of the account, newest first, and those not on it yet. */
export async function listPayouts(ledger: Pick<Ledger, 'getPayouts'>, user: User) {
  const onLedger = await ledgerPayouts(ledger, user.userId);
  const items = onLedger.map(payoutView).sort((a, b) => (b.requestedAt ?? '').localeCompare(a.requestedAt ?? ''));
  return { accountId: user.userId, items, unit: 'micro-credits' };
}

async function ledgerPayouts(ledger: Pick<Ledger, 'getPayouts'>, accountId: string): Promise<LedgerPayout[]> {
  if (!ledger.getPayouts) return [];
  try {
    return await ledger.getPayouts(accountId);
  } catch (err) {
    if (/does not exist/.test((err as Error).message)) return [];
    throw err;
  }
}

/**
 * A requested payout the ledger has not taken after this long was refused by it (the sweep runs
 * after the writer's drain, which commits or rejects what was queued before it): its hold goes
 * back, as the reaper's hold sweep would do after the same grace (holds.ts#sweepHolds).
 */
const REFUSED_AFTER_MS = 5 * 60_000;

/**
 * The payout sweep: for each open payout, what the ledger says decides. Pending there: send it
 * (once per payout id at the provider) and record the outcome on the ledger. Ended there: the
 * record follows. Not there five minutes later: the ledger refused it. A transfer that throws stays
 * open for the next sweep. Returns what it did.
 */
export async function sendPayouts(deps: PaymentDeps, ledger: Pick<Ledger, 'getPayouts'>, limit = 50) {
  const done = { sent: 0, failed: 0, refused: 0, pending: 0 };
  const billing = deps.billingStore;
  const payments = deps.payments;
  if (!billing?.listOpenPayouts || !billing.updatePayout || !payments?.transfer) return done;
  for (const open of await billing.listOpenPayouts(limit)) {
    const onLedger = (await ledgerPayouts(ledger, open.accountId)).find((p) => p.payoutId === open.payoutId);
    if (!onLedger) {
      if (Date.now() - Date.parse(open.createdAt) > REFUSED_AFTER_MS) {
        await billing.updatePayout(open.accountId, open.reference, { status: 'refused', failureReason: 'the ledger did not take the payout' });
        await deps.balances.releaseHold?.(payoutHold(open.payoutId));
        done.refused++;
      } else done.pending++;
      continue;
    }
    if (onLedger.status !== 'pending') {
      await billing.updatePayout(open.accountId, open.reference, { status: onLedger.status, transferId: onLedger.transferId, failureReason: onLedger.failureReason });
      continue;
    }
    let outcome: Awaited<ReturnType<NonNullable<PaymentProvider['transfer']>>>;
    try {
      outcome = await payments.transfer({ payoutId: open.payoutId, destination: open.destination, amount: onLedger.amount - onLedger.fee });
    } catch (err) {
      deps.telemetry.error('payout transfer failed; the next sweep retries it', { payoutId: open.payoutId, error: (err as Error).message });
      done.pending++;
      continue;
    }
    if (outcome.status === 'sent') {
      await deps.outbox.append(open.accountId, [{ type: 'CompletePayout', accountId: open.accountId, payoutId: open.payoutId, transferId: outcome.transferId }]);
      done.sent++;
    } else {
      await deps.outbox.append(open.accountId, [{ type: 'FailPayout', accountId: open.accountId, payoutId: open.payoutId, reason: outcome.reason.slice(0, 500) }]);
      done.failed++;
    }
    // The record ends when a later sweep reads the outcome from the ledger.
  }
  return done;
}
