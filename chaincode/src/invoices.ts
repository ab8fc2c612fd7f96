import { keys, keyTypes } from './keys';
import { AccountTerms, Invoice } from './models';
import type { Tx } from './state';

/**
 * An account's invoice terms and invoices as state (`terms~<account>`, `invoice~<account>~<YYYY-MM>`):
 * read by settlement (settlement.ts: may this job be invoiced?) and by the invoicing transactions
 * (invoicing.ts), added to by settlement. It imports neither of them.
 */

/** The account's terms (prepaid when none were set). */
export async function termsOf(tx: Tx, accountId: string): Promise<AccountTerms> {
  return (await tx.state.get<AccountTerms>(keys.terms(tx.state, accountId))) ?? { accountId, terms: 'prepaid', creditLimit: 0, setAt: '' };
}

/** The account's invoices, oldest month first. */
export async function invoicesOf(tx: Tx, accountId: string): Promise<Invoice[]> {
  return (await tx.state.listByPartialKey<Invoice>(keyTypes.invoice, [accountId])).map((entry) => entry.value);
}

/** What the account owes in all: the unpaid part of every invoice. */
export async function owedBy(tx: Tx, accountId: string): Promise<number> {
  return (await invoicesOf(tx, accountId)).reduce((sum, invoice) => sum + invoice.amount - invoice.paidAmount, 0);
}

/** Adds a settled job's cost to the account's invoice for `month`. */
export async function invoiceJob(tx: Tx, accountId: string, month: string, cost: number): Promise<void> {
  const key = keys.invoice(tx.state, accountId, month);
  const invoice = (await tx.state.get<Invoice>(key)) ?? { accountId, month, amount: 0, jobs: 0, paidAmount: 0 };
  tx.state.put(key, { ...invoice, amount: invoice.amount + cost, jobs: invoice.jobs + 1 });
}
