import { createHash } from 'node:crypto';
import type { PaymentProvider } from '../../core/ports';

/**
 * The payment provider of local mode and tests (PAYMENT_PROVIDER=test): no money moves. It
 * approves any amount up to APPROVAL_LIMIT and declines the magic amount DECLINED_AMOUNT (and
 * anything above the limit), so tests and demos can exercise both answers. Its payment id is
 * derived from the reference, so a retried charge answers the same payment. Payouts need no
 * connected account: a transfer is `sent` (its id derived from the payout's), except of the
 * declined amount, which `failed`s so that the return of the money can be exercised.
 */
export class TestPaymentProvider implements PaymentProvider {
  /** 1,000 credits: the most one test top-up approves. */
  static readonly APPROVAL_LIMIT = 1_000_000_000;
  /** 4.02 credits: always declined ("card declined"), like a payment sandbox's test card. */
  static readonly DECLINED_AMOUNT = 4_020_000;
  readonly name = 'test';

  async charge(req: { accountId: string; amount: number; reference: string }) {
    if (req.amount === TestPaymentProvider.DECLINED_AMOUNT) return { status: 'declined' as const, reason: 'the test provider declines this amount (card declined)' };
    if (req.amount > TestPaymentProvider.APPROVAL_LIMIT) {
      return { status: 'declined' as const, reason: `the test provider approves at most ${TestPaymentProvider.APPROVAL_LIMIT} micro-credits per top-up` };
    }
    const paymentId = `testpay_${createHash('sha256').update(`${req.accountId}\n${req.reference}`).digest('hex').slice(0, 20)}`;
    return { status: 'approved' as const, paymentId };
  }

  async transfer(req: { payoutId: string; amount: number }) {
    if (req.amount === TestPaymentProvider.DECLINED_AMOUNT) return { status: 'failed' as const, reason: 'the test provider refuses transfers of this amount' };
    return { status: 'sent' as const, transferId: `testtr_${createHash('sha256').update(req.payoutId).digest('hex').slice(0, 20)}` };
  }
}
