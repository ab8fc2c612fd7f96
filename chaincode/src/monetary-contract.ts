import { Context, Contract, Info, Returns, Transaction } from 'fabric-contract-api';
import { accountBalance, accountHistory, openAccount, topUp } from './accounts';
import { getAccount } from './balances';
import { accountBilling, payBill, setTerms } from './invoicing';
import { MONETARY_CONTRACT } from './names';
import { payoutsOf } from './payouts';
import { controllerSubmit, evaluate } from './run';
import { parseIntegerArg, requireId } from './validate';

/**
 * The monetary ledger: accounts, top-ups and balances in integer micro-credits, payment terms
 * and invoices (invoicing.ts), payouts and reversals (payouts.ts: written through `SubmitBatch`). Settlement (the
 * developer-to-provider transfer) is not a transaction of its own: it runs inside the monitoring
 * transaction that completes a job (settlement.ts), so a job is paid exactly when it is complete.
 */
@Info({ title: 'MonetaryContract', description: 'ChainFaaS monetary ledger: accounts, top-ups, balances' })
export class MonetaryContract extends Contract {
  constructor() {
    super(MONETARY_CONTRACT);
  }

  /** Controller only: opens an account for `owner`. */
  @Transaction()
  @Returns('string')
  async OpenAccount(ctx: Context, accountId: string, owner: string): Promise<string> {
    return controllerSubmit(ctx, 'open accounts', async (tx) => {
      await openAccount(tx, accountId, owner);
      return getAccount(tx, accountId);
    });
  }

  /** Controller only: credits a top-up once per payment reference; returns the new balance. */
  @Transaction()
  @Returns('string')
  async TopUp(ctx: Context, accountId: string, amount: string, reference: string): Promise<string> {
    return controllerSubmit(ctx, 'top up accounts', async (tx) => {
      const applied = await topUp(tx, accountId, parseIntegerArg('amount', amount, 1), reference);
      return { accountId, balance: await accountBalance(tx, accountId), duplicate: applied === 'duplicate' };
    });
  }

  /** Controller only: puts the account on `prepaid` or `invoice` terms (with a credit limit, micro-credits). */
  @Transaction()
  @Returns('string')
  async SetTerms(ctx: Context, accountId: string, terms: string, creditLimit: string): Promise<string> {
    return controllerSubmit(ctx, 'set payment terms', async (tx) => {
      const applied = await setTerms(tx, accountId, terms, parseIntegerArg('creditLimit', creditLimit, 0));
      return { ...(await accountBilling(tx, accountId)), duplicate: applied === 'duplicate' };
    });
  }

  /** Controller only: pays the account's invoice of a closed `month` (YYYY-MM) from its balance; `amount` is what is due. */
  @Transaction()
  @Returns('string')
  async PayBill(ctx: Context, accountId: string, month: string, amount: string): Promise<string> {
    return controllerSubmit(ctx, 'pay bills', async (tx) => {
      const applied = await payBill(tx, accountId, month, parseIntegerArg('amount', amount, 1));
      return { ...(await accountBilling(tx, accountId)), duplicate: applied === 'duplicate' };
    });
  }

  /** The account's terms, credit limit, what it owes in all and its invoices. Refused for an unknown account. */
  @Transaction(false)
  @Returns('string')
  async GetBilling(ctx: Context, accountId: string): Promise<string> {
    return evaluate(ctx, (tx) => accountBilling(tx, accountId));
  }

  /** The account's payouts (payouts.ts): pending, paid or failed. Refused for an unknown account. */
  @Transaction(false)
  @Returns('string')
  async GetPayouts(ctx: Context, accountId: string): Promise<string> {
    return evaluate(ctx, (tx) => payoutsOf(tx, accountId));
  }

  /** The account's balance, micro-credits (a JSON number). Refused for an unknown account. */
  @Transaction(false)
  @Returns('string')
  async GetBalance(ctx: Context, accountId: string): Promise<string> {
    return evaluate(ctx, (tx) => accountBalance(tx, accountId));
  }

  /** The account's credits and debits, oldest first. */
  @Transaction(false)
  @Returns('string')
  async GetAccountHistory(ctx: Context, accountId: string): Promise<string> {
    return evaluate(ctx, (tx) => accountHistory(tx, accountId));
  }

  /** The account record, or null. */
  @Transaction(false)
  @Returns('string')
  async GetAccount(ctx: Context, accountId: string): Promise<string> {
    return evaluate(ctx, (tx) => getAccount(tx, requireId('accountId', accountId)));
  }
}
