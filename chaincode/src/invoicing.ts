import { debit, requireAccount } from './balances';
import { invoicesOf, termsOf } from './invoices';
import { keys } from './keys';
import { AccountBilling, AccountTerms, Invoice } from './models';
import { retryUnpaidJobs } from './settlement';
import type { Applied, Tx } from './state';
import { requireId, requireInteger } from './validate';

/**
 * Invoice terms on the monetary ledger.
 *
 * A prepaid account (the default: no terms record) pays each job from its balance when the job
 * settles. An invoice-terms account does not: its jobs settle by paying the provider as always and
 * adding the cost to the account's invoice for the job's month (`invoice~<account>~<YYYY-MM>`),
 * as long as what it owes in all (the unpaid part of every invoice) stays within its credit
 * limit. Nothing goes negative: the debt is its own amount, never a balance below zero. The
 * account pays a closed month's invoice from its balance with `PayBill`, once: paying what is
 * already paid is a duplicate.
 *
 * These are the transactions (`SetTerms`, `PayBill`, `GetBilling`); the terms and invoice records
 * they and settlement read and add to are in invoices.ts.
 */

const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;

export function requireMonth(field: string, value: unknown): string {
  if (typeof value !== 'string' || !MONTH.test(value)) throw new Error(`${field} must be a month as YYYY-MM`);
  return value;
}

/**
 * Sets the account's terms: `prepaid`, or `invoice` with a credit limit (micro-credits). Setting
 * the terms it already has is a duplicate. What the account owes stays owed whatever the terms
 * (a prepaid account may still pay old invoices); a higher limit may pay unpaid jobs at once.
 */
export async function setTerms(tx: Tx, accountIdArg: unknown, termsArg: unknown, creditLimitArg: unknown): Promise<Applied> {
  const accountId = requireId('accountId', accountIdArg);
  if (termsArg !== 'prepaid' && termsArg !== 'invoice') throw new Error('terms must be prepaid or invoice');
  const creditLimit = requireInteger('creditLimit', creditLimitArg ?? 0, 0);
  if (termsArg === 'prepaid' && creditLimit !== 0) throw new Error('creditLimit must be 0 for prepaid terms');
  await requireAccount(tx, accountId);
  const current = await termsOf(tx, accountId);
  if (current.terms === termsArg && current.creditLimit === creditLimit) return 'duplicate';
  const terms: AccountTerms = { accountId, terms: termsArg, creditLimit, setAt: tx.timestamp };
  tx.state.put(keys.terms(tx.state, accountId), terms);
  tx.terms.push({ accountId, terms: termsArg, creditLimit });
  await retryUnpaidJobs(tx, accountId);
  return 'applied';
}

/** The reference of a bill's payment on the account's history. */
export const billReference = (accountId: string, month: string) => `bill:${accountId}:${month}`;

/**
 * Pays the account's invoice for `month` from its balance. `amount` must be what is due (the
 * caller read it); repeating the last payment once nothing is due is a duplicate that moves
 * nothing, so two requests that race pay once. Refused for a month that is not over (by the
 * transaction's time), a month with no invoice, or a balance that does not cover the amount.
 */
export async function payBill(tx: Tx, accountIdArg: unknown, monthArg: unknown, amountArg: unknown): Promise<Applied> {
  const accountId = requireId('accountId', accountIdArg);
  const month = requireMonth('month', monthArg);
  const amount = requireInteger('amount', amountArg, 1);
  await requireAccount(tx, accountId);
  if (month >= tx.timestamp.slice(0, 7)) throw new Error(`the bill of ${month} is still open: a month is paid once it is over`);
  const key = keys.invoice(tx.state, accountId, month);
  const invoice = await tx.state.get<Invoice>(key);
  if (!invoice) throw new Error(`account ${accountId} has no invoice for ${month}: nothing is owed`);
  const due = invoice.amount - invoice.paidAmount;
  if (due === 0 && invoice.lastPayment === amount) return 'duplicate';
  if (amount !== due) throw new Error(`the amount due for ${month} is ${due}, not ${amount}`);
  const reference = billReference(accountId, month);
  await debit(tx, accountId, amount, 'billpayment', reference);
  tx.state.put(key, { ...invoice, paidAmount: invoice.paidAmount + amount, lastPayment: amount, paidTxId: tx.txId, paidAt: tx.timestamp });
  tx.billPayments.push({ accountId, month, amount, reference });
  await retryUnpaidJobs(tx, accountId);
  return 'applied';
}

/** The account's terms, what it owes and its invoices. */
export async function accountBilling(tx: Tx, accountIdArg: unknown): Promise<AccountBilling> {
  const accountId = requireId('accountId', accountIdArg);
  await requireAccount(tx, accountId);
  const terms = await termsOf(tx, accountId);
  const invoices = await invoicesOf(tx, accountId);
  const owed = invoices.reduce((sum, invoice) => sum + invoice.amount - invoice.paidAmount, 0);
  return { accountId, terms: terms.terms, creditLimit: terms.creditLimit, owed, invoices };
}
