import { balanceOf, credit, debit, entriesOf, requireAccount } from './balances';
import { keys, keyTypes } from './keys';
import { Payout, Reversal } from './models';
import { retryUnpaidJobs } from './settlement';
import type { Applied, Tx } from './state';
import { requireId, requireInteger, requireReference, requireText } from './validate';

/**
 * Money leaving the monetary ledger: provider payouts and top-up reversals (refunds, disputes).
 *
 * A payout moves `amount` out of the account into a payout record (`payout~<account>~<payoutId>`)
 * in the same transaction that checks the balance covers it (`debit` throws otherwise), so two
 * payouts can never take more than the balance. The record is `pending` until the controller says
 * how the transfer ended: `paid` (with the transfer's id), or `failed`, which credits the amount
 * back. A record leaves `pending` once: a paid payout is never returned, a returned one never paid,
 * and repeating the same outcome is a duplicate that moves nothing, whatever retries arrive.
 *
 * Only earnings leave this way: a payout takes at most what the account was paid for jobs
 * (settlement credits) minus what it already withdrew (payouts not returned), and at most its
 * balance; money topped up is never paid out to a connected account.
 *
 * A reversal takes back (part of) a top-up the payment provider refunded or lost in a dispute,
 * once per reference (`reversal~<reference>`); the controller decides how much the account can
 * give (never what running jobs hold), the ledger only refuses to go below zero.
 */

/** The reference of a payout on the account's history. */
export const payoutReference = (payoutId: string) => `payout:${payoutId}`;

/** Moves `amount` (of which `fee` stays with the platform) out of the account into a pending payout. */
export async function requestPayout(tx: Tx, accountIdArg: unknown, payoutIdArg: unknown, amountArg: unknown, feeArg: unknown): Promise<Applied> {
  const accountId = requireId('accountId', accountIdArg);
  const payoutId = requireId('payoutId', payoutIdArg);
  const amount = requireInteger('amount', amountArg, 1);
  const fee = requireInteger('fee', feeArg ?? 0, 0);
  if (fee >= amount) throw new Error(`fee ${fee} must be below the amount ${amount}`);
  await requireAccount(tx, accountId);
  const key = keys.payout(tx.state, accountId, payoutId);
  const existing = await tx.state.get<Payout>(key);
  if (existing) {
    if (existing.amount === amount && existing.fee === fee) return 'duplicate';
    throw new Error(`payout ${payoutId} was already requested for ${existing.amount}`);
  }
  const withdrawable = await withdrawableOf(tx, accountId);
  if (amount > withdrawable) throw new Error(`payout ${payoutId} of ${amount} exceeds what account ${accountId} may withdraw (${withdrawable}: settled earnings, at most its balance)`);
  const reference = payoutReference(payoutId);
  await debit(tx, accountId, amount, 'payout', reference);
  const payout: Payout = { payoutId, accountId, amount, fee, status: 'pending', requestedAt: tx.timestamp, requestedTxId: tx.txId };
  tx.state.put(key, payout);
  tx.adjustments.push({ accountId, amount: -amount, kind: 'payout', reference });
  return 'applied';
}

async function pendingPayout(tx: Tx, accountIdArg: unknown, payoutIdArg: unknown): Promise<{ key: string; payout: Payout }> {
  const accountId = requireId('accountId', accountIdArg);
  const payoutId = requireId('payoutId', payoutIdArg);
  const key = keys.payout(tx.state, accountId, payoutId);
  const payout = await tx.state.get<Payout>(key);
  if (!payout) throw new Error(`account ${accountId} has no payout ${payoutId}`);
  return { key, payout };
}

/** The transfer went out: the payout is `paid`. The same transfer again is a duplicate; a returned payout is refused. */
export async function completePayout(tx: Tx, accountIdArg: unknown, payoutIdArg: unknown, transferIdArg: unknown): Promise<Applied> {
  const transferId = requireReference('transferId', transferIdArg);
  const { key, payout } = await pendingPayout(tx, accountIdArg, payoutIdArg);
  if (payout.status === 'paid') {
    if (payout.transferId === transferId) return 'duplicate';
    throw new Error(`payout ${payout.payoutId} was already paid by transfer ${payout.transferId}`);
  }
  if (payout.status === 'failed') throw new Error(`payout ${payout.payoutId} failed and its amount was returned: it cannot be paid`);
  tx.state.put(key, { ...payout, status: 'paid', transferId, settledAt: tx.timestamp, settledTxId: tx.txId });
  return 'applied';
}

/** The transfer failed: the amount goes back to the account, once. A paid payout is refused. */
export async function failPayout(tx: Tx, accountIdArg: unknown, payoutIdArg: unknown, reasonArg: unknown): Promise<Applied> {
  const reason = requireText('reason', reasonArg, 512);
  const { key, payout } = await pendingPayout(tx, accountIdArg, payoutIdArg);
  if (payout.status === 'failed') return 'duplicate';
  if (payout.status === 'paid') throw new Error(`payout ${payout.payoutId} was paid by transfer ${payout.transferId}: it cannot be returned`);
  const reference = payoutReference(payout.payoutId);
  await credit(tx, payout.accountId, payout.amount, 'payoutreturn', reference);
  tx.state.put(key, { ...payout, status: 'failed', failureReason: reason, settledAt: tx.timestamp, settledTxId: tx.txId });
  tx.adjustments.push({ accountId: payout.accountId, amount: payout.amount, kind: 'payoutreturn', reference });
  await retryUnpaidJobs(tx, payout.accountId);
  return 'applied';
}

/** Takes `amount` back from the account for a refunded or disputed top-up, once per `reference`. */
export async function reverseTopUp(tx: Tx, accountIdArg: unknown, amountArg: unknown, referenceArg: unknown): Promise<Applied> {
  const accountId = requireId('accountId', accountIdArg);
  const amount = requireInteger('amount', amountArg, 1);
  const reference = requireReference('reference', referenceArg);
  await requireAccount(tx, accountId);
  const key = keys.reversal(tx.state, reference);
  const existing = await tx.state.get<Reversal>(key);
  if (existing) {
    if (existing.accountId === accountId && existing.amount === amount) return 'duplicate';
    throw new Error(`reversal reference ${reference} was already used for ${existing.amount} from account ${existing.accountId}`);
  }
  await debit(tx, accountId, amount, 'reversal', reference);
  tx.state.put(key, { reference, accountId, amount, txId: tx.txId, timestamp: tx.timestamp });
  tx.adjustments.push({ accountId, amount: -amount, kind: 'reversal', reference });
  return 'applied';
}

/** Earnings not yet withdrawn (settlement credits − payouts + returned payouts), at most the balance. */
export async function withdrawableOf(tx: Tx, accountId: string): Promise<number> {
  let earned = 0;
  for (const e of await entriesOf(tx, accountId)) {
    if ((e.kind === 'settlement' && e.amount > 0) || e.kind === 'payout' || e.kind === 'payoutreturn') earned += e.amount;
  }
  return Math.max(0, Math.min(earned, await balanceOf(tx, accountId)));
}

/** The account's payouts, in payout id order. */
export async function payoutsOf(tx: Tx, accountIdArg: unknown): Promise<Payout[]> {
  const accountId = requireId('accountId', accountIdArg);
  await requireAccount(tx, accountId);
  return (await tx.state.listByPartialKey<Payout>(keyTypes.payout, [accountId])).map((p) => p.value);
}
